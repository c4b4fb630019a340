//! The GPU page cache's words and state machine (`docs/cache.md`), as pure logic.
//!
//! A page cache is two buffers: the *pages* (`slots × page_bytes`, a READ window the pump
//! fills) and the *metadata* described here (a header, per-stripe counters, one word per set,
//! one 64-bit word per slot, two auxiliary words per slot). The GLSL library
//! (`gdio_cache.glsl`) runs this state machine on the GPU, word for word; [`CacheView`] runs the
//! same steps on the CPU over atomics, so that the loom model and the property tests explore
//! its orderings, and [`CacheLayout`] tells the host where every word lives.
//!
//! A page `p` of file `f` lives in set `set_of(f, p)`, in one of its `ways` slots. A slot's
//! 64-bit word packs its pin count (bits 0..19), its state (bits 20..22) and its tag (bits
//! 24..63: the file in the top 8 bits, the page in the 32 below):
//!
//! - `EMPTY → FILLING`: a lane that missed takes the set's lock, finds no slot with the tag,
//!   and moves an unpinned slot to `FILLING` with the new tag and one pin (its own) in one
//!   compare-and-swap; it is the only lane that READs the page. Clock: a slot whose reference
//!   word is set gets a second chance.
//! - `FILLING → VALID` (release): the READ returned bytes; the slot's length word holds them.
//! - `FILLING → FAILED` (release): the READ failed; the slot's length word holds the code, every
//!   waiter returns it, and the page is not cached (lookups skip `FAILED` slots).
//! - `VALID | FAILED | EMPTY → FILLING` again only with no pins, under the set's lock: no lane
//!   reads a slot while it is refilled.
//!
//! Hits pin without the lock (an atomic add of one, acquire) and check the old word: the tag
//! and `VALID` make a hit, the tag and `FILLING` make a waiter (a coalesced miss), anything else
//! is undone. Every transition to `FILLING` happens under the set's lock, so a set never holds
//! two live slots for one page: N lanes missing on one page issue one READ.
#![allow(clippy::module_name_repetitions)]

use crate::codes::ResultCode;
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// "GDPC": the metadata's magic (header word 0).
pub const MAGIC: u32 = 0x4350_4447;
/// Version of this layout (header word 1).
pub const VERSION: u32 = 1;
/// Words in the header.
pub const HEADER_WORDS: usize = 16;
/// Counter stripes: lane `l` adds to stripe `l % STRIPES`, the host sums them.
pub const STRIPES: usize = 16;
/// The smallest page: 4 KiB.
pub const MIN_PAGE_SHIFT: u32 = 12;
/// The largest page: 64 KiB.
pub const MAX_PAGE_SHIFT: u32 = 16;
/// The most ways per set.
pub const MAX_WAYS: u32 = 16;
/// The most sets.
pub const MAX_SETS: u32 = 1 << 20;
/// The most files a tag names (file indices 0..=255).
pub const MAX_FILES: u32 = 256;
/// Pin count bits of a slot word.
pub const PIN_BITS: u32 = 20;
/// The most pins a slot word holds.
pub const MAX_PINS: u64 = (1 << PIN_BITS) - 1;
const STATE_SHIFT: u32 = 20;
const TAG_SHIFT: u32 = 24;

/// Word indices of the header.
pub mod header {
    /// [`super::MAGIC`].
    pub const MAGIC: usize = 0;
    /// [`super::VERSION`].
    pub const VERSION: usize = 1;
    /// log2 of the page size in bytes (12..=16).
    pub const PAGE_SHIFT: usize = 2;
    /// Sets.
    pub const SETS: usize = 3;
    /// Ways per set (1..=16).
    pub const WAYS: usize = 4;
    /// Slots: sets × ways.
    pub const SLOTS: usize = 5;
    /// Word index of the set words.
    pub const SET_BASE: usize = 6;
    /// Word index of the slot words (even: 64-bit words).
    pub const SLOT_BASE: usize = 7;
    /// Word index of the auxiliary words (reference, length).
    pub const AUX_BASE: usize = 8;
    /// Words in the metadata.
    pub const TOTAL_WORDS: usize = 9;
}

