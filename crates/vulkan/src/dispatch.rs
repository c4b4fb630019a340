//! One long dispatch with a fence and a host-side timeout, and re-dispatch until a shader says
//! it is done.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ash::vk;
use ash::vk::Handle as _;

use crate::context::Context;
use crate::error::{Error, Result, VkContext};
use crate::pipeline::{ComputePipeline, DescriptorSet};

/// How long one `vkWaitForFences` call may block; waits are made of such slices so that a
/// timeout is noticed promptly and no call ever blocks without bound.
pub const WAIT_SLICE: Duration = Duration::from_millis(20);

/// How the host waits for a dispatch's fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FenceWait {
    /// `vkWaitForFences` in slices of [`WAIT_SLICE`]: the thread sleeps until the driver wakes
    /// it (no CPU used; the wake-up can cost hundreds of microseconds on some drivers).
    #[default]
    Block,
    /// `vkGetFenceStatus` in a loop: the completion is noticed within about a microsecond, at
    /// the price of one busy core while the dispatch runs. For short dispatches where latency
    /// is the point (a CPU-orchestrated loop, a small lookup batch); never on a CPU device,
    /// where the spinning thread takes a core from the shader.
    Spin,
}

/// A dispatch in flight. It borrows the pipeline and the descriptor set (and through the set,
/// every buffer bound), so none of them can be freed while the GPU may still use them.
///
/// Dropping a dispatch that has not finished blocks until it does (the GPU may still use the
/// buffers it borrows). Shaders written with gdio.glsl end by themselves: every gdio_wait is
/// bounded by its budget, and stopping the pump (pump state STOPPED or FAILED) makes every
/// pending wait return PUMP_GONE at once. So on [`Error::Timeout`] from [`Dispatch::wait`],
/// stop the pump, then wait again or drop.
pub struct Dispatch<'a> {
    ctx: Context,
    cmd: vk::CommandBuffer,
    fence: vk::Fence,
    started: Instant,
    finished: Option<Duration>,
    /// False for a submission of a [`RecordedDispatch`], which keeps its command buffer and
    /// fence for the next one.
    owned: bool,
    _borrows: std::marker::PhantomData<(&'a ComputePipeline, &'a DescriptorSet<'a>)>,
}

/// A dispatch recorded once and submitted again and again, one submission at a time: what a
/// loop that relaunches the same shader with the same arguments keeps, instead of recording a
/// command buffer per launch ([`Context::dispatch`]). Each [`RecordedDispatch::submit`] returns
/// a [`Dispatch`] to wait on; it borrows this one mutably, so the next submission can only
/// follow once it is dropped (which waits for the GPU).
pub struct RecordedDispatch<'a> {
    ctx: Context,
    cmd: vk::CommandBuffer,
    fence: vk::Fence,
    /// What the command buffer uses, for the Context's record of submissions.
    uses: Arc<[u64]>,
    submitted: bool,
    _borrows: std::marker::PhantomData<(&'a ComputePipeline, &'a DescriptorSet<'a>)>,
}

impl std::fmt::Debug for RecordedDispatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedDispatch")
            .field("submitted", &self.submitted)
            .finish()
    }
}

impl std::fmt::Debug for Dispatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatch")
            .field("finished", &self.finished)
            .finish()
    }
}

