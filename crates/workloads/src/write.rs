//! `gdio write` on the GPU: write_file.comp fills window memory with the test pattern
//! ([`crate::patterns::file_word`]) and WRITEs it to a file through gdio, chunk by chunk, each
//! WRITE carrying a data check so that the pump writes only bytes that have reached host memory;
//! the lane whose WRITEs complete last FSYNCs the file once, so it is durable when the shader
//! ends.

use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use gdio::protocol::FileAccess;
use gdio::pump::{Pump, PumpHandle};
use gdio::vulkan::{BufferSlice, ComputePipeline, MappedBuffer};
use gdio::{PumpQueue, PumpWindow};

use crate::windows::{WindowKind, Windows};

use crate::gpu::Gpu;
use crate::lanes;
use crate::patterns::file_word;
use crate::shaders::{self, Chunks, WriteFileParams};

/// The alignment gdio uses for files opened for direct IO (`O_DIRECT`): file offsets, lengths
/// and window addresses are multiples of it. 4 KiB covers the logical block size of the block
/// devices and file systems in use; [`Writer::write`] refuses a file whose direct-IO alignment
/// (`statx`'s `STATX_DIOALIGN`) is larger.
pub const DIRECT_ALIGN: u32 = 4096;

/// The largest file [`Writer::write`] makes: the pattern's word index is 32 bits.
pub const MAX_LEN: u64 = 4 << 32;

/// Chunk size and lanes of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteShape {
    /// Bytes per WRITE (a multiple of 16).
    pub chunk: u32,
    /// Lanes, one WRITE in flight each (lane L writes chunks L, L + lanes, ...).
    pub lanes: u32,
}

impl WriteShape {
    /// Most lanes.
    pub const MAX_LANES: u32 = 4096;

    /// The shape for `gpu`: 256 lanes of 1 MiB on a GPU (each lane fills its chunk and hashes
    /// it while the pump writes the others), 8 lanes of 64 KiB on lavapipe.
    #[must_use]
    pub fn defaults(gpu: &Gpu) -> WriteShape {
        if gpu.is_cpu() {
            WriteShape {
                chunk: 64 << 10,
                lanes: 8,
            }
        } else {
            WriteShape {
                chunk: 1 << 20,
                lanes: 256,
            }
        }
    }

    /// The largest chunk on `gpu`: on lavapipe, whose loops are capped, a chunk's fill loop
    /// must fit one dispatch.
    #[must_use]
    pub fn max_chunk(gpu: &Gpu) -> u32 {
        if gpu.is_cpu() {
            512 << 10
        } else {
            64 << 20
        }
    }

    /// Fails unless the chunk is a multiple of 16 bytes from 16 to [`WriteShape::max_chunk`]
    /// (of [`DIRECT_ALIGN`] for direct IO) and the lanes number 1 to
    /// [`WriteShape::MAX_LANES`].
    pub fn check(&self, gpu: &Gpu, direct: bool) -> Result<()> {
        let (chunk, max) = (self.chunk, WriteShape::max_chunk(gpu));
        if chunk < 16 || chunk % 16 != 0 || chunk > max {
            anyhow::bail!(
                "a chunk of {chunk} bytes: use a multiple of 16 bytes from 16 to {max} on this device"
            );
        }
        if direct && chunk % DIRECT_ALIGN != 0 {
            anyhow::bail!(
                "a chunk of {chunk} bytes: direct IO needs a multiple of {DIRECT_ALIGN} bytes"
            );
        }
        if self.lanes == 0 || self.lanes > WriteShape::MAX_LANES {
            anyhow::bail!("{} lanes: use 1..={}", self.lanes, WriteShape::MAX_LANES);
        }
        gpu.check_window(
            self.window_bytes(),
            &format!("{} lanes × {chunk} bytes", self.lanes),
        )
    }

    /// Window bytes: one chunk per lane.
    #[must_use]
    pub fn window_bytes(&self) -> usize {
        self.lanes as usize * self.chunk as usize
    }
}

