//! Section 5: scaling over pump threads. One dispatch of random 4 KiB reads (every word
//! checked) with its lanes spread over 1, 2 and 4 queues, each queue served by its own pump
//! thread; IOPS against the one-pump run.

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::{Config, Section};
use crate::gpu::Gpu;
use crate::report::Table;
use crate::units::{per_sec, ratio};
use crate::work::random;

/// Runs the section.
pub fn run(gpu: &Gpu, cfg: &Config, file: &Path) -> Result<Section> {
    let lanes = cfg.random_lanes;
    let mut t = Table::new(
        &format!("5. Scaling over pump threads (random 4 KiB reads, {lanes} lanes, one dispatch)"),
        &["pump threads", "IOPS", "vs 1 pump"],
    );
    let mut rows = Vec::new();
    let mut base = None;
    for queues in [1u32, 2, 4] {
        let r = random::run_queues(gpu, file, 1, lanes, cfg.random_reads, 4096, queues)?;
        if r.mismatches > 0 {
            anyhow::bail!(
                "{} words read by the shader did not match the file",
                r.mismatches
            );
        }
        let iops = r.reads as f64 / r.elapsed.as_secs_f64().max(1e-9);
        let one = *base.get_or_insert(iops);
        t.row(vec![queues.to_string(), per_sec(iops), ratio(iops, one)]);
        rows.push(json!({ "pumps": queues, "iops": iops, "reads": r.reads, "seconds": r.elapsed.as_secs_f64() }));
    }
    t.note("lane L uses queue L % pumps (gdio_begin_queue); every pump has the same file and window; every word read is checked");
    t.note(
        "not measured: several GPUs (one queue per GPU); gdio drives one Vulkan device per process",
    );
    Ok(Section {
        key: "scaling",
        table: t,
        chart: None,
        data: json!({ "rows": rows }),
    })
}
