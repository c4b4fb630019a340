//! Loom models of the page cache's orderings (`gdio_protocol::cache`, docs/cache.md): lanes on
//! threads step their requests over one `CacheWords`, a filler's READ writes the page's words
//! (relaxed, as the pump's writes arrive) and finishes on its second poll. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gdio-protocol --test cache_loom --release`
//! (`cargo xtask test` does).
//!
//! Every model also keeps, per slot, a plain cell (`loom::cell::UnsafeCell`) naming the page
//! its bytes are: a READ writes it when it starts, a lane reads it before and after it reads the
//! page. Loom fails any access to it that no happens-before order separates from a write, so a
//! refill that is not ordered after a holder's reads (release on unpin, acquire on the victim's
//! compare-and-swap) or a read not ordered after the fill (release on FILLING → VALID, acquire
//! on the pin and on the wait) is caught even where no stale value could be observed.
#![cfg(loom)]

use gdio_protocol::cache::{
    CacheLayout, CacheRequest, CacheView, CacheWords, Counter, IoPoll, Phase,
};
use gdio_protocol::sync::{AtomicU32, Ordering};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// Data words per page the models write and check (of a 4 KiB page).
const DATA: usize = 2;
/// What a failed READ returns (-EIO).
const EIO: i32 = -5;

struct Shared {
    words: CacheWords,
    /// Per slot, its first `DATA` words (written relaxed by READs).
    pages: Box<[AtomicU32]>,
    /// Per slot: the page its bytes are, as plain memory.
    marks: Box<[UnsafeCell<u32>]>,
}

impl Shared {
    /// An empty cache of one set of `ways` ways.
    fn new(ways: u32) -> Arc<Shared> {
        let layout = CacheLayout::new(u64::from(ways) * 4096, 4096, ways).unwrap();
        assert_eq!((layout.sets, layout.ways), (1, ways));
        let slots = layout.slots() as usize;
        Arc::new(Shared {
            words: CacheWords::new(&layout),
            pages: (0..slots * DATA).map(|_| AtomicU32::new(0)).collect(),
            marks: (0..slots).map(|_| UnsafeCell::new(u32::MAX)).collect(),
        })
    }

    fn view(&self) -> CacheView<'_> {
        CacheView::new(&self.words).unwrap()
    }

    /// The READ of `page` into `slot`: mark, then the data words.
    fn start_read(&self, slot: u32) {
        // The READ owns the slot from here: no lane may still read it.
        self.marks[slot as usize].with_mut(|m| {
            // SAFETY: loom checks that no other access to the cell is concurrent with this one.
            unsafe { *m = u32::MAX - 1 };
        });
    }

    fn finish_read(&self, slot: u32, page: u32) {
        for i in 0..DATA {
            self.pages[slot as usize * DATA + i].store(word(page, i), Ordering::Relaxed);
        }
        self.marks[slot as usize].with_mut(|m| {
            // SAFETY: as in `start_read`.
            unsafe { *m = page };
        });
    }

    fn mark(&self, slot: u32) -> u32 {
        self.marks[slot as usize].with(|m| {
            // SAFETY: loom checks that no write to the cell is concurrent with this read.
            unsafe { *m }
        })
    }

    /// A lane that holds `slot` reads it: every word is page `page`'s.
    fn check(&self, slot: u32, page: u32) {
        assert_eq!(self.mark(slot), page, "slot {slot} holds page {page}");
        for i in 0..DATA {
            assert_eq!(
                self.pages[slot as usize * DATA + i].load(Ordering::Relaxed),
                word(page, i),
                "word {i} of page {page}"
            );
        }
        assert_eq!(self.mark(slot), page, "slot {slot} still holds page {page}");
    }
}

fn word(page: u32, i: usize) -> u32 {
    (page + 1) * 0x100 + i as u32
}

/// Lane `lane` asks `page` of file 0 and steps until done, yielding between steps; a READ it
/// makes finishes on its second poll with 4096 bytes, or with EIO when `fail`. Returns the
/// result and whether this lane READ.
fn ask(shared: &Shared, lane: usize, page: u32, fail: bool) -> (i32, bool) {
    let view = shared.view();
    let mut req = CacheRequest::new(0, page);
    let mut read = false;
    loop {
        let before = req.phase;
        let done = view.step(&mut req, lane, |slot, _, p, started| {
            assert_eq!(p, page);
            if !started {
                assert!(!read, "one READ per request");
                read = true;
                shared.start_read(slot);
                IoPoll::Pending
            } else if fail {
                IoPoll::Done(EIO)
            } else {
                shared.finish_read(slot, p);
                IoPoll::Done(4096)
            }
        });
        if done {
            return (req.result, read);
        }
        // Yield only where the lane waits for another (a waiter, a lock or a victim it did
        // not get): a yield elsewhere would hand loom a schedule and hide the others (a
        // filler that yielded between its polls would never be seen finishing first).
        if req.phase == before && matches!(req.phase, Phase::Wait | Phase::Miss) {
            thread::yield_now();
        }
    }
}

