//! Requests on staged windows (see [`crate::staging`]): a READ goes file → staging chunk (the
//! ring) → window (the copy engine); a WRITE goes window → staging chunk (the copy engine) →
//! file (the ring). The slot completes when the last step has finished.
//!
//! Each request holds one staging chunk from its start to its completion, so a chunk is never
//! read into, copied from or written from by two requests at once. Copies recorded go to the
//! engine as one batch at a turn's end, at most `MAX_BATCHES_IN_FLIGHT` batches at a time (a
//! busy engine gets larger batches); finished batches are found by polling, so the pump thread
//! never blocks on the copy engine while it runs. On stop, the last batch is
//! waited for (bounded) before the staging memory can be let go.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gdio_protocol::request::Transfer as ProtoTransfer;
use gdio_protocol::{Claim, Generation, ResultCode};
use gdio_uring::{errno_code, FileHandle, OpKind, Transfer, WindowHandle};

use super::free_chunks::FreeChunks;
use super::{held::check_of, Engine, Fatal, MAX_QUEUES};
use crate::memory::WindowMemory;
use crate::staging::{Copy, CopyDirection, CopyEngine, CopyError};
use crate::stats::CopyStats;
use crate::tables::PumpTables;
use crate::PumpError;

/// The queue index ring ops on staging chunks carry in their `user_data` (no real queue has
/// it: a pump serves at most `MAX_QUEUES` queues, numbered from 0); the slot field holds
/// the chunk.
pub(super) const STAGED_QUEUE: usize = MAX_QUEUES;

/// Most batches submitted to the copy engine and not yet seen finished. While that many are in
/// flight, copies recorded meanwhile wait for one to finish and then go as one batch: an idle
/// engine gets a copy at once, a busy one gets batches that grow with its backlog. Measured on
/// an H100 with 128 KiB requests: a batch every pump turn averaged 5.7 copies, the copy queue
/// spent its time between small batches (a batch finished 19 ms after its submit, behind
/// hundreds of others) and moved 16 GB/s, where 1 MiB copies in batches of 64 move 43 GB/s.
const MAX_BATCHES_IN_FLIGHT: usize = 2;

/// Most chunks: the slot field of `user_data` has 17 bits.
const MAX_CHUNKS: usize = 1 << 17;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for a free chunk.
    Waiting,
    /// READ: the ring reads file → chunk.
    Reading,
    /// READ: the engine copies chunk → window; `result` holds the bytes read.
    CopyingIn,
    /// WRITE: the engine copies window → chunk.
    CopyingOut,
    /// WRITE: the ring writes chunk → file.
    Writing,
}

struct Job {
    qi: usize,
    claim: Claim,
    t: ProtoTransfer,
    write: bool,
    target: u32,
    stage: Stage,
    /// What the slot completes with once the last step has finished.
    result: i32,
    /// For a WRITE with a data check whose bytes have not matched yet: when to give up.
    data_deadline: Option<Instant>,
}

/// The staged windows' state: the engine, the staging memory and every request using a chunk.
pub(super) struct Staged {
    engine: Box<dyn CopyEngine>,
    /// Keeps the staging memory alive for as long as the ring or the engine may use it.
    staging: Arc<dyn WindowMemory>,
    /// The staging memory's handle in the ring, once registered.
    ring_window: Option<WindowHandle>,
    chunk: u32,
    free: FreeChunks,
    /// The request using each chunk.
    jobs: Box<[Option<Job>]>,
    waiting: VecDeque<Job>,
    /// Chunks whose copy is recorded but not yet submitted.
    recorded: Vec<u32>,
    /// Submitted batches in ticket order, with when they were submitted and their chunks.
    copying: VecDeque<(u64, Instant, Vec<u32>)>,
    /// Checked WRITEs whose copy has landed in staging, to hash (within the turn's budget).
    to_check: VecDeque<u32>,
    /// Bytes of staged data the pump thread hashes per turn (at least one request's).
    check_budget: usize,
    /// How long a batch may take before the pump fails (`PumpBuilder::copy_timeout`): a copy
    /// engine that stops moving must not strand the device.
    copy_timeout: Duration,
    /// A submit failed: the engine is never given another batch (the pump is failing).
    submit_failed: bool,
    /// Scratch for data checks.
    scratch: Vec<u8>,
    /// What the engine did, for the pump's report.
    pub(super) stats: CopyStats,
}

