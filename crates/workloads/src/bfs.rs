//! Breadth-first search over an on-disk graph ([`crate::graph`]'s CSR file), three ways:
//!
//! - [`bfs_cached`]: on the GPU, every read of the rows and the adjacency through the GPU page
//!   cache (`shaders/bfs_cached.comp` with `gdio_cache.glsl`): lanes take frontier vertices, ask
//!   the cache for the page holding their row and then for the pages of their neighbours (a
//!   vertex whose neighbours span several pages hands the pages after the first to other
//!   lanes), and claim each unreached neighbour with a compare-and-swap on its level; the
//!   winners make the next frontier. One dispatch per level (more where lanes run out of loop
//!   budget, as on lavapipe); the host only reads a few control words between levels.
//! - [`bfs_orchestrated`]: the CPU-orchestrated baseline, as a careful user writes it: the rows
//!   array loaded once into host memory; per level the host reads the frontier back, threads
//!   pread each frontier vertex's adjacency list into a packed GPU-visible buffer, and one
//!   dispatch (`shaders/bfs_expand.comp`) claims the neighbours and appends the next frontier.
//! - [`bfs_cpu`]: [`graph::cpu_bfs_parallel`] on the loaded graph, timed.
//!
//! Each returns every vertex's level; [`verify`] compares them with [`graph::cpu_bfs`]'s.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use gdio::vulkan::{BufferSlice, CacheCounters, ComputePipeline, MappedBuffer, Placement};
use gdio::PumpCache;

pub use crate::graph::{verify, Mismatch};

use crate::gpu::Gpu;
use crate::graph::{self, Csr, GraphHeader, UNREACHED};
use crate::lanes::describe_result;
use crate::pumps::{self, PumpGroup};
use crate::shaders;

/// A search's outcome.
#[derive(Debug, Clone)]
pub struct BfsRun {
    /// Each vertex's level: 0 for the source, [`UNREACHED`] for vertices it does not reach.
    pub levels: Vec<u32>,
    /// Vertices of each level's frontier (level 0: the source).
    pub frontiers: Vec<u64>,
    /// Vertices reached, the source included.
    pub reached: u64,
    /// Adjacency entries of the reached vertices: the entries the search read and examined
    /// (each undirected edge counts from both ends).
    pub edges: u64,
    /// From the first level's start to the last level's end.
    pub elapsed: Duration,
    /// Work before the clock started: loading the rows (orchestrated), building pipelines.
    pub setup: Duration,
    /// Dispatches run.
    pub dispatches: u32,
    /// Through the page cache: its counters over the search.
    pub counters: Option<CacheCounters>,
    /// READs the pumps served (through the cache) or preads the host issued (orchestrated).
    pub reads: u64,
    /// Bytes those reads asked for.
    pub bytes_read: u64,
    /// Where the time went (orchestrated: host reads, dispatches, the rest).
    pub phases: Vec<(&'static str, Duration)>,
}

impl BfsRun {
    /// Levels with a frontier (the deepest level + 1).
    #[must_use]
    pub fn depth(&self) -> u32 {
        self.frontiers.len() as u32
    }

    /// Traversed edges per second ([`BfsRun::edges`] over [`BfsRun::elapsed`]).
    #[must_use]
    pub fn edges_per_sec(&self) -> f64 {
        match self.elapsed.as_secs_f64() {
            s if s > 0.0 => self.edges as f64 / s,
            _ => 0.0,
        }
    }

