//! The device's side of a queue, in Rust: the reference that `gdio.glsl` implements, and what
//! the CPU-emulated device, the tests and the models run.
//!
//! Slots are owned: each slot has one device writer (a lane or a workgroup), so issuing needs
//! no atomic read-modify-write over PCIe. The device operations map to this API as follows:
//! *reserve* a slot = check [`DeviceQueue::is_idle`] on a slot the lane owns; *publish* =
//! [`DeviceQueue::publish`]; *poll* = [`DeviceQueue::poll`] (or the bounded
//! [`DeviceQueue::wait`]); *release* happens when a poll returns [`Poll::Done`]: reading the
//! result is the last access, and the slot is idle again. The device writes only the request region and reads
//! the completion region, plus its own publish words (to resynchronise after a re-dispatch).

use crate::codes::{PumpState, ResultCode};
use crate::generation::Generation;
use crate::layout::{completion_header, descriptor, Layout, LayoutError};
use crate::region::Region;
use crate::request::Request;
use crate::sync::Ordering;

/// What a poll of a pending slot found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// The generation completed with this result; the slot is idle again.
    Done(i32),
    /// Not yet completed; the pump is alive.
    Pending,
    /// The pump stopped or failed and this generation will not complete: do not reuse the
    /// slot. `error` is the header's pump error word.
    PumpGone {
        /// The terminal state seen.
        state: PumpState,
        /// The pump error word.
        error: i32,
    },
}

/// Why the device could not issue a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The slot index is not in the queue.
    #[error("slot {0} is not in this queue")]
    NoSuchSlot(u32),
    /// The slot's previous request has not completed: poll it first.
    #[error("slot {0} still has a request pending: wait for its completion before reusing it")]
    Busy(u32),
}

/// The device's view of one queue. Cheap to share: all state is in the shared memory.
#[derive(Debug, Clone, Copy)]
pub struct DeviceQueue<'a> {
    layout: Layout,
    requests: Region<'a>,
    completions: Region<'a>,
}

