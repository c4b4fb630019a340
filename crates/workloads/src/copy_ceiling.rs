//! The copy queue by itself: how fast it moves host staging memory into device-local memory,
//! with no file, no pump and no shader. What bounds streaming through device-local windows
//! from the GPU's side.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use gdio::vulkan::{CopyQueue, CopyWay, DeviceBuffer, Placement};

use crate::gpu::Gpu;

/// Copies `total` bytes from `staging` bytes of host-cached staging into a device-local buffer
/// of the same size, in copies of `copy` bytes, `batch` copies per submission, two submissions
/// in flight; returns the time from the first submission to the last one's end.
pub fn copy_queue_ceiling(
    gpu: &Gpu,
    total: u64,
    staging: usize,
    copy: u64,
    batch: usize,
) -> Result<Duration> {
    let ctx = &gpu.ctx;
    let mut q =
        CopyQueue::new(ctx, staging, Placement::HostCached).context("measuring the copy queue")?;
    let target = q.add_target(Arc::new(DeviceBuffer::new(ctx, staging)?));
    let slots = (staging as u64 / copy).max(1);
    let (mut moved, mut next, mut tickets) = (0u64, 0u64, Vec::new());
    let start = Instant::now();
    while moved < total {
        for _ in 0..batch {
            if moved >= total {
                break;
            }
            let at = (next % slots) * copy;
            let n = copy.min(total - moved);
            q.record(CopyWay::ToTarget, target, at, at, n)?;
            moved += n;
            next += 1;
        }
        tickets.push(q.submit()?);
        if tickets.len() >= 2 {
            let t = tickets.remove(0);
            if !q.wait(t, Duration::from_secs(30))? {
                anyhow::bail!("a copy batch did not finish in 30 s");
            }
        }
    }
    for t in tickets {
        if !q.wait(t, Duration::from_secs(30))? {
            anyhow::bail!("a copy batch did not finish in 30 s");
        }
    }
    Ok(start.elapsed())
}