    /// The first vertex whose level differs from `want`'s (the CPU search's), if any.
    #[must_use]
    pub fn check(&self, want: &[u32]) -> Option<Mismatch> {
        verify(&self.levels, want)
    }
}

/// Frontier sizes from levels: how many vertices each level has.
#[must_use]
pub fn frontiers_of(levels: &[u32]) -> Vec<u64> {
    let mut f = Vec::new();
    for &l in levels.iter().filter(|&&l| l != UNREACHED) {
        if f.len() <= l as usize {
            f.resize(l as usize + 1, 0);
        }
        f[l as usize] += 1;
    }
    f
}

/// How the GPU search through the cache runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfsShape {
    /// Shader lanes, one page ask in flight each.
    pub lanes: u32,
    /// Lanes per workgroup (lavapipe: at least 8, its SIMD width).
    pub lanes_per_group: u32,
    /// Pump threads (one queue each; lane L uses queue L % pumps).
    pub pumps: u32,
    /// Loop iterations a lane with nothing to take waits for pieces other lanes are still to
    /// hand out before it ends its dispatch (0: end at once, and let the host dispatch again).
    pub idle_polls: u32,
}

impl BfsShape {
    /// The defaults for `gpu`: on GPUs 8192 lanes, 32 to a workgroup, waiting for pieces; on
    /// lavapipe 32 lanes, 8 to a workgroup, ending a dispatch rather than waiting (its
    /// workgroups run in turn on few threads, so a waiting lane would hold up the one it waits
    /// for).
    #[must_use]
    pub fn defaults(gpu: &Gpu) -> BfsShape {
        if gpu.is_cpu() {
            BfsShape {
                lanes: 32,
                lanes_per_group: shaders::LANES_PER_GROUP,
                pumps: pumps::default_pumps(gpu, 32),
                idle_polls: 0,
            }
        } else {
            BfsShape {
                lanes: 8192,
                lanes_per_group: 32,
                pumps: pumps::default_pumps(gpu, 8192),
                idle_polls: 1 << 16,
            }
        }
    }
}

/// Control words of bfs_cached.comp (`CTL_*` there).
mod ctl {
    pub const WORDS: usize = 32;
    pub const FHEAD: usize = 0;
    pub const NCOUNT: usize = 1;
    pub const SHEAD: usize = 2;
    pub const STAIL: usize = 3;
    pub const PRODUCERS: usize = 4;
    pub const BUSY: usize = 5;
    pub const ERROR: usize = 6;
    pub const ERR_VERTEX: usize = 7;
    pub const ERR_CODE: usize = 8;
    pub const ERR_PAGE: usize = 9;
    /// u64 words (two u32 each).
    pub const EDGES: usize = 12;
    pub const ERR_A: usize = 16;
    pub const ERR_B: usize = 18;
}

/// Words of one lane's saved state in bfs_cached.comp.
const LANE_STATE_WORDS: usize = 16;

/// Where the search's own buffers live: where READ windows do (device-local memory a running
/// shader reaches fast on NVIDIA, ReBAR), since the GPU alone reads and writes them there.
fn device_placement(gpu: &Gpu) -> Placement {
    gpu.plan.read_window
}

/// A buffer of `bytes` (at least 4) where `placement` says, every byte `fill`.
fn filled(gpu: &Gpu, bytes: usize, placement: Placement, fill: u8) -> Result<MappedBuffer> {
    let b = MappedBuffer::new(&gpu.ctx, bytes.max(4), placement)?;
    b.fill(0, b.len(), fill)?;
    Ok(b)
}

/// The first `words` words of `src`, copied on the GPU into host-cached memory first (`src` may
/// be device-local memory the host must not read: ReBAR on NVIDIA).
fn read_back(gpu: &Gpu, src: &MappedBuffer, words: usize) -> Result<Vec<u32>> {
    let dst = MappedBuffer::new(&gpu.ctx, (words * 4).max(4), Placement::HostCached)?;
    let pipe = ComputePipeline::new(&gpu.ctx, shaders::COPY_WORDS, 2, 4)?;
    let set = pipe.bind(&[BufferSlice::whole(src), BufferSlice::whole(&dst)])?;
    let n = u32::try_from(words).context("at most 2^32-1 words")?;
    let groups = n.div_ceil(64).clamp(1, 65_535);
    let mut d = gpu
        .ctx
        .dispatch(&pipe, &set, &n.to_le_bytes(), [groups, 1, 1])?;
    gpu.wait(&mut d, Duration::from_secs(120))?;
    drop(d);
    Ok(dst.read_u32s(0, words)?)
}

