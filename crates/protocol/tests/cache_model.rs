//! Property tests of the page cache's state machine (`gdio_protocol::cache`, docs/cache.md):
//! lanes step their requests in a random interleaving (no threads) over one `CacheWords`, a
//! model host serves the fillers' READs into a model page store, and every step is checked.
//!
//! What holds, whatever the interleaving:
//! - a request that gets a slot sees exactly its page's bytes (and its length), and they stay
//!   intact until it releases the slot;
//! - one READ per page at a time: a READ starts only when no slot holds its page live
//!   (FILLING or VALID) but the one it fills; N lanes asking one page of an empty cache cause
//!   one READ;
//! - no slot is refilled while a lane holds a pin on it or waits on it; a slot word's pin count
//!   is always the number of lanes holding it;
//! - a failed READ reaches every waiter with its code and leaves the page uncached (a later
//!   request READs again); a READ of no bytes is PAST_END;
//! - every lane finishes within a bounded number of steps;
//! - the counters: Hits + Coalesced + Misses = requests (each request counts exactly one of
//!   them, whether it pinned its slot without the lock or under it); Reads = Misses = READs
//!   started; Failed = READs that failed; Evictions = fills of a slot that held a VALID page.
//!
//! And for hostile words: a header that is not the words' own cache is refused by
//! `CacheView::new`; slot words holding states no cache writes never make a step panic or a
//! request return another page's bytes.
#![cfg(not(loom))]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use gdio_protocol::cache::{
    header, set_of, tag, CacheLayout, CacheRequest, CacheView, CacheWords, Counter, IoPoll, Phase,
    SlotState, SlotWord, HEADER_WORDS, MAX_FILES,
};
use gdio_protocol::ResultCode;
use proptest::prelude::*;

const PAGE: u64 = 4096;
const PAGE_WORDS: usize = (PAGE / 4) as usize;
/// What a failed READ returns (-EIO).
const EIO: i32 = -5;

/// Word `i` of page `page` of file `file`: different for every (file, page, word) the tests
/// use, and never the poison a fill starts with (files < 15).
fn content(file: u32, page: u32, i: usize) -> u32 {
    (file << 28) | ((page & 0xFFFF) << 12) | i as u32
}

/// What a READ writes first, and what a failed READ leaves: no page's bytes.
fn poison(fill: usize, i: usize) -> u32 {
    0xF000_0000 | ((fill as u32 & 0xFFFF) << 12) | i as u32
}

/// The model host's files: their ends, which pages fail, how long READs take.
#[derive(Debug, Clone)]
struct Files {
    /// Bytes per file (a multiple of 4).
    end: Vec<u64>,
    /// Pages whose READs fail with EIO: every attempt, or (flaky) every other one, the first
    /// failing.
    bad: HashSet<(u32, u32)>,
    flaky: bool,
    /// Pending polls of a READ: 0..=max_delay, drawn from `seed`.
    max_delay: u32,
    seed: u64,
}

impl Files {
    /// The bytes a successful READ of the page returns (0: past the end).
    fn len(&self, file: u32, page: u32) -> u64 {
        let end = self.end[file as usize];
        let at = u64::from(page) * PAGE;
        if at >= end {
            0
        } else {
            (end - at).min(PAGE)
        }
    }

    fn delay(&mut self) -> u32 {
        // xorshift64
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        if self.max_delay == 0 {
            0
        } else {
            (self.seed % u64::from(self.max_delay + 1)) as u32
        }
    }
}

/// One fill: a lane that claimed a slot for a page, and its READ.
#[derive(Debug, Clone)]
struct Fill {
    lane: usize,
    slot: u32,
    file: u32,
    page: u32,
    started: bool,
    /// Pending polls before the READ is done, and those still to come.
    delay: u32,
    polls_left: u32,
    /// What the READ returned, once it did.
    io: Option<i32>,
    /// The filler's result (the slot or the code), once it has one.
    outcome: Option<i32>,
}

#[derive(Debug, Clone, Default)]
struct Lane {
    asks: Vec<(u32, u32)>,
    next: usize,
    req: Option<CacheRequest>,
    /// The fill this lane's request makes, if it missed.
    fill: Option<usize>,
    /// The fill this lane's request waits for, if it coalesced.
    waits_on: Option<usize>,
    /// A finished request's slot, pinned until the lane's next step releases it.
    holding: Option<(u32, u32, u32)>,
    /// Steps taken by the request in progress.
    req_steps: u64,
    /// The lane gave up on its current request (its set never had a free way).
    stuck: bool,
}

impl Lane {
    fn finished(&self) -> bool {
        self.stuck || (self.next == self.asks.len() && self.holding.is_none())
    }

    /// The slot this lane holds a pin on (filling, waiting, or holding a finished request).
    fn held(&self) -> Option<u32> {
        if let Some((s, _, _)) = self.holding {
            return Some(s);
        }
        match self.req {
            Some(r) if matches!(r.phase, Phase::Fill | Phase::Reading | Phase::Wait) => {
                Some(r.slot)
            }
            _ => None,
        }
    }
}

