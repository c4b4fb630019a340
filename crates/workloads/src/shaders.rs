//! The SPIR-V of the demo and benchmark shaders (built by `shaders/build.sh`, committed,
//! embedded here), the source of their GLSL helpers, and their push constants and per-lane
//! state. They include gdio-vulkan's `gdio.glsl`; the freshness probe's shader is
//! gdio-vulkan's own ([`gdio::vulkan::shaders`]).

use gdio::vulkan::{MappedBuffer, Result};

/// `shaders/gdio_demo.glsl`, helpers of the demo shaders.
pub const GDIO_DEMO_GLSL: &str = include_str!("../shaders/gdio_demo.glsl");

/// nop_pingpong.comp: NOP round trips (bindings: requests, completions, state).
pub const NOP_PINGPONG: &[u8] = include_bytes!("../shaders/spv/nop_pingpong.spv");
/// stream_sum.comp: stream a file through a ring of windows, checksum it
/// (bindings: requests, completions, window, state).
pub const STREAM_SUM: &[u8] = include_bytes!("../shaders/spv/stream_sum.spv");
/// write_file.comp: fill windows, WRITE, FSYNC (bindings: requests, completions, window, state).
pub const WRITE_FILE: &[u8] = include_bytes!("../shaders/spv/write_file.spv");
/// random_read.comp: random READs checked against the test-file pattern
/// (bindings: requests, completions, window, state).
pub const RANDOM_READ: &[u8] = include_bytes!("../shaders/spv/random_read.spv");

/// crc_stream.comp: stream a file through gdio and compute each chunk's CRC-32C
/// (bindings: requests, completions, window, state, chunk CRCs, CRC tables).
pub const CRC_STREAM: &[u8] = include_bytes!("../shaders/spv/crc_stream.spv");
/// crc_chunks.comp: CRC-32C of chunks the host put in a buffer (the CPU-orchestrated
/// baseline; bindings: data, chunk CRCs, CRC tables).
pub const CRC_CHUNKS: &[u8] = include_bytes!("../shaders/spv/crc_chunks.spv");
/// btree_lookup.comp: B-tree lookups, each step a READ chosen by the node just read
/// (bindings: requests, completions, window, state, keys, results).
pub const BTREE_LOOKUP: &[u8] = include_bytes!("../shaders/spv/btree_lookup.spv");
/// btree_step.comp: one B-tree level per dispatch over nodes the host read (the
/// CPU-orchestrated baseline; bindings: nodes, keys, results).
pub const BTREE_STEP: &[u8] = include_bytes!("../shaders/spv/btree_step.spv");
/// btree_serve.comp: a resident lookup server, one dispatch serving batch after batch of keys
/// handed over through a mailbox (bindings: requests, completions, window, state of
/// [`BTREE_SERVE_STATE_WORDS`] per lane, mailbox, results of [`BTREE_SERVE_RESULT_WORDS`] per
/// key; push constants: [`BtreeLookupParams::to_serve_bytes`], 48 bytes, with `nkeys` the
/// mailbox's capacity).
pub const BTREE_SERVE: &[u8] = include_bytes!("../shaders/spv/btree_serve.spv");
/// random_read.comp over several queues (one pump each) in one dispatch.
pub const SCALING_READ: &[u8] = include_bytes!("../shaders/spv/scaling_read.spv");
/// Replays raw request lists (the GLSL side of the device-equivalence test).
pub const REPLAY: &[u8] = include_bytes!("../shaders/spv/replay.spv");
/// busy.comp: integer arithmetic in every invocation, to raise the GPU's clock before a
/// latency measurement (bindings: a one-word sink; push constants: iterations).
pub const BUSY: &[u8] = include_bytes!("../shaders/spv/busy.spv");
/// fill_pattern.comp: fill a buffer with the test pattern (binding: the buffer; push constants:
/// base word, words, seed), for the CPU-orchestrated write baseline.
pub const FILL_PATTERN: &[u8] = include_bytes!("../shaders/spv/fill_pattern.spv");

/// cache_pages.comp: lanes ask the page cache (`gdio_cache.glsl`) for pages of a test file and
/// check every word (bindings: requests, completions, cache metadata, cache pages, asks, out,
/// state; push constants: [`CachePagesParams`]).
pub const CACHE_PAGES: &[u8] = include_bytes!("../shaders/spv/cache_pages.spv");

