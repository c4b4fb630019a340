//! The CPU-orchestrated baselines: the way GPU programs read files today. The host reads, the
//! host uploads, the host dispatches, the host waits on a fence, and again.
//!
//! - CRC-32C: pread a block (lanes × chunk bytes) into a mapped buffer, dispatch
//!   crc_chunks.comp over it (one invocation per chunk, the same per-chunk work as
//!   crc_stream.comp), wait, repeat.
//! - B-tree: per level, pread every walking key's node into a mapped buffer, dispatch
//!   btree_step.comp (one invocation per key), wait, read where each key goes next, repeat.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::patterns::{crc32c_of_chunks, crc32c_tables};
use crate::shaders::{self, BtreeStepParams, Chunks, CrcChunksParams, BTREE_NODE_BYTES};
use anyhow::{Context as _, Result};
use gdio::vulkan::{BufferSlice, ComputePipeline, DescriptorSet, MappedBuffer, Placement};

use crate::btree::Superblock;
use crate::gpu::Gpu;
use crate::lookup::{decode, Lookups};
use crate::sum::StreamShape;

/// preads `len` bytes of `f` at `file_offset` straight into `buf` at `offset` (one copy, as a
/// user would read into mapped memory), as `read_exact_at` does: again after a short read or
/// EINTR, an error at the end of the file.
pub(crate) fn read_into(
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
    let mut done = 0;
    while done < len {
        let at =
            libc::off_t::try_from(file_offset + done as u64).context("a file offset past 2^63")?;
        // SAFETY: bytes `offset + done .. offset + len` lie inside the mapping (checked above),
        // which lives as long as `buf`. The kernel writes them through the raw pointer: no Rust
        // reference to mapped memory is formed (rustix's pread takes a slice, hence libc).
        // No dispatch is in flight (every dispatch is waited for before the next read), so the
        // GPU does not touch these bytes meanwhile; threads of a ReaderPool read disjoint nodes,
        // those of pread_ceiling and copy_queue_beside_preads disjoint regions, and those of
        // staged_pipeline a staging chunk only once its last copy has finished.
        let n = unsafe {
            libc::pread(
                f.as_raw_fd(),
                buf.as_ptr().add(offset + done).cast(),
                len - done,
                at,
            )
        };
        match usize::try_from(n) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "failed to fill whole buffer",
                )
                .into())
            }
            Ok(n) => done += n,
            Err(_) => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(())
}

/// Where the orchestrated loops pread before each dispatch: the read-window placement (on NVIDIA
/// ReBAR, so the GPU reads the data from its own memory), or [`crate::Settings::orchestrated_staging`]
/// (host-cached, host-coherent, rebar, imported; the command's `GDIO_ORCHESTRATED_STAGING`):
/// any host-visible memory works for data written before a submission. Measured on the H100 (three runs each, one machine): ReBAR is the better
/// baseline: host-cached staging streamed 3.8-4.0 GB/s against 6.7-7.2 (the CRC shader then
/// reads across the bus) and looked up 65,536 keys in 117-144 against 79-94 ms; 64 keys the same.
fn staging(gpu: &Gpu) -> Placement {
    gpu.settings
        .orchestrated_staging
        .unwrap_or(gpu.plan.read_window)
}

/// The host's copy ceiling for a stream: `threads` threads pread the whole file in `block`-byte
/// blocks (thread t reads blocks t, t + threads, ...) into memory of the read-window placement
/// (ReBAR on NVIDIA: where gdio's READs land), each into its own region, no GPU involved.
/// Returns the time from the first pread to the last, and the process's CPU time meanwhile.
pub fn pread_ceiling(
    gpu: &Gpu,
    path: &Path,
    threads: u32,
    block: u32,
) -> Result<(Duration, Duration)> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata()?.len();
    let (threads, block) = (threads.max(1) as usize, block.max(1) as usize);
    let data = MappedBuffer::new(&gpu.ctx, threads * block, gpu.plan.read_window)?;
    let blocks = len.div_ceil(block as u64);
    let cpu0 = crate::write::process_cpu();
    let start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (f, data) = (&f, &data);
                s.spawn(move || -> Result<()> {
                    let mut b = t as u64;
                    while b < blocks {
                        let at = b * block as u64;
                        let n = (len - at).min(block as u64) as usize;
                        read_into(f, data, t * block, n, at)?;
                        b += threads as u64;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a pread thread panicked"))??;
        }
        Ok(())
    })?;
    Ok((
        start.elapsed(),
        crate::write::process_cpu().saturating_sub(cpu0),
    ))
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
    // Where the host writes before each dispatch (see `staging`).
    let data = MappedBuffer::new(ctx, block, staging(gpu))?;
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

