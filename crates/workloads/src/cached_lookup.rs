//! B-tree lookups through a page cache, on the GPU (btree_cached.comp with `gdio_cache.glsl`:
//! hits never leave the GPU, concurrent misses on one node issue one READ) and CPU-orchestrated
//! over a cache of the same capacity that the host manages (what a careful user writes: each
//! distinct page read once per level, one dispatch per level).

use std::collections::HashMap;
use std::fs::File;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use gdio::vulkan::{BufferSlice, CacheCounters, ComputePipeline, MappedBuffer, Placement};
use gdio::PumpCache;

use crate::btree::Superblock;
use crate::gpu::Gpu;
use crate::lanes;
use crate::lookup::{decode, key_buffer, Lookups};
use crate::pumps::PumpGroup;
use crate::shaders::{self, BtreeLookupParams, BtreeStepParams, BTREE_NODE_BYTES};

/// A cached lookup batch: the lookups and what the cache counted meanwhile.
#[derive(Debug, Clone)]
pub struct CachedLookups {
    /// The lookups (reads: the node READs the pumps did).
    pub lookups: Lookups,
    /// The cache's counters over the batch.
    pub counters: CacheCounters,
}

/// Looks `keys` up in the index `file` through `cache` (kept warm from batch to batch by the
/// caller) with `lanes` lanes and `pumps` pump threads.
#[allow(clippy::too_many_arguments)] // the lookup's own arguments and the cache
pub fn lookup(
    gpu: &Gpu,
    file: &File,
    sb: &Superblock,
    keys: &[u64],
    lanes: u32,
    pumps: u32,
    cache: &PumpCache,
    mut progress: impl FnMut(u64, u64),
) -> Result<CachedLookups> {
    let ctx = &gpu.ctx;
    let nkeys = u32::try_from(keys.len()).context("at most 2^32-1 keys per lookup run")?;
    let lanes = lanes.clamp(1, 65_535).min(nkeys.max(1));
    let key_buf = key_buffer(gpu, keys)?;
    let results = MappedBuffer::new(
        ctx,
        keys.len().max(1) * shaders::BTREE_RESULT_WORDS * 4,
        Placement::HostCached,
    )?;
    let state = lanes::state_buffer(ctx, lanes)?;
    let saved = MappedBuffer::new(ctx, lanes as usize * 16, Placement::HostCached)?;
    let queues = pumps.clamp(1, lanes);
    let group = PumpGroup::spawn(
        gpu,
        queues,
        lanes.div_ceil(queues),
        cache.pages(),
        file,
        "gdio-pump-cached",
    )?;
    let q = group.group();
    let params = BtreeLookupParams {
        file: 0,
        window: 0,
        nkeys,
        lanes,
        root: sb.root,
        budgets: gpu.budgets,
        queues,
        queues_at: group.strides(),
    };
    let step_budget = crate::cache::step_budget(gpu);
    let push = shaders::btree_cached_bytes(&params, step_budget);
    let pipe = ComputePipeline::new(ctx, shaders::BTREE_CACHED, 8, push.len() as u32)?;
    let set = pipe.bind(&[
        q.request_slice(),
        q.completion_slice(),
        cache.slice(),
        cache.pages_slice(),
        BufferSlice::whole(&state),
        BufferSlice::whole(&key_buf),
        BufferSlice::whole(&results),
        BufferSlice::whole(&saved),
    ])?;
    let idle = shaders::btree_cached_bytes(&BtreeLookupParams { lanes: 0, ..params }, step_budget);
    gpu.warm(&pipe, &set, &idle)?;
    let before = cache.counters();
    let reads0 = group.completed();
    let driven = gpu.drive(
        &pipe,
        &set,
        &push,
        lanes.div_ceil(shaders::walker_lanes_per_group(gpu.is_cpu())),
        || Ok(lanes::check(&state, lanes, "key")?.1),
        || {
            let done: u64 = lanes::check(&state, lanes, "key")
                .map(|(s, _)| s.iter().map(|l| u64::from(l.progress)).sum())
                .unwrap_or(0);
            progress(done, u64::from(nkeys));
            done + group.completed()
        },
    );
    let reads = group.completed() - reads0;
    drop(set);
    group.stop()?;
    let driven = driven?;
    let words = results.read_u32s(0, keys.len() * shaders::BTREE_RESULT_WORDS)?;
    Ok(CachedLookups {
        lookups: Lookups {
            results: decode(&words)?,
            elapsed: driven.elapsed,
            dispatches: driven.dispatches,
            reads,
            phases: vec![("submit → fence", driven.elapsed)],
        },
        counters: cache.counters().since(&before),
    })
}

