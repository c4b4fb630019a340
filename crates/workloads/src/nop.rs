//! NOP round trips, for the round-trip benchmark.
//!
//! What is measured, honestly: a spinning host thread runs the protocol's host side
//! (`gdio::protocol::HostQueue`: claim, complete with 0, flush) and timestamps every claim. With
//! one device lane issuing one NOP at a time, the time between two claims is one full round
//! trip: the host's completion reaching the device, the device seeing it, publishing the next
//! NOP, and the host seeing that. The device is either the shader (nop_pingpong.comp) or a CPU
//! thread (`gdio::pump::emulated::Lane`, the floor); the host loop and the clock are the same.
//! On lavapipe a shader's run is cut into dispatches (its loop cap): the gaps between dispatches
//! are in the samples too (they show in the max, rarely in p99).

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::shaders::{self, LaneState, LaneStatus, NopParams};
use anyhow::Result;
use gdio::protocol::{Claim, HostQueue, Op, PumpState, Region, Request};
use gdio::pump::emulated::Lane;
use gdio::pump::{HostQueueMemory, Pump, QueueMemory};
use gdio::vulkan::{
    BufferSlice, ComputePipeline, DescriptorSet, FenceWait, MappedBuffer, PlacementPlan,
    QueueBuffers, Redispatch,
};
use gdio::{PumpQueue, PumpWindow};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::gpu::Gpu;
use crate::lanes;
use crate::pumps::{split_p50, PumpGroup};

/// Round-trip latencies.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Round trips measured.
    pub samples: u64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// Largest, ns.
    pub max_ns: u64,
    /// Mean, ns.
    pub mean_ns: f64,
}

