//! The device a workload runs on: opening it and the settings that follow from it
//! (placements, loop budgets, lanes, how the pump idles and how dispatches are waited for), and
//! the loop that runs a shader's dispatches until it is done.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use gdio::pump::{IdlePolicy, PumpBuilder, PumpError, PumpHandle, WindowMode};
use gdio::vulkan::{
    BufferSlice, ComputePipeline, Context, DescriptorSet, DeviceSelector, Dispatch, FenceWait,
    MappedBuffer, Placement, PlacementPlan, Redispatch,
};

use crate::shaders::{self, Budgets};

/// How a [`Gpu`] is opened and used; every `None` leaves the choice to the device (the `gdio`
/// command fills these from its `GDIO_*` environment variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Which device.
    pub device: DeviceSelector,
    /// Where queues and windows live.
    pub plan: PlacementPlan,
    /// Resident lookups: `Some(true)` a whole subgroup per lane, `Some(false)` one invocation;
    /// `None`: a subgroup on GPUs that can, one invocation on CPU devices.
    pub subgroup_search: Option<bool>,
    /// Transfers of at least this many bytes go to io-wq workers (`Some(None)`: never);
    /// `None`: see [`Gpu::async_min`].
    pub async_min: Option<Option<u32>>,
    /// Most io-wq workers per pump for its async transfers; `None`: the kernel's default, and
    /// [`crate::windows::device_io_wq_workers`] for pumps serving device-local windows.
    pub io_wq_workers: Option<u32>,
    /// Bytes of host staging memory for device-local windows; `None`: the windows' size, at most
    /// [`crate::windows::STAGING_DEFAULT`].
    pub staging: Option<usize>,
    /// How dispatches are waited for; `None`: see [`Gpu::fence_wait`].
    pub fence_wait: Option<FenceWait>,
    /// Where the CPU-orchestrated baselines pread; `None`: the read-window placement.
    pub orchestrated_staging: Option<Placement>,
    /// Pump threads for lookups and random reads; `None`: see [`crate::pumps::default_pumps`].
    pub pumps: Option<u32>,
}

impl Default for Settings {
    /// The automatic device, the default placements, every other choice the device's.
    fn default() -> Settings {
        Settings {
            device: DeviceSelector::Auto,
            plan: PlacementPlan::defaults(),
            subgroup_search: None,
            async_min: None,
            io_wq_workers: None,
            staging: None,
            fence_wait: None,
            orchestrated_staging: None,
            pumps: None,
        }
    }
}

/// An open device and how gdio uses it.
pub struct Gpu {
    /// The Vulkan context.
    pub ctx: Context,
    /// Where queues and windows live ([`Settings::plan`]).
    pub plan: PlacementPlan,
    /// Loop budgets for the shaders.
    pub budgets: Budgets,
    /// Whether the device was picked automatically.
    pub auto: bool,
    /// How the host waits for dispatches (gdio's and the CPU-orchestrated baselines' alike).
    pub fence_wait: FenceWait,
    /// Whether a resident lookup lane is a whole subgroup (see [`Gpu::walker_invocations`]).
    pub subgroup_lanes: bool,
    /// What it was opened with.
    pub settings: Settings,
}

impl Gpu {
    /// Opens the device `settings` select.
    pub fn open(settings: &Settings) -> Result<Gpu> {
        let ctx = Context::with_selector(&settings.device).context("opening the Vulkan device")?;
        Gpu::with_context(ctx, settings)
    }

    /// A device already opened (an application's, or a test's), with `settings`' other choices
    /// (its `device` is not looked at).
    pub fn with_context(ctx: Context, settings: &Settings) -> Result<Gpu> {
        let budgets = Budgets::for_device(ctx.info());
        let fence_wait = settings
            .fence_wait
            .unwrap_or(fence_wait(ctx.info().is_cpu()));
        let subgroup_lanes = subgroup_lanes(ctx.info(), settings.subgroup_search)?;
        Ok(Gpu {
            ctx,
            plan: settings.plan,
            budgets,
            auto: settings.device == DeviceSelector::Auto,
            fence_wait,
            subgroup_lanes,
            settings: settings.clone(),
        })
    }

    /// The same device with read windows in `placement` instead (for measuring every window
    /// mode; whether the shader sees fresh data there is the caller's to check).
    #[must_use]
    pub fn with_read_window(&self, placement: Placement) -> Gpu {
        Gpu {
            ctx: self.ctx.clone(),
            plan: PlacementPlan {
                read_window: placement,
                read_window_registered: placement != Placement::DeviceLocalHostVisible,
                ..self.plan
            },
            budgets: self.budgets,
            auto: self.auto,
            fence_wait: self.fence_wait,
            subgroup_lanes: self.subgroup_lanes,
            settings: self.settings.clone(),
        }
    }

    /// Waits for `d` the way this device's dispatches are waited for ([`Gpu::fence_wait`]).
    pub fn wait(&self, d: &mut Dispatch<'_>, timeout: Duration) -> Result<Duration> {
        Ok(d.wait_with(self.fence_wait, timeout)?)
    }

