//! What gdio's command (`gdio`, package gdio-cli) and its benchmarks run on the GPU.
#![deny(missing_docs)]

pub mod patterns;
pub mod shaders;
