//! What gdio's command (`gdio`, package gdio-cli) and its benchmarks run on the GPU, as a
//! library: each module runs one workload, through gdio or the way GPU programs read files
//! today (CPU-orchestrated), and returns numbers and results.
//!
//! - [`shaders`]: the demo shaders' embedded SPIR-V and their parameters; [`patterns`]: what
//!   they compute, on the CPU;
//! - [`Gpu`]: a device opened with its [`Settings`], its pumps, and [`Gpu::drive`], the loop
//!   that re-dispatches a shader until it is done;
//! - [`sum`] (stream a file and CRC it), [`write`](mod@write) (write a file from the GPU),
//!   [`lookup`] and [`serve`] (B-tree lookups in one dispatch or a resident kernel),
//!   [`random`] (random reads over several pumps), [`multi_gpu`] (one file over several GPUs),
//!   [`nop`] (round trips), [`orchestrated`] and [`orchestrated_write`] (the CPU-orchestrated
//!   baselines), [`fio`] (the fio baseline);
//! - [`btree`]: the on-disk B-tree the lookups walk.
//!
//! ```no_run
//! use gdio_workloads::sum::{StreamShape, Streamer};
//! use gdio_workloads::{Gpu, Settings};
//!
//! # fn main() -> anyhow::Result<()> {
//! let gpu = Gpu::open(&Settings::default())?;
//! let mut streamer = Streamer::new(&gpu, StreamShape::defaults(&gpu))?;
//! let sum = streamer.sum("data.bin".as_ref(), |_, _| {})?;
//! println!("CRC-32C {:08x} in {:?}", sum.crc32c, sum.elapsed);
//! streamer.finish()?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod bfs;
pub mod btree;
pub mod cache;
pub mod cached_lookup;
pub mod copy_ceiling;
pub mod fio;
pub mod gpu;
pub mod graph;
pub mod lanes;
pub mod lookup;
pub mod multi_gpu;
pub mod nop;
pub mod orchestrated;
pub mod orchestrated_write;
pub mod partial;
pub mod patterns;
pub mod pumps;
pub mod random;
pub mod serve;
pub mod shaders;
pub mod sum;
pub mod windows;
pub mod write;

pub use gpu::{Driven, Gpu, Settings};