impl Context {
    /// Records and submits one dispatch of `groups` workgroups with `push` as push constants
    /// (must be the pipeline's push-constant size). Host writes made before this call are
    /// visible to the shader (queue submission is a host-write domain operation); the shader's
    /// writes are made visible to the host when the dispatch finishes.
    pub fn dispatch<'a>(
        &self,
        pipeline: &'a ComputePipeline,
        set: &'a DescriptorSet<'a>,
        push: &[u8],
        groups: [u32; 3],
    ) -> Result<Dispatch<'a>> {
        let (cmd, fence) = self.record(pipeline, set, push, groups, true)?;
        self.submit(cmd, fence, uses(pipeline, set))
            .inspect_err(|_| self.release(cmd, fence))?;
        Ok(Dispatch::in_flight(self, cmd, fence, true))
    }

    /// Records one dispatch as [`Context::dispatch`] does, without submitting it: submit it as
    /// often as needed with [`RecordedDispatch::submit`] (the same visibility rules each time).
    pub fn record_dispatch<'a>(
        &self,
        pipeline: &'a ComputePipeline,
        set: &'a DescriptorSet<'a>,
        push: &[u8],
        groups: [u32; 3],
    ) -> Result<RecordedDispatch<'a>> {
        let (cmd, fence) = self.record(pipeline, set, push, groups, false)?;
        Ok(RecordedDispatch {
            ctx: self.clone(),
            cmd,
            fence,
            uses: uses(pipeline, set),
            submitted: false,
            _borrows: std::marker::PhantomData,
        })
    }

    /// A command buffer (recycled or new) with the dispatch recorded in it, and an unsignalled
    /// fence. `once`: recorded for one submission (ONE_TIME_SUBMIT).
    fn record(
        &self,
        pipeline: &ComputePipeline,
        set: &DescriptorSet<'_>,
        push: &[u8],
        groups: [u32; 3],
        once: bool,
    ) -> Result<(vk::CommandBuffer, vk::Fence)> {
        if push.len() != pipeline.push_constant_bytes() as usize {
            return Err(Error::Invalid(format!(
                "pipeline takes {} bytes of push constants, got {}",
                pipeline.push_constant_bytes(),
                push.len()
            )));
        }
        let dev = self.device();
        let pool = self
            .inner
            .command_pool
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (pipe, layout) = pipeline.raw();
        let recycled = self
            .inner
            .recycled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let (cmd, fence) = match recycled {
            // SAFETY: a recycled pair belongs to a dispatch whose fence signalled (its Drop
            // waited) or to a RecordedDispatch whose fence signalled or was never submitted,
            // so the command buffer is not executing and the fence is not in use; the pool
            // (created with RESET_COMMAND_BUFFER) is locked.
            Some((cmd, fence)) => unsafe {
                let reset = dev
                    .reset_command_buffer(cmd, vk::CommandBufferResetFlags::empty())
                    .and_then(|()| dev.reset_fences(&[fence]));
                if let Err(result) = reset {
                    dev.free_command_buffers(*pool, &[cmd]);
                    dev.destroy_fence(fence, None);
                    return Err(Error::Vk {
                        call: "vkResetCommandBuffer/vkResetFences",
                        result,
                    });
                }
                (cmd, fence)
            },
            None => {
                let alloc = vk::CommandBufferAllocateInfo::default()
                    .command_pool(*pool)
                    .level(vk::CommandBufferLevel::PRIMARY)
                    .command_buffer_count(1);
                // SAFETY: the pool is externally synchronised by its mutex.
                let cmd = unsafe { dev.allocate_command_buffers(&alloc) }
                    .vk("vkAllocateCommandBuffers")?[0];
                // SAFETY: valid device.
                match unsafe { dev.create_fence(&vk::FenceCreateInfo::default(), None) } {
                    Ok(f) => (cmd, f),
                    Err(result) => {
                        // SAFETY: the command buffer was never submitted.
                        unsafe { dev.free_command_buffers(*pool, &[cmd]) };
                        return Err(Error::Vk {
                            call: "vkCreateFence",
                            result,
                        });
                    }
                }
            }
        };
        let free = |e: Error| {
            // SAFETY: neither was submitted.
            unsafe {
                dev.free_command_buffers(*pool, &[cmd]);
                dev.destroy_fence(fence, None);
            }
            e
        };
        let flags = if once {
            vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT
        } else {
            vk::CommandBufferUsageFlags::empty()
        };
        // SAFETY: as above.
        unsafe {
            let begin = vk::CommandBufferBeginInfo::default().flags(flags);
            dev.begin_command_buffer(cmd, &begin)
                .vk("vkBeginCommandBuffer")
                .map_err(free)?;
            dev.cmd_bind_pipeline(cmd, vk::PipelineBindPoint::COMPUTE, pipe);
            dev.cmd_bind_descriptor_sets(
                cmd,
                vk::PipelineBindPoint::COMPUTE,
                layout,
                0,
                &[set.raw()],
                &[],
            );
            if !push.is_empty() {
                dev.cmd_push_constants(cmd, layout, vk::ShaderStageFlags::COMPUTE, 0, push);
            }
            dev.cmd_dispatch(cmd, groups[0], groups[1], groups[2]);
            // The shader's writes become visible to host reads after the fence.
            let barrier = vk::MemoryBarrier::default()
                .src_access_mask(vk::AccessFlags::SHADER_WRITE)
                .dst_access_mask(vk::AccessFlags::HOST_READ);
            dev.cmd_pipeline_barrier(
                cmd,
                vk::PipelineStageFlags::COMPUTE_SHADER,
                vk::PipelineStageFlags::HOST,
                vk::DependencyFlags::empty(),
                &[barrier],
                &[],
                &[],
            );
            dev.end_command_buffer(cmd)
                .vk("vkEndCommandBuffer")
                .map_err(free)?;
        }
        Ok((cmd, fence))
    }

    /// Submits the recorded `cmd` with `fence` (unsignalled, not in use), and records the
    /// submission with what it `uses` until it is seen finished.
    fn submit(&self, cmd: vk::CommandBuffer, fence: vk::Fence, uses: Arc<[u64]>) -> Result<()> {
        let cmds = [cmd];
        let submit = vk::SubmitInfo::default().command_buffers(&cmds);
        let queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the queue is externally synchronised by its mutex; the command buffer is
        // fully recorded and not executing; the fence is unsignalled and not in use (the
        // callers' contract).
        unsafe { self.device().queue_submit(*queue, &[submit], fence) }.vk("vkQueueSubmit")?;
        self.submitted().push((fence, uses));
        Ok(())
    }

    /// Submissions not yet seen finished: dispatches in flight, and those whose [`Dispatch`]
    /// was forgotten (`mem::forget`) before it saw its fence. Freeing a buffer, descriptor set
    /// or pipeline that one of them uses waits for it first.
    #[must_use]
    pub fn submissions_in_flight(&self) -> usize {
        self.submitted().len()
    }

    fn submitted(&self) -> std::sync::MutexGuard<'_, Vec<(vk::Fence, Arc<[u64]>)>> {
        self.inner
            .submitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the record of the submission with `fence`: it is finished (its fence signalled)
    /// or the device is lost. Call before the fence is reset or reused.
    fn settle(&self, fence: vk::Fence) {
        self.submitted().retain(|(f, _)| *f != fence);
    }

    /// Blocks until no recorded submission uses the object with raw handle `handle`. A
    /// [`Dispatch`] borrows everything its submission uses, so this finds only submissions
    /// whose Dispatch was forgotten (`mem::forget`, which safe code may do) instead of dropped:
    /// freeing what they use is then still safe. Like dropping a running Dispatch, it waits
    /// as long as the shader runs (gdio shaders end when the pump stops).
    pub(crate) fn wait_unused(&self, handle: u64) {
        let pending: Vec<vk::Fence> = self
            .submitted()
            .iter()
            .filter(|(_, uses)| uses.contains(&handle))
            .map(|(f, _)| *f)
            .collect();
        for fence in pending {
            let start = Instant::now();
            let mut warned = false;
            loop {
                // SAFETY: the fence belongs to this device and is not reset while recorded
                // (`settle` comes first at every reset).
                let r = unsafe {
                    self.device()
                        .wait_for_fences(&[fence], true, WAIT_SLICE.as_nanos() as u64)
                };
                match r {
                    Err(vk::Result::TIMEOUT) => {
                        if !warned && start.elapsed() > Duration::from_secs(10) {
                            eprintln!("gdio-vulkan: freeing a resource that a forgotten dispatch still uses after 10 s; stop the pump so the shader exits");
                            warned = true;
                        }
                    }
                    // Signalled, or the device is lost (nothing executes any more).
                    _ => break,
                }
            }
            self.settle(fence);
        }
    }

    /// Keeps a command buffer and fence that are not in use (never submitted, or done) for
    /// the next dispatch (the Context frees them at the end).
    fn recycle(&self, cmd: vk::CommandBuffer, fence: vk::Fence) {
        self.settle(fence);
        self.inner
            .recycled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((cmd, fence));
    }

    /// Frees a command buffer and fence that are not in use (never submitted, or done).
    fn release(&self, cmd: vk::CommandBuffer, fence: vk::Fence) {
        let pool = self
            .inner
            .command_pool
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // SAFETY: neither is in use (the callers' contract); the pool is locked.
        unsafe {
            self.device().free_command_buffers(*pool, &[cmd]);
            self.device().destroy_fence(fence, None);
        }
    }

    /// Dispatches again and again until `done()` says the shader finished its work (a shader
    /// may end early: on lavapipe every invocation stops after 65,535 loop iterations, and a
    /// gdio_wait can run out of budget; the GLSL keeps its progress in a user buffer and
    /// resumes). Returns the number of dispatches run. If a dispatch times out, it is dropped
    /// (which waits for it to end, see [`Dispatch`]) before [`Error::Timeout`] is returned.
    ///
    /// [`Context::dispatch_watched`] is the same loop with a watcher that runs while each
    /// dispatch does.
    pub fn dispatch_until<'a>(
        &self,
        pipeline: &'a ComputePipeline,
        set: &'a DescriptorSet<'a>,
        push: &[u8],
        groups: [u32; 3],
        limits: Redispatch,
        done: impl FnMut() -> bool,
    ) -> Result<u32> {
        self.dispatch_watched(pipeline, set, push, groups, limits, done, || {
            ControlFlow::Continue(())
        })
        .map(|r| r.dispatches)
    }

    /// gdio's re-dispatch loop: dispatches until `done()` says the shader finished, as
    /// [`Context::dispatch_until`] does, and calls `watch()` every [`Redispatch::poll`] while
    /// a dispatch runs (every look at the fence when it spins) and once after each dispatch
    /// that did not finish the work. `watch` sees progress (a pump's counters, the shader's
    /// state buffer) and reports it; returning [`ControlFlow::Break`] gives up with
    /// [`Error::GaveUp`] (a running dispatch is dropped first, which waits for it to end: stop
    /// the pump or let the shader's wait budget run out).
    #[allow(clippy::too_many_arguments)] // the dispatch's four, its limits and the two callbacks
    pub fn dispatch_watched<'a>(
        &self,
        pipeline: &'a ComputePipeline,
        set: &'a DescriptorSet<'a>,
        push: &[u8],
        groups: [u32; 3],
        limits: Redispatch,
        mut done: impl FnMut() -> bool,
        mut watch: impl FnMut() -> ControlFlow<()>,
    ) -> Result<Redispatched> {
        let start = Instant::now();
        for n in 1..=limits.max_dispatches {
            let mut d = self.dispatch(pipeline, set, push, groups)?;
            let began = Instant::now();
            loop {
                let left = limits.timeout.saturating_sub(began.elapsed());
                match d.wait_with(limits.fence_wait, left.min(limits.poll)) {
                    Ok(_) => break,
                    Err(Error::Timeout { .. }) => {}
                    Err(e) => return Err(e),
                }
                if began.elapsed() >= limits.timeout {
                    return Err(Error::Timeout {
                        waited: began.elapsed(),
                    });
                }
                if watch().is_break() {
                    return Err(Error::GaveUp { dispatches: n });
                }
            }
            let elapsed = start.elapsed();
            drop(d);
            if done() {
                return Ok(Redispatched {
                    dispatches: n,
                    elapsed,
                });
            }
            if watch().is_break() {
                return Err(Error::GaveUp { dispatches: n });
            }
        }
        Err(Error::NotFinished {
            dispatches: limits.max_dispatches,
        })
    }
}