impl Staged {
    /// Splits the engine's staging memory into chunks; [`Staged::register`] gives it to the
    /// ring.
    pub(super) fn new(
        engine: Box<dyn CopyEngine>,
        chunk: u32,
        check_budget: usize,
        copy_timeout: Duration,
    ) -> Result<Staged, PumpError> {
        let staging = engine.staging();
        let len = staging.len();
        // Chunks must start 4 KiB-aligned: O_DIRECT READs land in them at any window offset.
        if chunk == 0
            || chunk % 4096 != 0
            || chunk as usize > len
            || staging.as_ptr() as usize % 4096 != 0
        {
            return Err(PumpError::BadStagingChunk {
                chunk,
                staging: len as u64,
            });
        }
        let chunks = (len / chunk as usize).min(MAX_CHUNKS);
        Ok(Staged {
            engine,
            staging,
            ring_window: None,
            chunk,
            free: FreeChunks::all(chunks as u32),
            jobs: (0..chunks).map(|_| None).collect(),
            waiting: VecDeque::new(),
            recorded: Vec::new(),
            copying: VecDeque::new(),
            to_check: VecDeque::new(),
            check_budget,
            copy_timeout,
            submit_failed: false,
            scratch: vec![0; 64 << 10],
            stats: CopyStats::default(),
        })
    }

    /// Registers the staging memory with the ring (as a fixed buffer where the kernel can pin
    /// it, so chunks are served with READ_FIXED and WRITE_FIXED).
    pub(super) fn register(&mut self, ring: &mut gdio_uring::Ring) -> Result<(), PumpError> {
        let (ptr, len) = (self.staging.as_ptr(), self.staging.len());
        // SAFETY: the `WindowMemory` contract keeps the staging memory valid while the Arc
        // lives; the Arc is kept here, and the engine drops this after the ring (drained).
        let h = unsafe {
            match ring.register_window(ptr, len) {
                Ok(h) => h,
                Err(
                    gdio_uring::Error::Unpinnable { .. }
                    | gdio_uring::Error::WindowTooLarge { .. }
                    | gdio_uring::Error::MemlockLimit { .. },
                ) => ring.add_unregistered_window(ptr, len)?,
                Err(e) => return Err(e.into()),
            }
        };
        self.ring_window = Some(h);
        Ok(())
    }

    pub(super) fn staging_memory(&self) -> Arc<dyn WindowMemory> {
        self.staging.clone()
    }

    pub(super) fn target_len(&self, target: u32) -> Option<u64> {
        self.engine.target_len(target)
    }

    /// Whether a submitted batch has not been seen finished: the pump then parks only briefly,
    /// since no ring completion wakes it when a batch ends.
    pub(super) fn copies_in_flight(&self) -> bool {
        !self.copying.is_empty()
    }

    /// The longest request a staged window serves.
    pub(super) fn chunk(&self) -> u32 {
        self.chunk
    }

    fn all_jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().flatten().chain(self.waiting.iter())
    }

    /// Whether a request not yet completed uses window `window`.
    pub(crate) fn uses_window(&self, window: u32) -> bool {
        self.all_jobs().any(|j| j.t.window == window)
    }

    /// Whether a request not yet completed uses file `file`.
    pub(crate) fn uses_file(&self, file: u32) -> bool {
        self.all_jobs().any(|j| j.t.file == file)
    }

    fn staging_offset(&self, chunk: u32) -> u64 {
        u64::from(chunk) * u64::from(self.chunk)
    }

    fn record(&mut self, chunk: u32, direction: CopyDirection, len: u64) {
        let job = self.jobs[chunk as usize].as_ref().expect("chunk in use");
        let copy = Copy {
            direction,
            target: job.target,
            target_offset: u64::from(job.t.window_offset),
            staging_offset: self.staging_offset(chunk),
            len,
        };
        self.engine.record(copy);
        self.recorded.push(chunk);
    }
}

fn copy_fatal(e: CopyError) -> Fatal {
    Fatal(e.to_string(), ResultCode::Internal.value())
}

/// Whether `t` names a staged window and is longer than a staging chunk.
pub(super) fn too_long(staged: Option<&Staged>, tables: &PumpTables, t: &ProtoTransfer) -> bool {
    staged.is_some_and(|s| t.len > s.chunk() && tables.staged_target(t.window).is_some())
}

