//! A resident lookup kernel: btree_serve.comp stays dispatched and serves batch after batch of
//! keys, so a batch costs its dependent READs and nothing else: no launch, no fence, no
//! CPU between levels. The host hands a batch over through a mailbox in the memory a running
//! shader sees host writes to (ReBAR on NVIDIA) and collects the results from host memory,
//! each result stamped with its batch and checked (a running shader's writes to host memory
//! may arrive in any order).

use std::fs::File;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use crate::shaders::{
    self, BTREE_SERVE_MAILBOX_HEADER_WORDS, BTREE_SERVE_RESULT_WORDS, BTREE_SERVE_STATE_WORDS,
};
use anyhow::{Context as _, Result};
use gdio::pump::PumpReport;
use gdio::vulkan::{ComputePipeline, DescriptorSet, Dispatch, MappedBuffer, Placement};

use crate::btree::Superblock;
use crate::gpu::Gpu;
use crate::lookup::{bind_walk, decode_one, walkers, KeyResult, Lookups, WalkLanes};
use crate::pumps::{self, PumpGroup};

/// Mailbox 64-bit word 0: the batch's sequence number (low half) and key count (high half),
/// as btree_serve.comp's MB_SEQ_NKEYS.
const MB_SEQ_NKEYS: usize = 0;
/// Mailbox 32-bit word 2: 1 ends every lane.
const MB_STOP: usize = 2;
const SV_STATUS: usize = 0;
const SV_ERROR: usize = 8;
const SV_WHERE: usize = 9;
const STATUS_FAILED: u32 = 2;

/// How often, at most, [`Server::lookup`] looks at a GPU dispatch's fence while it waits.
const LOOK_EVERY: Duration = Duration::from_micros(100);

/// How long a batch may go without a new result before [`Server::lookup`] gives up.
const STALL: Duration = Duration::from_secs(60);

/// The check word of a result, as btree_serve.comp computes it (`result_check`).
fn result_check(r: [u32; 4], seq: u32) -> u32 {
    let step = |h: u32, w: u32| {
        let h = (h ^ w).wrapping_mul(0x85EB_CA6B);
        h ^ (h >> 13)
    };
    let h = r.iter().fold(0x2545_F491, |h, &w| step(h, w));
    step(h, seq)
}

/// One batch's results and how long it took.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Per key, in input order.
    pub results: Vec<KeyResult>,
    /// From handing the batch over to the last result arriving.
    pub elapsed: Duration,
    /// Dispatches started for this batch (0 on a GPU: the kernel is already running; on
    /// lavapipe a lane's loop cap ends the dispatch and the host starts another).
    pub dispatches: u32,
}

/// A running server: hand it batches with [`Server::lookup`].
pub struct Server<'a, 'p> {
    gpu: &'a Gpu,
    pipe: &'a ComputePipeline,
    set: &'a DescriptorSet<'a>,
    push: Vec<u8>,
    lanes: u32,
    /// Workgroups per dispatch (see [`walker_shape`]).
    groups: u32,
    capacity: usize,
    mailbox: &'a MappedBuffer,
    results: &'a MappedBuffer,
    state: &'a MappedBuffer,
    pumps: &'p PumpGroup,
    seq: u32,
    dispatch: Option<Dispatch<'a>>,
}

