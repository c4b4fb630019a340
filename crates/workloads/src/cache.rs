//! The page cache exercised and measured: cache_pages.comp, lanes asking the cache for pages
//! of a test file (`gdio gen file` content), every word of every page checked.

use std::fs::File;
use std::time::Duration;

use anyhow::{Context as _, Result};
use gdio::vulkan::{BufferSlice, CacheCounters, ComputePipeline, MappedBuffer, Placement};
use gdio::PumpCache;

use crate::gpu::Gpu;
use crate::lanes;
use crate::pumps::PumpGroup;
use crate::shaders::{self, CachePagesParams};

/// What one ask came back with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOutcome {
    /// The page's bytes (>= 0), or the negative code the cache returned.
    pub result: i32,
    /// Words of the page that did not match the test pattern (must be 0).
    pub mismatches: u32,
}

/// A cache_pages.comp run.
#[derive(Debug, Clone)]
pub struct PagesRun {
    /// Per ask, in `asks` order.
    pub outcomes: Vec<PageOutcome>,
    /// The cache's counters over the run.
    pub counters: CacheCounters,
    /// READs the pumps completed.
    pub pump_reads: u64,
    /// Dispatch time.
    pub elapsed: Duration,
    /// Dispatches.
    pub dispatches: u32,
}

/// What lanes ask: `asks[l * per_lane + j]` is lane `l`'s `j`-th page of pump file `file`.
#[derive(Debug, Clone)]
pub struct Asks<'a> {
    /// Pump file index the lanes name (0 is the file the pumps hold).
    pub file: u32,
    /// Lanes.
    pub lanes: u32,
    /// Pages per lane, in order.
    pub per_lane: u32,
    /// The pages.
    pub pages: &'a [u32],
    /// The test pattern's seed (`gdio gen file --seed`).
    pub seed: u32,
    /// Check every word of every page (false: read one word of each, to time hits).
    pub check: bool,
}

/// Runs cache_pages.comp: `asks.lanes` lanes ask `cache` for their pages in turn (each lane's
/// READs through its own slot of one of `pumps` queues, every pump holding `file` as index 0
/// and the cache's pages as window 0).
pub fn cache_pages(
    gpu: &Gpu,
    cache: &PumpCache,
    file: &File,
    asks: &Asks<'_>,
    pumps: u32,
) -> Result<PagesRun> {
    let ctx = &gpu.ctx;
    let n = asks.lanes as usize * asks.per_lane as usize;
    anyhow::ensure!(
        asks.pages.len() == n && asks.lanes > 0,
        "asks: {} pages for {} lanes of {} (need lanes × per_lane, at least one lane)",
        asks.pages.len(),
        asks.lanes,
        asks.per_lane
    );
    let pages = MappedBuffer::new(ctx, n.max(1) * 4, Placement::HostCached)?;
    pages.write_u32s(0, asks.pages)?;
    let out = MappedBuffer::new(ctx, n.max(1) * 8, Placement::HostCached)?;
    let state = lanes::state_buffer(ctx, asks.lanes)?;
    let queues = pumps.clamp(1, asks.lanes);
    let group = PumpGroup::spawn(
        gpu,
        queues,
        asks.lanes.div_ceil(queues),
        cache.pages(),
        file,
        "gdio-pump-cache",
    )?;
    let q = group.group();
    let p = CachePagesParams {
        file: asks.file,
        window: 0,
        lanes: asks.lanes,
        per_lane: asks.per_lane,
        seed: asks.seed,
        iter_budget: gpu.budgets.iter_budget,
        step_budget: step_budget(gpu),
        queues,
        queues_at: group.strides(),
        check: asks.check,
    };
    let pipe = ComputePipeline::new(ctx, shaders::CACHE_PAGES, 7, p.to_bytes().len() as u32)?;
    let set = pipe.bind(&[
        q.request_slice(),
        q.completion_slice(),
        cache.slice(),
        cache.pages_slice(),
        BufferSlice::whole(&pages),
        BufferSlice::whole(&out),
        BufferSlice::whole(&state),
    ])?;
    gpu.warm(&pipe, &set, &CachePagesParams { lanes: 0, ..p }.to_bytes())?;
    let before = cache.counters();
    let driven = gpu.drive(
        &pipe,
        &set,
        &p.to_bytes(),
        asks.lanes
            .div_ceil(shaders::walker_lanes_per_group(gpu.is_cpu())),
        || Ok(lanes::check(&state, asks.lanes, "ask")?.1),
        || group.completed(),
    );
    drop(set);
    let pump_reads = group.completed();
    group.stop()?;
    let driven = driven?;
    let words = out.read_u32s(0, 2 * n)?;
    Ok(PagesRun {
        outcomes: words
            .chunks(2)
            .map(|w| PageOutcome {
                result: w[0] as i32,
                mismatches: w[1],
            })
            .collect(),
        counters: cache.counters().since(&before),
        pump_reads,
        elapsed: driven.elapsed,
        dispatches: driven.dispatches,
    })
}

/// Cache steps per `gdio_cache_get` before a lane looks at its loop budget: bounded on CPU
/// devices (lavapipe's loop cap), effectively unbounded on GPUs.
#[must_use]
pub fn step_budget(gpu: &Gpu) -> u32 {
    if gpu.is_cpu() {
        500
    } else {
        gpu.budgets.wait_budget
    }
}

/// Opens `path` for a cache run, with the error a user can act on.
pub fn open(path: &std::path::Path) -> Result<File> {
    File::open(path).with_context(|| format!("cannot open {}", path.display()))
}
