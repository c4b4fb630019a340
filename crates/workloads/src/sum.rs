//! `gdio sum` on the GPU: crc_stream.comp streams a file through gdio (the pump READs chunks
//! into a window ring the shader consumes) and computes each chunk's CRC-32C; the host combines
//! them into the file's standard CRC-32C.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::patterns::{crc32c_of_chunks, crc32c_tables};
use crate::shaders::{self, Chunks, CrcStreamParams};
use anyhow::{Context as _, Result};
use gdio::protocol::FileAccess;
use gdio::pump::{Pump, PumpHandle};
use gdio::vulkan::placement::Registration;
use gdio::vulkan::{BufferSlice, ComputePipeline, MappedBuffer, Placement, QueueBuffers};
use gdio::{PumpQueue, PumpWindow};

use crate::gpu::Gpu;
use crate::lanes;
pub use crate::windows::WindowKind;
use crate::windows::{self, Windows};

/// Chunk size and lanes of a streaming run.
#[derive(Debug, Clone, Copy)]
pub struct StreamShape {
    /// Bytes per READ (a multiple of 16).
    pub chunk: u32,
    /// Lanes, two READs in flight each.
    pub lanes: u32,
}

impl StreamShape {
    /// Most lanes.
    pub const MAX_LANES: u32 = 16_384;

    /// The shape for `gpu`: on a GPU, many lanes with moderate chunks, so that the CRC runs wide
    /// on the device and the copies into ReBAR spread over io-wq workers (measured on the H100:
    /// 1,024 to 4,096 lanes × 128 KiB streamed 29.0–31.1 GB/s, 512 lanes × 1 MiB 18.5–19.7;
    /// docs/BENCHMARKS.md); on lavapipe 8 lanes of 64 KiB.
    #[must_use]
    pub fn defaults(gpu: &Gpu) -> StreamShape {
        StreamShape::defaults_for(gpu, WindowKind::Mapped)
    }

    /// The shape for `gpu` and windows of `kind`: [`StreamShape::defaults`], except that
    /// device-local windows take 1,024 lanes × 256 KiB (the same 512 MiB of windows), which
    /// streamed 23.6–25.2 GB/s through the copy queue on the H100 against 19.2–19.4 GB/s with
    /// 2,048 lanes × 128 KiB (docs/BENCHMARKS.md section 2).
    #[must_use]
    pub fn defaults_for(gpu: &Gpu, kind: WindowKind) -> StreamShape {
        let cpu = gpu.is_cpu();
        match (cpu, kind) {
            (true, _) => StreamShape {
                chunk: 64 << 10,
                lanes: 8,
            },
            (false, WindowKind::Mapped) => StreamShape {
                chunk: 128 << 10,
                lanes: 2048,
            },
            (false, WindowKind::Device) => StreamShape {
                chunk: 256 << 10,
                lanes: 1024,
            },
        }
    }

    /// The largest chunk on `gpu`: lavapipe caps an invocation's loops, and a chunk's checksum
    /// loop must fit one dispatch.
    #[must_use]
    pub fn max_chunk(gpu: &Gpu) -> u32 {
        if gpu.is_cpu() {
            512 << 10
        } else {
            64 << 20
        }
    }

    /// Fails unless the chunk is a multiple of 16 bytes from 16 to [`StreamShape::max_chunk`]
    /// and the lanes number 1 to [`StreamShape::MAX_LANES`].
    pub fn check(&self, gpu: &Gpu) -> Result<()> {
        let (chunk, max) = (self.chunk, StreamShape::max_chunk(gpu));
        if chunk < 16 || chunk % 16 != 0 || chunk > max {
            anyhow::bail!(
                "a chunk of {chunk} bytes: use a multiple of 16 bytes from 16 to {max} on this device"
            );
        }
        if self.lanes == 0 || self.lanes > StreamShape::MAX_LANES {
            anyhow::bail!("{} lanes: use 1..={}", self.lanes, StreamShape::MAX_LANES);
        }
        gpu.check_window(
            self.window_bytes(),
            &format!("{} lanes × 2 × {chunk} bytes", self.lanes),
        )
    }

    /// Window bytes: two chunk regions per lane.
    #[must_use]
    pub fn window_bytes(&self) -> usize {
        2 * self.lanes as usize * self.chunk as usize
    }
}

/// One file's checksum, as the GPU computed it.
#[derive(Debug, Clone)]
pub struct GpuSum {
    /// Bytes checksummed.
    pub bytes: u64,
    /// Standard CRC-32C of the file.
    pub crc32c: u32,
    /// Time from the first dispatch to the last completion.
    pub elapsed: Duration,
    /// Dispatches it took.
    pub dispatches: u32,
}

