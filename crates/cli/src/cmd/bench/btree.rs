//! Section 4, the data-dependent workload: B-tree lookups through gdio vs. CPU-orchestrated
//! (one dispatch per level, the host reading what the shader asked for in between).

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::svg::Chart;
use super::{Config, Section, Spread};
use crate::report::Table;
use crate::units::{nanos, per_sec, ratio};
use gdio_workloads::{btree, lookup, orchestrated, pumps, serve, Gpu};

/// Fanout of the bench's deep tree: the same 4 KiB nodes, 8 keys each, so a lookup makes
/// more dependent reads (how the speedup grows with the chain of dependent reads).
pub const DEEP_FANOUT: usize = 8;

/// Runs the section: the standard tree (fanout 255) at every batch size, the deep tree (fanout 8)
/// at `cfg.deep_lookups`, then the resident kernel at every batch size up to 4,096.
pub fn run(gpu: &Gpu, cfg: &Config, index: &Path, deep: &Path) -> Result<Section> {
    let (f, sb) = btree::open(index)?;
    let (fd, sbd) = btree::open(deep)?;
    let mut t = Table::new(
        &format!(
            "4. Data-dependent: B-tree lookups (4 KiB nodes; every node read is chosen by the node before): {} keys, fanout 255, height {}; deep: {} keys, fanout {DEEP_FANOUT}, height {}",
            sb.keys, sb.height, sbd.keys, sbd.height
        ),
        &[
            "tree",
            "lookups",
            "lanes",
            "gdio",
            "gdio: min–max",
            "CPU-orchestrated",
            "orchestrated: min–max",
            "speedup",
        ],
    );
    let time = |s: f64| nanos(s * 1e9);
    let mut chart = Chart::new(
        "B-tree lookups (higher is better)",
        "lookups per second",
        per_sec,
    );
    let mut rows = Vec::new();
    let runs: Vec<(&str, &std::fs::File, &btree::Superblock, u64)> = cfg
        .lookups
        .iter()
        .map(|&n| ("fanout 255", &f, &sb, n))
        .chain(cfg.deep_lookups.iter().map(|&n| ("deep", &fd, &sbd, n)))
        .collect();
    let mut orchestrated_small = Vec::new();
    for (tree, f, sb, n) in runs {
        // Each row starts at the GPU's loaded clock (Gpu::raise_clock: its governor lowers the
        // clock after seconds of light load, which would slow whichever side runs later).
        gpu.raise_clock(super::CLOCK_WARMUP)?;
        let keys = btree::make_keys(sb.keys, sb.seed, n, 0.1, 7 + n);
        let lanes = lookup::default_lanes(gpu).min(n as u32);
        let pumps = pumps::default_pumps(gpu, lanes);
        // Small batches take tens of µs and vary the most from run to run: three times the
        // repetitions for their medians (the orchestrated side is every speedup's baseline).
        let reps = match n {
            0..=64 => 3 * cfg.btree_reps.max(1),
            65..=4096 => cfg.btree_reps.max(1),
            _ => 1,
        };
        let (mut gs_all, mut os_all) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let g = lookup::lookup(gpu, f.try_clone()?, sb, &keys, lanes, pumps, |_, _| {})?;
            let o = orchestrated::lookup(gpu, f, sb, &keys, pumps)?;
            if g.results != o.results {
                anyhow::bail!("gdio and the CPU-orchestrated lookups disagree");
            }
            gs_all.push(g);
            os_all.push(o);
        }
        let seconds = |runs: &[lookup::Lookups]| {
            Spread::of(
                &runs
                    .iter()
                    .map(|l| l.elapsed.as_secs_f64())
                    .collect::<Vec<_>>(),
            )
        };
        let (gsp, osp) = (seconds(&gs_all), seconds(&os_all));
        let (g, o) = (median_run(gs_all), median_run(os_all));
        for (k, r) in keys.iter().zip(&g.results).take(256) {
            if btree::lookup(f, sb, *k)?.0 != r.found {
                anyhow::bail!("key {k}: the GPU's result differs from the CPU's lookup");
            }
        }
        let (gs, os) = (g.elapsed.as_secs_f64(), o.elapsed.as_secs_f64());
        if n <= 4096 {
            orchestrated_small.push((tree, f, sb, n, os));
        }
        t.row(vec![
            format!("{tree} (height {})", sb.height),
            if reps > 1 {
                format!("{n} (median of {reps})")
            } else {
                n.to_string()
            },
            lanes.to_string(),
            time(gs),
            gsp.range(time),
            format!("{} ({} dispatches)", time(os), o.dispatches),
            osp.range(time),
            ratio(os, gs),
        ]);
        gsp.warn_if_disagreeing(&mut t, &format!("{tree}, {n} lookups, gdio"), time);
        osp.warn_if_disagreeing(
            &mut t,
            &format!("{tree}, {n} lookups, CPU-orchestrated"),
            time,
        );
        chart.bar(
            format!("gdio, {tree}, {n} lookups"),
            n as f64 / gs,
            per_sec(n as f64 / gs),
        );
        chart.bar(
            format!("orchestrated, {tree}, {n} lookups"),
            n as f64 / os,
            per_sec(n as f64 / os),
        );
        let phases = |l: &lookup::Lookups| {
            l.phases
                .iter()
                .map(|(what, d)| format!("{what} {}", nanos(d.as_secs_f64() * 1e9)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.note(format!(
            "{tree}, {n} lookups: gdio: {}; orchestrated: {}",
            phases(&g),
            phases(&o)
        ));
        let phases_json = |l: &lookup::Lookups| {
            l.phases
                .iter()
                .map(|(what, d)| json!({ "phase": what, "seconds": d.as_secs_f64() }))
                .collect::<Vec<_>>()
        };
        rows.push(json!({
            "tree": tree,
            "height": sb.height,
            "lookups": n,
            "lanes": lanes,
            "repetitions": reps,
            "gdio_seconds": gs,
            "gdio_spread": gsp,
            "gdio_reads": g.reads,
            "gdio_dispatches": g.dispatches,
            "orchestrated_seconds": os,
            "orchestrated_spread": osp,
            "orchestrated_dispatches": o.dispatches,
            "orchestrated_reads": o.reads,
            "speedup": os / gs,
            "gdio_phases": phases_json(&g),
            "orchestrated_phases": phases_json(&o),
        }));
    }
    // The resident kernel: one dispatch serves every batch (no launch, no fence per batch).
    for (tree, f, sb, n, os) in orchestrated_small {
        gpu.raise_clock(super::CLOCK_WARMUP)?;
        let lanes = serve::lanes_for(gpu, lookup::default_lanes(gpu).min(n as u32));
        let pumps = pumps::default_pumps(gpu, lanes);
        let batches = cfg.serve_batches.max(1);
        let mut dispatches = 0;
        let (times, reports) =
            serve::serve(gpu, f.try_clone()?, sb, lanes, pumps, n as u32, |srv| {
                timed_batches(f, sb, n, batches, "the resident kernel", |keys| {
                    let b = srv.lookup(keys)?;
                    dispatches += b.dispatches;
                    Ok((b.results, b.elapsed))
                })
            })?;
        let med = times[times.len() / 2];
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        // The orchestrated loop served the same way: set up once, the same batches.
        gpu.raise_clock(super::CLOCK_WARMUP)?;
        let kept = orchestrated::with_loop(gpu, f, sb, n as usize, pumps, |run| {
            timed_batches(f, sb, n, batches, "the kept orchestrated loop", |keys| {
                let o = run(keys)?;
                Ok((o.results, o.elapsed))
            })
        })?;
        let kept_med = kept[kept.len() / 2];
        let kept_p99 = kept[(kept.len() * 99 / 100).min(kept.len() - 1)];
        let (gsp, ksp) = (Spread::of(&times), Spread::of(&kept));
        // Where a level's time goes: the pumps' part of every node READ (claim → completion
        // entry written), against the level's share of the batch time. The rest is the bus
        // both ways and the shader (its wait, the node search, the next publication).
        let (svc50, turn50) = pumps::split_p50(&reports);
        let (svc50, turn50) = (svc50 as f64, turn50 as f64);
        let svc99 = pumps::merged(&reports, |r| &r.latency_ns).value_at_quantile(0.99) as f64;
        let level = med / f64::from(sb.height.max(1));
        t.note(format!(
            "{tree}, {n} per batch, resident: per level {} (batch median ÷ height); per node READ, the pump's part (claim → completion entry written) p50 {}, p99 {}; the device turnaround (completion written → the lane's next READ claimed: the bus both ways and the node search) p50 {}",
            nanos(level * 1e9),
            nanos(svc50),
            nanos(svc99),
            nanos(turn50)
        ));
        t.row(vec![
            format!("{tree} (height {}), resident kernel", sb.height),
            format!("{n} (median of {batches} batches)"),
            lanes.to_string(),
            time(med),
            format!("{}, p99 {}", gsp.range(time), time(p99)),
            format!("{} (kept loop)", time(kept_med)),
            format!("{}, p99 {}", ksp.range(time), time(kept_p99)),
            ratio(kept_med, med),
        ]);
        t.note(format!(
            "{tree}, {n} per batch: the orchestrated loop set up per batch (the one-dispatch rows' baseline above) took {}: {} against the resident kernel",
            nanos(os * 1e9),
            ratio(os, med)
        ));
        chart.bar(
            format!("gdio resident, {tree}, {n} lookups"),
            n as f64 / med,
            per_sec(n as f64 / med),
        );
        rows.push(json!({
            "tree": tree,
            "height": sb.height,
            "lookups": n,
            "lanes": lanes,
            "resident_kernel": true,
            "batches": batches,
            "gdio_batch_seconds_median": med,
            "gdio_batch_seconds_p99": p99,
            "gdio_batch_seconds": times,
            "redispatches": dispatches,
            "pump_read_service_seconds_p50": svc50 / 1e9,
            "pump_read_service_seconds_p99": svc99 / 1e9,
            "device_turnaround_seconds_p50": turn50 / 1e9,
            "orchestrated_kept_seconds_median": kept_med,
            "orchestrated_kept_seconds_p99": kept_p99,
            "orchestrated_kept_seconds": kept,
            "orchestrated_seconds": os,
            "speedup": kept_med / med,
            "speedup_vs_orchestrated_set_up_per_batch": os / med,
        }));
    }
    t.note("gdio and CPU-orchestrated: the median; min–max: over the repetitions (a warning when they disagree by more than 2×); resident rows: median, min–max and p99 over the batches of one served run");
    t.note("speedup = CPU-orchestrated time ÷ gdio time; one-dispatch rows: the results of both sides equal, the first 256 checked against the CPU's own lookup; resident rows: every result of each side checked against the CPU's own lookup");
    t.note("the orchestrated loop records one command buffer per batch before its clock starts and resubmits it per level (gdio's one-dispatch rows time their one record and submit)");
    t.note("CPU-orchestrated: per level, the host preads every key's node into a mapped buffer (shared by as many threads as gdio has pump threads, kept spinning across levels as gdio's pumps are, when there are at least two reads per thread), dispatches btree_step.comp, waits on the fence, reads where each key goes next");
    t.note(format!("gdio: lanes spread over {} pump thread(s) (one queue each) for the largest batch; one per 16 lanes up to 4 on a GPU", pumps::default_pumps(gpu, lookup::default_lanes(gpu))));
    t.note("resident kernel: btree_serve.comp is dispatched once and serves every batch; the host hands a batch over through a mailbox where a running shader sees host writes (ReBAR on NVIDIA) and collects stamped, checked results from host memory; time = handing over → last result in (every result checked against the CPU's lookup); its baseline is the orchestrated loop kept set up across the same batches (buffers, pipeline, reader threads), timed the same way, median");
    t.note("each row starts after a 0.3 s full load of the GPU (busy.comp), so that both sides run at the clock it boosts to (measured on the H100: after a few seconds of light load its governor takes the SM clock from 1980 to 345 MHz)");
    t.note("the deep tree (same node format, 8 keys per node) shows how the speedup changes with the number of dependent reads per lookup");
    Ok(Section {
        key: "btree",
        table: t,
        chart: Some(chart),
        data: json!({
            "keys": sb.keys,
            "height": sb.height,
            "deep_keys": sbd.keys,
            "deep_height": sbd.height,
            "runs": rows,
        }),
    })
}

/// Looks up `batches` batches of `n` keys through `run` (batch b's keys are the same for every
/// caller), checks every result against the CPU's own lookup, and returns the batch times in
/// seconds, sorted.
fn timed_batches(
    f: &std::fs::File,
    sb: &btree::Superblock,
    n: u64,
    batches: u32,
    who: &str,
    mut run: impl FnMut(&[u64]) -> Result<(Vec<lookup::KeyResult>, std::time::Duration)>,
) -> Result<Vec<f64>> {
    let mut times = Vec::with_capacity(batches as usize);
    for b in 0..u64::from(batches.max(1)) {
        let keys = btree::make_keys(sb.keys, sb.seed, n, 0.1, 7 + n + b);
        let (results, elapsed) = run(&keys)?;
        for (k, r) in keys.iter().zip(&results) {
            if btree::lookup(f, sb, *k)?.0 != r.found {
                anyhow::bail!("batch {b}, key {k}: {who}'s result differs from the CPU's lookup");
            }
        }
        times.push(elapsed.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// The run with the median time (the upper one of the middle two for an even count).
fn median_run(mut runs: Vec<lookup::Lookups>) -> lookup::Lookups {
    runs.sort_by_key(|l| l.elapsed);
    runs.swap_remove(runs.len() / 2)
}
