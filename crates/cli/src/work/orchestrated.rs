//! The CPU-orchestrated baselines: the way GPU programs read files today. The host reads, the
//! host uploads, the host dispatches, the host waits on a fence, and again.
//!
//! - CRC-32C: pread a block (lanes × chunk bytes) into a mapped buffer, dispatch
//!   crc_chunks.comp over it (one invocation per chunk, the same per-chunk work as
//!   crc_stream.comp), wait, repeat.
//! - B-tree: per level, pread every walking key's node into a mapped buffer, dispatch
//!   btree_step.comp (one invocation per key), wait, read where each key goes next, repeat.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use gdio_vulkan::patterns::{crc32c_of_chunks, crc32c_tables};
use gdio_vulkan::shaders::{self, BtreeStepParams, Chunks, CrcChunksParams, BTREE_NODE_BYTES};
use gdio_vulkan::{BufferSlice, ComputePipeline, MappedBuffer, Placement};

use crate::btree::Superblock;
use crate::gpu::Gpu;
use crate::work::lookup::{decode, key_buffer, Lookups};
use crate::work::sum::StreamShape;

/// preads `len` bytes of `f` at `file_offset` straight into `buf` at `offset` (one copy, as a
/// user would read into mapped memory).
fn read_into(
    f: &File,
    buf: &MappedBuffer,
    offset: usize,
    len: usize,
    file_offset: u64,
) -> Result<()> {
    if offset.checked_add(len).is_none_or(|e| e > buf.len()) {
        anyhow::bail!(
            "read of {len} bytes at {offset} runs past a buffer of {}",
            buf.len()
        );
    }
    // SAFETY: the range is inside the mapping (checked above), which lives as long as `buf`;
    // no dispatch is in flight (every dispatch is waited for before the next read), so neither
    // the GPU nor another thread touches these bytes while the slice exists.
    let dst = unsafe { std::slice::from_raw_parts_mut(buf.as_ptr().add(offset), len) };
    f.read_exact_at(dst, file_offset)?;
    Ok(())
}

/// CRC-32C of a file, CPU-orchestrated. Returns the CRC and the time (first pread to last
/// fence).
pub fn crc(gpu: &Gpu, path: &Path, shape: StreamShape) -> Result<(u32, Duration)> {
    let ctx = &gpu.ctx;
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata()?.len();
    let all = Chunks::new(len, shape.chunk);
    let per_block = shape.lanes.max(1);
    let block = per_block as usize * shape.chunk as usize;
    // Where the host writes before each dispatch: the read-window placement (on NVIDIA ReBAR,
    // so the GPU reads it from its own memory; any host-visible memory works for data written
    // before a submission).
    let data = MappedBuffer::new(ctx, block, gpu.plan.read_window)?;
    let crcs = MappedBuffer::new(ctx, per_block as usize * 4, Placement::HostCached)?;
    let tables = MappedBuffer::new(ctx, shaders::CRC_TABLE_WORDS * 4, Placement::HostCached)?;
    tables.write_u32s(0, &crc32c_tables())?;
    let pipe = ComputePipeline::new(ctx, shaders::CRC_CHUNKS, 3, 12)?;
    let set = pipe.bind(&[
        BufferSlice::whole(&data),
        BufferSlice::whole(&crcs),
        BufferSlice::whole(&tables),
    ])?;
    let warm = CrcChunksParams {
        chunks: Chunks::new(0, shape.chunk),
    };
    gpu.warm(&pipe, &set, &warm.to_bytes())?;
    let mut out = Vec::with_capacity(all.count as usize);
    let start = Instant::now();
    let mut off = 0u64;
    while off < len {
        let n = ((len - off) as usize).min(block);
        read_into(&f, &data, 0, n, off)?;
        let p = CrcChunksParams {
            chunks: Chunks::new(n as u64, shape.chunk),
        };
        let mut d = ctx.dispatch(&pipe, &set, &p.to_bytes(), [p.groups(), 1, 1])?;
        gpu.wait(&mut d, Duration::from_secs(600))?;
        out.extend(crcs.read_u32s(0, p.chunks.count as usize)?);
        off += n as u64;
    }
    let elapsed = start.elapsed();
    Ok((
        crc32c_of_chunks(&out, u64::from(all.chunk), u64::from(all.last_len)),
        elapsed,
    ))
}