/// What the test saw requests do, to compare with the cache's counters.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    requests: u64,
    hits: u64,
    coalesced: u64,
    misses: u64,
    failed: u64,
    evictions: u64,
    io_starts: u64,
    bad_file: u64,
}

/// The cache, its pages, the lanes and the model host.
struct World {
    layout: CacheLayout,
    words: CacheWords,
    pages: Vec<Vec<u32>>,
    lanes: Vec<Lane>,
    fills: Vec<Fill>,
    files: Files,
    /// Attempts per page so far (flaky pages fail on even attempts).
    attempts: HashMap<(u32, u32), u32>,
    /// Per slot: the page it holds VALID, as the test knows it.
    valid: Vec<Option<(u32, u32)>>,
    /// Per slot: it still holds the garbage it started with (not checked against the model).
    garbage: Vec<bool>,
    tally: Tally,
    steps: u64,
    /// A request that has not finished after this many of its own steps gives up (the GPU's
    /// `gdio_cache_get` budget; only garbage that pins every way of a set makes one give up).
    budget: u64,
}

impl World {
    fn new(layout: CacheLayout, lanes: Vec<Vec<(u32, u32)>>, files: Files) -> World {
        let slots = layout.slots() as usize;
        World {
            layout,
            words: CacheWords::new(&layout),
            pages: vec![vec![0; PAGE_WORDS]; slots],
            lanes: lanes
                .into_iter()
                .map(|asks| Lane {
                    asks,
                    ..Lane::default()
                })
                .collect(),
            fills: Vec::new(),
            files,
            attempts: HashMap::new(),
            valid: vec![None; slots],
            garbage: vec![false; slots],
            tally: Tally::default(),
            steps: 0,
            budget: u64::MAX,
        }
    }

    fn all_finished(&self) -> bool {
        self.lanes.iter().all(Lane::finished)
    }

    fn slot_word(&self, s: u32) -> SlotWord {
        SlotWord(self.words.slots[s as usize].load(Ordering::Relaxed))
    }

    /// The slot's bytes are page (file, page)'s, as long as its length word says.
    fn check_page(&self, view: &CacheView<'_>, slot: u32, file: u32, page: u32) {
        let len = view.len(slot);
        assert_eq!(
            i64::from(len),
            self.files.len(file, page) as i64,
            "slot {slot}'s length for page {page} of file {file}"
        );
        for i in 0..len as usize / 4 {
            assert_eq!(
                self.pages[slot as usize][i],
                content(file, page, i),
                "word {i} of slot {slot}, holding page {page} of file {file}"
            );
        }
    }

    /// One step of lane `l`: release what it holds, or step its request.
    #[allow(clippy::too_many_lines)]
    fn step_lane(&mut self, l: usize) {
        if self.lanes[l].finished() {
            return;
        }
        self.steps += 1;
        let view = CacheView::new(&self.words).expect("the header stays valid");
        if let Some((slot, file, page)) = self.lanes[l].holding.take() {
            // Still this page: nothing refilled the slot while the lane held it.
            self.check_page(&view, slot, file, page);
            view.release(slot);
            self.lanes[l].next += 1;
            return;
        }
        let (file, page) = self.lanes[l].asks[self.lanes[l].next];
        let mut req = self.lanes[l]
            .req
            .unwrap_or_else(|| CacheRequest::new(file, page));
        let before = req.phase;
        let fill = self.lanes[l].fill;
        let (lanes, fills, pages, files, attempts, words, tally) = (
            &self.lanes,
            &mut self.fills,
            &mut self.pages,
            &mut self.files,
            &mut self.attempts,
            &self.words,
            &mut self.tally,
        );
        view.step(&mut req, l, |slot, f, p, started| {
            assert_eq!((f, p), (file, page), "the READ is for the lane's own page");
            let id = fill.expect("only a lane that claimed a slot READs");
            if !started {
                let fl = &fills[id];
                assert!(!fl.started, "a fill starts its READ once");
                assert_eq!(fl.slot, slot, "the READ goes into the claimed slot");
                // (b) One READ per page in flight, and none while the page is live elsewhere.
                for (j, other) in fills.iter().enumerate() {
                    if j != id && other.started && other.io.is_none() {
                        assert_ne!(
                            (other.file, other.page),
                            (f, p),
                            "a second READ of page {p} of file {f} while one is in flight"
                        );
                    }
                }
                for s in 0..words.slots.len() as u32 {
                    let w = SlotWord(words.slots[s as usize].load(Ordering::Relaxed));
                    let live = matches!(w.state(), Some(SlotState::Valid | SlotState::Filling));
                    if s != slot && live {
                        assert_ne!(
                            w.tag(),
                            tag(f, p),
                            "READ of page {p} of file {f} while slot {s} holds it live"
                        );
                    }
                }
                // (c) The slot's only other holders wait for this READ.
                for (m, other) in lanes.iter().enumerate() {
                    if m != l && other.held() == Some(slot) {
                        assert_eq!(
                            other.waits_on,
                            Some(id),
                            "slot {slot} READ into while lane {m} holds it"
                        );
                    }
                }
                tally.io_starts += 1;
                let delay = files.delay();
                let fl = &mut fills[id];
                fl.started = true;
                fl.delay = delay;
                fl.polls_left = delay;
                for (i, w) in pages[slot as usize].iter_mut().enumerate() {
                    *w = poison(id, i);
                }
            }
            let attempt = *attempts.get(&(f, p)).unwrap_or(&0);
            let fails = files.bad.contains(&(f, p)) && (!files.flaky || attempt % 2 == 0);
            let len = files.len(f, p) as usize;
            let fl = &mut fills[id];
            let page_words = &mut pages[slot as usize][..len / 4];
            // The copy lands piece by piece while the READ is in flight.
            let total = fl.delay as usize + 1;
            let upto = |left: u32| page_words.len() * (total - left as usize) / total;
            if fl.polls_left > 0 {
                if !fails {
                    let (from, to) = (upto(fl.polls_left), upto(fl.polls_left - 1));
                    for (i, w) in page_words.iter_mut().enumerate().take(to).skip(from) {
                        *w = content(f, p, i);
                    }
                }
                fl.polls_left -= 1;
                return IoPoll::Pending;
            }
            let r = if fails {
                EIO
            } else {
                for (i, w) in page_words.iter_mut().enumerate() {
                    *w = content(f, p, i);
                }
                len as i32
            };
            fl.io = Some(r);
            *attempts.entry((f, p)).or_default() += 1;
            IoPoll::Done(r)
        });
        self.lanes[l].req_steps += 1;
        self.after_step(l, before, req);
    }