    /// Fails unless a window of `bytes` fits one storage-buffer binding and 32-bit window
    /// offsets; `shape` says how it was made ("4096 lanes × 2 × 524288 bytes").
    pub fn check_window(&self, bytes: usize, shape: &str) -> Result<()> {
        let most = u64::from(self.ctx.info().max_storage_buffer_range).min(u64::from(u32::MAX));
        if bytes as u64 > most {
            anyhow::bail!(
                "{shape} make a {bytes}-byte window: at most {most} on this device (fewer lanes or smaller chunks)"
            );
        }
        Ok(())
    }

    /// True on lavapipe.
    #[must_use]
    pub fn is_cpu(&self) -> bool {
        self.ctx.info().is_cpu()
    }

    /// Invocations per walker of the resident lookup kernel: a whole subgroup that searches
    /// each node together on GPUs (`shaders::walker_invocations`), one on CPU devices, whose
    /// resident kernel runs a single workgroup of several walkers. [`Settings::subgroup_search`]
    /// picks either where the device can.
    #[must_use]
    pub fn walker_invocations(&self) -> u32 {
        if self.subgroup_lanes {
            shaders::walker_invocations(self.ctx.info()).unwrap_or(1)
        } else {
            1
        }
    }

    /// How the pump idles: spinning on GPUs (lowest latency; one core), parking on lavapipe,
    /// where the shader itself runs on the same 2 cores.
    #[must_use]
    pub fn idle(&self) -> IdlePolicy {
        if self.is_cpu() {
            IdlePolicy::default()
        } else {
            IdlePolicy::spin()
        }
    }

    /// Transfers of at least this many bytes (default 64 KiB) are copied by the kernel's io-wq
    /// workers rather than the pump thread when READ windows are in ReBAR, where one thread
    /// copies at about 6 GB/s (measured: 5.9 GB/s without, 12.8-23.7 GB/s with, on the H100).
    /// Smaller ones stay inline, where latency is lowest. [`Settings::async_min`] changes the
    /// bound or turns it off.
    #[must_use]
    pub fn async_min(&self) -> Option<u32> {
        self.settings.async_min.unwrap_or_else(|| {
            (self.plan.read_window == Placement::DeviceLocalHostVisible).then_some(64 << 10)
        })
    }

    /// Starts a pump made by `make(mode)`, windows added with `WindowMode::Auto` (registered
    /// where the kernel can pin them, plain READ otherwise, e.g. ReBAR). If pinning is refused
    /// for the locked-memory limit (non-root, RLIMIT_MEMLOCK), starts it again with unregistered
    /// windows rather than failing.
    pub fn spawn_pump(&self, make: impl Fn(WindowMode) -> PumpBuilder) -> Result<PumpHandle> {
        let make = |mode| {
            let b = make(mode).idle(self.idle());
            let b = match self.settings.io_wq_workers {
                Some(n) => b.io_wq_workers(n),
                None => b,
            };
            match self.async_min() {
                Some(min) => b.async_transfers(min),
                None => b,
            }
        };
        match make(WindowMode::Auto).spawn() {
            Ok(p) => Ok(p),
            Err(PumpError::Uring(gdio::uring::Error::MemlockLimit { .. })) => {
                make(WindowMode::Unregistered)
                    .spawn()
                    .context("starting the pump with unregistered windows")
            }
            Err(e) => Err(e).context("starting the pump"),
        }
    }

    /// On a GPU, keeps every SM busy for about `time` (busy.comp), so that a latency measurement
    /// that follows runs at the clock the GPU boosts to under load. Measured on the H100: after
    /// a few seconds that count as idle (round trips of a few lanes do) its governor takes the
    /// SM clock from 1980 to 345 MHz, and single-key lookups took 1.9-2.5x longer through gdio
    /// and ~1.3x through the orchestrated loop (docs/bench/h100/clock-governor). Both sides of every comparison run after it alike.
    /// Does nothing on a CPU device.
    pub fn raise_clock(&self, time: Duration) -> Result<()> {
        if self.is_cpu() {
            return Ok(());
        }
        let sink = MappedBuffer::new(&self.ctx, 4, Placement::HostCached)?;
        let pipe = ComputePipeline::new(&self.ctx, shaders::BUSY, 1, 4)?;
        let set = pipe.bind(&[BufferSlice::whole(&sink)])?;
        let push = 20_000u32.to_le_bytes();
        let start = Instant::now();
        while start.elapsed() < time {
            let mut d = self.ctx.dispatch(&pipe, &set, &push, [4096, 1, 1])?;
            self.wait(&mut d, Duration::from_secs(10))?;
        }
        Ok(())
    }

    /// Builds a pipeline and runs one empty dispatch with `push`, so that the shader's one-time
    /// compilation (lavapipe compiles at the first dispatch) is not counted in timings.
    pub fn warm(
        &self,
        pipe: &ComputePipeline,
        set: &DescriptorSet<'_>,
        push: &[u8],
    ) -> Result<Duration> {
        let start = Instant::now();
        let mut d = self.ctx.dispatch(pipe, set, push, [1, 1, 1])?;
        self.wait(&mut d, Duration::from_secs(120))?;
        Ok(start.elapsed())
    }