/// The CPU-orchestrated lookup loop over a page cache the host manages: `slots` pages of
/// `page_bytes` in GPU-visible memory, a map from page to slot, clock eviction. Per level the
/// host collects the distinct pages the walking keys need, reads each missing one once (split
/// over reader threads), writes where each key's node lies, and dispatches one search; a level
/// whose pages do not fit at once runs in groups that do. Set up once and kept from batch to
/// batch, cache included, as a program that looks keys up again and again keeps it.
pub struct OrchestratedCache<'a> {
    gpu: &'a Gpu,
    f: &'a File,
    sb: Superblock,
    page_shift: u32,
    readers: usize,
    capacity: usize,
    pages: MappedBuffer,
    keys: MappedBuffer,
    results: MappedBuffer,
    at: MappedBuffer,
    pipe: ComputePipeline,
    cache: HostCache,
}

/// The host's map of the orchestrated loop's pages: page to slot, clock eviction.
struct HostCache {
    slots: usize,
    map: HashMap<u64, usize>,
    owner: Vec<Option<u64>>,
    referenced: Vec<bool>,
    hand: usize,
    page_reads: u64,
    page_hits: u64,
}

impl HostCache {
    /// A slot for `page`, evicting by clock among slots not `pinned` this group. `None` when
    /// every slot is pinned.
    fn place(&mut self, page: u64, pinned: &[bool]) -> Option<usize> {
        for _ in 0..2 * self.slots {
            let s = self.hand;
            self.hand = (self.hand + 1) % self.slots;
            if pinned[s] {
                continue;
            }
            if self.referenced[s] {
                self.referenced[s] = false;
                continue;
            }
            if let Some(old) = self.owner[s].take() {
                self.map.remove(&old);
            }
            self.owner[s] = Some(page);
            self.map.insert(page, s);
            return Some(s);
        }
        None
    }
}

