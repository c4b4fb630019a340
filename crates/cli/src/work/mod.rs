//! What the GPU does for the commands and the benchmarks: each module runs one workload,
//! through gdio or the CPU-orchestrated way, and returns numbers and results.

pub mod lanes;
pub mod lookup;
pub mod nop;
pub mod orchestrated;
pub mod pumps;
pub mod random;
pub mod serve;
pub mod sum;
