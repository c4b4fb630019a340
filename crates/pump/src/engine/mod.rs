//! The pump loop: reap, take commands, claim, validate, submit, idle. Runs on the pump thread.
//!
//! The loop's jobs are split by file: this one claims, validates, orders and completes;
//! [`held`] holds checked WRITEs until their data has arrived; [`commands`] changes the
//! tables; [`wind_down`] stops and fails. Every turn's work is bounded by what the host chose
//! (slot counts, the batch size, the data-check budget), never by what the device writes.

mod commands;
mod free_chunks;
mod held;
mod staged;
mod wind_down;

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use gdio_protocol::{
    Claim, Generation, HostQueue, Limits, Op, PumpState, ResultCode, ValidRequest,
};
use gdio_uring::{errno_code, Completion, FileHandle, OpKind, Ring, Transfer, WindowHandle};

use self::held::{HeldWrites, Verdict};
use self::staged::{Staged, STAGED_QUEUE};
use crate::builder::PumpBuilder;
use crate::handle::{Command, FileId, Reply, WindowId};
use crate::idle::{Backoff, Idle, IdlePolicy};
use crate::memory::QueueMemory;
use crate::ordering::{Closer, Epochs};
use crate::stats::{LiveCounters, PumpReport};
use crate::tables::{PumpTables, WindowEntry};
use crate::PumpError;

/// Queue index bits in `user_data` leave 17 bits for the slot and 32 for the generation.
pub(crate) const MAX_QUEUES: usize = (1 << 15) - 1;

/// How long stop and failure wait for the kernel to give every buffer back.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

fn encode(queue: usize, slot: u32, generation: Generation) -> u64 {
    ((queue as u64) << 49) | (u64::from(slot) << 32) | u64::from(generation.0)
}

fn is_closer(c: &Claim) -> bool {
    c.request.op_word & !0xFF == 0
        && matches!(c.request.op(), Some(Op::Fence | Op::Fsync | Op::Fdatasync))
}

fn decode(user_data: u64) -> (usize, u32, Generation) {
    (
        (user_data >> 49) as usize,
        ((user_data >> 32) & 0x1_FFFF) as u32,
        Generation(user_data as u32),
    )
}

#[derive(Clone, Copy)]
struct SlotMeta {
    start: Instant,
    op: Option<Op>,
    /// The ordering epoch the request counts in, if it is tracked.
    epoch: Option<u64>,
    /// When the slot's last request was completed (for the device's turnaround).
    done: Option<Instant>,
}

struct QueueState<'q> {
    host: HostQueue<'q>,
    epochs: Epochs,
    meta: Box<[SlotMeta]>,
    dirty: bool,
    /// Claimed FENCEs and FSYNCs that wait, in claim order, for publications the host had not
    /// acted on when they were claimed (descriptors whose words had not all arrived).
    deferred: VecDeque<DeferredCloser>,
}

/// A closer that joins the ordering once the host has acted on every publication it saw
/// unclaimed when the closer was claimed.
struct DeferredCloser {
    claim: Claim,
    /// `(slot, publish value last acted on)`, as `HostQueue::unclaimed_publications` gives.
    waits: Vec<(u32, u32)>,
}

impl QueueState<'_> {
    /// Claims into `out` (see `HostQueue::claim`). When the scan itself answered a publication
    /// (BAD_GENERATION, BAD_DESCRIPTOR), that slot's next claim no longer follows the completion
    /// timed in its `done`; this rare case forgets every slot's rather than report an inflated
    /// device turnaround.
    fn claim(&mut self, out: &mut [Claim]) -> usize {
        let answered = |h: &HostQueue<'_>| h.stats().bad_generations + h.stats().bad_descriptors;
        let before = answered(&self.host);
        let n = self.host.claim(out);
        if answered(&self.host) != before {
            for m in self.meta.iter_mut() {
                m.done = None;
            }
        }
        n
    }
}

enum Pending {
    File(FileId, Reply<()>),
    Window(WindowId, WindowEntry, Reply<()>),
}

