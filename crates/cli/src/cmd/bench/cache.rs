//! Section 8, the GPU page cache: B-tree lookups through `gdio_cache.glsl` against gdio without
//! the cache and against the CPU-orchestrated loop over a host-managed cache of the same
//! capacity, for Zipf (s = 0.99) and uniform keys, with the tree 16× the cache; then what one
//! hit costs a lane and how many READs 1,024 lanes missing on one page issue.

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::svg::Chart;
use super::{Config, Section, Spread};
use crate::report::Table;
use crate::units::{bytes, nanos, per_sec, ratio};
use gdio::protocol::cache::CacheLayout;
use gdio::PumpCache;
use gdio_workloads::btree::{self, KeyDist};
use gdio_workloads::cache::{cache_pages, Asks};
use gdio_workloads::cached_lookup::{self, OrchestratedCache};
use gdio_workloads::{lookup, nop, pumps, Gpu};

/// The tree is this many times the cache.
pub const TREE_OVER_CACHE: u64 = 16;
/// The cache's page and ways.
const PAGE: u64 = 4096;
const WAYS: u32 = 8;

/// Runs the section over the index at `index` and the test file at `file` (`gdio gen file`,
/// seed 1: the hit-cost and coalescing rows).
pub fn run(gpu: &Gpu, cfg: &Config, index: &Path, file: &Path) -> Result<Section> {
    let (f, sb) = btree::open(index)?;
    let tree_bytes = sb.nodes * PAGE;
    let cache_bytes = (tree_bytes / TREE_OVER_CACHE).max(64 * PAGE);
    let layout = CacheLayout::new(cache_bytes, PAGE, WAYS)?;
    let mut t = Table::new(
        &format!(
            "8. GPU page cache: B-tree lookups through gdio_cache.glsl; tree {} ({} keys, height {}), cache {} ({}× smaller, {} ways of 4 KiB pages)",
            bytes(tree_bytes),
            sb.keys,
            sb.height,
            bytes(layout.pages_bytes()),
            tree_bytes / layout.pages_bytes(),
            WAYS
        ),
        &[
            "keys",
            "lookups",
            "gdio + cache",
            "hit rate (READs per lookup, rate)",
            "gdio, no cache",
            "orchestrated + same cache",
            "vs no cache",
            "vs orchestrated",
        ],
    );
    let time = |s: f64| nanos(s * 1e9);
    let mut chart = Chart::new(
        "B-tree lookups through the page cache (higher is better)",
        "lookups per second",
        per_sec,
    );
    let mut rows = Vec::new();
    let lanes_max = lookup::default_lanes(gpu);
    let biggest = cfg.cache_lookups.iter().copied().max().unwrap_or(1) as usize;
    for dist in [KeyDist::Zipf(0.99), KeyDist::Uniform] {
        // One cache per distribution, warmed by a batch of the largest size, then kept from
        // batch to batch (as a server keeps it); the orchestrated loop keeps its own the same
        // way, warmed by the same batch.
        let cache = PumpCache::new(&gpu.ctx, layout, &gpu.plan)?;
        let mut orch = OrchestratedCache::new(
            gpu,
            &f,
            &sb,
            layout.slots(),
            PAGE as u32,
            biggest,
            pumps::default_pumps(gpu, lanes_max.min(biggest as u32)),
        )?;
        let warm = btree::make_keys_dist(sb.keys, sb.seed, biggest as u64, dist, 99);
        let lanes = lanes_max.min(biggest as u32);
        cached_lookup::lookup(
            gpu,
            &f,
            &sb,
            &warm,
            lanes,
            pumps::default_pumps(gpu, lanes),
            &cache,
            |_, _| {},
        )?;
        orch.lookup(&warm)?;
        for &n in &cfg.cache_lookups {
            gpu.raise_clock(super::CLOCK_WARMUP)?;
            let lanes = lanes_max.min(n as u32);
            let pumps = pumps::default_pumps(gpu, lanes);
            let reps = if n <= 4096 { cfg.btree_reps.max(1) } else { 1 };
            let (mut cs, mut ns, mut os) = (Vec::new(), Vec::new(), Vec::new());
            let mut counters = gdio::vulkan::CacheCounters::default();
            let (mut orch_reads, mut plain_reads, mut orch_dispatches) = (0, 0, 0);
            for rep in 0..u64::from(reps) {
                let keys = btree::make_keys_dist(sb.keys, sb.seed, n, dist, 7 + n + rep);
                let c =
                    cached_lookup::lookup(gpu, &f, &sb, &keys, lanes, pumps, &cache, |_, _| {})?;
                let p = lookup::lookup(gpu, f.try_clone()?, &sb, &keys, lanes, pumps, |_, _| {})?;
                let (r0, _) = orch.page_counts();
                let o = orch.lookup(&keys)?;
                orch_reads += orch.page_counts().0 - r0;
                orch_dispatches += o.dispatches;
                plain_reads += p.reads;
                if c.lookups.results != p.results || o.results != p.results {
                    anyhow::bail!("{} keys, {n} lookups: the cached, uncached and orchestrated lookups disagree", dist.name());
                }
                for (k, r) in keys.iter().zip(&c.lookups.results).take(256) {
                    if btree::lookup(&f, &sb, *k)?.0 != r.found {
                        anyhow::bail!("key {k}: the cached lookup differs from the CPU's");
                    }
                }
                add(&mut counters, &c.counters);
                cs.push(c.lookups.elapsed.as_secs_f64());
                ns.push(p.elapsed.as_secs_f64());
                os.push(o.elapsed.as_secs_f64());
            }
            let (csp, nsp, osp) = (Spread::of(&cs), Spread::of(&ns), Spread::of(&os));
            let (c, p, o) = (csp.median, nsp.median, osp.median);
            for (what, s) in [
                ("gdio + cache", &csp),
                ("gdio, no cache", &nsp),
                ("orchestrated + cache", &osp),
            ] {
                s.warn_if_disagreeing(
                    &mut t,
                    &format!("{}, {n} lookups, {what}", dist.name()),
                    time,
                );
            }
            t.row(vec![
                dist.name(),
                if reps > 1 {
                    format!("{n} (median of {reps})")
                } else {
                    n.to_string()
                },
                time(c),
                format!(
                    "{:.1}% ({} per lookup, READs at {})",
                    100.0 * counters.hit_rate(),
                    fmt_per(counters.reads, n * u64::from(reps)),
                    per_sec(counters.reads as f64 / cs.iter().sum::<f64>().max(1e-9))
                ),
                time(p),
                format!(
                    "{} ({:.2} reads, {:.1} dispatches per batch)",
                    time(o),
                    orch_reads as f64 / (n * u64::from(reps)) as f64,
                    f64::from(orch_dispatches) / f64::from(reps)
                ),
                ratio(p, c),
                ratio(o, c),
            ]);
            chart.bar(
                format!("gdio + cache, {}, {n}", dist.name()),
                n as f64 / c,
                per_sec(n as f64 / c),
            );
            chart.bar(
                format!("gdio, no cache, {}, {n}", dist.name()),
                n as f64 / p,
                per_sec(n as f64 / p),
            );
            chart.bar(
                format!("orchestrated + cache, {}, {n}", dist.name()),
                n as f64 / o,
                per_sec(n as f64 / o),
            );
            rows.push(json!({
                "keys": dist.name(),
                "lookups": n,
                "lanes": lanes,
                "pumps": pumps,
                "repetitions": reps,
                "cached_seconds": c,
                "cached_spread": csp,
                "uncached_seconds": p,
                "uncached_spread": nsp,
                "orchestrated_cached_seconds": o,
                "orchestrated_cached_spread": osp,
                "speedup_vs_uncached": p / c,
                "speedup_vs_orchestrated_cached": o / c,
                "cache_hits": counters.hits,
                "cache_misses": counters.misses,
                "cache_coalesced": counters.coalesced,
                "cache_evictions": counters.evictions,
                "cache_reads": counters.reads,
                "cache_read_rate_per_second": counters.reads as f64 / cs.iter().sum::<f64>().max(1e-9),
                "uncached_reads": plain_reads,
                "orchestrated_reads": orch_reads,
                "orchestrated_dispatches": orch_dispatches,
            }));
        }
    }
    let (hit, one_page) = hits_and_coalescing(gpu, cfg, file)?;
    // What every one-dispatch row pays before its first node: the floor under small batches.
    let floor = nop::empty_dispatch(gpu, 200, gpu.fence_wait, nop::Launch::Record)?;
    t.note(format!(
        "an empty dispatch, submit → fence noticed, p50 {} (200 dispatches): every gdio row above includes one, the orchestrated rows one per level or group",
        nanos(floor.p50_ns as f64)
    ));
    t.note(format!(
        "one lane asking a cached page {} times (cache_pages.comp, one word read per ask): {} per hit, the lane's whole loop included (host-timed dispatch ÷ asks)",
        hit.1,
        nanos(hit.0 * 1e9)
    ));
    t.note(format!(
        "1,024 lanes asking one page of an empty cache: {} READ(s), {} hits, {} coalesced waits; every lane saw the page's bytes",
        one_page.reads, one_page.hits, one_page.coalesced
    ));
    t.note("gdio + cache: btree_cached.comp, one dispatch; each node is asked of the cache (hits never reach the host; a miss READs the page through the lane's own slot; concurrent misses on one page issue one READ); the cache is warmed by one batch of the largest size and kept from batch to batch; hit rate = hits ÷ node asks, READs per lookup from the cache's counters");
    t.note("gdio, no cache: btree_lookup.comp (section 4's kernel), every node a READ");
    t.note(format!("both gdio kernels use {} lanes at most and the default pump threads (one per 16 lanes, up to 4 on a GPU); the orchestrated loop reads with as many threads", lanes_max));
    t.note("orchestrated + same cache: the host keeps a cache of the same pages in GPU-visible memory (page → slot map, clock eviction), per level reads each missing distinct page once (split over reader threads when there are at least two reads each) and dispatches one search (btree_step_cached.comp); a level whose pages do not fit runs in groups; kept set up and warmed like gdio's");
    t.note("vs = the other's time ÷ gdio + cache's time (above 1: the cache is faster); results of all three equal, the first 256 of each batch checked against the CPU's own lookup");
    Ok(Section {
        key: "cache",
        table: t,
        chart: Some(chart),
        data: json!({
            "tree_bytes": tree_bytes,
            "cache_bytes": layout.pages_bytes(),
            "page_bytes": PAGE,
            "ways": WAYS,
            "height": sb.height,
            "runs": rows,
            "hit_seconds": hit.0,
            "empty_dispatch_seconds_p50": floor.p50_ns as f64 / 1e9,
            "hit_asks": hit.1,
            "one_page_1024_lanes": {
                "reads": one_page.reads, "hits": one_page.hits, "coalesced": one_page.coalesced,
            },
        }),
    })
}

