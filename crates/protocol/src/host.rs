//! The host's side of a queue: claim what the device published, complete what was claimed.
//!
//! One [`HostQueue`] is owned by one pump thread, so claiming needs no read-modify-write on
//! shared memory: the host keeps, per slot, the last publish value it acted on, the last
//! generation it completed and whether the slot is in flight. The host never reads the
//! completion region (on NVIDIA it is ReBAR, which the CPU reads at about 7 MB/s).

use crate::codes::{PumpState, ResultCode};
use crate::generation::Generation;
use crate::layout::{completion_header, descriptor, Layout, LayoutError};
use crate::region::Region;
use crate::request::Request;
use crate::sync::{fence, Ordering};

/// One claimed request: the host must complete `generation` of `slot` exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Claim {
    /// Slot index.
    pub slot: u32,
    /// The generation claimed.
    pub generation: Generation,
    /// The descriptor as read at claim time (untrusted: validate before use).
    pub request: Request,
}

/// Why a completion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CompleteError {
    /// The slot index is not in the queue.
    #[error("slot {slot} is not in this queue of {count} slots: complete only slots returned by claim()")]
    NoSuchSlot {
        /// The slot given.
        slot: u32,
        /// Slots in the queue.
        count: u32,
    },
    /// The slot is not in flight with that generation (already completed, or never claimed).
    #[error("slot {slot} generation {generation} is not in flight: each claim is completed exactly once")]
    NotInFlight {
        /// The slot given.
        slot: u32,
        /// The generation given.
        generation: u32,
    },
}

/// Counters the host queue keeps; cheap, always on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Requests claimed.
    pub claimed: u64,
    /// Claims completed.
    pub completed: u64,
    /// Publications answered BAD_GENERATION without being claimed.
    pub bad_generations: u64,
    /// Calls to [`HostQueue::claim`].
    pub polls: u64,
    /// Times a changed publish word came with an incomplete descriptor (looked at again later).
    pub torn: u64,
    /// Publications answered BAD_DESCRIPTOR (descriptor never became whole).
    pub bad_descriptors: u64,
}

/// The host's view of one queue.
#[derive(Debug)]
pub struct HostQueue<'a> {
    layout: Layout,
    requests: Region<'a>,
    completions: Region<'a>,
    /// Per slot: the last publish value acted on. Kept dense and apart from the rest so an idle
    /// poll is one compare per slot against memory the host owns.
    seen: Box<[u32]>,
    /// Per slot: the last generation completed by a claim (not by a BAD_GENERATION answer).
    completed: Box<[u32]>,
    /// Per slot: claimed and not yet completed.
    claimed: Box<[bool]>,
    /// Per slot: polls that found the publish word changed but the descriptor not whole.
    torn_polls: Box<[u32]>,
    torn_limit: u32,
    in_flight: u32,
    cursor: u32,
    state: PumpState,
    stats: HostStats,
}