/// The raw handles of what a dispatch of `pipeline` with `set` uses.
fn uses(pipeline: &ComputePipeline, set: &DescriptorSet<'_>) -> Arc<[u64]> {
    std::iter::once(pipeline.raw().0.as_raw())
        .chain(set.resources())
        .collect()
}

/// Limits of [`Context::dispatch_until`] and [`Context::dispatch_watched`], and how they wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redispatch {
    /// Host-side timeout of each dispatch.
    pub timeout: Duration,
    /// Dispatches at most.
    pub max_dispatches: u32,
    /// How each dispatch's fence is waited for.
    pub fence_wait: FenceWait,
    /// How often the watcher of [`Context::dispatch_watched`] runs while a dispatch does (with
    /// [`FenceWait::Spin`], zero: after every look at the fence).
    pub poll: Duration,
}

impl Redispatch {
    /// `max_dispatches` dispatches of at most `timeout` each, waited for blocking, watched
    /// every 100 ms.
    #[must_use]
    pub const fn new(timeout: Duration, max_dispatches: u32) -> Redispatch {
        Redispatch {
            timeout,
            max_dispatches,
            fence_wait: FenceWait::Block,
            poll: Duration::from_millis(100),
        }
    }

    /// Dispatches until the work is done or a watcher gives up: no count or time limit.
    #[must_use]
    pub const fn unlimited() -> Redispatch {
        Redispatch::new(Duration::MAX, u32::MAX)
    }

