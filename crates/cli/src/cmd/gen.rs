//! `gdio gen`: test files, B-tree indexes and key lists, of any size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use gdio_vulkan::patterns::file_word;
use serde::Serialize;

use crate::btree;
use crate::cli::GenCommand;
use crate::error::OK;
use crate::progress::Progress;
use crate::report;
use crate::units;

/// Writes `size` bytes of the test pattern (word `i` is `file_word(i, seed)`, little-endian):
/// the content random_read.comp checks.
pub fn file(path: &Path, size: u64, seed: u32, progress: bool) -> Result<()> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut bar = Progress::new(size, "generate", true, progress);
    let block_words = 1u64 << 20;
    let mut buf = Vec::with_capacity(4 << 20);
    let mut done = 0u64;
    let mut word = 0u64;
    while done < size {
        buf.clear();
        let n = (size - done).min(block_words * 4);
        for i in 0..n.div_ceil(4) {
            buf.extend_from_slice(&file_word((word + i) as u32, seed).to_le_bytes());
        }
        buf.truncate(n as usize);
        w.write_all(&buf)?;
        done += n;
        word += block_words;
        bar.set(done);
    }
    w.flush()?;
    bar.finish();
    Ok(())
}

/// Writes `count` keys for the index at `index`, one per line.
pub fn keys(index: &Path, out: &Path, count: u64, absent: f64, seed: u64) -> Result<(u64, u64)> {
    if !(0.0..=1.0).contains(&absent) {
        anyhow::bail!("--absent {absent}: use a fraction between 0 and 1");
    }
    let (f, sb) = btree::open(index)?;
    drop(f);
    let keys = btree::make_keys(sb.keys, sb.seed, count, absent, seed);
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = BufWriter::new(file);
    let mut odd = 0;
    for k in &keys {
        writeln!(w, "{k}")?;
        odd += k & 1;
    }
    w.flush()?;
    Ok((count - odd, odd))
}

#[derive(Serialize)]
struct Generated {
    path: String,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    btree: Option<btree::Superblock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    present_keys: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    absent_keys: Option<u64>,
}

/// Runs `gdio gen`.
pub fn run(g: &GenCommand, json: bool) -> Result<i32> {
    let (path, btree, split) = match g {
        GenCommand::File { size, seed, out } => {
            file(out, *size, *seed, !json)?;
            (out, None, None)
        }
        GenCommand::Btree {
            keys,
            seed,
            fanout,
            out,
        } => {
            if *keys >= 1 << 43 {
                anyhow::bail!("--keys {keys}: at most 2^43 keys");
            }
            let mut bar = Progress::new(*keys, "build", false, !json);
            let sb = btree::build(out, *keys, *seed, *fanout as usize, |n| bar.set(n))?;
            bar.finish();
            (out, Some(sb), None)
        }
        GenCommand::Keys {
            index,
            count,
            absent,
            seed,
            out,
        } => {
            let split = keys(index, out, *count, *absent, *seed)?;
            (out, None, Some(split))
        }
    };
    let bytes = std::fs::metadata(path)?.len();
    let r = Generated {
        path: path.display().to_string(),
        bytes,
        btree,
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
        if let Some((p, a)) = split {
            line.push_str(&format!(": {} keys, {p} present, {a} absent", p + a));
        }
        println!("{line}");
    }
    Ok(OK)
}
