//! gdio's on-disk graph: a compressed sparse row (CSR) file, an R-MAT generator that writes one,
//! the reader and a CPU breadth-first search. [`crate::bfs`] searches the same file on the GPU
//! (`shaders/bfs_cached.comp` through the page cache, and the CPU-orchestrated baseline).
//!
//! The file is little-endian. Bytes `0..4096` are the header:
//!
//! | byte | field |
//! |---|---|
//! | 0 | magic `0x52474447` ("GDGR"), u32 |
//! | 4 | version 1, u32 |
//! | 8 | header bytes (4096), u32 |
//! | 12 | scale (log2 of the vertex count the generator was asked for), u32 |
//! | 16 | vertices `V`, u64 (at most 2^31) |
//! | 24 | edges `E`: entries of the adjacency array, u64 (each undirected edge counts twice) |
//! | 32 | seed of the generator, u64 |
//! | 40 | edge factor (undirected edges drawn per vertex), u32 |
//! | 44 | 0, u32 |
//! | 48 | byte offset of the rows array, u64 |
//! | 56 | byte offset of the adjacency array, u64 |
//! | 64 | undirected edges drawn (`edge factor × 2^scale`, before self loops and duplicates were dropped), u64 |
//!
//! and the rest of the page is zero. The rows array (`V + 1` u64, at a multiple of 4096 bytes)
//! holds the adjacency index of each vertex's first neighbour: vertex `v`'s neighbours are
//! `adjacency[rows[v] .. rows[v + 1]]`, `rows[0] = 0`, `rows[V] = E`. The adjacency array (`E`
//! u32 vertex ids) starts at the next multiple of 4096 after the rows and ends the file. Each
//! list is sorted and holds no duplicates and no self loop; the graph is undirected: `u` is in
//! `v`'s list exactly when `v` is in `u`'s.
//!
//! [`generate`] draws `edge factor × 2^scale` edges with the R-MAT recursion of Graph500's
//! Kronecker generator (a = 0.57, b = 0.19, c = 0.19, d = 0.05), each from a counter-based hash of
//! the seed and its index (so the edges can be drawn again instead of kept), renames the vertices
//! by a seeded bijection of `0..2^scale` (as Graph500 permutes them: the high-degree vertices are
//! not the low ids), drops self loops, stores both directions of every edge and removes
//! duplicate edges.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::btree::mix64;
use crate::partial::Partial;

/// "GDGR".
pub const MAGIC: u32 = 0x5247_4447;
/// The format version this module reads and writes.
pub const VERSION: u32 = 1;
/// Bytes of the header, and the alignment of both arrays.
pub const HEADER: usize = 4096;
/// Undirected edges drawn per vertex unless asked otherwise (Graph500's edge factor).
pub const DEFAULT_EDGE_FACTOR: u32 = 16;
/// The largest scale: vertex ids are u32 and [`UNREACHED`] must stay out of their range.
pub const MAX_SCALE: u32 = 31;
/// The most vertices a file may have (2^[`MAX_SCALE`]).
pub const MAX_VERTICES: u64 = 1 << MAX_SCALE;
/// The BFS level of a vertex the search did not reach.
pub const UNREACHED: u32 = u32::MAX;
/// R-MAT's quadrant probabilities (Graph500): a, b, c; d is the rest (0.05).
pub const RMAT: [f64; 3] = [0.57, 0.19, 0.19];

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GraphHeader {
    /// Vertices `V`; ids are `0..V`.
    pub vertices: u64,
    /// Entries of the adjacency array (each undirected edge twice).
    pub edges: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// log2 of the vertices the generator was asked for.
    pub scale: u32,
    /// Undirected edges drawn per vertex.
    pub edge_factor: u32,
    /// Byte offset of the rows array (`V + 1` u64).
    pub rows_offset: u64,
    /// Byte offset of the adjacency array (`E` u32).
    pub adjacency_offset: u64,
    /// Undirected edges drawn, before self loops and duplicates were dropped.
    pub drawn: u64,
}

impl GraphHeader {
    /// Bytes of the whole file.
    #[must_use]
    pub fn file_bytes(&self) -> u64 {
        self.adjacency_offset + 4 * self.edges
    }

    /// Byte offset of `rows[v]`.
    #[must_use]
    pub fn row_at(&self, v: u64) -> u64 {
        self.rows_offset + 8 * v
    }

    /// Byte offset of adjacency entry `e`.
    #[must_use]
    pub fn adjacency_at(&self, e: u64) -> u64 {
        self.adjacency_offset + 4 * e
    }

