//! Checked WRITEs held until their data has arrived in host memory, with bounded work per turn.
//!
//! A WRITE published with `FLAG_DATA_CHECK` carries a check of the bytes the device put in its
//! window. On NVIDIA a running shader's stores to host memory may reach the host after the
//! publish word, so the pump recomputes the check over the window before it lets the kernel
//! read the bytes, and holds the WRITE while they differ.
//!
//! What the device controls must not control the pump's time: a device can hold every slot
//! with a 64 MiB WRITE whose data never matches. So the held WRITEs are hashed a piece at a
//! time, round robin, at most [`HeldWrites::advance`]'s `budget` bytes per pump turn in all;
//! the rest of a turn's work (expiry) is O(1) per held WRITE, and there are at most as many
//! held WRITEs as slots. A WRITE whose finished check does not match starts over (its first
//! pieces may have been read before they arrived); one still unmatched after the data timeout
//! is answered BAD_DATA.
//!
//! A held WRITE keeps its window's memory alive (an `Arc`) and is a user of its window and
//! file handles: the engine does not finish removing either while a held WRITE names it, so a
//! handle is never reused under a held WRITE.

use std::sync::Arc;
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
    /// The window as it was when the WRITE was validated.
    memory: Arc<dyn WindowMemory>,
    /// The check over `transfer.window_offset .. + hashed`.
    check: DataCheck,
    hashed: u64,
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

/// The held WRITEs of one pump.
pub(crate) struct HeldWrites {
    held: Vec<HeldWrite>,
    /// The next to hash (round robin).
    cursor: usize,
    scratch: Box<[u8]>,
}

/// Bytes read out of a window per copy.
const PIECE: usize = 64 << 10;

impl HeldWrites {
    pub(crate) fn new() -> HeldWrites {
        HeldWrites {
            held: Vec::new(),
            cursor: 0,
            scratch: vec![0u8; PIECE].into_boxed_slice(),
        }
    }

    pub(crate) fn hold(
        &mut self,
        qi: usize,
        claim: Claim,
        transfer: Transfer,
        memory: Arc<dyn WindowMemory>,
    ) {
        self.held.push(HeldWrite {
            qi,
            claim,
            transfer,
            since: Instant::now(),
            memory,
            check: DataCheck::new(),
            hashed: 0,
        });
    }

    /// Whether a held WRITE names window handle `window`.
    pub(crate) fn uses_window(&self, window: u32) -> bool {
        self.held.iter().any(|h| h.transfer.window == window)
    }

    /// Whether a held WRITE names file handle `file`.
    pub(crate) fn uses_file(&self, file: u32) -> bool {
        self.held.iter().any(|h| h.transfer.file == file)
    }

    /// Every held WRITE, for wind-down.
    pub(crate) fn take_all(&mut self) -> Vec<HeldWrite> {
        self.cursor = 0;
        std::mem::take(&mut self.held)
    }

    /// One turn's work: answers expired WRITEs, then hashes at most `budget` bytes of the
    /// others, round robin, and moves those whose check is complete and matches into `out`.
    /// Returns whether anything was hashed or decided.
    pub(crate) fn advance(
        &mut self,
        budget: usize,
        timeout: Duration,
        out: &mut Vec<Verdict>,
    ) -> bool {
        if self.held.is_empty() {
            return false;
        }
        let now = Instant::now();
        let before = out.len();
        let mut i = 0;
        while i < self.held.len() {
            if now.duration_since(self.held[i].since) > timeout {
                out.push(Verdict::Expired(self.held.swap_remove(i)));
            } else {
                i += 1;
            }
        }
        let budget = word_budget(budget);
        let mut left = budget;
        // Each held WRITE is visited at most once per turn.
        let mut visits = self.held.len();
        while visits > 0 && !self.held.is_empty() {
            visits -= 1;
            if self.cursor >= self.held.len() {
                self.cursor = 0;
            }
            let w = &mut self.held[self.cursor];
            let len = u64::from(w.transfer.len);
            let start = u64::from(w.transfer.window_offset);
            if start.saturating_add(len) > w.memory.len() as u64 {
                out.push(Verdict::OutOfBounds(self.held.swap_remove(self.cursor)));
                continue;
            }
            while w.hashed < len && left > 0 {
                let n = (len - w.hashed).min(left as u64).min(PIECE as u64) as usize;
                // `n` is a multiple of 4 except for the WRITE's last piece (`left` and PIECE
                // are kept multiples of 4), as DataCheck::update requires.
                let off = (start + w.hashed) as usize;
                // SAFETY: `off + n <= start + len <= memory.len()` (checked above), and the
                // `Arc` in `w` keeps the memory mapped (the WindowMemory contract). The device
                // may still be writing these bytes (that is what the check is for): a plain
                // byte copy of memory another agent writes is what the kernel's own copy for
                // the WRITE does, and the bytes are only hashed, never trusted.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        w.memory.as_ptr().add(off),
                        self.scratch.as_mut_ptr(),
                        n,
                    );
                }
                w.check.update(&self.scratch[..n]);
                w.hashed += n as u64;
                // Whole words only, so that the next WRITE's pieces stay word-aligned.
                left = (left - n) & !3;
            }
            if w.hashed < len {
                // Budget spent: go on with this one next turn.
                break;
            }
            if Some(w.check.finish()) == w.transfer.data_check {
                out.push(Verdict::Arrived(self.held.swap_remove(self.cursor)));
            } else {
                // Some bytes had not arrived when they were read: start over.
                w.check = DataCheck::new();
                w.hashed = 0;
                self.cursor += 1;
            }
            if left == 0 {
                break;
            }
        }
        budget != left || out.len() != before
    }
}

/// The per-turn hashing budget, rounded down to whole words (at least one).
pub(crate) fn word_budget(bytes: usize) -> usize {
    (bytes & !3).max(4)
}
