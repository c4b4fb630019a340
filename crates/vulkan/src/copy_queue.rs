//! Batched copies between host staging memory and [`DeviceBuffer`]s on a queue of their own
//! (a GPU's copy engine), each batch signalling a timeline semaphore, so the host polls how far
//! the copies have got without blocking.
//!
//! The copy queue is never the compute queue: a persistent dispatch occupies that one, and a
//! copy submitted behind it would wait for the dispatch that waits for the copy. A device with
//! a single queue (lavapipe) has no copy queue, and [`CopyQueue::new`] says so.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ash::vk;

use crate::context::Context;
use crate::device_buffer::DeviceBuffer;
use crate::error::{Error, Result, VkContext};
use crate::memory::{MappedBuffer, Placement};

/// Which way a copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyWay {
    /// Staging → target.
    ToTarget,
    /// Target → staging.
    ToStaging,
}

#[derive(Debug, Clone, Copy)]
struct Recorded {
    way: CopyWay,
    target: u32,
    target_offset: u64,
    staging_offset: u64,
    len: u64,
}

/// The regions of `run` (copies between the same two buffers), a copy that starts where the
/// previous one ends on both sides joining it.
fn merged_regions(run: &[Recorded]) -> Vec<vk::BufferCopy> {
    let mut regions: Vec<vk::BufferCopy> = Vec::with_capacity(run.len());
    for r in run {
        let (src, dst) = match r.way {
            CopyWay::ToTarget => (r.staging_offset, r.target_offset),
            CopyWay::ToStaging => (r.target_offset, r.staging_offset),
        };
        match regions.last_mut() {
            Some(last)
                if last.src_offset + last.size == src && last.dst_offset + last.size == dst =>
            {
                last.size += r.len;
            }
            _ => regions.push(
                vk::BufferCopy::default()
                    .src_offset(src)
                    .dst_offset(dst)
                    .size(r.len),
            ),
        }
    }
    regions
}

enum QueueRef {
    /// The context's copy queue, under the context's lock.
    Context,
    /// A queue the application gave, under this lock.
    Own(Mutex<vk::Queue>),
}

/// A copy queue with its staging memory and targets (see the module).
pub struct CopyQueue {
    ctx: Context,
    queue: QueueRef,
    pool: vk::CommandPool,
    semaphore: vk::Semaphore,
    staging: Arc<MappedBuffer>,
    targets: Vec<Arc<DeviceBuffer>>,
    recorded: Vec<Recorded>,
    in_flight: VecDeque<(u64, vk::CommandBuffer)>,
    spare: Vec<vk::CommandBuffer>,
    submitted: u64,
}

impl std::fmt::Debug for CopyQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyQueue")
            .field("staging", &self.staging.len())
            .field("targets", &self.targets.len())
            .field("submitted", &self.submitted)
            .finish_non_exhaustive()
    }
}

// SAFETY: the Vulkan handles are used from one thread at a time (`&mut self`) and the queue
// under its lock; the buffers are Send + Sync.
unsafe impl Send for CopyQueue {}

impl CopyQueue {
    /// A copy queue on the context's copy queue ([`Context::copy_queue_family`]), with
    /// `staging_len` bytes of staging memory in `staging` (host memory the kernel can pin:
    /// [`Placement::HostCached`] or [`Placement::HostCoherent`]).
    pub fn new(ctx: &Context, staging_len: usize, staging: Placement) -> Result<CopyQueue> {
        let family = ctx
            .copy_queue_family()
            .ok_or_else(|| Error::NoCopyQueue(ctx.info().name.clone()))?;
        CopyQueue::make(ctx, QueueRef::Context, family, staging_len, staging)
    }

