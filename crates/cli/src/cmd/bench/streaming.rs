//! Section 2, streaming (`gdio sum` vs fio vs the CPU-orchestrated loop), and section 3,
//! random 4 KiB reads (shader lanes vs fio at the same depth).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::svg::Chart;
use super::{fio_note, Config, Section, Spread};
use crate::report::Table;
use crate::units::{bytes, bytes_per_sec, per_sec, rate_of, ratio};
use gdio::pump::PumpReport;
use gdio_vulkan::{Placement, ProbeOptions};
use gdio_workloads::sum::{cpu_crc32c, StreamShape, Streamer, WindowKind};
use gdio_workloads::write::process_cpu;
use gdio_workloads::{copy_ceiling, fio, orchestrated, random, Gpu};

/// How long every GPU row first loads the GPU fully ([`Gpu::raise_clock`]): after the host-only
/// rows (seconds with the GPU idle) the H100's governor had lowered its clock, and the next
/// row's first runs streamed through device-local windows at 13-18 GB/s, its third at 32.
const RAISE_CLOCK: Duration = Duration::from_millis(300);

/// The median of CPU seconds per GB, as the tables print it.
fn cpu_of(v: &[f64]) -> String {
    format!("{:.2}", Spread::of(v).median)
}

fn best(v: &[Duration]) -> Duration {
    v.iter().copied().min().unwrap_or_default()
}

/// The throughputs of `len` bytes read in each of `times`: median, min and max.
fn rates(len: u64, times: &[Duration]) -> Spread {
    Spread::of(
        &times
            .iter()
            .map(|&d| bytes_per_sec(len, d))
            .collect::<Vec<_>>(),
    )
}

/// Streams `file` `reps` times through a streamer with `kind` windows (O_DIRECT when
/// `direct`), checking every CRC; returns the times and the process CPU seconds per GB.
fn stream_runs(
    gpu: &Gpu,
    shape: StreamShape,
    kind: WindowKind,
    direct: bool,
    file: &Path,
    reps: u32,
    cpu_crc: u32,
) -> Result<(Vec<Duration>, Vec<f64>, PumpReport)> {
    let gb = std::fs::metadata(file)?.len() as f64 / 1e9;
    let mut st = Streamer::with_windows(gpu, shape, kind)?;
    st.set_direct(direct)?;
    gpu.raise_clock(RAISE_CLOCK)?;
    let (mut times, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let cpu0 = process_cpu();
        let s = st.sum(file, |_, _| {})?;
        cpu.push(process_cpu().saturating_sub(cpu0).as_secs_f64() / gb);
        if s.crc32c != cpu_crc {
            anyhow::bail!(
                "the stream's CRC-32C {:08x} differs from the CPU's {cpu_crc:08x}",
                s.crc32c
            );
        }
        times.push(s.elapsed);
    }
    let report = st.finish()?;
    Ok((times, cpu, report))
}

/// A note on where a row's pump spent its time (every run of the row, its warm-up included).
pub(super) fn pump_note(row: &str, r: &PumpReport) -> String {
    let mut note = format!(
        "pump of {row}: {} turns, {} parks, pump thread CPU {:.2} s over {:.2} s",
        r.turns,
        r.parks,
        r.cpu_time.as_secs_f64(),
        r.elapsed.as_secs_f64()
    );
    if r.copies.batches > 0 {
        note.push_str(&format!("; copy queue: {}", r.copies));
    }
    note
}

/// A pump report's figures for bench.json.
pub(super) fn pump_json(r: &PumpReport) -> serde_json::Value {
    let c = &r.copies;
    json!({
        "turns": r.turns, "parks": r.parks, "cpu_seconds": r.cpu_time.as_secs_f64(),
        "elapsed_seconds": r.elapsed.as_secs_f64(),
        "copy_batches": c.batches, "copies": c.copies,
        "copy_submit_seconds": c.submit_time.as_secs_f64(),
        "copy_batch_seconds_total": c.batch_time.as_secs_f64(),
        "copy_batch_seconds_max": c.batch_time_max.as_secs_f64(),
        "waited_for_staging_chunk": c.waited_for_chunk,
    })
}

