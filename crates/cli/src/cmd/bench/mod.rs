//! `gdio bench --out DIR [--quick] [--verbose]`: the benchmark suite. Every number comes from
//! this run on this machine, except the one quoted CUDA reference (docs/design.md gives its
//! method). Each section prints a table with ratios and, with `--verbose`, the notes that say
//! how each row is measured; `DIR/bench.json` holds everything (notes included) and
//! `DIR/*.svg` plots each section.

mod bfs;
mod btree;
mod cache;
mod gpus;
mod roundtrip;
mod scaling;
mod streaming;
mod svg;
mod write;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::cli::BenchArgs;
use crate::error::OK;
use crate::gpu::{self, DeviceSummary};
use crate::report::{self, Table};

/// Sizes and counts of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// `--quick`.
    pub quick: bool,
    /// NOP round trips per measurement.
    pub nops: u32,
    /// Bytes of the streaming file.
    pub stream_bytes: u64,
    /// Repetitions of each streaming measurement (the median is reported, with min–max).
    pub reps: u32,
    /// fio's runtime per job, seconds.
    pub fio_runtime: u32,
    /// Lanes (= queue depth) of the random-read test.
    pub random_lanes: u32,
    /// READs per lane in the random-read test.
    pub random_reads: u32,
    /// Keys in the B-tree.
    pub btree_keys: u64,
    /// Lookup batches to time.
    pub lookups: Vec<u64>,
    /// Keys of the deep tree (same nodes, fanout 8: more dependent reads per lookup).
    pub deep_keys: u64,
    /// Lookup batches to time on the deep tree.
    pub deep_lookups: Vec<u64>,
    /// Repetitions of each B-tree batch of at most 4,096 lookups (the median is reported, with
    /// min–max); three times as many for batches of at most 64.
    pub btree_reps: u32,
    /// Batches the resident lookup kernel serves per tree (the median is reported).
    pub serve_batches: u32,
    /// Bytes of each file the write section writes.
    pub write_bytes: u64,
    /// Lookup batches of the page-cache section.
    pub cache_lookups: Vec<u64>,
    /// fio binary.
    #[serde(skip)]
    pub fio: PathBuf,
}

impl Config {
    fn new(quick: bool, cpu: bool, fio: PathBuf) -> Config {
        match (quick, cpu) {
            (true, _) => Config {
                quick,
                nops: 20_000,
                stream_bytes: 32 << 20,
                reps: 2,
                fio_runtime: 1,
                random_lanes: 32,
                random_reads: 100,
                btree_keys: 200_000,
                lookups: vec![1, 64, 2048],
                deep_keys: 5_000,
                deep_lookups: vec![1, 64],
                btree_reps: 3,
                serve_batches: 20,
                write_bytes: 32 << 20,
                cache_lookups: vec![64, 2048],
                fio,
            },
            (false, true) => Config {
                quick,
                nops: 100_000,
                stream_bytes: 256 << 20,
                reps: 3,
                fio_runtime: 3,
                random_lanes: 32,
                random_reads: 500,
                btree_keys: 2_000_000,
                lookups: vec![1, 64, 16_384],
                deep_keys: 20_000,
                deep_lookups: vec![1, 64],
                btree_reps: 5,
                serve_batches: 50,
                write_bytes: 256 << 20,
                cache_lookups: vec![64, 4096],
                fio,
            },
            (false, false) => Config {
                quick,
                nops: 200_000,
                stream_bytes: 2 << 30,
                reps: 3,
                fio_runtime: 3,
                random_lanes: 1024,
                random_reads: 200,
                btree_keys: 20_000_000,
                lookups: vec![1, 64, 65_536],
                deep_keys: 200_000,
                deep_lookups: vec![1, 64],
                btree_reps: 7,
                serve_batches: 300,
                write_bytes: 2 << 30,
                cache_lookups: vec![64, 4096, 65_536],
                fio,
            },
        }
    }
}

/// One part of the suite.
pub struct Section {
    /// Key in bench.json and the SVG's file name.
    pub key: &'static str,
    /// What is printed.
    pub table: Table,
    /// The plot.
    pub chart: Option<svg::Chart>,
    /// Raw numbers for bench.json.
    pub data: serde_json::Value,
}

/// The note a section gives when fio gave no result.
fn fio_note(e: &gdio_workloads::fio::FioError) -> String {
    match e {
        gdio_workloads::fio::FioError::NotRunnable { .. } => {
            format!("fio: {e}; or pass --fio PATH")
        }
        _ => format!("fio: {e}"),
    }
}

