//! Running Debian's fio for the comparison rows, and reading its JSON.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result};

/// What fio measured for the job.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FioResult {
    /// Read bandwidth, bytes per second.
    pub bytes_per_sec: f64,
    /// Read IOPS.
    pub iops: f64,
}

/// The fio command line for a job (without the binary), for reports.
#[must_use]
pub fn args(file: &Path, rw: &str, bs: &str, iodepth: u32, runtime_s: u32) -> Vec<String> {
    vec![
        "--name=gdio-bench".into(),
        format!("--filename={}", file.display()),
        "--ioengine=io_uring".into(),
        "--invalidate=0".into(),
        format!("--rw={rw}"),
        format!("--bs={bs}"),
        format!("--iodepth={iodepth}"),
        "--time_based=1".into(),
        format!("--runtime={runtime_s}"),
        "--output-format=json".into(),
    ]
}

/// Runs fio; `Err` says why it could not (not installed, failed).
pub fn run(fio: &Path, args: &[String]) -> Result<FioResult> {
    let out = Command::new(fio).args(args).output().with_context(|| {
        format!(
            "cannot run {} (install it: apt-get install fio; or pass --fio PATH)",
            fio.display()
        )
    })?;
    if !out.status.success() {
        anyhow::bail!(
            "fio failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // fio may print notes before the JSON object.
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find('{').context("fio printed no JSON")?;
    let v: serde_json::Value =
        serde_json::from_str(&text[start..]).context("parsing fio's JSON")?;
    let read = &v["jobs"][0]["read"];
    Ok(FioResult {
        bytes_per_sec: read["bw_bytes"].as_f64().unwrap_or(0.0),
        iops: read["iops"].as_f64().unwrap_or(0.0),
    })
}
