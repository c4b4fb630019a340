//! Random 4 KiB reads issued by many shader lanes (scaling_read.comp, i.e. random_read.comp
//! over one or more queues, through the real pump or one pump per queue):
//! every lane has one READ in flight, so the queue depth is the number of lanes. Each lane
//! checks every word it reads against the test pattern (`gdio gen file` content).

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use crate::shaders::{self, RandomReadParams, ScalingReadParams};
use anyhow::{Context as _, Result};
use gdio::vulkan::{BufferSlice, ComputePipeline, MappedBuffer};
use gdio::PumpWindow;

use crate::gpu::Gpu;
use crate::lanes;
use crate::pumps::PumpGroup;

/// A random-read run's outcome.
#[derive(Debug, Clone, Copy)]
pub struct RandomRun {
    /// READs done.
    pub reads: u64,
    /// Words that did not match the pattern (must be 0).
    pub mismatches: u64,
    /// Dispatch time.
    pub elapsed: Duration,
}

/// `reads` READs of `read_len` bytes per lane, `lanes` lanes, over the file at `path` made by
/// `gdio gen file --seed seed`, with the lanes spread over `queues` queues in one dispatch (lane
/// L uses queue L % queues), each queue served by its own pump thread.
pub fn run_queues(
    gpu: &Gpu,
    path: &Path,
    seed: u32,
    lanes: u32,
    reads: u32,
    read_len: u32,
    queues: u32,
) -> Result<RandomRun> {
    let ctx = &gpu.ctx;
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .len();
    if len < u64::from(read_len) || len / 4 > u64::from(u32::MAX) {
        anyhow::bail!("the random-read file must be between {read_len} bytes and 16 GiB");
    }
    let queues = queues.clamp(1, lanes.max(1));
    let window = PumpWindow::new(MappedBuffer::new(
        ctx,
        lanes as usize * read_len as usize,
        gpu.plan.read_window,
    )?);
    let state = lanes::state_buffer(ctx, lanes)?;
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let pumps = PumpGroup::spawn(
        gpu,
        queues,
        lanes.div_ceil(queues),
        &window,
        &f,
        "gdio-pump-random",
    )?;
    let group = pumps.group();
    let p = ScalingReadParams {
        read: RandomReadParams {
            file: 0,
            window: 0,
            file_words: (len / 4) as u32,
            read_len,
            reads,
            lanes,
            budgets: gpu.budgets,
            seed,
        },
        queues,
        req_stride: group.request_stride_words(),
        cmp_stride: group.completion_stride_words(),
    };
    let pipe = ComputePipeline::new(ctx, shaders::SCALING_READ, 4, p.to_bytes().len() as u32)?;
    let set = pipe.bind(&[
        group.request_slice(),
        group.completion_slice(),
        window.slice(),
        BufferSlice::whole(&state),
    ])?;
    let idle = ScalingReadParams {
        read: RandomReadParams { lanes: 0, ..p.read },
        ..p
    };
    gpu.warm(&pipe, &set, &idle.to_bytes())?;
    let driven = gpu.drive(
        &pipe,
        &set,
        &p.to_bytes(),
        lanes.div_ceil(shaders::LANES_PER_GROUP),
        || Ok(lanes::check(&state, lanes, "read")?.1),
        || pumps.completed(),
    );
    drop(set);
    pumps.stop()?;
    let driven = driven?;
    let (states, _) = lanes::check(&state, lanes, "read")?;
    Ok(RandomRun {
        reads: states.iter().map(|s| u64::from(s.progress)).sum(),
        mismatches: states.iter().map(|s| u64::from(s.extra[0])).sum(),
        elapsed: driven.elapsed,
    })
}
