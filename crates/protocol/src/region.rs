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