impl Engine<'_> {
    /// A validated, epoch-tracked READ or WRITE on staged window `target`: starts it now if a
    /// chunk is free, else it waits for one.
    pub(super) fn start_staged(
        &mut self,
        qi: usize,
        claim: Claim,
        t: ProtoTransfer,
        write: bool,
        target: u32,
    ) {
        let job = Job {
            qi,
            claim,
            t,
            write,
            target,
            stage: Stage::Waiting,
            result: 0,
            data_deadline: None,
        };
        let s = self
            .staged
            .as_mut()
            .expect("staged windows exist only with an engine");
        if s.waiting.is_empty() {
            if let Some(chunk) = s.free.take() {
                return self.begin_staged(chunk, job);
            }
        }
        s.stats.waited_for_chunk += 1;
        s.waiting.push_back(job);
    }

    fn begin_staged(&mut self, chunk: u32, mut job: Job) {
        let s = self.staged.as_mut().expect("staged");
        let (write, len) = (job.write, u64::from(job.t.len));
        if len == 0 {
            // Nothing to move: a zero-length transfer completes with 0, as the ring's would.
            s.free.put(chunk);
            return self.complete_tracked(job.qi, job.claim, 0);
        }
        job.stage = if write {
            Stage::CopyingOut
        } else {
            Stage::Reading
        };
        let Some(ring_window) = s.ring_window else {
            s.free.put(chunk);
            return self.complete_tracked(job.qi, job.claim, ResultCode::Internal.value());
        };
        let transfer = Transfer {
            file: FileHandle(job.t.file),
            window: ring_window,
            window_offset: s.staging_offset(chunk),
            file_offset: job.t.file_offset,
            len: job.t.len,
        };
        s.jobs[chunk as usize] = Some(job);
        if write {
            s.record(chunk, CopyDirection::ToStaging, len);
            return;
        }
        let user_data = super::encode(STAGED_QUEUE, chunk, Generation(0));
        if self.ring.push(user_data, OpKind::Read(transfer)).is_err() {
            // Answered without starting the next waiting request here: `start_waiting`, which
            // may be the caller, goes on with the chunk freed (no recursion per request).
            self.release_chunk(chunk, ResultCode::Internal.value());
        }
    }

    /// Completes the request on `chunk` with `result` and frees the chunk.
    fn release_chunk(&mut self, chunk: u32, result: i32) {
        let s = self.staged.as_mut().expect("staged");
        let Some(job) = s.jobs[chunk as usize].take() else {
            return;
        };
        s.free.put(chunk);
        self.complete_tracked(job.qi, job.claim, result);
    }

    /// Completes the request on `chunk` with `result` and gives the chunk to the next waiting
    /// request.
    fn end_staged(&mut self, chunk: u32, result: i32) {
        self.release_chunk(chunk, result);
        if !self.stopping {
            self.start_waiting();
        }
    }

    fn start_waiting(&mut self) {
        loop {
            let s = self.staged.as_mut().expect("staged");
            if s.waiting.is_empty() {
                return;
            }
            let Some(chunk) = s.free.take() else { return };
            let job = s.waiting.pop_front().expect("not empty");
            self.begin_staged(chunk, job);
        }
    }

    /// A ring completion of a staging chunk's READ or WRITE.
    pub(super) fn finish_staged(&mut self, chunk: u32, result: Result<u32, gdio_uring::Errno>) {
        let Some(s) = self.staged.as_mut() else {
            return;
        };
        let Some(job) = s.jobs.get_mut(chunk as usize).and_then(Option::as_mut) else {
            return;
        };
        if !matches!(job.stage, Stage::Reading | Stage::Writing) {
            // Only a chunk's READ or WRITE is in the ring; a chunk in another stage is never
            // freed by a ring completion (its copy may be in flight).
            debug_assert!(
                false,
                "ring completion for chunk {chunk} in {:?}",
                job.stage
            );
            return;
        }
        match (job.stage, result) {
            (Stage::Reading, Ok(n)) if n > 0 => {
                job.stage = Stage::CopyingIn;
                job.result = n.min(i32::MAX as u32) as i32;
                s.record(chunk, CopyDirection::ToTarget, u64::from(n));
            }
            (_, Ok(n)) => self.end_staged(chunk, n.min(i32::MAX as u32) as i32),
            // Cancelled by stop: not executed, as STOPPED says.
            (_, Err(gdio_uring::Errno::CANCELED)) if self.stopping => {
                self.end_staged(chunk, ResultCode::Stopped.value())
            }
            (_, Err(e)) => self.end_staged(chunk, -errno_code(e)),
        }
    }

    /// One turn's copy work: move on every request whose batch has finished, hash checked
    /// WRITEs' staged bytes within the turn's budget, then submit the copies recorded so far
    /// as one batch unless `MAX_BATCHES_IN_FLIGHT` batches still run (they then wait for a
    /// later turn). Never blocks; fails the pump when a batch takes longer than the copy
    /// timeout or the engine fails.
    pub(super) fn advance_staged(&mut self) -> Result<bool, Fatal> {
        if self.staged.is_none() {
            return Ok(false);
        }
        let mut worked = self.reap_copies()?;
        worked |= self.check_staged();
        worked |= self.submit_copies()?;
        Ok(worked)
    }

    /// Moves on every request whose batch has finished (batches finish in ticket order).
    fn reap_copies(&mut self) -> Result<bool, Fatal> {
        let s = self.staged.as_mut().expect("staged");
        if s.copying.is_empty() {
            return Ok(false);
        }
        let finished = s.engine.finished().map_err(copy_fatal)?;
        let limit = s.copy_timeout;
        let mut worked = false;
        while let Some((ticket, since, _)) = self.staged.as_ref().and_then(|s| s.copying.front()) {
            if *ticket > finished {
                if since.elapsed() > limit {
                    return Err(Fatal(
                        format!("copy engine: batch {ticket} not finished after {limit:?}"),
                        ResultCode::Internal.value(),
                    ));
                }
                break;
            }
            let s = self.staged.as_mut().expect("staged");
            let (_, since, chunks) = s.copying.pop_front().expect("front exists");
            let took = since.elapsed();
            s.stats.batch_time += took;
            s.stats.batch_time_max = s.stats.batch_time_max.max(took);
            for chunk in chunks {
                self.copied(chunk);
            }
            worked = true;
        }
        // The batch's chunks are all free before the waiting requests take them, so that
        // those get chunks that follow each other (see `FreeChunks`).
        if worked && !self.stopping {
            self.start_waiting();
        }
        Ok(worked)
    }

    /// Submits the recorded copies as one batch, unless `MAX_BATCHES_IN_FLIGHT` batches run.
    fn submit_copies(&mut self) -> Result<bool, Fatal> {
        let s = self.staged.as_mut().expect("staged");
        if s.recorded.is_empty() || s.copying.len() >= MAX_BATCHES_IN_FLIGHT {
            return Ok(false);
        }
        let started = Instant::now();
        let submitted = s.engine.submit();
        let now = Instant::now();
        s.stats.submit_time += now - started;
        match submitted {
            Ok(ticket) => {
                let chunks = std::mem::take(&mut s.recorded);
                s.stats.batches += 1;
                s.stats.copies += chunks.len() as u64;
                s.copying.push_back((ticket, now, chunks));
                Ok(true)
            }
            Err(e) => {
                // All or nothing (the trait's contract): these copies were never made.
                s.submit_failed = true;
                Err(copy_fatal(e))
            }
        }
    }

    /// Hashes the staged bytes of checked WRITEs, oldest first, until the turn's budget is
    /// spent (at least one request per turn): a device whose data never matches costs the pump
    /// thread a bounded amount per turn. A match goes on to the WRITE; a mismatch copies again
    /// until the data timeout, then BAD_DATA.
    fn check_staged(&mut self) -> bool {
        let data_timeout = self.data_timeout;
        let mut left = self.staged.as_ref().map_or(0, |s| s.check_budget);
        let mut worked = false;
        loop {
            let s = self.staged.as_mut().expect("staged");
            let Some(&chunk) = s.to_check.front() else {
                break;
            };
            let Some(job) = s.jobs[chunk as usize].as_ref() else {
                s.to_check.pop_front();
                continue;
            };
            let len = job.t.len as usize;
            if worked && len > left {
                break;
            }
            s.to_check.pop_front();
            left = left.saturating_sub(len);
            worked = true;
            let offset = s.staging_offset(chunk) as usize;
            let got = check_of(&*s.staging, offset, len, &mut s.scratch);
            let job = s.jobs[chunk as usize].as_mut().expect("checked above");
            if Some(got) == job.t.data_check {
                self.write_staged(chunk);
                continue;
            }
            // The device's bytes had not all arrived when the engine copied them: copy again
            // until the data timeout, as for host windows.
            let deadline = *job
                .data_deadline
                .get_or_insert_with(|| Instant::now() + data_timeout);
            if Instant::now() >= deadline {
                self.end_staged(chunk, ResultCode::BadData.value());
            } else {
                let len = u64::from(job.t.len);
                s.record(chunk, CopyDirection::ToStaging, len);
            }
        }
        worked
    }

    /// Pushes the WRITE of the request on `chunk`, whose bytes are in staging.
    fn write_staged(&mut self, chunk: u32) {
        let s = self.staged.as_mut().expect("staged");
        let offset = s.staging_offset(chunk);
        let Some(ring_window) = s.ring_window else {
            return self.end_staged(chunk, ResultCode::Internal.value());
        };
        let Some(job) = s.jobs[chunk as usize].as_mut() else {
            return;
        };
        job.stage = Stage::Writing;
        let transfer = Transfer {
            file: FileHandle(job.t.file),
            window: ring_window,
            window_offset: offset,
            file_offset: job.t.file_offset,
            len: job.t.len,
        };
        let user_data = super::encode(STAGED_QUEUE, chunk, Generation(0));
        if self.ring.push(user_data, OpKind::Write(transfer)).is_err() {
            self.end_staged(chunk, ResultCode::Internal.value());
        }
    }

    /// The copy of the request on `chunk` has finished.
    fn copied(&mut self, chunk: u32) {
        let stopping = self.stopping;
        let s = self.staged.as_mut().expect("staged");
        let Some(job) = s.jobs[chunk as usize].as_ref() else {
            return;
        };
        match job.stage {
            Stage::CopyingIn => {
                let result = job.result;
                // The caller starts waiting requests once the whole batch is free.
                self.release_chunk(chunk, result);
            }
            Stage::CopyingOut if stopping => self.end_staged(chunk, ResultCode::Stopped.value()),
            Stage::CopyingOut if job.t.data_check.is_some() => s.to_check.push_back(chunk),
            Stage::CopyingOut => self.write_staged(chunk),
            Stage::Waiting | Stage::Reading | Stage::Writing => {}
        }
    }

    /// Stop or failure, before the ring is cancelled: requests still waiting for a chunk never
    /// started; answer them.
    pub(super) fn drop_waiting_staged(&mut self, leftover: i32) {
        let Some(s) = self.staged.as_mut() else {
            return;
        };
        let waiting = std::mem::take(&mut s.waiting);
        for job in waiting {
            self.complete_tracked(job.qi, job.claim, leftover);
        }
    }

    /// Stop or failure, after the ring was cancelled and drained (`ring_drained`): wait
    /// (bounded) for every batch submitted, and answer what provably no longer moves: a READ
    /// whose copy finished with its bytes; a request whose copy was never submitted, whose
    /// WRITE waited for its data check, or whose ring op the drain gave back, with `leftover`.
    /// A request whose copy or ring op may still run is left unanswered (the header's FAILED
    /// tells the device). Returns whether the engine and the ring are provably done with the
    /// staging memory.
    pub(super) fn settle_staged(
        &mut self,
        leftover: i32,
        timeout: Duration,
        ring_drained: bool,
    ) -> bool {
        let Some(s) = self.staged.as_mut() else {
            return true;
        };
        // Copies recorded during the drain (READs it completed) are submitted, unless the
        // engine already failed: a failed submit made none of them.
        let mut copies_done = true;
        if !s.recorded.is_empty() && !s.submit_failed {
            match s.engine.submit() {
                Ok(ticket) => {
                    let chunks = std::mem::take(&mut s.recorded);
                    s.copying.push_back((ticket, Instant::now(), chunks));
                }
                Err(_) => s.submit_failed = true,
            }
        }
        if let Some(&(last, _, _)) = s.copying.back() {
            copies_done = matches!(s.engine.wait(last, timeout), Ok(true));
        }
        let never_copied = std::mem::take(&mut s.recorded);
        let copying: Vec<u32> = s.copying.drain(..).flat_map(|(_, _, c)| c).collect();
        let to_check: Vec<u32> = s.to_check.drain(..).collect();
        for chunk in never_copied.into_iter().chain(to_check) {
            self.release_chunk(chunk, leftover);
        }
        if copies_done {
            for chunk in copying {
                let s = self.staged.as_mut().expect("staged");
                let result = match s.jobs[chunk as usize].as_ref() {
                    Some(j) if j.stage == Stage::CopyingIn => j.result,
                    _ => leftover,
                };
                self.release_chunk(chunk, result);
            }
        }
        if ring_drained {
            // Every ring op came back; nothing else on a chunk moves.
            let s = self.staged.as_mut().expect("staged");
            let rest: Vec<u32> = (0..s.jobs.len() as u32)
                .filter(|&c| {
                    s.jobs[c as usize]
                        .as_ref()
                        .is_some_and(|j| matches!(j.stage, Stage::Reading | Stage::Writing))
                })
                .collect();
            for chunk in rest {
                self.release_chunk(chunk, leftover);
            }
        }
        copies_done
    }
}
