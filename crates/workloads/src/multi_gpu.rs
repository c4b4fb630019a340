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
