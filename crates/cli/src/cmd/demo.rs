//! `gdio demo`: the whole thing end to end on the default device, verified on the CPU.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::cli::DemoArgs;
use crate::cmd::gen;
use crate::cmd::lookup::{run_lookups, LookupShape, LookupSummary};
use crate::cmd::sum::{sum_files, FileSum};
use crate::error::{CliError, OK};
use crate::gpu::{self, DeviceSummary};
use crate::report;
use crate::units;
use gdio_workloads::btree;
use gdio_workloads::sum::StreamShape;

#[derive(Serialize)]
struct DemoReport {
    device: DeviceSummary,
    dir: String,
    sum: FileSum,
    lookup: LookupSummary,
    passed: bool,
}

/// Runs `gdio demo`.
pub fn run(args: &DemoArgs, device: Option<&str>, json: bool) -> Result<i32> {
    gen::check_btree_args(args.keys, btree::FANOUT as u32)?;
    // The keys, the GPU's results and the report's lines: under 64 bytes a lookup.
    crate::capacity::check_memory(
        args.lookups.checked_mul(64),
        &format!("--lookups {}", args.lookups),
    )?;
    let tmp;
    let dir: PathBuf = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new().prefix("gdio-demo").tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let gpu = gpu::open(device)?;
    let say = |s: String| {
        if !json {
            println!("{s}");
        }
    };
    say("gdio demo: a compute shader reads files itself while it runs".into());
    say(gpu::line(&gpu));

    let data = dir.join("demo.bin");
    let t = Instant::now();
    gen::file(&data, args.size, 1, !json)?;
    say(format!(
        "1. generated a {} test file in {} ({})",
        units::bytes(args.size),
        dir.display(),
        units::duration(t.elapsed())
    ));

    let shape = StreamShape::defaults(&gpu);
    let sum = sum_files(
        &gpu,
        shape,
        std::slice::from_ref(&data),
        true,
        false,
        gdio_workloads::sum::WindowKind::Mapped,
        !json,
    )?
    .pop()
    .context("no result")?;
    let sum_ok = sum.verified == Some(true);
    say(format!(
        "2. GPU checksum: the shader streamed it through gdio ({} lanes, {} READs): CRC-32C {} in {}, {}",
        shape.lanes,
        units::bytes(u64::from(shape.chunk)),
        sum.crc32c,
        units::nanos(sum.seconds * 1e9),
        units::rate_of(sum.bytes_per_sec)
    ));
    say(format!(
        "   CPU check: {} ({})",
        sum.cpu_crc32c.clone().unwrap_or_default(),
        if sum_ok { "same" } else { "DIFFERENT" }
    ));

    let index = dir.join("demo.btree");
    let sb = crate::capacity::build_btree(&index, args.keys, 1, btree::FANOUT, |_| {})?;
    let keys = btree::make_keys(sb.keys, sb.seed, args.lookups, 0.1, 2);
    let (look, _) = run_lookups(
        &gpu,
        &index,
        &keys,
        LookupShape::defaults(&gpu),
        true,
        !json,
    )?;
    let look_ok = look.mismatches == Some(0);
    say(format!(
        "3. B-tree lookups: {} keys in a {}-level tree of {} keys; {} lanes each read the nodes they chose: {} found, {} absent, {} reads in {} ({})",
        look.keys,
        look.height,
        sb.keys,
        look.lanes,
        look.found,
        look.absent,
        look.reads,
        units::nanos(look.seconds * 1e9),
        units::per_sec(look.lookups_per_sec)
    ));
    say(format!(
        "   CPU check: {}",
        if look_ok {
            "every result equals the CPU's lookup".to_string()
        } else {
            format!("{} results DIFFER", look.mismatches.unwrap_or(0))
        }
    ));
    let passed = sum_ok && look_ok;
    if json {
        report::json(&DemoReport {
            device: gpu::summary(&gpu),
            dir: dir.display().to_string(),
            sum,
            lookup: look,
            passed,
        })?;
    } else {
        say(if passed {
            "demo passed: GPU results equal the CPU's".into()
        } else {
            "demo FAILED".into()
        });
    }
    if !passed {
        return Err(
            CliError::Mismatch("the demo's GPU results differ from the CPU's".into()).into(),
        );
    }
    Ok(OK)
}