    /// Bookkeeping and checks after lane `l`'s request stepped from `before` to `req`.
    fn after_step(&mut self, l: usize, before: Phase, req: CacheRequest) {
        let (file, page) = (req.file, req.page);
        match req.phase {
            Phase::Fill => {
                assert_eq!(before, Phase::Miss, "a slot is claimed in the miss step");
                let id = self.fills.len();
                let s = req.slot;
                // (c) No slot is claimed for a refill while a lane holds a pin on it.
                for (m, other) in self.lanes.iter().enumerate() {
                    if m != l {
                        assert_ne!(
                            other.held(),
                            Some(s),
                            "slot {s} claimed while lane {m} holds it"
                        );
                    }
                }
                if let Some(old) = self.valid[s as usize].take() {
                    assert!(old != (file, page), "a VALID page is never claimed again");
                    self.tally.evictions += 1;
                }
                self.garbage[s as usize] = false;
                self.fills.push(Fill {
                    lane: l,
                    slot: s,
                    file,
                    page,
                    started: false,
                    delay: 0,
                    polls_left: 0,
                    io: None,
                    outcome: None,
                });
                self.tally.misses += 1;
                self.lanes[l].fill = Some(id);
                self.lanes[l].req = Some(req);
            }
            Phase::Wait if before != Phase::Wait => {
                let fillers: Vec<usize> = (0..self.fills.len())
                    .filter(|&j| self.fills[j].slot == req.slot && self.fills[j].outcome.is_none())
                    .collect();
                assert_eq!(fillers.len(), 1, "a waiter's slot has one fill in progress");
                let id = fillers[0];
                assert_eq!(
                    (self.fills[id].file, self.fills[id].page),
                    (file, page),
                    "a lane waits only for its own page"
                );
                assert_ne!(self.fills[id].lane, l);
                self.tally.coalesced += 1;
                self.lanes[l].waits_on = Some(id);
                self.lanes[l].req = Some(req);
            }
            Phase::Done => self.finish(l, req),
            _ => {
                if self.lanes[l].req_steps >= self.budget {
                    assert!(
                        self.can_give_up(req),
                        "lane {l} ran out of steps on page {page} of file {file} ({:?})",
                        req.phase
                    );
                    self.lanes[l].stuck = true;
                }
                self.lanes[l].req = Some(req);
            }
        }
    }

    /// Whether a request that never finishes is explained: it misses in a set whose every
    /// way holds garbage pins (no victim ever), as the GPU's budget would report TIMEOUT.
    fn can_give_up(&self, req: CacheRequest) -> bool {
        let set = set_of(req.file, req.page, self.layout.sets);
        req.phase == Phase::Miss
            && (0..self.layout.ways).all(|w| {
                let s = set * self.layout.ways + w;
                self.garbage[s as usize] && self.slot_word(s).pins() != 0
            })
    }

