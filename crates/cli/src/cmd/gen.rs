//! `gdio gen`: test files, B-tree indexes, key lists and graphs, of any size.

use std::fs::File;
use std::io::{BufWriter, Read as _, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use gdio_workloads::btree;
use gdio_workloads::graph::{self, GenParams, GraphHeader};
use gdio_workloads::patterns::file_word;
use serde::Serialize;

use crate::capacity::{self, Partial};
use crate::cli::GenCommand;
use crate::error::{usage, OK};
use crate::progress::{Progress, Reported};
use crate::report;
use crate::units;

/// The test pattern's bytes from the start of a file: word `i` is `file_word(i, seed)`,
/// little-endian.
fn pattern(words: std::ops::Range<u64>, seed: u32, buf: &mut Vec<u8>) {
    for i in words {
        buf.extend_from_slice(&file_word(i as u32, seed).to_le_bytes());
    }
}

/// Writes `size` bytes of the test pattern (word `i` is `file_word(i, seed)`, little-endian):
/// the content random_read.comp checks. Checks the free disk space first; removes the file if
/// writing fails; the file is synced to disk before it returns.
pub fn file(path: &Path, size: u64, seed: u32, progress: bool) -> Result<()> {
    capacity::check_disk(path, Some(size), "the test file")?;
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let partial = Partial::new(path, &f);
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut bar = Progress::new(size, "generate", true, progress);
    let block_words = 1u64 << 20;
    let mut buf = Vec::with_capacity(4 << 20);
    let mut done = 0u64;
    let mut word = 0u64;
    while done < size {
        buf.clear();
        let n = (size - done).min(block_words * 4);
        pattern(word..word + n.div_ceil(4), seed, &mut buf);
        buf.truncate(n as usize);
        w.write_all(&buf)
            .with_context(|| format!("writing {}", path.display()))?;
        done += n;
        word += block_words;
        bar.set(done);
    }
    let f = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", path.display()))?;
    // On disk before it returns: otherwise the kernel writes the file back about 30 s later
    // (its dirty-page expiry), in the middle of whatever reads or times it then.
    f.sync_all()
        .with_context(|| format!("writing {} to disk", path.display()))?;
    partial.keep();
    bar.finish();
    Ok(())
}

/// Most bytes a line of a keys file for a tree of `tree_keys` keys takes: present keys are below
/// `(tree_keys + 1) << 20`, absent ones anywhere in 64 bits.
fn key_line_bytes(tree_keys: u64, absent: f64) -> u64 {
    let widest = if absent > 0.0 || tree_keys == 0 {
        u64::MAX
    } else {
        tree_keys
            .checked_add(1)
            .and_then(|k| k.checked_mul(1 << 20))
            .unwrap_or(u64::MAX)
    };
    widest.to_string().len() as u64 + 1
}

/// Writes `count` keys for the index at `index`, one per line, as they are made (any count);
/// checks the free disk space first and removes the file if writing fails.
pub fn keys(
    index: &Path,
    out: &Path,
    count: u64,
    absent: f64,
    dist: btree::KeyDist,
    seed: u64,
) -> Result<(u64, u64)> {
    if !(0.0..=1.0).contains(&absent) {
        usage!("--absent {absent}: use a fraction between 0 and 1");
    }
    let (f, sb) = btree::open(index)?;
    drop(f);
    capacity::check_disk(
        out,
        count.checked_mul(key_line_bytes(sb.keys, absent)),
        &format!("--count {count} (one key a line)"),
    )?;
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let partial = Partial::new(out, &file);
    let mut w = BufWriter::new(file);
    let mut odd = 0;
    let drawn: Box<dyn Iterator<Item = u64>> = match dist {
        btree::KeyDist::Uniform => {
            Box::new(btree::key_stream(sb.keys, sb.seed, count, absent, seed))
        }
        zipf => Box::new(btree::make_keys_dist(sb.keys, sb.seed, count, zipf, seed).into_iter()),
    };
    for k in drawn {
        writeln!(w, "{k}").with_context(|| format!("writing {}", out.display()))?;
        odd += k & 1;
    }
    w.flush()
        .with_context(|| format!("writing {}", out.display()))?;
    partial.keep();
    Ok((count - odd, odd))
}

/// What a `gen` subcommand makes, so that it knows its own files.
#[derive(Debug, Clone, Copy)]
enum Made {
    /// A test file of this seed.
    File(u32),
    /// A B-tree index.
    Btree,
    /// A keys file.
    Keys,
    /// A graph.
    Graph,
}

impl Made {
    fn name(self) -> &'static str {
        match self {
            Made::File(_) => "a test file of that seed from `gdio gen file`",
            Made::Btree => "a B-tree from `gdio gen btree`",
            Made::Keys => "a keys file (one key a line)",
            Made::Graph => "a graph from `gdio gen graph`",
        }
    }

    /// Whether `head`, the first bytes (at most 4 KiB) of a file of `len` bytes, are what this
    /// subcommand writes.
    fn is_mine(self, head: &[u8], len: u64) -> bool {
        match self {
            Made::File(seed) => {
                let mut want = Vec::with_capacity(head.len() + 4);
                pattern(0..(head.len() as u64).div_ceil(4), seed, &mut want);
                want[..head.len()] == *head
            }
            Made::Btree => head.len() >= 4 && head[..4] == btree::MAGIC.to_le_bytes(),
            Made::Graph => head.len() >= 4 && head[..4] == graph::MAGIC.to_le_bytes(),
            Made::Keys => {
                // Whole lines only: the last one may go on past the first 4 KiB.
                let lines = if (head.len() as u64) < len {
                    match head.iter().rposition(|&b| b == b'\n') {
                        Some(end) => &head[..end],
                        None => return false,
                    }
                } else {
                    head
                };
                std::str::from_utf8(lines)
                    .is_ok_and(|t| t.lines().all(|l| btree::parse_key_line(l).is_ok()))
            }
        }
    }
}