    /// A copy queue on `queue` of `family`, for a device the application created
    /// ([`Context::adopt`]).
    ///
    /// # Safety
    /// - The device was created with `timelineSemaphore` enabled (gdio cannot read what an
    ///   application enabled; creating a timeline semaphore without it is undefined).
    /// - `queue` belongs to the context's device and to `family`, which supports transfers,
    ///   and nothing else submits to it while this value lives (gdio locks it only here).
    ///   Use a queue other than the one given to gdio for dispatches: copies behind a
    ///   persistent dispatch never run, and a dispatch submitted there would race this lock.
    /// - [`DeviceBuffer`]s it copies into are shared with `family` (see
    ///   [`DeviceBuffer::shared`]) unless `family` is the compute queue's.
    pub unsafe fn on_queue(
        ctx: &Context,
        queue: vk::Queue,
        family: u32,
        staging_len: usize,
        staging: Placement,
    ) -> Result<CopyQueue> {
        if !ctx.info().timeline_semaphore {
            return Err(Error::MissingFeature {
                device: ctx.info().name.clone(),
                feature: "timelineSemaphore (a copy queue signals one per batch)",
            });
        }
        CopyQueue::make(
            ctx,
            QueueRef::Own(Mutex::new(queue)),
            family,
            staging_len,
            staging,
        )
    }

    fn make(
        ctx: &Context,
        queue: QueueRef,
        family: u32,
        staging_len: usize,
        placement: Placement,
    ) -> Result<CopyQueue> {
        let staging = Arc::new(MappedBuffer::new(ctx, staging_len, placement)?);
        let dev = ctx.device();
        let pool_info = vk::CommandPoolCreateInfo::default()
            .queue_family_index(family)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        // SAFETY: the device is valid.
        let pool =
            unsafe { dev.create_command_pool(&pool_info, None) }.vk("vkCreateCommandPool")?;
        let mut timeline = vk::SemaphoreTypeCreateInfo::default()
            .semaphore_type(vk::SemaphoreType::TIMELINE)
            .initial_value(0);
        let sem_info = vk::SemaphoreCreateInfo::default().push_next(&mut timeline);
        // SAFETY: the device is valid; timeline semaphores were enabled with the copy queue.
        let semaphore = match unsafe { dev.create_semaphore(&sem_info, None) } {
            Ok(s) => s,
            Err(result) => {
                // SAFETY: nothing uses the pool yet.
                unsafe { dev.destroy_command_pool(pool, None) };
                return Err(Error::Vk {
                    call: "vkCreateSemaphore",
                    result,
                });
            }
        };
        Ok(CopyQueue {
            ctx: ctx.clone(),
            queue,
            pool,
            semaphore,
            staging,
            targets: Vec::new(),
            recorded: Vec::new(),
            in_flight: VecDeque::new(),
            spare: Vec::new(),
            submitted: 0,
        })
    }

    /// The staging memory (mapped host memory; the pump registers it with io_uring).
    #[must_use]
    pub fn staging(&self) -> &Arc<MappedBuffer> {
        &self.staging
    }

    /// Adds a target; returns its number (0, 1, 2... in order). The queue keeps it alive.
    pub fn add_target(&mut self, buffer: Arc<DeviceBuffer>) -> u32 {
        self.targets.push(buffer);
        (self.targets.len() - 1) as u32
    }

    /// Target `target`, if added.
    #[must_use]
    pub fn target(&self, target: u32) -> Option<&Arc<DeviceBuffer>> {
        self.targets.get(target as usize)
    }

    /// Records a copy of `len` bytes for the next [`CopyQueue::submit`]; both ranges must lie
    /// inside their buffers.
    pub fn record(
        &mut self,
        way: CopyWay,
        target: u32,
        target_offset: u64,
        staging_offset: u64,
        len: u64,
    ) -> Result<()> {
        let t = self.target(target).ok_or_else(|| {
            Error::Invalid(format!(
                "no copy target {target}: add it with CopyQueue::add_target"
            ))
        })?;
        let inside = |off: u64, size: usize| off.checked_add(len).is_some_and(|e| e <= size as u64);
        if len == 0 || !inside(target_offset, t.len()) {
            return Err(Error::OutOfRange {
                offset: target_offset,
                len,
                size: t.len() as u64,
            });
        }
        if !inside(staging_offset, self.staging.len()) {
            return Err(Error::OutOfRange {
                offset: staging_offset,
                len,
                size: self.staging.len() as u64,
            });
        }
        self.recorded.push(Recorded {
            way,
            target,
            target_offset,
            staging_offset,
            len,
        });
        Ok(())
    }

