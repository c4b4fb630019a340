//! Section 6, writes: a shader writes a file from GPU memory and FSYNCs it (`gdio write`), with
//! and without direct IO, against fio writing the same size (io_uring, 1 MiB blocks, fsync at
//! the end) and the CPU-orchestrated loop (dispatch → fence → copy out → pwrite, fsync at the
//! end); every byte of each written file is checked afterwards.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::svg::Chart;
use super::{fio_note, Config, Section, Spread};
use crate::report::Table;
use crate::units::{bytes, bytes_per_sec, rate_of, ratio};
use gdio::pump::PumpReport;
use gdio_workloads::windows::WindowKind;
use gdio_workloads::write::{self, WriteShape, Writer};
use gdio_workloads::{fio, orchestrated_write, Gpu};

/// The pattern's seed.
const SEED: u32 = 7;

/// One method's runs: throughputs and CPU seconds per GB.
struct Runs {
    rate: Spread,
    cpu_per_gb: f64,
    seconds: Vec<f64>,
}

impl Runs {
    fn of(len: u64, runs: &[(Duration, Duration)]) -> Runs {
        let rates: Vec<f64> = runs.iter().map(|&(t, _)| bytes_per_sec(len, t)).collect();
        let cpu: Vec<f64> = runs
            .iter()
            .map(|&(_, c)| c.as_secs_f64() / (len as f64 / 1e9))
            .collect();
        Runs {
            rate: Spread::of(&rates),
            cpu_per_gb: Spread::of(&cpu).median,
            seconds: runs.iter().map(|(t, _)| t.as_secs_f64()).collect(),
        }
    }
}

/// Fails unless `path` holds exactly the pattern of `len` bytes.
fn check(path: &Path, len: u64, what: &str) -> Result<()> {
    if let Some(at) = write::verify(path, len, SEED)? {
        anyhow::bail!("{what}: the written file differs from the pattern at byte {at}");
    }
    Ok(())
}