/// What a cache counts, one 64-bit counter each per stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Counter {
    /// Requests answered from a `VALID` slot without waiting.
    Hits = 0,
    /// Requests that found no live slot and took one: each issues a READ.
    Misses = 1,
    /// READs published (one per miss).
    Reads = 2,
    /// Requests that found their page `FILLING` and waited for another lane's READ.
    Coalesced = 3,
    /// `VALID` pages replaced by another page.
    Evictions = 4,
    /// READs that failed (every waiter got the code).
    Failed = 5,
    /// Victim searches that found every way of the set pinned or filling (the lane retries).
    NoVictim = 6,
}

/// Counters per stripe (seven used, one spare).
pub const COUNTERS: usize = 8;
/// Word index where the set words start.
pub const SET_BASE: usize = HEADER_WORDS + STRIPES * COUNTERS * 2;

impl Counter {
    /// Every counter, in index order.
    pub const ALL: [Counter; 7] = [
        Counter::Hits,
        Counter::Misses,
        Counter::Reads,
        Counter::Coalesced,
        Counter::Evictions,
        Counter::Failed,
        Counter::NoVictim,
    ];

    /// Index of stripe `stripe`'s counter in the metadata as 64-bit words.
    #[must_use]
    pub const fn word64(self, stripe: usize) -> usize {
        HEADER_WORDS / 2 + stripe * COUNTERS + self as usize
    }

    /// A short name, for reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Counter::Hits => "hits",
            Counter::Misses => "misses",
            Counter::Reads => "reads",
            Counter::Coalesced => "coalesced",
            Counter::Evictions => "evictions",
            Counter::Failed => "failed",
            Counter::NoVictim => "no_victim",
        }
    }
}

/// A slot's state (bits 20..22 of its word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SlotState {
    /// Holds no page.
    Empty = 0,
    /// One lane's READ is filling it; the tag names the page.
    Filling = 1,
    /// Holds the page its tag names; the length word holds its bytes.
    Valid = 2,
    /// The READ for its tag failed; the length word holds the code. Not a cached page.
    Failed = 3,
}

impl SlotState {
    /// Decodes a state field; values 4..=7 (never written) read as `None`.
    #[must_use]
    pub const fn from_code(v: u32) -> Option<SlotState> {
        match v {
            0 => Some(SlotState::Empty),
            1 => Some(SlotState::Filling),
            2 => Some(SlotState::Valid),
            3 => Some(SlotState::Failed),
            _ => None,
        }
    }
}

/// A slot word, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotWord(pub u64);

impl SlotWord {
    /// A word with this tag, state and pin count.
    #[must_use]
    pub const fn new(tag: u64, state: SlotState, pins: u64) -> SlotWord {
        SlotWord((tag << TAG_SHIFT) | ((state as u64) << STATE_SHIFT) | (pins & MAX_PINS))
    }
    /// Pins held.
    #[must_use]
    pub const fn pins(self) -> u64 {
        self.0 & MAX_PINS
    }
    /// The state field's raw value (0..=7).
    #[must_use]
    pub const fn state_code(self) -> u32 {
        ((self.0 >> STATE_SHIFT) & 7) as u32
    }
    /// The state, or `None` for a value no cache writes.
    #[must_use]
    pub const fn state(self) -> Option<SlotState> {
        SlotState::from_code(self.state_code())
    }
    /// The tag (file in bits 32..39, page in bits 0..31).
    #[must_use]
    pub const fn tag(self) -> u64 {
        self.0 >> TAG_SHIFT
    }
}

/// The tag of page `page` of file `file` (`file` < 256).
#[must_use]
pub const fn tag(file: u32, page: u32) -> u64 {
    ((file as u64 & 0xFF) << 32) | page as u64
}

/// The amount added to a slot word to move it from state `from` to `to`, pins and tag kept
/// (wrapping: the GPU adds it as a 64-bit integer).
#[must_use]
pub const fn transition(from: SlotState, to: SlotState) -> u64 {
    ((to as u64) << STATE_SHIFT).wrapping_sub((from as u64) << STATE_SHIFT)
}