    fn finish(&mut self, l: usize, req: CacheRequest) {
        let (file, page) = (req.file, req.page);
        let lane = &mut self.lanes[l];
        let (fill, waits_on) = (lane.fill.take(), lane.waits_on.take());
        lane.req = None;
        lane.req_steps = 0;
        if file >= MAX_FILES {
            assert_eq!(req.result, ResultCode::BadFile.value());
            assert!(fill.is_none() && waits_on.is_none());
            self.tally.bad_file += 1;
            lane.next += 1;
            return;
        }
        self.tally.requests += 1;
        if let Some(id) = fill {
            let r = self.fills[id]
                .io
                .expect("a filler finishes when its READ does");
            let want = match r {
                r if r > 0 => req.slot as i32,
                0 => ResultCode::PastEnd.value(),
                r => r,
            };
            assert_eq!(req.result, want, "the filler's result follows its READ");
            self.fills[id].outcome = Some(req.result);
            if req.result >= 0 {
                self.valid[req.slot as usize] = Some((file, page));
            } else {
                self.tally.failed += 1;
            }
        } else if let Some(id) = waits_on {
            let outcome = self.fills[id]
                .outcome
                .expect("a waiter finishes after its filler");
            assert_eq!(
                req.result, outcome,
                "a waiter gets its READ's outcome (the slot, or the same code)"
            );
        } else {
            assert!(req.result >= 0, "only a hit finishes without a READ");
            self.tally.hits += 1;
            assert_eq!(
                self.valid[req.result as usize],
                Some((file, page)),
                "a hit finds its page cached"
            );
        }
        let lane = &mut self.lanes[l];
        if req.result >= 0 {
            let slot = req.result as u32;
            assert!(slot < self.layout.slots());
            lane.holding = Some((slot, file, page));
            let view = CacheView::new(&self.words).unwrap();
            self.check_page(&view, slot, file, page);
        } else {
            lane.next += 1;
            let bad = self.files.bad.contains(&(file, page));
            let past = self.files.len(file, page) == 0;
            match req.result {
                EIO => assert!(bad, "EIO only for a bad page"),
                r if r == ResultCode::PastEnd.value() => {
                    assert!(past, "PAST_END only past the end")
                }
                r => panic!("unexpected code {r} for page {page} of file {file}"),
            }
        }
    }

    /// The words agree with what the test knows, between any two steps.
    fn check_words(&self) {
        let mut live: HashMap<u64, u32> = HashMap::new();
        for s in 0..self.layout.slots() {
            if self.garbage[s as usize] {
                continue;
            }
            let w = self.slot_word(s);
            let holders = self.lanes.iter().filter(|l| l.held() == Some(s)).count() as u64;
            assert_eq!(w.pins(), holders, "slot {s}'s pins are its holders");
            let filling = self
                .fills
                .iter()
                .find(|f| f.slot == s && f.outcome.is_none());
            match w.state() {
                Some(SlotState::Filling) => {
                    let f = filling.expect("a FILLING slot has a fill in progress");
                    assert_eq!(w.tag(), tag(f.file, f.page));
                }
                Some(SlotState::Valid) => {
                    assert!(filling.is_none());
                    let (f, p) = self.valid[s as usize].expect("VALID only after a fill");
                    assert_eq!(w.tag(), tag(f, p));
                }
                Some(SlotState::Empty | SlotState::Failed) => {
                    assert!(filling.is_none() && self.valid[s as usize].is_none());
                }
                None => panic!("slot {s} holds state {}", w.state_code()),
            }
            if matches!(w.state(), Some(SlotState::Valid | SlotState::Filling)) {
                if let Some(other) = live.insert(w.tag(), s) {
                    panic!("slots {other} and {s} both hold tag {:#x} live", w.tag());
                }
            }
        }
        for set in self.words.sets.iter() {
            assert_eq!(
                set.load(Ordering::Relaxed) & 1,
                0,
                "no lock is held between steps"
            );
        }
    }

    /// Steps lanes as `schedule` says, then round-robin until all are done; checks the words
    /// after every step. Fails when the lanes take more than `limit` steps.
    fn run(&mut self, schedule: &[u8], limit: u64) {
        let k = self.lanes.len();
        for &x in schedule {
            self.step_lane(usize::from(x) % k);
            self.check_words();
        }
        while !self.all_finished() {
            for l in 0..k {
                self.step_lane(l);
                self.check_words();
            }
            assert!(
                self.steps <= limit,
                "livelock: {} steps, lanes {:?}",
                self.steps,
                self.lanes
                    .iter()
                    .map(|l| (l.next, l.req))
                    .collect::<Vec<_>>()
            );
        }
    }

    fn counter(&self, c: Counter) -> u64 {
        self.words.counter(c)
    }

    /// The counters are exactly what the test saw.
    fn check_counters(&self) {
        let t = self.tally;
        assert_eq!(self.counter(Counter::Hits), t.hits);
        assert_eq!(self.counter(Counter::Coalesced), t.coalesced);
        assert_eq!(self.counter(Counter::Misses), t.misses);
        assert_eq!(self.counter(Counter::Reads), t.io_starts);
        assert_eq!(t.misses, self.fills.len() as u64);
        assert_eq!(t.io_starts, t.misses, "every miss READs once");
        assert_eq!(self.counter(Counter::Failed), t.failed);
        assert_eq!(self.counter(Counter::Evictions), t.evictions);
        assert_eq!(
            self.counter(Counter::Hits)
                + self.counter(Counter::Coalesced)
                + self.counter(Counter::Misses),
            t.requests,
            "each request counts once"
        );
    }