/// Refuses (exit 2) to write `out` where something is there that `made` does not make, unless
/// `force`.
fn may_overwrite(out: &Path, made: Made, force: bool) -> Result<()> {
    let meta = match std::fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot look at {}", out.display())),
        Ok(m) => m,
    };
    if meta.is_dir() {
        usage!(
            "{} is a folder: give the path of a file to write",
            out.display()
        );
    }
    if force {
        return Ok(());
    }
    if meta.is_file() {
        let mut head = Vec::with_capacity(4096);
        File::open(out)
            .and_then(|f| f.take(4096).read_to_end(&mut head))
            .with_context(|| format!("cannot read {}", out.display()))?;
        if made.is_mine(&head, meta.len()) {
            return Ok(());
        }
    }
    usage!(
        "{} exists and is not {}: pass --force to overwrite it, or give a new path",
        out.display(),
        made.name()
    )
}

#[derive(Serialize)]
struct Generated {
    path: String,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    btree: Option<btree::Superblock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    graph: Option<GraphHeader>,
    #[serde(skip_serializing_if = "Option::is_none")]
    present_keys: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    absent_keys: Option<u64>,
}

/// Most keys in a tree: key `i` is `(i + 1) << 20` plus bits below, in 64 bits.
pub const MAX_KEYS: u64 = (1 << 43) - 1;

/// Refuses (exit 2) a key count or fanout `btree::build` cannot make.
pub fn check_btree_args(keys: u64, fanout: u32) -> Result<()> {
    if keys > MAX_KEYS {
        usage!("--keys {keys}: use at most {MAX_KEYS} (2^43 - 1)");
    }
    if !(3..=btree::FANOUT as u32).contains(&fanout) {
        usage!(
            "--fanout {fanout}: use 3..={} (at 2 an internal node could have one child and no key)",
            btree::FANOUT
        );
    }
    Ok(())
}

/// Refuses (exit 2) graph parameters [`graph::generate`] cannot take, and fails before anything
/// is written when the graph does not fit in the available memory or the free disk at `out`.
pub fn check_graph(out: &Path, p: &GenParams) -> Result<()> {
    if let Err(e) = p.check() {
        usage!("{e}");
    }
    let (memory, file) = graph::generate_needs(p).unzip();
    let what = format!(
        "a graph of scale {} and edge factor {}",
        p.scale, p.edge_factor
    );
    capacity::check_memory(memory, &what)?;
    capacity::check_disk(out, file, &what)
}

/// Runs `gdio gen`.
pub fn run(g: &GenCommand, json: bool) -> Result<i32> {
    let mut graph_header = None;
    let (path, btree, split) = match g {
        GenCommand::File {
            size,
            seed,
            out,
            force,
        } => {
            may_overwrite(out, Made::File(*seed), *force)?;
            file(out, *size, *seed, !json)?;
            (out, None, None)
        }
        GenCommand::Btree {
            keys,
            seed,
            fanout,
            out,
            force,
        } => {
            check_btree_args(*keys, *fanout)?;
            may_overwrite(out, Made::Btree, *force)?;
            let mut bar = Progress::new(*keys, "build", false, !json);
            let sb = capacity::build_btree(out, *keys, *seed, *fanout as usize, |n| bar.set(n))?;
            bar.finish();
            (out, Some(sb), None)
        }
        GenCommand::Graph {
            scale,
            edge_factor,
            seed,
            force,
            out,
        } => {
            let p = GenParams {
                scale: *scale,
                edge_factor: *edge_factor,
                seed: *seed,
            };
            check_graph(out, &p)?;
            may_overwrite(out, Made::Graph, *force)?;
            let mut bar = Reported::new("generate", false, !json);
            let h = graph::generate(out, &p, |d, t| bar.set(d, t));
            bar.finish();
            graph_header = Some(h?);
            (out, None, None)
        }
        GenCommand::Keys {
            index,
            count,
            absent,
            dist,
            seed,
            out,
            force,
        } => {
            may_overwrite(out, Made::Keys, *force)?;
            let absent = if *dist == btree::KeyDist::Uniform {
                *absent
            } else {
                0.0
            };
            let split = keys(index, out, *count, absent, *dist, *seed)?;
            (out, None, Some(split))
        }
    };
    let bytes = std::fs::metadata(path)?.len();
    let r = Generated {
        path: path.display().to_string(),
        bytes,
        btree,
        graph: graph_header,
        present_keys: split.map(|s| s.0),
        absent_keys: split.map(|s| s.1),
    };
    if json {
        report::json(&r)?;
    } else {
        let mut line = format!("wrote {} ({})", r.path, units::bytes(bytes));
        if let Some(sb) = btree {
            line.push_str(&format!(
                ": B-tree of {} keys, height {}, {} nodes of 4 KiB",
                sb.keys, sb.height, sb.nodes
            ));
        }
        if let Some(h) = graph_header {
            line.push_str(&format!(
                ": graph of {} vertices (scale {}), {} adjacency entries ({} undirected edges of {} \
                 drawn), seed {}",
                h.vertices,
                h.scale,
                h.edges,
                h.edges / 2,
                h.drawn,
                h.seed
            ));
        }
        if let Some((p, a)) = split {
            line.push_str(&format!(": {} keys, {p} present, {a} absent", p + a));
        }
        println!("{line}");
    }
    Ok(OK)
}
