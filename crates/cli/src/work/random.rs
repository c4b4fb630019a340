//! Random 4 KiB reads issued by many shader lanes (random_read.comp through the real pump):
//! every lane has one READ in flight, so the queue depth is the number of lanes. Each lane
//! checks every word it reads against the test pattern (`gdio gen file` content).

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use gdio_protocol::FileAccess;
use gdio_pump::Pump;
use gdio_vulkan::shaders::{self, RandomReadParams};
use gdio_vulkan::{
    BufferSlice, ComputePipeline, MappedBuffer, PumpQueue, PumpWindow, QueueBuffers,
};

use crate::gpu::Gpu;
use crate::work::lanes;

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
/// `gdio gen file --seed seed`.
pub fn run(
    gpu: &Gpu,
    path: &Path,
    seed: u32,
    lanes: u32,
    reads: u32,
    read_len: u32,
) -> Result<RandomRun> {
    let ctx = &gpu.ctx;
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata()?.len();
    if len < u64::from(read_len) || len / 4 > u64::from(u32::MAX) {
        anyhow::bail!("the random-read file must be between {read_len} bytes and 16 GiB");
    }
    let queue = PumpQueue::new(QueueBuffers::new(ctx, lanes, &gpu.plan)?);
    let window = PumpWindow::new(MappedBuffer::new(
        ctx,
        lanes as usize * read_len as usize,
        gpu.plan.read_window,
    )?);
    let state = lanes::state_buffer(ctx, lanes)?;
    let pipe = ComputePipeline::new(ctx, shaders::RANDOM_READ, 4, 36)?;
    let pump = gpu.spawn_pump(|mode| {
        Pump::builder()
            .queue(queue.clone())
            .window(window.clone(), mode, window.read_access())
            .name("gdio-pump-random")
    })?;
    let fid = pump.add_file(
        f,
        FileAccess {
            readable: true,
            writable: false,
        },
    )?;
    let p = RandomReadParams {
        file: fid.0,
        window: 0,
        file_words: (len / 4) as u32,
        read_len,
        reads,
        lanes,
        budgets: gpu.budgets,
        seed,
    };
    let set = pipe.bind(&[
        queue.request_slice(),
        queue.completion_slice(),
        window.slice(),
        BufferSlice::whole(&state),
    ])?;
    gpu.warm(&pipe, &set, &RandomReadParams { lanes: 0, ..p }.to_bytes())?;
    let driven = gpu.drive(
        &pipe,
        &set,
        &p.to_bytes(),
        lanes.div_ceil(shaders::LANES_PER_GROUP),
        || Ok(lanes::check(&state, lanes, "read")?.1),
        || pump.stats().completed,
    );
    drop(set);
    pump.stop()?;
    let driven = driven?;
    let (states, _) = lanes::check(&state, lanes, "read")?;
    Ok(RandomRun {
        reads: states.iter().map(|s| u64::from(s.progress)).sum(),
        mismatches: states.iter().map(|s| u64::from(s.extra[0])).sum(),
        elapsed: driven.elapsed,
    })
}