/// A pump, a queue, a window ring and the pipeline, reused for several files.
pub struct Streamer<'g> {
    gpu: &'g Gpu,
    shape: StreamShape,
    queue: Arc<PumpQueue>,
    window: Windows,
    tables: MappedBuffer,
    state: MappedBuffer,
    pipe: ComputePipeline,
    pump: Option<PumpHandle>,
    warmed: bool,
    direct: bool,
}

impl<'g> Streamer<'g> {
    /// Allocates the queue and the window and starts a pump.
    pub fn new(gpu: &'g Gpu, shape: StreamShape) -> Result<Streamer<'g>> {
        Streamer::with_windows(gpu, shape, WindowKind::Mapped)
    }

    /// As [`Streamer::new`], with windows of `kind`.
    pub fn with_windows(
        gpu: &'g Gpu,
        shape: StreamShape,
        kind: WindowKind,
    ) -> Result<Streamer<'g>> {
        shape.check(gpu)?;
        let ctx = &gpu.ctx;
        let queue = PumpQueue::new(QueueBuffers::new(ctx, 2 * shape.lanes, &gpu.plan)?);
        let tables = MappedBuffer::new(ctx, shaders::CRC_TABLE_WORDS * 4, Placement::HostCached)?;
        tables.write_u32s(0, &crc32c_tables())?;
        let state = lanes::state_buffer(ctx, shape.lanes)?;
        let pipe = ComputePipeline::new(ctx, shaders::CRC_STREAM, 6, 40)?;
        let (window, pump) = match kind {
            WindowKind::Mapped => {
                let window = PumpWindow::new(
                    MappedBuffer::new(ctx, shape.window_bytes(), gpu.plan.read_window)
                        .context("allocating the window ring")?,
                );
                let pump = gpu.spawn_pump(|mode| {
                    Pump::builder()
                        .queue(queue.clone())
                        .window(window.clone(), mode, window.read_access())
                        .name("gdio-pump-sum")
                })?;
                (Windows::Mapped(window), pump)
            }
            WindowKind::Device => {
                let (window, pump) = windows::device_windows(
                    gpu,
                    &queue,
                    shape.window_bytes(),
                    shape.chunk,
                    (true, true),
                    "gdio-pump-sum",
                )?;
                (Windows::Device(window), pump)
            }
        };
        Ok(Streamer {
            gpu,
            shape,
            queue,
            window,
            tables,
            state,
            pipe,
            pump: Some(pump),
            warmed: false,
            direct: false,
        })
    }

    /// Opens the files it streams for direct IO (`O_DIRECT`: no page cache) from now on, or
    /// not. Direct READs need windows the kernel can pin (registered host memory: lavapipe, and
    /// devices where the freshness probe passes for host memory; or device-local windows, read
    /// through registered staging) and chunks of whole 4 KiB blocks; mapped ReBAR windows
    /// (NVIDIA) cannot take them, and this says so.
    pub fn set_direct(&mut self, on: bool) -> Result<()> {
        if on {
            // Direct READs pin the window's pages as registration does: ask the kernel.
            if let Windows::Mapped(w) = &self.window {
                if let Registration::Refused(_) | Registration::NoRing(_) =
                    gdio::registration_of(w.buffer())
                {
                    anyhow::bail!(
                    "direct IO needs READ windows the kernel can pin, and it cannot pin this device's ({} memory; on NVIDIA, ReBAR): stream through the page cache (without --direct)",
                    self.gpu.plan.read_window.name()
                );
                }
            }
            if self.shape.chunk % crate::write::DIRECT_ALIGN != 0 {
                anyhow::bail!(
                    "a chunk of {} bytes: direct IO needs a multiple of {} bytes",
                    self.shape.chunk,
                    crate::write::DIRECT_ALIGN
                );
            }
        }
        self.direct = on;
        Ok(())
    }

    fn pump(&self) -> &PumpHandle {
        self.pump.as_ref().expect("pump runs until drop")
    }

    /// Checksums one file on the GPU, calling `progress(bytes read, file length)` while it
    /// runs.
    pub fn sum(&mut self, path: &Path, progress: impl FnMut(u64, u64)) -> Result<GpuSum> {
        self.sum_part(path, 0, u64::MAX, progress)
    }