/// What one write did.
#[derive(Debug, Clone, Copy)]
pub struct GpuWrite {
    /// Bytes in the file.
    pub bytes: u64,
    /// From the first dispatch to the last lane's FSYNC seen complete.
    pub elapsed: Duration,
    /// Dispatches it took.
    pub dispatches: u32,
    /// CPU time of the whole process meanwhile (the pump, its data-check thread, the kernel's
    /// work on their behalf, and the thread waiting on the dispatches).
    pub cpu: Duration,
}

/// A pump, a queue, a window and the pipeline, reused for several files.
pub struct Writer<'g> {
    gpu: &'g Gpu,
    shape: WriteShape,
    queue: Arc<PumpQueue>,
    window: Windows,
    state: MappedBuffer,
    pipe: ComputePipeline,
    pump: Option<PumpHandle>,
    warmed: bool,
}

impl<'g> Writer<'g> {
    /// Allocates the queue and the window (where the plan puts WRITE windows: memory the host
    /// reads well) and starts a pump.
    pub fn new(gpu: &'g Gpu, shape: WriteShape) -> Result<Writer<'g>> {
        Writer::with_windows(gpu, shape, WindowKind::Mapped)
    }

    /// As [`Writer::new`], with the window of `kind`.
    pub fn with_windows(gpu: &'g Gpu, shape: WriteShape, kind: WindowKind) -> Result<Writer<'g>> {
        shape.check(gpu, false)?;
        let ctx = &gpu.ctx;
        let queue = PumpQueue::new(gdio::vulkan::QueueBuffers::new(
            ctx,
            shape.lanes,
            &gpu.plan,
        )?);
        let state = lanes::state_buffer(ctx, shape.lanes)?;
        let pipe = ComputePipeline::new(ctx, shaders::WRITE_FILE, 4, 36)?;
        let (window, pump) = match kind {
            WindowKind::Mapped => {
                let window = PumpWindow::new(
                    MappedBuffer::new(ctx, shape.window_bytes(), gpu.plan.write_window)
                        .context("allocating the write window")?,
                );
                let pump = gpu.spawn_pump(|mode| {
                    Pump::builder()
                        .queue(queue.clone())
                        .window(window.clone(), mode, window.write_access())
                        .name("gdio-pump-write")
                })?;
                (Windows::Mapped(window), pump)
            }
            WindowKind::Device => {
                let (window, pump) = crate::windows::device_windows(
                    gpu,
                    &queue,
                    shape.window_bytes(),
                    shape.chunk,
                    (false, true),
                    "gdio-pump-write",
                )?;
                (Windows::Device(window), pump)
            }
        };
        Ok(Writer {
            gpu,
            shape,
            queue,
            window,
            state,
            pipe,
            pump: Some(pump),
            warmed: false,
        })
    }

    fn pump(&self) -> &PumpHandle {
        self.pump.as_ref().expect("pump runs until drop")
    }

    /// Writes `len` bytes of the pattern made with `seed` to `path` (created or truncated) from
    /// the GPU, calling `progress(bytes written, len)` while it runs. With `direct` the file is
    /// opened for direct IO (`O_DIRECT`: no page cache): every WRITE is a multiple of
    /// [`DIRECT_ALIGN`] at an aligned offset, the last one padded with the pattern, and the file
    /// is cut back to `len` after the shader's FSYNC (then synced once more).
    pub fn write(
        &mut self,
        path: &Path,
        len: u64,
        seed: u32,
        direct: bool,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<GpuWrite> {
        if len > MAX_LEN {
            anyhow::bail!(
                "{len} bytes: the pattern gdio writes is at most {MAX_LEN} bytes (16 GiB) long"
            );
        }
        self.shape.check(self.gpu, direct)?;
        let mut open = OpenOptions::new();
        open.write(true).create(true).truncate(true);
        if direct {
            open.custom_flags(libc::O_DIRECT);
        }
        let file = open.open(path).with_context(|| {
            if direct {
                format!(
                    "cannot open {} for direct IO (O_DIRECT; tmpfs and some file systems have none: write without --direct there)",
                    path.display()
                )
            } else {
                format!("cannot create {}", path.display())
            }
        })?;
        if direct {
            check_direct_alignment(&file, path)?;
        }
        // Direct IO writes whole aligned blocks: the last chunk is padded with the pattern and
        // the file cut back to `len` at the end.
        let written = if direct {
            len.next_multiple_of(u64::from(DIRECT_ALIGN))
        } else {
            len
        };
        preallocate(&file, written, path)?;
        let chunks = Chunks::new(written, self.shape.chunk);
        let keep = file.try_clone().context("duplicating the file handle")?;
        let fid = self.pump().add_file(file, FileAccess::WRITE_ONLY)?;
        let lanes = self.shape.lanes.min(chunks.count).max(1);
        let params = WriteFileParams {
            file: fid.0,
            window: 0,
            chunks,
            lanes: if chunks.count == 0 { 0 } else { lanes },
            budgets: self.gpu.budgets,
            seed,
        };
        let set = self.pipe.bind(&[
            self.queue.request_slice(),
            self.queue.completion_slice(),
            self.window.slice(),
            BufferSlice::whole(&self.state),
        ])?;
        if !self.warmed {
            let idle = WriteFileParams { lanes: 0, ..params };
            self.gpu.warm(&self.pipe, &set, &idle.to_bytes())?;
            self.warmed = true;
        }
        self.state.fill(0, self.state.len(), 0)?;
        let pump = self.pump.as_ref().expect("pump runs until drop");
        let base = pump.stats().bytes;
        let state = &self.state;
        let cpu0 = process_cpu();
        let started = std::time::Instant::now();
        let done0 = pump.stats().completed;
        // The FSYNC moves no bytes, and syncing a large buffered file may take long:
        // completions count as progress, and the stall limit allows the dirty data to reach
        // the disk at 20 MB/s.
        let stall = Duration::from_secs(60).max(Duration::from_secs(written / 20_000_000));
        let driven = if params.lanes == 0 {
            Ok(None)
        } else {
            self.gpu
                .drive_with_stall(
                    &self.pipe,
                    &set,
                    &params.to_bytes(),
                    lanes.div_ceil(shaders::LANES_PER_GROUP),
                    stall,
                    || Ok(lanes::check(state, lanes, "chunk")?.1),
                    || {
                        let s = pump.stats();
                        let b = (s.bytes - base).min(len);
                        progress(b, len);
                        b + (s.completed - done0)
                    },
                )
                .map(Some)
        };
        drop(set);
        pump.remove_file(fid)?;
        let driven = driven?;
        if let Some(d) = &driven {
            let (states, _) = lanes::check(&self.state, lanes, "chunk")?;
            let chunks_done: u64 = states.iter().map(|s| u64::from(s.progress)).sum();
            let finished = states.iter().filter(|s| s.extra[0] == 1).count();
            // Lane 0's ST_B counts the lanes whose WRITEs all completed; the last of them
            // FSYNCed before it finished.
            let counted = states.first().map_or(0, |s| s.extra[1]);
            if chunks_done != u64::from(chunks.count)
                || finished != lanes as usize
                || counted != lanes
            {
                anyhow::bail!(
                    "the shader wrote {chunks_done} of {} chunks, {counted} of {lanes} lanes finished writing and {finished} finished ({} dispatches)",
                    chunks.count,
                    d.dispatches
                );
            }
        }
        if written != len {
            keep.set_len(len)
                .with_context(|| format!("cutting {} back to {len} bytes", path.display()))?;
        }
        if written != len || driven.is_none() {
            keep.sync_all()
                .with_context(|| format!("syncing {}", path.display()))?;
        }
        progress(len, len);
        Ok(GpuWrite {
            bytes: len,
            // Through the last lane's FSYNC, and the cut and sync of a direct file's padding.
            elapsed: if driven.is_some() {
                started.elapsed()
            } else {
                Duration::ZERO
            },
            dispatches: driven.map_or(0, |d| d.dispatches),
            cpu: process_cpu().saturating_sub(cpu0),
        })
    }

    /// Stops the pump (draining it) and frees everything; returns the pump's report (every
    /// run since the start, warm-up included).
    pub fn finish(mut self) -> Result<gdio::pump::PumpReport> {
        crate::windows::stop_pump(&mut self.pump)?
            .ok_or_else(|| anyhow::anyhow!("the pump had already stopped"))
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        // The pump must drain before the window goes: stop it first (a failed stop has nothing
        // left to report to here).
        let _ = crate::windows::stop_pump(&mut self.pump);
    }
}

/// Fails unless `file`'s direct-IO alignment (`STATX_DIOALIGN`, where the kernel and file
/// system report it) divides [`DIRECT_ALIGN`].
/// Reserves `len` bytes of disk for `file` before any is written (`fallocate`), as fio does
/// before its clock starts: a full disk fails here, before the GPU writes anything, and the
/// file system allocates its blocks once rather than as each write lands. A file system
/// without fallocate (EOPNOTSUPP) is written as it is.
pub(crate) fn preallocate(file: &File, len: u64, path: &Path) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) | Err(rustix::io::Errno::OPNOTSUPP) => Ok(()),
        Err(rustix::io::Errno::NOSPC) => anyhow::bail!(
            "{}: no room for {len} bytes on its file system: free some space or write elsewhere",
            path.display()
        ),
        Err(e) => Err(std::io::Error::from(e))
            .with_context(|| format!("reserving {len} bytes for {}", path.display())),
    }
}

