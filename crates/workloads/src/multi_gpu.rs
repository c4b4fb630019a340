//! One file streamed by several GPUs at once: the file is cut into as many contiguous parts as
//! there are devices (at chunk boundaries), each device streams and checksums its part through
//! its own thread, queue and pump ([`Streamer::sum_part`]), and the host joins the parts'
//! CRC-32Cs into the file's. The devices may repeat (the same device opened twice), which is
//! how the path is tested on a machine with one device.

use std::path::Path;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::gpu::{Gpu, Settings};
use crate::patterns::crc32c_combine;
use crate::sum::{StreamShape, Streamer};

/// What a split stream did.
#[derive(Debug, Clone)]
pub struct SplitStream {
    /// Devices that took part.
    pub gpus: usize,
    /// Bytes of the file.
    pub bytes: u64,
    /// The file's CRC-32C, joined from the parts'.
    pub crc32c: u32,
    /// From the moment every device was ready to the last part's end.
    pub elapsed: Duration,
    /// Each device's part: its bytes and its own time.
    pub parts: Vec<(u64, Duration)>,
}

/// Streams `path` over the devices `settings` name, one part each, `shape.chunk` the same for
/// every device (the parts start at multiples of it); each device uses `shape.lanes` lanes. Each
/// thread warms its device, pump and part once before the clock starts; the timed parts start
/// together.
pub fn stream_split(settings: &[Settings], path: &Path, shape: StreamShape) -> Result<SplitStream> {
    if settings.is_empty() {
        anyhow::bail!("streaming over no devices: name at least one");
    }
    let bytes = std::fs::metadata(path)
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len();
    let chunk = u64::from(shape.chunk);
    let chunks = bytes.div_ceil(chunk);
    let n = settings.len() as u64;
    // Part i: chunks [i * chunks / n, (i + 1) * chunks / n).
    let bounds: Vec<(u64, u64)> = (0..n)
        .map(|i| {
            let (a, b) = (i * chunks / n, (i + 1) * chunks / n);
            let start = (a * chunk).min(bytes);
            (start, (b * chunk).min(bytes) - start)
        })
        .collect();
    let barrier = Barrier::new(settings.len());
    let start = Mutex::new(None::<Instant>);
    let results: Vec<Result<(u32, Duration, Instant)>> = std::thread::scope(|s| {
        let handles: Vec<_> = settings
            .iter()
            .zip(&bounds)
            .enumerate()
            .map(|(i, (set, &(offset, len)))| {
                let (barrier, start) = (&barrier, &start);
                s.spawn(move || -> Result<(u32, Duration, Instant)> {
                    // Every thread reaches the barrier, failed or not, so that none waits for
                    // ever on one that failed.
                    // A panic is caught here too, so that it also reaches the barrier.
                    let opened = std::panic::catch_unwind(|| Gpu::open(set))
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("opening the device panicked")));
                    let ready = opened
                        .as_ref()
                        .map_err(|e| anyhow::anyhow!("{e:#}"))
                        .and_then(|gpu| {
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                let mut st = Streamer::new(gpu, shape)?;
                                st.sum_part(path, offset, len, |_, _| {})?;
                                Ok(st)
                            }))
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("the warm-up panicked")))
                        });
                    barrier.wait();
                    let mut st = ready.with_context(|| format!("device {i} ({:?})", set.device))?;
                    start
                        .lock()
                        .map_err(|_| anyhow::anyhow!("start lock poisoned"))?
                        .get_or_insert_with(Instant::now);
                    let t = Instant::now();
                    let r = st.sum_part(path, offset, len, |_, _| {})?;
                    let (took, end) = (t.elapsed(), Instant::now());
                    st.finish()?;
                    Ok((r.crc32c, took, end))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a device thread panicked"))?
            })
            .collect()
    });
    let mut crc = 0u32;
    let mut parts = Vec::new();
    let mut last = None;
    for (r, &(_, len)) in results.into_iter().zip(&bounds) {
        let (part_crc, took, end) = r?;
        crc = crc32c_combine(crc, part_crc, len);
        parts.push((len, took));
        last = last.max(Some(end));
    }
    let began = start
        .lock()
        .map_err(|_| anyhow::anyhow!("start lock poisoned"))?
        .ok_or_else(|| anyhow::anyhow!("no device started"))?;
    Ok(SplitStream {
        gpus: settings.len(),
        bytes,
        crc32c: crc,
        elapsed: last.map_or(Duration::ZERO, |e| e.duration_since(began)),
        parts,
    })
}

/// What a job run on several devices at once did: each device's result and the time from when
/// every device was ready to the last one's end.
#[derive(Debug, Clone)]
pub struct OnEach<T> {
    /// Per device, in order.
    pub results: Vec<T>,
    /// From the moment every device was ready (warmed) to the last device's end.
    pub elapsed: Duration,
}