fn add(a: &mut gdio::vulkan::CacheCounters, b: &gdio::vulkan::CacheCounters) {
    a.hits += b.hits;
    a.misses += b.misses;
    a.reads += b.reads;
    a.coalesced += b.coalesced;
    a.evictions += b.evictions;
    a.failed += b.failed;
    a.no_victim += b.no_victim;
}

fn fmt_per(reads: u64, lookups: u64) -> String {
    format!("{:.2}", reads as f64 / lookups.max(1) as f64)
}

/// One lane's hit cost (seconds per ask, asks) and 1,024 lanes' asks of one page of an empty
/// cache.
fn hits_and_coalescing(
    gpu: &Gpu,
    cfg: &Config,
    file: &Path,
) -> Result<((f64, u32), gdio::vulkan::CacheCounters)> {
    let f = std::fs::File::open(file)?;
    let layout = CacheLayout::new(64 * PAGE, PAGE, WAYS)?;
    let cache = PumpCache::new(&gpu.ctx, layout, &gpu.plan)?;
    let asks = if cfg.quick || gpu.is_cpu() {
        2_000
    } else {
        100_000
    };
    let pages = vec![0u32; asks as usize];
    let one = |pages: &[u32], lanes: u32, check: bool| {
        cache_pages(
            gpu,
            &cache,
            &f,
            &Asks {
                file: 0,
                lanes,
                per_lane: pages.len() as u32 / lanes,
                pages,
                seed: 1,
                check,
            },
            1,
        )
    };
    one(&[0], 1, true)?; // the page is cached
    gpu.raise_clock(super::CLOCK_WARMUP)?;
    let mut times = Vec::new();
    for _ in 0..3 {
        let r = one(&pages, 1, false)?;
        anyhow::ensure!(
            r.counters.hits == u64::from(asks),
            "hit-cost run: {:?}",
            r.counters
        );
        times.push(r.elapsed.as_secs_f64() / f64::from(asks));
    }
    let hit = Spread::of(&times).median;
    cache.clear()?;
    let lanes = 1024;
    let r = one(&vec![1u32; lanes as usize], lanes, true)?;
    for o in &r.outcomes {
        anyhow::ensure!(
            o.result == PAGE as i32 && o.mismatches == 0,
            "1,024 lanes on one page: {o:?}"
        );
    }
    Ok(((hit, asks), r.counters))
}
