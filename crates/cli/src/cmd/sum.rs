//! `gdio sum FILE...`: CRC-32C of each file, computed by a shader that streams the file
//! through gdio.

use anyhow::Result;
use serde::Serialize;

use crate::cli::SumArgs;
use crate::error::{usage, CliError, OK};
use crate::gpu::{self, DeviceSummary};
use crate::progress::Reported;
use crate::report;
use crate::units;
use gdio_workloads::sum::{cpu_crc32c, StreamShape, Streamer, WindowKind};
use gdio_workloads::Gpu;

/// One file's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct FileSum {
    /// The path as given.
    pub path: String,
    /// Bytes.
    pub bytes: u64,
    /// CRC-32C (Castagnoli), 8 lowercase hex digits, as `rhash --crc32c` prints it.
    pub crc32c: String,
    /// Seconds on the GPU (first dispatch to last completion).
    pub seconds: f64,
    /// Bytes per second.
    pub bytes_per_sec: f64,
    /// Dispatches (more than one on lavapipe).
    pub dispatches: u32,
    /// The process's CPU seconds (all threads: the pump, io-wq's copies) per GB of the file,
    /// over the whole stream.
    pub cpu_seconds_per_gb: f64,
    /// The CPU's CRC-32C, with `--verify`.
    pub cpu_crc32c: Option<String>,
    /// Whether they agree, with `--verify`.
    pub verified: Option<bool>,
}

/// The whole report.
#[derive(Debug, Serialize)]
struct SumReport {
    device: DeviceSummary,
    windows: &'static str,
    chunk: u32,
    lanes: u32,
    files: Vec<FileSum>,
}

/// Checksums `paths` on `gpu`; with `verify` also on the CPU.
pub fn sum_files(
    gpu: &Gpu,
    shape: StreamShape,
    paths: &[std::path::PathBuf],
    verify: bool,
    direct: bool,
    windows: WindowKind,
    progress: bool,
) -> Result<Vec<FileSum>> {
    let mut streamer = Streamer::with_windows(gpu, shape, windows)?;
    streamer.set_direct(direct)?;
    let mut out = Vec::new();
    for path in paths {
        let mut bar = Reported::new("checksum", true, progress);
        let cpu0 = gdio_workloads::write::process_cpu();
        let s = streamer.sum(path, |done, len| bar.set(done, len));
        let cpu_time = gdio_workloads::write::process_cpu().saturating_sub(cpu0);
        bar.finish();
        let s = s?;
        let cpu = if verify {
            Some(cpu_crc32c(path)?)
        } else {
            None
        };
        out.push(FileSum {
            path: path.display().to_string(),
            bytes: s.bytes,
            crc32c: format!("{:08x}", s.crc32c),
            seconds: s.elapsed.as_secs_f64(),
            bytes_per_sec: units::bytes_per_sec(s.bytes, s.elapsed),
            dispatches: s.dispatches,
            cpu_seconds_per_gb: cpu_time.as_secs_f64() / (s.bytes.max(1) as f64 / 1e9),
            cpu_crc32c: cpu.map(|c| format!("{c:08x}")),
            verified: cpu.map(|c| c == s.crc32c),
        });
    }
    streamer.finish()?;
    Ok(out)
}

/// The streaming shape for `gpu` with the user's `--chunk` and `--lanes` (exit 2 for ones
/// the device cannot take).
pub fn shape(
    gpu: &Gpu,
    windows: WindowKind,
    chunk: Option<u64>,
    lanes: Option<u32>,
) -> Result<StreamShape> {
    let defaults = StreamShape::defaults_for(gpu, windows);
    let chunk = chunk.unwrap_or(u64::from(defaults.chunk));
    let max = StreamShape::max_chunk(gpu);
    if chunk < 16 || chunk % 16 != 0 || chunk > u64::from(max) {
        usage!(
            "--chunk {chunk}: use a multiple of 16 bytes between 16 and {} on this device",
            units::bytes(max.into())
        );
    }
    let lanes = lanes.unwrap_or(defaults.lanes);
    if lanes == 0 || lanes > StreamShape::MAX_LANES {
        usage!("--lanes {lanes}: use 1..={}", StreamShape::MAX_LANES);
    }
    Ok(StreamShape {
        chunk: chunk as u32,
        lanes,
    })
}

/// Runs `gdio sum`.
pub fn run(args: &SumArgs, device: Option<&str>, json: bool) -> Result<i32> {
    for p in &args.files {
        if !p.exists() {
            anyhow::bail!("{}: no such file", p.display());
        }
    }
    let gpu = gpu::open(device)?;
    let windows = WindowKind::parse(&args.windows).expect("clap accepts only known kinds");
    let shape = shape(&gpu, windows, args.chunk, args.lanes)?;
    let files = sum_files(
        &gpu,
        shape,
        &args.files,
        args.verify,
        args.direct,
        windows,
        !json,
    )?;
    if json {
        report::json(&SumReport {
            device: gpu::summary(&gpu),
            windows: windows.name(),
            chunk: shape.chunk,
            lanes: shape.lanes,
            files: files.clone(),
        })?;
    } else {
        eprintln!("{}", gpu::line(&gpu));
        for f in &files {
            let check = match (&f.verified, &f.cpu_crc32c) {
                (Some(true), _) => "  CPU: same".to_string(),
                (Some(false), Some(c)) => format!("  CPU: {c} MISMATCH"),
                _ => String::new(),
            };
            println!(
                "{}  {}  {} ({} B) in {}, {}, host CPU {:.2} s/GB{}",
                f.crc32c,
                f.path,
                units::bytes(f.bytes),
                f.bytes,
                units::nanos(f.seconds * 1e9),
                units::rate_of(f.bytes_per_sec),
                f.cpu_seconds_per_gb,
                check
            );
        }
    }
    let bad: Vec<&str> = files
        .iter()
        .filter(|f| f.verified == Some(false))
        .map(|f| f.path.as_str())
        .collect();
    if !bad.is_empty() {
        return Err(CliError::Mismatch(format!(
            "the GPU's CRC-32C differs from the CPU's for {}",
            bad.join(", ")
        ))
        .into());
    }
    Ok(OK)
}
