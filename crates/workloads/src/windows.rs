//! Where a workload's windows live: host-mapped memory the kernel copies into and out of, or
//! device-local memory served through staging and the copy queue.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use gdio::pump::{Pump, PumpHandle};
use gdio::vulkan::{BufferSlice, DeviceBuffer};
use gdio::{PumpCopyQueue, PumpQueue, PumpWindow};

use crate::gpu::Gpu;

/// Where a workload's windows live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Host-mapped memory where the device's plan says (READ windows in ReBAR on NVIDIA): the
    /// kernel copies straight into and out of it.
    Mapped,
    /// Device-local memory the host cannot map: the kernel reads into and writes from
    /// registered staging chunks (READ_FIXED, WRITE_FIXED) and the device's copy queue copies
    /// between them and the windows ([`gdio::PumpCopyQueue`]). Needs a device with a copy queue
    /// (not lavapipe).
    Device,
}

impl WindowKind {
    /// Parses `mapped` or `device`.
    #[must_use]
    pub fn parse(s: &str) -> Option<WindowKind> {
        match s {
            "mapped" => Some(WindowKind::Mapped),
            "device" => Some(WindowKind::Device),
            _ => None,
        }
    }

    /// The name [`WindowKind::parse`] takes.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            WindowKind::Mapped => "mapped",
            WindowKind::Device => "device",
        }
    }
}

/// Staging memory a pump serving device-local windows registers unless told otherwise
/// ([`crate::Settings::staging`]), or the windows' size where smaller: it bounds the transfers
/// and copies in flight (a chunk each), not the file. On an H100 (1,024 lanes × 256 KiB, three
/// 2 GiB files twice, one process each): 256 MiB streamed 30.0–34.5 GB/s at 0.30–0.35 host CPU
/// seconds per GB, 128 MiB 33.1–35.3 at 0.21–0.28, 64 MiB 31.4–33.8 at 0.23–0.26, 32 MiB
/// 25.6–29.9; 64 MiB with [`device_io_wq_workers`] workers 32.0–35.3 at 0.19–0.23. Fewer
/// transfers in flight, fewer host copies at once: each runs faster.
pub const STAGING_DEFAULT: usize = 64 << 20;

/// Most io-wq workers (per pump) copying between the page cache and staging, unless told
/// otherwise ([`crate::Settings::io_wq_workers`]): half the host's cores, at most 8. On an
/// H100's 16-core host (64 MiB staging) 8 workers streamed 32.0–35.3 GB/s at 0.19–0.23 host CPU
/// seconds per GB, 16 workers 28.3–34.4 at 0.20–0.29, the kernel's default (64) 31.4–33.8 at
/// 0.23–0.26.
#[must_use]
pub fn device_io_wq_workers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
    (cores / 2).clamp(1, 8)
}

/// Stops a workload's pump if it still runs, draining it, and returns its report: what
/// `finish` and `Drop` of [`crate::sum::Streamer`] and [`crate::write::Writer`] call, so that
/// the pump has drained before their windows go.
pub(crate) fn stop_pump(pump: &mut Option<PumpHandle>) -> Result<Option<gdio::pump::PumpReport>> {
    Ok(match pump.take() {
        Some(p) => Some(p.stop()?),
        None => None,
    })
}

/// A workload's windows.
pub(crate) enum Windows {
    Mapped(Arc<PumpWindow>),
    Device(Arc<DeviceBuffer>),
}

impl Windows {
    pub(crate) fn slice(&self) -> BufferSlice<'_> {
        match self {
            Windows::Mapped(w) => w.slice(),
            Windows::Device(d) => BufferSlice::whole_device(d),
        }
    }
}

/// A device-local window of `bytes` and a pump that serves it for `queue` through staging
/// chunks of `chunk` bytes (rounded up to 4 KiB) and the device's copy queue; `host_writes`,
/// `host_reads`: the directions it serves (READ, WRITE).
pub(crate) fn device_windows(
    gpu: &Gpu,
    queue: &Arc<PumpQueue>,
    bytes: usize,
    chunk: u32,
    (host_writes, host_reads): (bool, bool),
    name: &str,
) -> Result<(Arc<DeviceBuffer>, PumpHandle)> {
    let ctx = &gpu.ctx;
    let window =
        Arc::new(DeviceBuffer::new(ctx, bytes).context("allocating the device-local windows")?);
    let chunk = chunk.next_multiple_of(4096);
    let staging = gpu
        .settings
        .staging
        .unwrap_or(bytes.min(STAGING_DEFAULT))
        .next_multiple_of(chunk as usize);
    let mut copies = PumpCopyQueue::new(ctx, staging)
        .context("device-local windows are served by a copy queue")?;
    let target = copies.add_target(window.clone());
    let access = gdio::protocol::WindowAccess {
        len: window.len() as u64,
        host_writes,
        host_reads,
    };
    let b = Pump::builder()
        .queue(queue.clone())
        .copy_engine(Box::new(copies), chunk)
        .staged_window(target, access)
        .idle(gpu.idle())
        .name(name);
    let b = b.io_wq_workers(
        gpu.settings
            .io_wq_workers
            .unwrap_or_else(device_io_wq_workers),
    );
    // Page-cache copies to and from staging run on io-wq workers, as into ReBAR: one thread
    // copies about 8.5 GB/s.
    let b = match gpu.settings.async_min.unwrap_or(Some(64 << 10)) {
        Some(min) => b.async_transfers(min),
        None => b,
    };
    let pump = b.spawn().context("starting the pump")?;
    Ok((window, pump))
}