    /// Every lane finished every ask, and no pin is left.
    fn check_end(&self) {
        for (l, lane) in self.lanes.iter().enumerate() {
            assert!(
                lane.stuck || lane.next == lane.asks.len(),
                "lane {l} did not finish"
            );
        }
        for s in 0..self.layout.slots() {
            if !self.garbage[s as usize] {
                assert_eq!(self.slot_word(s).pins(), 0, "slot {s} keeps a pin");
            }
        }
    }

    fn steps_limit(&self) -> u64 {
        let asks: usize = self.lanes.iter().map(|l| l.asks.len()).sum();
        let k = self.lanes.len() as u64;
        1000 + 8 * k * (asks as u64 + 1) * (u64::from(self.files.max_delay) + 8)
    }
}

fn layout(sets: u32, ways: u32) -> CacheLayout {
    let l = CacheLayout::new(u64::from(sets * ways) * PAGE, PAGE, ways).unwrap();
    assert_eq!((l.sets, l.ways), (sets, ways));
    l
}

fn files(n: usize, pages: u64) -> Files {
    Files {
        end: vec![pages * PAGE; n],
        bad: HashSet::new(),
        flaky: false,
        max_delay: 0,
        seed: 1,
    }
}

/// An ask: mostly pages of files 0..3 below 12 (past some files' ends), sometimes a file
/// index no tag holds.
fn ask() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        30 => (0u32..3, 0u32..12),
        1 => (MAX_FILES..MAX_FILES + 10, 0u32..4),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The whole contract over random interleavings, sizes, failures and file ends.
    #[test]
    fn interleaved_lanes_keep_the_contract(
        sets in 1u32..=4,
        ways in 1u32..=4,
        lanes in prop::collection::vec(prop::collection::vec(ask(), 1..12), 2..=8),
        ends in prop::collection::vec(0u64..12 * 1024, 3),
        bad in prop::collection::hash_set((0u32..3, 0u32..12), 0..6),
        flaky in any::<bool>(),
        max_delay in 0u32..4,
        seed in 1u64..u64::MAX,
        schedule in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let layout = layout(sets, ways);
        let files = Files {
            // File ends in words: last pages may be short, some files are empty.
            end: ends.iter().map(|w| w * 4).collect(),
            bad,
            flaky,
            max_delay,
            seed,
        };
        let mut w = World::new(layout, lanes, files);
        let limit = w.steps_limit();
        w.run(&schedule, limit);
        w.check_end();
        w.check_counters();
    }

    /// N lanes asking one page of an empty cache, in any interleaving: one READ; every other
    /// request is a hit or a coalesced wait.
    #[test]
    fn one_page_many_lanes_one_read(
        sets in 1u32..=4,
        ways in 1u32..=4,
        k in 2usize..=64,
        max_delay in 0u32..6,
        seed in 1u64..u64::MAX,
        schedule in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut f = files(1, 1);
        f.max_delay = max_delay;
        f.seed = seed;
        let mut w = World::new(layout(sets, ways), vec![vec![(0, 0)]; k], f);
        let limit = w.steps_limit();
        w.run(&schedule, limit);
        w.check_end();
        w.check_counters();
        prop_assert_eq!(w.counter(Counter::Reads), 1);
        prop_assert_eq!(w.counter(Counter::Misses), 1);
        prop_assert_eq!(
            w.counter(Counter::Hits) + w.counter(Counter::Coalesced),
            k as u64 - 1
        );
    }

    /// Slot words start as garbage with states no cache writes (any tag, any pins): no step
    /// panics, every request gets its page's bytes or its READ's code, and the only requests
    /// that never finish are those whose set has every way garbage-pinned (TIMEOUT on the GPU).
    #[test]
    fn garbage_slot_states_cost_only_their_ways(
        sets in 1u32..=4,
        ways in 1u32..=4,
        junk in prop::collection::vec((4u64..8, any::<u64>(), 0u64..3, any::<bool>()), 16),
        lanes in prop::collection::vec(prop::collection::vec((0u32..2, 0u32..10), 1..10), 2..=6),
        max_delay in 0u32..3,
        seed in 1u64..u64::MAX,
        schedule in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let layout = layout(sets, ways);
        let mut f = files(2, 8);
        f.max_delay = max_delay;
        f.seed = seed;
        f.bad.insert((1, 3));
        let mut w = World::new(layout, lanes, f);
        // Longer than any stretch the schedule can step one lane alone.
        w.budget = schedule.len() as u64 + 2000;
        for (s, &(state, tagbits, pins, is_junk)) in
            junk.iter().enumerate().take(layout.slots() as usize)
        {
            if is_junk {
                let word = (tagbits << 24) | (state << 20) | pins;
                w.words.slots[s].store(word, Ordering::Relaxed);
                w.words.aux[2 * s].store(tagbits as u32, Ordering::Relaxed);
                w.words.aux[2 * s + 1].store((tagbits >> 32) as u32, Ordering::Relaxed);
                w.garbage[s] = true;
            }
        }
        let limit = w.steps_limit() + w.budget * w.lanes.len() as u64 * 12;
        w.run(&schedule, limit);
        w.check_end();
        w.check_counters();
    }

    /// Any header word changed: `CacheView::new` refuses the words unless the header still
    /// describes them (and never panics), and
    /// `CacheLayout::from_header` accepts only a layout that fits the sizes it is given.
    #[test]
    fn garbage_header_words_are_refused(
        sets in 1u32..=8,
        ways in 1u32..=16,
        changes in prop::collection::vec((0usize..HEADER_WORDS, any::<u32>(), 0u32..4), 1..4),
        meta_words in any::<usize>(),
        pages_bytes in any::<u64>(),
    ) {
        let layout = layout(sets, ways);
        let words = CacheWords::new(&layout);
        prop_assert!(CacheView::new(&words).is_some());
        let good = layout.header_words();
        let mut h = good;
        for &(i, v, kind) in &changes {
            // Small values near the limits as often as any value.
            h[i] = match kind {
                0 => v,
                1 => v % 70,
                2 => good[i] ^ (1 << (v % 32)),
                _ => u32::MAX - v % 4,
            };
            words.header[i].store(h[i], Ordering::Relaxed);
        }
        // The words hold no pages, so another page size is still a header of these words.
        let shift = h[header::PAGE_SHIFT];
        let same = (12..=16).contains(&shift)
            && h == CacheLayout { page_shift: shift, ..layout }.header_words();
        prop_assert_eq!(CacheView::new(&words).is_some(), same);
        if let Some(l) = CacheLayout::from_header(&h, meta_words, pages_bytes) {
            prop_assert!(l.total_words() <= meta_words && l.pages_bytes() <= pages_bytes);
        }
    }
}

