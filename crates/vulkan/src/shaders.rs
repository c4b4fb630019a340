//! The SPIR-V this crate runs itself (built by `shaders/build.sh`, committed, embedded here),
//! and the workgroup shapes [`crate::ComputePipeline`] gives shaders. The demo and benchmark
//! shaders (streaming, B-tree lookups, random reads, round trips) are gdio-workloads'.

/// freshness.comp: the freshness probe (bindings: ack, flag, window), run by
/// [`crate::placement`].
pub const FRESHNESS: &[u8] = include_bytes!("../shaders/spv/freshness.spv");

/// Invocations per workgroup of the probe and of shaders whose lanes are packed into
/// workgroups (lavapipe needs at least 8).
pub const LANES_PER_GROUP: u32 = 8;

/// Invocations per workgroup of shaders whose every lane walks on its own, waiting for its own
/// READs (`local_size_x_id = 1`, which [`crate::ComputePipeline`] sets to this). On a GPU one:
/// lanes that share a warp reconverge after each wait, so a lane whose READ came back would
/// idle until its warp-mates' came too (measured on the H100 with gdio-workloads' B-tree
/// lookups, 64 keys in flight: the device turnaround per tree level went from 14.7-16.1 µs to
/// 7.9-11.1 µs). On a CPU device (lavapipe) [`LANES_PER_GROUP`], its SIMD width, below which it
/// misbehaves.
#[must_use]
pub const fn walker_lanes_per_group(cpu: bool) -> u32 {
    if cpu {
        LANES_PER_GROUP
    } else {
        1
    }
}

/// Invocations that search each node together in a walker that is a whole subgroup
/// (specialization constant 2 of [`crate::ComputePipeline::with_walker_shape`]) on `device`:
/// its subgroup size, when that is a power of two from 8 to 128 (a 4 KiB B-tree node's 128 key
/// quads split evenly), else `None`.
#[must_use]
pub fn walker_invocations(device: &crate::DeviceInfo) -> Option<u32> {
    let s = device.subgroup_size;
    (device.subgroup_shuffle && s.is_power_of_two() && (8..=128).contains(&s)).then_some(s)
}