/// B-tree lookups, CPU-orchestrated: one dispatch per tree level. Each level's node reads are
/// spread over up to `readers` threads (at least 256 reads each), as gdio spreads them over its
/// pump threads.
pub fn lookup(gpu: &Gpu, f: &File, sb: &Superblock, keys: &[u64], readers: u32) -> Result<Lookups> {
    let ctx = &gpu.ctx;
    let n = keys.len();
    let nkeys = u32::try_from(n).context("at most 2^32-1 keys")?;
    let nodes = MappedBuffer::new(ctx, n.max(1) * BTREE_NODE_BYTES, gpu.plan.read_window)?;
    let key_buf = key_buffer(gpu, keys)?;
    let results = MappedBuffer::new(
        ctx,
        n.max(1) * shaders::BTREE_RESULT_WORDS * 4,
        Placement::HostCached,
    )?;
    let pipe = ComputePipeline::new(ctx, shaders::BTREE_STEP, 3, 4)?;
    let set = pipe.bind(&[
        BufferSlice::whole(&nodes),
        BufferSlice::whole(&key_buf),
        BufferSlice::whole(&results),
    ])?;
    gpu.warm(&pipe, &set, &BtreeStepParams { nkeys: 0 }.to_bytes())?;
    let p = BtreeStepParams { nkeys };
    let words = shaders::BTREE_RESULT_WORDS;
    let mut dispatches = 0u32;
    let mut reads = 0u64;
    let start = Instant::now();
    // Every key starts at the root: status ACTIVE with the root's offset.
    let init: Vec<u32> = (0..n)
        .flat_map(|_| [0, sb.root as u32, (sb.root >> 32) as u32, 0])
        .collect();
    results.write_u32s(0, &init)?;
    let mut res = init;
    let (mut t_reads, mut t_dispatch) = (Duration::ZERO, Duration::ZERO);
    loop {
        let t0 = Instant::now();
        let todo: Vec<(usize, u64)> = (0..n)
            .filter(|&k| res[k * words] == 0)
            .map(|k| {
                let off = u64::from(res[k * words + 1]) | (u64::from(res[k * words + 2]) << 32);
                (k, off)
            })
            .collect();
        let active = todo.len();
        reads += active as u64;
        let threads = (readers.max(1) as usize).min(active.div_ceil(256)).max(1);
        let read_some = |part: &[(usize, u64)]| -> Result<()> {
            for &(k, off) in part {
                read_into(f, &nodes, k * BTREE_NODE_BYTES, BTREE_NODE_BYTES, off)
                    .with_context(|| format!("reading the node at {off}"))?;
            }
            Ok(())
        };
        if threads <= 1 {
            read_some(&todo)?;
        } else {
            std::thread::scope(|s| -> Result<()> {
                let parts: Vec<_> = todo
                    .chunks(active.div_ceil(threads))
                    .map(|part| s.spawn(move || read_some(part)))
                    .collect();
                for p in parts {
                    p.join()
                        .map_err(|_| anyhow::anyhow!("a reader thread panicked"))??;
                }
                Ok(())
            })?;
        }
        if active == 0 {
            break;
        }
        let t1 = Instant::now();
        t_reads += t1 - t0;
        let mut d = ctx.dispatch(&pipe, &set, &p.to_bytes(), [p.groups(), 1, 1])?;
        gpu.wait(&mut d, Duration::from_secs(600))?;
        t_dispatch += t1.elapsed();
        dispatches += 1;
        res = results.read_u32s(0, n * words)?;
        if dispatches > 64 {
            anyhow::bail!("more than 64 levels: the index is corrupt");
        }
    }
    let elapsed = start.elapsed();
    Ok(Lookups {
        results: decode(&res)?,
        elapsed,
        dispatches,
        reads,
        phases: vec![
            ("host preads", t_reads),
            ("dispatch + fence", t_dispatch),
            (
                "the rest (result reads)",
                elapsed.saturating_sub(t_reads + t_dispatch),
            ),
        ],
    })
}
