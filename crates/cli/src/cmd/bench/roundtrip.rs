//! Section 1, round trip: a shader's NOP vs. two CPU threads through the same protocol, and
//! the quoted CUDA figure (docs/design.md gives its method).

use std::fs::File;
use std::path::Path;

use anyhow::Result;
use gdio_vulkan::FenceWait;
use serde_json::json;

use super::svg::Chart;
use super::{Config, Section};
use crate::report::Table;
use crate::units::{bytes, nanos, ratio};
use gdio_workloads::{nop, Gpu};

/// The one number not measured here: a CUDA persistent kernel polling pinned host memory, p50
/// of a host-measured one-word ping-pong on the H100 (driver 580.159.04); docs/design.md
/// ("The CUDA reference") gives the method.
pub const CUDA_DOORBELL_P50_NS: f64 = 1660.0;
/// Bytes per READ in the data round trip: a B-tree node.
const READ_BYTES: u32 = 4096;
const CUDA_SOURCE: &str =
    "a measurement quoted from docs/design.md (\"The CUDA reference\"), made on an H100";

/// Runs the section.
pub fn run(gpu: &Gpu, cfg: &Config, data_dir: &Path) -> Result<Section> {
    // Every GPU row starts at the clock the GPU boosts to under load: a row of round trips
    // is light load, and on the H100 the governor lowered the clock during the section's
    // later rows when only its start was warmed (the empty dispatches took 43-49 µs against
    // 13.6-18.9 µs).
    let warm = || gpu.raise_clock(super::CLOCK_WARMUP);
    warm()?;
    let shader = nop::shader(gpu, cfg.nops, false)?;
    warm()?;
    let fenced = nop::shader(gpu, cfg.nops, true)?;
    let floor = nop::floor(cfg.nops)?;
    warm()?;
    let pump = nop::through_pump(gpu, cfg.nops)?;
    // A data request's round trip: one B-tree node's worth, from a page-cached file on the
    // disk the bench's other inputs are on.
    let node = data_dir.join("roundtrip-read.bin");
    crate::cmd::gen::file(&node, READ_BYTES.into(), 3, false)?;
    warm()?;
    let read = nop::read_through_pump(gpu, cfg.nops, &File::open(&node)?, READ_BYTES)?;
    let dispatches = (cfg.nops / 100).clamp(100, 2000);
    warm()?;
    let blocked = nop::empty_dispatch(gpu, dispatches, FenceWait::Block, nop::Launch::Record)?;
    warm()?;
    let spun = nop::empty_dispatch(gpu, dispatches, FenceWait::Spin, nop::Launch::Record)?;
    warm()?;
    let resubmitted = nop::empty_dispatch(gpu, dispatches, FenceWait::Spin, nop::Launch::Resubmit)?;
    let mut t = Table::new(
        "1. Round trip (one lane, one request at a time)",
        &[
            "device side ↔ host side",
            "p50",
            "p99",
            "max",
            "samples",
            "p50 vs floor",
        ],
    );
    let latency_row = |name: &str, l: &nop::Latency| {
        vec![
            name.to_string(),
            nanos(l.p50_ns as f64),
            nanos(l.p99_ns as f64),
            nanos(l.max_ns as f64),
            l.samples.to_string(),
            ratio(l.p50_ns as f64, floor.p50_ns as f64),
        ]
    };
    t.row(latency_row("shader NOP ↔ spinning protocol host", &shader));
    t.row(latency_row(
        "shader FENCE (fenced publication) ↔ same host",
        &fenced,
    ));
    t.row(latency_row(
        "CPU thread ↔ spinning protocol host (floor)",
        &floor,
    ));
    let trips = [
        ("shader NOP ↔ gdio-pump (spin), mean".to_string(), &pump),
        (
            format!(
                "shader READ {} ({} window) ↔ gdio-pump (spin), mean",
                bytes(READ_BYTES.into()),
                gpu.plan.read_window.name()
            ),
            &read,
        ),
    ];
    for (name, trip) in &trips {
        t.row(vec![
            name.clone(),
            nanos(trip.mean_ns),
            "-".into(),
            "-".into(),
            cfg.nops.to_string(),
            ratio(trip.mean_ns, floor.p50_ns as f64),
        ]);
        t.note(format!(
            "{name}: by the pump's clock, p50 {} in the pump (claim → completion entry written) and {} device turnaround (completion written → next request claimed: the bus both ways and the shader)",
            nanos(trip.service_p50_ns as f64),
            nanos(trip.turnaround_p50_ns as f64)
        ));
    }
    t.row(latency_row(
        "empty dispatch, submit → fence (vkWaitForFences)",
        &blocked,
    ));
    t.row(latency_row(
        "empty dispatch, submit → fence (spin on vkGetFenceStatus)",
        &spun,
    ));
    t.row(latency_row(
        "empty dispatch recorded once, resubmit → fence (spin)",
        &resubmitted,
    ));
    t.row(vec![
        "CUDA persistent kernel, pinned memory (quoted)".into(),
        nanos(CUDA_DOORBELL_P50_NS),
        "-".into(),
        "-".into(),
        "-".into(),
        "-".into(),
    ]);
    t.note("p50/p99 are host-measured: the time between two claims of the single lane's NOPs by a spinning host (gdio_protocol::HostQueue) = one full round trip; the same host loop and clock serve the CPU-thread floor");
    t.note("a NOP is published without the release fence (it orders nothing); a FENCE, like every READ, WRITE and FSYNC, with it: the FENCE row is what a data request's round trip pays for the protocol");
    t.note("every GPU row starts after a 0.3 s full load of the GPU (busy.comp), so that it runs at the clock the GPU boosts to under load");
    t.note("the gdio-pump rows are dispatch wall time / requests (no per-trip samples): the real pump with IdlePolicy::spin()");
    t.note(format!(
        "the empty-dispatch rows are what a CPU-orchestrated loop pays per step before any work (record, submit, run, notice the fence; the resubmit row records once and submits the same command buffer each time, as the orchestrated B-tree loop does within a batch); the orchestrated loops here wait with {:?}",
        gpu.fence_wait
    ));
    t.note(format!(
        "shader p50 vs the CUDA figure: {} (the CUDA figure is {CUDA_SOURCE}; compare only on the H100)",
        ratio(shader.p50_ns as f64, CUDA_DOORBELL_P50_NS)
    ));
    if gpu.is_cpu() {
        t.note("lavapipe: the shader runs on a CPU thread, and its run is cut into dispatches (loop cap): gaps between dispatches land in max and sometimes p99");
    }
    let mut chart = Chart::new(
        "Round trip p50; gdio-pump rows: mean (lower is better)",
        "time per round trip",
        nanos,
    );
    let mut bar = |label: String, ns: f64| chart.bar(label, ns, nanos(ns));
    bar("shader NOP ↔ host".into(), shader.p50_ns as f64);
    bar("shader FENCE ↔ host".into(), fenced.p50_ns as f64);
    bar("CPU thread ↔ host (floor)".into(), floor.p50_ns as f64);
    bar("shader NOP ↔ gdio-pump".into(), pump.mean_ns);
    bar(
        format!("shader READ {} ↔ gdio-pump", bytes(READ_BYTES.into())),
        read.mean_ns,
    );
    bar(
        "empty dispatch (vkWaitForFences)".into(),
        blocked.p50_ns as f64,
    );
    bar("empty dispatch (spin)".into(), spun.p50_ns as f64);
    bar(
        "empty dispatch, resubmitted (spin)".into(),
        resubmitted.p50_ns as f64,
    );
    bar(
        "CUDA persistent kernel (quoted, H100)".into(),
        CUDA_DOORBELL_P50_NS,
    );
    Ok(Section {
        key: "roundtrip",
        table: t,
        chart: Some(chart),
        data: json!({
            "shader": shader,
            "shader_fence": fenced,
            "cpu_floor": floor,
            "shader_via_pump": pump,
            "shader_read_via_pump": read,
            "read_bytes": READ_BYTES,
            "read_window": gpu.plan.read_window.name(),
            "empty_dispatch_block": blocked,
            "empty_dispatch_spin": spun,
            "empty_dispatch_resubmitted_spin": resubmitted,
            "fence_wait": format!("{:?}", gpu.fence_wait),
            "cuda_reference_p50_ns": CUDA_DOORBELL_P50_NS,
            "cuda_reference_source": CUDA_SOURCE,
            "shader_p50_over_floor_p50": shader.p50_ns as f64 / floor.p50_ns.max(1) as f64,
            "method": "host-side claim-to-claim intervals of a single lane; pump row: wall time / count",
        }),
    })
}