    /// The same limits, waiting on each fence as `how` says.
    #[must_use]
    pub const fn with_fence_wait(self, how: FenceWait) -> Redispatch {
        Redispatch {
            fence_wait: how,
            ..self
        }
    }

    /// The same limits, watched every `poll`.
    #[must_use]
    pub const fn with_poll(self, poll: Duration) -> Redispatch {
        Redispatch { poll, ..self }
    }
}

/// What [`Context::dispatch_watched`] ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redispatched {
    /// Dispatches run (more than one where a shader ends early and resumes, as on lavapipe).
    pub dispatches: u32,
    /// From the first submission to when the end of the last dispatch was noticed.
    pub elapsed: Duration,
}

impl Dispatch<'_> {
    /// `cmd` just submitted with `fence`; `owned`: the Dispatch recycles them when done.
    fn in_flight(ctx: &Context, cmd: vk::CommandBuffer, fence: vk::Fence, owned: bool) -> Self {
        Dispatch {
            ctx: ctx.clone(),
            cmd,
            fence,
            started: Instant::now(),
            finished: None,
            owned,
            _borrows: std::marker::PhantomData,
        }
    }

    /// True once the GPU has finished the dispatch (does not block).
    pub fn is_done(&mut self) -> Result<bool> {
        if self.finished.is_some() {
            return Ok(true);
        }
        // SAFETY: the fence belongs to this device.
        let done =
            unsafe { self.ctx.device().get_fence_status(self.fence) }.vk("vkGetFenceStatus")?;
        if done {
            self.finished = Some(self.started.elapsed());
        }
        Ok(done)
    }

    /// Waits up to `timeout` (in slices of [`WAIT_SLICE`]); returns how long the dispatch took
    /// from submission to when its completion was noticed. On timeout it returns
    /// [`Error::Timeout`] and the dispatch is still running: stop the pump, then wait again.
    pub fn wait(&mut self, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if let Some(t) = self.finished {
                return Ok(t);
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return if self.is_done()? {
                    Ok(self.finished.unwrap_or_default())
                } else {
                    Err(Error::Timeout {
                        waited: start.elapsed(),
                    })
                };
            }
            let slice = left.min(WAIT_SLICE).as_nanos() as u64;
            // SAFETY: the fence belongs to this device.
            match unsafe {
                self.ctx
                    .device()
                    .wait_for_fences(&[self.fence], true, slice)
            } {
                Ok(()) => self.finished = Some(self.started.elapsed()),
                Err(vk::Result::TIMEOUT) => {}
                Err(result) => {
                    return Err(Error::Vk {
                        call: "vkWaitForFences",
                        result,
                    })
                }
            }
        }
    }

    /// Waits as [`Dispatch::wait`] does, or (with [`FenceWait::Spin`]) by polling the fence
    /// without sleeping; the same timeout and error rules.
    pub fn wait_with(&mut self, how: FenceWait, timeout: Duration) -> Result<Duration> {
        if how == FenceWait::Block {
            return self.wait(timeout);
        }
        let start = Instant::now();
        loop {
            if self.is_done()? {
                return Ok(self.finished.unwrap_or_default());
            }
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    waited: start.elapsed(),
                });
            }
            std::hint::spin_loop();
        }
    }

    /// Time since submission.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Dispatch<'_> {
    fn drop(&mut self) {
        let mut warned = false;
        let start = Instant::now();
        // The GPU may still use the buffers this dispatch borrows: block until it is done
        // (or the device is lost, after which nothing executes).
        let finished = loop {
            match self.wait(Duration::from_secs(1)) {
                Ok(_) => break true,
                Err(Error::Timeout { .. }) => {
                    if !warned && start.elapsed() > Duration::from_secs(10) {
                        eprintln!("gdio-vulkan: a dropped dispatch is still running after 10 s; stop the pump so the shader exits");
                        warned = true;
                    }
                }
                Err(_) => break false,
            }
        };
        if !finished {
            // The wait failed (device lost or worse): whether the command buffer still runs is
            // unknown, so neither it nor its fence is reused; the Context's pool frees the
            // command buffer at the end, the fence is leaked (and stays recorded: freeing what
            // it uses waits for it, which returns at once on a lost device).
            return;
        }
        self.ctx.settle(self.fence);
        if !self.owned {
            // Done: the RecordedDispatch it came from submits them again or recycles them.
            return;
        }
        // The fence signalled, so the command buffer no longer executes: keep both.
        self.ctx.recycle(self.cmd, self.fence);
    }
}

