//! The page cache's metadata on the driver side: allocated where a running shader sees it,
//! initialised, cleared, and its counters read while shaders run (`docs/cache.md`; the shader
//! side is `shaders/gdio_cache.glsl`, the state machine `gdio_protocol::cache`).
//!
//! A cache is two buffers: this metadata, and the pages, a READ window the pump fills (the
//! composing crate `gdio` registers it: `gdio::PumpCache`). Both live where the plan puts READ
//! windows (ReBAR on NVIDIA), since the shader must see the pump's writes to the pages fresh,
//! and the host writes the metadata's header before the first dispatch.

use gdio_protocol::cache::{CacheLayout, Counter, COUNTERS, HEADER_WORDS, STRIPES};

use crate::memory::{MappedBuffer, Placement};
use crate::pipeline::BufferSlice;
use crate::{Context, Result};

/// What a cache has counted since it was created or cleared (every stripe summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounters {
    /// Requests answered from a cached page without waiting.
    pub hits: u64,
    /// Requests that found their page absent and took a slot for it.
    pub misses: u64,
    /// READs published (one per miss).
    pub reads: u64,
    /// Requests that waited for another lane's READ of their page.
    pub coalesced: u64,
    /// Cached pages replaced by others.
    pub evictions: u64,
    /// READs that failed (every waiter got the code; the page stays uncached).
    pub failed: u64,
    /// Victim searches that found every way of a set pinned or filling (the lane retried).
    pub no_victim: u64,
}

impl CacheCounters {
    /// Requests answered: hits, misses and coalesced waits.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.hits + self.misses + self.coalesced
    }

    /// Hits over requests answered (0 when none were).
    #[must_use]
    pub fn hit_rate(&self) -> f64 {
        match self.requests() {
            0 => 0.0,
            n => self.hits as f64 / n as f64,
        }
    }

    /// The counts since `earlier` (a snapshot of the same cache).
    #[must_use]
    pub fn since(&self, earlier: &CacheCounters) -> CacheCounters {
        CacheCounters {
            hits: self.hits.wrapping_sub(earlier.hits),
            misses: self.misses.wrapping_sub(earlier.misses),
            reads: self.reads.wrapping_sub(earlier.reads),
            coalesced: self.coalesced.wrapping_sub(earlier.coalesced),
            evictions: self.evictions.wrapping_sub(earlier.evictions),
            failed: self.failed.wrapping_sub(earlier.failed),
            no_victim: self.no_victim.wrapping_sub(earlier.no_victim),
        }
    }
}

/// A page cache's metadata buffer and its layout.
#[derive(Debug)]
pub struct PageCache {
    layout: CacheLayout,
    meta: MappedBuffer,
}

impl PageCache {
    /// Allocates the metadata of a cache shaped `layout` in `placement` (the plan's
    /// `read_window`), with every slot empty.
    pub fn new(ctx: &Context, layout: CacheLayout, placement: Placement) -> Result<PageCache> {
        let meta = MappedBuffer::new(ctx, layout.meta_bytes(), placement)?;
        let cache = PageCache { layout, meta };
        cache.clear()?;
        Ok(cache)
    }

    /// A buffer for the cache's pages (`layout().pages_bytes()`) in `placement`: hand it to the
    /// pump as a READ window and bind it at the pages binding.
    pub fn pages_buffer(&self, ctx: &Context, placement: Placement) -> Result<MappedBuffer> {
        MappedBuffer::new(ctx, self.layout.pages_bytes() as usize, placement)
    }

    /// Empties the cache and zeroes its counters. Only while no shader uses it (between
    /// dispatches): a running shader's pins and fills would be lost.
    pub fn clear(&self) -> Result<()> {
        self.meta.fill(0, self.meta.len(), 0)?;
        self.meta.write_u32s(0, &self.layout.header_words())
    }

    /// The layout.
    #[must_use]
    pub fn layout(&self) -> CacheLayout {
        self.layout
    }

    /// The metadata buffer.
    #[must_use]
    pub fn meta(&self) -> &MappedBuffer {
        &self.meta
    }

    /// The metadata, to bind at the cache's metadata binding.
    #[must_use]
    pub fn slice(&self) -> BufferSlice<'_> {
        BufferSlice::whole(&self.meta)
    }

    /// The counters, read while shaders run (relaxed loads of the GPU's 64-bit counters: each
    /// count is exact, the set of them a moment's view). On NVIDIA this reads ReBAR: a few
    /// microseconds, not a loop's worth.
    #[must_use]
    pub fn counters(&self) -> CacheCounters {
        let words = self.meta.words64();
        let sum = |c: Counter| -> u64 {
            (0..STRIPES)
                .map(|s| words[c.word64(s)].load(std::sync::atomic::Ordering::Relaxed))
                .sum()
        };
        debug_assert_eq!(HEADER_WORDS % 2, 0);
        debug_assert!(COUNTERS >= Counter::ALL.len());
        CacheCounters {
            hits: sum(Counter::Hits),
            misses: sum(Counter::Misses),
            reads: sum(Counter::Reads),
            coalesced: sum(Counter::Coalesced),
            evictions: sum(Counter::Evictions),
            failed: sum(Counter::Failed),
            no_victim: sum(Counter::NoVictim),
        }
    }
}