impl Server<'_, '_> {
    /// Looks `keys` up (at most the capacity given to [`serve`]) and returns when every result
    /// has arrived.
    pub fn lookup(&mut self, keys: &[u64]) -> Result<Batch> {
        if keys.len() > self.capacity {
            anyhow::bail!(
                "a batch of {} keys is over the server's capacity of {}",
                keys.len(),
                self.capacity
            );
        }
        let mb = self.mailbox.words();
        for (i, k) in keys.iter().enumerate() {
            let w = BTREE_SERVE_MAILBOX_HEADER_WORDS + 2 * i;
            mb[w].store(*k as u32, Ordering::Relaxed);
            mb[w + 1].store((*k >> 32) as u32, Ordering::Relaxed);
        }
        self.seq = self.seq.wrapping_add(1).max(1);
        let seq = self.seq;
        let start = Instant::now();
        // The keys, then the sequence number and the key count in one 64-bit store (a lane
        // has both from the one load that sees the batch), each pushed out of the
        // write-combining buffers (ReBAR) by a full fence.
        fence(Ordering::SeqCst);
        self.mailbox.words64()[MB_SEQ_NKEYS].store(
            u64::from(seq) | (keys.len() as u64) << 32,
            Ordering::Release,
        );
        fence(Ordering::SeqCst);
        let mut dispatches = 0;
        let res = self.results.words();
        let mut results = vec![None; keys.len()];
        let mut left = keys.len();
        let mut next = 0; // first key not yet seen complete
        let mut last_progress = Instant::now();
        let mut polls = 0u32;
        let mut last_look = Instant::now();
        while left > 0 {
            for (i, slot) in results.iter_mut().enumerate().skip(next) {
                if slot.is_some() {
                    continue;
                }
                let b = i * BTREE_SERVE_RESULT_WORDS;
                let w: [u32; 6] = std::array::from_fn(|j| res[b + j].load(Ordering::Acquire));
                if w[4] == seq && w[5] == result_check([w[0], w[1], w[2], w[3]], seq) {
                    *slot = Some(decode_one(i, [w[0], w[1], w[2], w[3]])?);
                    left -= 1;
                    last_progress = Instant::now();
                }
            }
            next = results
                .iter()
                .position(Option::is_none)
                .unwrap_or(keys.len());
            polls += 1;
            // The dispatch's fence is looked at every 64 polls, and on a GPU (where the
            // kernel ends only on a failure) at most every 100 µs, so that the look does not
            // delay noticing a result.
            if left > 0
                && polls % 64 == 0
                && (self.gpu.is_cpu() || last_look.elapsed() >= LOOK_EVERY)
            {
                last_look = Instant::now();
                dispatches += self.keep_running()?;
                if last_progress.elapsed() > STALL {
                    anyhow::bail!(
                        "batch {seq}: no result for {STALL:?} ({left} of {} keys missing); check the index file and `gdio probe`",
                        keys.len()
                    );
                }
            }
            if self.gpu.is_cpu() {
                // lavapipe runs the kernel on these same cores.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        Ok(Batch {
            results: results.into_iter().flatten().collect(),
            elapsed: start.elapsed(),
            dispatches,
        })
    }

    /// If the dispatch has ended (a lane's loop cap on lavapipe, or a failure), says why or
    /// starts it again. Returns the dispatches started.
    fn keep_running(&mut self) -> Result<u32> {
        let ended = match &mut self.dispatch {
            Some(d) => d.is_done()?,
            None => true,
        };
        if !ended {
            return Ok(0);
        }
        self.dispatch = None;
        let sv = self.state.words();
        for lane in 0..self.lanes as usize {
            let s = lane * BTREE_SERVE_STATE_WORDS;
            if sv[s + SV_STATUS].load(Ordering::Relaxed) == STATUS_FAILED {
                anyhow::bail!(
                    "server lane {lane} failed at key {}: result {}",
                    sv[s + SV_WHERE].load(Ordering::Relaxed),
                    crate::lanes::describe_result(sv[s + SV_ERROR].load(Ordering::Relaxed) as i32)
                );
            }
        }
        if !self.pumps.all_running() {
            anyhow::bail!("a pump stopped while the server was running");
        }
        self.dispatch = Some(self.gpu.ctx.dispatch(
            self.pipe,
            self.set,
            &self.push,
            [self.groups, 1, 1],
        )?);
        Ok(1)
    }

    /// Tells every lane to end (they do once idle).
    fn signal_stop(&self) {
        self.mailbox.words()[MB_STOP].store(1, Ordering::Release);
        fence(Ordering::SeqCst);
    }