impl Latency {
    fn from(h: &Histogram<u64>) -> Latency {
        Latency {
            samples: h.len(),
            p50_ns: h.value_at_quantile(0.5),
            p99_ns: h.value_at_quantile(0.99),
            max_ns: h.max(),
            mean_ns: h.mean(),
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// The spinning host: claims and completes NOPs until `stop`, recording claim-to-claim times.
fn host_loop(
    req: Region<'_>,
    cmp: Region<'_>,
    slots: u32,
    ready: &AtomicBool,
    stop: &AtomicBool,
) -> Result<Histogram<u64>> {
    let mut hq = HostQueue::init(req, cmp, slots)?;
    hq.set_pump_state(PumpState::Running, 0);
    ready.store(true, Ordering::Release);
    let mut h = histogram();
    let mut claims = vec![Claim::default(); slots as usize];
    let mut last: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let n = hq.claim(&mut claims);
        if n == 0 {
            std::hint::spin_loop();
            continue;
        }
        let now = Instant::now();
        if let Some(t) = last {
            let _ = h.record(now.duration_since(t).as_nanos().max(1) as u64);
        }
        last = Some(now);
        for c in &claims[..n] {
            hq.complete(c.slot, c.generation, 0)?;
        }
        hq.flush();
    }
    hq.set_pump_state(PumpState::Stopped, 0);
    Ok(h)
}

/// `count` shader NOP round trips (one lane) against the spinning protocol host; FENCEs when
/// `fenced` (a publication with the release fence that ordered requests pay).
pub fn shader(gpu: &Gpu, count: u32, fenced: bool) -> Result<Latency> {
    let ctx = &gpu.ctx;
    let queue = QueueBuffers::new(ctx, 8, &gpu.plan)?;
    let nops = NopShader::new(gpu, count, fenced)?;
    let set = nops.bind(&queue)?;
    nops.warm(gpu, &set)?;
    let (req, cmp) = queue.regions();
    let ready = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let h = std::thread::scope(|s| -> Result<Histogram<u64>> {
        let host = s.spawn(|| host_loop(req, cmp, 8, &ready, &stop));
        while !ready.load(Ordering::Acquire) && !host.is_finished() {
            std::hint::spin_loop();
        }
        let run = nops.run(gpu, &set);
        stop.store(true, Ordering::Relaxed);
        let h = host
            .join()
            .map_err(|_| anyhow::anyhow!("host thread panicked"))??;
        run?;
        Ok(h)
    })?;
    nops.check()?;
    Ok(Latency::from(&h))
}

/// `count` round trips between two CPU threads: an emulated device lane and the same spinning
/// protocol host (the floor of the protocol on this machine).
pub fn floor(count: u32) -> Result<Latency> {
    let mem = HostQueueMemory::new(1)?;
    let ready = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| -> Result<Latency> {
        let host = s.spawn(|| host_loop(mem.requests(), mem.completions(), 1, &ready, &stop));
        while !ready.load(Ordering::Acquire) && !host.is_finished() {
            std::hint::spin_loop();
        }
        let mut lane = Lane::new(&mem, 0..1)?;
        let nop = Request::new(Op::Nop);
        let mut bad = 0;
        for _ in 0..count {
            if lane.run(&nop) != 0 {
                bad += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let h = host
            .join()
            .map_err(|_| anyhow::anyhow!("host thread panicked"))??;
        if bad > 0 {
            anyhow::bail!("{bad} emulated NOPs failed");
        }
        Ok(Latency::from(&h))
    })
}

/// Round trips through the real pump: the mean, and where it goes by the pump's own clock.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PumpTrips {
    /// Dispatch wall time / round trips, ns.
    pub mean_ns: f64,
    /// The pump's part of each request (claim → completion entry written), median, ns.
    pub service_p50_ns: u64,
    /// The rest: completion written → the lane's next request claimed (the bus both ways and
    /// the shader between two requests), median, ns.
    pub turnaround_p50_ns: u64,
}

impl PumpTrips {
    fn new(elapsed: Duration, count: u32, reports: &[gdio::pump::PumpReport]) -> PumpTrips {
        let (service_p50_ns, turnaround_p50_ns) = split_p50(reports);
        PumpTrips {
            mean_ns: elapsed.as_nanos() as f64 / f64::from(count.max(1)),
            service_p50_ns,
            turnaround_p50_ns,
        }
    }
}

/// Round trips of `count` shader NOPs through the real pump (gdio-pump with a spinning idle
/// policy).
pub fn through_pump(gpu: &Gpu, count: u32) -> Result<PumpTrips> {
    let plan: PlacementPlan = gpu.plan;
    let queue = PumpQueue::new(QueueBuffers::new(&gpu.ctx, 8, &plan)?);
    let nops = NopShader::new(gpu, count, false)?;
    let set = nops.bind(&queue)?;
    let pump = Pump::builder()
        .queue(queue.clone())
        .idle(gdio::pump::IdlePolicy::spin())
        .name("gdio-pump-nop")
        .spawn()?;
    let (elapsed, run) = nops.timed_run(gpu, &set)?;
    drop(set);
    let report = pump.stop()?;
    run?;
    nops.check()?;
    Ok(PumpTrips::new(elapsed, count, &[report]))
}

/// Round trips of `count` shader READs of `len` bytes from the start of `file` into a window
/// where the plan puts READ windows (ReBAR on NVIDIA), through the real pump (spinning). The
/// shader does not look at the data, so this is what a data request costs before the shader
/// uses what it read (a B-tree level minus its search).
pub fn read_through_pump(gpu: &Gpu, count: u32, file: &File, len: u32) -> Result<PumpTrips> {
    let window = PumpWindow::new(MappedBuffer::new(
        &gpu.ctx,
        len as usize,
        gpu.plan.read_window,
    )?);
    let pumps = PumpGroup::spawn(gpu, 1, 8, &window, file, "gdio-pump-read")?;
    let group = pumps.group();
    let mut reads = NopShader::new(gpu, count, true)?;
    reads.params.read_len = len;
    let set = reads.bind_to(group.request_slice(), group.completion_slice())?;
    let (elapsed, run) = reads.timed_run(gpu, &set)?;
    drop(set);
    let reports = pumps.stop()?;
    run?;
    reads.check()?;
    Ok(PumpTrips::new(elapsed, count, &reports))
}

/// How [`empty_dispatch`] launches: a command buffer recorded per dispatch, or one recorded
/// once and submitted again each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// `Context::dispatch`: record, submit.
    Record,
    /// `Context::record_dispatch` once, then `RecordedDispatch::submit`.
    Resubmit,
}

/// Submit-to-noticed time of `count` empty dispatches (the NOP shader with no active lane),
/// launched as `launch` says and waited for with `how`: what a CPU-orchestrated loop pays per
/// step on top of its own work.
pub fn empty_dispatch(gpu: &Gpu, count: u32, how: FenceWait, launch: Launch) -> Result<Latency> {
    let queue = QueueBuffers::new(&gpu.ctx, 8, &gpu.plan)?;
    let nops = NopShader::new(gpu, 0, false)?;
    let set = nops.bind(&queue)?;
    nops.warm(gpu, &set)?;
    let push = NopParams {
        active_lanes: 0,
        ..nops.params
    }
    .to_bytes();
    let mut h = histogram();
    let mut recorded = match launch {
        Launch::Record => None,
        Launch::Resubmit => Some(
            gpu.ctx
                .record_dispatch(&nops.pipe, &set, &push, [1, 1, 1])?,
        ),
    };
    for _ in 0..count {
        let start = Instant::now();
        let mut d = match &mut recorded {
            None => gpu.ctx.dispatch(&nops.pipe, &set, &push, [1, 1, 1])?,
            Some(r) => r.submit()?,
        };
        d.wait_with(how, Duration::from_secs(10))?;
        let _ = h.record(start.elapsed().as_nanos().max(1) as u64);
    }
    Ok(Latency::from(&h))
}

/// The NOP ping-pong shader, one active lane, with its state buffer.
struct NopShader {
    state: MappedBuffer,
    pipe: ComputePipeline,
    params: NopParams,
}

impl NopShader {
    fn new(gpu: &Gpu, count: u32, fenced: bool) -> Result<NopShader> {
        let params = NopParams {
            count,
            active_lanes: 1,
            budgets: gpu.budgets,
            fenced,
            read_len: 0,
        };
        Ok(NopShader {
            state: lanes::state_buffer(&gpu.ctx, 8)?,
            pipe: ComputePipeline::new(
                &gpu.ctx,
                shaders::NOP_PINGPONG,
                3,
                params.to_bytes().len() as u32,
            )?,
            params,
        })
    }