struct Engine<'q> {
    // Field order is drop order: the ring (which drains on drop) goes before the tables and
    // pending removals that keep window memory alive.
    ring: Ring,
    /// Staged windows' state, with the copy engine and the staging memory: after the ring, so
    /// the staging memory outlives the ring's drain.
    staged: Option<Staged>,
    queues: Vec<QueueState<'q>>,
    tables: PumpTables,
    pending_removals: Vec<Pending>,
    claims: Box<[Claim]>,
    /// The closers of one scan, ordered together after its sweep.
    closers: Vec<Claim>,
    /// Checked WRITEs whose data has not all arrived in host memory yet.
    held: HeldWrites,
    verdicts: Vec<Verdict>,
    /// How long a checked WRITE may wait for its data before BAD_DATA.
    data_timeout: Duration,
    /// Claims made by a FENCE/FSYNC sweep (kept apart from `claims`, whose closers wait).
    sweep_buf: Box<[Claim]>,
    reaped: Vec<Completion>,
    limits: Limits,
    batch: usize,
    max_in_flight: usize,
    idle: IdlePolicy,
    stopping: bool,
    report: PumpReport,
    live: Arc<LiveCounters>,
}

/// A fatal error inside the loop.
struct Fatal(String, i32);

impl From<gdio_uring::Error> for Fatal {
    fn from(e: gdio_uring::Error) -> Fatal {
        let code = match &e {
            gdio_uring::Error::Enter(errno) => -errno_code(*errno),
            _ => ResultCode::Internal.value(),
        };
        Fatal(e.to_string(), code)
    }
}

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

pub(crate) fn run(
    cfg: PumpBuilder,
    commands: mpsc::Receiver<Command>,
    ready: mpsc::SyncSender<Result<(), PumpError>>,
    live: Arc<LiveCounters>,
    stop: Arc<AtomicBool>,
) -> Result<PumpReport, PumpError> {
    let started = Instant::now();
    if let Some(slack) = cfg.idle.timer_slack {
        // This thread's own slack; best effort (a refusal leaves the kernel's default).
        let ns = u64::try_from(slack.as_nanos()).unwrap_or(u64::MAX);
        let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(ns.max(1)));
    }
    let cpu0 = thread_cpu();
    let queues: Vec<Arc<dyn QueueMemory>> = cfg.queues.clone();
    let mut engine = match Engine::new(cfg, &queues, live) {
        Ok(e) => e,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Err(PumpError::Gone);
        }
    };
    for q in &mut engine.queues {
        q.host.set_pump_state(PumpState::Running, 0);
    }
    let _ = ready.send(Ok(()));

    let outcome = catch_unwind(AssertUnwindSafe(|| engine.main_loop(&commands, &stop)));
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(Fatal(what, code))) => Some((what, code)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Some((
                format!("panic in the pump loop: {what}"),
                ResultCode::Internal.value(),
            ))
        }
    };
    let drained = engine.wind_down(failure.as_ref().map(|(_, c)| *c));
    engine.report.elapsed = started.elapsed();
    engine.report.cpu_time = thread_cpu().saturating_sub(cpu0);
    if let Some(s) = &engine.staged {
        engine.report.copies = s.stats;
    }
    engine.report.claimed = engine.live.claimed.load(Ordering::Relaxed);
    let report = engine.report.clone();
    // Answer commands that arrived too late.
    while let Ok(cmd) = commands.try_recv() {
        engine.refuse(cmd);
    }
    if !drained {
        // The kernel may still write into windows: keep their memory alive forever rather
        // than free it under IO.
        std::mem::forget(engine);
    } else {
        drop(engine);
    }
    match failure {
        None => Ok(report),
        Some((what, code)) => Err(PumpError::Failed { what, code }),
    }
}

