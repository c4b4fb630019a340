//! The CPU-orchestrated write baseline: what a Vulkan program writes files with today. Per
//! batch the host dispatches `fill_pattern.comp` into a host-visible buffer, waits on the
//! fence, copies the buffer out to host memory and pwrites it; at the end it fsyncs. The same
//! bytes, batch size and memory placement as [`crate::write::Writer`].

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use gdio::vulkan::{BufferSlice, ComputePipeline, MappedBuffer};

use crate::gpu::Gpu;
use crate::shaders;
use crate::write::{process_cpu, WriteShape, DIRECT_ALIGN, MAX_LEN};

/// What one orchestrated write did.
#[derive(Debug, Clone, Copy)]
pub struct OrchestratedWrite {
    /// From the first dispatch to the fsync's return.
    pub elapsed: Duration,
    /// CPU time of the whole process meanwhile.
    pub cpu: Duration,
    /// Dispatches (one per batch).
    pub dispatches: u32,
}

/// Writes `len` bytes of the pattern made with `seed` to `path` (created or truncated) in
/// batches of `shape.window_bytes()`, placed where gdio puts WRITE windows. With `direct` the
/// file is opened with `O_DIRECT`; the last batch is padded to [`DIRECT_ALIGN`] and the file
/// cut back to `len`.
pub fn write(
    gpu: &Gpu,
    path: &Path,
    len: u64,
    seed: u32,
    shape: WriteShape,
    direct: bool,
) -> Result<OrchestratedWrite> {
    if len > MAX_LEN {
        anyhow::bail!("{len} bytes: the pattern is at most {MAX_LEN} bytes long");
    }
    shape.check(gpu, direct)?;
    let ctx = &gpu.ctx;
    let batch = shape.window_bytes();
    let buffer = MappedBuffer::new(ctx, batch, gpu.plan.write_window)
        .context("allocating the staging buffer")?;
    let pipe = ComputePipeline::new(ctx, shaders::FILL_PATTERN, 1, 12)?;
    let set = pipe.bind(&[BufferSlice::whole(&buffer)])?;
    let mut open = OpenOptions::new();
    open.write(true).create(true).truncate(true);
    if direct {
        open.custom_flags(libc::O_DIRECT);
    }
    let file = open
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // Host memory the pwrite reads, aligned to DIRECT_ALIGN for direct IO.
    let align = DIRECT_ALIGN as usize;
    let mut raw = vec![0u8; batch + align];
    let skip = raw.as_ptr().align_offset(align);
    let host = &mut raw[skip..skip + batch];
    let written = if direct {
        len.next_multiple_of(u64::from(DIRECT_ALIGN))
    } else {
        len
    };
    crate::write::preallocate(&file, written, path)?;
    gpu.warm(&pipe, &set, &bytes(0, 0, seed))?;
    let (cpu0, start) = (process_cpu(), Instant::now());
    let mut dispatches = 0;
    let mut at = 0u64;
    while at < written {
        let n = (written - at).min(batch as u64) as usize;
        let words = n.div_ceil(4) as u32;
        // At most 65,535 loop iterations per invocation (lavapipe's cap): enough workgroups.
        let groups = words.div_ceil(64).clamp(1, 65_535);
        let mut d = ctx.dispatch(
            &pipe,
            &set,
            &bytes((at / 4) as u32, words, seed),
            [groups, 1, 1],
        )?;
        gpu.wait(&mut d, Duration::from_secs(60))?;
        drop(d);
        dispatches += 1;
        buffer.read(0, &mut host[..n])?;
        file.write_all_at(&host[..n], at)
            .with_context(|| format!("writing {}", path.display()))?;
        at += n as u64;
    }
    if written != len {
        file.set_len(len)?;
    }
    file.sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    Ok(OrchestratedWrite {
        elapsed: start.elapsed(),
        cpu: process_cpu().saturating_sub(cpu0),
        dispatches,
    })
}

fn bytes(base: u32, nwords: u32, seed: u32) -> Vec<u8> {
    [base, nwords, seed]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}
