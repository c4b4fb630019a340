//! Sound views of memory that another agent (a GPU, another thread) writes concurrently.
//!
//! Shared queue memory is never seen as `&[u8]` or `&mut [u8]`: another agent may write it at
//! any time, so every access goes through [`AtomicU32`] with an explicit ordering.

use crate::sync::{AtomicU32, Ordering};

/// A view of one queue region as 32-bit atomic words.
#[derive(Debug, Clone, Copy)]
pub struct Region<'a> {
    words: &'a [AtomicU32],
}

impl<'a> Region<'a> {
    /// A view over words the caller already holds as atomics (tests, the CPU-emulated device).
    #[must_use]
    pub fn new(words: &'a [AtomicU32]) -> Region<'a> {
        Region { words }
    }

    /// A view over raw shared memory, e.g. a mapped Vulkan allocation.
    ///
    /// # Safety
    /// - `ptr` is 4-byte aligned (64-byte aligned for a queue region) and valid for reads and
    ///   writes of `bytes` bytes for all of `'a`;
    /// - during `'a` every agent that touches the memory (this process's threads, a GPU) does so
    ///   only with atomic or device-coherent accesses of whole 32-bit words, never through a
    ///   Rust `&`/`&mut` reference to non-atomic data;
    /// - the memory is not unmapped or freed during `'a`.
    #[cfg(not(loom))]
    #[allow(unsafe_code)]
    pub unsafe fn from_raw_parts(ptr: *mut u8, bytes: usize) -> Region<'a> {
        debug_assert_eq!(ptr as usize % 4, 0, "queue memory must be 4-byte aligned");
        // SAFETY: the caller guarantees alignment, validity for 'a and atomic-only access;
        // AtomicU32 has the same size and alignment as u32.
        let words = unsafe { core::slice::from_raw_parts(ptr.cast::<AtomicU32>(), bytes / 4) };
        Region { words }
    }

    /// Splits off a sub-region of `bytes` bytes at byte `offset` (both multiples of 4).
    /// Returns `None` if it does not fit.
    #[must_use]
    pub fn sub(&self, offset: usize, bytes: usize) -> Option<Region<'a>> {
        if offset % 4 != 0 || bytes % 4 != 0 {
            return None;
        }
        let end = offset.checked_add(bytes)?;
        self.words.get(offset / 4..end / 4).map(Region::new)
    }

    /// Size of the view in bytes.
    #[must_use]
    pub fn len_bytes(&self) -> usize {
        self.words.len() * 4
    }

    /// The words themselves.
    #[must_use]
    pub fn words(&self) -> &'a [AtomicU32] {
        self.words
    }

    #[inline]
    pub(crate) fn load(&self, word: usize, order: Ordering) -> u32 {
        self.words[word].load(order)
    }

    #[inline]
    pub(crate) fn store(&self, word: usize, value: u32, order: Ordering) {
        self.words[word].store(value, order)
    }

    /// Stores `lo` into word `word` and `hi` into word `word + 1` as one 64-bit atomic store
    /// (`word` even and the pair 8-byte aligned, as in every mapped queue region), so that a
    /// reader loading the pair at once sees both or neither. Where the pair is not 8-byte
    /// aligned (a `Box<[AtomicU32]>` in a test) and under loom, it is two stores: `lo`, a full
    /// fence, then `hi` with `order`, which a reader that loads `hi` first keeps in order.
    #[inline]
    pub(crate) fn store_pair(&self, word: usize, lo: u32, hi: u32, order: Ordering) {
        #[cfg(not(loom))]
        if let Some(pair) = self.pair(word) {
            pair.store(u64::from(lo) | (u64::from(hi) << 32), order);
            return;
        }
        self.words[word].store(lo, Ordering::Relaxed);
        crate::sync::fence(Ordering::SeqCst);
        self.words[word + 1].store(hi, order);
    }

    /// Loads words `word` (low) and `word + 1` (high) as one 64-bit atomic load; see
    /// [`Region::store_pair`] for the fallback (`hi` with `order`, then `lo`).
    #[inline]
    pub(crate) fn load_pair(&self, word: usize, order: Ordering) -> (u32, u32) {
        #[cfg(not(loom))]
        if let Some(pair) = self.pair(word) {
            let v = pair.load(order);
            return (v as u32, (v >> 32) as u32);
        }
        let hi = self.words[word + 1].load(order);
        (self.words[word].load(Ordering::Relaxed), hi)
    }

    /// Words `word` and `word + 1` as one `AtomicU64`, if `word` is even, in range, and the
    /// pair is 8-byte aligned.
    #[cfg(not(loom))]
    #[allow(unsafe_code)]
    fn pair(&self, word: usize) -> Option<&'a core::sync::atomic::AtomicU64> {
        let two = self.words.get(word..word + 2)?;
        let ptr = two.as_ptr().cast::<core::sync::atomic::AtomicU64>();
        if ptr as usize % core::mem::align_of::<core::sync::atomic::AtomicU64>() != 0 {
            return None;
        }
        // SAFETY: the two words are in bounds, adjacent and 8-byte aligned (checked), and live
        // for 'a; AtomicU64 has the size of two AtomicU32. Every agent accesses queue memory
        // only atomically (the Region contract), and the words of a completion entry are
        // accessed as this pair whenever agents race on them (host stores, device loads);
        // single-word reads of them happen only with no concurrent writer (tests, after a stop).
        Some(unsafe { &*ptr })
    }

    /// Relaxed load of word `word`; panics if out of range (indices come from a checked
    /// [`crate::Layout`], never from queue contents).
    #[inline]
    #[must_use]
    pub fn load_relaxed(&self, word: usize) -> u32 {
        self.load(word, Ordering::Relaxed)
    }
}