fn check_direct_alignment(file: &File, path: &Path) -> Result<()> {
    use rustix::fs::{statx, AtFlags, StatxFlags};
    let Ok(st) = statx(file, "", AtFlags::EMPTY_PATH, StatxFlags::DIOALIGN) else {
        return Ok(()); // an older kernel: the kernel's EINVAL names a misaligned request
    };
    if st.stx_mask & StatxFlags::DIOALIGN.bits() == 0 || st.stx_dio_offset_align == 0 {
        return Ok(());
    }
    let (mem, off) = (st.stx_dio_mem_align, st.stx_dio_offset_align);
    if DIRECT_ALIGN % off != 0 || DIRECT_ALIGN % mem.max(1) != 0 {
        anyhow::bail!(
            "{}: its file system wants direct IO aligned to {off} bytes in the file and {mem} in memory; gdio aligns to {DIRECT_ALIGN}: write without --direct",
            path.display()
        );
    }
    Ok(())
}

/// This process's CPU time so far (every thread, user and system).
#[must_use]
pub fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Compares `path` with the pattern made with `seed`, reading it in 8 MiB blocks: `Ok(None)`
/// when it holds exactly `len` bytes of it, else where it first differs (the offset, or `len`
/// when only the length differs).
pub fn verify(path: &Path, len: u64, seed: u32) -> Result<Option<u64>> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let actual = f.metadata()?.len();
    let mut buf = vec![0u8; 8 << 20];
    let mut at = 0u64;
    while at < len.min(actual) {
        let n = (len.min(actual) - at).min(buf.len() as u64) as usize;
        f.read_exact(&mut buf[..n])
            .with_context(|| format!("reading {}", path.display()))?;
        // `at` is a multiple of 4 here (blocks are), so word i of the block is file word
        // at / 4 + i.
        for (i, c) in buf[..n].chunks(4).enumerate() {
            let want = file_word((at / 4) as u32 + i as u32, seed).to_le_bytes();
            if c != &want[..c.len()] {
                let j = c.iter().zip(want).position(|(a, b)| *a != b).unwrap_or(0);
                return Ok(Some(at + 4 * i as u64 + j as u64));
            }
        }
        at += n as u64;
    }
    Ok((actual != len).then_some(len.min(actual)))
}
