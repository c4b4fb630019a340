//! Checked WRITEs held until their data has arrived in host memory, with bounded work per turn.
//!
//! A WRITE published with `FLAG_DATA_CHECK` carries a check of the bytes the device put in its
//! window. On NVIDIA a running shader's stores to host memory may reach the host after the
//! publish word, so the pump recomputes the check over the window before it lets the kernel
//! read the bytes, and holds the WRITE while they differ.
//!
//! What the device controls must not control the pump's time: a device can hold every slot
//! with a 64 MiB WRITE whose data never matches. So the pump thread itself hashes at most
//! `inline_budget` bytes per turn (a small WRITE's first check, where its data has usually
//! arrived); every other check runs on a checker thread (one of at most `checkers`, each
//! started at the first WRITE given to it; a WRITE goes to checker `id % checkers`), which
//! hashes its held WRITEs round robin and reports those whose bytes match. One thread hashes
//! about 1.65 GB/s (a 2 GHz EPYC core), so bulk writes need several.
//! Per turn the pump does O(1) work per held WRITE (its expiry) and per report; there are at
//! most as many held WRITEs as slots. A WRITE still unmatched after the data timeout is
//! answered BAD_DATA.
//!
//! A held WRITE keeps its window's memory alive (an `Arc`, shared with the checker) and is a
//! user of its window and file handles: the engine does not finish removing either while a
//! held WRITE names it, so a handle is never reused under a held WRITE.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gdio_protocol::layout::descriptor::DataCheck;
use gdio_protocol::request::Transfer;
use gdio_protocol::Claim;

use crate::memory::WindowMemory;

/// One WRITE whose data check has not matched yet.
pub(crate) struct HeldWrite {
    pub qi: usize,
    pub claim: Claim,
    pub transfer: Transfer,
    since: Instant,
}

/// What became of a held WRITE.
pub(crate) enum Verdict {
    /// Its bytes match their check: submit it.
    Arrived(HeldWrite),
    /// The data timeout passed: answer BAD_DATA.
    Expired(HeldWrite),
    /// Its window range is not inside the window's memory (only a table bug gets here):
    /// answer INTERNAL without reading anything.
    OutOfBounds(HeldWrite),
}

/// A check for the checker thread.
struct Job {
    id: u64,
    memory: Arc<dyn WindowMemory>,
    start: usize,
    len: usize,
    expected: Option<u32>,
}

enum Msg {
    Check(Job),
    Forget(u64),
}

struct Checker {
    jobs: Sender<Msg>,
    matched: Receiver<u64>,
    thread: Option<JoinHandle<()>>,
}

/// The held WRITEs of one pump.
pub(crate) struct HeldWrites {
    held: HashMap<u64, HeldWrite>,
    next_id: u64,
    /// Verdicts reached on the pump thread, handed out at the next `advance`.
    ready: Vec<Verdict>,
    /// Checker threads by index (`None`: not started yet).
    checkers: Vec<Option<Checker>>,
    inline_budget: usize,
    inline_left: usize,
}

/// Bytes read out of a window per copy.
const PIECE: usize = 64 << 10;

/// The check over `len` bytes at `start` of `memory`, read piece by piece into `scratch`.
pub(super) fn check_of(
    memory: &dyn WindowMemory,
    start: usize,
    len: usize,
    scratch: &mut [u8],
) -> u32 {
    let mut check = DataCheck::new();
    let mut off = 0;
    while off < len {
        // Every piece but the last is a whole number of words, as DataCheck::update requires.
        let n = (len - off).min(scratch.len());
        // SAFETY: callers checked `start + len <= memory.len()`; the caller's `Arc` keeps the
        // memory mapped (the WindowMemory contract). The device may still be writing these
        // bytes (that is what the check is for): a plain byte copy of memory another agent
        // writes is what the kernel's own copy for the WRITE does, and the bytes are only
        // hashed, never trusted.
        unsafe {
            std::ptr::copy_nonoverlapping(
                memory.as_ptr().add(start + off),
                scratch.as_mut_ptr(),
                n,
            );
        }
        check.update(&scratch[..n]);
        off += n;
    }
    check.finish()
}

