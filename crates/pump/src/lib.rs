//! The gdio pump: GPU-directed IO on the host side.
//!
//! A [`Pump`] thread owns an io_uring ([`gdio_uring::Ring`]) and the host side of one or more
//! slot queues ([`gdio_protocol::HostQueue`]). Each turn it reaps completions and completes
//! their slots, claims what the device published, validates every request against its file
//! and window tables (a bad request gets an error completion, never a submission), submits,
//! and idles with a bounded spin-then-park backoff when there is nothing to do.
//!
//! Every claimed request ends completed: by its IO result, by a protocol error, by `STOPPED`
//! when the pump stops, or by `INTERNAL` when the pump fails (a ring error or a panic), in
//! which case the queue header says FAILED so no device waits forever. [`PumpHandle::stop`]
//! cancels and drains the ring before it returns: after it, the kernel writes into no window.
//!
//! The [`emulated`] module is a CPU implementation of the device side, driving the same
//! protocol from threads: the tests, the soak and the benchmarks run on it.
//!
//! ```
//! use std::sync::Arc;
//! use gdio_protocol::{Op, Request};
//! use gdio_pump::emulated::Lane;
//! use gdio_pump::{HostQueueMemory, Pump};
//! let queue = Arc::new(HostQueueMemory::new(8).unwrap());
//! let pump = Pump::builder().queue(queue.clone()).spawn().unwrap();
//! let mut lane = Lane::new(&*queue, 0..8).unwrap(); // the device's side, on the CPU
//! assert_eq!(lane.run(&Request::new(Op::Nop)), 0);
//! let report = pump.stop().unwrap();
//! assert_eq!(report.completed(), 1);
//! ```
#![deny(missing_docs)]

mod builder;
mod direct;
pub mod emulated;
mod engine;
mod error;
#[cfg(any(fuzzing, feature = "fuzzing"))]
pub mod fuzzing;
mod handle;
mod idle;
pub mod memory;
mod ordering;
pub mod staging;
mod stats;
mod tables;

pub use builder::{PumpBuilder, WindowMode};
pub use error::PumpError;
pub use handle::{FileId, PumpHandle, WindowId};
pub use idle::IdlePolicy;
pub use memory::{HostQueueMemory, HostWindow, QueueMemory, WindowMemory};
pub use staging::{CopyEngine, HostCopyEngine};
pub use stats::{CopyStats, LiveStats, OpCounts, PumpReport};

/// Marker for the pump namespace: `Pump::builder()` reads well at call sites.
pub struct Pump;

impl Pump {
    /// Starts configuring a pump.
    #[must_use]
    pub fn builder() -> PumpBuilder {
        PumpBuilder::default()
    }
}