/// Header words that would overflow the layout's arithmetic (a page shift of 64, ways or sets
/// near 2^32) are refused, not a panic.
#[test]
fn overflowing_header_words_are_refused() {
    let layout = layout(2, 4);
    for (i, v) in [
        (header::PAGE_SHIFT, 64),
        (header::PAGE_SHIFT, 200),
        (header::PAGE_SHIFT, u32::MAX),
        (header::WAYS, u32::MAX),
        (header::WAYS, 1 << 31),
        (header::SETS, u32::MAX),
        (header::SLOTS, u32::MAX),
        (header::TOTAL_WORDS, 0),
        (header::MAGIC, 0),
        (header::VERSION, 2),
        (15, 1),
    ] {
        let words = CacheWords::new(&layout);
        words.header[i].store(v, Ordering::Relaxed);
        assert!(
            CacheView::new(&words).is_none(),
            "header word {i} = {v} accepted"
        );
    }
}

/// Words whose arrays do not match their header's cache are refused, so that no step indexes
/// past them.
#[test]
fn words_of_another_size_are_refused() {
    let layout = layout(2, 4);
    let mut words = CacheWords::new(&layout);
    words.aux = CacheWords::new(&self::layout(1, 4)).aux;
    assert!(CacheView::new(&words).is_none(), "too few aux words");
    let mut words = CacheWords::new(&layout);
    words.counters = (0..8).map(|_| AtomicU64::new(0)).collect();
    assert!(CacheView::new(&words).is_none(), "too few counters");
}

/// 1,024 lanes ask one page of an empty cache and all step before the READ completes: one
/// READ, 1,023 coalesced waits, every lane sees every byte.
#[test]
fn a_thousand_lanes_one_page_one_read() {
    let mut f = files(1, 1);
    f.max_delay = 0;
    let mut w = World::new(layout(1, 1), vec![vec![(0, 0)]; 1024], f);
    // Every lane looks, then every lane takes the lock or pins: the first claims the slot, the
    // others find it FILLING.
    for _ in 0..2 {
        for l in 0..1024 {
            w.step_lane(l);
        }
    }
    w.check_words();
    assert_eq!(w.slot_word(0).pins(), 1024);
    let limit = w.steps_limit();
    w.run(&[], limit);
    w.check_end();
    w.check_counters();
    assert_eq!(w.counter(Counter::Reads), 1);
    assert_eq!(w.counter(Counter::Coalesced), 1023);
    assert_eq!(w.counter(Counter::Hits), 0);
}

/// The same with READs that take a while and lanes that arrive in turns: still one READ; the
/// late lanes hit.
#[test]
fn a_thousand_lanes_one_page_some_late() {
    let mut f = files(1, 1);
    f.max_delay = 5;
    let mut w = World::new(layout(2, 2), vec![vec![(0, 0)]; 1024], f);
    let schedule: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
    let limit = w.steps_limit();
    w.run(&schedule, limit);
    w.check_end();
    w.check_counters();
    assert_eq!(w.counter(Counter::Reads), 1);
    assert_eq!(
        w.counter(Counter::Coalesced) + w.counter(Counter::Hits),
        1023
    );
    assert!(w.counter(Counter::Hits) > 0);
}