/// Section 6.
pub fn run(gpu: &Gpu, cfg: &Config, dir: &Path) -> Result<Section> {
    let len = cfg.write_bytes;
    let shape = WriteShape::defaults(gpu);
    let path = dir.join("write.bin");
    let mut t = Table::new(
        &format!(
            "6. Writing a {} file from the GPU, fsync at the end, median of {} runs",
            bytes(len),
            cfg.reps
        ),
        &[
            "method",
            "throughput",
            "runs: min–max",
            "CPU s/GB",
            "gdio ÷ this",
        ],
    );
    let mut chart = Chart::new(
        &format!("Writing {} with fsync (higher is better)", bytes(len)),
        "bytes per second",
        rate_of,
    );
    let mut data = serde_json::Map::new();
    for direct in [false, true] {
        let mode = if direct { "direct" } else { "buffered" };
        // A file system without direct IO skips the O_DIRECT rows, not the section.
        let measured = (|| -> Result<()> {
            let mut writer = Writer::new(gpu, shape)?;
            let mut gdio_runs = Vec::new();
            for _ in 0..cfg.reps {
                let _ = std::fs::remove_file(&path);
                let w = writer.write(&path, len, SEED, direct, |_, _| {})?;
                gdio_runs.push((w.elapsed, w.cpu));
            }
            writer.finish()?;
            check(&path, len, &format!("gdio write ({mode})"))?;
            let mut orch_runs = Vec::new();
            for _ in 0..cfg.reps {
                let _ = std::fs::remove_file(&path);
                let o = orchestrated_write::write(gpu, &path, len, SEED, shape, direct)?;
                orch_runs.push((o.elapsed, o.cpu));
            }
            check(&path, len, &format!("the CPU-orchestrated loop ({mode})"))?;
            let fio_args = fio::write_args(&path, len, direct);
            let mut fio_runs = Vec::new();
            let mut fio_error = None;
            for _ in 0..cfg.reps {
                let _ = std::fs::remove_file(&path);
                match fio::run_write(&cfg.fio, &fio_args) {
                    Ok(f) if f.bytes == len => fio_runs.push((
                        Duration::from_secs_f64(f.seconds),
                        Duration::from_secs_f64(f.cpu_seconds),
                    )),
                    Ok(f) => {
                        anyhow::bail!(
                            "fio wrote {} bytes of {len}: {}",
                            f.bytes,
                            fio_args.join(" ")
                        )
                    }
                    Err(e) => {
                        fio_error = Some(e);
                        break;
                    }
                }
            }
            let _ = std::fs::remove_file(&path);
            let (g, o) = (Runs::of(len, &gdio_runs), Runs::of(len, &orch_runs));
            let gm = g.rate.median;
            let label = if direct { ", O_DIRECT" } else { "" };
            t.row(vec![
                format!(
                    "gdio write{label}: shader fills {} lanes × {} and WRITEs them (data-checked), FSYNC",
                    shape.lanes,
                    bytes(u64::from(shape.chunk))
                ),
                rate_of(gm),
                g.rate.range(rate_of),
                format!("{:.2}", g.cpu_per_gb),
                "1.00×".into(),
            ]);
            g.rate
                .warn_if_disagreeing(&mut t, &format!("gdio write ({mode})"), rate_of);
            chart.bar(format!("gdio write ({mode})"), gm, rate_of(gm));
            // The same job from a device-local window, drained by the copy queue into
            // registered staging.
            let device = (|| -> Result<(Vec<(Duration, Duration)>, PumpReport)> {
                let mut writer = Writer::with_windows(gpu, shape, WindowKind::Device)?;
                let mut runs = Vec::new();
                for _ in 0..cfg.reps {
                    let _ = std::fs::remove_file(&path);
                    let w = writer.write(&path, len, SEED, direct, |_, _| {})?;
                    runs.push((w.elapsed, w.cpu));
                }
                let report = writer.finish()?;
                check(
                    &path,
                    len,
                    &format!("gdio write, device-local window ({mode})"),
                )?;
                Ok((runs, report))
            })();
            let device_label = format!(
                "gdio write{label}, device-local window: copy queue → staging, WRITE_FIXED"
            );
            let device_data = match device {
                Ok((runs, report)) => {
                    let d = Runs::of(len, &runs);
                    t.note(super::streaming::pump_note(
                        &format!("gdio write, device-local window ({mode})"),
                        &report,
                    ));
                    t.row(vec![
                        device_label,
                        rate_of(d.rate.median),
                        d.rate.range(rate_of),
                        format!("{:.2}", d.cpu_per_gb),
                        ratio(gm, d.rate.median),
                    ]);
                    chart.bar(
                        format!("gdio write, device-local ({mode})"),
                        d.rate.median,
                        rate_of(d.rate.median),
                    );
                    json!({ "bytes_per_sec": d.rate.median, "spread": d.rate, "cpu_seconds_per_gb": d.cpu_per_gb, "pump": super::streaming::pump_json(&report) })
                }
                Err(e) => {
                    t.row(vec![
                        format!("{device_label}: not offered here: {}", e.root_cause()),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                    ]);
                    json!({ "error": format!("{e:#}") })
                }
            };
            let fio_data = if fio_error.is_none() && !fio_runs.is_empty() {
                let f = Runs::of(len, &fio_runs);
                t.row(vec![
                    format!("fio io_uring write bs=1m, end_fsync{label} (host memory, no GPU)"),
                    rate_of(f.rate.median),
                    f.rate.range(rate_of),
                    format!("{:.2}", f.cpu_per_gb),
                    ratio(gm, f.rate.median),
                ]);
                chart.bar(
                    format!("fio write 1m ({mode})"),
                    f.rate.median,
                    rate_of(f.rate.median),
                );
                json!({ "bytes_per_sec": f.rate.median, "spread": f.rate, "cpu_seconds_per_gb": f.cpu_per_gb, "seconds": f.seconds, "args": fio_args })
            } else {
                t.row(vec![
                    format!("fio io_uring write bs=1m{label}"),
                    "skipped".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
                if let Some(e) = &fio_error {
                    t.note(fio_note(e));
                }
                serde_json::Value::Null
            };
            t.row(vec![
                format!(
                    "CPU-orchestrated Vulkan{label}: dispatch fill → fence → copy out → pwrite, fsync"
                ),
                rate_of(o.rate.median),
                o.rate.range(rate_of),
                format!("{:.2}", o.cpu_per_gb),
                ratio(gm, o.rate.median),
            ]);
            o.rate.warn_if_disagreeing(
                &mut t,
                &format!("the CPU-orchestrated loop ({mode})"),
                rate_of,
            );
            chart.bar(
                format!("CPU-orchestrated ({mode})"),
                o.rate.median,
                rate_of(o.rate.median),
            );
            data.insert(
                mode.to_string(),
                json!({
                    "gdio": { "bytes_per_sec": gm, "spread": g.rate, "cpu_seconds_per_gb": g.cpu_per_gb, "seconds": g.seconds },
                    "gdio_device_window": device_data,
                    "orchestrated": { "bytes_per_sec": o.rate.median, "spread": o.rate, "cpu_seconds_per_gb": o.cpu_per_gb, "seconds": o.seconds },
                    "fio": fio_data,
                }),
            );
            Ok(())
        })();
        if let Err(e) = measured {
            if !direct {
                return Err(e);
            }
            t.row(vec![
                format!("O_DIRECT: not measured: {e:#}"),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
            data.insert(mode.to_string(), json!({ "error": format!("{e:#}") }));
        }
    }
    t.note(format!(
        "every byte of the files gdio and the orchestrated loop wrote equals the pattern (checked after each method's last run; fio writes its own bytes, its size is checked); each run writes a new file into {}",
        dir.display()
    ));
    t.note("CPU s/GB: the process's CPU time (every thread, user and system) per GB written: the pump, its data-check threads, the thread waiting on the dispatch and the kernel's work for gdio; for fio its usr+sys as it reports them (its job thread's rusage: the kernel's io-wq workers are not counted)");
    t.note("fio, gdio and the orchestrated loop each reserve the file's blocks (fallocate) before their clocks start; fio keeps one write in flight");
    t.note(format!(
        "gdio: each lane fills its chunk (one invocation per lane) with the data check, publishes a checked WRITE, and the lane whose WRITEs complete last publishes one FSYNC; the orchestrated loop writes {} per dispatch with one thread, in the memory gdio's WRITE windows use ({})",
        bytes(shape.window_bytes() as u64),
        gpu.plan.write_window.name()
    ));
    Ok(Section {
        key: "write",
        table: t,
        chart: Some(chart),
        data: json!({ "file_bytes": len, "chunk": shape.chunk, "lanes": shape.lanes, "modes": data }),
    })
}
