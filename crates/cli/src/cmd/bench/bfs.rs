//! Section 9, breadth-first search through the GPU page cache: an R-MAT graph on disk, four
//! times the cache, searched from seeded sources by bfs_cached.comp (every adjacency page asked
//! of the cache), against the CPU-orchestrated level-synchronous search (the frontier's lists
//! pread by a pool of threads, one dispatch per level) and against the CPU alone on the graph
//! in memory; each run's every vertex checked against the CPU's levels.

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::svg::Chart;
use super::{Config, Section};
use crate::report::Table;
use crate::units::{bytes, nanos, per_sec, ratio};
use gdio::protocol::cache::CacheLayout;
use gdio::PumpCache;
use gdio_workloads::bfs::{self, BfsRun, BfsShape, OrchestratedShape};
use gdio_workloads::graph::{self, Csr, GenParams};
use gdio_workloads::Gpu;

/// The graph is this many times the cache.
pub const GRAPH_OVER_CACHE: u64 = 4;
/// The cache's page and ways.
const PAGE: u64 = 4096;
const WAYS: u32 = 8;
/// The generator's seed (Graph500's parameters, `gdio gen graph --seed 1`).
const SEED: u64 = 1;

/// The graph's scale (2^scale vertices, edge factor 16) and the sources searched.
fn shape(cfg: &Config, gpu: &Gpu) -> (u32, usize) {
    match (cfg.quick, gpu.is_cpu()) {
        (true, _) => (14, 1),
        (false, true) => (16, 2),
        (false, false) => (22, 3),
    }
}

/// Writes the section's graph into `dir` (the generator checks memory and disk first).
pub fn graph_file(dir: &Path, cfg: &Config, gpu: &Gpu) -> Result<std::path::PathBuf> {
    let (scale, _) = shape(cfg, gpu);
    let path = dir.join(format!("rmat-{scale}.graph"));
    let p = GenParams::new(scale, SEED);
    crate::cmd::gen::check_graph(&path, &p)?;
    graph::generate(&path, &p, |_, _| {})?;
    Ok(path)
}