/// A section to run: its key, its title, and the code.
type Step<'a> = (&'static str, &'a str, &'a dyn Fn() -> Result<Section>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_runs() {
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.min, s.max, s.runs), (3.0, 1.0, 10.0, 4));
        assert!(s.disagrees());
        assert!(!Spread::of(&[2.0, 3.0, 3.9]).disagrees());
        assert!(!Spread::of(&[5.0]).disagrees());
        let ns = |v: f64| format!("{v:.2} µs");
        assert_eq!(Spread::of(&[20.72, 26.38]).range(ns), "20.72–26.38 µs");
        assert_eq!(Spread::of(&[5.0]).range(ns), "-");
        let t = |v: f64| {
            if v < 1.0 {
                format!("{:.0} ns", v * 1e3)
            } else {
                ns(v)
            }
        };
        assert_eq!(Spread::of(&[0.5, 2.0]).range(t), "500 ns–2.00 µs");
        let mut table = Table::new("t", &["a"]);
        Spread::of(&[1.0, 2.5]).warn_if_disagreeing(&mut table, "row", ns);
        assert_eq!(table.warnings.len(), 1);
        assert!(table.render(false).contains("warning: row: its 2 runs"));
        table.note("how");
        assert!(!table.render(false).contains("note: how"));
        assert!(table.render(true).contains("note: how"));
    }
}

#[derive(Serialize)]
struct BenchReport<'a> {
    device: DeviceSummary,
    config: &'a Config,
    seconds: f64,
    sections: serde_json::Map<String, serde_json::Value>,
    tables: Vec<Table>,
    files: Vec<String>,
}

fn section_or_note(key: &'static str, title: &str, r: Result<Section>) -> Section {
    r.unwrap_or_else(|e| {
        let mut table = Table::new(title, &["result"]);
        table.row(vec![format!("FAILED: {e:#}")]);
        Section {
            key,
            table,
            chart: None,
            data: serde_json::json!({ "error": format!("{e:#}") }),
        }
    })
}

/// Repeated measurements of one quantity (a row measured several times).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    /// The median (the upper of the middle two for an even count).
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// How many.
    pub runs: usize,
}

impl Spread {
    /// The spread of `values` (all zero when empty).
    #[must_use]
    pub fn of(values: &[f64]) -> Spread {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        Spread {
            median: v.get(v.len() / 2).copied().unwrap_or(0.0),
            min: v.first().copied().unwrap_or(0.0),
            max: v.last().copied().unwrap_or(0.0),
            runs: v.len(),
        }
    }

    /// "min–max" in the unit `fmt` writes ("20.72–26.38 µs"), or "-" for a single run.
    pub fn range(&self, fmt: impl Fn(f64) -> String) -> String {
        if self.runs < 2 {
            return "-".into();
        }
        let (lo, hi) = (fmt(self.min), fmt(self.max));
        match (lo.split_once(' '), hi.split_once(' ')) {
            (Some((l, lu)), Some((_, hu))) if lu == hu => format!("{l}–{hi}"),
            _ => format!("{lo}–{hi}"),
        }
    }

    /// Whether the runs disagree by more than 2× (the largest over the smallest).
    #[must_use]
    pub fn disagrees(&self) -> bool {
        self.runs > 1 && self.min > 0.0 && self.max > 2.0 * self.min
    }

    /// Adds a warning to `t` when the runs of `what` disagree by more than 2×: a median of
    /// runs that far apart says little about either side.
    pub fn warn_if_disagreeing(&self, t: &mut Table, what: &str, fmt: impl Fn(f64) -> String) {
        if self.disagrees() {
            t.warn(format!(
                "{what}: its {} runs disagree by more than 2× ({}); the median is shown (was the machine busy?)",
                self.runs,
                self.range(fmt)
            ));
        }
    }
}

/// Full GPU load before each latency measurement (`Gpu::raise_clock`): sections 1 and 4.
pub const CLOCK_WARMUP: std::time::Duration = std::time::Duration::from_millis(300);