    /// The header page's bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; HEADER];
        let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        put(0, &MAGIC.to_le_bytes());
        put(4, &VERSION.to_le_bytes());
        put(8, &(HEADER as u32).to_le_bytes());
        put(12, &self.scale.to_le_bytes());
        put(16, &self.vertices.to_le_bytes());
        put(24, &self.edges.to_le_bytes());
        put(32, &self.seed.to_le_bytes());
        put(40, &self.edge_factor.to_le_bytes());
        put(48, &self.rows_offset.to_le_bytes());
        put(56, &self.adjacency_offset.to_le_bytes());
        put(64, &self.drawn.to_le_bytes());
        b
    }
}

/// Where the arrays of a graph of `vertices` vertices go: the rows at byte 4096, the adjacency
/// at the next multiple of 4096 after them.
#[must_use]
pub fn layout(vertices: u64) -> (u64, u64) {
    let rows = HEADER as u64;
    let adjacency = (rows + 8 * (vertices + 1)).next_multiple_of(HEADER as u64);
    (rows, adjacency)
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn get64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// How a graph is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenParams {
    /// 2^scale vertices (1..=[`MAX_SCALE`]).
    pub scale: u32,
    /// Undirected edges drawn per vertex (at least 1).
    pub edge_factor: u32,
    /// Seed of the edges and of the vertex renaming.
    pub seed: u64,
}

impl GenParams {
    /// Scale `scale` with the default edge factor.
    #[must_use]
    pub fn new(scale: u32, seed: u64) -> GenParams {
        GenParams {
            scale,
            edge_factor: DEFAULT_EDGE_FACTOR,
            seed,
        }
    }

    /// Edges drawn (`None` past 2^64).
    #[must_use]
    pub fn drawn(&self) -> Option<u64> {
        (1u64 << self.scale.min(63)).checked_mul(u64::from(self.edge_factor))
    }

    /// Fails with what to use instead when the scale or the edge factor is out of range.
    pub fn check(&self) -> Result<()> {
        anyhow::ensure!(
            (1..=MAX_SCALE).contains(&self.scale),
            "scale {}: use 1..={MAX_SCALE} (2^scale vertices, ids are 32-bit)",
            self.scale
        );
        anyhow::ensure!(
            self.edge_factor >= 1,
            "edge factor 0: use at least 1 (16 is Graph500's)"
        );
        // Both directions of every edge are indexed in memory while the file is built.
        anyhow::ensure!(
            self.drawn().and_then(|d| d.checked_mul(2)).is_some(),
            "scale {} with edge factor {}: more than 2^63 edges; ask for less",
            self.scale,
            self.edge_factor
        );
        Ok(())
    }
}

/// What [`generate`] takes for `p`: bytes of memory (both directions of every drawn edge as u32,
/// three u64 per vertex, 4 MiB of buffers) and at most this many bytes of file (duplicates and
/// self loops make it smaller). `None` past 2^64.
#[must_use]
pub fn generate_needs(p: &GenParams) -> Option<(u64, u64)> {
    let v = 1u64.checked_shl(p.scale)?;
    let entries = p.drawn()?.checked_mul(2)?;
    let memory = entries
        .checked_mul(4)?
        .checked_add(v.checked_add(1)?.checked_mul(24)?)?
        .checked_add(4 << 20)?;
    let (_, adjacency) = layout(v);
    Some((memory, adjacency.checked_add(entries.checked_mul(4)?)?))
}

/// Quadrant thresholds of one R-MAT step as 32-bit fractions: a, a + b, a + b + c.
fn thresholds() -> [u32; 3] {
    let f = |p: f64| (p * 4_294_967_296.0) as u32;
    [
        f(RMAT[0]),
        f(RMAT[0] + RMAT[1]),
        f(RMAT[0] + RMAT[1] + RMAT[2]),
    ]
}

/// Drawn edge `i` before renaming: `scale` R-MAT steps, each choosing one bit of both ends with
/// 32 bits of a splitmix64 stream seeded by `(seed, i)`.
fn rmat_edge(i: u64, scale: u32, seed: u64, t: &[u32; 3]) -> (u32, u32) {
    let mut state = mix64(seed ^ mix64(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x0DD_BA11));
    let (mut u, mut v) = (0u32, 0u32);
    let mut bits = 0u64;
    for level in 0..scale {
        if level % 2 == 0 {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            bits = mix64(state);
        } else {
            bits >>= 32;
        }
        let r = bits as u32;
        let (bu, bv) = if r < t[0] {
            (0, 0)
        } else if r < t[1] {
            (0, 1)
        } else if r < t[2] {
            (1, 0)
        } else {
            (1, 1)
        };
        u = (u << 1) | bu;
        v = (v << 1) | bv;
    }
    (u, v)
}