/// Every embedded shader, by source name (for checks and reports).
/// btree_cached.comp: B-tree lookups through the page cache (bindings: requests, completions,
/// cache metadata, cache pages, state, keys, results, saved cache requests of 4 words per lane;
/// push constants: [`btree_cached_bytes`]).
pub const BTREE_CACHED: &[u8] = include_bytes!("../shaders/spv/btree_cached.spv");
/// btree_step_cached.comp: one level (or group) of the CPU-orchestrated lookup over a page
/// cache the host manages (bindings: pages, keys, results, each key's node word index; push
/// constants: [`BtreeStepParams`]).
pub const BTREE_STEP_CACHED: &[u8] = include_bytes!("../shaders/spv/btree_step_cached.spv");
/// bfs_cached.comp: one BFS level through the page cache (bindings: requests, completions,
/// cache metadata, cache pages, levels, frontier, control words, piece queue, lane state; push
/// constants: `crate::bfs`'s).
pub const BFS_CACHED: &[u8] = include_bytes!("../shaders/spv/bfs_cached.spv");
/// bfs_expand.comp: one batch of a BFS level of the CPU-orchestrated baseline over adjacency
/// lists the host read (bindings: lists, descriptors, levels, next frontier, control words).
pub const BFS_EXPAND: &[u8] = include_bytes!("../shaders/spv/bfs_expand.spv");
/// copy_words.comp: copy words between buffers (bindings: source, destination; push constants:
/// words), to read back what lives in device-local memory.
pub const COPY_WORDS: &[u8] = include_bytes!("../shaders/spv/copy_words.spv");

/// Every embedded shader, by source name (for checks and reports).
pub const ALL: [(&str, &[u8]); 19] = [
    ("nop_pingpong", NOP_PINGPONG),
    ("stream_sum", STREAM_SUM),
    ("write_file", WRITE_FILE),
    ("random_read", RANDOM_READ),
    ("crc_stream", CRC_STREAM),
    ("crc_chunks", CRC_CHUNKS),
    ("btree_lookup", BTREE_LOOKUP),
    ("btree_step", BTREE_STEP),
    ("btree_serve", BTREE_SERVE),
    ("scaling_read", SCALING_READ),
    ("replay", REPLAY),
    ("busy", BUSY),
    ("fill_pattern", FILL_PATTERN),
    ("cache_pages", CACHE_PAGES),
    ("btree_cached", BTREE_CACHED),
    ("btree_step_cached", BTREE_STEP_CACHED),
    ("bfs_cached", BFS_CACHED),
    ("bfs_expand", BFS_EXPAND),
    ("copy_words", COPY_WORDS),
];

/// Words of the CRC-32C table buffer (`patterns::crc32c_tables`).
pub const CRC_TABLE_WORDS: usize = 1024;
/// Bytes of one B-tree node, and of one lane's window region in btree_lookup.comp.
pub const BTREE_NODE_BYTES: usize = 4096;
/// Words per key in the B-tree shaders' results: status, lo, hi, nodes read.
pub const BTREE_RESULT_WORDS: usize = 4;

/// B-tree result status (word 0 of a key's result), as `btree.glsl` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BtreeStatus {
    /// Still walking (only between levels of the CPU-orchestrated baseline).
    Active,
    /// Found; the value follows.
    Found,
    /// Not in the tree.
    Absent,
    /// A node read was not a valid node (words 1..2: its kind and key count).
    Corrupt,
    /// A node's READ failed (word 1: its result, a negative code or a short byte count).
    Failed,
}

impl BtreeStatus {
    /// Decodes word 0 of a result.
    #[must_use]
    pub fn from_word(w: u32) -> BtreeStatus {
        match w {
            0 => BtreeStatus::Active,
            1 => BtreeStatus::Found,
            2 => BtreeStatus::Absent,
            4 => BtreeStatus::Failed,
            _ => BtreeStatus::Corrupt,
        }
    }
}

/// Invocations per workgroup of every demo shader (`GDIO_LANES` in `gdio_demo.glsl`;
/// lavapipe needs at least 8), and the workgroup shapes of the B-tree walkers
/// (btree_lookup.comp and btree_serve.comp: `local_size_x_id = 1`, which
/// [`gdio::vulkan::ComputePipeline`] sets): one lane per workgroup on GPUs, and in
/// btree_serve.comp's cooperative mode a whole subgroup per lane, each invocation loading its
/// share of a node that just arrived in one round (4 + 4 quads in a warp of 32) instead of one
/// invocation's two rounds of 16 + 17 (see btree.glsl's `btree_step_coop`).
pub use gdio::vulkan::shaders::{walker_invocations, walker_lanes_per_group, LANES_PER_GROUP};

