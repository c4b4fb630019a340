//! Breadth-first search over an on-disk R-MAT graph on the default device with the real pump:
//! through a page cache far smaller than the graph (pages evicted and read again) and
//! CPU-orchestrated, every vertex's level equal to the CPU search's; a source outside the graph
//! and damaged files (bad magic, rows past the adjacency array, rows out of order, neighbour
//! ids past the vertices) end with an error that says so, never a hang or a panic.
mod common;

use std::path::{Path, PathBuf};

use gdio::protocol::cache::CacheLayout;
use gdio::PumpCache;
use gdio_workloads::bfs::{self, BfsRun, BfsShape, OrchestratedShape};
use gdio_workloads::graph::{self, GenParams, GraphHeader, UNREACHED};
use gdio_workloads::{Gpu, Settings};

const PAGE: u64 = 4096;

struct World {
    _lock: gdio_test_support::vulkan::Gpu,
    gpu: Gpu,
    _dir: tempfile::TempDir,
    path: PathBuf,
    header: GraphHeader,
}

/// The serialised device and an R-MAT graph of 2^scale vertices.
fn world(scale: u32, seed: u64) -> World {
    let lock = common::gpu();
    let gpu = Gpu::with_context(lock.ctx.clone(), &Settings::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rmat.graph");
    let header = graph::generate(&path, &GenParams::new(scale, seed), |_, _| {}).unwrap();
    World {
        _lock: lock,
        gpu,
        _dir: dir,
        path,
        header,
    }
}

fn cache(w: &World, slots: u64, ways: u32) -> PumpCache {
    let layout = CacheLayout::new(slots * PAGE, PAGE, ways).unwrap();
    PumpCache::new(&w.gpu.ctx, layout, &w.gpu.plan).unwrap()
}

fn cached(w: &World, c: &PumpCache, path: &Path, source: u64) -> anyhow::Result<BfsRun> {
    bfs::bfs_cached(&w.gpu, path, source, c, BfsShape::defaults(&w.gpu))
}

/// The run agrees with the CPU search on every vertex, and its counts with the levels.
fn assert_matches_cpu(g: &graph::Csr, run: &BfsRun, source: u32) {
    let want = graph::cpu_bfs(g, source).unwrap();
    assert_eq!(run.check(&want), None, "source {source}");
    let (depth, reached) = graph::summarize(&want);
    assert_eq!(run.depth(), depth, "source {source}");
    assert_eq!(run.reached, reached, "source {source}");
    assert_eq!(run.frontiers, bfs::frontiers_of(&want), "source {source}");
    assert_eq!(run.edges, g.edges_of(&want), "source {source}");
}

#[test]
fn bfs_through_a_cache_four_times_smaller_than_the_graph_matches_the_cpu() {
    let w = world(11, 5);
    let g = graph::load(&w.path).unwrap();
    let pages = w.header.file_bytes().div_ceil(PAGE);
    // 12 slots (3 sets of 4 ways) for a graph of ~60 pages.
    let c = cache(&w, 12, 4);
    assert!(pages >= 4 * 12, "{pages} pages");
    let busiest = (0..g.vertices())
        .max_by_key(|&v| g.neighbours(v).len())
        .unwrap();
    // A vertex of one neighbour: the search starts at the rim of the giant component.
    let rim = (0..g.vertices())
        .find(|&v| g.neighbours(v).len() == 1)
        .unwrap();
    for source in [rim, busiest] {
        let before = c.counters();
        let run = cached(&w, &c, &w.path, u64::from(source)).unwrap();
        assert_matches_cpu(&g, &run, source);
        assert!(run.reached > 1000, "{:?}", run.frontiers);
        let k = run.counters.unwrap();
        assert_eq!(k, c.counters().since(&before));
        assert!(k.evictions > 0, "{k:?}");
        assert_eq!(k.reads, k.misses, "{k:?}");
        assert_eq!(
            run.reads, k.reads,
            "the pumps' READs are the cache's: {k:?}"
        );
        assert!(k.reads >= pages / 2, "{k:?}");
        assert_eq!(k.failed, 0);
        // One rows ask (two where rows[v] and rows[v+1] straddle a page) per reached vertex, one
        // ask per page of each one's neighbours.
        assert!(k.requests() >= 2 * run.reached, "{k:?}");
        assert!(
            run.dispatches >= run.depth(),
            "{} dispatches",
            run.dispatches
        );
    }
    // A vertex without neighbours reaches itself alone.
    if let Some(lone) = (0..g.vertices()).find(|&v| g.neighbours(v).is_empty()) {
        let run = cached(&w, &c, &w.path, u64::from(lone)).unwrap();
        assert_eq!((run.reached, run.depth(), run.edges), (1, 1, 0));
        assert_eq!(run.levels[lone as usize], 0);
        assert_eq!(run.levels.iter().filter(|&&l| l != UNREACHED).count(), 1);
    }
}

#[test]
fn bfs_with_large_pages_and_one_way_matches_the_cpu() {
    let w = world(10, 8);
    let g = graph::load(&w.path).unwrap();
    // Two 16 KiB slots, direct-mapped: nearly every ask evicts.
    let layout = CacheLayout::new(2 * 16384, 16384, 1).unwrap();
    let c = PumpCache::new(&w.gpu.ctx, layout, &w.gpu.plan).unwrap();
    let run = cached(&w, &c, &w.path, 3).unwrap();
    assert_matches_cpu(&g, &run, 3);
    assert!(run.counters.unwrap().evictions > 0);
}

#[test]
fn the_orchestrated_bfs_matches_the_cpu() {
    let w = world(11, 5);
    let g = graph::load(&w.path).unwrap();
    let shape = OrchestratedShape::defaults(&w.gpu);
    let busiest = (0..g.vertices())
        .max_by_key(|&v| g.neighbours(v).len())
        .unwrap();
    let run = bfs::bfs_orchestrated(&w.gpu, &w.path, u64::from(busiest), shape).unwrap();
    assert_matches_cpu(&g, &run, busiest);
    let with_edges = run.reached
        - run
            .levels
            .iter()
            .enumerate()
            .filter(|&(v, &l)| l != UNREACHED && g.neighbours(v as u32).is_empty())
            .count() as u64;
    assert_eq!(
        run.reads, with_edges,
        "one pread per reached vertex with neighbours"
    );
    assert_eq!(run.bytes_read, 4 * run.edges);
    assert_eq!(run.dispatches, run.depth(), "one dispatch per level");
    // A staging buffer of 1 KiB and pieces of 50 entries: levels in many batches, the longest
    // lists read in parts, two reader threads.
    let small = OrchestratedShape {
        readers: 2,
        staging_bytes: 1024,
        piece_entries: 50,
    };
    let rim = (0..g.vertices())
        .find(|&v| g.neighbours(v).len() == 1)
        .unwrap();
    let run = bfs::bfs_orchestrated(&w.gpu, &w.path, u64::from(rim), small).unwrap();
    assert_matches_cpu(&g, &run, rim);
    assert!(
        run.dispatches > 4 * run.depth(),
        "{} dispatches",
        run.dispatches
    );
    // And the CPU alone, timed.
    let cpu = bfs::bfs_cpu(&g, u64::from(rim), 2).unwrap();
    assert_matches_cpu(&g, &cpu, rim);
}

#[test]
fn a_source_outside_the_graph_is_refused() {
    let w = world(6, 1);
    let c = cache(&w, 4, 4);
    for source in [64, u64::MAX] {
        let e = format!("{:#}", cached(&w, &c, &w.path, source).unwrap_err());
        assert!(
            e.contains(&format!("source vertex {source} is not in the graph")),
            "{e}"
        );
        assert!(e.contains("64 vertices, ids 0..=63"), "{e}");
        let shape = OrchestratedShape::defaults(&w.gpu);
        let e = format!(
            "{:#}",
            bfs::bfs_orchestrated(&w.gpu, &w.path, source, shape).unwrap_err()
        );
        assert!(e.contains("is not in the graph"), "{e}");
    }
    let g = graph::load(&w.path).unwrap();
    assert!(bfs::bfs_cpu(&g, 64, 1).is_err());
}

/// Writes `bytes` over the graph at `at`.
fn patch(path: &Path, at: u64, bytes: &[u8]) {
    let mut b = std::fs::read(path).unwrap();
    b[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    std::fs::write(path, b).unwrap();
}

#[test]
fn damaged_graphs_end_with_the_reason_never_a_hang() {
    let w = world(9, 3);
    let h = w.header;
    let g = graph::load(&w.path).unwrap();
    let good = std::fs::read(&w.path).unwrap();
    let c = cache(&w, 8, 4);
    let source = (0..g.vertices())
        .find(|&v| g.neighbours(v).len() >= 2)
        .unwrap();
    let first = g.neighbours(source)[0];
    let run_err = |what: &str| {
        let e = format!(
            "{:#}",
            cached(&w, &c, &w.path, u64::from(source)).unwrap_err()
        );
        assert!(e.contains(what), "{e}");
        e
    };
    // The cache keys pages by the pump's file index, not by content: it is cleared whenever
    // the file changes under it.
    let restore = || {
        std::fs::write(&w.path, &good).unwrap();
        c.clear().unwrap();
    };

    // Not a graph at all.
    patch(&w.path, 0, b"NOPE");
    run_err("is not a gdio graph (no GDGR magic)");
    restore();

    // The source's row ends past the adjacency array.
    patch(
        &w.path,
        h.row_at(u64::from(source) + 1),
        &(h.edges + 9).to_le_bytes(),
    );
    let e = run_err(&format!("the rows array is corrupt at vertex {source}"));
    assert!(e.contains(&format!("{} adjacency entries", h.edges)), "{e}");
    assert!(e.contains("gdio gen graph"), "{e}");
    restore();

    // A neighbour's row runs backwards.
    let b = g.rows[first as usize + 1];
    patch(&w.path, h.row_at(u64::from(first)), &(b + 1).to_le_bytes());
    run_err(&format!("the rows array is corrupt at vertex {first}"));
    restore();

    // A neighbour id past the vertices.
    patch(
        &w.path,
        h.adjacency_at(g.rows[source as usize] + 1),
        &4_000_000u32.to_le_bytes(),
    );
    run_err(&format!(
        "vertex {source} has neighbour 4000000, but the graph has 512 vertices"
    ));
    // The orchestrated search says the same, from its own shader.
    let shape = OrchestratedShape::defaults(&w.gpu);
    let e = format!(
        "{:#}",
        bfs::bfs_orchestrated(&w.gpu, &w.path, u64::from(source), shape).unwrap_err()
    );
    assert!(
        e.contains("neighbour id 4000000 is past the graph's 512 vertices"),
        "{e}"
    );
    restore();

    // Every row garbage: whatever the search meets first, it names; the loaded-rows baseline
    // refuses the file before it starts.
    let garbage: Vec<u8> = (0..8 * (h.vertices + 1))
        .map(|i| (i * 37 % 251) as u8)
        .collect();
    patch(&w.path, h.rows_offset, &garbage);
    run_err("the file is damaged");
    let e = format!(
        "{:#}",
        bfs::bfs_orchestrated(&w.gpu, &w.path, u64::from(source), shape).unwrap_err()
    );
    assert!(e.contains("gdio gen graph"), "{e}");
    restore();

    // The cache still serves a good search afterwards (no page left pinned or failed).
    let run = cached(&w, &c, &w.path, u64::from(source)).unwrap();
    assert_matches_cpu(&g, &run, source);
}
