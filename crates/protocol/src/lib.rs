//! The gdio slot protocol: how a GPU kernel and the host pump talk through shared memory.
//!
//! This crate is the contract written down as code, with no IO, no threads, no clocks and no
//! Vulkan. It owns what every byte of a queue means (`docs/protocol.md` is the same contract
//! in prose and must match it byte for byte):
//!
//! - [`cache`]: the GPU page cache's words and state machine, which the GLSL library runs;
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
//!
//! ```
//! use gdio_protocol::region::zeroed_words;
//! use gdio_protocol::{Claim, DeviceQueue, HostQueue, Layout, Op, Poll, Region, Request};
//! let layout = Layout::new(4).unwrap();
//! let (req, cmp) = (zeroed_words(layout.request_bytes()), zeroed_words(layout.completion_bytes()));
//! let (req, cmp) = (Region::new(&req), Region::new(&cmp));
//! let mut host = HostQueue::init(req, cmp, 4).unwrap();
//! let device = DeviceQueue::attach(req, cmp).unwrap();
//! let g = device.publish(2, &Request::new(Op::Nop)).unwrap();
//! let mut claims = [Claim::default(); 4];
//! assert_eq!(host.claim(&mut claims), 1);
//! host.complete(claims[0].slot, claims[0].generation, 0).unwrap();
//! assert_eq!(device.poll(2, g).unwrap(), Poll::Done(0));
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
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
