//! Adapters that hand gdio-vulkan buffers to the host pump (`gdio-pump`).
//!
//! The pump serves memory through two traits: [`QueueMemory`] (a queue's request and
//! completion regions) and [`WindowMemory`] (a data window io_uring reads into or writes
//! from). [`PumpQueue`] and [`PumpWindow`] implement them for [`QueueBuffers`] and
//! [`MappedBuffer`].
//!
//! # Lifetime: who frees what, and when
//!
//! Both are used through an `Arc`. Give the pump a clone
//! ([`gdio_pump::PumpBuilder::queue`], [`gdio_pump::PumpBuilder::window`],
//! [`gdio_pump::PumpHandle::add_window`]); keep another to bind the buffers in descriptor
//! sets. The pump holds its clone until its thread has ended, which is after the ring was
//! cancelled and drained ([`gdio_pump::PumpHandle::stop`], or `remove_window` for one window):
//! so the Vulkan memory is freed only when the last `Arc` goes, and never while the kernel may
//! still write into it. Dropping your own clone early is therefore safe; the memory stays
//! mapped until the pump lets go.
//!
//! Dispatches borrow the buffers they bind (see [`gdio_vulkan::Dispatch`]), so the usual order is:
//! wait for (or drop) every dispatch, stop the pump, then drop the `Arc`s.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use gdio_vulkan::{Context, MappedBuffer, PlacementPlan, QueueBuffers};
//! # use gdio::bridge::{PumpQueue, PumpWindow};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = Context::new()?;
//! let plan = PlacementPlan::defaults();
//! let queue = PumpQueue::new(QueueBuffers::new(&ctx, 16, &plan)?);
//! let window = PumpWindow::new(MappedBuffer::new(&ctx, 1 << 20, plan.read_window)?);
//! let pump = gdio_pump::Pump::builder()
//!     .queue(queue.clone())
//!     .window(window.clone(), gdio_pump::WindowMode::Auto, window.read_access())
//!     .spawn()?;
//! // ... bind queue.request_slice(), queue.completion_slice(), window.slice() and dispatch ...
//! pump.stop()?; // drains the ring, then releases the pump's Arcs
//! # Ok(()) }
//! ```

use std::ops::Deref;
use std::sync::Arc;

use gdio_protocol::{Region, WindowAccess};
use gdio_pump::{QueueMemory, WindowMemory};

use gdio_vulkan::{BufferSlice, MappedBuffer, QueueBuffers, QueueGroup};

/// A queue's regions ([`QueueBuffers`]) as [`QueueMemory`] for the pump.
///
/// Derefs to the [`QueueBuffers`], so `queue.request_slice()` and `queue.completion_slice()`
/// bind it in a descriptor set.
#[derive(Debug)]
pub struct PumpQueue {
    buffers: QueueBuffers,
}

impl PumpQueue {
    /// Wraps `buffers` for sharing with a pump. The pump initialises the regions in
    /// `spawn()`; do not call [`QueueBuffers::init_host`] yourself when a pump serves them.
    #[must_use]
    pub fn new(buffers: QueueBuffers) -> Arc<PumpQueue> {
        Arc::new(PumpQueue { buffers })
    }

    /// The wrapped buffers.
    #[must_use]
    pub fn buffers(&self) -> &QueueBuffers {
        &self.buffers
    }
}

impl Deref for PumpQueue {
    type Target = QueueBuffers;
    fn deref(&self) -> &QueueBuffers {
        &self.buffers
    }
}

impl QueueMemory for PumpQueue {
    fn requests(&self) -> Region<'_> {
        self.buffers.regions().0
    }
    fn completions(&self) -> Region<'_> {
        self.buffers.regions().1
    }
    fn slot_count(&self) -> u32 {
        self.buffers.layout().slot_count()
    }
}

/// One queue of a [`QueueGroup`] as [`QueueMemory`], for one pump of several.
#[derive(Debug)]
pub struct PumpGroupQueue {
    group: Arc<QueueGroup>,
    queue: u32,
}

impl PumpGroupQueue {
    /// Queue `queue` of `group` (`None` past its last queue).
    #[must_use]
    pub fn new(group: &Arc<QueueGroup>, queue: u32) -> Option<Arc<PumpGroupQueue>> {
        (queue < group.queues()).then(|| {
            Arc::new(PumpGroupQueue {
                group: group.clone(),
                queue,
            })
        })
    }
}

impl QueueMemory for PumpGroupQueue {
    fn requests(&self) -> Region<'_> {
        self.group
            .regions(self.queue)
            .expect("queue index checked in new")
            .0
    }
    fn completions(&self) -> Region<'_> {
        self.group
            .regions(self.queue)
            .expect("queue index checked in new")
            .1
    }
    fn slot_count(&self) -> u32 {
        self.group.layout().slot_count()
    }
}

/// A [`MappedBuffer`] as a data window ([`WindowMemory`]) for the pump.
///
/// Derefs to the [`MappedBuffer`]. On NVIDIA, READ windows live in ReBAR, which io_uring
/// cannot register: add them with [`gdio_pump::WindowMode::Auto`] (falls back to plain READ)
/// or [`gdio_pump::WindowMode::Unregistered`].
#[derive(Debug)]
pub struct PumpWindow {
    buffer: MappedBuffer,
}

impl PumpWindow {
    /// Wraps `buffer` for sharing with a pump.
    #[must_use]
    pub fn new(buffer: MappedBuffer) -> Arc<PumpWindow> {
        Arc::new(PumpWindow { buffer })
    }

    /// The wrapped buffer.
    #[must_use]
    pub fn buffer(&self) -> &MappedBuffer {
        &self.buffer
    }

    /// The whole window, to bind in a descriptor set.
    #[must_use]
    pub fn slice(&self) -> BufferSlice<'_> {
        BufferSlice::whole(&self.buffer)
    }

    /// Access for a window the host fills with READs (and may also WRITE from).
    #[must_use]
    pub fn read_access(&self) -> WindowAccess {
        self.access(true, true)
    }

    /// Access for a window the shader fills and the host only WRITEs to files from.
    #[must_use]
    pub fn write_access(&self) -> WindowAccess {
        self.access(false, true)
    }

    /// The window's length with the directions the host may use.
    #[must_use]
    pub fn access(&self, host_writes: bool, host_reads: bool) -> WindowAccess {
        WindowAccess {
            len: self.buffer.len() as u64,
            host_writes,
            host_reads,
        }
    }
}

impl Deref for PumpWindow {
    type Target = MappedBuffer;
    fn deref(&self) -> &MappedBuffer {
        &self.buffer
    }
}

// SAFETY: `MappedBuffer::as_ptr` is valid for reads and writes of `len()` bytes for as long as
// the buffer lives (it is unmapped only in Drop) and never changes; the pump keeps an `Arc` of
// this value until its ring is drained, so the memory outlives every IO into it.
unsafe impl WindowMemory for PumpWindow {
    fn as_ptr(&self) -> *mut u8 {
        self.buffer.as_ptr()
    }
    fn len(&self) -> usize {
        self.buffer.len()
    }
}
