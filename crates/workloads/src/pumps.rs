//! Several queues in one pair of buffers (`QueueGroup`), each served by its own pump thread,
//! all with the same file (handle 0) and the same window (handle 0): how a shader spreads its
//! IO over pump threads (lane L uses queue L % queues, `gdio_begin_queue`).

use std::fs::File;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use gdio::protocol::FileAccess;
use gdio::pump::{Pump, PumpHandle, PumpReport};
use gdio::vulkan::QueueGroup;
use gdio::{PumpGroupQueue, PumpWindow};
use hdrhistogram::Histogram;

use crate::gpu::Gpu;

/// The queues and their running pumps.
pub struct PumpGroup {
    group: Arc<QueueGroup>,
    pumps: Vec<PumpHandle>,
}

impl PumpGroup {
    /// `queues` queues of `slots` slots each, one pump per queue, every pump with `file` (read
    /// only, a clone each) and `window`.
    pub fn spawn(
        gpu: &Gpu,
        queues: u32,
        slots: u32,
        window: &Arc<PumpWindow>,
        file: &File,
        name: &str,
    ) -> Result<PumpGroup> {
        let queues = queues.max(1);
        let group = Arc::new(QueueGroup::new(&gpu.ctx, queues, slots.max(1), &gpu.plan)?);
        let mut pumps = Vec::with_capacity(queues as usize);
        for q in 0..queues {
            let queue = PumpGroupQueue::new(&group, q).context("queue index")?;
            let pump = gpu.spawn_pump(|mode| {
                Pump::builder()
                    .queue(queue.clone())
                    .window(window.clone(), mode, window.read_access())
                    .name(format!("{name}-{q}"))
            })?;
            pump.add_file(
                file.try_clone().context("cloning the file handle")?,
                FileAccess {
                    readable: true,
                    writable: false,
                },
            )?;
            pumps.push(pump);
        }
        Ok(PumpGroup { group, pumps })
    }

    /// Words between the queues' request regions and between their completion regions.
    #[must_use]
    pub fn strides(&self) -> (u32, u32) {
        (
            self.group.request_stride_words(),
            self.group.completion_stride_words(),
        )
    }

    /// The queues' buffers (bind `request_slice()` and `completion_slice()`); a handle of its
    /// own, so that a dispatch bound to them does not borrow the pumps, which stop first.
    #[must_use]
    pub fn group(&self) -> Arc<QueueGroup> {
        self.group.clone()
    }

    /// Requests completed by all pumps.
    #[must_use]
    pub fn completed(&self) -> u64 {
        self.pumps.iter().map(|p| p.stats().completed).sum()
    }

    /// True while every pump runs.
    #[must_use]
    pub fn all_running(&self) -> bool {
        self.pumps.iter().all(PumpHandle::is_running)
    }

    /// Stops every pump (each drains before it returns): what they did, or the first error,
    /// after all stopped.
    pub fn stop(self) -> Result<Vec<PumpReport>> {
        let mut reports = Vec::with_capacity(self.pumps.len());
        let mut first = None;
        for p in self.pumps {
            match p.stop() {
                Ok(r) => reports.push(r),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        match first {
            Some(e) => Err(e.into()),
            None => Ok(reports),
        }
    }
}

/// One histogram of all pumps' reports: `pick` chooses which, e.g. `|r| &r.latency_ns` (the
/// host's part of each request: for a node READ, claim, check, submit, the kernel's copy, the
/// completion entry written) or `|r| &r.turnaround_ns` (the bus both ways and the device's own
/// work between two requests of a slot).
#[must_use]
pub fn merged(
    reports: &[PumpReport],
    pick: impl Fn(&PumpReport) -> &Histogram<u64>,
) -> Histogram<u64> {
    let mut all = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
    for r in reports {
        // Same bounds and precision, so adding cannot fail.
        let _ = all.add(pick(r));
    }
    all
}

/// The pumps' median split of a request (ns): their own part (claim → completion entry written)
/// and the device turnaround (completion written → the slot's next claim).
#[must_use]
pub fn split_p50(reports: &[PumpReport]) -> (u64, u64) {
    (
        merged(reports, |r| &r.latency_ns).value_at_quantile(0.5),
        merged(reports, |r| &r.turnaround_ns).value_at_quantile(0.5),
    )
}

/// Pump threads for `lanes` lanes of small reads: one on a CPU device (the shader needs the
/// cores), else one per 16 lanes up to 4 (one pump thread does ~0.5 M 4 KiB READs per second
/// on the H100; bench section 5). [`crate::Settings::pumps`] (the command's `GDIO_PUMPS=N`)
/// overrides.
#[must_use]
pub fn default_pumps(gpu: &Gpu, lanes: u32) -> u32 {
    if let Some(n) = gpu.settings.pumps {
        return n;
    }
    if gpu.is_cpu() {
        1
    } else {
        (lanes / 16).clamp(1, 4)
    }
}

/// Lanes and pumps from a command's `--lanes` and `--pumps` over a workload's defaults: given
/// lanes without pumps, the pumps follow the lanes ([`default_pumps`]); given pumps, they win.
#[must_use]
pub fn lanes_and_pumps(
    gpu: &Gpu,
    defaults: (u32, u32),
    lanes: Option<u32>,
    pumps: Option<u32>,
) -> (u32, u32) {
    let (lanes, derived) = match lanes {
        Some(l) => (l, default_pumps(gpu, l)),
        None => defaults,
    };
    (lanes, pumps.unwrap_or(derived))
}
