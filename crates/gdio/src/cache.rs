//! A GPU page cache joined to the pump: its metadata and its pages, the pages wrapped as a
//! READ window the pump fills (`docs/cache.md`).

use std::ops::Deref;
use std::sync::Arc;

use gdio_protocol::cache::CacheLayout;
use gdio_vulkan::{BufferSlice, Context, PageCache, PlacementPlan};

use crate::bridge::PumpWindow;

/// A page cache whose pages are a pump window.
///
/// Add [`PumpCache::pages`] to the pump as a READ window (with `WindowMode::Auto`: on NVIDIA
/// the pages live in ReBAR, which takes plain READ), bind [`PageCache::slice`] and
/// [`PumpCache::pages_slice`] at the shader's cache bindings, and pass the window's index to
/// `gdio_cache_open`. Derefs to the [`PageCache`] (layout, counters, clear).
#[derive(Debug)]
pub struct PumpCache {
    cache: PageCache,
    pages: Arc<PumpWindow>,
}

impl PumpCache {
    /// A cache shaped `layout`, both buffers where `plan` puts READ windows (a running shader
    /// sees the pump's writes there fresh).
    pub fn new(
        ctx: &Context,
        layout: CacheLayout,
        plan: &PlacementPlan,
    ) -> gdio_vulkan::Result<PumpCache> {
        let cache = PageCache::new(ctx, layout, plan.read_window)?;
        let pages = PumpWindow::new(cache.pages_buffer(ctx, plan.read_window)?);
        Ok(PumpCache { cache, pages })
    }

    /// The pages as a pump window (the pump keeps a reference until it has drained).
    #[must_use]
    pub fn pages(&self) -> &Arc<PumpWindow> {
        &self.pages
    }

    /// The pages, to bind at the cache's pages binding.
    #[must_use]
    pub fn pages_slice(&self) -> BufferSlice<'_> {
        self.pages.slice()
    }
}

impl Deref for PumpCache {
    type Target = PageCache;
    fn deref(&self) -> &PageCache {
        &self.cache
    }
}