/// The set of page `page` of file `file` among `sets` (a 32-bit mix, as gdio_cache.glsl).
#[must_use]
pub const fn set_of(file: u32, page: u32, sets: u32) -> u32 {
    let mut h = page ^ file.wrapping_mul(0x9E37_79B9);
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    h % sets
}

/// Why a cache shape is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CacheLayoutError {
    /// The page size is not a power of two from 4 KiB to 64 KiB.
    #[error("page size {0} B: use a power of two from 4096 to 65536")]
    PageSize(u64),
    /// Ways outside 1..=16.
    #[error("{0} ways per set: use 1 to 16")]
    Ways(u32),
    /// Sets outside 1..=2^20.
    #[error("{0} sets: use 1 to 1048576 (fewer ways or a larger page for more bytes)")]
    Sets(u64),
    /// The pages would pass 4 GiB, the most a READ's 32-bit window offset reaches.
    #[error("{0} B of pages: a cache holds at most 4 GiB (a READ's window offset is 32 bits)")]
    TooLarge(u64),
}

/// The most bytes of pages a cache holds: a READ's window offset is 32 bits.
pub const MAX_PAGES_BYTES: u64 = 1 << 32;

/// Where every word of a cache's metadata lives, and the pages' size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLayout {
    /// log2 of the page size.
    pub page_shift: u32,
    /// Sets.
    pub sets: u32,
    /// Ways per set.
    pub ways: u32,
}

impl CacheLayout {
    /// A cache of at least `capacity_bytes` (rounded up to whole sets) in pages of
    /// `page_bytes`, `ways` slots per set.
    pub fn new(
        capacity_bytes: u64,
        page_bytes: u64,
        ways: u32,
    ) -> Result<CacheLayout, CacheLayoutError> {
        if !page_bytes.is_power_of_two()
            || !(1u64 << MIN_PAGE_SHIFT..=1u64 << MAX_PAGE_SHIFT).contains(&page_bytes)
        {
            return Err(CacheLayoutError::PageSize(page_bytes));
        }
        if !(1..=MAX_WAYS).contains(&ways) {
            return Err(CacheLayoutError::Ways(ways));
        }
        let pages = capacity_bytes.div_ceil(page_bytes).max(1);
        let sets = pages.div_ceil(u64::from(ways));
        if sets > u64::from(MAX_SETS) {
            return Err(CacheLayoutError::Sets(sets));
        }
        let layout = CacheLayout {
            page_shift: page_bytes.trailing_zeros(),
            sets: sets as u32,
            ways,
        };
        if layout.pages_bytes() > MAX_PAGES_BYTES {
            return Err(CacheLayoutError::TooLarge(layout.pages_bytes()));
        }
        Ok(layout)
    }

    /// Bytes per page.
    #[must_use]
    pub const fn page_bytes(&self) -> u64 {
        1 << self.page_shift
    }
    /// Slots (pages the cache holds).
    #[must_use]
    pub const fn slots(&self) -> u32 {
        self.sets * self.ways
    }
    /// Bytes of the pages buffer.
    #[must_use]
    pub const fn pages_bytes(&self) -> u64 {
        self.slots() as u64 * self.page_bytes()
    }
    /// Word index of the set words.
    #[must_use]
    pub const fn set_base(&self) -> usize {
        SET_BASE
    }
    /// Word index of the slot words (even).
    #[must_use]
    pub const fn slot_base(&self) -> usize {
        (SET_BASE + self.sets as usize + 1) & !1
    }
    /// Word index of the auxiliary words: slot `s` has its reference word at `aux_base + 2s`
    /// and its length (or failure code) at `aux_base + 2s + 1`.
    #[must_use]
    pub const fn aux_base(&self) -> usize {
        self.slot_base() + 2 * self.slots() as usize
    }
    /// Words in the metadata.
    #[must_use]
    pub const fn total_words(&self) -> usize {
        self.aux_base() + 2 * self.slots() as usize
    }
    /// Bytes of the metadata buffer.
    #[must_use]
    pub const fn meta_bytes(&self) -> usize {
        self.total_words() * 4
    }

