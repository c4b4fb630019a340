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

/// Runs `fio` with `args` (which must ask for `--output-format=json`) and returns what it
/// measured for the first job's reads.
pub fn run(fio: &Path, args: &[String]) -> Result<FioResult, FioError> {
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
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// What fio's JSON output (`--output-format=json`) says of the first job's reads. fio may print
/// notes before the JSON object.
pub fn parse(text: &str) -> Result<FioResult, FioError> {
    let start = text
        .find('{')
        .ok_or_else(|| FioError::Output("no JSON".into()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text[start..]).map_err(|e| FioError::Output(e.to_string()))?;
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
