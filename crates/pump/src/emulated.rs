//! The CPU-emulated device: lanes (threads) that run the device side of the protocol against a
//! queue in host memory, exactly as a shader does against GPU-visible memory.
//!
//! Each lane owns a range of slots (one device writer per slot, so no atomic read-modify-write
//! is needed), issues requests into free slots, and waits for them, respecting the pump state.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::{Duration, Instant};

use gdio_protocol::{DeviceQueue, Generation, LayoutError, Poll, Request, ResultCode};

use crate::memory::QueueMemory;

/// An issued request: the slot and generation to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Slot index.
    pub slot: u32,
    /// Generation published.
    pub generation: Generation,
}

/// One lane of the emulated device.
pub struct Lane<'a> {
    queue: DeviceQueue<'a>,
    free: Vec<u32>,
    pending: VecDeque<Ticket>,
    timeout: Duration,
}

/// Lanes are handed slot ranges of equal size: lane `i` of `n` over `slots` owns
/// `i*slots/n .. (i+1)*slots/n`.
#[must_use]
pub fn lane_slots(lane: u32, lanes: u32, slots: u32) -> Range<u32> {
    let per = slots / lanes.max(1);
    lane * per..(lane + 1) * per
}

impl<'a> Lane<'a> {
    /// A lane owning `slots` of the queue in `memory` (initialised by a running pump).
    pub fn new(memory: &'a dyn QueueMemory, slots: Range<u32>) -> Result<Lane<'a>, LayoutError> {
        let queue = DeviceQueue::attach(memory.requests(), memory.completions())?;
        let free = slots.rev().collect();
        Ok(Lane {
            queue,
            free,
            pending: VecDeque::new(),
            timeout: Duration::from_secs(60),
        })
    }

    /// Wall-clock bound on one wait (default 60 s); past it a wait returns TIMEOUT, so a test
    /// can never hang on a lost completion.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The device queue this lane writes (for hostile tests that need raw writes).
    #[must_use]
    pub fn queue(&self) -> DeviceQueue<'a> {
        self.queue
    }

    /// Requests issued and not yet waited for.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// True if a slot is free to issue into.
    #[must_use]
    pub fn has_free_slot(&self) -> bool {
        !self.free.is_empty()
    }

    /// The slot the next [`Lane::issue`] will use, if any is free.
    #[must_use]
    pub fn next_free_slot(&self) -> Option<u32> {
        self.free.last().copied()
    }

    /// Publishes `request` in a free slot of this lane; `None` if all its slots are busy.
    pub fn issue(&mut self, request: &Request) -> Option<Ticket> {
        let slot = self.free.pop()?;
        match self.queue.publish(slot, request) {
            Ok(generation) => {
                let t = Ticket { slot, generation };
                self.pending.push_back(t);
                Some(t)
            }
            Err(_) => {
                // The slot is still pending from an earlier, abandoned wait: keep it out.
                None
            }
        }
    }

    /// Waits for the oldest pending request; `None` if none is pending.
    pub fn wait_oldest(&mut self) -> Option<(Ticket, i32)> {
        let t = self.pending.pop_front()?;
        let r = self.wait_ticket(t);
        Some((t, r))
    }

    /// Issues `request` and waits for it.
    pub fn run(&mut self, request: &Request) -> i32 {
        while !self.has_free_slot() {
            if self.wait_oldest().is_none() {
                return ResultCode::Internal.value();
            }
        }
        match self.issue(request) {
            Some(t) => {
                let pos = self
                    .pending
                    .iter()
                    .position(|p| *p == t)
                    .expect("just issued");
                self.pending.remove(pos);
                self.wait_ticket(t)
            }
            None => ResultCode::Internal.value(),
        }
    }

    fn wait_ticket(&mut self, t: Ticket) -> i32 {
        let deadline = Instant::now() + self.timeout;
        let mut spins = 0u32;
        loop {
            match self.queue.poll(t.slot, t.generation) {
                Ok(Poll::Done(r)) => {
                    self.free.push(t.slot);
                    return r;
                }
                Ok(Poll::PumpGone { .. }) => return ResultCode::PumpGone.value(),
                Ok(Poll::Pending) => {}
                Err(_) => return ResultCode::Internal.value(),
            }
            spins += 1;
            if spins % 64 == 0 {
                if Instant::now() > deadline {
                    return ResultCode::Timeout.value();
                }
                // Two cores run the pump and several lanes: give the pump the CPU.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}