    /// The header's sixteen words (the rest of the metadata starts zeroed: every slot EMPTY).
    #[must_use]
    pub fn header_words(&self) -> [u32; HEADER_WORDS] {
        let mut h = [0u32; HEADER_WORDS];
        h[header::MAGIC] = MAGIC;
        h[header::VERSION] = VERSION;
        h[header::PAGE_SHIFT] = self.page_shift;
        h[header::SETS] = self.sets;
        h[header::WAYS] = self.ways;
        h[header::SLOTS] = self.slots();
        h[header::SET_BASE] = self.set_base() as u32;
        h[header::SLOT_BASE] = self.slot_base() as u32;
        h[header::AUX_BASE] = self.aux_base() as u32;
        h[header::TOTAL_WORDS] = self.total_words() as u32;
        h
    }

    /// Reads a header back, as the GPU does before every request: `None` unless it describes
    /// a cache whose metadata fits `meta_words` words and whose pages fit `pages_bytes` bytes.
    #[must_use]
    pub fn from_header(h: &[u32], meta_words: usize, pages_bytes: u64) -> Option<CacheLayout> {
        if h.len() < HEADER_WORDS || h[header::MAGIC] != MAGIC || h[header::VERSION] != VERSION {
            return None;
        }
        let l = CacheLayout {
            page_shift: h[header::PAGE_SHIFT],
            sets: h[header::SETS],
            ways: h[header::WAYS],
        };
        let ok = (MIN_PAGE_SHIFT..=MAX_PAGE_SHIFT).contains(&l.page_shift)
            && (1..=MAX_WAYS).contains(&l.ways)
            && (1..=MAX_SETS).contains(&l.sets)
            && h[..HEADER_WORDS] == l.header_words()[..]
            && l.total_words() <= meta_words
            && l.pages_bytes() <= pages_bytes
            && l.pages_bytes() <= MAX_PAGES_BYTES;
        ok.then_some(l)
    }
}

/// The metadata as the CPU model holds it: the same words as the GPU buffer, split by width.
#[derive(Debug)]
pub struct CacheWords {
    /// The header.
    pub header: Box<[AtomicU32]>,
    /// Counters, [`STRIPES`] × [`COUNTERS`].
    pub counters: Box<[AtomicU64]>,
    /// One per set: bit 0 the lock, bits 8..15 the clock hand.
    pub sets: Box<[AtomicU32]>,
    /// One per slot.
    pub slots: Box<[AtomicU64]>,
    /// Two per slot: reference, then length or failure code.
    pub aux: Box<[AtomicU32]>,
}

fn zeroed32(n: usize) -> Box<[AtomicU32]> {
    (0..n).map(|_| AtomicU32::new(0)).collect()
}
fn zeroed64(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

impl CacheWords {
    /// A fresh cache of `layout`: header written, every slot EMPTY.
    #[must_use]
    pub fn new(layout: &CacheLayout) -> CacheWords {
        let header = zeroed32(HEADER_WORDS);
        for (w, v) in header.iter().zip(layout.header_words()) {
            w.store(v, Ordering::Relaxed);
        }
        CacheWords {
            header,
            counters: zeroed64(STRIPES * COUNTERS),
            sets: zeroed32(layout.sets as usize),
            slots: zeroed64(layout.slots() as usize),
            aux: zeroed32(2 * layout.slots() as usize),
        }
    }

    /// The sum of `counter` over every stripe.
    #[must_use]
    pub fn counter(&self, counter: Counter) -> u64 {
        (0..STRIPES)
            .map(|s| self.counters[s * COUNTERS + counter as usize].load(Ordering::Relaxed))
            .sum()
    }
}

/// Where a lane's cache request stands between steps (the GPU keeps the same fields per lane,
/// so a request survives the end of a dispatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Look for a live slot without the lock.
    Lookup,
    /// Take the set's lock, look again, or claim a victim.
    Miss,
    /// This lane fills `slot`: its READ is not yet published.
    Fill,
    /// This lane's READ into `slot` is in flight.
    Reading,
    /// Another lane fills `slot`; this lane holds a pin and waits.
    Wait,
    /// Finished: `result` is the slot (>= 0, pinned) or a negative code.
    Done,
}