    fn command_buffer(&mut self) -> Result<vk::CommandBuffer> {
        if let Some(cb) = self.spare.pop() {
            return Ok(cb);
        }
        let info = vk::CommandBufferAllocateInfo::default()
            .command_pool(self.pool)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        // SAFETY: the pool belongs to this device and is used from this thread only.
        let cbs = unsafe { self.ctx.device().allocate_command_buffers(&info) }
            .vk("vkAllocateCommandBuffers")?;
        Ok(cbs[0])
    }

    /// Submits every copy recorded since the last submit as one batch (one command buffer)
    /// that signals the timeline semaphore; returns its ticket (1, 2, 3...).
    ///
    /// The copies of a batch run in any order and may overlap in time: never put two copies
    /// that touch the same bytes in one batch.
    ///
    /// All or nothing: on an error nothing was submitted, the recorded copies are dropped, and
    /// no ticket was used (the caller must treat those copies as never made).
    pub fn submit(&mut self) -> Result<u64> {
        let mut recorded = std::mem::take(&mut self.recorded);
        // Copies of one batch are not ordered among themselves (no barrier between them), so
        // they go in target order, where neighbours can merge (see `merged_regions`).
        recorded.sort_by_key(|r| (r.way == CopyWay::ToStaging, r.target, r.target_offset));
        let cb = self.command_buffer()?;
        match self.record_and_submit(cb, &recorded) {
            Ok(ticket) => Ok(ticket),
            Err(e) => {
                // Not submitted: the command buffer is free again (re-begun before reuse).
                self.spare.push(cb);
                Err(e)
            }
        }
    }

    fn record_and_submit(&mut self, cb: vk::CommandBuffer, recorded: &[Recorded]) -> Result<u64> {
        let dev = self.ctx.device();
        // SAFETY: `cb` is not in use (fresh, or its batch finished); every buffer named is
        // alive (the staging Arc and the targets are kept by this queue, which waits for every
        // batch before it drops them); ranges were checked in `record`.
        unsafe {
            dev.begin_command_buffer(
                cb,
                &vk::CommandBufferBeginInfo::default()
                    .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
            )
            .vk("vkBeginCommandBuffer")?;
            // One vkCmdCopyBuffer per run of copies between the same two buffers, with
            // copies that continue each other on both sides merged into one region: the copy
            // engine pays per region (on an H100, 256 KiB copies move 32 GB/s, 1 MiB copies
            // 43 GB/s).
            for run in recorded.chunk_by(|a, b| a.way == b.way && a.target == b.target) {
                let target = self.targets[run[0].target as usize].buffer();
                let staging = self.staging.buffer();
                let (src, dst) = match run[0].way {
                    CopyWay::ToTarget => (staging, target),
                    CopyWay::ToStaging => (target, staging),
                };
                let regions = merged_regions(run);
                dev.cmd_copy_buffer(cb, src, dst, &regions);
            }
            // The copies' writes are made available to the host (staging, read after the
            // semaphore is seen) and to later device reads (targets, read by shaders).
            let barrier = vk::MemoryBarrier::default()
                .src_access_mask(vk::AccessFlags::TRANSFER_WRITE)
                .dst_access_mask(vk::AccessFlags::HOST_READ | vk::AccessFlags::MEMORY_READ);
            dev.cmd_pipeline_barrier(
                cb,
                vk::PipelineStageFlags::TRANSFER,
                vk::PipelineStageFlags::HOST | vk::PipelineStageFlags::ALL_COMMANDS,
                vk::DependencyFlags::empty(),
                &[barrier],
                &[],
                &[],
            );
            dev.end_command_buffer(cb).vk("vkEndCommandBuffer")?;
        }
        let ticket = self.submitted + 1;
        let values = [ticket];
        let mut timeline =
            vk::TimelineSemaphoreSubmitInfo::default().signal_semaphore_values(&values);
        let sems = [self.semaphore];
        let cbs = [cb];
        let submit = vk::SubmitInfo::default()
            .command_buffers(&cbs)
            .signal_semaphores(&sems)
            .push_next(&mut timeline);
        let result = self.with_queue(|q| {
            // SAFETY: the queue is used under its lock; the command buffer was recorded above
            // and the structures live across the call.
            unsafe { dev.queue_submit(q, &[submit], vk::Fence::null()) }
        });
        if let Err(result) = result {
            return Err(Error::Vk {
                call: "vkQueueSubmit (copy queue)",
                result,
            });
        }
        self.submitted = ticket;
        self.in_flight.push_back((ticket, cb));
        Ok(ticket)
    }