/// Eight lanes stream over more pages than the cache holds: evictions, every byte checked.
#[test]
fn eviction_under_pressure_keeps_every_byte() {
    let asks = |l: u32| (0..64).map(|i| (l % 2, (i * 7 + l * 3) % 40)).collect();
    let mut f = files(2, 40);
    f.end[1] = 39 * PAGE + 100; // a short last page
    f.max_delay = 3;
    f.seed = 99;
    let mut w = World::new(layout(2, 2), (0..8).map(asks).collect(), f);
    let schedule: Vec<u8> = (0..3000u32).map(|i| (i * i % 13) as u8).collect();
    let limit = w.steps_limit();
    w.run(&schedule, limit);
    w.check_end();
    w.check_counters();
    assert!(w.counter(Counter::Evictions) > 50);
    assert!(w.counter(Counter::Reads) > 100);
    assert!(w.counter(Counter::Hits) > 0);
}

/// A failed READ: every waiter gets its code, the page stays uncached, and the next request
/// READs it again (and this time gets it).
#[test]
fn a_failed_read_reaches_every_waiter_and_is_not_cached() {
    let mut f = files(1, 4);
    f.bad.insert((0, 2));
    f.flaky = true; // the first READ fails, the second succeeds
    f.max_delay = 0;
    let mut w = World::new(layout(1, 2), vec![vec![(0, 2)]; 4], f);
    // All four pin before the READ's first poll.
    for _ in 0..2 {
        for l in 0..4 {
            w.step_lane(l);
        }
    }
    w.run(&[], 10_000);
    assert_eq!(w.counter(Counter::Reads), 1);
    assert_eq!(w.counter(Counter::Failed), 1);
    assert_eq!(w.counter(Counter::Coalesced), 3);
    let slot = w.fills[0].slot;
    assert_eq!(w.slot_word(slot).state(), Some(SlotState::Failed));
    assert_eq!(w.slot_word(slot).pins(), 0);
    // A later request: a new READ, not the failure again.
    w.lanes.push(Lane {
        asks: vec![(0, 2)],
        ..Lane::default()
    });
    w.run(&[], 10_000);
    w.check_end();
    w.check_counters();
    assert_eq!(w.counter(Counter::Reads), 2);
    assert_eq!(w.counter(Counter::Failed), 1);
}

/// A READ of no bytes (the page starts at or past the file's end) is PAST_END for every
/// waiter, and not cached.
#[test]
fn past_the_end_is_past_end_for_every_waiter() {
    let f = files(1, 2);
    let mut w = World::new(layout(1, 1), vec![vec![(0, 5), (0, 5)]; 3], f);
    for _ in 0..2 {
        for l in 0..3 {
            w.step_lane(l);
        }
    }
    w.run(&[], 10_000);
    w.check_end();
    w.check_counters();
    assert_eq!(w.counter(Counter::Failed), w.counter(Counter::Reads));
    assert!(w.counter(Counter::Reads) >= 2, "the second asks READ again");
}

/// Garbage written over a slot word while a lane waits on it: the waiter returns CACHE_BAD,
/// the filler finishes, nothing panics, and a later request for the page READs it again.
#[test]
fn garbage_over_a_waited_slot_is_cache_bad() {
    let layout = layout(1, 2);
    let words = CacheWords::new(&layout);
    let view = CacheView::new(&words).unwrap();
    let mut filler = CacheRequest::new(0, 1);
    let mut waiter = CacheRequest::new(0, 1);
    let mut pending = |_s: u32, _f: u32, _p: u32, _started: bool| IoPoll::Pending;
    view.step(&mut filler, 0, &mut pending); // Lookup → Miss
    view.step(&mut filler, 0, &mut pending); // Miss → Fill
    view.step(&mut filler, 0, &mut pending); // Fill → Reading
    assert_eq!(filler.phase, Phase::Reading);
    view.step(&mut waiter, 1, &mut pending); // Lookup → Wait
    assert_eq!(waiter.phase, Phase::Wait);
    let s = filler.slot as usize;
    for state in 4u64..8 {
        let old = words.slots[s].load(Ordering::Relaxed);
        let pins = old & 0xF_FFFF;
        words.slots[s].store((tag(0, 1) << 24) | (state << 20) | pins, Ordering::Relaxed);
        let mut w = waiter;
        assert!(view.step(&mut w, 1, &mut pending));
        assert_eq!(w.result, ResultCode::CacheBad.value());
        // The waiter's pin is given back.
        assert_eq!(words.slots[s].load(Ordering::Relaxed) & 0xF_FFFF, pins - 1);
        words.slots[s].store(old, Ordering::Relaxed);
    }
    // Garbage of the other kind: FILLING became another page's VALID.
    let old = words.slots[s].load(Ordering::Relaxed);
    words.slots[s].store(
        SlotWord::new(tag(0, 9), SlotState::Valid, SlotWord(old).pins()).0,
        Ordering::Relaxed,
    );
    let mut w = waiter;
    assert!(view.step(&mut w, 1, &mut pending));
    assert_eq!(w.result, ResultCode::CacheBad.value());
    // The filler finishes over the garbage without a panic.
    words.slots[s].store((tag(0, 1) << 24) | (7 << 20) | 1, Ordering::Relaxed);
    assert!(view.step(&mut filler, 0, |_, _, _, _| IoPoll::Done(4096)));
    view.release(filler.slot);
    // The page is not live anywhere (the slot's state is garbage): a new request READs it.
    let mut again = CacheRequest::new(0, 1);
    let mut reads = 0;
    for _ in 0..100 {
        if view.step(&mut again, 2, |_, _, _, started| {
            reads += u32::from(!started);
            IoPoll::Done(4096)
        }) {
            break;
        }
    }
    assert_eq!(again.phase, Phase::Done);
    assert!(again.result >= 0);
    assert_eq!(reads, 1);
}

