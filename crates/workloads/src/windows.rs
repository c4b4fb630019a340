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

/// Most staging memory a pump serving device-local windows registers: it bounds the transfers
/// and copies in flight (a chunk each), not the file.
pub const STAGING_MAX: usize = 256 << 20;

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
    let staging = bytes.min(STAGING_MAX).next_multiple_of(chunk as usize);
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
    let b = match gpu.settings.io_wq_workers {
        Some(n) => b.io_wq_workers(n),
        None => b,
    };
    // Page-cache copies to and from staging run on io-wq workers, as into ReBAR: one thread
    // copies about 8.5 GB/s.
    let b = match gpu.settings.async_min.unwrap_or(Some(64 << 10)) {
        Some(min) => b.async_transfers(min),
        None => b,
    };
    let pump = b.spawn().context("starting the pump")?;
    Ok((window, pump))
}
