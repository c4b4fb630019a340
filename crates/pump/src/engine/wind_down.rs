//! Stop and failure: cancel and drain the ring, answer every slot, publish the final state.
//!
//! Every claimed request gets exactly one answer and every device learns that the pump is
//! gone, so no device waits forever; the ring is drained before any window memory can be
//! released, so the kernel never writes into freed memory. The work here is bounded whatever
//! the device does: the last claim pass takes at most one slot count of publications.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use gdio_protocol::{PumpState, ResultCode};

use super::{data_before_completions, Engine, SlotMeta, DRAIN_TIMEOUT};
use crate::ordering::Closer;
use crate::stats::LiveCounters;

impl Engine<'_> {
    /// Stop (failure = None) or fail: cancel and drain the ring, answer every slot, set the
    /// final state. Returns whether the kernel is provably done with every window.
    pub(super) fn wind_down(&mut self, failure: Option<i32>) -> bool {
        let result = catch_unwind(AssertUnwindSafe(|| self.wind_down_inner(failure)));
        match result {
            Ok(drained) => drained,
            Err(_) => {
                // Last resort: tell every device the pump is gone.
                for q in &mut self.queues {
                    q.host
                        .set_pump_state(PumpState::Failed, ResultCode::Internal.value());
                }
                false
            }
        }
    }

    /// Counts a claim answered here without dispatch (as an unvalidated request).
    fn count_claim(&mut self, qi: usize, c: &gdio_protocol::Claim) {
        LiveCounters::add(&self.live.claimed, 1);
        LiveCounters::add(&self.live.in_flight, 1);
        self.queues[qi].meta[c.slot as usize] = SlotMeta {
            start: Instant::now(),
            op: None,
            epoch: None,
            done: None,
        };
    }

    fn wind_down_inner(&mut self, failure: Option<i32>) -> bool {
        self.stopping = true;
        for q in &mut self.queues {
            q.host.set_pump_state(PumpState::Stopping, 0);
        }
        let leftover = match failure {
            Some(_) => ResultCode::Internal.value(),
            None => ResultCode::Stopped.value(),
        };
        // Held WRITEs never reached the ring: answer them now.
        for h in self.held.take_all() {
            self.complete_tracked(h.qi, h.claim, leftover);
        }
        self.drop_waiting_staged(leftover);
        // Closers still waiting for unclaimed publications never joined the ordering.
        for qi in 0..self.queues.len() {
            for d in std::mem::take(&mut self.queues[qi].deferred) {
                // Claimed, but not yet counted (that happens when a closer joins the ordering).
                self.count_claim(qi, &d.claim);
                self.complete(qi, d.claim.slot, d.claim.generation, leftover);
            }
        }
        let mut reaped = Vec::new();
        let _ = self.ring.cancel_all();
        let mut drained = self.ring.drain(DRAIN_TIMEOUT, |c| reaped.push(c)).is_ok();
        data_before_completions();
        for c in reaped {
            self.finish(c);
        }
        // READs that finished above record copies; wait for every copy before the staging
        // memory may go.
        drained &= self.settle_staged(leftover, DRAIN_TIMEOUT, drained);
        // Whatever is still claimed (ordering closers; on failure, anything left) and whatever
        // was published but never claimed gets its answer.
        for qi in 0..self.queues.len() {
            for closer in self.queues[qi].epochs.take_all() {
                let (Closer::Fence { slot, generation }
                | Closer::Fsync {
                    slot, generation, ..
                }) = closer;
                self.complete(qi, slot, generation, leftover);
            }
            if drained {
                let pending: Vec<_> = self.queues[qi].host.in_flight_slots().collect();
                for (slot, generation) in pending {
                    self.complete(qi, slot, generation, leftover);
                }
            }
            // One slot count of publications at most: a device that republishes as fast as it
            // is answered cannot keep the pump here, and the final state below tells it to stop.
            let mut left = self.queues[qi].host.layout().slot_count() as usize;
            while left > 0 {
                let take = left.min(self.claims.len());
                let n = self.queues[qi].host.claim(&mut self.claims[..take]);
                if n == 0 {
                    break;
                }
                left -= n;
                for i in 0..n {
                    let c = self.claims[i];
                    self.count_claim(qi, &c);
                    self.complete(qi, c.slot, c.generation, ResultCode::Stopped.value());
                }
            }
        }
        self.report.bad_generations = self
            .queues
            .iter()
            .map(|q| q.host.stats().bad_generations)
            .sum();
        let (state, code) = match failure {
            None if drained => (PumpState::Stopped, 0),
            None => (PumpState::Failed, ResultCode::Internal.value()),
            Some(code) => (PumpState::Failed, code),
        };
        for q in &mut self.queues {
            q.host.flush();
            q.host.set_pump_state(state, code);
        }
        drained
    }
}
