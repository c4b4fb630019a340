//! Section 7, several GPUs: one page-cached file streamed split across 1, 2, … N GPUs at once
//! (each part on its own device, thread, queue and pump; the file's CRC-32C joined from the
//! parts' and checked against the CPU's), against the host's copy ceiling into the same kind
//! of memory; then random 4 KiB reads and B-tree lookups on 1, 2, … N GPUs at once.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::svg::Chart;
use super::{Config, Section, Spread};
use crate::report::Table;
use crate::units::{bytes, bytes_per_sec, per_sec, rate_of, ratio};
use gdio_workloads::multi_gpu::{lookup_split, random_split, stream_split};
use gdio_workloads::sum::{cpu_crc32c, StreamShape};
use gdio_workloads::{btree, lookup, orchestrated, pumps, Gpu};

/// The devices section 7 uses: `asked` (`--gpus`), else every discrete GPU when there are two
/// or more, else none.
pub fn devices(asked: &[usize]) -> Result<Vec<usize>> {
    if !asked.is_empty() {
        return Ok(asked.to_vec());
    }
    let discrete: Vec<usize> = gdio_vulkan::Context::devices()?
        .into_iter()
        .filter(|d| d.device_type == gdio_vulkan::vk::PhysicalDeviceType::DISCRETE_GPU)
        .map(|d| d.index)
        .collect();
    Ok(if discrete.len() >= 2 {
        discrete
    } else {
        Vec::new()
    })
}

/// Section 7 where it cannot run: a one-line table saying why.
pub fn skipped(why: &str) -> Section {
    let mut t = Table::new("7. Streaming a file split across GPUs", &["result"]);
    t.row(vec![format!("not measured: {why}")]);
    Section {
        key: "gpus",
        table: t,
        chart: None,
        data: json!({ "skipped": why }),
    }
}