/// Runs `gdio bench`.
pub fn run(args: &BenchArgs, device: Option<&str>, json: bool) -> Result<i32> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let tmp;
    let data_dir: PathBuf = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            // Next to the output, not in /tmp: tmpfs would measure memory copies, not the page
            // cache of the disk the user's files are on.
            tmp = tempfile::Builder::new()
                .prefix(".gdio-bench-data")
                .tempdir_in(&args.out)?;
            tmp.path().to_path_buf()
        }
    };
    let gpu = gpu::open(device)?;
    let cfg = Config::new(args.quick, gpu.is_cpu(), args.fio.clone());
    if !json {
        println!("gdio bench{}", if cfg.quick { " --quick" } else { "" });
        println!("{}", gpu::line(&gpu));
        println!(
            "every number below was measured in this run on this machine; ratios are gdio ÷ the other (above 1: gdio is faster)\n"
        );
    }
    let wanted = |key: &str| args.only.is_empty() || args.only.iter().any(|k| k == key);
    let stream_file = data_dir.join("stream.bin");
    if wanted("streaming")
        || wanted("random")
        || wanted("scaling")
        || wanted("gpus")
        || wanted("cache")
    {
        crate::cmd::gen::file(&stream_file, cfg.stream_bytes, 1, !json)?;
    }
    let index = data_dir.join("index.btree");
    let deep = data_dir.join("deep.btree");
    if wanted("btree") || wanted("cache") || wanted("gpus") {
        crate::capacity::build_btree(
            &index,
            cfg.btree_keys,
            1,
            gdio_workloads::btree::FANOUT,
            |_| {},
        )?;
        crate::capacity::build_btree(&deep, cfg.deep_keys, 2, btree::DEEP_FANOUT, |_| {})?;
    }

    let graph_file = if wanted("bfs") {
        Some(bfs::graph_file(&data_dir, &cfg, &gpu))
    } else {
        None
    };

    let mut sections = Vec::new();
    let steps: [Step<'_>; 9] = [
        ("roundtrip", "1. Round trip", &|| {
            roundtrip::run(&gpu, &cfg, &data_dir)
        }),
        ("streaming", "2. Streaming", &|| {
            streaming::run(&gpu, &cfg, &stream_file)
        }),
        ("random", "3. Random 4 KiB reads", &|| {
            streaming::random(&gpu, &cfg, &stream_file)
        }),
        ("btree", "4. Data-dependent: B-tree lookups", &|| {
            btree::run(&gpu, &cfg, &index, &deep)
        }),
        ("scaling", "5. Scaling over pump threads", &|| {
            scaling::run(&gpu, &cfg, &stream_file)
        }),
        ("write", "6. Writes", &|| write::run(&gpu, &cfg, &data_dir)),
        ("gpus", "7. Several GPUs", &|| {
            let devices = gpus::devices(&args.gpus)?;
            if devices.len() < 2 {
                return Ok(gpus::skipped(if args.gpus.is_empty() {
                    "fewer than two discrete GPUs here (--gpus 0,0 runs the path on one device twice)"
                } else {
                    "--gpus names one device: name two or more (repeats open a device again)"
                }));
            }
            gpus::run(&gpu, &cfg, &stream_file, &index, &devices)
        }),
        ("cache", "8. GPU page cache", &|| {
            cache::run(&gpu, &cfg, &index, &stream_file)
        }),
        (
            "bfs",
            "9. BFS through the page cache",
            &|| match &graph_file {
                Some(Ok(g)) => bfs::run(&gpu, &cfg, g),
                Some(Err(e)) => Err(anyhow::anyhow!("the graph: {e:#}")),
                None => Err(anyhow::anyhow!("the graph was not written")),
            },
        ),
    ];
    for (key, title, f) in steps {
        if !wanted(key) {
            continue;
        }
        let s = section_or_note(key, title, f());
        if !json {
            println!("{}", s.table.render(args.verbose));
        }
        sections.push(s);
    }
    let mut files = vec![write_path(&args.out, "bench.json")];
    let mut map = serde_json::Map::new();
    for s in &sections {
        map.insert(s.key.to_string(), s.data.clone());
        if let Some(c) = &s.chart {
            let name = format!("{}.svg", s.key);
            c.write(&args.out.join(&name))?;
            files.push(write_path(&args.out, &name));
        }
    }
    let report = BenchReport {
        device: gpu::summary(&gpu),
        config: &cfg,
        seconds: started.elapsed().as_secs_f64(),
        sections: map,
        tables: sections.iter().map(|s| s.table.clone()).collect(),
        files: files.clone(),
    };
    std::fs::write(
        args.out.join("bench.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    if json {
        report::json(&report)?;
    } else {
        let notes: usize = sections.iter().map(|s| s.table.notes.len()).sum();
        if !args.verbose && notes > 0 {
            println!("{notes} notes on how each row is measured: --verbose prints them; bench.json has them");
        }
        println!(
            "wrote {} in {:.1} s",
            files.join(", "),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(OK)
}

fn write_path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}