/// Opens each device `settings` names in its own thread, runs `warm(i, gpu)` there, waits until
/// every device is warm, then runs `timed(i, gpu)` on all of them at once. A device that fails
/// to open or warm still reaches the barrier (none waits for ever) and fails the run.
pub fn on_each<T: Send>(
    settings: &[Settings],
    warm: &(dyn Fn(usize, &Gpu) -> Result<()> + Sync),
    timed: &(dyn Fn(usize, &Gpu) -> Result<T> + Sync),
) -> Result<OnEach<T>> {
    anyhow::ensure!(!settings.is_empty(), "no devices: name at least one");
    let barrier = Barrier::new(settings.len());
    let start = Mutex::new(None::<Instant>);
    let results: Vec<Result<(T, Instant)>> = std::thread::scope(|s| {
        let handles: Vec<_> = settings
            .iter()
            .enumerate()
            .map(|(i, set)| {
                let (barrier, start) = (&barrier, &start);
                s.spawn(move || -> Result<(T, Instant)> {
                    let ready = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let gpu = Gpu::open(set)?;
                        warm(i, &gpu)?;
                        Ok(gpu)
                    }))
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the warm-up panicked")));
                    barrier.wait();
                    let gpu = ready.with_context(|| format!("device {i} ({:?})", set.device))?;
                    start
                        .lock()
                        .map_err(|_| anyhow::anyhow!("start lock poisoned"))?
                        .get_or_insert_with(Instant::now);
                    let r = timed(i, &gpu).with_context(|| format!("device {i}"))?;
                    Ok((r, Instant::now()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a device thread panicked"))?
            })
            .collect()
    });
    let mut out = Vec::with_capacity(results.len());
    let mut last = None;
    for r in results {
        let (v, end) = r?;
        out.push(v);
        last = last.max(Some(end));
    }
    let began = start
        .lock()
        .map_err(|_| anyhow::anyhow!("start lock poisoned"))?
        .ok_or_else(|| anyhow::anyhow!("no device started"))?;
    Ok(OnEach {
        results: out,
        elapsed: last.map_or(Duration::ZERO, |e| e.duration_since(began)),
    })
}

/// Random 4 KiB reads on every device at once ([`crate::random::run_queues`] on each: `lanes`
/// lanes, `reads` READs each, over `queues` pumps per device, every word checked): the READs
/// done and their words that mismatched, summed, and the longest device's dispatch time (the
/// devices start together; each one's pump start and pipeline set-up are not IO, so they are
/// left out as in the one-device measurement).
pub fn random_split(
    settings: &[Settings],
    path: &Path,
    seed: u32,
    lanes: u32,
    reads: u32,
    queues: u32,
) -> Result<(u64, u64, Duration)> {
    let run = |gpu: &Gpu, reads: u32| {
        crate::random::run_queues(gpu, path, seed, lanes, reads, 4096, queues)
    };
    let r = on_each(
        settings,
        &|_, gpu| run(gpu, reads.min(8)).map(|_| ()),
        &|_, gpu| run(gpu, reads),
    )?;
    let done = r.results.iter().map(|x| x.reads).sum();
    let bad = r.results.iter().map(|x| x.mismatches).sum();
    let longest = r
        .results
        .iter()
        .map(|x| x.elapsed)
        .max()
        .unwrap_or_default();
    Ok((done, bad, longest))
}

/// B-tree lookups split over every device at once: device i looks up the i-th contiguous share
/// of `keys` ([`crate::lookup::lookup`], `lanes` lanes and `pumps` pumps each); the results in
/// key order and the longest device's dispatch time (as [`random_split`]).
pub fn lookup_split(
    settings: &[Settings],
    index: &Path,
    keys: &[u64],
    lanes: u32,
    pumps: u32,
) -> Result<(Vec<crate::lookup::KeyResult>, Duration)> {
    let n = settings.len().max(1);
    let share = |i: usize| &keys[i * keys.len() / n..(i + 1) * keys.len() / n];
    let run = |gpu: &Gpu, keys: &[u64]| {
        let (f, sb) = crate::btree::open(index)?;
        crate::lookup::lookup(gpu, f, &sb, keys, lanes, pumps, |_, _| {})
    };
    let r = on_each(
        settings,
        &|i, gpu| run(gpu, &share(i)[..share(i).len().min(64)]).map(|_| ()),
        &|i, gpu| run(gpu, share(i)),
    )?;
    let longest = r
        .results
        .iter()
        .map(|l| l.elapsed)
        .max()
        .unwrap_or_default();
    Ok((
        r.results.into_iter().flat_map(|l| l.results).collect(),
        longest,
    ))
}