/// Section 7 over `devices` (two or more; repeats allowed: the same device opened again).
pub fn run(
    gpu: &Gpu,
    cfg: &Config,
    file: &Path,
    index: &Path,
    devices: &[usize],
) -> Result<Section> {
    let len = std::fs::metadata(file)?.len();
    let want = cpu_crc32c(file)?;
    let shape = StreamShape::defaults(gpu);
    let mut t = Table::new(
        &format!(
            "7. Several GPUs (devices {devices:?}): a {} file streamed split across them (median of {} runs), random reads and lookups on each at once",
            bytes(len),
            cfg.reps
        ),
        &["GPUs", "throughput", "runs: min–max", "vs 1 GPU"],
    );
    let mut chart = Chart::new(
        &format!(
            "Streaming {} over several GPUs (higher is better)",
            bytes(len)
        ),
        "bytes per second",
        rate_of,
    );
    let mut rows = Vec::new();
    let mut one = None;
    for k in 1..=devices.len() {
        let settings: Vec<_> = devices[..k]
            .iter()
            .map(|i| crate::gpu::settings(Some(&i.to_string())))
            .collect();
        let mut times = Vec::new();
        for _ in 0..cfg.reps {
            let r = stream_split(&settings, file, shape)?;
            if r.crc32c != want {
                anyhow::bail!(
                    "{k} GPUs: the joined CRC-32C {:08x} differs from the CPU's {want:08x}",
                    r.crc32c
                );
            }
            times.push(r.elapsed);
        }
        let rates = Spread::of(
            &times
                .iter()
                .map(|&d| bytes_per_sec(len, d))
                .collect::<Vec<_>>(),
        );
        let base = *one.get_or_insert(rates.median);
        t.row(vec![
            k.to_string(),
            rate_of(rates.median),
            rates.range(rate_of),
            ratio(rates.median, base),
        ]);
        rates.warn_if_disagreeing(&mut t, &format!("{k} GPUs"), rate_of);
        chart.bar(format!("{k} GPU(s)"), rates.median, rate_of(rates.median));
        rows.push(json!({
            "gpus": k,
            "bytes_per_sec": rates.median,
            "spread": rates,
            "seconds": times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
        }));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let (d, _) = orchestrated::pread_ceiling(gpu, file, threads, 1 << 20)?;
    let ceiling = bytes_per_sec(len, d);
    t.row(vec![
        format!(
            "host copy ceiling: {threads} threads pread 1 MiB blocks into one GPU's {} memory",
            gpu.plan.read_window.name()
        ),
        rate_of(ceiling),
        "-".into(),
        "-".into(),
    ]);
    chart.bar("copy ceiling (one GPU)", ceiling, rate_of(ceiling));
    let (random_rows, lookup_rows) = random_and_lookups(gpu, cfg, file, index, devices, &mut t)?;
    t.note(format!(
        "each GPU streams a contiguous part of the file (cut at {}-chunk boundaries) with {} lanes; the time runs from when every device is ready (warmed on its part) to the last part's end; every run's joined CRC-32C equals the CPU's ({want:08x})",
        bytes(u64::from(shape.chunk)),
        shape.lanes
    ));
    Ok(Section {
        key: "gpus",
        table: t,
        chart: Some(chart),
        data: json!({
            "devices": devices,
            "file_bytes": len,
            "crc32c": format!("{want:08x}"),
            "rows": rows,
            "ceiling_threads": threads,
            "ceiling_bytes_per_sec": ceiling,
            "random": random_rows,
            "lookups": lookup_rows,
        }),
    })
}

/// Random 4 KiB reads and B-tree lookups on the first 1, 2, … of `devices` at once, as rows of
/// `t`; their JSON rows.
fn random_and_lookups(
    gpu: &Gpu,
    cfg: &Config,
    file: &Path,
    index: &Path,
    devices: &[usize],
    t: &mut Table,
) -> Result<(Vec<serde_json::Value>, Vec<serde_json::Value>)> {
    let (f, sb) = btree::open(index)?;
    let lanes = cfg.random_lanes;
    let queues = pumps::default_pumps(gpu, lanes);
    let nkeys = *cfg.lookups.iter().max().unwrap_or(&64);
    let keys = btree::make_keys(sb.keys, sb.seed, nkeys, 0.1, 77);
    let klanes = lookup::default_lanes(gpu).min(nkeys as u32);
    let kpumps = pumps::default_pumps(gpu, klanes);
    let (mut random_rows, mut lookup_rows) = (Vec::new(), Vec::new());
    let (mut one_r, mut one_l) = (None, None);
    for k in 1..=devices.len() {
        let settings: Vec<_> = devices[..k]
            .iter()
            .map(|i| crate::gpu::settings(Some(&i.to_string())))
            .collect();
        let (reads, bad, took) = random_split(&settings, file, 1, lanes, cfg.random_reads, queues)?;
        anyhow::ensure!(
            bad == 0,
            "{k} GPUs: {bad} words read did not match the file"
        );
        let rate = reads as f64 / took.as_secs_f64().max(1e-9);
        let base = *one_r.get_or_insert(rate);
        t.row(vec![
            format!("{k}: random 4 KiB READs ({lanes} lanes, {queues} pumps per GPU)"),
            format!("{} READs", per_sec(rate)),
            "-".into(),
            ratio(rate, base),
        ]);
        random_rows.push(json!({"gpus": k, "reads": reads, "seconds": took.as_secs_f64(), "reads_per_sec": rate}));
        let (results, took) = lookup_split(&settings, index, &keys, klanes, kpumps)?;
        for (key, r) in keys.iter().zip(&results).take(256) {
            anyhow::ensure!(
                btree::lookup(&f, &sb, *key)?.0 == r.found,
                "{k} GPUs: key {key}: the lookup differs from the CPU's"
            );
        }
        let rate = nkeys as f64 / took.as_secs_f64().max(1e-9);
        let base = *one_l.get_or_insert(rate);
        t.row(vec![
            format!("{k}: B-tree lookups ({nkeys} keys split, {klanes} lanes per GPU)"),
            format!("{} lookups", per_sec(rate)),
            "-".into(),
            ratio(rate, base),
        ]);
        lookup_rows.push(json!({"gpus": k, "keys": nkeys, "seconds": took.as_secs_f64(), "lookups_per_sec": rate}));
    }
    t.note("random and lookup rows: every device runs at once (opened and warmed in its own thread first); time = the longest device's dispatch; random READs check every word, lookups the first 256 keys against the CPU's; pump threads float (no core or NUMA placement is chosen)");
    Ok((random_rows, lookup_rows))
}