/// A seeded bijection of `0..2^scale` (the vertex renaming): rounds of multiplying by an odd
/// number, adding a key and xor-shifting right, each a bijection of `scale`-bit numbers.
#[must_use]
pub fn permute(x: u32, scale: u32, seed: u64) -> u32 {
    let mask = ((1u64 << scale) - 1) as u32;
    let shift = scale / 2 + 1;
    let mut x = x & mask;
    for round in 0..4u64 {
        let k = mix64(seed ^ 0x5CA1_AB1E ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        x = x.wrapping_mul((k as u32) | 1) & mask;
        x = x.wrapping_add((k >> 32) as u32) & mask;
        if shift < scale {
            x ^= x >> shift;
        }
    }
    x
}

/// Drawn edge `i` of the graph `p` describes, vertices renamed (self loops included).
#[must_use]
pub fn edge(p: &GenParams, i: u64) -> (u32, u32) {
    let (u, v) = rmat_edge(i, p.scale, p.seed, &thresholds());
    (permute(u, p.scale, p.seed), permute(v, p.scale, p.seed))
}

/// Runs `work(first, end)` over `0..n` split into one range per thread, while the calling thread
/// reports `done` (which the workers raise) through `progress(done + base, total)` every 100 ms.
fn in_parallel(
    n: u64,
    done: &AtomicU64,
    base: u64,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
    work: &(dyn Fn(u64, u64) + Sync),
) {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()) as u64;
    let per = n.div_ceil(threads).max(1);
    let finished = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let mut spawned = 0;
        let mut first = 0;
        while first < n {
            let end = (first + per).min(n);
            let finished = &finished;
            s.spawn(move || {
                work(first, end);
                finished.fetch_add(1, Ordering::Release);
            });
            spawned += 1;
            first = end;
        }
        while finished.load(Ordering::Acquire) < spawned {
            progress(base + done.load(Ordering::Relaxed), total);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// Writes the graph `p` describes to `path` (see the module's docs for the format), calling
/// `progress(done, total)` now and then. A file whose writing fails is removed. Memory: what
/// [`generate_needs`] says, no more; it does not check the room first.
pub fn generate(
    path: &Path,
    p: &GenParams,
    mut progress: impl FnMut(u64, u64),
) -> Result<GraphHeader> {
    p.check()?;
    let scale = p.scale;
    let n = p.drawn().context("too many edges")?;
    let v = 1usize << scale;
    let t = thresholds();
    // Both passes draw every edge; the sort and the write count as one more each.
    let total = 4 * n;
    let done = AtomicU64::new(0);

    // Pass 1: each vertex's degree (self loops dropped), both directions.
    let degree: Vec<AtomicU64> = (0..v).map(|_| AtomicU64::new(0)).collect();
    in_parallel(n, &done, 0, total, &mut progress, &|first, end| {
        for i in first..end {
            let (a, b) = rmat_edge(i, scale, p.seed, &t);
            if a != b {
                degree[permute(a, scale, p.seed) as usize].fetch_add(1, Ordering::Relaxed);
                degree[permute(b, scale, p.seed) as usize].fetch_add(1, Ordering::Relaxed);
            }
            if i % 65_536 == 0 {
                done.fetch_add(65_536.min(end - i), Ordering::Relaxed);
            }
        }
    });
    // Each vertex's cursor: where its next entry goes (its first entry's index, to start).
    let mut entries = 0u64;
    for d in &degree {
        let deg = d.load(Ordering::Relaxed);
        d.store(entries, Ordering::Relaxed);
        entries += deg;
    }
    let cursor = degree;
    let slots = usize::try_from(entries).context("more adjacency entries than memory can index")?;

    // Pass 2: the same edges again, each direction put at its vertex's cursor.
    let adjacency: Vec<AtomicU32> = (0..slots).map(|_| AtomicU32::new(0)).collect();
    done.store(0, Ordering::Relaxed);
    in_parallel(n, &done, n, total, &mut progress, &|first, end| {
        for i in first..end {
            let (a, b) = rmat_edge(i, scale, p.seed, &t);
            if a != b {
                let (a, b) = (permute(a, scale, p.seed), permute(b, scale, p.seed));
                let at = cursor[a as usize].fetch_add(1, Ordering::Relaxed);
                adjacency[at as usize].store(b, Ordering::Relaxed);
                let at = cursor[b as usize].fetch_add(1, Ordering::Relaxed);
                adjacency[at as usize].store(a, Ordering::Relaxed);
            }
            if i % 65_536 == 0 {
                done.fetch_add(65_536.min(end - i), Ordering::Relaxed);
            }
        }
    });
    // The cursors now stand at each list's end; the same allocation becomes plain u32s.
    let mut adjacency: Vec<u32> = adjacency.into_iter().map(AtomicU32::into_inner).collect();
    let mut ends: Vec<u64> = cursor.into_iter().map(AtomicU64::into_inner).collect();
    progress(2 * n, total);

    // Sort each list and drop its duplicates in place (threads over ranges of vertices), then
    // close the gaps the duplicates left.
    let kept = sort_and_dedup(&mut adjacency, &ends);
    progress(3 * n, total);
    let mut write_at = 0usize;
    let mut start = 0usize;
    for (vtx, &k) in kept.iter().enumerate() {
        let end = ends[vtx] as usize;
        adjacency.copy_within(start..start + k as usize, write_at);
        write_at += k as usize;
        ends[vtx] = write_at as u64;
        start = end;
    }
    adjacency.truncate(write_at);
    adjacency.shrink_to_fit();
    let edges = write_at as u64;
    let (rows_offset, adjacency_offset) = layout(v as u64);
    let header = GraphHeader {
        vertices: v as u64,
        edges,
        seed: p.seed,
        scale,
        edge_factor: p.edge_factor,
        rows_offset,
        adjacency_offset,
        drawn: n,
    };

    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let partial = Partial::new(path, &file);
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let what = || format!("writing {}", path.display());
    w.write_all(&header.to_bytes()).with_context(what)?;
    let mut buf = Vec::with_capacity(1 << 20);
    buf.extend_from_slice(&0u64.to_le_bytes());
    for chunk in ends.chunks(1 << 16) {
        for e in chunk {
            buf.extend_from_slice(&e.to_le_bytes());
        }
        w.write_all(&buf).with_context(what)?;
        buf.clear();
    }
    let pad = adjacency_offset - rows_offset - 8 * (v as u64 + 1);
    w.write_all(&vec![0u8; pad as usize]).with_context(what)?;
    for chunk in adjacency.chunks(1 << 18) {
        for u in chunk {
            buf.extend_from_slice(&u.to_le_bytes());
        }
        w.write_all(&buf).with_context(what)?;
        buf.clear();
    }
    w.flush().with_context(what)?;
    partial.keep();
    progress(total, total);
    Ok(header)
}

/// Sorts each vertex's list (`adjacency[ends[v-1] .. ends[v]]`) and moves its distinct entries
/// to its front; returns how many each list keeps. Threads take ranges of vertices of about
/// equal entries.
fn sort_and_dedup(adjacency: &mut [u32], ends: &[u64]) -> Vec<u64> {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let per = (adjacency.len() / threads).max(1);
    // Cut the vertices into ranges at list ends, each with about `per` entries.
    let mut cuts = vec![0usize];
    let mut since = 0u64;
    for (vtx, &e) in ends.iter().enumerate() {
        if e - since >= per as u64 {
            cuts.push(vtx + 1);
            since = e;
        }
    }
    if cuts.last() != Some(&ends.len()) {
        cuts.push(ends.len());
    }
    let mut kept = vec![0u64; ends.len()];
    std::thread::scope(|s| {
        let mut rest_adj = adjacency;
        let mut rest_kept = kept.as_mut_slice();
        let mut consumed = 0usize;
        for w in cuts.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            let end = if hi == 0 { 0 } else { ends[hi - 1] as usize };
            let (mine, more) = rest_adj.split_at_mut(end - consumed);
            let (my_kept, more_kept) = rest_kept.split_at_mut(hi - lo);
            let base = consumed;
            consumed = end;
            rest_adj = more;
            rest_kept = more_kept;
            s.spawn(move || {
                let mut start = base;
                for (i, k) in my_kept.iter_mut().enumerate() {
                    let end = ends[lo + i] as usize;
                    let list = &mut mine[start - base..end - base];
                    list.sort_unstable();
                    let mut n = 0;
                    for j in 0..list.len() {
                        if j == 0 || list[j] != list[n - 1] {
                            list[n] = list[j];
                            n += 1;
                        }
                    }
                    *k = n as u64;
                    start = end;
                }
            });
        }
    });
    kept
}

/// Reads and checks the header of the graph at `path`: the file, and what it says.
pub fn open(path: &Path) -> Result<(File, GraphHeader)> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let h = read_header(&f, path)?;
    Ok((f, h))
}