/// Garbage that turns a waited slot FAILED while its length word holds bytes (an earlier
/// fill's): the waiter gets CACHE_BAD, never that number as if it were a slot it holds.
#[test]
fn a_failed_word_with_a_length_is_cache_bad() {
    let layout = layout(1, 1);
    let words = CacheWords::new(&layout);
    let view = CacheView::new(&words).unwrap();
    let mut pending = |_s: u32, _f: u32, _p: u32, _started: bool| IoPoll::Pending;
    // Page 0 cached, then released: the length word holds 4096.
    let mut first = CacheRequest::new(0, 0);
    while !view.step(&mut first, 0, |_, _, _, _| IoPoll::Done(4096)) {}
    view.release(first.slot);
    assert_eq!(view.len(0), 4096);
    // Page 1 evicts it; a second lane waits for page 1's READ.
    let mut filler = CacheRequest::new(0, 1);
    let mut waiter = CacheRequest::new(0, 1);
    for _ in 0..3 {
        view.step(&mut filler, 0, &mut pending);
    }
    assert_eq!(filler.phase, Phase::Reading);
    view.step(&mut waiter, 1, &mut pending);
    assert_eq!(waiter.phase, Phase::Wait);
    // Garbage: FAILED with the waiter's tag, the length word untouched.
    let pins = SlotWord(words.slots[0].load(Ordering::Relaxed)).pins();
    words.slots[0].store(
        SlotWord::new(tag(0, 1), SlotState::Failed, pins).0,
        Ordering::Relaxed,
    );
    assert!(view.step(&mut waiter, 1, &mut pending));
    assert_eq!(waiter.result, ResultCode::CacheBad.value());
    assert_eq!(
        SlotWord(words.slots[0].load(Ordering::Relaxed)).pins(),
        pins - 1
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Garbage written into any slot word at any moment (any tag, any pins, any state): every
    /// step returns, nothing panics, and every request that finishes within its budget returns
    /// a slot of the cache or a negative code. (What a lane reads from such a slot is not
    /// promised: garbage costs the lanes that meet it.)
    #[test]
    fn garbage_at_any_moment_never_panics(
        sets in 1u32..=2,
        ways in 1u32..=3,
        k in 2usize..=5,
        actions in prop::collection::vec((any::<u8>(), any::<u64>(), 0u8..10), 1..400),
    ) {
        let layout = layout(sets, ways);
        let words = CacheWords::new(&layout);
        let view = CacheView::new(&words).unwrap();
        let mut reqs: Vec<Option<CacheRequest>> = vec![None; k];
        let mut held: Vec<Option<u32>> = vec![None; k];
        let mut polls = vec![0u32; k];
        for &(who, junk, what) in &actions {
            let l = usize::from(who) % k;
            if what <= 1 {
                let s = (junk % u64::from(layout.slots())) as usize;
                let word = if what == 0 {
                    junk.rotate_left(17)
                } else {
                    // Any state over a tag the lanes ask for, a few pins.
                    let t = tag((junk >> 8) as u32 % 3, (junk >> 16) as u32 % 6);
                    (t << 24) | (((junk >> 24) % 8) << 20) | ((junk >> 32) % 3)
                };
                words.slots[s].store(word, Ordering::Relaxed);
                continue;
            }
            if let Some(s) = held[l].take() {
                view.release(s);
                continue;
            }
            let mut r = reqs[l].unwrap_or_else(|| {
                CacheRequest::new((junk % 3) as u32, (junk >> 8) as u32 % 6)
            });
            let done = view.step(&mut r, l, |_, _, p, started| {
                if !started {
                    polls[l] = (junk >> 20) as u32 % 3;
                }
                if polls[l] > 0 {
                    polls[l] -= 1;
                    IoPoll::Pending
                } else if p == 5 {
                    IoPoll::Done(EIO)
                } else {
                    IoPoll::Done(if p == 4 { 0 } else { 4096 })
                }
            });
            if done {
                reqs[l] = None;
                if r.result >= 0 {
                    prop_assert!((r.result as u32) < layout.slots());
                    held[l] = Some(r.result as u32);
                } else {
                    prop_assert!([
                        EIO,
                        ResultCode::PastEnd.value(),
                        ResultCode::CacheBad.value(),
                    ]
                    .contains(&r.result));
                }
            } else {
                reqs[l] = Some(r);
            }
        }
    }
}