/// Opens the graph at `path` and checks `source` against it.
fn open_for(path: &Path, source: u64) -> Result<(File, GraphHeader, u32)> {
    let (f, h) = graph::open(path)?;
    let source = graph::check_source(source, h.vertices)
        .with_context(|| format!("searching {}", path.display()))?;
    Ok((f, h, source))
}

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// What a failed level of bfs_cached.comp wrote in its control words, in words a user can act
/// on.
fn shader_error(w: &[u32], path: &Path, h: &GraphHeader, page_bytes: u64) -> anyhow::Error {
    let u64at = |i: usize| u64::from(w[i]) | (u64::from(w[i + 1]) << 32);
    let (v, code, page) = (
        w[ctl::ERR_VERTEX],
        w[ctl::ERR_CODE] as i32,
        w[ctl::ERR_PAGE],
    );
    let (a, b) = (u64at(ctl::ERR_A), u64at(ctl::ERR_B));
    let p = path.display();
    let remake = "the file is damaged: make it again with `gdio gen graph`";
    match w[ctl::ERROR] {
        1 => anyhow::anyhow!(
            "{p}: the rows array is corrupt at vertex {v}: rows[{v}] = {a}, rows[{}] = {b}, with {} \
             adjacency entries; {remake}",
            u64::from(v) + 1,
            h.edges
        ),
        2 => anyhow::anyhow!(
            "{p}: vertex {v} has neighbour {a}, but the graph has {} vertices; {remake}",
            h.vertices
        ),
        3 => anyhow::anyhow!(
            "reading page {page} ({page_bytes}-byte pages, for vertex {v}) of {p} through the page \
             cache failed: {}; check that the file is readable and as long as its header says",
            describe_result(code)
        ),
        4 => anyhow::anyhow!(
            "page {page} of {p} ({page_bytes}-byte pages) came back with {code} bytes, fewer than \
             vertex {v}'s entries need: the file is shorter than its header says; {remake}"
        ),
        5 => anyhow::anyhow!(
            "{p}: the neighbour ranges of the frontier overlap (at vertex {v}): the rows array is \
             corrupt; {remake}"
        ),
        6 => anyhow::anyhow!(
            "{p}: the search found more vertices than the graph's {} (at vertex {v}): the frontier \
             or the levels were overwritten; {remake}",
            h.vertices
        ),
        e => anyhow::anyhow!("bfs_cached.comp reported failure {e}, which it never writes"),
    }
}