/// `count` sources with at least one neighbour, drawn from a seeded sequence (Graph500 draws
/// its 64 roots the same way).
fn sources(g: &Csr, count: usize) -> Vec<u32> {
    let mut state = 0x5EED_0B5Fu64;
    let mut out = Vec::new();
    let v = u64::from(g.vertices()).max(1);
    for _ in 0..v.saturating_mul(4) {
        if out.len() == count {
            break;
        }
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let s = ((state >> 33) % v) as u32;
        if !g.neighbours(s).is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Runs the section over the graph at `path` ([`graph_file`]).
pub fn run(gpu: &Gpu, cfg: &Config, path: &Path) -> Result<Section> {
    let g = graph::load(path)?;
    let (_, count) = shape(cfg, gpu);
    let graph_bytes = g.header.file_bytes();
    // A power of two at most a quarter of the graph (and at least 64 pages).
    let cache_bytes = ((graph_bytes / GRAPH_OVER_CACHE + 1).next_power_of_two() / 2).max(64 * PAGE);
    let layout = CacheLayout::new(cache_bytes, PAGE, WAYS)?;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let shape = BfsShape::defaults(gpu);
    let orch_shape = OrchestratedShape::defaults(gpu);
    let cache = PumpCache::new(&gpu.ctx, layout, &gpu.plan)?;
    let mut t = Table::new(
        &format!(
            "9. BFS through the page cache: R-MAT graph of scale {} ({} vertices, {} adjacency entries, {}), cache {} ({}× smaller, {WAYS} ways of 4 KiB pages)",
            g.header.vertices.trailing_zeros(),
            g.header.vertices,
            g.header.edges,
            bytes(graph_bytes),
            bytes(layout.pages_bytes()),
            graph_bytes / layout.pages_bytes(),
        ),
        &[
            "source",
            "levels, reached, edges",
            "gdio + cache",
            "cache: hit rate, READs",
            "orchestrated",
            &format!("CPU alone ({threads} threads)"),
            "vs orchestrated",
            "vs CPU",
        ],
    );
    let mut chart = Chart::new(
        "BFS: traversed edges per second (higher is better)",
        "edges per second",
        per_sec,
    );
    let time = |r: &BfsRun| nanos(r.elapsed.as_secs_f64() * 1e9);
    let mut rows = Vec::new();
    for source in sources(&g, count) {
        let want = graph::cpu_bfs(&g, source)?;
        let check = |what: &str, r: &BfsRun| -> Result<()> {
            if let Some(m) = r.check(&want) {
                anyhow::bail!(
                    "BFS from {source}, {what}: vertex {} has level {} where the CPU's search has {}",
                    m.vertex,
                    m.got,
                    m.want
                );
            }
            Ok(())
        };
        // Each search starts from an empty cache: the pages it reuses are its own.
        cache.clear()?;
        let c = bfs::bfs_cached(gpu, path, u64::from(source), &cache, shape)?;
        check("gdio + cache", &c)?;
        let o = bfs::bfs_orchestrated(gpu, path, u64::from(source), orch_shape)?;
        check("orchestrated", &o)?;
        let p = bfs::bfs_cpu(&g, u64::from(source), threads)?;
        check("CPU", &p)?;
        let k = c.counters.unwrap_or_default();
        let secs = |r: &BfsRun| r.elapsed.as_secs_f64();
        let read_rate = k.reads as f64 / secs(&c).max(1e-9);
        t.row(vec![
            source.to_string(),
            format!("{}, {}, {}", c.depth(), c.reached, c.edges),
            format!("{} (edges at {})", time(&c), per_sec(c.edges_per_sec())),
            format!(
                "{:.1}%, {} READs at {}",
                100.0 * k.hit_rate(),
                k.reads,
                per_sec(read_rate)
            ),
            format!(
                "{} ({} preads, {} dispatches)",
                time(&o),
                o.reads,
                o.dispatches
            ),
            time(&p),
            ratio(secs(&o), secs(&c)),
            ratio(secs(&p), secs(&c)),
        ]);
        for (what, r) in [
            ("gdio + cache", &c),
            ("orchestrated", &o),
            ("CPU alone", &p),
        ] {
            chart.bar(
                format!("{what}, source {source}"),
                r.edges_per_sec(),
                per_sec(r.edges_per_sec()),
            );
        }
        rows.push(json!({
            "source": source,
            "levels": c.depth(),
            "reached": c.reached,
            "edges": c.edges,
            "cached_seconds": secs(&c),
            "cached_edges_per_second": c.edges_per_sec(),
            "cached_dispatches": c.dispatches,
            "cache_hits": k.hits,
            "cache_misses": k.misses,
            "cache_coalesced": k.coalesced,
            "cache_evictions": k.evictions,
            "cache_no_victim": k.no_victim,
            "cache_reads": k.reads,
            "cache_read_rate_per_second": read_rate,
            "orchestrated_seconds": secs(&o),
            "orchestrated_preads": o.reads,
            "orchestrated_bytes_read": o.bytes_read,
            "orchestrated_dispatches": o.dispatches,
            "orchestrated_phases": o.phases.iter().map(|(w, d)| json!({"what": w, "seconds": d.as_secs_f64()})).collect::<Vec<_>>(),
            "cpu_seconds": secs(&p),
            "cpu_threads": threads,
            "speedup_vs_orchestrated": secs(&o) / secs(&c),
            "speedup_vs_cpu": secs(&p) / secs(&c),
        }));
    }
    anyhow::ensure!(!rows.is_empty(), "the graph has no vertex with a neighbour");
    t.note(format!(
        "gdio + cache: bfs_cached.comp, {} lanes ({} to a workgroup), {} pump threads; a dispatch per level (more on lavapipe, whose loops are capped); each frontier vertex's list is cut at pages and every page asked of the cache, which starts empty for each search",
        shape.lanes, shape.lanes_per_group, shape.pumps
    ));
    t.note(format!(
        "orchestrated: the rows loaded once before the clock starts; per level {} threads pread each frontier vertex's list into GPU-visible memory, one dispatch of bfs_expand.comp claims the neighbours, the host reads the next frontier back",
        orch_shape.readers
    ));
    t.note("CPU alone: the graph in memory, a level-synchronous search on every core (for scale: it reads no file)");
    t.note("edges = adjacency entries of the reached vertices (each undirected edge from both ends); vs = the other's time ÷ gdio + cache's time (above 1: gdio is faster); every vertex's level of all three equals the CPU's serial search");
    t.note("READs/s: the pumps' page READs over the search's time, to compare with section 3's random 4 KiB reads (the ceiling of a miss-bound level)");
    Ok(Section {
        key: "bfs",
        table: t,
        chart: Some(chart),
        data: json!({
            "scale": g.header.vertices.trailing_zeros(),
            "vertices": g.header.vertices,
            "adjacency_entries": g.header.edges,
            "graph_bytes": graph_bytes,
            "cache_bytes": layout.pages_bytes(),
            "page_bytes": PAGE,
            "ways": WAYS,
            "lanes": shape.lanes,
            "pumps": shape.pumps,
            "orchestrated_readers": orch_shape.readers,
            "runs": rows,
        }),
    })
}