fn not_a_graph(path: &Path, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{} is not a gdio graph ({why}): give a file made by `gdio gen graph --scale N FILE`",
        path.display()
    )
}

fn corrupt(path: &Path, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: {why}; the file is damaged: make it again with `gdio gen graph`",
        path.display()
    )
}

/// Reads and checks the header of an open graph file (`path` names it in errors).
pub fn read_header(f: &File, path: &Path) -> Result<GraphHeader> {
    let mut b = vec![0u8; HEADER];
    f.read_exact_at(&mut b, 0)
        .map_err(|_| not_a_graph(path, "shorter than its 4096-byte header"))?;
    if get32(&b, 0) != MAGIC {
        return Err(not_a_graph(path, "no GDGR magic"));
    }
    if get32(&b, 4) != VERSION || get32(&b, 8) != HEADER as u32 {
        return Err(not_a_graph(
            path,
            &format!(
                "version {} with a {}-byte header; this gdio reads version {VERSION}",
                get32(&b, 4),
                get32(&b, 8)
            ),
        ));
    }
    let h = GraphHeader {
        scale: get32(&b, 12),
        vertices: get64(&b, 16),
        edges: get64(&b, 24),
        seed: get64(&b, 32),
        edge_factor: get32(&b, 40),
        rows_offset: get64(&b, 48),
        adjacency_offset: get64(&b, 56),
        drawn: get64(&b, 64),
    };
    if !(1..=MAX_VERTICES).contains(&h.vertices) {
        return Err(corrupt(
            path,
            &format!("the header says {} vertices (1..=2^31)", h.vertices),
        ));
    }
    let align = HEADER as u64;
    let rows_end = h.rows_offset.checked_add(8 * (h.vertices + 1));
    if h.rows_offset < align
        || h.rows_offset % align != 0
        || h.adjacency_offset % align != 0
        || rows_end.is_none_or(|e| e > h.adjacency_offset)
    {
        return Err(corrupt(
            path,
            &format!(
                "the header puts the rows at byte {} and the adjacency at byte {}, which cannot \
                 hold {} vertices",
                h.rows_offset, h.adjacency_offset, h.vertices
            ),
        ));
    }
    let len = f
        .metadata()
        .with_context(|| format!("cannot look at {}", path.display()))?
        .len();
    let want = h
        .edges
        .checked_mul(4)
        .and_then(|b| b.checked_add(h.adjacency_offset));
    if want != Some(len) {
        return Err(corrupt(
            path,
            &format!(
                "the header says {} edges, a file of {} bytes, but it has {len}",
                h.edges,
                want.map_or_else(|| "more than 2^64".to_string(), |w| w.to_string())
            ),
        ));
    }
    Ok(h)
}