impl<'a> HostQueue<'a> {
    /// Initialises both regions for `slot_count` slots (headers written, everything else zeroed,
    /// pump state INIT) and returns the host's side of the queue.
    ///
    /// Call it before the device starts: on NVIDIA a running shader does not see host writes to
    /// system memory, so the request region must be set up before the dispatch.
    pub fn init(
        requests: Region<'a>,
        completions: Region<'a>,
        slot_count: u32,
    ) -> Result<HostQueue<'a>, LayoutError> {
        let layout = Layout::new(slot_count)?;
        layout.check_sizes(requests, completions)?;
        let req_header = layout.request_header();
        for (i, w) in requests.words()[..layout.request_bytes() / 4]
            .iter()
            .enumerate()
        {
            w.store(req_header.get(i).copied().unwrap_or(0), Ordering::Relaxed);
        }
        let comp_header = layout.completion_header();
        for (i, w) in completions.words()[..layout.completion_offset() / 4]
            .iter()
            .enumerate()
        {
            w.store(comp_header.get(i).copied().unwrap_or(0), Ordering::Relaxed);
        }
        // Completion entries are only ever accessed as (result, generation) pairs, so that no
        // word is touched by atomics of two sizes (mixed-size atomics are outside Rust's
        // memory model).
        for slot in 0..slot_count {
            completions.store_pair(layout.result_word(slot), 0, 0, Ordering::Relaxed);
        }
        let padding = layout.result_word(slot_count)..layout.completion_bytes() / 4;
        for w in &completions.words()[padding] {
            w.store(0, Ordering::Relaxed);
        }
        fence(Ordering::SeqCst);
        Ok(HostQueue {
            layout,
            requests,
            completions,
            seen: vec![0; slot_count as usize].into_boxed_slice(),
            completed: vec![0; slot_count as usize].into_boxed_slice(),
            claimed: vec![false; slot_count as usize].into_boxed_slice(),
            torn_polls: vec![0; slot_count as usize].into_boxed_slice(),
            torn_limit: Self::DEFAULT_TORN_LIMIT,
            in_flight: 0,
            cursor: 0,
            state: PumpState::Init,
            stats: HostStats::default(),
        })
    }

    /// Polls a changed publish word may show an incomplete descriptor before the host answers
    /// it BAD_DESCRIPTOR (a descriptor still in flight normally completes within a poll or two).
    pub const DEFAULT_TORN_LIMIT: u32 = 100_000;

    /// Sets how many polls a descriptor may stay incomplete (at least 1).
    pub fn set_torn_limit(&mut self, polls: u32) {
        self.torn_limit = polls.max(1);
    }

    /// The queue's layout.
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Claims newly published requests into `out`, returning how many were written.
    ///
    /// Reads one publish word per slot not in flight (relaxed), and a descriptor only where a
    /// publish word changed. Publications that are not a slot's next generation are answered
    /// with [`ResultCode::BadGeneration`] here and never returned. When `out` fills up, the next
    /// call resumes after the last slot claimed, so no slot starves. Allocates nothing.
    pub fn claim(&mut self, out: &mut [Claim]) -> usize {
        self.stats.polls += 1;
        let count = self.layout.slot_count();
        if out.is_empty() || self.in_flight == count {
            return 0;
        }
        let start = self.cursor;
        let mut n = self.scan(start..count, out, 0);
        if n < out.len() {
            n = self.scan(0..start, out, n);
        }
        n
    }

    /// Claims from the slots in `range` into `out[n..]`; returns the new fill level.
    fn scan(&mut self, range: core::ops::Range<u32>, out: &mut [Claim], mut n: usize) -> usize {
        let base = self.layout.publish_word(0);
        let words = &self.requests.words()[base..base + self.seen.len()];
        for slot in range {
            let i = slot as usize;
            // The idle path: one relaxed load and one compare. A slot in flight has
            // `seen` equal to its claimed generation, so it takes this path too unless the
            // device republished it early; it is then looked at again after its completion.
            let p = words[i].load(Ordering::Relaxed);
            if p == self.seen[i] || self.claimed[i] {
                continue;
            }
            // Pairs with the device's release store of the publish word: the descriptor written
            // before it is visible below (where the platform keeps that promise: see below).
            fence(Ordering::Acquire);
            let mut desc = [0u32; descriptor::WRITTEN];
            for (w, v) in desc.iter_mut().enumerate() {
                *v = self
                    .requests
                    .load(self.layout.descriptor_word(slot, w), Ordering::Relaxed);
            }
            let mut head = [0u32; 9];
            head.copy_from_slice(&desc[..9]);
            if desc[descriptor::STAMP] != p || desc[descriptor::CHECK] != descriptor::check(&head) {
                // The publish word arrived before the whole descriptor (a GPU's writes to host
                // memory need not arrive in order): look again on a later poll. A descriptor
                // that never becomes whole is answered BAD_DESCRIPTOR after `torn_limit` polls.
                self.stats.torn += 1;
                self.torn_polls[i] = self.torn_polls[i].saturating_add(1);
                if self.torn_polls[i] < self.torn_limit {
                    continue;
                }
                self.torn_polls[i] = 0;
                self.seen[i] = p;
                if Generation(p) == Generation(self.completed[i]).next() {
                    // The generation is used up, answered with an error: the device's next
                    // publication, next(p), is the one the host expects.
                    self.completed[i] = p;
                }
                self.stats.bad_descriptors += 1;
                self.write_completion(slot, p, ResultCode::BadDescriptor.value());
                continue;
            }
            self.torn_polls[i] = 0;
            self.seen[i] = p;
            let generation = Generation(p);
            if generation != Generation(self.completed[i]).next() {
                self.stats.bad_generations += 1;
                self.write_completion(slot, p, ResultCode::BadGeneration.value());
                continue;
            }
            self.claimed[i] = true;
            self.in_flight += 1;
            self.stats.claimed += 1;
            let mut fields = [0u32; descriptor::WORDS];
            fields.copy_from_slice(&desc[..descriptor::WORDS]);
            let desc = fields;
            let data_check = self.requests.load(
                self.layout.descriptor_word(slot, descriptor::DATA_CHECK),
                Ordering::Relaxed,
            );
            out[n] = Claim {
                slot,
                generation,
                request: Request {
                    data_check,
                    ..Request::from_words(desc)
                },
            };
            n += 1;
            if n == out.len() {
                self.cursor = (slot + 1) % self.layout.slot_count();
                break;
            }
        }
        n
    }

    /// Completes a claimed request with `result` (bytes, `-errno` or a [`ResultCode`] value).
    ///
    /// Writes the result and the generation as one 64-bit release store (the entry is 8-byte
    /// aligned), so a device that sees the generation sees the result with it; see
    /// [`HostQueue::flush`] for pushing write-combined (ReBAR) stores out.
    pub fn complete(
        &mut self,
        slot: u32,
        generation: Generation,
        result: i32,
    ) -> Result<(), CompleteError> {
        let count = self.layout.slot_count();
        let i = slot as usize;
        if i >= self.claimed.len() {
            return Err(CompleteError::NoSuchSlot { slot, count });
        }
        if !self.claimed[i] || self.seen[i] != generation.0 {
            return Err(CompleteError::NotInFlight {
                slot,
                generation: generation.0,
            });
        }
        self.claimed[i] = false;
        self.completed[i] = generation.0;
        self.in_flight -= 1;
        self.stats.completed += 1;
        self.write_completion(slot, generation.0, result);
        Ok(())
    }

    fn write_completion(&self, slot: u32, generation: u32, result: i32) {
        // Result and generation in one 64-bit release store: a device that loads the entry at
        // once sees the result with its generation, without a fence between two stores (which
        // costs a write-combining drain on ReBAR).
        self.completions.store_pair(
            self.layout.result_word(slot),
            result as u32,
            generation,
            Ordering::Release,
        );
    }

    /// Pushes completions written so far towards the device (drains write-combining buffers).
    /// Call once after a batch of [`HostQueue::complete`] calls.
    pub fn flush(&self) {
        fence(Ordering::SeqCst);
    }

    /// Publishes the pump state (and, for FAILED, the result code that explains it).
    pub fn set_pump_state(&mut self, state: PumpState, error: i32) {
        self.state = state;
        self.completions.store(
            completion_header::PUMP_ERROR,
            error as u32,
            Ordering::Relaxed,
        );
        fence(Ordering::SeqCst);
        self.completions.store(
            completion_header::PUMP_STATE,
            state as u32,
            Ordering::Release,
        );
        fence(Ordering::SeqCst);
    }

    /// The pump state last set (the host's own copy; it never reads the completion region).
    #[must_use]
    pub fn pump_state(&self) -> PumpState {
        self.state
    }

    /// The generation the host will claim next in `slot` (`None` for a slot outside the queue).
    #[must_use]
    pub fn next_generation(&self, slot: u32) -> Option<Generation> {
        self.completed
            .get(slot as usize)
            .map(|&c| Generation(c).next())
    }

    /// Appends to `out` every slot whose publication the host has not acted on yet: a slot
    /// not in flight whose publish word differs from the last one the host claimed or
    /// answered. Right after a [`HostQueue::claim`] pass these are descriptors whose words
    /// have not all arrived (see [`HostStats::torn`]) or publications made after the pass.
    /// Each entry is `(slot, last publish value acted on)`, to be given to
    /// [`HostQueue::acted_since`]. A FENCE or FSYNC waits for these before it joins the
    /// ordering: the device may have published them before it, and a claim that skipped an
    /// incomplete descriptor must not let the closer overtake it.
    pub fn unclaimed_publications(&self, out: &mut Vec<(u32, u32)>) {
        let base = self.layout.publish_word(0);
        let words = &self.requests.words()[base..base + self.seen.len()];
        for (i, w) in words.iter().enumerate() {
            if !self.claimed[i] && w.load(Ordering::Relaxed) != self.seen[i] {
                out.push((i as u32, self.seen[i]));
            }
        }
    }

    /// Whether the host has acted on `slot` since its last acted-on publish value was `seen`
    /// (claimed it, or answered it BAD_GENERATION or BAD_DESCRIPTOR), or the slot no longer
    /// shows an unclaimed publication. A slot whose descriptor never becomes whole is answered
    /// after the torn limit, so every slot reaches this in a bounded number of polls.
    #[must_use]
    pub fn acted_since(&self, slot: u32, seen: u32) -> bool {
        let i = slot as usize;
        let Some(&now) = self.seen.get(i) else {
            return true;
        };
        if now != seen || self.claimed[i] {
            return true;
        }
        self.requests
            .load(self.layout.publish_word(slot), Ordering::Relaxed)
            == now
    }

    /// Claims in flight.
    #[must_use]
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The slots in flight and the generation each was claimed with.
    pub fn in_flight_slots(&self) -> impl Iterator<Item = (u32, Generation)> + '_ {
        self.claimed
            .iter()
            .zip(self.seen.iter())
            .enumerate()
            .filter(|(_, (claimed, _))| **claimed)
            .map(|(i, (_, seen))| (i as u32, Generation(*seen)))
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> HostStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Op;
    use crate::device::DeviceQueue;
    use crate::region::zeroed_words;

    /// Through both sides: a slot at the top of the generation space goes on at 1, never 0.
    /// (Reaching u32::MAX by honest use takes 4 billion requests, so the host's bookkeeping is
    /// set there directly; the device's side follows from its own publish word.)
    #[test]
    fn generations_wrap_to_one_through_host_and_device() {
        let layout = Layout::new(1).unwrap();
        let req = zeroed_words(layout.request_bytes());
        let comp = zeroed_words(layout.completion_bytes());
        let (r, c) = (Region::new(&req), Region::new(&comp));
        let mut host = HostQueue::init(r, c, 1).unwrap();
        let dev = DeviceQueue::attach(r, c).unwrap();
        let top = u32::MAX - 1;
        host.completed[0] = top;
        host.seen[0] = top;
        let nop = Request::new(Op::Nop);
        let mut out = [Claim::default(); 1];
        // The device's last publication was `top` too (as after honest use).
        dev.write_raw(0, nop.to_words(), top);
        assert_eq!(
            host.claim(&mut out),
            0,
            "an already-completed generation is not claimed"
        );
        dev.write_raw(0, nop.to_words(), u32::MAX);
        assert_eq!(host.claim(&mut out), 1);
        assert_eq!(out[0].generation, Generation(u32::MAX));
        host.complete(0, Generation(u32::MAX), 0).unwrap();
        let g = dev.publish(0, &nop).unwrap();
        assert_eq!(g, Generation(1), "the device wraps to 1");
        assert_eq!(host.claim(&mut out), 1, "the host expects 1 after u32::MAX");
        assert_eq!(out[0].generation, Generation(1));
        host.complete(0, g, 7).unwrap();
        assert_eq!(dev.poll(0, g).unwrap(), crate::device::Poll::Done(7));
    }
}