/// Words of per-lane state in the demo shaders' state buffer.
pub const STATE_WORDS: usize = 8;

/// The loop budgets of every demo shader.
pub use gdio::vulkan::glsl::Budgets;

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Push constants of cache_pages.comp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePagesParams {
    /// Pump file index the lanes ask pages of.
    pub file: u32,
    /// Pump window index of the cache's pages.
    pub window: u32,
    /// Lanes that take part.
    pub lanes: u32,
    /// Asks per lane.
    pub per_lane: u32,
    /// The test file's pattern seed.
    pub seed: u32,
    /// Loop iterations per dispatch.
    pub iter_budget: u32,
    /// Cache steps per `gdio_cache_get`.
    pub step_budget: u32,
    /// Queues: lane L uses queue L % queues and its slot L / queues.
    pub queues: u32,
    /// Words between the queues' request regions and between their completion regions.
    pub queues_at: (u32, u32),
    /// Check every word of each page (false: read one word, for hit-cost runs).
    pub check: bool,
}

impl CachePagesParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        bytes(&[
            self.file,
            self.window,
            self.lanes,
            self.per_lane,
            self.seed,
            self.iter_budget,
            self.step_budget,
            self.queues,
            self.queues_at.0,
            self.queues_at.1,
            u32::from(self.check),
        ])
    }
}

/// Push constants of btree_cached.comp: [`BtreeLookupParams`]' words with `step_budget` (cache
/// steps per `gdio_cache_get`) in place of the wait budget, and `window` the cache's pages.
#[must_use]
pub fn btree_cached_bytes(p: &BtreeLookupParams, step_budget: u32) -> Vec<u8> {
    bytes(&[
        p.file,
        p.window,
        p.nkeys,
        p.lanes,
        p.root as u32,
        (p.root >> 32) as u32,
        p.budgets.iter_budget,
        step_budget,
        p.queues,
        p.queues_at.0,
        p.queues_at.1,
    ])
}

/// Push constants of nop_pingpong.comp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NopParams {
    /// Round trips per active lane.
    pub count: u32,
    /// Lanes that take part (0..active_lanes).
    pub active_lanes: u32,
    /// Loop budgets.
    pub budgets: Budgets,
    /// Issue FENCEs (published with the release fence every ordered request pays) instead of
    /// NOPs (published without it).
    pub fenced: bool,
    /// When > 0: READs of this many bytes instead (file 0 at offset 0 into window 0 at
    /// `lane * read_len`; published with the release fence), each expected to return
    /// `read_len`. The shader does not look at the data: the round trip of a data request.
    pub read_len: u32,
}

impl NopParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        bytes(&[
            self.count,
            self.active_lanes,
            self.budgets.iter_budget,
            self.budgets.wait_budget,
            u32::from(self.fenced),
            self.read_len,
        ])
    }
}

/// A file cut into chunks, as stream_sum.comp and write_file.comp take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunks {
    /// Number of chunks (0 for an empty file).
    pub count: u32,
    /// Bytes in the last chunk.
    pub last_len: u32,
    /// Bytes per chunk (a multiple of 4).
    pub chunk: u32,
}

impl Chunks {
    /// Cuts `len` bytes into chunks of `chunk` bytes (`chunk` a positive multiple of 4).
    #[must_use]
    pub fn new(len: u64, chunk: u32) -> Chunks {
        assert!(
            chunk > 0 && chunk % 4 == 0,
            "chunk must be a positive multiple of 4"
        );
        let count = len.div_ceil(u64::from(chunk));
        let last = len - count.saturating_sub(1) * u64::from(chunk);
        Chunks {
            count: u32::try_from(count).expect("too many chunks"),
            last_len: last as u32,
            chunk,
        }
    }
}

/// Push constants of stream_sum.comp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSumParams {
    /// File handle (index in the host's file table).
    pub file: u32,
    /// Window handle; slot s uses bytes `s * chunk .. (s + 1) * chunk` of it.
    pub window: u32,
    /// The file's chunks.
    pub chunks: Chunks,
    /// Lanes that take part; lane L uses slots 2L and 2L+1.
    pub lanes: u32,
    /// Loop budgets.
    pub budgets: Budgets,
}

impl StreamSumParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let c = self.chunks;
        bytes(&[
            self.file,
            self.window,
            c.count,
            c.last_len,
            c.chunk,
            self.lanes,
            self.budgets.iter_budget,
            self.budgets.wait_budget,
        ])
    }

    /// Slots the shader uses (2 per lane).
    #[must_use]
    pub fn slots(&self) -> u32 {
        2 * self.lanes
    }

    /// Window bytes the shader uses.
    #[must_use]
    pub fn window_bytes(&self) -> usize {
        self.slots() as usize * self.chunks.chunk as usize
    }
}