/// The checker thread: hashes its jobs round robin until each matches or is forgotten.
fn checker_loop(jobs: &Receiver<Msg>, matched: &Sender<u64>) {
    let mut live: Vec<Job> = Vec::new();
    let mut scratch = vec![0u8; PIECE];
    let mut fruitless = 0u32;
    loop {
        let apply = |m: Msg, live: &mut Vec<Job>| match m {
            Msg::Check(j) => live.push(j),
            Msg::Forget(id) => live.retain(|j| j.id != id),
        };
        if live.is_empty() {
            match jobs.recv() {
                Ok(m) => apply(m, &mut live),
                Err(_) => return,
            }
        }
        loop {
            match jobs.try_recv() {
                Ok(m) => apply(m, &mut live),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        let before = live.len();
        live.retain(|j| {
            if Some(check_of(&*j.memory, j.start, j.len, &mut scratch)) == j.expected {
                let _ = matched.send(j.id);
                false
            } else {
                true
            }
        });
        if live.len() == before {
            // Data that has not arrived after a few rounds is late or never coming: look
            // less often, so that a flood of such WRITEs costs this thread, not a core.
            fruitless = fruitless.saturating_add(1);
            if fruitless > 16 {
                std::thread::sleep(Duration::from_micros(50));
            } else {
                std::thread::yield_now();
            }
        } else {
            fruitless = 0;
        }
    }
}

impl HeldWrites {
    /// `inline_budget`: bytes the pump thread itself may hash per turn; `checkers`: most
    /// checker threads (at least 1).
    pub(crate) fn new(inline_budget: usize, checkers: usize) -> HeldWrites {
        HeldWrites {
            held: HashMap::new(),
            next_id: 0,
            ready: Vec::new(),
            checkers: (0..checkers.max(1)).map(|_| None).collect(),
            inline_budget,
            inline_left: inline_budget,
        }
    }

    /// Holds a checked WRITE; `memory` is its window as validated.
    pub(crate) fn hold(
        &mut self,
        qi: usize,
        claim: Claim,
        transfer: Transfer,
        memory: Arc<dyn WindowMemory>,
    ) {
        let w = HeldWrite {
            qi,
            claim,
            transfer,
            since: Instant::now(),
        };
        let (start, len) = (transfer.window_offset as usize, transfer.len as usize);
        if start.saturating_add(len) > memory.len() {
            self.ready.push(Verdict::OutOfBounds(w));
            return;
        }
        if len <= self.inline_left {
            // Most checked WRITEs find their data already there: check once, here.
            self.inline_left -= len;
            let mut scratch = [0u8; 4096];
            if Some(check_of(&*memory, start, len, &mut scratch)) == transfer.data_check {
                self.ready.push(Verdict::Arrived(w));
                return;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let job = Job {
            id,
            memory,
            start,
            len,
            expected: transfer.data_check,
        };
        if self.send(id, Msg::Check(job)) {
            self.held.insert(id, w);
        } else {
            // No checker thread could be started: the WRITE cannot be checked.
            self.ready.push(Verdict::OutOfBounds(w));
        }
    }

    /// Sends to the checker of WRITE `id`, starting it if needed; false if it cannot be
    /// started.
    fn send(&mut self, id: u64, m: Msg) -> bool {
        let n = self.checkers.len() as u64;
        let slot = &mut self.checkers[(id % n) as usize];
        if slot.is_none() {
            let (jobs, jobs_rx) = mpsc::channel();
            let (matched_tx, matched) = mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("gdio-data-check".into())
                .spawn(move || checker_loop(&jobs_rx, &matched_tx));
            let Ok(thread) = thread else {
                return false;
            };
            *slot = Some(Checker {
                jobs,
                matched,
                thread: Some(thread),
            });
        }
        slot.as_ref().is_some_and(|c| c.jobs.send(m).is_ok())
    }

    /// Whether a held WRITE names window handle `window`.
    pub(crate) fn uses_window(&self, window: u32) -> bool {
        self.held.values().any(|h| h.transfer.window == window)
    }

    /// Whether a held WRITE names file handle `file`.
    pub(crate) fn uses_file(&self, file: u32) -> bool {
        self.held.values().any(|h| h.transfer.file == file)
    }

    /// Every held WRITE, for wind-down (the checker forgets them all).
    pub(crate) fn take_all(&mut self) -> Vec<HeldWrite> {
        let ids: Vec<u64> = self.held.keys().copied().collect();
        for id in ids {
            self.send_if_running(id, Msg::Forget(id));
        }
        let mut out: Vec<HeldWrite> = self.held.drain().map(|(_, w)| w).collect();
        out.extend(self.ready.drain(..).map(|v| match v {
            Verdict::Arrived(w) | Verdict::Expired(w) | Verdict::OutOfBounds(w) => w,
        }));
        out
    }

    fn send_if_running(&self, id: u64, m: Msg) {
        let slot = &self.checkers[(id % self.checkers.len() as u64) as usize];
        if let Some(c) = slot {
            let _ = c.jobs.send(m);
        }
    }

    /// One turn's work: hands out the verdicts reached since the last turn (checks that
    /// matched, WRITEs past `timeout`). O(1) per held WRITE. Returns whether any was reached.
    pub(crate) fn advance(&mut self, timeout: Duration, out: &mut Vec<Verdict>) -> bool {
        self.inline_left = self.inline_budget;
        let before = out.len();
        out.append(&mut self.ready);
        for c in self.checkers.iter().flatten() {
            for id in c.matched.try_iter() {
                if let Some(w) = self.held.remove(&id) {
                    out.push(Verdict::Arrived(w));
                }
            }
        }
        if !self.held.is_empty() {
            let now = Instant::now();
            let expired: Vec<u64> = self
                .held
                .iter()
                .filter(|(_, w)| now.duration_since(w.since) > timeout)
                .map(|(&id, _)| id)
                .collect();
            for id in expired {
                if let Some(w) = self.held.remove(&id) {
                    self.send_if_running(id, Msg::Forget(id));
                    out.push(Verdict::Expired(w));
                }
            }
        }
        out.len() != before
    }
}

impl Drop for HeldWrites {
    fn drop(&mut self) {
        // Closing every channel first ends the checkers after their current rounds, together.
        let mut threads = Vec::new();
        for c in self.checkers.iter_mut().filter_map(Option::take) {
            let Checker { jobs, thread, .. } = c;
            drop(jobs);
            threads.extend(thread);
        }
        for t in threads {
            let _ = t.join();
        }
    }
}