/// Reads `n` little-endian u64 of `f` at byte `at`, in blocks (no second copy of the whole).
fn read_u64s(f: &File, at: u64, n: usize) -> std::io::Result<Vec<u64>> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; 1 << 20];
    let mut off = at;
    while out.len() < n {
        let k = (n - out.len()).min(buf.len() / 8);
        f.read_exact_at(&mut buf[..8 * k], off)?;
        out.extend(buf[..8 * k].chunks_exact(8).map(|c| get64(c, 0)));
        off += 8 * k as u64;
    }
    Ok(out)
}

/// Reads `n` little-endian u32 of `f` at byte `at`, in blocks.
fn read_u32s(f: &File, at: u64, n: usize) -> std::io::Result<Vec<u32>> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; 1 << 20];
    let mut off = at;
    while out.len() < n {
        let k = (n - out.len()).min(buf.len() / 4);
        f.read_exact_at(&mut buf[..4 * k], off)?;
        out.extend(buf[..4 * k].chunks_exact(4).map(|c| get32(c, 0)));
        off += 4 * k as u64;
    }
    Ok(out)
}

/// Reads the rows array of an open graph and checks it: `rows[0] = 0`, never decreasing,
/// `rows[V] = E` (what a careful program loads once and keeps in memory).
pub fn load_rows(f: &File, h: &GraphHeader, path: &Path) -> Result<Vec<u64>> {
    let n = usize::try_from(h.vertices + 1).context("too many vertices for this machine")?;
    let rows = read_u64s(f, h.rows_offset, n)
        .with_context(|| format!("reading the rows array of {}", path.display()))?;
    if rows[0] != 0 {
        return Err(corrupt(path, &format!("rows[0] is {}, not 0", rows[0])));
    }
    if let Some(v) = rows.windows(2).position(|w| w[1] < w[0] || w[1] > h.edges) {
        return Err(corrupt(
            path,
            &format!(
                "the rows array is corrupt at vertex {v}: rows[{v}] = {}, rows[{}] = {}, with {} \
                 adjacency entries",
                rows[v],
                v + 1,
                rows[v + 1],
                h.edges
            ),
        ));
    }
    if rows[n - 1] != h.edges {
        return Err(corrupt(
            path,
            &format!(
                "rows[{}] = {} but the header says {} adjacency entries",
                n - 1,
                rows[n - 1],
                h.edges
            ),
        ));
    }
    Ok(rows)
}

