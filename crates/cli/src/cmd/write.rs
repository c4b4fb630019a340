//! `gdio write FILE --size BYTES`: a shader fills GPU-visible memory with a pattern and writes
//! it to FILE through gdio, then FSYNCs; `--verify` rereads the file on the CPU.

use anyhow::Result;
use serde::Serialize;

use crate::capacity;
use crate::cli::WriteArgs;
use crate::error::{usage, CliError, OK};
use crate::gpu::{self, DeviceSummary};
use crate::progress::Reported;
use crate::report;
use crate::units;
use gdio_workloads::write::{self, WriteShape, Writer, DIRECT_ALIGN, MAX_LEN};
use gdio_workloads::Gpu;

/// The report.
#[derive(Debug, Serialize)]
struct WriteReport {
    device: DeviceSummary,
    path: String,
    bytes: u64,
    direct: bool,
    chunk: u32,
    lanes: u32,
    /// First dispatch to the last FSYNC seen complete.
    seconds: f64,
    bytes_per_sec: f64,
    /// The process's CPU seconds per GB written (pump, data checks, kernel work).
    cpu_seconds_per_gb: f64,
    dispatches: u32,
    /// With `--verify`: whether the file holds exactly the pattern.
    verified: Option<bool>,
}

/// The write shape for `gpu` with the user's `--chunk` and `--lanes` (exit 2 for ones the
/// device cannot take).
fn shape(gpu: &Gpu, args: &WriteArgs) -> Result<WriteShape> {
    let defaults = WriteShape::defaults(gpu);
    let chunk = args.chunk.unwrap_or(u64::from(defaults.chunk));
    let max = WriteShape::max_chunk(gpu);
    let align = if args.direct { DIRECT_ALIGN } else { 16 };
    if chunk < u64::from(align) || chunk % u64::from(align) != 0 || chunk > u64::from(max) {
        usage!(
            "--chunk {chunk}: use a multiple of {align} bytes between {align} and {} on this device{}",
            units::bytes(max.into()),
            if args.direct { " (direct IO)" } else { "" }
        );
    }
    let lanes = args.lanes.unwrap_or(defaults.lanes);
    Ok(WriteShape {
        chunk: chunk as u32,
        lanes,
    })
}

/// Runs `gdio write`.
pub fn run(args: &WriteArgs, device: Option<&str>, json: bool) -> Result<i32> {
    if args.size > MAX_LEN {
        usage!(
            "--size {}: gdio write makes files of at most {} (the pattern's word index is 32 bits)",
            args.size,
            units::bytes(MAX_LEN)
        );
    }
    let path = &args.file;
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() {
            usage!("{}: not a regular file", path.display());
        }
        if m.len() > 0 && !args.force {
            usage!(
                "{} exists and holds {} bytes: gdio write would replace it; give --force to replace it, or another path",
                path.display(),
                m.len()
            );
        }
    }
    capacity::check_disk(path, Some(args.size), "the file")?;
    let gpu = gpu::open(device)?;
    let shape = shape(&gpu, args)?;
    let windows = gdio_workloads::windows::WindowKind::parse(&args.windows)
        .expect("clap accepts only known kinds");
    let mut writer = Writer::with_windows(&gpu, shape, windows)?;
    let mut bar = Reported::new("write", true, !json);
    let w = writer.write(path, args.size, args.seed, args.direct, |done, len| {
        bar.set(done, len);
    });
    bar.finish();
    let w = w?;
    writer.finish()?;
    let verified = if args.verify {
        Some(write::verify(path, args.size, args.seed)?)
    } else {
        None
    };
    let secs = w.elapsed.as_secs_f64();
    let gb = w.bytes as f64 / 1e9;
    let cpu_per_gb = if gb > 0.0 {
        w.cpu.as_secs_f64() / gb
    } else {
        0.0
    };
    if json {
        report::json(&WriteReport {
            device: gpu::summary(&gpu),
            path: path.display().to_string(),
            bytes: w.bytes,
            direct: args.direct,
            chunk: shape.chunk,
            lanes: shape.lanes,
            seconds: secs,
            bytes_per_sec: units::bytes_per_sec(w.bytes, w.elapsed),
            cpu_seconds_per_gb: cpu_per_gb,
            dispatches: w.dispatches,
            verified: verified.map(|v| v.is_none()),
        })?;
    } else {
        eprintln!("{}", gpu::line(&gpu));
        let check = match verified {
            Some(None) => "  CPU reread: same".to_string(),
            Some(Some(at)) => format!("  CPU reread: DIFFERS at byte {at}"),
            None => String::new(),
        };
        let cpu = if w.bytes >= 1 << 20 {
            format!(", {cpu_per_gb:.2} CPU s/GB")
        } else {
            String::new()
        };
        println!(
            "{}  {} ({} B){} written and synced in {}, {}{cpu}{check}",
            path.display(),
            units::bytes(w.bytes),
            w.bytes,
            if args.direct { " direct" } else { "" },
            units::nanos(secs * 1e9),
            units::rate_of(units::bytes_per_sec(w.bytes, w.elapsed)),
        );
    }
    if let Some(Some(at)) = verified {
        return Err(CliError::Mismatch(format!(
            "{} differs from what the shader wrote, first at byte {at}",
            path.display()
        ))
        .into());
    }
    Ok(OK)
}