/// Zeroed atomic words for a region of `bytes` bytes (rounded up to whole words), for queues in
/// ordinary host memory: tests, models and the CPU-emulated device.
#[must_use]
pub fn zeroed_words(bytes: usize) -> Box<[AtomicU32]> {
    (0..bytes.div_ceil(4)).map(|_| AtomicU32::new(0)).collect()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicU64;

    /// An 8-byte aligned region of `words` words, as a mapped queue region is.
    #[allow(unsafe_code)]
    fn aligned(backing: &[AtomicU64]) -> Region<'_> {
        // SAFETY: the backing is 8-byte aligned, lives as long as the view and is accessed only
        // atomically.
        unsafe { Region::from_raw_parts(backing.as_ptr().cast_mut().cast(), backing.len() * 8) }
    }

    #[test]
    fn a_pair_is_never_seen_torn() {
        let backing: Vec<AtomicU64> = (0..4).map(|_| AtomicU64::new(0)).collect();
        let r = aligned(&backing);
        let n = 200_000u32;
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 1..=n {
                    r.store_pair(2, i, i, Ordering::Release);
                }
            });
            let mut last = 0;
            while last < n {
                let (lo, hi) = r.load_pair(2, Ordering::Acquire);
                assert_eq!(lo, hi, "a completion entry was read half old, half new");
                assert!(hi >= last, "went backwards");
                last = hi;
            }
        });
    }

    #[test]
    fn pair_words_are_little_endian_low_first() {
        let backing: Vec<AtomicU64> = (0..2).map(|_| AtomicU64::new(0)).collect();
        let r = aligned(&backing);
        r.store_pair(2, 0xAAAA_0001, 0xBBBB_0002, Ordering::Release);
        assert_eq!(r.load_relaxed(2), 0xAAAA_0001);
        assert_eq!(r.load_relaxed(3), 0xBBBB_0002);
        // Unaligned or odd: the two-store form, same words.
        let words = zeroed_words(16);
        let u = Region::new(&words);
        u.store_pair(1, 7, 9, Ordering::Release);
        assert_eq!(u.load_pair(1, Ordering::Acquire), (7, 9));
    }
}