/// Breadth-first search from `source` of the graph at `path` on the GPU, every read through
/// `cache` (see the module's docs). The cache is the caller's: kept warm from search to search
/// of the same file, or cleared first with [`gdio::vulkan::PageCache::clear`] (it knows pages by
/// the pump's file index, which is 0 for every search: a cache kept across two files, or
/// across a change to one, would serve the old pages). Its pages are served by `shape.pumps`
/// pump threads started for this search. Fails, saying why, for a source outside
/// the graph, a damaged file (never a hang or a panic: the shader checks every row and
/// neighbour it reads), or a failed READ.
pub fn bfs_cached(
    gpu: &Gpu,
    path: &Path,
    source: u64,
    cache: &PumpCache,
    shape: BfsShape,
) -> Result<BfsRun> {
    let setup_start = Instant::now();
    let (f, h, source) = open_for(path, source)?;
    let ctx = &gpu.ctx;
    let layout = cache.layout();
    let page_bytes = layout.page_bytes();
    anyhow::ensure!(
        (h.file_bytes().max(1) - 1) >> layout.page_shift < 1 << 32,
        "{} has more than 2^32 pages of {page_bytes} bytes: use larger cache pages",
        path.display()
    );
    let vertices = h.vertices as usize;
    let nv = h.vertices as u32;
    gpu.check_window(
        8 * vertices,
        &format!("the frontiers of {vertices} vertices"),
    )?;
    let piece_cap = u32::try_from((4 * h.edges).div_ceil(page_bytes) + 4)
        .context("too many adjacency pages for the piece queue: use larger cache pages")?;
    gpu.check_window(
        piece_cap as usize * 20,
        &format!("a piece queue of {piece_cap} pieces"),
    )?;
    let lanes = shape.lanes.clamp(1, 1 << 20);
    let per_group = shape.lanes_per_group.max(1);
    let queues = shape.pumps.clamp(1, lanes);
    let place = device_placement(gpu);
    let levels = filled(gpu, 4 * vertices, place, 0xFF)?;
    levels.write_u32s(source as usize, &[0])?;
    let frontier = filled(gpu, 8 * vertices, place, 0)?;
    frontier.write_u32s(0, &[source])?;
    let control = filled(gpu, 4 * ctl::WORDS, place, 0)?;
    let piece_queue = filled(gpu, piece_cap as usize * 20, place, 0)?;
    let lane_state = filled(gpu, lanes as usize * LANE_STATE_WORDS * 4, place, 0)?;
    let group = PumpGroup::spawn(
        gpu,
        queues,
        lanes.div_ceil(queues),
        cache.pages(),
        &f,
        "gdio-pump-bfs",
    )?;
    let q = group.group();
    let (req_stride, cmp_stride) = group.strides();
    let step_budget = crate::cache::step_budget(gpu);
    let push = |lanes: u32, level: u32, len: u32, cur: u32, next: u32| {
        bytes(&[
            0, // file 0: the graph, in every pump
            0, // window 0: the cache's pages
            lanes,
            level,
            len,
            cur,
            next,
            nv,
            h.rows_offset as u32,
            (h.rows_offset >> 32) as u32,
            h.adjacency_offset as u32,
            (h.adjacency_offset >> 32) as u32,
            h.edges as u32,
            (h.edges >> 32) as u32,
            piece_cap,
            gpu.budgets.iter_budget,
            step_budget,
            shape.idle_polls,
            queues,
            req_stride,
            cmp_stride,
        ])
    };
    let pipe = ComputePipeline::with_walker_shape(
        ctx,
        shaders::BFS_CACHED,
        9,
        push(0, 0, 0, 0, 0).len() as u32,
        per_group,
        1,
    )?;
    let set = pipe.bind(&[
        q.request_slice(),
        q.completion_slice(),
        cache.slice(),
        cache.pages_slice(),
        BufferSlice::whole(&levels),
        BufferSlice::whole(&frontier),
        BufferSlice::whole(&control),
        BufferSlice::whole(&piece_queue),
        BufferSlice::whole(&lane_state),
    ])?;
    let before = cache.counters();
    let searched = (|| -> Result<(Vec<u64>, u32, Duration, Duration)> {
        gpu.warm(&pipe, &set, &push(0, 0, 0, 0, 0))?;
        let groups = lanes.div_ceil(per_group);
        let mut frontiers = Vec::new();
        let mut len = 1u32;
        let (mut cur, mut next) = (0u32, nv);
        let mut dispatches = 0u32;
        let setup = setup_start.elapsed();
        let start = Instant::now();
        while len > 0 {
            let level = frontiers.len() as u32;
            frontiers.push(u64::from(len));
            control.write_u32s(0, &[0; 6])?;
            let done = || -> Result<bool> {
                let w = control.read_u32s(0, ctl::WORDS)?;
                if w[ctl::ERROR] != 0 {
                    return Err(shader_error(&w, path, &h, page_bytes));
                }
                let done = w[ctl::FHEAD] >= len
                    && w[ctl::SHEAD] >= w[ctl::STAIL]
                    && w[ctl::PRODUCERS] == 0
                    && w[ctl::BUSY] == 0;
                if !done {
                    // Counted afresh by the lanes that end the next dispatch with work.
                    control.store_u32(ctl::BUSY, 0);
                }
                Ok(done)
            };
            // Progress: READs served, and items and pieces taken (a level of hits reads
            // nothing). Two words: on NVIDIA each is a read across the bus, every poll.
            let tick = || {
                group.completed()
                    + u64::from(control.load_u32(ctl::FHEAD))
                    + u64::from(control.load_u32(ctl::SHEAD))
            };
            let driven = gpu.drive(
                &pipe,
                &set,
                &push(lanes, level, len, cur, next),
                groups,
                done,
                tick,
            )?;
            dispatches += driven.dispatches;
            len = control.load_u32(ctl::NCOUNT);
            std::mem::swap(&mut cur, &mut next);
        }
        Ok((frontiers, dispatches, start.elapsed(), setup))
    })();
    drop(set);
    let reads = group.completed();
    // The pumps stop (and drain) whatever the search's outcome.
    group.stop()?;
    let (frontiers, dispatches, elapsed, setup) = searched?;
    let counters = cache.counters().since(&before);
    let w = control.read_u32s(0, ctl::WORDS)?;
    let edges = u64::from(w[ctl::EDGES]) | (u64::from(w[ctl::EDGES + 1]) << 32);
    let levels = read_back(gpu, &levels, vertices)?;
    Ok(BfsRun {
        reached: frontiers.iter().sum(),
        levels,
        frontiers,
        edges,
        elapsed,
        setup,
        dispatches,
        counters: Some(counters),
        reads,
        bytes_read: counters.reads * page_bytes,
        phases: vec![("dispatches, one or more per level", elapsed)],
    })
}