/// A whole graph in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    /// The header.
    pub header: GraphHeader,
    /// `V + 1` row starts.
    pub rows: Vec<u64>,
    /// `E` neighbour ids.
    pub adjacency: Vec<u32>,
}

impl Csr {
    /// Vertices.
    #[must_use]
    pub fn vertices(&self) -> u32 {
        (self.rows.len() - 1) as u32
    }

    /// `v`'s neighbours.
    #[must_use]
    pub fn neighbours(&self, v: u32) -> &[u32] {
        &self.adjacency[self.rows[v as usize] as usize..self.rows[v as usize + 1] as usize]
    }

    /// Adjacency entries of the vertices `levels` marks reached: the entries a search reads.
    #[must_use]
    pub fn edges_of(&self, levels: &[u32]) -> u64 {
        levels
            .iter()
            .enumerate()
            .filter(|(_, &l)| l != UNREACHED)
            .map(|(v, _)| self.rows[v + 1] - self.rows[v])
            .sum()
    }
}

/// Reads the graph at `path` into memory, checking every row and every neighbour id.
pub fn load(path: &Path) -> Result<Csr> {
    let (f, header) = open(path)?;
    let rows = load_rows(&f, &header, path)?;
    let n = usize::try_from(header.edges).context("too many edges for this machine")?;
    let adjacency = read_u32s(&f, header.adjacency_offset, n)
        .with_context(|| format!("reading the adjacency array of {}", path.display()))?;
    if let Some(e) = adjacency
        .iter()
        .position(|&u| u64::from(u) >= header.vertices)
    {
        let v = rows.partition_point(|&r| r <= e as u64) - 1;
        return Err(corrupt(
            path,
            &format!(
                "vertex {v} has neighbour {}, but the graph has {} vertices",
                adjacency[e], header.vertices
            ),
        ));
    }
    Ok(Csr {
        header,
        rows,
        adjacency,
    })
}

/// Fails, saying what to give, unless `source` is a vertex of a graph of `vertices`.
pub fn check_source(source: u64, vertices: u64) -> Result<u32> {
    if source >= vertices {
        anyhow::bail!(
            "source vertex {source} is not in the graph: it has {vertices} vertices, ids 0..={}",
            vertices - 1
        );
    }
    Ok(source as u32)
}

/// Breadth-first search on the CPU, one thread: each vertex's level (the source 0, its
/// neighbours 1, ...), [`UNREACHED`] for vertices in other components.
pub fn cpu_bfs(g: &Csr, source: u32) -> Result<Vec<u32>> {
    check_source(u64::from(source), u64::from(g.vertices()))?;
    let mut levels = vec![UNREACHED; g.vertices() as usize];
    levels[source as usize] = 0;
    let mut frontier = vec![source];
    let mut next = Vec::new();
    let mut level = 0;
    while !frontier.is_empty() {
        level += 1;
        for &v in &frontier {
            for &u in g.neighbours(v) {
                if levels[u as usize] == UNREACHED {
                    levels[u as usize] = level;
                    next.push(u);
                }
            }
        }
        std::mem::swap(&mut frontier, &mut next);
        next.clear();
    }
    Ok(levels)
}

