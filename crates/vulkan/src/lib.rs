//! gdio's Vulkan side: the context, memory placement, windows, persistent compute dispatch,
//! and the GLSL library (`shaders/gdio.glsl`) shaders use to issue IO and wait for it.
//!
//! A persistent compute shader publishes requests into a slot queue's request region; a host
//! pump serves them with io_uring and writes completions into the completion region; the
//! shader sees the completion and goes on, all in one dispatch. This crate provides:
//!
//! - [`Context`]: Vulkan loaded at run time, device selection (`GDIO_DEVICE`), the Vulkan
//!   memory model enabled, VK_EXT_external_memory_host when present, one compute queue;
//! - [`MappedBuffer`] and [`Placement`]: host-visible buffers with an exact memory type
//!   (system memory, ReBAR, imported anonymous memory), never exposed as `&mut [u8]`;
//! - [`placement`]: the freshness and registration probes and the [`PlacementPlan`];
//! - [`ComputePipeline`], [`Context::dispatch`], [`Dispatch`]: one long dispatch with a fence
//!   and a host-side timeout, and re-dispatch for shaders that end early; [`RecordedDispatch`]:
//!   one recorded dispatch submitted again and again;
//! - [`shaders`]: the freshness probe's SPIR-V and the walker shapes ([`glsl`]: the GLSL library and its loop budgets);
//! - [`QueueBuffers`]: a queue's two regions allocated where the plan says;
//! - [`PageCache`]: a GPU page cache's metadata (`shaders/gdio_cache.glsl`, `docs/cache.md`).
//!
//! This crate is the driver side only: it does no IO and depends on `gdio-protocol` alone.
//! The composing crate `gdio` hands its queues and windows to the host pump (`gdio-pump`),
//! which keeps them alive until it has drained.
//!
//! Drop order: a pump that registered windows must be drained before the windows are freed.
//! [`MappedBuffer::free`] takes the buffer by value; call it after the pump's drain.
//!
//! ```no_run
//! use gdio_vulkan::{Context, MappedBuffer, PlacementPlan, QueueBuffers};
//! # fn main() -> gdio_vulkan::Result<()> {
//! let ctx = Context::new()?; // or Context::adopt(...) for the application's own device
//! let plan = PlacementPlan::defaults();
//! let queue = QueueBuffers::new(&ctx, 64, &plan)?; // bind request_slice(), completion_slice()
//! let window = MappedBuffer::new(&ctx, 1 << 20, plan.read_window)?;
//! println!("{} {}", ctx.info().name, window.len());
//! # Ok(()) }
//! ```

pub mod adopt;
pub mod cache;
pub mod context;
pub mod copy_queue;
pub mod device_buffer;
pub mod dispatch;
pub mod error;
pub mod glsl;
pub mod memory;
pub mod patterns;
pub mod pipeline;
pub mod placement;
pub mod queue;
pub mod shaders;

pub use adopt::{EnabledFeatures, ExternalDevice, Requirements};
pub use cache::{CacheCounters, PageCache};
pub use context::{
    Context, DeviceInfo, DeviceSelector, MemoryHeapInfo, MemoryTypeInfo, DEVICE_ENV,
};
pub use copy_queue::{CopyQueue, CopyWay};
pub use device_buffer::DeviceBuffer;
pub use dispatch::{Dispatch, FenceWait, RecordedDispatch, Redispatch, Redispatched, WAIT_SLICE};
pub use error::{Error, Result};
pub use memory::{MappedBuffer, Placement};
pub use pipeline::{spirv_words, BufferSlice, ComputePipeline, DescriptorSet};
pub use placement::{PlacementPlan, ProbeOptions, ProbeReport};
pub use queue::{QueueBuffers, QueueGroup};

/// Re-exported so users need not depend on ash directly for flags and handles.
pub use ash::vk;