impl<'q> Engine<'q> {
    fn new(
        cfg: PumpBuilder,
        queues: &'q [Arc<dyn QueueMemory>],
        live: Arc<LiveCounters>,
    ) -> Result<Engine<'q>, PumpError> {
        let mut rb = Ring::builder()
            .entries(cfg.ring_entries)
            .max_files(cfg.max_files)
            .max_windows(cfg.max_windows)
            // Every slot holds at most one request, so a backlog of all slots can never
            // overflow: a push never fails for lack of room.
            .max_backlog(
                queues
                    .iter()
                    .map(|q| q.slot_count() as usize)
                    .sum::<usize>()
                    + 1024,
            );
        if let Some(ms) = cfg.sqpoll {
            rb = rb.sqpoll(ms, None);
        }
        if let Some(min) = cfg.async_min {
            rb = rb.async_transfers(min);
        }
        if let Some(n) = cfg.io_wq_workers {
            rb = rb.io_wq_max_workers(n, n);
        }
        let ring = rb.build()?;
        let staged = match cfg.copy_engine {
            Some((copies, chunk)) => Some(Staged::new(
                copies,
                chunk,
                cfg.data_check_budget,
                cfg.copy_timeout,
            )?),
            None => None,
        };
        let mut engine = Engine {
            ring,
            staged,
            queues: Vec::with_capacity(queues.len()),
            tables: PumpTables::default(),
            pending_removals: Vec::new(),
            claims: vec![Claim::default(); cfg.batch].into_boxed_slice(),
            closers: Vec::new(),
            sweep_buf: vec![Claim::default(); cfg.batch].into_boxed_slice(),
            held: HeldWrites::new(cfg.data_check_budget, cfg.data_check_threads),
            verdicts: Vec::new(),
            data_timeout: cfg.data_timeout,
            reaped: Vec::with_capacity(1024),
            limits: cfg.limits,
            batch: cfg.batch,
            max_in_flight: cfg.max_in_flight,
            idle: cfg.idle,
            stopping: false,
            report: PumpReport::new(),
            live,
        };
        for f in cfg.files {
            engine.add_file(f)?;
        }
        for w in cfg.windows {
            engine.add_window(w)?;
        }
        // After the builder's windows, so that they keep handles 0, 1, 2...
        if let Some(s) = engine.staged.as_mut() {
            s.register(&mut engine.ring)?;
        }
        let now = Instant::now();
        for mem in queues {
            let mut host = HostQueue::init(mem.requests(), mem.completions(), mem.slot_count())?;
            host.set_torn_limit(cfg.torn_limit);
            let meta = vec![
                SlotMeta {
                    start: now,
                    op: None,
                    epoch: None,
                    done: None,
                };
                mem.slot_count() as usize
            ];
            engine.queues.push(QueueState {
                host,
                epochs: Epochs::default(),
                meta: meta.into_boxed_slice(),
                dirty: false,
                deferred: VecDeque::new(),
            });
        }
        Ok(engine)
    }

    fn main_loop(
        &mut self,
        commands: &mpsc::Receiver<Command>,
        stop: &AtomicBool,
    ) -> Result<(), Fatal> {
        let mut backoff = Backoff::default();
        loop {
            if stop.load(Ordering::Acquire) {
                return Ok(());
            }
            self.report.turns += 1;
            let mut worked = self.reap();
            // Completions go out as soon as they are written, before the claim scan and any
            // syscall: the fence drains the write-combining buffers that hold them on ReBAR,
            // and the device is polling for them.
            self.flush_queues();
            worked |= self.take_commands(commands)?;
            worked |= self.claim_all()?;
            worked |= self.advance_held();
            worked |= self.advance_staged()?;
            self.flush_queues();
            if self.ring.needs_enter() {
                self.ring.submit()?;
            }
            if worked {
                backoff.reset();
                continue;
            }
            let mut idle = backoff.next(&self.idle);
            if let Idle::Park(d) = &mut idle {
                // A copy batch that ends wakes nothing: look again soon.
                if self.staged.as_ref().is_some_and(Staged::copies_in_flight) {
                    *d = (*d).min(self.idle.min_park);
                }
            }
            match idle {
                Idle::Spin => std::hint::spin_loop(),
                Idle::Park(d) if self.ring.in_flight() > 0 => {
                    // IO in flight: wait in the kernel for a completion, but only briefly,
                    // since new requests may be published meanwhile.
                    self.ring.submit_and_wait(1, Some(d))?;
                }
                Idle::Park(d) => {
                    self.report.parks += 1;
                    LiveCounters::add(&self.live.parks, 1);
                    std::thread::park_timeout(d);
                }
            }
        }
    }

    fn reap(&mut self) -> bool {
        let mut buf = std::mem::take(&mut self.reaped);
        self.ring.reap(|c| buf.push(c));
        let worked = !buf.is_empty();
        if worked {
            data_before_completions();
        }
        for c in buf.drain(..) {
            self.finish(c);
        }
        self.reaped = buf;
        worked
    }

    /// A ring completion: complete its slot and release what waited for it.
    fn finish(&mut self, c: Completion) {
        let (qi, slot, generation) = decode(c.user_data);
        if qi == STAGED_QUEUE {
            return self.finish_staged(slot, c.result);
        }
        let result = match c.result {
            Ok(n) => n.min(i32::MAX as u32) as i32,
            Err(e) => -errno_code(e),
        };
        let Some(q) = self.queues.get_mut(qi) else {
            return;
        };
        if let Some(epoch) = q.meta.get_mut(slot as usize).and_then(|m| m.epoch.take()) {
            q.epochs.done(epoch);
        }
        self.complete(qi, slot, generation, result);
        self.release(qi);
    }

    fn complete(&mut self, qi: usize, slot: u32, generation: Generation, result: i32) {
        let q = &mut self.queues[qi];
        if q.host.complete(slot, generation, result).is_err() {
            // Only a pump bug can get here: every claim is completed exactly once.
            if cfg!(any(debug_assertions, feature = "fuzzing")) {
                panic!("completing slot {slot} generation {generation:?} twice");
            }
            return;
        }
        q.dirty = true;
        let now = Instant::now();
        let meta = &mut q.meta[slot as usize];
        meta.done = Some(now);
        let meta = *meta;
        self.report.record(meta.op, result, now - meta.start);
        let l = &self.live;
        LiveCounters::add(&l.completed, 1);
        LiveCounters::sub_one(&l.in_flight);
        if result < 0 {
            LiveCounters::add(&l.failed, 1);
        } else if matches!(meta.op, Some(Op::Read | Op::Write)) {
            LiveCounters::add(&l.bytes, result as u64);
        }
    }

    /// Completes or submits FENCEs and FSYNCs whose earlier requests have all completed.
    fn release(&mut self, qi: usize) {
        while let Some(closer) = self.queues[qi].epochs.pop_released() {
            match closer {
                Closer::Fence { slot, generation } => self.complete(qi, slot, generation, 0),
                Closer::Fsync {
                    slot, generation, ..
                } if self.stopping => {
                    self.complete(qi, slot, generation, ResultCode::Stopped.value())
                }
                Closer::Fsync {
                    slot,
                    generation,
                    file,
                    datasync,
                } => {
                    let q = &mut self.queues[qi];
                    let epoch = q.epochs.track_oldest();
                    q.meta[slot as usize].epoch = Some(epoch);
                    let op = OpKind::Fsync {
                        file: FileHandle(file),
                        datasync,
                    };
                    if self.ring.push(encode(qi, slot, generation), op).is_err() {
                        self.queues[qi].epochs.done(epoch);
                        self.queues[qi].meta[slot as usize].epoch = None;
                        self.complete(qi, slot, generation, ResultCode::Internal.value());
                    }
                }
            }
        }
    }

    fn claim_all(&mut self) -> Result<bool, Fatal> {
        let mut worked = false;
        for qi in 0..self.queues.len() {
            let budget = self
                .max_in_flight
                .saturating_sub(self.ring.in_flight())
                .min(self.batch);
            if budget == 0 {
                worked |= self.release_deferred(qi);
                continue;
            }
            let n = self.queues[qi].claim(&mut self.claims[..budget]);
            worked |= n > 0;
            let mut closers = std::mem::take(&mut self.closers);
            for i in 0..n {
                let c = self.claims[i];
                if is_closer(&c) {
                    // Ordered after the sweep below.
                    closers.push(c);
                } else {
                    self.dispatch(qi, c);
                }
            }
            if !closers.is_empty() {
                self.sweep(qi, &mut closers);
                // The closers of one scan were published in an order the host cannot know. An
                // FSYNC goes first: a FENCE ordered after it waits for its fsync, and one
                // ordered before it has nothing to wait for. Between closers of one scan only
                // the order of their own completion entries is then open (docs/protocol.md).
                closers.sort_by_key(|c| !matches!(c.request.op(), Some(Op::Fsync | Op::Fdatasync)));
                for c in closers.drain(..) {
                    self.order_closer(qi, c);
                }
            }
            self.closers = closers;
            worked |= self.release_deferred(qi);
        }
        Ok(worked)
    }

    /// A claimed FENCE or FSYNC, after the sweep: it joins the ordering now, unless a
    /// publication is still unclaimed (a descriptor whose words have not all arrived, which
    /// the device may have published before the closer) or an earlier closer still waits.
    fn order_closer(&mut self, qi: usize, c: Claim) {
        let q = &mut self.queues[qi];
        let mut waits = Vec::new();
        q.host.unclaimed_publications(&mut waits);
        if waits.is_empty() && q.deferred.is_empty() {
            return self.dispatch(qi, c);
        }
        q.deferred.push_back(DeferredCloser { claim: c, waits });
    }

    /// Lets deferred closers join the ordering, in claim order, once the host has acted on
    /// everything each waits for (within the torn-descriptor limit, so never forever).
    fn release_deferred(&mut self, qi: usize) -> bool {
        let mut worked = false;
        loop {
            let q = &mut self.queues[qi];
            let Some(front) = q.deferred.front_mut() else {
                break;
            };
            let host = &q.host;
            front
                .waits
                .retain(|&(slot, seen)| !host.acted_since(slot, seen));
            if !front.waits.is_empty() {
                break;
            }
            let c = q.deferred.pop_front().expect("front exists").claim;
            self.dispatch(qi, c);
            worked = true;
        }
        worked
    }

    /// Before a FENCE or FSYNC joins the ordering, claim everything else already published:
    /// the device published its earlier requests before the closer (release), and the host
    /// acquired the closer's publish word, so one more pass sees all of them wherever their
    /// slots lie. Requests published after the closer may be swept up too; waiting for them
    /// as well is harmless. Ring capacity is not a limit here: the backlog holds every slot.
    ///
    /// The sweep claims at most one slot count of requests: a device that republishes NOPs as
    /// fast as they are answered cannot keep the pump here, and one full pass over the slots
    /// (which the claim cursor makes within that many claims) is all the argument needs.
    fn sweep(&mut self, qi: usize, closers: &mut Vec<Claim>) {
        let mut extra = std::mem::take(&mut self.sweep_buf);
        let mut left = self.queues[qi].host.layout().slot_count() as usize;
        while left > 0 {
            let take = left.min(extra.len());
            let n = self.queues[qi].claim(&mut extra[..take]);
            left -= n;
            for c in &extra[..n] {
                if is_closer(c) {
                    // Ordered with the scan's other closers.
                    closers.push(*c);
                } else {
                    self.dispatch(qi, *c);
                }
            }
            if n < take {
                break;
            }
        }
        self.sweep_buf = extra;
    }

    /// One claimed request: validate, then complete at once, order, or submit.
    fn dispatch(&mut self, qi: usize, c: Claim) {
        LiveCounters::add(&self.live.claimed, 1);
        LiveCounters::add(&self.live.in_flight, 1);
        let q = &mut self.queues[qi];
        let now = Instant::now();
        let meta = &mut q.meta[c.slot as usize];
        if let Some(done) = meta.done {
            self.report.record_turnaround(now - done);
        }
        *meta = SlotMeta {
            start: now,
            op: c.request.op(),
            epoch: None,
            done: None,
        };
        let valid = match c.request.validate(&self.limits, &self.tables) {
            Ok(v) => v,
            Err(code) => {
                // Validation failures count as rejected, not as the op they claimed to be.
                self.queues[qi].meta[c.slot as usize].op = None;
                return self.complete(qi, c.slot, c.generation, code.value());
            }
        };
        match valid {
            ValidRequest::Nop => self.complete(qi, c.slot, c.generation, 0),
            ValidRequest::Fence => {
                q.epochs.close(Closer::Fence {
                    slot: c.slot,
                    generation: c.generation,
                });
                self.release(qi);
            }
            ValidRequest::Fsync { file, datasync } => {
                q.epochs.close(Closer::Fsync {
                    slot: c.slot,
                    generation: c.generation,
                    file,
                    datasync,
                });
                self.release(qi);
            }
            ValidRequest::Read(t) | ValidRequest::Write(t) if self.tables.misaligned(&t) => {
                // Rejected as a validation failure: never submitted, never ordered.
                self.queues[qi].meta[c.slot as usize].op = None;
                self.complete(qi, c.slot, c.generation, ResultCode::Misaligned.value());
            }
            ValidRequest::Read(t) | ValidRequest::Write(t)
                if staged::too_long(self.staged.as_ref(), &self.tables, &t) =>
            {
                // A staged request is served through one staging chunk.
                self.queues[qi].meta[c.slot as usize].op = None;
                self.complete(qi, c.slot, c.generation, ResultCode::TooLong.value());
            }
            ValidRequest::Read(t) | ValidRequest::Write(t) => {
                let epoch = q.epochs.track();
                q.meta[c.slot as usize].epoch = Some(epoch);
                let write = matches!(valid, ValidRequest::Write(_));
                if let Some(target) = self.tables.staged_target(t.window) {
                    return self.start_staged(qi, c, t, write, target);
                }
                if write && t.data_check.is_some() {
                    // Submitted once its bytes match the check (held.rs), this turn or later.
                    match self.tables.window_arc(t.window) {
                        Some(memory) => self.held.hold(qi, c, t, memory),
                        None => self.complete_tracked(qi, c, ResultCode::Internal.value()),
                    }
                    return;
                }
                self.submit_transfer(qi, c, t, write);
            }
        }
    }

    /// Pushes a validated READ or WRITE to the ring (its epoch is already tracked).
    fn submit_transfer(
        &mut self,
        qi: usize,
        c: Claim,
        t: gdio_protocol::request::Transfer,
        write: bool,
    ) {
        let transfer = Transfer {
            file: FileHandle(t.file),
            window: WindowHandle(t.window),
            window_offset: u64::from(t.window_offset),
            file_offset: t.file_offset,
            len: t.len,
        };
        let op = if write {
            OpKind::Write(transfer)
        } else {
            OpKind::Read(transfer)
        };
        if self
            .ring
            .push(encode(qi, c.slot, c.generation), op)
            .is_err()
        {
            // Tables and ring agree, and claiming is bounded by ring capacity, so this is an
            // internal fault; the slot still gets its answer.
            self.complete_tracked(qi, c, ResultCode::Internal.value());
        }
    }

    /// Completes a claimed, epoch-tracked request (without IO, or after its staged steps).
    fn complete_tracked(&mut self, qi: usize, c: Claim, result: i32) {
        let q = &mut self.queues[qi];
        if let Some(epoch) = q.meta[c.slot as usize].epoch.take() {
            q.epochs.done(epoch);
        }
        self.complete(qi, c.slot, c.generation, result);
        self.release(qi);
    }

    /// One turn's work on held WRITEs (O(1) each: the hashing is bounded by the inline
    /// budget or runs on the checker thread): submits those whose data has arrived, answers
    /// those that never matched.
    fn advance_held(&mut self) -> bool {
        let mut verdicts = std::mem::take(&mut self.verdicts);
        let worked = self.held.advance(self.data_timeout, &mut verdicts);
        for v in verdicts.drain(..) {
            match v {
                Verdict::Arrived(h) => self.submit_transfer(h.qi, h.claim, h.transfer, true),
                Verdict::Expired(h) => {
                    self.complete_tracked(h.qi, h.claim, ResultCode::BadData.value())
                }
                Verdict::OutOfBounds(h) => {
                    self.complete_tracked(h.qi, h.claim, ResultCode::Internal.value())
                }
            }
        }
        self.verdicts = verdicts;
        worked
    }

    fn flush_queues(&mut self) {
        for q in &mut self.queues {
            if q.dirty {
                q.host.flush();
                q.dirty = false;
            }
        }
    }
}

/// A full fence between the data a batch of READs put in its windows and the completions that
/// announce it. A READ the kernel ran inline on this thread copied into the window with this
/// thread's stores; into ReBAR those are write-combined, and x86 does not order them before a
/// later store (the completion entry) without a fence. One per batch of reaped completions.
fn data_before_completions() {
    std::sync::atomic::fence(Ordering::SeqCst);
}