impl RecordedDispatch<'_> {
    /// Submits the recorded dispatch once more and returns it in flight. The previous
    /// submission is done: its [`Dispatch`] borrowed this one and waited when dropped.
    /// Fails, submitting nothing, if the previous submission is not known to be done (its
    /// Dispatch's wait failed, or the Dispatch was forgotten instead of dropped).
    pub fn submit(&mut self) -> Result<Dispatch<'_>> {
        if self.submitted {
            // SAFETY: the fence belongs to this device.
            let done =
                unsafe { self.ctx.device().get_fence_status(self.fence) }.vk("vkGetFenceStatus")?;
            if !done {
                return Err(Error::Invalid(
                    "the recorded dispatch's previous submission has not finished: wait for it (drop its Dispatch) before submitting again".into(),
                ));
            }
            self.ctx.settle(self.fence);
            // SAFETY: the fence signalled, so its submission (and the command buffer) is done.
            unsafe { self.ctx.device().reset_fences(&[self.fence]) }.vk("vkResetFences")?;
            self.submitted = false;
        }
        self.ctx.submit(self.cmd, self.fence, self.uses.clone())?;
        self.submitted = true;
        Ok(Dispatch::in_flight(&self.ctx, self.cmd, self.fence, false))
    }
}

impl Drop for RecordedDispatch<'_> {
    fn drop(&mut self) {
        if self.submitted {
            // A submission's Dispatch waits for it when dropped; one that was forgotten did
            // not, and the GPU may still use what this borrows: wait as a Dispatch does.
            drop(Dispatch::in_flight(&self.ctx, self.cmd, self.fence, false));
            // Still unsignalled: the wait failed (device lost), and neither is reused (the
            // Context frees the command buffer at the end, the fence is leaked).
            // SAFETY: the fence belongs to this device.
            if unsafe { self.ctx.device().get_fence_status(self.fence) } != Ok(true) {
                return;
            }
        }
        self.ctx.recycle(self.cmd, self.fence);
    }
}
