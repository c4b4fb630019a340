//! The atomics the protocol is written against.
//!
//! Under `--cfg loom` these are loom's model-checked atomics, so that `tests/loom.rs` explores
//! the real orderings of [`crate::host`] and [`crate::device`]; otherwise they are `core`'s.

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