    /// Tells every lane to end and waits for the dispatch; on a timeout the dispatch stays
    /// here, still running (stop the pump, then drop it).
    fn stop(&mut self) -> Result<()> {
        self.signal_stop();
        if let Some(d) = &mut self.dispatch {
            self.gpu.wait(d, Duration::from_secs(60))?;
        }
        self.dispatch = None;
        Ok(())
    }
}

impl Drop for Server<'_, '_> {
    fn drop(&mut self) {
        // Runs before the dispatch field is dropped (which waits for the kernel): never leave
        // the kernel waiting for a batch that will not come.
        self.signal_stop();
    }
}

/// The lanes a server runs with when asked for `lanes`: lavapipe runs only as many workgroups
/// at once as it has threads, and a resident kernel's idle lanes hold theirs until their loop
/// budget runs out, so there it is one workgroup (one lane when a lane is a whole workgroup).
#[must_use]
pub fn lanes_for(gpu: &Gpu, lanes: u32) -> u32 {
    if gpu.is_cpu() {
        let most = if gpu.walker_invocations() > 1 {
            1
        } else {
            shaders::LANES_PER_GROUP
        };
        lanes.clamp(1, most)
    } else {
        lanes.clamp(1, 65_536)
    }
}

/// Most lanes a server on a GPU gives a workgroup each.
const SOLO_LANES_MAX: u32 = 256;

/// How a server's lanes (walkers) are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkerShape {
    /// Invocations per workgroup.
    pub per_group: u32,
    /// Invocations per lane: more than one searches each node together.
    pub per_lane: u32,
    /// Workgroups per dispatch.
    pub groups: u32,
    /// Node windows per lane, used in turn (one release fence per this many READs).
    pub windows: u32,
}

/// Node windows per lane where lanes have a workgroup each: four, so that a lane fences once
/// every four READs (measured on the H100: the fence is ~0.37 µs of each level).
const WINDOWS_PER_SOLO_LANE: u32 = 4;

/// How a server with `lanes` lanes (walkers) is laid out. Every lane of a resident kernel must
/// run at once: one whose workgroup is never scheduled would strand its keys until the others end. Up to 256
/// lanes get a workgroup each (no lane waits for its warp-mates' READs; 256 workgroups fit even
/// small GPUs, e.g. 30 SMs × 16): on GPUs a whole subgroup each, which searches every node
/// together ([`Gpu::walker_invocations`]). More are packed 8 to a workgroup, one invocation
/// each, as on lavapipe.
pub fn walker_shape(gpu: &Gpu, lanes: u32) -> WalkerShape {
    let together = gpu.walker_invocations();
    if lanes <= SOLO_LANES_MAX && together > 1 {
        WalkerShape {
            per_group: together,
            per_lane: together,
            groups: lanes,
            windows: WINDOWS_PER_SOLO_LANE,
        }
    } else {
        let solo = lanes <= SOLO_LANES_MAX && !gpu.is_cpu();
        // A workgroup each (a GPU's walker_lanes_per_group), or packed as lavapipe needs them.
        let group = if solo { 1 } else { shaders::LANES_PER_GROUP };
        WalkerShape {
            per_group: group,
            per_lane: 1,
            groups: lanes.div_ceil(group),
            windows: if solo { WINDOWS_PER_SOLO_LANE } else { 1 },
        }
    }
}

