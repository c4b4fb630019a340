//! Shared by gdio's side-by-side benchmarks (`cargo xtask bench uring|pump`): the cases, the
//! page-cached test file, fio with the io_uring engine as the baseline, and the result table.
//!
//! Environment: `GDIO_BENCH_FILE_MB` (default 1024), `GDIO_BENCH_SECS` (default 3 per case),
//! `GDIO_BENCH_QUICK=1` (64 MiB, 0.5 s: a CI smoke run), `GDIO_BENCH_OUT=path.json`.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// One benchmark case: a read pattern, block size and queue depth.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Name in the table.
    pub name: &'static str,
    /// Random offsets (else sequential).
    pub random: bool,
    /// Block size in bytes.
    pub bs: u32,
    /// Requests in flight.
    pub qd: u32,
}

/// The standard cases: 4 KiB random reads at QD 32 and 128, 1 MiB sequential reads at QD 8.
pub const CASES: [Case; 3] = [
    Case {
        name: "4k randread QD32",
        random: true,
        bs: 4096,
        qd: 32,
    },
    Case {
        name: "4k randread QD128",
        random: true,
        bs: 4096,
        qd: 128,
    },
    Case {
        name: "1m seqread QD8",
        random: false,
        bs: 1 << 20,
        qd: 8,
    },
];

/// Measured throughput.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rate {
    /// Operations per second.
    pub iops: f64,
    /// MiB per second.
    pub mib_s: f64,
}

/// The run's settings, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Smoke mode.
    pub quick: bool,
    /// Seconds per case.
    pub secs: f64,
    /// Test file size in bytes.
    pub file_bytes: u64,
    /// Where to write the JSON, if anywhere.
    pub out: Option<PathBuf>,
}

impl Settings {
    /// Reads the environment.
    #[must_use]
    pub fn from_env() -> Settings {
        let quick = std::env::var("GDIO_BENCH_QUICK").is_ok_and(|v| v == "1");
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
        let file_mb = if quick {
            64.0
        } else {
            num("GDIO_BENCH_FILE_MB").unwrap_or(1024.0)
        };
        let secs = if quick {
            0.5
        } else {
            num("GDIO_BENCH_SECS").unwrap_or(3.0)
        };
        Settings {
            quick,
            secs,
            file_bytes: (file_mb as u64) << 20,
            out: std::env::var_os("GDIO_BENCH_OUT").map(PathBuf::from),
        }
    }

    /// Creates (if needed) and warms the test file under /var/tmp; returns its path.
    #[must_use]
    pub fn prepare_file(&self, tag: &str) -> PathBuf {
        let path = PathBuf::from(format!(
            "/var/tmp/gdio-bench-{tag}-{}m",
            self.file_bytes >> 20
        ));
        if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(self.file_bytes) {
            create_file(&path, self.file_bytes);
        }
        warm(&path);
        path
    }
}

/// Writes `size` bytes of pseudo-random data (a multiple of 1 MiB) to `path`.
pub fn create_file(path: &Path, size: u64) {
    let mut f = std::fs::File::create(path).expect("create the bench file under /var/tmp");
    let mut chunk = vec![0u8; 1 << 20];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in chunk.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
    }
    for _ in 0..size >> 20 {
        f.write_all(&chunk).expect("write the bench file");
    }
}

/// Reads the whole file once so it sits in the page cache.
pub fn warm(path: &Path) {
    let mut f = std::fs::File::open(path).expect("open the bench file");
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).expect("read the bench file") > 0 {}
}

/// A xorshift offset generator over `blocks` blocks of `bs` bytes (random or sequential).
#[derive(Debug, Clone)]
pub struct Offsets {
    rng: u64,
    seq: u64,
    blocks: u64,
    bs: u64,
    random: bool,
}

impl Offsets {
    /// Offsets for `case` over a file of `size` bytes.
    #[must_use]
    pub fn new(case: &Case, size: u64) -> Offsets {
        Offsets {
            rng: 0x2545_F491_4F6C_DD1D,
            seq: 0,
            blocks: (size / u64::from(case.bs)).max(1),
            bs: u64::from(case.bs),
            random: case.random,
        }
    }
}