    fn bind<'a>(&'a self, queue: &'a QueueBuffers) -> Result<DescriptorSet<'a>> {
        self.bind_to(queue.request_slice(), queue.completion_slice())
    }

    fn bind_to<'a>(
        &'a self,
        requests: BufferSlice<'a>,
        completions: BufferSlice<'a>,
    ) -> Result<DescriptorSet<'a>> {
        Ok(self
            .pipe
            .bind(&[requests, completions, BufferSlice::whole(&self.state)])?)
    }

    /// One dispatch with no active lane: compiles the shader outside the timings.
    fn warm(&self, gpu: &Gpu, set: &DescriptorSet<'_>) -> Result<()> {
        gpu.warm(
            &self.pipe,
            set,
            &NopParams {
                active_lanes: 0,
                ..self.params
            }
            .to_bytes(),
        )?;
        Ok(())
    }

    fn run(&self, gpu: &Gpu, set: &DescriptorSet<'_>) -> Result<()> {
        gpu.ctx.dispatch_until(
            &self.pipe,
            set,
            &self.params.to_bytes(),
            [1, 1, 1],
            Redispatch::new(Duration::from_secs(60), 1_000_000),
            || LaneState::all_finished(&LaneState::read_all(&self.state, 1).unwrap_or_default()),
        )?;
        Ok(())
    }

    /// Warms the pipeline, then runs and times it. The run's own result comes back separately,
    /// so that the caller stops its pump before looking at it.
    fn timed_run(&self, gpu: &Gpu, set: &DescriptorSet<'_>) -> Result<(Duration, Result<()>)> {
        self.warm(gpu, set)?;
        let start = Instant::now();
        let run = self.run(gpu, set);
        Ok((start.elapsed(), run))
    }

    /// Fails unless the lane finished every round trip.
    fn check(&self) -> Result<()> {
        let st = LaneState::read_all(&self.state, 1)?;
        if st[0].status != LaneStatus::Done || st[0].progress != self.params.count {
            anyhow::bail!("the round-trip shader did not finish: {:?}", st[0]);
        }
        Ok(())
    }
}