/// Starts the resident server over the index `file` (superblock `sb`) with `lanes` lanes and
/// `pumps` pump threads (queues) and room for `capacity` keys per batch, runs `f` with it, then
/// stops the kernel and the pumps. Returns what `f` returned and the pumps' reports.
pub fn serve<R>(
    gpu: &Gpu,
    file: File,
    sb: &Superblock,
    lanes: u32,
    pumps: u32,
    capacity: u32,
    f: impl FnOnce(&mut Server<'_, '_>) -> Result<R>,
) -> Result<(R, Vec<PumpReport>)> {
    let ctx = &gpu.ctx;
    let lanes = lanes_for(gpu, lanes);
    let capacity = capacity.max(1);
    // Where a running shader sees host writes: the completion region's placement.
    let mailbox = MappedBuffer::new(
        ctx,
        (BTREE_SERVE_MAILBOX_HEADER_WORDS + 2 * capacity as usize) * 4,
        gpu.plan.completion,
    )?;
    let results = MappedBuffer::new(
        ctx,
        capacity as usize * BTREE_SERVE_RESULT_WORDS * 4,
        Placement::HostCached,
    )?;
    let state = MappedBuffer::new(
        ctx,
        lanes as usize * BTREE_SERVE_STATE_WORDS * 4,
        Placement::HostCached,
    )?;
    for b in [&mailbox, &results, &state] {
        b.fill(0, b.len(), 0)?;
    }
    let shape = walker_shape(gpu, lanes);
    let pipe = ComputePipeline::with_walker_shape(
        ctx,
        shaders::BTREE_SERVE,
        6,
        48,
        shape.per_group,
        shape.per_lane,
    )?;
    let walk = WalkLanes {
        lanes,
        windows_per_lane: shape.windows,
    };
    let (window, pumps, params) =
        walkers(gpu, &file, sb, walk, pumps, capacity, "gdio-pump-serve")?;
    let group = pumps.group();
    let set = bind_walk(
        gpu,
        &pipe,
        &group,
        &window,
        [&state, &mailbox, &results],
        &params,
    )?;
    let (out, running) = {
        let mut server = Server {
            gpu,
            pipe: &pipe,
            set: &set,
            push: params.to_serve_bytes(shape.windows),
            lanes,
            groups: shape.groups,
            capacity: capacity as usize,
            mailbox: &mailbox,
            results: &results,
            state: &state,
            pumps: &pumps,
            seq: 0,
            dispatch: None,
        };
        let out = server
            .keep_running()
            .context("starting the server kernel")
            .and_then(|_| f(&mut server));
        let stopped = server.stop();
        (
            out.and_then(|o| stopped.map(|()| o)),
            server.dispatch.take(),
        )
    };
    // A kernel still running here (its stop timed out) ends once the pumps are stopped: every
    // wait sees PUMP_GONE and idle lanes see the pump state. Only then is its dispatch dropped
    // (which waits for it), and only then are the buffers freed.
    let stopped = pumps.stop();
    drop(running);
    drop(set);
    let reports = stopped?;
    out.map(|o| (o, reports))
}

/// Looks `keys` up through one resident kernel in batches of `batch`: the results in input
/// order (as [`crate::lookup::lookup`] returns them, `elapsed` the sum of the batch
/// times) and the median batch time.
pub fn lookup_in_batches(
    gpu: &Gpu,
    file: File,
    sb: &Superblock,
    keys: &[u64],
    lanes: u32,
    pumps: u32,
    batch: u32,
) -> Result<(Lookups, Duration)> {
    let batch = batch.max(1);
    let lanes = lanes.min(batch);
    let mut results = Vec::with_capacity(keys.len());
    let mut times = Vec::new();
    let mut dispatches = 0;
    let ((), reports) = serve(gpu, file, sb, lanes, pumps, batch, |srv| {
        for chunk in keys.chunks(batch as usize) {
            let b = srv.lookup(chunk)?;
            results.extend(b.results);
            times.push(b.elapsed);
            dispatches += b.dispatches;
        }
        Ok(())
    })?;
    let (service, turnaround) = pumps::split_p50(&reports);
    let elapsed = times.iter().sum();
    let reads = results.iter().map(|r: &KeyResult| u64::from(r.nodes)).sum();
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    Ok((
        Lookups {
            results,
            elapsed,
            dispatches: dispatches + 1,
            reads,
            phases: vec![
                ("batches", elapsed),
                (
                    "pump per node READ, claim → completion (median)",
                    Duration::from_nanos(service),
                ),
                (
                    "device turnaround per node READ, completion → next claim (median)",
                    Duration::from_nanos(turnaround),
                ),
            ],
        },
        median,
    ))
}
