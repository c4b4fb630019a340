//! fio (Debian's `fio`) as a baseline: running a job and reading what it measured from its
//! JSON. The one runner of `gdio bench` and of gdio-uring's and gdio-pump's side-by-side
//! benchmarks (through gdio-bench-support); each keeps its own job's flags.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// What fio measured for the job's reads.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FioResult {
    /// Read bandwidth, bytes per second.
    pub bytes_per_sec: f64,
    /// Read IOPS.
    pub iops: f64,
}

/// Why fio gave no result.
#[derive(Debug, thiserror::Error)]
pub enum FioError {
    /// The binary could not be started (not installed, not executable).
    #[error("cannot run {}: {source} (Debian/Ubuntu: apt-get install fio)", .fio.display())]
    NotRunnable {
        /// The binary.
        fio: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// fio ran and failed.
    #[error("fio failed ({status}): {stderr}")]
    Failed {
        /// Its exit status.
        status: ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// fio's output was not the JSON of a job that read.
    #[error("fio's output: {0}")]
    Output(String),
}

/// `gdio bench`'s fio job (without the binary), for running and for reports: `rw` (`read`,
/// `randread`) in blocks of `bs` (`1m`, `4k`) at `iodepth` for `runtime_s` seconds through the
/// io_uring engine, page cache kept.
#[must_use]
pub fn bench_args(file: &Path, rw: &str, bs: &str, iodepth: u32, runtime_s: u32) -> Vec<String> {
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

/// `gdio bench`'s fio write job: `size` bytes written once, sequentially in 1 MiB blocks,
/// through the io_uring engine at depth 1, and one fsync at the end (`--end_fsync=1`: the
/// durability `gdio write` has); with `direct`, `--direct=1` (the size must then be a multiple
/// of 4 KiB).
#[must_use]
pub fn write_args(file: &Path, size: u64, direct: bool) -> Vec<String> {
    vec![
        "--name=gdio-bench-write".into(),
        format!("--filename={}", file.display()),
        "--ioengine=io_uring".into(),
        "--rw=write".into(),
        "--bs=1m".into(),
        "--iodepth=1".into(),
        format!("--size={size}"),
        "--end_fsync=1".into(),
        format!("--direct={}", u8::from(direct)),
        "--output-format=json".into(),
    ]
}

/// What fio measured for a write job ([`write_args`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FioWrite {
    /// Bytes written.
    pub bytes: u64,
    /// The write phase's runtime, the final fsync included, in seconds.
    pub seconds: f64,
    /// Bytes per second over `seconds`.
    pub bytes_per_sec: f64,
    /// fio's user plus system CPU seconds for the job.
    pub cpu_seconds: f64,
}

/// Runs a write job ([`write_args`]) and returns what fio measured.
pub fn run_write(fio: &Path, args: &[String]) -> Result<FioWrite, FioError> {
    parse_write(&output(fio, args)?)
}

/// What fio's JSON says of the first job's writes. The write phase's runtime includes the end
/// fsync (1 GiB on the 2-core test machine: 1.08 s without `--end_fsync`, 3.53 s with).
pub fn parse_write(text: &str) -> Result<FioWrite, FioError> {
    let v = json(text)?;
    let job = &v["jobs"][0];
    let number = |v: &serde_json::Value, what: &str| {
        v.as_f64()
            .ok_or_else(|| FioError::Output(format!("no jobs[0].{what}")))
    };
    let bytes = number(&job["write"]["io_bytes"], "write.io_bytes")?;
    let runtime_ms = number(&job["write"]["runtime"], "write.runtime")?;
    let job_ms = job["job_runtime"].as_f64().unwrap_or(runtime_ms);
    let cpu_pct = number(&job["usr_cpu"], "usr_cpu")? + number(&job["sys_cpu"], "sys_cpu")?;
    let seconds = runtime_ms / 1e3;
    Ok(FioWrite {
        bytes: bytes as u64,
        seconds,
        bytes_per_sec: if seconds > 0.0 { bytes / seconds } else { 0.0 },
        cpu_seconds: cpu_pct / 100.0 * job_ms / 1e3,
    })
}

fn output(fio: &Path, args: &[String]) -> Result<String, FioError> {
    let out = Command::new(fio)
        .args(args)
        .output()
        .map_err(|source| FioError::NotRunnable {
            fio: fio.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        return Err(FioError::Failed {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn json(text: &str) -> Result<serde_json::Value, FioError> {
    let start = text
        .find('{')
        .ok_or_else(|| FioError::Output("no JSON".into()))?;
    serde_json::from_str(&text[start..]).map_err(|e| FioError::Output(e.to_string()))
}

/// Runs `fio` with `args` (which must ask for `--output-format=json`) and returns what it
/// measured for the first job's reads.
pub fn run(fio: &Path, args: &[String]) -> Result<FioResult, FioError> {
    parse(&output(fio, args)?)
}

/// What fio's JSON output (`--output-format=json`) says of the first job's reads. fio may print
/// notes before the JSON object.
pub fn parse(text: &str) -> Result<FioResult, FioError> {
    let v = json(text)?;
    let read = &v["jobs"][0]["read"];
    let number = |key: &str| {
        read[key]
            .as_f64()
            .ok_or_else(|| FioError::Output(format!("no jobs[0].read.{key}")))
    };
    Ok(FioResult {
        bytes_per_sec: number("bw_bytes")?,
        iops: number("iops")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_jobs_reads_after_any_notes() {
        let text = r#"note: both iodepth >= 1 and synchronous I/O engine are selected
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "x",
      "read" : { "io_bytes" : 1048576, "bw_bytes" : 2147483648, "iops" : 524288.5 },
      "write" : { "bw_bytes" : 0, "iops" : 0.0 }
    }
  ]
}"#;
        assert_eq!(
            parse(text).unwrap(),
            FioResult {
                bytes_per_sec: 2_147_483_648.0,
                iops: 524_288.5
            }
        );
        assert!(matches!(parse("fio: no"), Err(FioError::Output(_))));
        let w = r#"{"jobs": [{"job_runtime": 2000, "usr_cpu": 10.0, "sys_cpu": 40.0,
            "write": {"io_bytes": 1073741824, "runtime": 2000, "bw_bytes": 536870912}}]}"#;
        assert_eq!(
            parse_write(w).unwrap(),
            FioWrite {
                bytes: 1 << 30,
                seconds: 2.0,
                bytes_per_sec: 536_870_912.0,
                cpu_seconds: 1.0
            }
        );
        assert!(matches!(
            parse_write(r#"{"jobs": [{}]}"#),
            Err(FioError::Output(_))
        ));
        assert!(matches!(parse(r#"{"jobs": []}"#), Err(FioError::Output(_))));
    }

    #[test]
    fn a_missing_binary_says_how_to_install_fio() {
        let e = run(Path::new("/nonexistent/fio"), &[]).unwrap_err();
        assert!(matches!(e, FioError::NotRunnable { .. }));
        assert!(e.to_string().contains("apt-get install fio"), "{e}");
    }

    /// `gdio bench`'s job on a small page-cached file, where fio is installed (the suite's
    /// set-up installs it; without it the test says so and checks nothing more).
    #[test]
    fn the_bench_job_measures_reads() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, &vec![7u8; 1 << 20]).unwrap();
        let args = bench_args(f.path(), "randread", "4k", 4, 1);
        match run(Path::new("fio"), &args) {
            Ok(r) => assert!(r.iops > 0.0 && r.bytes_per_sec > 0.0, "{r:?}"),
            Err(e @ FioError::NotRunnable { .. }) => eprintln!("not run: {e}"),
            Err(e) => panic!("{e}"),
        }
    }
}
