//! Section 5: scaling over pump threads. One dispatch of random 4 KiB reads (every word
//! checked) with its lanes spread over 1, 2 and 4 queues, each queue served by its own pump
//! thread; IOPS against the one-pump run.

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::svg::Chart;
use super::{Config, Section};
use crate::report::Table;
use crate::units::{per_sec, ratio};
use gdio_workloads::sum::{StreamShape, Streamer};
use gdio_workloads::{random, Gpu};

/// Runs the section.
pub fn run(gpu: &Gpu, cfg: &Config, file: &Path) -> Result<Section> {
    let lanes = cfg.random_lanes;
    let mut t = Table::new(
        &format!("5. Scaling over pump threads (random 4 KiB reads, {lanes} lanes, one dispatch)"),
        &["pump threads", "IOPS", "vs 1 pump"],
    );
    let mut chart = Chart::new(
        &format!("Random 4 KiB reads, {lanes} lanes, by pump threads (higher is better)"),
        "reads per second",
        per_sec,
    );
    let mut rows = Vec::new();
    let mut base = None;
    for queues in [1u32, 2, 4] {
        let r = random::run_queues(gpu, file, 1, lanes, cfg.random_reads, 4096, queues)?;
        if r.mismatches > 0 {
            anyhow::bail!(
                "{} words read by the shader did not match the file",
                r.mismatches
            );
        }
        let iops = r.reads as f64 / r.elapsed.as_secs_f64().max(1e-9);
        let one = *base.get_or_insert(iops);
        t.row(vec![queues.to_string(), per_sec(iops), ratio(iops, one)]);
        chart.bar(
            format!("{queues} pump thread{}", if queues == 1 { "" } else { "s" }),
            iops,
            per_sec(iops),
        );
        rows.push(json!({ "pumps": queues, "iops": iops, "reads": r.reads, "seconds": r.elapsed.as_secs_f64() }));
    }
    t.note("lane L uses queue L % pumps (gdio_begin_queue); every pump has the same file and window; every word read is checked");
    let gpus = multi_gpu(file)?;
    match &gpus {
        Some(m) => {
            t.row(vec![
                format!("{} GPUs: streaming", m.gpus),
                format!("{:.2} GB/s", m.total_gbps),
                format!("{:.2}×", m.total_gbps / m.one_gbps),
            ]);
            t.note(format!(
                "GPU row: gdio sum (CRC-32C) of the same page-cached {}-byte file on each GPU at once, one queue and one pump per GPU, each thread its own Vulkan device; one GPU alone: {:.2} GB/s; every CRC equal to the CPU's",
                m.bytes, m.one_gbps
            ));
        }
        None => t.note("several GPUs: not measured (fewer than two discrete GPUs here)"),
    }
    let gpu_data =
        gpus.map(|m| json!({ "gpus": m.gpus, "one_gbps": m.one_gbps, "total_gbps": m.total_gbps }));
    Ok(Section {
        key: "scaling",
        table: t,
        chart: Some(chart),
        data: json!({ "rows": rows, "gpus": gpu_data }),
    })
}

/// Streaming on every discrete GPU at once against one GPU alone.
struct MultiGpu {
    gpus: usize,
    bytes: u64,
    one_gbps: f64,
    total_gbps: f64,
}

fn multi_gpu(file: &Path) -> Result<Option<MultiGpu>> {
    let devices: Vec<usize> = gdio_vulkan::Context::devices()?
        .into_iter()
        .filter(|d| d.device_type == gdio_vulkan::vk::PhysicalDeviceType::DISCRETE_GPU)
        .map(|d| d.index)
        .collect();
    if devices.len() < 2 {
        return Ok(None);
    }
    let bytes = std::fs::metadata(file)?.len();
    let want = gdio_workloads::sum::cpu_crc32c(file)?;
    let one = stream_on(&devices[..1], file, bytes, want)?;
    let total = stream_on(&devices, file, bytes, want)?;
    Ok(Some(MultiGpu {
        gpus: devices.len(),
        bytes,
        one_gbps: one,
        total_gbps: total,
    }))
}

/// GB/s of `gdio sum` of `file` on every device in `set` at once. Each thread opens its own
/// device and warms up once; the timed sums start together after a barrier.
fn stream_on(set: &[usize], file: &Path, bytes: u64, want: u32) -> Result<f64> {
    let barrier = std::sync::Barrier::new(set.len());
    let start = std::sync::Mutex::new(None::<std::time::Instant>);
    std::thread::scope(|s| {
        let handles: Vec<_> = set
            .iter()
            .map(|&i| {
                let (barrier, start) = (&barrier, &start);
                s.spawn(move || -> Result<std::time::Instant> {
                    let gpu = crate::gpu::open(Some(&i.to_string()))?;
                    let shape = StreamShape::defaults(&gpu);
                    let mut st = Streamer::new(&gpu, shape)?;
                    st.sum(file, |_, _| {})?;
                    barrier.wait();
                    start
                        .lock()
                        .map_err(|_| anyhow::anyhow!("start lock poisoned"))?
                        .get_or_insert_with(std::time::Instant::now);
                    let r = st.sum(file, |_, _| {})?;
                    let end = std::time::Instant::now();
                    st.finish()?;
                    if r.crc32c != want {
                        anyhow::bail!(
                            "GPU {i}: CRC-32C {:08x} differs from the CPU's {want:08x}",
                            r.crc32c
                        );
                    }
                    Ok(end)
                })
            })
            .collect();
        let mut last = None;
        for h in handles {
            let end = h
                .join()
                .map_err(|_| anyhow::anyhow!("a GPU thread panicked"))??;
            last = last.max(Some(end));
        }
        let began = start
            .lock()
            .map_err(|_| anyhow::anyhow!("start lock poisoned"))?
            .ok_or_else(|| anyhow::anyhow!("no GPU thread started"))?;
        let end = last.ok_or_else(|| anyhow::anyhow!("no GPU"))?;
        let secs = end.duration_since(began).as_secs_f64();
        Ok(bytes as f64 * set.len() as f64 / secs.max(1e-9) / 1e9)
    })
}