impl<'a> OrchestratedCache<'a> {
    /// A loop for batches of up to `capacity` keys over a cache of `slots` pages of
    /// `page_bytes` bytes, reading with `readers` threads.
    pub fn new(
        gpu: &'a Gpu,
        f: &'a File,
        sb: &Superblock,
        slots: u32,
        page_bytes: u32,
        capacity: usize,
        readers: u32,
    ) -> Result<OrchestratedCache<'a>> {
        anyhow::ensure!(
            page_bytes.is_power_of_two() && page_bytes as usize >= BTREE_NODE_BYTES,
            "the orchestrated cache's pages must be a power of two of at least 4096 bytes"
        );
        let ctx = &gpu.ctx;
        let capacity = capacity.max(1);
        let slots = slots.max(1) as usize;
        let placement = gpu
            .settings
            .orchestrated_staging
            .unwrap_or(gpu.plan.read_window);
        let pages = MappedBuffer::new(ctx, slots * page_bytes as usize, placement)?;
        let keys = MappedBuffer::new(ctx, capacity * 8, Placement::HostCached)?;
        let results = MappedBuffer::new(
            ctx,
            capacity * shaders::BTREE_RESULT_WORDS * 4,
            Placement::HostCached,
        )?;
        let at = MappedBuffer::new(ctx, capacity * 4, Placement::HostCached)?;
        let pipe = ComputePipeline::new(ctx, shaders::BTREE_STEP_CACHED, 4, 4)?;
        let me = OrchestratedCache {
            gpu,
            f,
            sb: *sb,
            page_shift: page_bytes.trailing_zeros(),
            readers: readers.max(1) as usize,
            capacity,
            pages,
            keys,
            results,
            at,
            pipe,
            cache: HostCache {
                slots,
                map: HashMap::new(),
                owner: vec![None; slots],
                referenced: vec![false; slots],
                hand: 0,
                page_reads: 0,
                page_hits: 0,
            },
        };
        {
            let set = me.pipe.bind(&[
                BufferSlice::whole(&me.pages),
                BufferSlice::whole(&me.keys),
                BufferSlice::whole(&me.results),
                BufferSlice::whole(&me.at),
            ])?;
            me.gpu
                .warm(&me.pipe, &set, &BtreeStepParams { nkeys: 0 }.to_bytes())?;
        }
        Ok(me)
    }

    /// Pages read and page asks answered from the host's cache since set-up.
    #[must_use]
    pub fn page_counts(&self) -> (u64, u64) {
        (self.cache.page_reads, self.cache.page_hits)
    }

    /// Looks one batch up (at most the capacity given at set-up).
    pub fn lookup(&mut self, keys: &[u64]) -> Result<Lookups> {
        let n = keys.len();
        anyhow::ensure!(
            n <= self.capacity,
            "a batch of {n} keys is over the orchestrated loop's capacity of {}",
            self.capacity
        );
        let nkeys = u32::try_from(n).context("at most 2^32-1 keys")?;
        let bytes: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
        self.keys.write(0, &bytes)?;
        let words = shaders::BTREE_RESULT_WORDS;
        let page_words = 1usize << (self.page_shift - 2);
        let mask = (1u64 << self.page_shift) - 1;
        let root = self.sb.root;
        let init: Vec<u32> = (0..n)
            .flat_map(|_| [0, root as u32, (root >> 32) as u32, 0])
            .collect();
        let start = Instant::now();
        self.results.write_u32s(0, &init)?;
        let mut res = init;
        let (mut t_reads, mut t_dispatch) = (Duration::ZERO, Duration::ZERO);
        let (mut dispatches, mut reads) = (0u32, 0u64);
        let p = BtreeStepParams { nkeys };
        let set = self.pipe.bind(&[
            BufferSlice::whole(&self.pages),
            BufferSlice::whole(&self.keys),
            BufferSlice::whole(&self.results),
            BufferSlice::whole(&self.at),
        ])?;
        // One command buffer for every group of the batch, recorded before the clock starts
        // would be fairer still; it is recorded here, outside the timed levels.
        let mut step =
            self.gpu
                .ctx
                .record_dispatch(&self.pipe, &set, &p.to_bytes(), [p.groups(), 1, 1])?;
        for _level in 0..=64 {
            let active: Vec<(usize, u64)> = (0..n)
                .filter(|&k| res[k * words] == 0)
                .map(|k| {
                    (
                        k,
                        u64::from(res[k * words + 1]) | (u64::from(res[k * words + 2]) << 32),
                    )
                })
                .collect();
            if active.is_empty() {
                break;
            }
            // Groups of keys whose distinct pages fit the cache at once.
            let mut i = 0;
            while i < active.len() {
                let t0 = Instant::now();
                let mut pinned = vec![false; self.cache.slots];
                let mut at = vec![u32::MAX; n];
                let mut todo = Vec::new();
                let mut distinct = 0;
                while i < active.len() {
                    let (k, off) = active[i];
                    let page = off >> self.page_shift;
                    let slot = if let Some(&s) = self.cache.map.get(&page) {
                        if !pinned[s] {
                            pinned[s] = true;
                            distinct += 1;
                            self.cache.page_hits += 1;
                            self.cache.referenced[s] = true;
                        }
                        s
                    } else if distinct < self.cache.slots {
                        match self.cache.place(page, &pinned) {
                            Some(s) => {
                                pinned[s] = true;
                                distinct += 1;
                                todo.push((s, page));
                                s
                            }
                            None => break,
                        }
                    } else {
                        break;
                    };
                    at[k] = (slot * page_words + (off & mask) as usize / 4) as u32;
                    i += 1;
                }
                read_pages(self.f, &self.pages, self.page_shift, self.readers, &todo)?;
                reads += todo.len() as u64;
                self.cache.page_reads += todo.len() as u64;
                self.at.write_u32s(0, &at)?;
                let t1 = Instant::now();
                t_reads += t1 - t0;
                let mut d = step.submit()?;
                self.gpu.wait(&mut d, Duration::from_secs(600))?;
                drop(d);
                t_dispatch += t1.elapsed();
                dispatches += 1;
            }
            res = self.results.read_u32s(0, n * words)?;
        }
        anyhow::ensure!(
            (0..n).all(|k| res[k * words] != 0),
            "more than 64 levels: the index is corrupt"
        );
        let elapsed = start.elapsed();
        Ok(Lookups {
            results: decode(&res)?,
            elapsed,
            dispatches,
            reads,
            phases: vec![
                ("host page reads", t_reads),
                ("dispatch + fence", t_dispatch),
                (
                    "the rest (result reads)",
                    elapsed.saturating_sub(t_reads + t_dispatch),
                ),
            ],
        })
    }
}

/// Reads `todo` (slot, page) pairs into `pages`, split over `readers` threads when there are at
/// least two reads per thread.
fn read_pages(
    f: &File,
    pages: &MappedBuffer,
    page_shift: u32,
    readers: usize,
    todo: &[(usize, u64)],
) -> Result<()> {
    let bytes = 1usize << page_shift;
    let read = |chunk: &[(usize, u64)]| -> Result<()> {
        for &(s, page) in chunk {
            crate::orchestrated::read_into(f, pages, s * bytes, bytes, page << page_shift)
                .with_context(|| format!("reading the page at {}", page << page_shift))?;
        }
        Ok(())
    };
    if todo.len() < 2 * readers || readers == 1 {
        return read(todo);
    }
    let per = todo.len().div_ceil(readers);
    std::thread::scope(|sc| {
        let handles: Vec<_> = todo
            .chunks(per)
            .map(|c| sc.spawn(move || read(c)))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a reader thread panicked")))
        })
    })
}
