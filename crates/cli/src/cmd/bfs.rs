//! `gdio bfs FILE --source V`: breadth-first search of an on-disk graph on the GPU, every read
//! through the GPU page cache.

use anyhow::Result;
use serde::Serialize;

use crate::cli::BfsArgs;
use crate::cmd::lookup::CacheSummary;
use crate::error::{CliError, OK};
use crate::gpu::{self, DeviceSummary};
use crate::report;
use crate::units;
use gdio::protocol::cache::CacheLayout;
use gdio::PumpCache;
use gdio_workloads::bfs::{self, BfsShape, Mismatch};
use gdio_workloads::{graph, pumps};

/// The cache when `--cache` is not given: 256 MiB, or the whole graph where it is smaller.
const DEFAULT_CACHE: u64 = 256 << 20;

/// What a search reports.
#[derive(Debug, Clone, Serialize)]
pub struct BfsSummary {
    /// The graph file.
    pub file: String,
    /// Its vertices.
    pub vertices: u64,
    /// Its adjacency entries (each undirected edge twice).
    pub graph_edges: u64,
    /// Its bytes.
    pub graph_bytes: u64,
    /// Where the search started.
    pub source: u64,
    /// Levels with a frontier (the deepest level + 1).
    pub levels: u32,
    /// Vertices of each level.
    pub frontiers: Vec<u64>,
    /// Vertices reached, the source included.
    pub reached: u64,
    /// Adjacency entries of the reached vertices (each undirected edge counts from both ends).
    pub edges_traversed: u64,
    /// Seconds from the first level's dispatch to the last one's end.
    pub seconds: f64,
    /// Traversed edges per second.
    pub edges_per_sec: f64,
    /// Dispatches (one per level on GPUs; more on lavapipe, whose loops are capped).
    pub dispatches: u32,
    /// Shader lanes.
    pub lanes: u32,
    /// Pump threads.
    pub pumps: u32,
    /// READs the pumps served.
    pub pump_reads: u64,
    /// The page cache and its counters over the search.
    pub cache: CacheSummary,
    /// With `--verify`: vertices whose level differs from the CPU search's.
    pub mismatches: Option<u64>,
    /// With `--verify`: the first of them.
    pub first_mismatch: Option<Mismatch>,
}

#[derive(Serialize)]
struct BfsReport {
    device: DeviceSummary,
    summary: BfsSummary,
}

/// Prints a summary as text.
pub fn print_summary(s: &BfsSummary) {
    println!(
        "BFS of {} ({} vertices, {} adjacency entries, {}) from vertex {}: {} levels, {} vertices \
         reached, {} edges traversed in {} ({} edges, {} dispatches)",
        s.file,
        s.vertices,
        s.graph_edges,
        units::bytes(s.graph_bytes),
        s.source,
        s.levels,
        s.reached,
        s.edges_traversed,
        units::nanos(s.seconds * 1e9),
        units::per_sec(s.edges_per_sec),
        s.dispatches
    );
    let sizes: Vec<String> = s.frontiers.iter().map(u64::to_string).collect();
    println!("vertices per level: {}", sizes.join(", "));
    let c = &s.cache;
    println!(
        "page cache {} in {} pages: {} hits, {} misses ({} READs by {} pumps), {} coalesced waits, \
         {} evictions; {} lanes",
        units::bytes(c.bytes),
        units::bytes(c.page_bytes),
        c.hits,
        c.misses,
        s.pump_reads,
        s.pumps,
        c.coalesced,
        c.evictions,
        s.lanes
    );
    match (s.mismatches, s.first_mismatch) {
        (Some(0), _) => println!("verified: every vertex's level equals the CPU search's"),
        (Some(n), Some(m)) => println!(
            "VERIFY FAILED: {n} vertices differ from the CPU search; the first, vertex {}, has \
             level {} on the GPU and {} on the CPU",
            m.vertex,
            level(m.got),
            level(m.want)
        ),
        _ => {}
    }
}

/// A level as text: a number, or "unreached".
fn level(l: u32) -> String {
    if l == graph::UNREACHED {
        "unreached".to_string()
    } else {
        l.to_string()
    }
}

/// Runs `gdio bfs`.
pub fn run(args: &BfsArgs, device: Option<&str>, json: bool) -> Result<i32> {
    // The file and the source are checked before the device is opened.
    let (_, h) = graph::open(&args.file)?;
    graph::check_source(args.source, h.vertices)
        .map_err(|e| CliError::Usage(format!("--source {}: {e}", args.source)))?;
    let bytes = args
        .cache
        .unwrap_or_else(|| DEFAULT_CACHE.min(h.file_bytes()));
    let layout = CacheLayout::new(bytes, args.page, 8)
        .map_err(|e| CliError::Usage(format!("--cache {bytes} --page {}: {e}", args.page)))?;
    let gpu = gpu::open(device)?;
    let mut shape = BfsShape::defaults(&gpu);
    (shape.lanes, shape.pumps) =
        pumps::lanes_and_pumps(&gpu, (shape.lanes, shape.pumps), args.lanes, args.pumps);
    let cache = PumpCache::new(&gpu.ctx, layout, &gpu.plan)?;
    let run = bfs::bfs_cached(&gpu, &args.file, args.source, &cache, shape)?;
    let (mismatches, first_mismatch) = if args.verify {
        let g = graph::load(&args.file)?;
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let want = graph::cpu_bfs_parallel(&g, args.source as u32, threads)?;
        let n = run.levels.iter().zip(&want).filter(|(a, b)| a != b).count() as u64;
        (Some(n), run.check(&want))
    } else {
        (None, None)
    };
    let k = run.counters.unwrap_or_default();
    let s = BfsSummary {
        file: args.file.display().to_string(),
        vertices: h.vertices,
        graph_edges: h.edges,
        graph_bytes: h.file_bytes(),
        source: args.source,
        levels: run.depth(),
        frontiers: run.frontiers.clone(),
        reached: run.reached,
        edges_traversed: run.edges,
        seconds: run.elapsed.as_secs_f64(),
        edges_per_sec: run.edges_per_sec(),
        dispatches: run.dispatches,
        lanes: shape.lanes,
        pumps: shape.pumps.clamp(1, shape.lanes),
        pump_reads: run.reads,
        cache: CacheSummary::of(&layout, &k),
        mismatches,
        first_mismatch,
    };
    if json {
        report::json(&BfsReport {
            device: gpu::summary(&gpu),
            summary: s.clone(),
        })?;
    } else {
        eprintln!("{}", gpu::line(&gpu));
        print_summary(&s);
    }
    if let Some(m) = s.first_mismatch {
        return Err(CliError::Mismatch(format!(
            "{} vertices' levels differ from the CPU search's (the first: vertex {}, GPU {}, CPU {})",
            s.mismatches.unwrap_or(0),
            m.vertex,
            level(m.got),
            level(m.want)
        ))
        .into());
    }
    Ok(OK)
}