/// Push constants of crc_stream.comp (chunks a multiple of 16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcStreamParams {
    /// File handle (index in the host's file table).
    pub file: u32,
    /// Window handle; slot s uses bytes `s * chunk .. (s + 1) * chunk` of it.
    pub window: u32,
    /// The chunks this run reads (a whole file, or a part of it: see `first_chunk`).
    pub chunks: Chunks,
    /// Lanes that take part; lane L uses slots 2L and 2L+1.
    pub lanes: u32,
    /// Loop budgets.
    pub budgets: Budgets,
    /// The file's chunk index of `chunks`' first chunk (0 for a whole file): chunk c is read
    /// at file offset `(first_chunk + c) * chunk`, its CRC stored at index c.
    pub first_chunk: u32,
    /// Bytes the last chunk's READ asks for: `chunks.last_len`, or for a file opened for
    /// direct IO that rounded up to the direct-IO block (the READ stops at the file's end).
    pub read_last: u32,
}

impl CrcStreamParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let c = self.chunks;
        bytes(&[
            self.file,
            self.window,
            c.count,
            c.last_len,
            c.chunk,
            self.lanes,
            self.budgets.iter_budget,
            self.budgets.wait_budget,
            self.first_chunk,
            self.read_last,
        ])
    }
}

/// Push constants of crc_chunks.comp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcChunksParams {
    /// The chunks in the data buffer (chunk a multiple of 16 bytes).
    pub chunks: Chunks,
}

impl CrcChunksParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        bytes(&[self.chunks.count, self.chunks.last_len, self.chunks.chunk])
    }

    /// Workgroups to dispatch (one invocation per chunk).
    #[must_use]
    pub fn groups(&self) -> u32 {
        self.chunks.count.div_ceil(LANES_PER_GROUP).max(1)
    }
}

/// Per-lane state words of btree_serve.comp.
pub const BTREE_SERVE_STATE_WORDS: usize = 16;
/// Result words per key of btree_serve.comp: status, value (or offset) lo, hi, nodes read,
/// batch sequence number, check, 0, 0.
pub const BTREE_SERVE_RESULT_WORDS: usize = 8;
/// Mailbox words of btree_serve.comp before the keys: sequence number, key count (the two one
/// 64-bit word, written by the host in one store after the keys), stop, 0.
pub const BTREE_SERVE_MAILBOX_HEADER_WORDS: usize = 4;

/// Push constants of btree_lookup.comp (and of btree_serve.comp, where `nkeys` is the
/// mailbox's capacity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtreeLookupParams {
    /// File handle of the index.
    pub file: u32,
    /// Window handle; lane L uses bytes `L * 4096 .. (L + 1) * 4096` (btree_serve.comp: its
    /// `windows` nodes from `L * windows * 4096`).
    pub window: u32,
    /// Keys to look up.
    pub nkeys: u32,
    /// Lanes that take part; lane L uses slot L.
    pub lanes: u32,
    /// File offset of the root node.
    pub root: u64,
    /// Loop budgets.
    pub budgets: Budgets,
    /// Queues the lanes are spread over: lane L uses queue L % queues (whose regions start at
    /// `queues_at`) and its slot L / queues. 1 for a single queue at word 0.
    pub queues: u32,
    /// Words between the queues' request regions and between their completion regions
    /// ([`gdio::vulkan::QueueGroup::request_stride_words`], [`gdio::vulkan::QueueGroup::completion_stride_words`]).
    pub queues_at: (u32, u32),
}

impl BtreeLookupParams {
    /// Push-constant bytes of btree_serve.comp, whose lanes take `windows` node windows each
    /// (lane L's window w is node `L * windows + w` of the window buffer; 1 to 32) and use them
    /// in turn, so that a release fence before a READ is needed only once per `windows` READs
    /// (one fence covers every window read before it).
    #[must_use]
    pub fn to_serve_bytes(&self, windows: u32) -> Vec<u8> {
        let mut b = self.to_bytes();
        b.extend_from_slice(&windows.clamp(1, 32).to_le_bytes());
        b
    }

    /// Push-constant bytes (btree_lookup.comp).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        bytes(&[
            self.file,
            self.window,
            self.nkeys,
            self.lanes,
            self.root as u32,
            (self.root >> 32) as u32,
            self.budgets.iter_budget,
            self.budgets.wait_budget,
            self.queues.max(1),
            self.queues_at.0,
            self.queues_at.1,
        ])
    }
}

