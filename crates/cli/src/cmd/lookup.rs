//! `gdio lookup INDEX KEYS`: B-tree lookups where each GPU lane reads the nodes it chooses.

use anyhow::Result;
use serde::Serialize;

use crate::cli::LookupArgs;
use crate::error::{CliError, OK};
use crate::gpu::{self, DeviceSummary};
use crate::progress::Reported;
use crate::report;
use crate::units;
use gdio::protocol::cache::CacheLayout;
use gdio::PumpCache;
use gdio_workloads::btree::{self, Found};
use gdio_workloads::cached_lookup;
use gdio_workloads::lookup::{self, Lookups};
use gdio_workloads::{pumps, serve, Gpu};

/// One key's line.
#[derive(Debug, Clone, Serialize)]
pub struct KeyLine {
    /// The key.
    pub key: u64,
    /// Found?
    pub found: bool,
    /// Its value, if found.
    pub value: Option<u64>,
    /// Nodes the lane read.
    pub nodes: u32,
}

/// What a lookup run reports.
#[derive(Debug, Clone, Serialize)]
pub struct LookupSummary {
    /// Keys looked up.
    pub keys: u64,
    /// Found.
    pub found: u64,
    /// Absent.
    pub absent: u64,
    /// Tree height.
    pub height: u32,
    /// Lanes.
    pub lanes: u32,
    /// Node READs issued by the shader.
    pub reads: u64,
    /// Seconds on the GPU.
    pub seconds: f64,
    /// Lookups per second.
    pub lookups_per_sec: f64,
    /// Dispatches.
    pub dispatches: u32,
    /// With `--verify`: keys whose GPU result differs from the CPU's.
    pub mismatches: Option<u64>,
    /// With `--batch`: keys per batch and the median batch time, seconds.
    pub batch: Option<(u32, f64)>,
    /// With `--batch`: invocations per lane of the resident kernel (more than one: a subgroup
    /// that searches each node together; `GDIO_SEARCH`).
    pub invocations_per_lane: Option<u32>,
    /// With `--cache`: the cache's bytes, page size and counters over the run.
    pub cache: Option<CacheSummary>,
}

/// What the page cache did during a `--cache` run.
#[derive(Debug, Clone, Serialize)]
pub struct CacheSummary {
    /// Bytes of pages.
    pub bytes: u64,
    /// Bytes per page.
    pub page_bytes: u64,
    /// Asks answered from a cached page.
    pub hits: u64,
    /// Asks that took a slot and READ their page.
    pub misses: u64,
    /// Asks that waited for another lane's READ of their page.
    pub coalesced: u64,
    /// Cached pages replaced.
    pub evictions: u64,
    /// READs issued.
    pub reads: u64,
}

impl CacheSummary {
    /// From a cache's layout and counters.
    #[must_use]
    pub fn of(
        layout: &gdio::protocol::cache::CacheLayout,
        k: &gdio::vulkan::CacheCounters,
    ) -> CacheSummary {
        CacheSummary {
            bytes: layout.pages_bytes(),
            page_bytes: layout.page_bytes(),
            hits: k.hits,
            misses: k.misses,
            coalesced: k.coalesced,
            evictions: k.evictions,
            reads: k.reads,
        }
    }
}

#[derive(Serialize)]
struct LookupReport {
    device: DeviceSummary,
    summary: LookupSummary,
    results: Vec<KeyLine>,
}

/// Compares GPU results with CPU lookups; returns the number of differences (and prints the
/// first few on stderr).
pub fn verify(
    f: &std::fs::File,
    sb: &btree::Superblock,
    keys: &[u64],
    got: &Lookups,
) -> Result<u64> {
    let mut bad = 0u64;
    for (k, r) in keys.iter().zip(&got.results) {
        let (want, depth) = btree::lookup(f, sb, *k)?;
        if want != r.found || depth != r.nodes {
            if bad < 5 {
                eprintln!(
                    "mismatch for key {k}: GPU {:?} after {} nodes, CPU {want:?} after {depth}",
                    r.found, r.nodes
                );
            }
            bad += 1;
        }
    }
    Ok(bad)
}

/// How lookups run: lanes, pump threads, and (for the resident kernel) keys per batch.
#[derive(Debug, Clone, Copy)]
pub struct LookupShape {
    /// Shader lanes.
    pub lanes: u32,
    /// Pump threads (one queue each).
    pub pumps: u32,
    /// `Some(n)`: through one resident kernel, `n` keys per batch.
    pub batch: Option<u32>,
    /// `Some((bytes, page))`: through a GPU page cache of `bytes` in pages of `page` bytes.
    pub cache: Option<(u64, u64)>,
}

impl LookupShape {
    /// The defaults for `gpu` (one dispatch, no batches).
    #[must_use]
    pub fn defaults(gpu: &Gpu) -> LookupShape {
        let lanes = lookup::default_lanes(gpu);
        LookupShape {
            lanes,
            pumps: pumps::default_pumps(gpu, lanes),
            batch: None,
            cache: None,
        }
    }
}