impl<'a> DeviceQueue<'a> {
    /// Attaches to regions the host initialised, checking their headers.
    pub fn attach(
        requests: Region<'a>,
        completions: Region<'a>,
    ) -> Result<DeviceQueue<'a>, LayoutError> {
        let layout = Layout::read_from(requests, completions)?;
        Ok(DeviceQueue {
            layout,
            requests,
            completions,
        })
    }

    /// The queue's layout.
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn check(&self, slot: u32) -> Result<(), DeviceError> {
        if slot < self.layout.slot_count() {
            Ok(())
        } else {
            Err(DeviceError::NoSuchSlot(slot))
        }
    }

    /// The generation this device last published in `slot` (its own write).
    pub fn last_published(&self, slot: u32) -> Result<Generation, DeviceError> {
        self.check(slot)?;
        Ok(Generation(
            self.requests
                .load(self.layout.publish_word(slot), Ordering::Relaxed),
        ))
    }

    /// True when the slot's last publication has completed, so it may be reused.
    pub fn is_idle(&self, slot: u32) -> Result<bool, DeviceError> {
        let published = self.last_published(slot)?;
        let (_, done) = self.entry(slot, Ordering::Acquire);
        Ok(done == published.0)
    }

    /// Writes `request` into idle `slot` and publishes it; returns the generation to wait for.
    pub fn publish(&self, slot: u32, request: &Request) -> Result<Generation, DeviceError> {
        if !self.is_idle(slot)? {
            return Err(DeviceError::Busy(slot));
        }
        let generation = self.last_published(slot)?.next();
        self.write_raw(slot, request.to_words(), generation.0);
        Ok(generation)
    }

    /// Writes a request's fields, stamps and checks them for generation `publish`, and
    /// publishes `publish`, with no other checks: what a buggy or hostile device can do with
    /// well-formed descriptors. For tests and the hostile-lane emulation; an honest device uses
    /// [`DeviceQueue::publish`].
    pub fn write_raw(&self, slot: u32, words: [u32; descriptor::WORDS], publish: u32) {
        let mut all = [0u32; descriptor::WRITTEN];
        all[..descriptor::WORDS].copy_from_slice(&words);
        all[descriptor::STAMP] = publish;
        let mut head = [0u32; 9];
        head.copy_from_slice(&all[..9]);
        all[descriptor::CHECK] = descriptor::check(&head);
        self.write_descriptor(slot, all, publish);
    }

    /// Writes all ten descriptor words exactly as given (stamp and check included) and then the
    /// publish word: how a test models a descriptor whose words have not all arrived.
    pub fn write_descriptor(&self, slot: u32, words: [u32; descriptor::WRITTEN], publish: u32) {
        if slot >= self.layout.slot_count() {
            return;
        }
        for (w, v) in words.into_iter().enumerate() {
            self.requests
                .store(self.layout.descriptor_word(slot, w), v, Ordering::Relaxed);
        }
        // Release: the descriptor is visible to a host that acquires this publish word (where
        // the platform keeps that promise for device writes; the stamp and check cover it where
        // it does not).
        self.requests
            .store(self.layout.publish_word(slot), publish, Ordering::Release);
    }

    /// Publishes a WRITE with [`FLAG_DATA_CHECK`](crate::request::FLAG_DATA_CHECK): `data` is
    /// what the device put in the window, and its check goes into descriptor word 10.
    pub fn publish_checked_write(
        &self,
        slot: u32,
        request: &Request,
        data: &[u8],
    ) -> Result<Generation, DeviceError> {
        self.publish_with_data_check(slot, request, descriptor::data_check(data))
    }

    /// As [`DeviceQueue::publish_checked_write`], with the data check already computed
    /// (`descriptor::data_check` of the bytes).
    pub fn publish_with_data_check(
        &self,
        slot: u32,
        request: &Request,
        check: u32,
    ) -> Result<Generation, DeviceError> {
        if !self.is_idle(slot)? {
            return Err(DeviceError::Busy(slot));
        }
        self.requests.store(
            self.layout.descriptor_word(slot, descriptor::DATA_CHECK),
            check,
            Ordering::Relaxed,
        );
        let r = Request {
            op_word: request.op_word | crate::request::FLAG_DATA_CHECK,
            ..*request
        };
        self.publish(slot, &r)
    }

    /// Writes only the publish word (a descriptor still on its way, for tests).
    pub fn write_publish_word(&self, slot: u32, publish: u32) {
        if slot < self.layout.slot_count() {
            self.requests
                .store(self.layout.publish_word(slot), publish, Ordering::Release);
        }
    }

    /// Polls generation `generation` of `slot` once.
    pub fn poll(&self, slot: u32, generation: Generation) -> Result<Poll, DeviceError> {
        self.check(slot)?;
        // Result and generation in one load: the result read is the one written with the
        // generation (the host stores the pair at once).
        let (result, done) = self.entry(slot, Ordering::Acquire);
        if done == generation.0 {
            return Ok(Poll::Done(result as i32));
        }
        let (state, error) = self.pump_state();
        match state {
            Some(s) if s.is_terminal() => {
                // The host writes every completion before STOPPED: look once more.
                let (result, done) = self.entry(slot, Ordering::Acquire);
                if done == generation.0 {
                    Ok(Poll::Done(result as i32))
                } else {
                    Ok(Poll::PumpGone { state: s, error })
                }
            }
            _ => Ok(Poll::Pending),
        }
    }

    /// Polls up to `budget` times; `Timeout` (as a result code) if still pending.
    pub fn wait(&self, slot: u32, generation: Generation, budget: u64) -> Result<i32, DeviceError> {
        for _ in 0..budget {
            match self.poll(slot, generation)? {
                Poll::Done(r) => return Ok(r),
                Poll::PumpGone { .. } => return Ok(ResultCode::PumpGone.value()),
                Poll::Pending => core::hint::spin_loop(),
            }
        }
        Ok(ResultCode::Timeout.value())
    }

    /// The completion entry of `slot`: (result word, generation), loaded together.
    fn entry(&self, slot: u32, order: Ordering) -> (u32, u32) {
        self.completions
            .load_pair(self.layout.result_word(slot), order)
    }

    /// The pump state word (decoded; `None` if it holds an unknown value) and the error word.
    #[must_use]
    pub fn pump_state(&self) -> (Option<PumpState>, i32) {
        let state = self
            .completions
            .load(completion_header::PUMP_STATE, Ordering::Acquire);
        let error = self
            .completions
            .load(completion_header::PUMP_ERROR, Ordering::Relaxed) as i32;
        (PumpState::from_code(state), error)
    }
}