impl Iterator for Offsets {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        let block = if self.random {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng % self.blocks
        } else {
            self.seq += 1;
            (self.seq - 1) % self.blocks
        };
        Some(block * self.bs)
    }
}

/// The fio job of the side-by-side benchmarks (without the binary): the io_uring engine with
/// fixed buffers and registered files, page cache kept (`--invalidate=0`), one job, reading as
/// `c` says for `secs` seconds.
#[must_use]
pub fn fio_args(path: &Path, c: &Case, secs: f64) -> Vec<String> {
    vec![
        "--name=x".into(),
        format!("--filename={}", path.display()),
        "--ioengine=io_uring".into(),
        "--fixedbufs".into(),
        "--registerfiles".into(),
        "--invalidate=0".into(),
        "--direct=0".into(),
        if c.random {
            "--rw=randread"
        } else {
            "--rw=read"
        }
        .into(),
        format!("--bs={}", c.bs),
        format!("--iodepth={}", c.qd),
        "--time_based".into(),
        format!("--runtime={}ms", (secs * 1000.0) as u64),
        "--numjobs=1".into(),
        "--output-format=json".into(),
    ]
}

/// fio running [`fio_args`] (through gdio-workloads' runner): the baseline. `None` (with a
/// message) if fio is missing or failed.
#[must_use]
pub fn fio(path: &Path, c: &Case, secs: f64) -> Option<Rate> {
    match gdio_workloads::fio::run(Path::new("fio"), &fio_args(path, c, secs)) {
        Ok(r) => Some(Rate {
            iops: r.iops,
            mib_s: r.bytes_per_sec / (1u64 << 20) as f64,
        }),
        Err(e) => {
            eprintln!("fio: {e}");
            None
        }
    }
}

/// One row of the result table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The case.
    pub case: Case,
    /// gdio's rate.
    pub gdio: Rate,
    /// fio's rate, if fio ran.
    pub fio: Option<Rate>,
    /// Extra columns (name, value), e.g. CPU time per request.
    pub extra: Vec<(&'static str, String)>,
}

/// Prints the markdown table (IOPS for 4 KiB cases, MiB/s otherwise, and gdio/fio) and writes
/// the JSON to `settings.out` if set.
pub fn report(title: &str, settings: &Settings, rows: &[Row]) {
    println!("\n{title}");
    let extra_names: Vec<&str> = rows
        .first()
        .map(|r| r.extra.iter().map(|e| e.0).collect())
        .unwrap_or_default();
    let mut header = "| case | gdio | fio | gdio/fio |".to_string();
    for n in &extra_names {
        header.push_str(&format!(" {n} |"));
    }
    println!("{header}");
    println!("|{}", "---|".repeat(4 + extra_names.len()));
    let mut json = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        let (unit, g, f) = if r.case.bs <= 65_536 {
            ("IOPS", r.gdio.iops, r.fio.map(|x| x.iops))
        } else {
            ("MiB/s", r.gdio.mib_s, r.fio.map(|x| x.mib_s))
        };
        let fio_s = f.map_or("n/a".to_string(), |v| format!("{v:.0} {unit}"));
        let ratio = f.map_or("n/a".to_string(), |v| format!("{:.2}", g / v));
        let mut line = format!("| {} | {g:.0} {unit} | {fio_s} | {ratio} |", r.case.name);
        for (_, v) in &r.extra {
            line.push_str(&format!(" {v} |"));
        }
        println!("{line}");
        json.push_str(&format!(
            "{}\n  {{\"case\": \"{}\", \"gdio_iops\": {:.1}, \"gdio_mib_s\": {:.1}, \"fio_iops\": {}, \"fio_mib_s\": {}}}",
            if i > 0 { "," } else { "" },
            r.case.name,
            r.gdio.iops,
            r.gdio.mib_s,
            r.fio.map_or("null".into(), |x| format!("{:.1}", x.iops)),
            r.fio.map_or("null".into(), |x| format!("{:.1}", x.mib_s)),
        ));
    }
    json.push_str("\n]\n");
    if let Some(out) = &settings.out {
        std::fs::write(out, json).expect("write GDIO_BENCH_OUT");
        eprintln!("wrote {}", out.display());
    }
}