/// Runs lookups of `keys` and summarises them.
pub fn run_lookups(
    gpu: &Gpu,
    index: &std::path::Path,
    keys: &[u64],
    shape: LookupShape,
    check: bool,
    progress: bool,
) -> Result<(LookupSummary, Vec<KeyLine>)> {
    let LookupShape {
        lanes,
        pumps,
        batch,
        cache,
    } = shape;
    let (f, sb) = btree::open(index)?;
    let mut cache_summary = None;
    let (got, batch) = match batch {
        None if cache.is_some() => {
            let (bytes, page) = cache.expect("checked");
            let layout = CacheLayout::new(bytes, page, 8).map_err(|e| {
                CliError::Usage(format!("--cache {bytes} --cache-page {page}: {e}"))
            })?;
            let c = PumpCache::new(&gpu.ctx, layout, &gpu.plan)?;
            let mut bar = Reported::new("lookup", false, progress);
            let got = cached_lookup::lookup(gpu, &f, &sb, keys, lanes, pumps, &c, |k, n| {
                bar.set(k, n);
            });
            bar.finish();
            let got = got?;
            cache_summary = Some(CacheSummary::of(&layout, &got.counters));
            (got.lookups, None)
        }
        None => {
            let mut bar = Reported::new("lookup", false, progress);
            let got = lookup::lookup(gpu, f.try_clone()?, &sb, keys, lanes, pumps, |k, n| {
                bar.set(k, n);
            });
            bar.finish();
            (got?, None)
        }
        Some(n) => {
            let (got, median) =
                serve::lookup_in_batches(gpu, f.try_clone()?, &sb, keys, lanes, pumps, n)?;
            (got, Some((n, median.as_secs_f64())))
        }
    };
    let mismatches = if check {
        Some(verify(&f, &sb, keys, &got)?)
    } else {
        None
    };
    let lines: Vec<KeyLine> = keys
        .iter()
        .zip(&got.results)
        .map(|(k, r)| KeyLine {
            key: *k,
            found: matches!(r.found, Found::Value(_)),
            value: match r.found {
                Found::Value(v) => Some(v),
                Found::Absent => None,
            },
            nodes: r.nodes,
        })
        .collect();
    let found = lines.iter().filter(|l| l.found).count() as u64;
    let n = keys.len() as u64;
    let secs = got.elapsed.as_secs_f64();
    Ok((
        LookupSummary {
            keys: n,
            found,
            absent: n - found,
            height: sb.height,
            lanes: match batch {
                Some((b, _)) => serve::lanes_for(gpu, lanes.min(b)),
                None => lanes.min(n.max(1) as u32),
            },
            reads: got.reads,
            seconds: secs,
            lookups_per_sec: if secs > 0.0 { n as f64 / secs } else { 0.0 },
            dispatches: got.dispatches,
            mismatches,
            batch,
            invocations_per_lane: batch.map(|(b, _)| {
                serve::walker_shape(gpu, serve::lanes_for(gpu, lanes.min(b))).per_lane
            }),
            cache: cache_summary,
        },
        lines,
    ))
}

/// Prints a summary as text.
pub fn print_summary(s: &LookupSummary) {
    println!(
        "{} keys: {} found, {} absent; height {}, {} node reads by {} lanes in {} ({}, {} dispatches)",
        s.keys,
        s.found,
        s.absent,
        s.height,
        s.reads,
        s.lanes,
        units::nanos(s.seconds * 1e9),
        units::per_sec(s.lookups_per_sec),
        s.dispatches
    );
    if let Some((n, median)) = s.batch {
        println!(
            "resident kernel: batches of {n} keys, median {} per batch{}",
            units::nanos(median * 1e9),
            match s.invocations_per_lane {
                Some(i) if i > 1 =>
                    format!("; each lane a subgroup of {i} searching every node together"),
                _ => String::new(),
            }
        );
    }
    if let Some(c) = &s.cache {
        println!(
            "page cache {} in {} pages: {} hits, {} misses ({} READs), {} coalesced waits, {} evictions",
            units::bytes(c.bytes),
            units::bytes(c.page_bytes),
            c.hits,
            c.misses,
            c.reads,
            c.coalesced,
            c.evictions
        );
    }
    if let Some(m) = s.mismatches {
        if m == 0 {
            println!("verified: every result equals the CPU's lookup");
        } else {
            println!("VERIFY FAILED: {m} results differ from the CPU's lookup");
        }
    }
}

/// Runs `gdio lookup`.
pub fn run(args: &LookupArgs, device: Option<&str>, json: bool) -> Result<i32> {
    btree::open(&args.index)?;
    let keys = btree::read_keys(&args.keys)?;
    let gpu = gpu::open(device)?;
    let mut shape = LookupShape::defaults(&gpu);
    (shape.lanes, shape.pumps) =
        pumps::lanes_and_pumps(&gpu, (shape.lanes, shape.pumps), args.lanes, args.pumps);
    shape.batch = args.batch;
    shape.cache = args.cache.map(|c| (c, args.cache_page));
    let (s, lines) = run_lookups(&gpu, &args.index, &keys, shape, args.verify, !json)?;
    if json {
        report::json(&LookupReport {
            device: gpu::summary(&gpu),
            summary: s.clone(),
            results: lines,
        })?;
    } else {
        eprintln!("{}", gpu::line(&gpu));
        if args.print || lines.len() <= 20 {
            for l in &lines {
                match l.value {
                    Some(v) => println!("{}\tfound\t{v}", l.key),
                    None => println!("{}\tabsent", l.key),
                }
            }
        }
        print_summary(&s);
    }
    if let Some(m) = s.mismatches.filter(|&m| m > 0) {
        return Err(CliError::Mismatch(format!("{m} lookups differ from the CPU's")).into());
    }
    Ok(OK)
}
