//! What bounds streaming through device-local windows, measured without gdio: the copy queue by
//! itself (host staging memory into device-local memory, no file, no pump, no shader), the
//! copy queue while host threads copy beside it, and the whole file → staging → device-local
//! pipeline orchestrated by host threads.

use std::collections::VecDeque;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use gdio::vulkan::{CopyQueue, CopyWay, DeviceBuffer, MappedBuffer, Placement};

use crate::gpu::Gpu;
use crate::orchestrated::read_into;

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

/// The file-to-device-local pipeline a careful user would write around a copy queue, without
/// gdio (no shader, no pump): `threads` threads pread `chunk`-byte blocks of `path` into
/// `staging` bytes of host-cached staging (each thread cycles through its own share of the
/// staging chunks), and this thread records a copy staging → device-local for each block read,
/// submitting whatever is recorded while fewer than two batches are in flight (the pump's
/// policy) and handing a chunk back to its thread once its batch has finished. Returns the
/// time from the first pread to the last copy's end and the process's CPU time meanwhile.
pub fn staged_pipeline(
    gpu: &Gpu,
    path: &Path,
    threads: u32,
    chunk: u32,
    staging: usize,
) -> Result<(Duration, Duration)> {
    let ctx = &gpu.ctx;
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata()?.len();
    let (threads, chunk) = (threads.max(1) as usize, u64::from(chunk.max(1)));
    let slots = (staging as u64 / chunk).max(threads as u64) as usize;
    let mut q = CopyQueue::new(ctx, slots * chunk as usize, Placement::HostCached)
        .context("measuring the staged pipeline")?;
    let target = q.add_target(Arc::new(DeviceBuffer::new(ctx, slots * chunk as usize)?));
    let staging_buf = q.staging().clone();
    let blocks = len.div_ceil(chunk);
    let next = AtomicU64::new(0);
    // Per thread: the chunks it may read into; to this thread: (chunk, bytes, owner).
    let (free_tx, free_rx): (Vec<_>, Vec<_>) =
        (0..threads).map(|_| mpsc::channel::<usize>()).unzip();
    for s in 0..slots {
        free_tx[s % threads].send(s).expect("receiver alive");
    }
    let (done_tx, done_rx) = mpsc::channel::<(usize, u64, usize)>();
    let cpu0 = crate::write::process_cpu();
    let start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let mut workers = Vec::new();
        for (t, free) in free_rx.into_iter().enumerate() {
            let (f, buf, next, done) = (&f, &staging_buf, &next, done_tx.clone());
            workers.push(s.spawn(move || -> Result<()> {
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= blocks {
                        return Ok(());
                    }
                    let Ok(slot) = free.recv() else {
                        return Ok(()); // the copier stopped (it reports why)
                    };
                    let at = b * chunk;
                    let n = (len - at).min(chunk) as usize;
                    read_into(f, buf, slot * chunk as usize, n, at)?;
                    if done.send((slot, n as u64, t)).is_err() {
                        return Ok(());
                    }
                }
            }));
        }
        drop(done_tx);
        let copied = copy_as_read(&mut q, target, chunk, blocks, &done_rx, &free_tx);
        drop(free_tx);
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a pread thread panicked"))??;
        }
        copied
    })?;
    Ok((
        start.elapsed(),
        crate::write::process_cpu().saturating_sub(cpu0),
    ))
}

/// The copier of [`staged_pipeline`]: records a copy per block read, submits while fewer than
/// two batches are in flight, and returns each chunk to its thread once its batch finished.
fn copy_as_read(
    q: &mut CopyQueue,
    target: u32,
    chunk: u64,
    blocks: u64,
    done: &mpsc::Receiver<(usize, u64, usize)>,
    free: &[mpsc::Sender<usize>],
) -> Result<()> {
    let (mut read, mut recorded) = (0u64, Vec::new());
    let mut in_flight: VecDeque<(u64, Vec<(usize, usize)>)> = VecDeque::new();
    let give_back = |batch: Vec<(usize, usize)>| {
        for (slot, owner) in batch {
            // A thread that has finished no longer takes chunks.
            let _ = free[owner].send(slot);
        }
    };
    while read < blocks || !recorded.is_empty() || !in_flight.is_empty() {
        let finished = q.finished()?;
        while in_flight.front().is_some_and(|(t, _)| *t <= finished) {
            give_back(in_flight.pop_front().expect("front exists").1);
        }
        let mut took = false;
        while let Ok((slot, n, owner)) = done.try_recv() {
            let at = slot as u64 * chunk;
            q.record(CopyWay::ToTarget, target, at, at, n)?;
            recorded.push((slot, owner));
            read += 1;
            took = true;
        }
        if !recorded.is_empty() && in_flight.len() < 2 {
            let ticket = q.submit()?;
            in_flight.push_back((ticket, std::mem::take(&mut recorded)));
        } else if !took && read < blocks && in_flight.is_empty() {
            // Nothing to copy yet: wait for a read (a thread that failed drops its sender).
            match done.recv_timeout(Duration::from_secs(30)) {
                Ok((slot, n, owner)) => {
                    let at = slot as u64 * chunk;
                    q.record(CopyWay::ToTarget, target, at, at, n)?;
                    recorded.push((slot, owner));
                    read += 1;
                }
                Err(_) => return Ok(()), // a pread failed: its thread reports it
            }
        } else if in_flight.len() >= 2 || (read >= blocks && recorded.is_empty()) {
            std::hint::spin_loop();
        }
    }
    Ok(())
}

/// The copy queue's rate (as [`copy_queue_ceiling`]) while `threads` threads pread `path` over
/// and over, 1 MiB at a time, into other host-cached memory: whether the host's copies slow
/// the copy queue's reads of host memory. Returns the copy time and the preads' bytes per
/// second meanwhile.
pub fn copy_queue_beside_preads(
    gpu: &Gpu,
    path: &Path,
    threads: u32,
    total: u64,
    copy: u64,
) -> Result<(Duration, f64)> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata()?.len();
    let (threads, block) = (threads.max(1) as usize, 1usize << 20);
    let data = MappedBuffer::new(&gpu.ctx, threads * block, Placement::HostCached)?;
    let blocks = len.div_ceil(block as u64).max(1);
    let stop = AtomicBool::new(false);
    let moved = AtomicU64::new(0);
    std::thread::scope(|s| -> Result<(Duration, f64)> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (f, data, stop, moved) = (&f, &data, &stop, &moved);
                s.spawn(move || -> Result<()> {
                    let mut b = t as u64;
                    while !stop.load(Ordering::Relaxed) {
                        let at = (b % blocks) * block as u64;
                        let n = (len - at).min(block as u64) as usize;
                        read_into(f, data, t * block, n, at)?;
                        moved.fetch_add(n as u64, Ordering::Relaxed);
                        b += threads as u64;
                    }
                    Ok(())
                })
            })
            .collect();
        // Let the preads reach their pace before the copies start.
        std::thread::sleep(Duration::from_millis(50));
        let before = (moved.load(Ordering::Relaxed), Instant::now());
        let copies = copy_queue_ceiling(gpu, total, 256 << 20, copy, (64 << 20) / copy as usize);
        let after = (moved.load(Ordering::Relaxed), Instant::now());
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a pread thread panicked"))??;
        }
        let rate = (after.0 - before.0) as f64 / (after.1 - before.1).as_secs_f64();
        Ok((copies?, rate))
    })
}
