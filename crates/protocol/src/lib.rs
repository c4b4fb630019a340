//! The gdio slot protocol: how a GPU kernel and the host pump talk through shared memory.
//!
//! This crate is the contract written down as code, with no IO, no threads, no clocks and no
//! Vulkan. It owns what every byte of a queue means (`docs/protocol.md` is the same contract
//! in prose and must match it byte for byte):
//!
//! - [`layout`]: where the header, publish words, descriptors and completions live;
//! - [`codes`]: op codes, result codes and pump states;
//! - [`generation`]: slot generations and how they wrap;
//! - [`region`]: sound views of shared memory as `&[AtomicU32]`;
//! - [`request`]: decoding and validating untrusted requests;
//! - [`host`]: the pump's side (claim, complete, pump state);
//! - [`device`]: the device's side (publish, poll), the reference the GLSL library matches.
//!
//! A queue has two regions so that each side writes remote memory and polls local memory:
//! the device writes requests into host memory, the host writes completions into memory the
//! device reads fresh (ReBAR on NVIDIA). On lavapipe both may be one buffer.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod codes;
pub mod device;
pub mod generation;
pub mod host;
pub mod layout;
pub mod region;
pub mod request;
pub mod sync;

#[cfg(any(fuzzing, feature = "fuzzing"))]
pub mod fuzzing;

pub use codes::{Op, PumpState, ResultCode};
pub use device::{DeviceQueue, Poll};
pub use generation::Generation;
pub use host::{Claim, CompleteError, HostQueue};
pub use layout::{Layout, LayoutError};
pub use region::Region;
pub use request::{FileAccess, Limits, Request, Tables, ValidRequest, WindowAccess};