/// Two lanes ask one page of an empty cache of one set (one way, then two): exactly one READ,
/// and each lane reads the page's words in full (the release on FILLING → VALID against the
/// acquire of a hit's pin or a waiter's load; the lock's acquire, so that the second look under
/// it sees the other lane's claim).
#[test]
fn two_lanes_one_page_one_read_every_word_seen() {
    for ways in [1, 2] {
        one_page_two_lanes(ways);
    }
}

fn one_page_two_lanes(ways: u32) {
    loom::model(move || {
        let shared = Shared::new(ways);
        let other = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (r, read) = ask(&shared, 1, 7, false);
                assert!(r >= 0);
                shared.check(r as u32, 7);
                shared.view().release(r as u32);
                read
            })
        };
        let (r, read) = ask(&shared, 0, 7, false);
        assert!(r >= 0);
        shared.check(r as u32, 7);
        shared.view().release(r as u32);
        let other_read = other.join().unwrap();
        assert_eq!(u32::from(read) + u32::from(other_read), 1, "one READ");
        let w = &shared.words;
        assert_eq!(w.counter(Counter::Reads), 1);
        assert_eq!(w.counter(Counter::Misses), 1);
        assert_eq!(w.counter(Counter::Hits) + w.counter(Counter::Coalesced), 1);
    });
}

/// A lane holds page A in a one-way cache and reads it while another lane asks page B: B's
/// READ (which must evict A) starts only after the first lane's reads (the release on unpin
/// against the acquire of the victim's compare-and-swap), and the first lane reads only A.
#[test]
fn a_refill_waits_for_the_holder_to_release() {
    loom::model(|| {
        let shared = Shared::new(1);
        // Page A cached and pinned before the lanes run in parallel.
        let (a, read) = ask(&shared, 0, 1, false);
        assert!(a >= 0 && read);
        let holder = {
            let shared = shared.clone();
            thread::spawn(move || {
                shared.check(a as u32, 1);
                shared.view().release(a as u32);
            })
        };
        let (b, read) = ask(&shared, 1, 2, false);
        assert!(b >= 0 && read);
        assert_eq!(b, a, "one way: B took A's slot");
        shared.check(b as u32, 2);
        shared.view().release(b as u32);
        holder.join().unwrap();
        assert_eq!(shared.words.counter(Counter::Evictions), 1);
        assert_eq!(shared.words.counter(Counter::Reads), 2);
    });
}

/// Lane 0's READs fail, lane 1's succeed, both ask one page of a one-way cache: a lane gets
/// EIO only from lane 0's READ (its own or the one it waited for), otherwise the page in full;
/// a lane that looked while lane 0's READ was in flight and pinned after it failed undoes its
/// pin and READs again; no pin is left.
#[test]
fn a_failed_read_and_a_concurrent_ask() {
    loom::model(|| {
        let shared = Shared::new(1);
        let other = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (r, read) = ask(&shared, 1, 3, false);
                if r >= 0 {
                    shared.check(r as u32, 3);
                    shared.view().release(r as u32);
                } else {
                    assert_eq!(r, EIO);
                    assert!(!read, "lane 1's READs succeed");
                }
                read
            })
        };
        let (r, read0) = ask(&shared, 0, 3, true);
        if r >= 0 {
            assert!(!read0, "lane 0's READs fail");
            shared.check(r as u32, 3);
            shared.view().release(r as u32);
        } else {
            assert_eq!(r, EIO);
        }
        let read1 = other.join().unwrap();
        let w = &shared.words;
        let reads = u64::from(read0) + u64::from(read1);
        assert!(reads >= 1);
        assert_eq!(w.counter(Counter::Reads), reads);
        assert_eq!(w.counter(Counter::Misses), reads);
        assert_eq!(w.counter(Counter::Failed), u64::from(read0));
        assert_eq!(
            w.counter(Counter::Hits) + w.counter(Counter::Coalesced) + reads,
            2,
            "each request counts once"
        );
        assert_eq!(
            w.slots[0].load(Ordering::Relaxed) & 0xF_FFFF,
            0,
            "no pin is left"
        );
    });
}