/// Breadth-first search on the CPU with `threads` threads: level by level, each thread expanding
/// a share of the frontier and claiming vertices with a compare-and-swap. The same levels as
/// [`cpu_bfs`] (a vertex's level does not depend on which thread claims it).
pub fn cpu_bfs_parallel(g: &Csr, source: u32, threads: usize) -> Result<Vec<u32>> {
    check_source(u64::from(source), u64::from(g.vertices()))?;
    let threads = threads.max(1);
    let levels: Vec<AtomicU32> = (0..g.vertices())
        .map(|_| AtomicU32::new(UNREACHED))
        .collect();
    levels[source as usize].store(0, Ordering::Relaxed);
    let mut frontier = vec![source];
    let mut level = 0;
    while !frontier.is_empty() {
        level += 1;
        // Small frontiers are not worth the threads.
        let parts = if frontier.len() < 4096 { 1 } else { threads };
        let per = frontier.len().div_ceil(parts);
        let (levels, frontier_ref) = (&levels, &frontier);
        let next: Vec<Vec<u32>> = std::thread::scope(|s| {
            let handles: Vec<_> = frontier_ref
                .chunks(per)
                .map(|part| {
                    s.spawn(move || {
                        let mut found = Vec::new();
                        for &v in part {
                            for &u in g.neighbours(v) {
                                let l = &levels[u as usize];
                                if l.load(Ordering::Relaxed) == UNREACHED
                                    && l.compare_exchange(
                                        UNREACHED,
                                        level,
                                        Ordering::Relaxed,
                                        Ordering::Relaxed,
                                    )
                                    .is_ok()
                                {
                                    found.push(u);
                                }
                            }
                        }
                        found
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        frontier = next.concat();
    }
    Ok(levels.into_iter().map(AtomicU32::into_inner).collect())
}

/// Where two searches' levels first differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// The vertex.
    pub vertex: u32,
    /// Its level in the result checked.
    pub got: u32,
    /// Its level in the reference.
    pub want: u32,
}

/// The first vertex whose level in `got` differs from `want` (a different length counts at the
/// shorter one's end), or `None` when they agree everywhere.
#[must_use]
pub fn verify(got: &[u32], want: &[u32]) -> Option<Mismatch> {
    if let Some(v) = got.iter().zip(want).position(|(a, b)| a != b) {
        return Some(Mismatch {
            vertex: v as u32,
            got: got[v],
            want: want[v],
        });
    }
    (got.len() != want.len()).then(|| {
        let v = got.len().min(want.len());
        Mismatch {
            vertex: v as u32,
            got: got.get(v).copied().unwrap_or(UNREACHED),
            want: want.get(v).copied().unwrap_or(UNREACHED),
        }
    })
}

/// Levels reached (the deepest level + 1) and vertices reached, from a search's levels.
#[must_use]
pub fn summarize(levels: &[u32]) -> (u32, u64) {
    let reached: Vec<u32> = levels.iter().copied().filter(|&l| l != UNREACHED).collect();
    (
        reached.iter().max().map_or(0, |m| m + 1),
        reached.len() as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(scale: u32, seed: u64) -> (tempfile::TempDir, std::path::PathBuf, GraphHeader) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.graph");
        let h = generate(&path, &GenParams::new(scale, seed), |_, _| {}).unwrap();
        (dir, path, h)
    }

    #[test]
    fn the_renaming_is_a_bijection() {
        for scale in [1, 2, 5, 10, 13] {
            let n = 1usize << scale;
            let mut seen = vec![false; n];
            for x in 0..n as u32 {
                let y = permute(x, scale, 42) as usize;
                assert!(y < n);
                assert!(!seen[y], "scale {scale}: {x} collides");
                seen[y] = true;
            }
        }
        // Not the identity.
        assert!((0..1024).filter(|&x| permute(x, 10, 42) != x).count() > 1000);
    }

    #[test]
    fn generation_is_deterministic_for_a_seed() {
        let (_d1, p1, h1) = make(10, 3);
        let (_d2, p2, h2) = make(10, 3);
        let (_d3, p3, h3) = make(10, 4);
        assert_eq!(h1, h2);
        assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
        assert_ne!(std::fs::read(&p1).unwrap(), std::fs::read(&p3).unwrap());
        assert_ne!(h1.edges, 0);
        assert_eq!(h3.drawn, 16 << 10);
    }

    #[test]
    fn the_graph_is_symmetric_sorted_without_loops_or_duplicates() {
        let (_d, path, h) = make(11, 9);
        let g = load(&path).unwrap();
        assert_eq!(g.header, h);
        assert_eq!(h.vertices, 2048);
        assert_eq!(h.edge_factor, DEFAULT_EDGE_FACTOR);
        assert_eq!(h.file_bytes(), std::fs::metadata(&path).unwrap().len());
        assert_eq!(h.rows_offset, 4096);
        assert_eq!(h.adjacency_offset % 4096, 0);
        // Both directions of at most every drawn edge.
        assert!(h.edges % 2 == 0 && h.edges <= 2 * h.drawn, "{h:?}");
        // R-MAT draws many duplicates and a few self loops, but most edges are distinct.
        assert!(h.edges > h.drawn, "{h:?}");
        let mut pairs = std::collections::HashSet::new();
        for v in 0..g.vertices() {
            let n = g.neighbours(v);
            assert!(n.windows(2).all(|w| w[0] < w[1]), "vertex {v}: {n:?}");
            assert!(!n.contains(&v), "self loop at {v}");
            for &u in n {
                pairs.insert((v, u));
            }
        }
        for &(v, u) in &pairs {
            assert!(pairs.contains(&(u, v)), "{v}-{u} has no reverse");
        }
        assert_eq!(pairs.len() as u64, h.edges);
        // The edges are exactly the drawn ones, renamed, without loops.
        let p = GenParams::new(11, 9);
        let mut drawn = std::collections::HashSet::new();
        for i in 0..h.drawn {
            let (a, b) = edge(&p, i);
            if a != b {
                drawn.insert((a, b));
                drawn.insert((b, a));
            }
        }
        assert_eq!(drawn, pairs);
        // Skewed degrees: the largest far above the mean.
        let max = (0..g.vertices())
            .map(|v| g.neighbours(v).len())
            .max()
            .unwrap();
        assert!(max as u64 > 8 * h.edges / h.vertices, "max degree {max}");
    }

    #[test]
    fn the_parallel_search_agrees_with_the_serial_one() {
        let (_d, path, _) = make(12, 1);
        let g = load(&path).unwrap();
        for source in [0, 17, 4095] {
            let one = cpu_bfs(&g, source).unwrap();
            let many = cpu_bfs_parallel(&g, source, 3).unwrap();
            assert_eq!(verify(&many, &one), None);
            let (depth, reached) = summarize(&one);
            assert!(depth >= 2 || reached == 1);
        }
        // The level of each neighbour of a reached vertex is at most one more.
        let l = cpu_bfs(&g, 0).unwrap();
        for v in 0..g.vertices() {
            for &u in g.neighbours(v) {
                if l[v as usize] != UNREACHED {
                    assert!(l[u as usize] <= l[v as usize] + 1);
                }
            }
        }
        let e = cpu_bfs(&g, 4096).unwrap_err().to_string();
        assert!(e.contains("4096 vertices"), "{e}");
    }

    #[test]
    fn verify_names_the_first_difference() {
        assert_eq!(verify(&[0, 1, 2], &[0, 1, 2]), None);
        assert_eq!(
            verify(&[0, 1, 2, 5], &[0, 1, 3, 4]),
            Some(Mismatch {
                vertex: 2,
                got: 2,
                want: 3
            })
        );
        assert_eq!(verify(&[0], &[0, 1]).map(|m| m.vertex), Some(1));
        assert_eq!(summarize(&[0, UNREACHED, 2, 1]), (3, 3));
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let (_d, path, h) = make(6, 2);
        let good = std::fs::read(&path).unwrap();
        let write = |bytes: &[u8]| std::fs::write(&path, bytes).unwrap();
        let err = |what: &str| {
            let e = load(&path).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
            assert!(e.contains("gdio gen graph"), "{e}");
        };
        write(b"short");
        err("shorter than its 4096-byte header");
        let mut b = good.clone();
        b[0] ^= 1;
        write(&b);
        err("no GDGR magic");
        let mut b = good.clone();
        b[4] = 9;
        write(&b);
        err("version 9");
        write(&good[..good.len() - 4]);
        err("but it has");
        // rows[3] past the adjacency array.
        let mut b = good.clone();
        let at = h.row_at(3) as usize;
        b[at..at + 8].copy_from_slice(&(h.edges + 7).to_le_bytes());
        write(&b);
        err("corrupt at vertex 2");
        // A neighbour id past the vertices.
        let mut b = good.clone();
        let at = h.adjacency_at(5) as usize;
        b[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        write(&b);
        err("neighbour 1000");
        write(&good);
        load(&path).unwrap();
    }

    #[test]
    fn bad_parameters_are_refused() {
        for (scale, ef) in [(0, 16), (32, 16), (10, 0)] {
            let p = GenParams {
                scale,
                edge_factor: ef,
                seed: 1,
            };
            assert!(p.check().is_err(), "{p:?}");
        }
        let (mem, file) = generate_needs(&GenParams::new(20, 1)).unwrap();
        assert!(mem > (4 * 2 * 16) << 20 && file > (4 * 2 * 16) << 20);
    }
}