/// How the CPU-orchestrated search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrchestratedShape {
    /// Threads that pread the frontier's adjacency lists (the calling thread is one of them).
    pub readers: u32,
    /// Bytes of the GPU-visible buffer the lists are packed into; a level whose lists do not
    /// fit runs in batches that do (one dispatch each).
    pub staging_bytes: u64,
    /// Most entries one invocation of bfs_expand.comp expands (longer lists are cut into pieces,
    /// as the cached search cuts them at pages: one invocation alone on a vertex of a million
    /// neighbours would be the whole level's time).
    pub piece_entries: u32,
}

impl OrchestratedShape {
    /// The defaults for `gpu`: as many readers as the cached search has pumps (on GPUs the
    /// pumps are the threads gdio spends on IO), 256 MiB of staging, pieces of 1024 entries
    /// (one 4 KiB page's).
    #[must_use]
    pub fn defaults(gpu: &Gpu) -> OrchestratedShape {
        OrchestratedShape {
            readers: BfsShape::defaults(gpu).pumps,
            staging_bytes: 256 << 20,
            piece_entries: 1024,
        }
    }
}

/// Control words of bfs_expand.comp: the next frontier's length, the first error, its id.
const EXPAND_CTL_WORDS: usize = 4;
/// Most descriptors of one dispatch of bfs_expand.comp: 64 invocations a workgroup, at most
/// 65,535 workgroups (the least a device must allow).
const EXPAND_MAX_DESCRIPTORS: usize = 64 * 65_535;

/// One pread of the orchestrated loop: `len` bytes of the file at `at` into the staging buffer
/// at byte `to`.
#[derive(Debug, Clone, Copy)]
struct Read {
    to: usize,
    len: usize,
    at: u64,
}

/// preads `reads` into `staging` with `readers` threads (the caller one of them), each taking
/// the next block of reads from a shared counter.
fn read_all(f: &File, staging: &MappedBuffer, reads: &[Read], readers: usize) -> Result<()> {
    let next = AtomicUsize::new(0);
    let work = || -> Result<()> {
        const BLOCK: usize = 64;
        loop {
            let i = next.fetch_add(BLOCK, Ordering::Relaxed);
            if i >= reads.len() {
                return Ok(());
            }
            for r in &reads[i..(i + BLOCK).min(reads.len())] {
                crate::orchestrated::read_into(f, staging, r.to, r.len, r.at)
                    .with_context(|| format!("reading {} bytes of the graph at {}", r.len, r.at))?;
            }
        }
    };
    // Threads only where each gets a few blocks.
    let helpers = if reads.len() >= 256 * readers {
        readers - 1
    } else {
        0
    };
    if helpers == 0 {
        return work();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..helpers).map(|_| s.spawn(work)).collect();
        let mine = work();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a reader thread panicked")))
            })
            .fold(mine, Result::and)
    })
}