/// Push constants of btree_step.comp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtreeStepParams {
    /// Keys (one invocation each).
    pub nkeys: u32,
}

impl BtreeStepParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        bytes(&[self.nkeys])
    }

    /// Workgroups to dispatch.
    #[must_use]
    pub fn groups(&self) -> u32 {
        self.nkeys.div_ceil(LANES_PER_GROUP).max(1)
    }
}

/// Push constants of write_file.comp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteFileParams {
    /// File handle.
    pub file: u32,
    /// Window handle; lane L uses bytes `L * chunk .. (L + 1) * chunk`.
    pub window: u32,
    /// The file's chunks.
    pub chunks: Chunks,
    /// Lanes that take part; lane L uses slot L.
    pub lanes: u32,
    /// Loop budgets.
    pub budgets: Budgets,
    /// Seed of [`crate::patterns::file_word`].
    pub seed: u32,
}

impl WriteFileParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let c = self.chunks;
        bytes(&[
            self.file,
            self.window,
            c.count,
            c.last_len,
            c.chunk,
            self.lanes,
            self.budgets.iter_budget,
            self.budgets.wait_budget,
            self.seed,
        ])
    }
}

/// Push constants of random_read.comp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomReadParams {
    /// File handle.
    pub file: u32,
    /// Window handle; lane L uses bytes `L * read_len .. (L + 1) * read_len`.
    pub window: u32,
    /// File length / 4.
    pub file_words: u32,
    /// Bytes per read (a multiple of 4, at most the file's length).
    pub read_len: u32,
    /// Reads per lane.
    pub reads: u32,
    /// Lanes that take part; lane L uses slot L.
    pub lanes: u32,
    /// Loop budgets.
    pub budgets: Budgets,
    /// Seed of the file's content and of the offsets.
    pub seed: u32,
}

impl RandomReadParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        bytes(&[
            self.file,
            self.window,
            self.file_words,
            self.read_len,
            self.reads,
            self.lanes,
            self.budgets.iter_budget,
            self.budgets.wait_budget,
            self.seed,
        ])
    }
}

/// Push constants of scaling_read.comp: random_read.comp's, plus the queue split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingReadParams {
    /// The random-read parameters (file and window handles are the same in every pump).
    pub read: RandomReadParams,
    /// Queues; lane L uses queue `L % queues`, slot `L / queues`.
    pub queues: u32,
    /// Words between consecutive queues' request regions ([`gdio::vulkan::QueueGroup`]).
    pub req_stride: u32,
    /// Words between consecutive queues' completion regions.
    pub cmp_stride: u32,
}

impl ScalingReadParams {
    /// Push-constant bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.read.to_bytes();
        b.extend(bytes(&[self.queues, self.req_stride, self.cmp_stride]));
        b
    }
}

/// Lane status in the demo shaders' state buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneStatus {
    /// Not finished: dispatch again.
    Running,
    /// Finished its work.
    Done,
    /// Failed: `error` holds the result it got, `at` the item.
    Failed,
}

/// One lane's state words (see `gdio_demo.glsl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneState {
    /// Work items finished.
    pub progress: u32,
    /// Running, done or failed.
    pub status: LaneStatus,
    /// The result that failed the lane (as i32).
    pub error: i32,
    /// Which item failed.
    pub at: u32,
    /// 1 while a request is published and not yet consumed.
    pub phase: u32,
    /// Shader-specific words ST_A, ST_B, ST_C.
    pub extra: [u32; 3],
}

impl LaneState {
    /// Reads the states of `lanes` lanes from a state buffer (after a dispatch finished).
    pub fn read_all(state: &MappedBuffer, lanes: u32) -> Result<Vec<LaneState>> {
        let w = state.read_u32s(0, lanes as usize * STATE_WORDS)?;
        Ok(w.chunks(STATE_WORDS)
            .map(|s| LaneState {
                progress: s[0],
                status: match s[1] {
                    0 => LaneStatus::Running,
                    1 => LaneStatus::Done,
                    _ => LaneStatus::Failed,
                },
                error: s[2] as i32,
                at: s[3],
                phase: s[4],
                extra: [s[5], s[6], s[7]],
            })
            .collect())
    }

    /// True when every lane is done or failed.
    #[must_use]
    pub fn all_finished(states: &[LaneState]) -> bool {
        states.iter().all(|s| s.status != LaneStatus::Running)
    }
}