    /// Runs dispatches of `groups` workgroups until `done()`, calling `tick()` while a dispatch
    /// runs (every poll when spinning on the fence, about every 100 ms when blocking). `tick`
    /// returns a progress counter: if it and `done` show no progress for `stall`, gives up with
    /// an error that says what to check. The times of the first and the last change of the
    /// counter are kept (with a spinning wait, to within a poll).
    ///
    /// [`Context::dispatch_watched`](gdio::vulkan::Context::dispatch_watched) with what the
    /// workloads need on top: waiting as [`Gpu::fence_wait`] says (spinning on GPUs: the
    /// workloads' timings depend on it), a stall limit instead of a count of dispatches, and
    /// the times of progress.
    pub fn drive(
        &self,
        pipe: &ComputePipeline,
        set: &DescriptorSet<'_>,
        push: &[u8],
        groups: u32,
        done: impl FnMut() -> Result<bool>,
        tick: impl FnMut() -> u64,
    ) -> Result<Driven> {
        self.drive_with_stall(pipe, set, push, groups, Duration::from_secs(60), done, tick)
    }

    /// [`Gpu::drive`] with its stall limit: how long `tick` and `done` may show no progress
    /// before it gives up (60 s there). A job whose last step may take long without a counter
    /// to show for it (the FSYNC of a large buffered write) gives more.
    #[allow(clippy::too_many_arguments)] // drive's six and the limit
    pub fn drive_with_stall(
        &self,
        pipe: &ComputePipeline,
        set: &DescriptorSet<'_>,
        push: &[u8],
        groups: u32,
        stall: Duration,
        mut done: impl FnMut() -> Result<bool>,
        mut tick: impl FnMut() -> u64,
    ) -> Result<Driven> {
        let start = Instant::now();
        let mut last = (tick(), Instant::now());
        let mut first_progress = None;
        let mut last_progress = None;
        let mut failed = None;
        let mut observe = || {
            let p = tick();
            if p != last.0 {
                last = (p, Instant::now());
                first_progress.get_or_insert(start.elapsed());
                last_progress = Some(start.elapsed());
            }
            last.1.elapsed() > stall
        };
        let poll = match self.fence_wait {
            FenceWait::Spin => Duration::ZERO,
            FenceWait::Block => Duration::from_millis(100),
        };
        let limits = Redispatch::unlimited()
            .with_fence_wait(self.fence_wait)
            .with_poll(poll);
        let ran = self.ctx.dispatch_watched(
            pipe,
            set,
            push,
            [groups, 1, 1],
            limits,
            || {
                done().unwrap_or_else(|e| {
                    failed = Some(e);
                    true
                })
            },
            || {
                if observe() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        if let Some(e) = failed {
            return Err(e);
        }
        let ran = match ran {
            Ok(ran) => ran,
            Err(gdio::vulkan::Error::GaveUp { dispatches }) => anyhow::bail!(
                "no progress for {stall:?} over {dispatches} dispatch(es): the shader is waiting \
                 for IO that does not complete; check that the file is readable, that the pump \
                 runs, and `gdio probe`"
            ),
            Err(e) => return Err(e.into()),
        };
        observe();
        Ok(Driven {
            dispatches: ran.dispatches,
            elapsed: ran.elapsed,
            first_progress,
            last_progress,
        })
    }
}

/// What [`Gpu::drive`] did.
#[derive(Debug, Clone, Copy)]
pub struct Driven {
    /// Dispatches run (more than 1 on lavapipe, whose loops are capped).
    pub dispatches: u32,
    /// Wall time from the first submission to the last completion.
    pub elapsed: Duration,
    /// When the progress counter first moved (from the first submission).
    pub first_progress: Option<Duration>,
    /// When it last moved.
    pub last_progress: Option<Duration>,
}

/// Whether resident lookup lanes are whole subgroups: on GPUs, not on CPU devices; `asked`
/// ([`Settings::subgroup_search`]) overrides.
fn subgroup_lanes(info: &gdio::vulkan::DeviceInfo, asked: Option<bool>) -> Result<bool> {
    match asked {
        Some(true) if !info.subgroup_shuffle => anyhow::bail!(
            "GDIO_SEARCH=subgroup: {} has no subgroup ballot and shuffle in compute shaders; use GDIO_SEARCH=lane",
            info.name
        ),
        Some(on) => Ok(on),
        // The cooperative search needs ballot and shuffle; without them, one invocation per lane.
        None => Ok(!info.is_cpu() && info.subgroup_shuffle),
    }
}

/// How dispatches are waited for: spinning on a GPU, where a blocked wait's wake-up costs more
/// than a short dispatch (measured in `gdio bench`, section 1); blocking on a CPU device, whose
/// shader needs the cores. [`Settings::fence_wait`] overrides.
fn fence_wait(cpu: bool) -> FenceWait {
    if cpu {
        FenceWait::Block
    } else {
        FenceWait::Spin
    }
}
