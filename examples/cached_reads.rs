//! Scattered reads through the GPU page cache:
//! `cargo run -p gdio-examples --example cached_reads [FILE]`. 64 shader lanes look up 32-bit
//! items of a file at scattered indices (shaders/cached_reads.comp), asking gdio's page cache
//! (`gdio_cache.glsl`) for the page of each: hits stay on the GPU, a miss READs its page once
//! through the pump however many lanes want it. The CPU checks every lane's sum and prints the
//! cache's counters. Without FILE it makes a 4 MiB file of its own; the cache holds 256 KiB.
use std::error::Error;
use std::path::Path;
use std::time::Duration;

use gdio::protocol::cache::CacheLayout;
use gdio::pump::{Pump, WindowMode};
use gdio::vulkan::{glsl::Budgets, BufferSlice, ComputePipeline, Context, MappedBuffer};
use gdio::vulkan::{CacheCounters, Placement, PlacementPlan, QueueBuffers, Redispatch};
use gdio::{protocol::FileAccess, PumpCache, PumpQueue};

const SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cached_reads.spv"));
const LANES: u32 = 64; // 8 workgroups of the shader's 8
const PER_LANE: u32 = 200;

/// Item `j` of `lane`, as the shader computes it (skewed towards the file's start).
fn item_of(lane: u32, j: u32, items: u32) -> u32 {
    let mut x = lane
        .wrapping_mul(0x9E37_79B9)
        .wrapping_add(j.wrapping_mul(0x85EB_CA6B));
    x ^= x >> 15;
    x = x.wrapping_mul(0x2C1B_3C6D);
    x ^= x >> 12;
    x % (items >> (x >> 29)).max(1)
}

/// Each lane's sum on the GPU through the cache, and the cache's counters.
pub fn gpu_sums(ctx: &Context, path: &Path) -> Result<(Vec<u32>, CacheCounters), Box<dyn Error>> {
    let items = u32::try_from(std::fs::metadata(path)?.len() / 4)?;
    let plan = PlacementPlan::defaults();
    let queue = PumpQueue::new(QueueBuffers::new(ctx, LANES, &plan)?);
    // 64 pages of 4 KiB, 8 ways: a cache where a running shader sees the pump's writes.
    let cache = PumpCache::new(ctx, CacheLayout::new(256 << 10, 4096, 8)?, &plan)?;
    let state = MappedBuffer::new(ctx, LANES as usize * 32, Placement::HostCached)?;
    let pump = Pump::builder()
        .queue(queue.clone())
        .file(std::fs::File::open(path)?, FileAccess::READ_ONLY)
        .window(
            cache.pages().clone(),
            WindowMode::Auto,
            cache.pages().read_access(),
        )
        .spawn()?;
    let pipe = ComputePipeline::new(ctx, SPV, 5, 16)?;
    let slices = [
        queue.request_slice(),
        queue.completion_slice(),
        cache.slice(),
        cache.pages_slice(),
        BufferSlice::whole(&state),
    ];
    let set = pipe.bind(&slices)?;
    let b = Budgets::for_device(ctx.info());
    let step_budget = if ctx.info().is_cpu() {
        500
    } else {
        b.wait_budget
    };
    let push: Vec<u8> = [items, PER_LANE, b.iter_budget, step_budget]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let lane_status = |l: u32| state.load_u32_acquire(l as usize * 8 + 2);
    let limits = Redispatch::new(Duration::from_secs(60), 100_000);
    ctx.dispatch_until(&pipe, &set, &push, [LANES / 8, 1, 1], limits, || {
        (0..LANES).all(|l| lane_status(l) != 0)
    })?;
    drop(set);
    pump.stop()?;
    let mut sums = Vec::new();
    for l in 0..LANES {
        if lane_status(l) != 1 {
            let r = state.load_u32(l as usize * 8 + 3) as i32;
            return Err(format!("lane {l}: the cache answered {r}").into());
        }
        sums.push(state.load_u32(l as usize * 8 + 1));
    }
    Ok((sums, cache.counters()))
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => p.into(),
        None => {
            let p = std::env::temp_dir().join("gdio-cached-reads-example.bin");
            let words: Vec<u8> = (0..1u32 << 20)
                .flat_map(|i| (i ^ 0x5A5A_5A5A).to_le_bytes())
                .collect();
            std::fs::write(&p, words)?;
            p
        }
    };
    let data = std::fs::read(&path)?;
    let items = u32::try_from(data.len() / 4)?;
    if items == 0 {
        return Err("the file holds no 32-bit item".into());
    }
    let ctx = Context::new()?;
    let (sums, k) = gpu_sums(&ctx, &path)?;
    let word =
        |i: u32| u32::from_le_bytes(data[4 * i as usize..4 * i as usize + 4].try_into().unwrap());
    for (lane, sum) in sums.iter().enumerate() {
        let cpu = (0..PER_LANE).fold(0u32, |s, j| {
            s.wrapping_add(word(item_of(lane as u32, j, items)))
        });
        if cpu != *sum {
            return Err(format!("lane {lane}: GPU sum {sum:#010x}, CPU sum {cpu:#010x}").into());
        }
    }
    println!(
        "{}: {} lanes × {PER_LANE} scattered items, every sum equal to the CPU's on {}; cache: {} hits, {} misses ({} READs), {} coalesced waits, {} evictions",
        path.display(),
        LANES,
        ctx.info().name,
        k.hits,
        k.misses,
        k.reads,
        k.coalesced,
        k.evictions
    );
    Ok(())
}