    fn with_queue<R>(&self, f: impl FnOnce(vk::Queue) -> R) -> R {
        match &self.queue {
            QueueRef::Context => {
                let (_, q) = self
                    .ctx
                    .inner
                    .copy_queue
                    .as_ref()
                    .expect("made only where the context has a copy queue");
                let q = q.lock().unwrap_or_else(|e| e.into_inner());
                f(*q)
            }
            QueueRef::Own(q) => {
                let q = q.lock().unwrap_or_else(|e| e.into_inner());
                f(*q)
            }
        }
    }

    /// The highest ticket whose batch has finished (0 before the first). Does not block.
    pub fn finished(&mut self) -> Result<u64> {
        // SAFETY: the semaphore belongs to this device.
        let value = unsafe {
            self.ctx
                .device()
                .get_semaphore_counter_value(self.semaphore)
        }
        .vk("vkGetSemaphoreCounterValue")?;
        while self.in_flight.front().is_some_and(|(t, _)| *t <= value) {
            let (_, cb) = self.in_flight.pop_front().expect("front exists");
            self.spare.push(cb);
        }
        Ok(value)
    }

    /// Waits until batch `ticket` has finished or `timeout` passed; returns whether it did.
    pub fn wait(&mut self, ticket: u64, timeout: Duration) -> Result<bool> {
        let sems = [self.semaphore];
        let values = [ticket];
        let info = vk::SemaphoreWaitInfo::default()
            .semaphores(&sems)
            .values(&values);
        let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: the semaphore belongs to this device; the structures live across the call.
        match unsafe { self.ctx.device().wait_semaphores(&info, ns) } {
            Ok(()) => {
                self.finished()?;
                Ok(true)
            }
            Err(vk::Result::TIMEOUT) => Ok(false),
            Err(result) => Err(Error::Vk {
                call: "vkWaitSemaphores",
                result,
            }),
        }
    }
}

impl Drop for CopyQueue {
    fn drop(&mut self) {
        // Every batch finishes before its command buffers, the semaphore and (when this holds
        // the last Arcs) the buffers go. A lost device answers at once.
        if self.submitted > 0 {
            let _ = self.wait(
                self.submitted,
                Duration::from_secs(u64::MAX / 4_000_000_000),
            );
        }
        // SAFETY: no batch is executing (above); both belong to this device.
        unsafe {
            self.ctx.device().destroy_command_pool(self.pool, None);
            self.ctx.device().destroy_semaphore(self.semaphore, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(way: CopyWay, target_offset: u64, staging_offset: u64, len: u64) -> Recorded {
        Recorded {
            way,
            target: 0,
            target_offset,
            staging_offset,
            len,
        }
    }

    fn spans(regions: &[vk::BufferCopy]) -> Vec<(u64, u64, u64)> {
        regions
            .iter()
            .map(|r| (r.src_offset, r.dst_offset, r.size))
            .collect()
    }

    #[test]
    fn copies_that_continue_each_other_on_both_sides_merge() {
        let to = CopyWay::ToTarget;
        let run = [
            copy(to, 0, 4096, 4096),
            copy(to, 4096, 8192, 4096), // continues both sides
            copy(to, 8192, 0, 4096),    // continues the target only
            copy(to, 16384, 4096, 100), // continues the staging only
            copy(to, 16484, 4196, 50),  // continues both
        ];
        assert_eq!(
            spans(&merged_regions(&run)),
            [(4096, 0, 8192), (0, 8192, 4096), (4096, 16384, 150)]
        );
        // The other way the staging is the source.
        let from = CopyWay::ToStaging;
        let run = [copy(from, 0, 4096, 10), copy(from, 10, 4106, 10)];
        assert_eq!(spans(&merged_regions(&run)), [(0, 4096, 20)]);
        assert!(merged_regions(&[]).is_empty());
    }
}