/// Threads that read each level's nodes together: `readers - 1` of them spin (as gdio's pump
/// threads do) until the calling thread posts a level, and every thread, the caller too, takes
/// nodes from a shared counter until none are left. Threads kept across levels: spawning them
/// per level cost more than the reads of a small batch.
struct ReaderPool<'a> {
    todo: std::sync::RwLock<Vec<(usize, u64)>>,
    /// Next index of `todo` to read.
    next: AtomicUsize,
    /// Raised once per level; workers read when it changes.
    level: AtomicU64,
    /// Workers done with the current level.
    done: AtomicUsize,
    stop: AtomicBool,
    failed: std::sync::Mutex<Option<anyhow::Error>>,
    f: &'a File,
    nodes: &'a MappedBuffer,
}

impl ReaderPool<'_> {
    /// Reads nodes of the current level until none are left.
    fn take(&self) {
        let todo = self.todo.read().unwrap_or_else(|e| e.into_inner());
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&(k, off)) = todo.get(i) else {
                return;
            };
            if let Err(e) = read_into(
                self.f,
                self.nodes,
                k * BTREE_NODE_BYTES,
                BTREE_NODE_BYTES,
                off,
            )
            .with_context(|| format!("reading the node at {off}"))
            {
                *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                self.next.store(usize::MAX / 2, Ordering::Relaxed);
                return;
            }
        }
    }

    /// A worker: reads each level posted, until stopped.
    fn work(&self) {
        let mut seen = 0;
        loop {
            let level = loop {
                let l = self.level.load(Ordering::Acquire);
                if l != seen || self.stop.load(Ordering::Acquire) {
                    break l;
                }
                std::hint::spin_loop();
            };
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            seen = level;
            // A panic here must still count as done, or the caller would wait for it forever.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.take())).is_err() {
                *self.failed.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(anyhow::anyhow!("a reader thread panicked"));
            }
            self.done.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Reads `todo` with `workers` workers and the calling thread.
    fn read_level(&self, todo: Vec<(usize, u64)>, workers: usize) -> Result<()> {
        *self.todo.write().unwrap_or_else(|e| e.into_inner()) = todo;
        self.next.store(0, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        if workers > 0 {
            self.level.fetch_add(1, Ordering::AcqRel);
        }
        self.take();
        while self.done.load(Ordering::Acquire) < workers {
            std::hint::spin_loop();
        }
        match self.failed.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// B-tree lookups, CPU-orchestrated: one dispatch per tree level. Each level's node reads are
/// shared by `readers` threads (the caller and `readers - 1` kept spinning across levels, as
/// gdio's pump threads are) when there are at least two reads per thread. Sets its loop up for
/// this one batch (see [`with_loop`] for batch after batch).
pub fn lookup(gpu: &Gpu, f: &File, sb: &Superblock, keys: &[u64], readers: u32) -> Result<Lookups> {
    with_loop(gpu, f, sb, keys.len(), readers, |run| run(keys))
}

/// Looks one batch up through a loop set up by [`with_loop`].
pub type LookupBatch<'r> = dyn FnMut(&[u64]) -> Result<Lookups> + 'r;

/// The CPU-orchestrated lookup loop set up once for batches of up to `capacity` keys, as a
/// program that looks keys up again and again keeps it (its node buffer, reader threads,
/// pipeline, key and result buffers, its warmed-up dispatch), handed to `body` as a function
/// that looks one batch up: the baseline the resident kernel is compared with batch for batch.
pub fn with_loop<R>(
    gpu: &Gpu,
    f: &File,
    sb: &Superblock,
    capacity: usize,
    readers: u32,
    body: impl FnOnce(&mut LookupBatch<'_>) -> Result<R>,
) -> Result<R> {
    let ctx = &gpu.ctx;
    let readers = readers.max(1) as usize;
    let capacity = capacity.max(1);
    let nodes = MappedBuffer::new(ctx, capacity * BTREE_NODE_BYTES, staging(gpu))?;
    let pool = ReaderPool {
        todo: std::sync::RwLock::new(Vec::new()),
        next: AtomicUsize::new(0),
        level: AtomicU64::new(0),
        done: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        failed: std::sync::Mutex::new(None),
        f,
        nodes: &nodes,
    };
    let spawn = if capacity >= 2 * readers {
        readers - 1
    } else {
        0
    };
    let keys = MappedBuffer::new(ctx, capacity * 8, Placement::HostCached)?;
    let results = MappedBuffer::new(
        ctx,
        capacity * shaders::BTREE_RESULT_WORDS * 4,
        Placement::HostCached,
    )?;
    let pipe = ComputePipeline::new(ctx, shaders::BTREE_STEP, 3, 4)?;
    let set = pipe.bind(&[
        BufferSlice::whole(&nodes),
        BufferSlice::whole(&keys),
        BufferSlice::whole(&results),
    ])?;
    gpu.warm(&pipe, &set, &BtreeStepParams { nkeys: 0 }.to_bytes())?;
    let step = Step {
        gpu,
        sb,
        pool: &pool,
        workers: spawn,
        capacity,
        keys: &keys,
        results: &results,
        pipe: &pipe,
        set: &set,
    };
    std::thread::scope(|s| {
        // Raised however this closure ends, a panic included: the scope waits for the workers,
        // which spin until they see it.
        let _stop = StopOnDrop(&pool.stop);
        for i in 0..spawn {
            std::thread::Builder::new()
                .name(format!("gdio-orch-read-{i}"))
                .spawn_scoped(s, || pool.work())
                .context("starting a reader thread of the orchestrated loop")?;
        }
        body(&mut |batch: &[u64]| step.lookup(batch))
    })
}

/// Sets the flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// What one batch of the orchestrated loop works with (set up by [`with_loop`]).
struct Step<'a> {
    gpu: &'a Gpu,
    sb: &'a Superblock,
    pool: &'a ReaderPool<'a>,
    /// Spinning reader threads besides the caller.
    workers: usize,
    /// Most keys per batch.
    capacity: usize,
    keys: &'a MappedBuffer,
    results: &'a MappedBuffer,
    pipe: &'a ComputePipeline,
    set: &'a DescriptorSet<'a>,
}

impl Step<'_> {
    /// Looks `keys` up: per level, pread every walking key's node, dispatch, wait, read where
    /// each key goes next. Timed from the first level's reads (the keys already uploaded).
    fn lookup(&self, keys: &[u64]) -> Result<Lookups> {
        let n = keys.len();
        if n > self.capacity {
            anyhow::bail!(
                "a batch of {n} keys is over the orchestrated loop's capacity of {}",
                self.capacity
            );
        }
        let nkeys = u32::try_from(n).context("at most 2^32-1 keys")?;
        let (pool, nodes, sb) = (self.pool, self.pool.nodes, self.sb);
        let bytes: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
        self.keys.write(0, &bytes)?;
        let p = BtreeStepParams { nkeys };
        // One command buffer for every level of the batch (the same shader, arguments and
        // size), recorded before the clock starts, as a loop that relaunches would keep it.
        let mut step =
            self.gpu
                .ctx
                .record_dispatch(self.pipe, self.set, &p.to_bytes(), [p.groups(), 1, 1])?;
        let words = shaders::BTREE_RESULT_WORDS;
        let mut dispatches = 0u32;
        let mut reads = 0u64;
        let start = Instant::now();
        // Every key starts at the root: status ACTIVE with the root's offset.
        let init: Vec<u32> = (0..n)
            .flat_map(|_| [0, sb.root as u32, (sb.root >> 32) as u32, 0])
            .collect();
        self.results.write_u32s(0, &init)?;
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
            // Workers wake only for a level with at least two reads each.
            let with = if active >= 2 * (self.workers + 1) {
                self.workers
            } else {
                0
            };
            if with == 0 {
                // Alone; the workers keep spinning on the old level number.
                for &(k, off) in &todo {
                    read_into(pool.f, nodes, k * BTREE_NODE_BYTES, BTREE_NODE_BYTES, off)
                        .with_context(|| format!("reading the node at {off}"))?;
                }
            } else {
                pool.read_level(todo, with)?;
            }
            if active == 0 {
                break;
            }
            let t1 = Instant::now();
            t_reads += t1 - t0;
            let mut d = step.submit()?;
            self.gpu.wait(&mut d, Duration::from_secs(600))?;
            drop(d);
            t_dispatch += t1.elapsed();
            dispatches += 1;
            res = self.results.read_u32s(0, n * words)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree;

    /// A three-level index of 70,000 keys in a temporary folder (kept alive by the first value).
    fn small_index() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        btree::build(&path, 70_000, 5, 255, |_| {}).unwrap();
        (dir, path)
    }

    /// Three reader threads (two of them the pool's spinning workers) find what one finds, which
    /// is what the CPU's own lookup finds, on a three-level tree with keys present and absent.
    #[test]
    fn pooled_readers_agree_with_one_reader_and_the_cpu() {
        let gpu = Gpu::open(&crate::Settings::default()).unwrap();
        let (_dir, path) = small_index();
        let (f, sb) = btree::open(&path).unwrap();
        assert_eq!(sb.height, 3);
        let keys = btree::make_keys(sb.keys, sb.seed, 200, 0.2, 1);
        let one = lookup(&gpu, &f, &sb, &keys, 1).unwrap();
        let pooled = lookup(&gpu, &f, &sb, &keys, 3).unwrap();
        assert_eq!(one.results, pooled.results);
        assert_eq!(pooled.reads, 200 * u64::from(sb.height));
        let mut found = 0;
        for (k, r) in keys.iter().zip(&pooled.results) {
            let (cpu, _) = btree::lookup(&f, &sb, *k).unwrap();
            assert_eq!(cpu, r.found, "key {k}");
            found += usize::from(matches!(cpu, btree::Found::Value(_)));
        }
        assert!(
            found > 100 && found < 200,
            "present and absent keys: {found}"
        );
    }

    /// One loop serves batch after batch of changing sizes (a full one, smaller ones after it,
    /// one key, none), every result what the CPU's own lookup finds; a batch over the capacity
    /// is refused.
    #[test]
    fn a_kept_loop_serves_batch_after_batch() {
        let gpu = Gpu::open(&crate::Settings::default()).unwrap();
        let (_dir, path) = small_index();
        let (f, sb) = btree::open(&path).unwrap();
        let batches: Vec<Vec<u64>> = [80, 20, 60, 1, 0]
            .iter()
            .enumerate()
            .map(|(b, &n)| btree::make_keys(sb.keys, sb.seed, n, 0.2, 10 + b as u64))
            .collect();
        let kept = with_loop(&gpu, &f, &sb, 80, 3, |run| {
            let out: Vec<_> = batches.iter().map(|k| run(k).unwrap()).collect();
            let over = btree::make_keys(sb.keys, sb.seed, 81, 0.2, 1);
            let err = run(&over).unwrap_err();
            assert!(format!("{err:#}").contains("capacity of 80"), "{err:#}");
            Ok(out)
        })
        .unwrap();
        for (keys, got) in batches.iter().zip(&kept) {
            assert_eq!(got.results.len(), keys.len());
            assert_eq!(got.reads, keys.len() as u64 * u64::from(sb.height));
            for (k, r) in keys.iter().zip(&got.results) {
                assert_eq!(btree::lookup(&f, &sb, *k).unwrap().0, r.found, "key {k}");
            }
        }
    }

    /// Nodes that cannot be read (the root's children pointed past the end of the file) end a
    /// pooled lookup with the read's error, not a hang.
    #[test]
    fn a_failed_read_in_the_pool_ends_the_lookup_with_its_error() {
        let gpu = Gpu::open(&crate::Settings::default()).unwrap();
        let (_dir, path) = small_index();
        let (_, sb) = btree::open(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let root = sb.root as usize;
        let n = u32::from_le_bytes(bytes[root + 4..root + 8].try_into().unwrap()) as usize;
        for c in 0..=n {
            let at = root + 514 * 4 + 8 * c;
            bytes[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        }
        std::fs::write(&path, &bytes).unwrap();
        let (f, sb) = btree::open(&path).unwrap();
        let keys = btree::make_keys(sb.keys, sb.seed, 200, 0.2, 1);
        let err = lookup(&gpu, &f, &sb, &keys, 3).unwrap_err();
        assert!(
            format!("{err:#}").contains(&format!("reading the node at {}", 1u64 << 40)),
            "{err:#}"
        );
    }
}