/// One lane's request for one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheRequest {
    /// The file (pump file index, < 256).
    pub file: u32,
    /// The page (file offset >> page_shift).
    pub page: u32,
    /// Where it stands.
    pub phase: Phase,
    /// The slot it holds, fills or waits on.
    pub slot: u32,
    /// When done: the slot (pinned: release it) or a negative result code.
    pub result: i32,
}

impl CacheRequest {
    /// A request for page `page` of `file`.
    #[must_use]
    pub const fn new(file: u32, page: u32) -> CacheRequest {
        CacheRequest {
            file,
            page,
            phase: Phase::Lookup,
            slot: 0,
            result: 0,
        }
    }
}

/// What a step of the filler's IO reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoPoll {
    /// Still in flight.
    Pending,
    /// Done with this result (bytes, or a negative code).
    Done(i32),
}

/// The page-cache state machine over a [`CacheWords`]: what gdio_cache.glsl does per step.
#[derive(Debug, Clone, Copy)]
pub struct CacheView<'a> {
    words: &'a CacheWords,
    layout: CacheLayout,
}

const LOCKED: u32 = 1;

impl<'a> CacheView<'a> {
    /// A view of `words`; `None` when its header is not a cache of its own size.
    #[must_use]
    pub fn new(words: &'a CacheWords) -> Option<CacheView<'a>> {
        let h: Vec<u32> = words
            .header
            .iter()
            .map(|w| w.load(Ordering::Relaxed))
            .collect();
        // The header is checked before any size is computed from it; then the model's words
        // must be the ones it describes (the GPU checks the sizes against its buffers).
        let layout = CacheLayout::from_header(&h, usize::MAX, u64::MAX)?;
        (words.sets.len() == layout.sets as usize
            && words.slots.len() == layout.slots() as usize
            && words.aux.len() == 2 * layout.slots() as usize
            && words.counters.len() == STRIPES * COUNTERS)
            .then_some(CacheView { words, layout })
    }

    /// The layout.
    #[must_use]
    pub fn layout(&self) -> CacheLayout {
        self.layout
    }

    fn count(&self, stripe: usize, c: Counter) {
        self.words.counters[(stripe % STRIPES) * COUNTERS + c as usize]
            .fetch_add(1, Ordering::Relaxed);
    }

    fn slot_word(&self, slot: u32) -> &AtomicU64 {
        &self.words.slots[slot as usize]
    }

    /// The page bytes (or failure code) slot `slot` holds; read after the step that returned
    /// it.
    #[must_use]
    pub fn len(&self, slot: u32) -> i32 {
        self.words.aux[2 * slot as usize + 1].load(Ordering::Relaxed) as i32
    }

    /// Releases the pin a finished request holds on `slot` (release: this lane's reads of the
    /// page happen before any refill).
    pub fn release(&self, slot: u32) {
        self.slot_word(slot).fetch_sub(1, Ordering::Release);
    }

    /// Pins `slot` and classifies what it held: `Some(Done)` on a hit, `Some(Wait)` when its
    /// READ is in flight, `None` (pin undone) when it no longer holds the page.
    fn pin(&self, req: &mut CacheRequest, slot: u32, stripe: usize) -> Option<Phase> {
        let want = tag(req.file, req.page);
        let old = SlotWord(self.slot_word(slot).fetch_add(1, Ordering::Acquire));
        req.slot = slot;
        match old.state() {
            Some(SlotState::Valid) if old.tag() == want => {
                self.count(stripe, Counter::Hits);
                req.result = slot as i32;
                // The clock's reference word: a plain store (the GPU does not wait for it).
                self.words.aux[2 * slot as usize].store(1, Ordering::Relaxed);
                Some(Phase::Done)
            }
            Some(SlotState::Filling) if old.tag() == want => {
                self.count(stripe, Counter::Coalesced);
                Some(Phase::Wait)
            }
            _ => {
                self.release(slot);
                None
            }
        }
    }

    /// The way of the set holding a live slot (VALID or FILLING) with the tag, seen relaxed.
    fn find(&self, set: u32, want: u64) -> Option<u32> {
        (0..self.layout.ways)
            .map(|w| set * self.layout.ways + w)
            .find(|&s| {
                let v = SlotWord(self.slot_word(s).load(Ordering::Relaxed));
                v.tag() == want && matches!(v.state(), Some(SlotState::Valid | SlotState::Filling))
            })
    }

    /// Runs one bounded step of `req`. `io(slot, file, page, started)` starts the fill's READ
    /// (when `started` is false) or polls it; it returns `IoPoll::Done` with the result. Returns
    /// true once `req.phase` is `Done`.
    pub fn step(
        &self,
        req: &mut CacheRequest,
        stripe: usize,
        mut io: impl FnMut(u32, u32, u32, bool) -> IoPoll,
    ) -> bool {
        let want = tag(req.file, req.page);
        let sets = self.layout.sets;
        let set = set_of(req.file, req.page, sets);
        match req.phase {
            Phase::Done => {}
            Phase::Lookup => {
                if req.file >= MAX_FILES {
                    req.result = ResultCode::BadFile.value();
                    req.phase = Phase::Done;
                } else {
                    req.phase = match self.find(set, want) {
                        Some(s) => self.pin(req, s, stripe).unwrap_or(Phase::Miss),
                        None => Phase::Miss,
                    };
                }
            }
            Phase::Miss => {
                let lock = &self.words.sets[set as usize];
                let w = lock.load(Ordering::Relaxed) & !LOCKED;
                if lock
                    .compare_exchange(w, w | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    let mut hand = (w >> 8) & 0xFF;
                    if let Some(s) = self.find(set, want) {
                        // Under the lock a live slot keeps its tag: the pin cannot miss it
                        // unless its READ just failed.
                        req.phase = self.pin(req, s, stripe).unwrap_or(Phase::Miss);
                    } else if let Some(s) = self.victim(set, want, &mut hand, stripe) {
                        self.count(stripe, Counter::Misses);
                        req.slot = s;
                        req.phase = Phase::Fill;
                    } else {
                        self.count(stripe, Counter::NoVictim);
                    }
                    lock.store((hand & 0xFF) << 8, Ordering::Release);
                }
            }
            Phase::Fill | Phase::Reading => {
                let started = req.phase == Phase::Reading;
                if !started {
                    self.count(stripe, Counter::Reads);
                }
                req.phase = Phase::Reading;
                if let IoPoll::Done(r) = io(req.slot, req.file, req.page, started) {
                    let word = self.slot_word(req.slot);
                    if r > 0 {
                        self.words.aux[2 * req.slot as usize + 1]
                            .store(r as u32, Ordering::Relaxed);
                        self.words.aux[2 * req.slot as usize].store(1, Ordering::Relaxed);
                        word.fetch_add(
                            transition(SlotState::Filling, SlotState::Valid),
                            Ordering::Release,
                        );
                        req.result = req.slot as i32;
                    } else {
                        let code = if r == 0 {
                            ResultCode::PastEnd.value()
                        } else {
                            r
                        };
                        self.words.aux[2 * req.slot as usize + 1]
                            .store(code as u32, Ordering::Relaxed);
                        self.count(stripe, Counter::Failed);
                        // FAILED and this lane's pin dropped, in one add.
                        word.fetch_add(
                            transition(SlotState::Filling, SlotState::Failed).wrapping_sub(1),
                            Ordering::Release,
                        );
                        req.result = code;
                    }
                    req.phase = Phase::Done;
                }
            }
            Phase::Wait => {
                let v = SlotWord(self.slot_word(req.slot).load(Ordering::Acquire));
                match v.state() {
                    Some(SlotState::Filling) => {}
                    Some(SlotState::Valid) if v.tag() == want => {
                        req.result = req.slot as i32;
                        req.phase = Phase::Done;
                    }
                    Some(SlotState::Failed) if v.tag() == want => {
                        // A failure's code is negative: a length here is garbage, and the
                        // result must never look like a slot this lane holds.
                        req.result = match self.len(req.slot) {
                            code if code < 0 => code,
                            _ => ResultCode::CacheBad.value(),
                        };
                        self.release(req.slot);
                        req.phase = Phase::Done;
                    }
                    _ => {
                        // Only garbage written over the words gets here.
                        self.release(req.slot);
                        req.result = ResultCode::CacheBad.value();
                        req.phase = Phase::Done;
                    }
                }
            }
        }
        req.phase == Phase::Done
    }

    /// Under the set's lock: the clock hand's next unpinned slot (a second chance for one
    /// whose reference word is set), moved to FILLING with `want` and one pin.
    fn victim(&self, set: u32, want: u64, hand: &mut u32, stripe: usize) -> Option<u32> {
        let ways = self.layout.ways;
        for _ in 0..2 * ways {
            let s = set * ways + (*hand % ways);
            *hand = (*hand + 1) % ways;
            let word = self.slot_word(s);
            let v = SlotWord(word.load(Ordering::Relaxed));
            if v.pins() != 0 || v.state() == Some(SlotState::Filling) {
                continue;
            }
            let r = &self.words.aux[2 * s as usize];
            if v.state() == Some(SlotState::Valid) && r.load(Ordering::Relaxed) != 0 {
                r.store(0, Ordering::Relaxed);
                continue;
            }
            let new = SlotWord::new(want, SlotState::Filling, 1).0;
            if word
                .compare_exchange(v.0, new, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                if v.state() == Some(SlotState::Valid) {
                    self.count(stripe, Counter::Evictions);
                }
                return Some(s);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_words_fit_and_header_round_trips() {
        let l = CacheLayout::new(1 << 20, 4096, 8).unwrap();
        assert_eq!(l.slots(), 256);
        assert_eq!(l.sets, 32);
        assert_eq!(l.slot_base() % 2, 0);
        let h = l.header_words();
        assert_eq!(
            CacheLayout::from_header(&h, l.total_words(), l.pages_bytes()),
            Some(l)
        );
        assert_eq!(
            CacheLayout::from_header(&h, l.total_words() - 1, l.pages_bytes()),
            None
        );
        assert_eq!(
            CacheLayout::from_header(&h, l.total_words(), l.pages_bytes() - 1),
            None
        );
        let mut bad = h;
        bad[header::WAYS] = 0;
        assert_eq!(CacheLayout::from_header(&bad, 1 << 30, 1 << 40), None);
    }

    #[test]
    fn shapes_outside_the_limits_are_refused() {
        assert_eq!(
            CacheLayout::new(1 << 20, 3000, 8),
            Err(CacheLayoutError::PageSize(3000))
        );
        assert_eq!(
            CacheLayout::new(1 << 20, 1 << 17, 8),
            Err(CacheLayoutError::PageSize(1 << 17))
        );
        assert_eq!(
            CacheLayout::new(1 << 20, 4096, 17),
            Err(CacheLayoutError::Ways(17))
        );
        assert!(matches!(
            CacheLayout::new(1 << 40, 4096, 1),
            Err(CacheLayoutError::Sets(_))
        ));
    }

    #[test]
    fn transitions_keep_tag_and_pins() {
        let w = SlotWord::new(tag(7, 123_456), SlotState::Filling, 5);
        let v = SlotWord(w.0.wrapping_add(transition(SlotState::Filling, SlotState::Valid)));
        assert_eq!(
            (v.tag(), v.state(), v.pins()),
            (tag(7, 123_456), Some(SlotState::Valid), 5)
        );
        let f = SlotWord(
            w.0.wrapping_add(transition(SlotState::Filling, SlotState::Failed).wrapping_sub(1)),
        );
        assert_eq!((f.state(), f.pins()), (Some(SlotState::Failed), 4));
    }

    #[test]
    fn sets_spread_consecutive_pages() {
        let mut seen = [0u32; 16];
        for p in 0..1600 {
            seen[set_of(0, p, 16) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (60..=140).contains(&n)), "{seen:?}");
    }
}
