//! `gdio lookup` on the GPU: btree_lookup.comp, one lane per key walk, every node a READ the
//! lane chose from the node before.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use crate::shaders::{self, BtreeLookupParams, BtreeStatus, BTREE_NODE_BYTES};
use anyhow::{Context as _, Result};
use gdio::vulkan::{
    BufferSlice, ComputePipeline, DescriptorSet, MappedBuffer, Placement, QueueGroup,
};
use gdio::PumpWindow;

use crate::btree::{Found, Superblock};
use crate::gpu::Gpu;
use crate::lanes;
use crate::pumps::PumpGroup;

/// One key's result from a GPU (or CPU-orchestrated) walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyResult {
    /// Found with a value, or absent.
    pub found: Found,
    /// Nodes read.
    pub nodes: u32,
}

/// A batch of lookups.
#[derive(Debug, Clone)]
pub struct Lookups {
    /// Per key, in input order.
    pub results: Vec<KeyResult>,
    /// Time from the first dispatch to the last completion.
    pub elapsed: Duration,
    /// Dispatches.
    pub dispatches: u32,
    /// Node READs.
    pub reads: u64,
    /// Where the time went, in order (names say what each part is).
    pub phases: Vec<(&'static str, Duration)>,
}

/// Default lanes for a device.
#[must_use]
pub fn default_lanes(gpu: &Gpu) -> u32 {
    if gpu.is_cpu() {
        32
    } else {
        1024
    }
}

/// Uploads keys (u64, lo word first) into a host-cached buffer.
pub fn key_buffer(gpu: &Gpu, keys: &[u64]) -> Result<MappedBuffer> {
    let b = MappedBuffer::new(&gpu.ctx, keys.len().max(1) * 8, Placement::HostCached)?;
    let bytes: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
    b.write(0, &bytes)?;
    Ok(b)
}

/// Decodes the shaders' result words (4 per key).
pub fn decode(words: &[u32]) -> Result<Vec<KeyResult>> {
    words
        .chunks(shaders::BTREE_RESULT_WORDS)
        .enumerate()
        .map(|(i, w)| decode_one(i, [w[0], w[1], w[2], w[3]]))
        .collect()
}

/// Decodes key `i`'s result: status, value (or offset) lo, hi, nodes read.
pub fn decode_one(i: usize, w: [u32; 4]) -> Result<KeyResult> {
    let v = u64::from(w[1]) | (u64::from(w[2]) << 32);
    match BtreeStatus::from_word(w[0]) {
        BtreeStatus::Found => Ok(KeyResult {
            found: Found::Value(v),
            nodes: w[3],
        }),
        BtreeStatus::Absent => Ok(KeyResult {
            found: Found::Absent,
            nodes: w[3],
        }),
        BtreeStatus::Active => anyhow::bail!("key {i}: the walk did not finish"),
        BtreeStatus::Failed => anyhow::bail!(
            "key {i}: reading node {} of its walk failed: result {} (is the index complete and readable?)",
            w[3],
            lanes::describe_result(w[1] as i32)
        ),
        BtreeStatus::Corrupt => anyhow::bail!(
            "key {i}: read a node that is not a B-tree node (kind {}, {} keys): is the index a gdio B-tree?",
            w[1],
            w[2]
        ),
    }
}

/// The lanes of a lookup kernel and the node windows each has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkLanes {
    /// Lanes (walkers).
    pub lanes: u32,
    /// Node windows per lane (btree_serve.comp uses them in turn; btree_lookup.comp one).
    pub windows_per_lane: u32,
}

/// What both lookup kernels (btree_lookup, btree_serve) walk with: a window of
/// `windows_per_lane` nodes per lane, `pumps` pump threads filling it (one queue each, every
/// one with `file`), and the push constants describing them (`nkeys`: the keys, or the server's
/// capacity).
pub fn walkers(
    gpu: &Gpu,
    file: &File,
    sb: &Superblock,
    walk: WalkLanes,
    pumps: u32,
    nkeys: u32,
    name: &str,
) -> Result<(Arc<PumpWindow>, PumpGroup, BtreeLookupParams)> {
    let WalkLanes {
        lanes,
        windows_per_lane,
    } = walk;
    let queues = pumps.clamp(1, lanes);
    let window = PumpWindow::new(MappedBuffer::new(
        &gpu.ctx,
        lanes as usize * windows_per_lane.max(1) as usize * BTREE_NODE_BYTES,
        gpu.plan.read_window,
    )?);
    let pumps = PumpGroup::spawn(gpu, queues, lanes.div_ceil(queues), &window, file, name)?;
    let params = BtreeLookupParams {
        file: 0,
        window: 0,
        nkeys,
        lanes,
        root: sb.root,
        budgets: gpu.budgets,
        queues,
        queues_at: pumps.strides(),
    };
    Ok((window, pumps, params))
}

