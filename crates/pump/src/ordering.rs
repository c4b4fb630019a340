//! FENCE and FSYNC ordering within one queue, in O(1) per request.
//!
//! Requests are grouped into epochs: every IO request claimed joins the open epoch; a FENCE or
//! FSYNC *closes* it and opens the next. A closer is released when every request of its epoch
//! and of all earlier epochs has completed, in order. A released FENCE completes; a released
//! FSYNC is submitted and counts as outstanding in the epoch after it, so a later FENCE also
//! waits for the fsync.

use std::collections::VecDeque;

use gdio_protocol::Generation;

/// A request that waits for earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closer {
    Fence {
        slot: u32,
        generation: Generation,
    },
    Fsync {
        slot: u32,
        generation: Generation,
        file: u32,
        datasync: bool,
    },
}

#[derive(Debug, Default)]
struct Epoch {
    outstanding: u32,
    closer: Option<Closer>,
}

#[derive(Debug)]
pub(crate) struct Epochs {
    base: u64,
    open: VecDeque<Epoch>,
}

impl Default for Epochs {
    fn default() -> Self {
        let mut open = VecDeque::with_capacity(16);
        open.push_back(Epoch::default());
        Epochs { base: 0, open }
    }
}

impl Epochs {
    /// A request joins the open (newest) epoch; returns its epoch number.
    pub(crate) fn track(&mut self) -> u64 {
        self.open
            .back_mut()
            .expect("always one open epoch")
            .outstanding += 1;
        self.base + self.open.len() as u64 - 1
    }

    /// A request that must also hold back later closers joins the oldest epoch (a released
    /// FSYNC in flight).
    pub(crate) fn track_oldest(&mut self) -> u64 {
        self.open
            .front_mut()
            .expect("always one open epoch")
            .outstanding += 1;
        self.base
    }

    /// A tracked request finished.
    pub(crate) fn done(&mut self, epoch: u64) {
        if let Some(e) = epoch
            .checked_sub(self.base)
            .and_then(|i| self.open.get_mut(i as usize))
        {
            e.outstanding = e.outstanding.saturating_sub(1);
        }
    }

    /// Closes the open epoch with `closer` and opens a new one.
    pub(crate) fn close(&mut self, closer: Closer) {
        self.open.back_mut().expect("always one open epoch").closer = Some(closer);
        self.open.push_back(Epoch::default());
    }

    /// The next closer whose earlier requests have all completed, if any.
    pub(crate) fn pop_released(&mut self) -> Option<Closer> {
        let front = self.open.front()?;
        if front.outstanding != 0 || front.closer.is_none() || self.open.len() < 2 {
            return None;
        }
        let closer = self.open.pop_front().and_then(|e| e.closer);
        self.base += 1;
        closer
    }

    /// Takes every closer still waiting (used at stop, after the ring is drained).
    pub(crate) fn take_all(&mut self) -> Vec<Closer> {
        let out = self
            .open
            .iter_mut()
            .filter_map(|e| e.closer.take())
            .collect();
        *self = Epochs {
            base: self.base + self.open.len() as u64,
            ..Epochs::default()
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(slot: u32) -> Closer {
        Closer::Fence {
            slot,
            generation: Generation(1),
        }
    }

    #[test]
    fn a_fence_waits_for_earlier_requests_only() {
        let mut e = Epochs::default();
        let a = e.track();
        let b = e.track();
        e.close(fence(9));
        let c = e.track(); // after the fence: does not hold it
        assert_eq!(e.pop_released(), None);
        e.done(a);
        assert_eq!(e.pop_released(), None);
        e.done(b);
        assert_eq!(e.pop_released(), Some(fence(9)));
        assert_eq!(e.pop_released(), None);
        e.done(c);
    }

    #[test]
    fn fences_release_in_order_and_a_fence_with_nothing_before_is_free() {
        let mut e = Epochs::default();
        e.close(fence(1));
        let x = e.track();
        e.close(fence(2));
        e.close(fence(3));
        assert_eq!(e.pop_released(), Some(fence(1)));
        assert_eq!(e.pop_released(), None, "fence 2 waits for x");
        e.done(x);
        assert_eq!(e.pop_released(), Some(fence(2)));
        assert_eq!(e.pop_released(), Some(fence(3)));
    }

    #[test]
    fn a_released_fsync_holds_later_fences() {
        let mut e = Epochs::default();
        let w = e.track();
        e.close(Closer::Fsync {
            slot: 1,
            generation: Generation(1),
            file: 0,
            datasync: false,
        });
        e.close(fence(2));
        e.done(w);
        assert!(matches!(e.pop_released(), Some(Closer::Fsync { .. })));
        let f = e.track_oldest();
        assert_eq!(e.pop_released(), None, "the fence waits for the fsync");
        e.done(f);
        assert_eq!(e.pop_released(), Some(fence(2)));
    }

    #[test]
    fn take_all_returns_waiting_closers() {
        let mut e = Epochs::default();
        e.track();
        e.close(fence(1));
        e.close(fence(2));
        assert_eq!(e.take_all(), vec![fence(1), fence(2)]);
        assert_eq!(e.pop_released(), None);
    }
}
