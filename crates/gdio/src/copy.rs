//! [`PumpCopyQueue`]: a gdio-vulkan [`CopyQueue`] as the pump's copy engine, so that windows in
//! device-local memory ([`DeviceBuffer`]) are served through staging chunks and the GPU's copy
//! engine (`gdio_pump::staging`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use gdio::vulkan::{Context, DeviceBuffer, PlacementPlan, QueueBuffers};
//! use gdio::{PumpCopyQueue, PumpQueue};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = Context::new()?;
//! let queue = PumpQueue::new(QueueBuffers::new(&ctx, 64, &PlacementPlan::defaults())?);
//! let window = Arc::new(DeviceBuffer::new(&ctx, 64 << 20)?); // bind BufferSlice::from(&*window)
//! let mut copies = PumpCopyQueue::new(&ctx, 16 << 20)?; // 16 MiB of staging
//! let target = copies.add_target(window.clone());
//! let pump = gdio::pump::Pump::builder()
//!     .queue(queue.clone())
//!     .copy_engine(Box::new(copies), 1 << 20) // 1 MiB chunks: 16 requests at once
//!     .staged_window(target, gdio::protocol::WindowAccess { len: 64 << 20, host_writes: true, host_reads: true })
//!     .spawn()?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use gdio_pump::staging::{Copy, CopyDirection, CopyEngine, CopyError};
use gdio_pump::WindowMemory;
use gdio_vulkan::{CopyQueue, CopyWay, DeviceBuffer, MappedBuffer, Placement};

/// The staging memory as a window for the pump's ring.
struct Staging(Arc<MappedBuffer>);

// SAFETY: `MappedBuffer::as_ptr` is valid for `len()` bytes while the buffer lives (unmapped
// only in Drop) and never changes; this value holds an Arc of it, and the pump holds this
// value until its ring has drained.
unsafe impl WindowMemory for Staging {
    fn as_ptr(&self) -> *mut u8 {
        self.0.as_ptr()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A [`CopyQueue`] as a [`CopyEngine`] (see the module).
#[derive(Debug)]
pub struct PumpCopyQueue {
    queue: CopyQueue,
    /// A copy the queue refused (out of range: a pump bug), reported at the next submit.
    refused: Option<String>,
}

impl PumpCopyQueue {
    /// On the context's copy queue, with `staging_len` bytes of host-cached staging memory.
    /// Fails with [`gdio_vulkan::Error::NoCopyQueue`] on a device without a copy queue
    /// besides its compute queue (lavapipe).
    pub fn new(
        ctx: &gdio_vulkan::Context,
        staging_len: usize,
    ) -> gdio_vulkan::Result<PumpCopyQueue> {
        Ok(PumpCopyQueue::from_queue(CopyQueue::new(
            ctx,
            staging_len,
            Placement::HostCached,
        )?))
    }

    /// Wraps a copy queue made otherwise (e.g. [`CopyQueue::on_queue`] for an application's
    /// device).
    #[must_use]
    pub fn from_queue(queue: CopyQueue) -> PumpCopyQueue {
        PumpCopyQueue {
            queue,
            refused: None,
        }
    }

    /// Adds a target window; returns the number to give [`gdio_pump::PumpBuilder::staged_window`].
    pub fn add_target(&mut self, buffer: Arc<DeviceBuffer>) -> u32 {
        self.queue.add_target(buffer)
    }
}

fn err(e: gdio_vulkan::Error) -> CopyError {
    CopyError(e.to_string())
}

impl CopyEngine for PumpCopyQueue {
    fn staging(&self) -> Arc<dyn WindowMemory> {
        Arc::new(Staging(self.queue.staging().clone()))
    }
    fn target_len(&self, target: u32) -> Option<u64> {
        self.queue.target(target).map(|t| t.len() as u64)
    }
    fn record(&mut self, c: Copy) {
        let way = match c.direction {
            CopyDirection::ToTarget => CopyWay::ToTarget,
            CopyDirection::ToStaging => CopyWay::ToStaging,
        };
        if let Err(e) = self
            .queue
            .record(way, c.target, c.target_offset, c.staging_offset, c.len)
        {
            self.refused.get_or_insert(e.to_string());
        }
    }
    fn submit(&mut self) -> Result<u64, CopyError> {
        if let Some(e) = self.refused.take() {
            return Err(CopyError(format!("a copy was refused: {e}")));
        }
        self.queue.submit().map_err(err)
    }
    fn finished(&mut self) -> Result<u64, CopyError> {
        self.queue.finished().map_err(err)
    }
    fn wait(&mut self, ticket: u64, timeout: Duration) -> Result<bool, CopyError> {
        self.queue.wait(ticket, timeout).map_err(err)
    }
}