/// Binds a lookup kernel (btree_lookup or btree_serve) to the walkers' queues and window and to
/// `buffers` (state, then keys or mailbox, then results), and runs its empty warm-up dispatch
/// (`params` with no lanes), so that the shader's compilation is not timed.
pub fn bind_walk<'a>(
    gpu: &Gpu,
    pipe: &'a ComputePipeline,
    group: &'a QueueGroup,
    window: &'a PumpWindow,
    buffers: [&'a MappedBuffer; 3],
    params: &BtreeLookupParams,
) -> Result<DescriptorSet<'a>> {
    let set = pipe.bind(&[
        group.request_slice(),
        group.completion_slice(),
        window.slice(),
        BufferSlice::whole(buffers[0]),
        BufferSlice::whole(buffers[1]),
        BufferSlice::whole(buffers[2]),
    ])?;
    // No lanes; the serve kernel's extra words (its windows per lane) as zeros.
    let mut push = BtreeLookupParams {
        lanes: 0,
        ..*params
    }
    .to_bytes();
    push.resize(pipe.push_constant_bytes() as usize, 0);
    gpu.warm(pipe, &set, &push)?;
    Ok(set)
}

/// Looks `keys` up in the index `file` (superblock `sb`) with `lanes` shader lanes and `pumps`
/// pump threads, calling `progress(keys done, keys)` while it runs (keys done estimated from
/// the node READs completed).
pub fn lookup(
    gpu: &Gpu,
    file: File,
    sb: &Superblock,
    keys: &[u64],
    lanes: u32,
    pumps: u32,
    mut progress: impl FnMut(u64, u64),
) -> Result<Lookups> {
    let ctx = &gpu.ctx;
    let nkeys = u32::try_from(keys.len()).context("at most 2^32-1 keys per lookup run")?;
    // One workgroup per lane on GPUs: at most 65,535, the workgroup count every Vulkan
    // device accepts.
    let lanes = lanes.clamp(1, 65_535).min(nkeys.max(1));
    let key_buf = key_buffer(gpu, keys)?;
    let results = MappedBuffer::new(
        ctx,
        keys.len().max(1) * shaders::BTREE_RESULT_WORDS * 4,
        Placement::HostCached,
    )?;
    let state = lanes::state_buffer(ctx, lanes)?;
    let pipe = ComputePipeline::new(ctx, shaders::BTREE_LOOKUP, 6, 44)?;
    let walk = WalkLanes {
        lanes,
        windows_per_lane: 1,
    };
    let (window, pumps, params) = walkers(gpu, &file, sb, walk, pumps, nkeys, "gdio-pump-lookup")?;
    let group = pumps.group();
    let set = bind_walk(
        gpu,
        &pipe,
        &group,
        &window,
        [&state, &key_buf, &results],
        &params,
    )?;
    let reads0 = pumps.completed();
    let driven = gpu.drive(
        &pipe,
        &set,
        &params.to_bytes(),
        lanes.div_ceil(shaders::walker_lanes_per_group(gpu.is_cpu())),
        || Ok(lanes::check(&state, lanes, "key")?.1),
        || {
            let r = pumps.completed() - reads0;
            let keys = u64::from(nkeys);
            progress((r / u64::from(sb.height.max(1))).min(keys), keys);
            r
        },
    );
    let reads = pumps.completed() - reads0;
    drop(set);
    pumps.stop()?;
    let driven = driven?;
    let words = results.read_u32s(0, keys.len() * shaders::BTREE_RESULT_WORDS)?;
    let first = driven.first_progress.unwrap_or(driven.elapsed);
    let last = driven
        .last_progress
        .unwrap_or(driven.elapsed)
        .min(driven.elapsed);
    Ok(Lookups {
        results: decode(&words)?,
        elapsed: driven.elapsed,
        dispatches: driven.dispatches,
        reads,
        phases: if gpu.fence_wait == gdio::vulkan::FenceWait::Spin {
            vec![
                ("submit → first node read done", first),
                ("node reads", last.saturating_sub(first)),
                (
                    "last node read → fence noticed",
                    driven.elapsed.saturating_sub(last),
                ),
            ]
        } else {
            vec![(
                "submit → fence (blocking wait: no breakdown)",
                driven.elapsed,
            )]
        },
    })
}