/// Section 2.
pub fn run(gpu: &Gpu, cfg: &Config, file: &Path) -> Result<Section> {
    let shape = StreamShape::defaults(gpu);
    let len = std::fs::metadata(file)?.len();
    let t = Instant::now();
    let cpu_crc = cpu_crc32c(file)?;
    let cpu_time = t.elapsed();
    let gb = len as f64 / 1e9;
    let (gdio_times, gdio_cpu, gdio_pump) = stream_runs(
        gpu,
        shape,
        WindowKind::Mapped,
        false,
        file,
        cfg.reps,
        cpu_crc,
    )?;
    let mut orch_times = Vec::new();
    let mut orch_cpu = Vec::new();
    gpu.raise_clock(RAISE_CLOCK)?;
    for _ in 0..cfg.reps {
        let cpu0 = process_cpu();
        let (c, d) = orchestrated::crc(gpu, file, shape)?;
        orch_cpu.push(process_cpu().saturating_sub(cpu0).as_secs_f64() / gb);
        if c != cpu_crc {
            anyhow::bail!(
                "the CPU-orchestrated CRC-32C {c:08x} differs from the CPU's {cpu_crc:08x}"
            );
        }
        orch_times.push(d);
    }
    // The host's copy ceiling into the same memory as gdio's READ windows.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let mut ceiling_times = Vec::new();
    let mut ceiling_cpu = Vec::new();
    for _ in 0..cfg.reps {
        let (d, cpu) = orchestrated::pread_ceiling(gpu, file, threads, 1 << 20)?;
        ceiling_times.push(d);
        ceiling_cpu.push(cpu.as_secs_f64() / gb);
    }
    let fio_args = fio::bench_args(file, "read", "1m", 1, cfg.fio_runtime);
    let fio_r = fio::run(&cfg.fio, &fio_args);
    let (gs, os) = (rates(len, &gdio_times), rates(len, &orch_times));
    let (g, o) = (gs.median, os.median);
    let c = bytes_per_sec(len, cpu_time);
    let mut t = Table::new(
        &format!(
            "2. Streaming a {} file (page cache), median of {} runs",
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
    let gdio_label = format!(
        "gdio sum: shader streams via pump, CRC-32C ({} lanes × 2 × {})",
        shape.lanes,
        bytes(u64::from(shape.chunk))
    );
    t.row(vec![
        gdio_label,
        rate_of(g),
        gs.range(rate_of),
        cpu_of(&gdio_cpu),
        "1.00×".into(),
    ]);
    gs.warn_if_disagreeing(&mut t, "gdio sum", rate_of);
    t.note(pump_note("gdio sum", &gdio_pump));
    let mut chart = Chart::new(
        &format!("Streaming {} (higher is better)", bytes(len)),
        "bytes per second",
        rate_of,
    );
    chart.bar("gdio sum (GPU CRC-32C)", g, rate_of(g));
    let fio_bps = match &fio_r {
        Ok(f) => {
            t.row(vec![
                "fio io_uring read bs=1m into host memory (no GPU)".into(),
                rate_of(f.bytes_per_sec),
                "-".into(),
                "-".into(),
                ratio(g, f.bytes_per_sec),
            ]);
            chart.bar(
                "fio read 1m (host memory)",
                f.bytes_per_sec,
                rate_of(f.bytes_per_sec),
            );
            Some(f.bytes_per_sec)
        }
        Err(e) => {
            t.row(vec![
                "fio io_uring read bs=1m".into(),
                "skipped".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
            t.note(fio_note(e));
            None
        }
    };
    t.row(vec![
        "CPU-orchestrated Vulkan: pread → dispatch CRC → fence, repeat".into(),
        rate_of(o),
        os.range(rate_of),
        cpu_of(&orch_cpu),
        ratio(g, o),
    ]);
    os.warn_if_disagreeing(&mut t, "the CPU-orchestrated loop", rate_of);
    chart.bar("CPU-orchestrated Vulkan", o, rate_of(o));
    // Direct IO, where the device's READ windows can be pinned: gdio against fio --direct=1.
    let direct_shape = StreamShape {
        chunk: shape.chunk.next_multiple_of(4096),
        ..shape
    };
    let direct = stream_runs(
        gpu,
        direct_shape,
        WindowKind::Mapped,
        true,
        file,
        cfg.reps,
        cpu_crc,
    );
    // gdio's O_DIRECT rows (mapped and device-local windows), set against one fio --direct=1
    // read run after them whenever any of them ran.
    let mut direct_rows: Vec<(&str, f64)> = Vec::new();
    let mut direct_data = match direct {
        Ok((times, cpu, report)) => {
            let ds = rates(len, &times);
            t.row(vec![
                format!(
                    "gdio sum, O_DIRECT ({} lanes × 2 × {})",
                    direct_shape.lanes,
                    bytes(u64::from(direct_shape.chunk))
                ),
                rate_of(ds.median),
                ds.range(rate_of),
                cpu_of(&cpu),
                ratio(g, ds.median),
            ]);
            chart.bar("gdio sum, O_DIRECT", ds.median, rate_of(ds.median));
            direct_rows.push(("gdio sum, O_DIRECT", ds.median));
            t.note(pump_note("gdio sum, O_DIRECT", &report));
            json!({ "bytes_per_sec": ds.median, "spread": ds, "pump": pump_json(&report) })
        }
        Err(e) => {
            t.row(vec![
                format!("gdio sum, O_DIRECT: not offered here: {e:#}"),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
            json!({ "error": format!("{e:#}") })
        }
    };
    let cs = rates(len, &ceiling_times);
    t.row(vec![
        format!(
            "host copy ceiling: {threads} threads pread 1 MiB blocks into {} memory (no GPU)",
            gpu.plan.read_window.name()
        ),
        rate_of(cs.median),
        cs.range(rate_of),
        cpu_of(&ceiling_cpu),
        ratio(g, cs.median),
    ]);
    cs.warn_if_disagreeing(&mut t, "the copy ceiling", rate_of);
    chart.bar(
        format!("copy ceiling ({threads} threads)"),
        cs.median,
        rate_of(cs.median),
    );
    // Device-local windows, filled by the copy queue from registered staging: through the page
    // cache and with O_DIRECT, beside the two ceilings that bound them (the host's preads into
    // host memory like the staging, and the copy queue by itself).
    let mut device_data = serde_json::Map::new();
    for (direct, label, key) in [
        (
            false,
            "gdio sum, device-local windows: READ_FIXED into staging, copy queue → window",
            "page_cache",
        ),
        (true, "gdio sum, device-local windows, O_DIRECT", "direct"),
    ] {
        // The device-local windows' own default shape (whole 4 KiB blocks for O_DIRECT too).
        let sh = StreamShape::defaults_for(gpu, WindowKind::Device);
        match stream_runs(gpu, sh, WindowKind::Device, direct, file, cfg.reps, cpu_crc) {
            Ok((times, cpu, report)) => {
                let ds = rates(len, &times);
                let in_order: Vec<f64> =
                    times.iter().map(|d| len as f64 / d.as_secs_f64()).collect();
                let listed: Vec<String> = in_order.iter().map(|&r| rate_of(r)).collect();
                t.note(format!(
                    "{}; its runs in order: {}",
                    pump_note(label, &report),
                    listed.join(", ")
                ));
                if direct {
                    direct_rows.push((label, ds.median));
                }
                t.row(vec![
                    format!(
                        "{label} ({} lanes × 2 × {})",
                        sh.lanes,
                        bytes(u64::from(sh.chunk))
                    ),
                    rate_of(ds.median),
                    ds.range(rate_of),
                    cpu_of(&cpu),
                    ratio(g, ds.median),
                ]);
                ds.warn_if_disagreeing(&mut t, label, rate_of);
                chart.bar(
                    if direct {
                        "gdio sum, device-local, O_DIRECT"
                    } else {
                        "gdio sum, device-local windows"
                    },
                    ds.median,
                    rate_of(ds.median),
                );
                device_data.insert(
                    key.into(),
                    json!({ "bytes_per_sec": ds.median, "spread": ds, "runs_in_order": in_order, "cpu_seconds_per_gb": Spread::of(&cpu).median, "pump": pump_json(&report) }),
                );
            }
            Err(e) => {
                t.row(vec![
                    format!("{label}: not offered here: {}", e.root_cause()),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
                device_data.insert(key.into(), json!({ "error": format!("{e:#}") }));
            }
        }
    }
    if device_data
        .values()
        .any(|v| v.get("bytes_per_sec").is_some())
    {
        let sh = StreamShape::defaults_for(gpu, WindowKind::Device);
        let ceilings = device_ceilings(gpu, cfg, file, threads, sh.chunk, g, &mut t)?;
        device_data.insert("ceilings".into(), ceilings);
    }
    if !direct_rows.is_empty() {
        let mut args = fio::bench_args(file, "read", "1m", 1, cfg.fio_runtime);
        args.push("--direct=1".into());
        match fio::run(&cfg.fio, &args) {
            Ok(f) => {
                t.row(vec![
                    "fio io_uring read bs=1m --direct=1 (no GPU)".into(),
                    rate_of(f.bytes_per_sec),
                    "-".into(),
                    "-".into(),
                    ratio(g, f.bytes_per_sec),
                ]);
                chart.bar(
                    "fio read 1m, direct",
                    f.bytes_per_sec,
                    rate_of(f.bytes_per_sec),
                );
                for (row, bps) in &direct_rows {
                    t.note(format!(
                        "O_DIRECT: {row} ÷ fio --direct=1 = {}",
                        ratio(*bps, f.bytes_per_sec)
                    ));
                }
                direct_data["fio_bytes_per_sec"] = json!(f.bytes_per_sec);
            }
            Err(e) => t.note(fio_note(&e)),
        }
        direct_data["fio_args"] = json!(args);
    }
    // Every other window mode, for comparison: the same stream into windows placed elsewhere.
    // A mode that fails the freshness probe on this device shows it here as a wrong CRC.
    let mut modes = Vec::new();
    // The freshness probe's verdict per placement (a window reused within a dispatch).
    let probe = gdio::probe(&gpu.ctx, &ProbeOptions::for_device(gpu.ctx.info()));
    let verdict = |p: Placement| -> &'static str {
        match &probe {
            Ok(r) => match r
                .modes
                .iter()
                .find(|m| m.placement == p)
                .map(|m| &m.freshness)
            {
                Some(Ok(f)) if f.passed() => "freshness probe passes",
                Some(Ok(_)) => "freshness probe FAILS: not used",
                _ => "freshness probe did not run",
            },
            Err(_) => "freshness probe did not run",
        }
    };
    for p in Placement::ALL {
        if p == gpu.plan.read_window {
            continue;
        }
        let other = gpu.with_read_window(p);
        let measured = (|| -> Result<(Vec<Duration>, u32)> {
            let mut st = Streamer::new(&other, shape)?;
            gpu.raise_clock(RAISE_CLOCK)?;
            let mut times = Vec::new();
            let mut crc = 0;
            for _ in 0..cfg.reps {
                let s = st.sum(file, |_, _| {})?;
                crc = s.crc32c;
                times.push(s.elapsed);
            }
            st.finish()?;
            Ok((times, crc))
        })();
        let label = format!(
            "gdio sum, windows in {} ({})",
            p.name(),
            if p == Placement::DeviceLocalHostVisible {
                "plain READ"
            } else {
                "READ_FIXED where the kernel pins it"
            }
        );
        match measured {
            Ok((times, crc)) => {
                let ms = rates(len, &times);
                let bps = ms.median;
                let fresh = crc == cpu_crc;
                t.row(vec![
                    format!(
                        "{label}: CRC {}; {}",
                        if fresh { "equal" } else { "WRONG (stale data)" },
                        verdict(p)
                    ),
                    rate_of(bps),
                    ms.range(rate_of),
                    "-".into(),
                    ratio(g, bps),
                ]);
                ms.warn_if_disagreeing(&mut t, &format!("windows in {}", p.name()), rate_of);
                modes.push(json!({
                    "placement": p.name(), "bytes_per_sec": bps, "spread": ms,
                    "seconds": times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                    "crc32c": format!("{crc:08x}"), "crc_equal": fresh,
                    "freshness_probe": verdict(p),
                }));
            }
            Err(e) => {
                t.row(vec![
                    format!("{label}: {e:#}"),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
                modes.push(json!({ "placement": p.name(), "error": format!("{e:#}") }));
            }
        }
    }
    t.note(format!(
        "window modes: the first row uses this device's plan ({}); the other placements are measured for comparison. A mode the freshness probe fails (a 64 KiB window rewritten and reread within one dispatch reads stale) is not safe even where this stream's CRC came out right: here each window is reused only after the rest of the ring (lanes × 2 × chunk) went through, which can evict the GPU's cached copy",
        gpu.plan.read_window.name()
    ));
    t.row(vec![
        "CPU only: crc32c crate (SSE4.2), for scale".into(),
        rate_of(c),
        "-".into(),
        "-".into(),
        ratio(g, c),
    ]);
    chart.bar("CPU CRC-32C (for scale)", c, rate_of(c));
    t.note(format!(
        "the plan's gdio CRC-32C and the orchestrated one equal the CPU's: {cpu_crc:08x}; fio: fio {}",
        fio_args.join(" ")
    ));
    t.note("every GPU row starts after a 0.3 s full load of the GPU (busy.comp), so that it runs at the clock the GPU boosts to under load, not the one it idles at after the host-only rows");
    t.note("CPU s/GB: the process's CPU time (every thread, user and system) per GB streamed; with a GPU it includes the thread that spins on the dispatch's fence and a spinning pump (on lavapipe also the shader, which runs on the CPU)");
    t.note(format!(
        "the CPU-orchestrated loop reads {} per dispatch (the same lanes × chunk the gdio shader has in flight) with one thread, no overlap",
        bytes(u64::from(shape.lanes) * u64::from(shape.chunk))
    ));
    Ok(Section {
        key: "streaming",
        table: t,
        chart: Some(chart),
        data: json!({
            "file_bytes": len,
            "chunk": shape.chunk,
            "lanes": shape.lanes,
            "crc32c": format!("{cpu_crc:08x}"),
            "gdio_seconds": gdio_times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            "orchestrated_seconds": orch_times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            "cpu_crc_seconds": cpu_time.as_secs_f64(),
            "statistic": "median of the runs (spread: min, max)",
            "gdio_bytes_per_sec": g,
            "gdio_pump": pump_json(&gdio_pump),
            "gdio_spread": gs,
            "gdio_bytes_per_sec_best": bytes_per_sec(len, best(&gdio_times)),
            "window_modes": modes,
            "window_placement": gpu.plan.read_window.name(),
            "orchestrated_bytes_per_sec": o,
            "orchestrated_spread": os,
            "orchestrated_bytes_per_sec_best": bytes_per_sec(len, best(&orch_times)),
            "fio_bytes_per_sec": fio_bps,
            "direct": direct_data,
            "device_windows": device_data,
            "ceiling_threads": threads,
            "ceiling_bytes_per_sec": cs.median,
            "ceiling_spread": cs,
            "gdio_over_ceiling": g / cs.median,
            "cpu_seconds_per_gb": {
                "gdio": Spread::of(&gdio_cpu).median,
                "orchestrated": Spread::of(&orch_cpu).median,
                "ceiling": Spread::of(&ceiling_cpu).median,
            },
            "fio_args": fio_args,
            "gdio_over_fio": fio_bps.map(|f| g / f),
            "gdio_over_orchestrated": g / o,
        }),
    })
}

/// The bounds of streaming through device-local windows, each measured without gdio, as rows
/// of `t` (ratios against `g`, gdio's mapped stream): the host's preads into host-cached memory
/// like the staging, the copy queue alone with copies of the stream's `chunk`, the copy queue
/// while `threads` threads pread beside it, and the whole pipeline (threads pread into
/// staging, the copy queue copies on) with `threads` and half as many threads.
fn device_ceilings(
    gpu: &Gpu,
    cfg: &Config,
    file: &Path,
    threads: u32,
    chunk: u32,
    g: f64,
    t: &mut Table,
) -> Result<serde_json::Value> {
    let len = std::fs::metadata(file)?.len();
    let gb = len as f64 / 1e9;
    let host = gpu.with_read_window(Placement::HostCached);
    let (mut host_times, mut host_cpu) = (Vec::new(), Vec::new());
    for _ in 0..cfg.reps {
        let (d, cpu) = orchestrated::pread_ceiling(&host, file, threads, 1 << 20)?;
        host_times.push(d);
        host_cpu.push(cpu.as_secs_f64() / gb);
    }
    let hs = rates(len, &host_times);
    t.row(vec![
        format!("host copy ceiling: {threads} threads pread 1 MiB blocks into host-cached memory (no GPU)"),
        rate_of(hs.median),
        hs.range(rate_of),
        cpu_of(&host_cpu),
        ratio(g, hs.median),
    ]);
    let total = if cfg.quick { 256 << 20 } else { 8u64 << 30 };
    let copy = u64::from(chunk);
    let batch_of = |copy: u64| ((64 << 20) / copy).max(1) as usize;
    let mut alone_json = Vec::new();
    let mut sizes = vec![copy];
    if copy != 1 << 20 {
        sizes.push(1 << 20);
    }
    for size in sizes {
        let mut alone = Vec::new();
        for _ in 0..cfg.reps {
            alone.push(copy_ceiling::copy_queue_ceiling(
                gpu,
                total,
                256 << 20,
                size,
                batch_of(size),
            )?);
        }
        let qs = rates(total, &alone);
        t.row(vec![
            format!("copy queue alone: host-cached staging → device-local, {} copies, {} per batch (no file)", bytes(size), batch_of(size)),
            rate_of(qs.median),
            qs.range(rate_of),
            "-".into(),
            ratio(g, qs.median),
        ]);
        alone_json.push(json!({ "copy_bytes": size, "batch": batch_of(size), "bytes_per_sec": qs.median, "spread": qs }));
    }
    let (mut beside, mut beside_reads) = (Vec::new(), Vec::new());
    for _ in 0..cfg.reps {
        let (d, reads) = copy_ceiling::copy_queue_beside_preads(gpu, file, threads, total, copy)?;
        beside.push(d);
        beside_reads.push(reads);
    }
    let bs = rates(total, &beside);
    let reads = Spread::of(&beside_reads);
    t.row(vec![
        format!("copy queue, {} copies, while {threads} threads pread 1 MiB blocks into other host-cached memory (they moved {} meanwhile)", bytes(copy), rate_of(reads.median)),
        rate_of(bs.median),
        bs.range(rate_of),
        "-".into(),
        ratio(g, bs.median),
    ]);
    let mut pipelines = Vec::new();
    for n in [threads, (threads / 2).max(1)] {
        let (mut times, mut cpu) = (Vec::new(), Vec::new());
        for _ in 0..cfg.reps {
            let (d, c) = copy_ceiling::staged_pipeline(gpu, file, n, chunk, 256 << 20)?;
            times.push(d);
            cpu.push(c.as_secs_f64() / gb);
        }
        let ps = rates(len, &times);
        t.row(vec![
            format!("file → device-local without gdio: {n} threads pread {} blocks into 256 MiB of host-cached staging, the copy queue copies each on (no shader)", bytes(copy)),
            rate_of(ps.median),
            ps.range(rate_of),
            cpu_of(&cpu),
            ratio(g, ps.median),
        ]);
        ps.warn_if_disagreeing(t, "the staged pipeline", rate_of);
        pipelines.push(
            json!({ "threads": n, "bytes_per_sec": ps.median, "spread": ps,
                               "cpu_seconds_per_gb": Spread::of(&cpu).median }),
        );
    }
    Ok(
        json!({ "host_pread_bytes_per_sec": hs.median, "host_pread_spread": hs,
               "host_pread_cpu_seconds_per_gb": Spread::of(&host_cpu).median,
               "copy_queue_alone": alone_json,
               "copy_queue_beside_preads_bytes_per_sec": bs.median,
               "copy_queue_beside_preads_spread": bs, "preads_beside_copies": reads,
               "staged_pipelines": pipelines }),
    )
}

/// Section 3.
pub fn random(gpu: &Gpu, cfg: &Config, file: &Path) -> Result<Section> {
    let lanes = cfg.random_lanes;
    let r = random::run_queues(gpu, file, 1, lanes, cfg.random_reads, 4096, 1)?;
    if r.mismatches > 0 {
        anyhow::bail!(
            "{} words read by the shader did not match the file",
            r.mismatches
        );
    }
    let iops = r.reads as f64 / r.elapsed.as_secs_f64().max(1e-9);
    let fio_args = fio::bench_args(file, "randread", "4k", lanes, cfg.fio_runtime);
    let fio_r = fio::run(&cfg.fio, &fio_args);
    let mut t = Table::new(
        &format!("3. Random 4 KiB reads, queue depth {lanes}"),
        &["method", "IOPS", "gdio ÷ this"],
    );
    t.row(vec![
        format!("gdio: {lanes} shader lanes, one READ in flight each, data checked"),
        per_sec(iops),
        "1.00×".into(),
    ]);
    let mut chart = Chart::new(
        &format!("Random 4 KiB reads at depth {lanes} (higher is better)"),
        "reads per second",
        per_sec,
    );
    chart.bar("gdio shader lanes", iops, per_sec(iops));
    let fio_iops = match &fio_r {
        Ok(f) => {
            t.row(vec![
                format!("fio io_uring randread bs=4k iodepth={lanes}"),
                per_sec(f.iops),
                ratio(iops, f.iops),
            ]);
            chart.bar("fio randread", f.iops, per_sec(f.iops));
            Some(f.iops)
        }
        Err(e) => {
            t.row(vec!["fio randread".into(), "skipped".into(), "-".into()]);
            t.note(fio_note(e));
            None
        }
    };
    t.note(format!(
        "{} reads in {:.3} s; fio {}",
        r.reads,
        r.elapsed.as_secs_f64(),
        fio_args.join(" ")
    ));
    Ok(Section {
        key: "random",
        table: t,
        chart: Some(chart),
        data: json!({
            "lanes": lanes,
            "reads": r.reads,
            "seconds": r.elapsed.as_secs_f64(),
            "gdio_iops": iops,
            "fio_iops": fio_iops,
            "fio_args": fio_args,
            "gdio_over_fio": fio_iops.map(|f| iops / f),
        }),
    })
}