/// Breadth-first search from `source` of the graph at `path`, CPU-orchestrated (see the
/// module's docs): the rows loaded once before the clock starts; per level, threads pread each
/// frontier vertex's adjacency list into a packed GPU-visible buffer, the host writes a
/// descriptor per piece, one dispatch of bfs_expand.comp claims the neighbours, and the host
/// reads the next frontier back.
pub fn bfs_orchestrated(
    gpu: &Gpu,
    path: &Path,
    source: u64,
    shape: OrchestratedShape,
) -> Result<BfsRun> {
    let setup_start = Instant::now();
    let (f, h, source) = open_for(path, source)?;
    let rows = graph::load_rows(&f, &h, path)?;
    let ctx = &gpu.ctx;
    let vertices = h.vertices as usize;
    let nv = h.vertices as u32;
    let readers = shape.readers.max(1) as usize;
    let piece = u64::from(shape.piece_entries.clamp(1, 1 << 16));
    let staging_words = (shape.staging_bytes / 4).clamp(piece, h.edges.max(piece));
    let staging_words = usize::try_from(staging_words).context("staging past the address space")?;
    gpu.check_window(
        4 * staging_words,
        "the orchestrated search's staging buffer",
    )?;
    gpu.check_window(4 * vertices, &format!("the levels of {vertices} vertices"))?;
    let desc_cap = staging_words.min(EXPAND_MAX_DESCRIPTORS);
    let place = device_placement(gpu);
    let staging = MappedBuffer::new(
        ctx,
        4 * staging_words,
        gpu.settings
            .orchestrated_staging
            .unwrap_or(gpu.plan.read_window),
    )?;
    let descriptors = MappedBuffer::new(ctx, 8 * desc_cap, Placement::HostCached)?;
    let levels = filled(gpu, 4 * vertices, place, 0xFF)?;
    levels.write_u32s(source as usize, &[0])?;
    // The host reads the next frontier after every level: host memory, which the GPU writes
    // at the bus's speed and the host reads at its own.
    let next = MappedBuffer::new(ctx, 4 * vertices, Placement::HostCached)?;
    // Its counter takes an atomic add per vertex found: device memory; the host reads it once
    // a level.
    let control = filled(gpu, 4 * EXPAND_CTL_WORDS, place, 0)?;
    let pipe = ComputePipeline::new(ctx, shaders::BFS_EXPAND, 5, 12)?;
    let set = pipe.bind(&[
        BufferSlice::whole(&staging),
        BufferSlice::whole(&descriptors),
        BufferSlice::whole(&levels),
        BufferSlice::whole(&next),
        BufferSlice::whole(&control),
    ])?;
    gpu.warm(&pipe, &set, &bytes(&[0, 0, nv]))?;
    let setup = setup_start.elapsed();

    let start = Instant::now();
    let (mut t_read, mut t_dispatch) = (Duration::ZERO, Duration::ZERO);
    let (mut reads, mut bytes_read, mut edges, mut dispatches) = (0u64, 0u64, 0u64, 0u32);
    let mut frontier = vec![source];
    let mut frontiers = Vec::new();
    let mut plan = Vec::new();
    let mut desc: Vec<u32> = Vec::new();
    while !frontier.is_empty() {
        let level = frontiers.len() as u32;
        frontiers.push(frontier.len() as u64);
        control.write_u32s(0, &[0; EXPAND_CTL_WORDS])?;
        // Batches of the level: as many whole lists (or a part of one too long for the
        // staging buffer) as fit, each a run of reads and a dispatch.
        let (mut i, mut into) = (0usize, 0u64);
        while i < frontier.len() {
            let t0 = Instant::now();
            plan.clear();
            desc.clear();
            let mut used = 0usize;
            while i < frontier.len() && used < staging_words && desc.len() / 2 < desc_cap {
                let v = frontier[i] as usize;
                let (s, e) = (rows[v] + into, rows[v + 1]);
                let room = (staging_words - used) as u64;
                let pieces_room = (desc_cap - desc.len() / 2) as u64 * piece;
                let take = (e - s).min(room).min(pieces_room);
                if take > 0 {
                    plan.push(Read {
                        to: 4 * used,
                        len: 4 * take as usize,
                        at: h.adjacency_at(s),
                    });
                    let mut k = 0;
                    while k < take {
                        let n = piece.min(take - k);
                        desc.push((used as u64 + k) as u32);
                        desc.push(n as u32);
                        k += n;
                    }
                    used += take as usize;
                }
                if s + take == e {
                    edges += rows[v + 1] - rows[v];
                    i += 1;
                    into = 0;
                } else {
                    into += take;
                }
            }
            read_all(&f, &staging, &plan, readers)?;
            reads += plan.len() as u64;
            bytes_read += 4 * used as u64;
            let ndesc = desc.len() / 2;
            if ndesc > 0 {
                descriptors.write_u32s(0, &desc)?;
            }
            let t1 = Instant::now();
            t_read += t1 - t0;
            if ndesc > 0 {
                let push = bytes(&[ndesc as u32, level, nv]);
                let groups = (ndesc as u32).div_ceil(64);
                let mut d = ctx.dispatch(&pipe, &set, &push, [groups, 1, 1])?;
                gpu.wait(&mut d, Duration::from_secs(600))?;
                drop(d);
                dispatches += 1;
            }
            t_dispatch += t1.elapsed();
        }
        let w = control.read_u32s(0, EXPAND_CTL_WORDS)?;
        match w[1] {
            0 => {}
            1 => anyhow::bail!(
                "{}: a neighbour id {} is past the graph's {} vertices; the file is damaged: \
                 make it again with `gdio gen graph`",
                path.display(),
                w[2],
                h.vertices
            ),
            _ => anyhow::bail!(
                "{}: the search found more vertices than the graph's {}: the levels were \
                 overwritten",
                path.display(),
                h.vertices
            ),
        }
        frontier = next.read_u32s(0, (w[0] as usize).min(vertices))?;
    }
    let elapsed = start.elapsed();
    drop(set);
    let levels = read_back(gpu, &levels, vertices)?;
    Ok(BfsRun {
        reached: frontiers.iter().sum(),
        levels,
        frontiers,
        edges,
        elapsed,
        setup,
        dispatches,
        counters: None,
        reads,
        bytes_read,
        phases: vec![
            ("host: descriptors and preads", t_read),
            ("dispatch + fence", t_dispatch),
            (
                "the rest (frontier reads)",
                elapsed.saturating_sub(t_read + t_dispatch),
            ),
        ],
    })
}

/// Breadth-first search from `source` on the CPU alone with `threads` threads
/// ([`graph::cpu_bfs_parallel`]) over a graph loaded with [`graph::load`], timed.
pub fn bfs_cpu(g: &Csr, source: u64, threads: usize) -> Result<BfsRun> {
    let source = graph::check_source(source, g.header.vertices)?;
    let start = Instant::now();
    let levels = graph::cpu_bfs_parallel(g, source, threads)?;
    let elapsed = start.elapsed();
    let frontiers = frontiers_of(&levels);
    Ok(BfsRun {
        reached: frontiers.iter().sum(),
        edges: g.edges_of(&levels),
        levels,
        frontiers,
        elapsed,
        setup: Duration::ZERO,
        dispatches: 0,
        counters: None,
        reads: 0,
        bytes_read: 0,
        phases: vec![("search", elapsed)],
    })
}