    /// Checksums bytes `offset .. offset + len` of a file (to its end at most; `offset` a
    /// multiple of the chunk size) on the GPU, calling `progress(bytes read, part length)`:
    /// one GPU's share of a file streamed by several.
    pub fn sum_part(
        &mut self,
        path: &Path,
        offset: u64,
        len: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<GpuSum> {
        let mut open = std::fs::OpenOptions::new();
        open.read(true);
        if self.direct {
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_DIRECT);
        }
        let file = open.open(path).with_context(|| {
            if self.direct {
                format!(
                    "cannot open {} for direct IO (O_DIRECT; tmpfs and some file systems have none)",
                    path.display()
                )
            } else {
                format!("cannot open {}", path.display())
            }
        })?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if !meta.is_file() {
            anyhow::bail!("{} is not a regular file", path.display());
        }
        let chunk = u64::from(self.shape.chunk);
        if offset % chunk != 0 {
            anyhow::bail!("a part starting at byte {offset}: start parts at a multiple of the chunk ({chunk} bytes)");
        }
        let first_chunk = u32::try_from(offset / chunk).map_err(|_| {
            anyhow::anyhow!(
                "a part starting at byte {offset}: too far into the file for {chunk}-byte chunks"
            )
        })?;
        let len = len.min(meta.len().saturating_sub(offset));
        if u64::from(first_chunk) + len.div_ceil(chunk) > 1 << 32 {
            anyhow::bail!(
                "bytes {offset}..{}: more than 2^32 chunks of {chunk} bytes into the file; use larger chunks",
                offset + len
            );
        }
        let chunks = Chunks::new(len, self.shape.chunk);
        let ctx = &self.gpu.ctx;
        let crcs = MappedBuffer::new(
            ctx,
            (chunks.count.max(1) as usize) * 4,
            Placement::HostCached,
        )?;
        let fid = self.pump().add_file(
            file,
            FileAccess {
                readable: true,
                writable: false,
            },
        )?;
        let lanes = self.shape.lanes.min(chunks.count.max(1));
        let params = CrcStreamParams {
            file: fid.0,
            window: 0,
            chunks,
            lanes,
            budgets: self.gpu.budgets,
            first_chunk,
            read_last: if self.direct {
                chunks.last_len.next_multiple_of(crate::write::DIRECT_ALIGN)
            } else {
                chunks.last_len
            },
        };
        let set = self.pipe.bind(&[
            self.queue.request_slice(),
            self.queue.completion_slice(),
            self.window.slice(),
            BufferSlice::whole(&self.state),
            BufferSlice::whole(&crcs),
            BufferSlice::whole(&self.tables),
        ])?;
        if !self.warmed {
            let idle = CrcStreamParams { lanes: 0, ..params };
            self.gpu.warm(&self.pipe, &set, &idle.to_bytes())?;
            self.warmed = true;
        }
        self.state.fill(0, self.state.len(), 0)?;
        let pump = self.pump.as_ref().expect("pump runs until drop");
        let base = pump.stats().bytes;
        let state = &self.state;
        let driven = self.gpu.drive(
            &self.pipe,
            &set,
            &params.to_bytes(),
            lanes.div_ceil(shaders::LANES_PER_GROUP),
            || Ok(lanes::check(state, lanes, "chunk")?.1),
            || {
                let b = pump.stats().bytes - base;
                progress(b, len);
                b
            },
        );
        drop(set);
        pump.remove_file(fid)?;
        let driven = driven?;
        let (states, _) = lanes::check(&self.state, lanes, "chunk")?;
        let bytes: u64 = states.iter().map(|s| u64::from(s.extra[2])).sum();
        // ST_C counts bytes per lane in 32 bits: compare modulo 2^32 per lane is not enough for
        // huge files, so check the chunk counts instead, and bytes only where they fit.
        let chunks_done: u64 = states.iter().map(|s| u64::from(s.progress)).sum();
        if chunks_done != u64::from(chunks.count) || (len < 1 << 32 && bytes != len) {
            anyhow::bail!(
                "the shader consumed {chunks_done} of {} chunks ({bytes} of {len} bytes)",
                chunks.count
            );
        }
        let words = crcs.read_u32s(0, chunks.count as usize)?;
        let crc = crc32c_of_chunks(&words, u64::from(chunks.chunk), u64::from(chunks.last_len));
        Ok(GpuSum {
            bytes: len,
            crc32c: crc,
            elapsed: driven.elapsed,
            dispatches: driven.dispatches,
        })
    }

    /// Stops the pump (draining it) and frees everything; returns the pump's report (every
    /// run since the start, warm-up included).
    pub fn finish(mut self) -> Result<gdio::pump::PumpReport> {
        crate::windows::stop_pump(&mut self.pump)?
            .ok_or_else(|| anyhow::anyhow!("the pump had already stopped"))
    }
}

impl Drop for Streamer<'_> {
    fn drop(&mut self) {
        // The pump must drain before the window goes: stop it first (PumpHandle's drop also
        // stops it, and it holds its own Arc of every window anyway). A failed stop has been
        // reported by the pump's own answers; nothing is left to do with it here.
        let _ = crate::windows::stop_pump(&mut self.pump);
    }
}

/// The standard CRC-32C of a file computed on the CPU (hardware CRC32 instructions where the
/// CPU has them), reading it in 8 MiB blocks.
pub fn cpu_crc32c(path: &Path) -> Result<u32> {
    use std::io::Read;
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; 8 << 20];
    let mut crc = 0u32;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(crc);
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
    }
}
