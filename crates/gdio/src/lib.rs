//! GPU-directed file IO for Vulkan: the crate to add first.
//!
//! A persistent Vulkan compute shader asks for file data by publishing a request into a slot
//! queue in host-visible memory; a host pump thread claims it, serves it with io_uring
//! directly into GPU-visible memory, and completes the slot; the shader sees the completion
//! and goes on. This crate joins the layers:
//!
//! - [`vulkan`] (`gdio-vulkan`): the driver side: a [`vulkan::Context`], buffers placed where
//!   a running shader sees host writes, pipelines, dispatches, the GLSL library;
//! - [`pump`] (`gdio-pump`): the host thread that claims, validates, submits and completes;
//! - [`bridge`]: [`PumpQueue`] and [`PumpWindow`], which hand gdio-vulkan's queue buffers and
//!   windows to the pump, and keep them alive until it has drained;
//! - [`copy`]: [`PumpCopyQueue`], the GPU's copy queue as the pump's copy engine, for windows
//!   in device-local memory the host cannot map;
//! - [`cache`]: [`PumpCache`], a GPU page cache (`gdio_cache.glsl`) whose pages the pump fills;
//! - [`register`]: whether io_uring can register a buffer (fixed READ) or must use plain READ,
//!   and [`probe`], the placement probe with that check;
//! - [`protocol`] (`gdio-protocol`) and [`uring`] (`gdio-uring`), re-exported.
//!
//! ```no_run
//! use gdio::vulkan::{Context, MappedBuffer, PlacementPlan, QueueBuffers};
//! use gdio::{PumpQueue, PumpWindow};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = Context::new()?;
//! let plan = PlacementPlan::defaults();
//! let queue = PumpQueue::new(QueueBuffers::new(&ctx, 16, &plan)?);
//! let window = PumpWindow::new(MappedBuffer::new(&ctx, 1 << 20, plan.read_window)?);
//! let file = std::fs::File::open("data.bin")?;
//! let pump = gdio::pump::Pump::builder()
//!     .queue(queue.clone())
//!     .file(file, gdio::protocol::FileAccess { readable: true, writable: false })
//!     .window(window.clone(), gdio::pump::WindowMode::Auto, window.read_access())
//!     .spawn()?;
//! // ... bind queue.request_slice(), queue.completion_slice(), window.slice(), dispatch ...
//! pump.stop()?; // drains the ring, then releases the pump's references
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod bridge;
pub mod cache;
pub mod copy;
pub mod register;

pub use bridge::{PumpGroupQueue, PumpQueue, PumpWindow};
pub use cache::PumpCache;
pub use copy::PumpCopyQueue;
pub use register::{probe, registration_of};

pub use gdio_protocol as protocol;
pub use gdio_pump as pump;
pub use gdio_uring as uring;
pub use gdio_vulkan as vulkan;
