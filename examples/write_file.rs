//! A shader writes a file and FSYNCs it: `cargo run -p gdio-examples --example write_file [FILE]`.
//!
//! The shader (shaders/write_file.comp) fills GPU-visible memory with a pattern and asks, through
//! gdio's slot queue, for each chunk to be written and the file to be synced; a pump thread serves
//! it with io_uring. The CPU reads the file back and checks every word.
use std::error::Error;
use std::time::Duration;

use gdio::protocol::FileAccess;
use gdio::pump::{Pump, WindowMode};
use gdio::vulkan::glsl::Budgets;
use gdio::vulkan::{BufferSlice, ComputePipeline, Context, MappedBuffer, Placement, QueueBuffers};
use gdio::vulkan::{PlacementPlan, Redispatch};
use gdio::{PumpQueue, PumpWindow};

const SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/write_file.spv"));
const LANES: u32 = 8;
const CHUNK: u32 = 16 << 10;
const LEN: u32 = LANES * CHUNK * 4;
const SEED: u32 = 0x5EED;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || std::env::temp_dir().join("gdio-write-file-example.bin"),
        Into::into,
    );
    let ctx = Context::new()?;
    let plan = PlacementPlan::defaults();
    let queue = PumpQueue::new(QueueBuffers::new(&ctx, LANES, &plan)?);
    // The shader writes it and the host reads it: host memory (see docs/glsl.md).
    let window = PumpWindow::new(MappedBuffer::new(
        &ctx,
        (LANES * CHUNK) as usize,
        plan.write_window,
    )?);
    let state = MappedBuffer::new(&ctx, LANES as usize * 32, Placement::HostCached)?;
    let file = std::fs::File::create(&path)?;
    let pump = Pump::builder()
        .queue(queue.clone())
        .file(file, FileAccess::WRITE_ONLY)
        .window(window.clone(), WindowMode::Auto, window.write_access())
        .spawn()?;
    let pipe = ComputePipeline::new(&ctx, SPV, 4, 20)?;
    let slices = [
        queue.request_slice(),
        queue.completion_slice(),
        window.slice(),
        BufferSlice::whole(&state),
    ];
    let set = pipe.bind(&slices)?;
    let b = Budgets::for_device(ctx.info());
    let push: Vec<u8> = [LEN, CHUNK, SEED, b.iter_budget, b.wait_budget]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let lane_status = |l: u32| state.load_u32_acquire(l as usize * 8 + 1);
    let limits = Redispatch::new(Duration::from_secs(60), 100_000);
    ctx.dispatch_until(&pipe, &set, &push, [1, 1, 1], limits, || {
        (0..LANES).all(|l| lane_status(l) != 0)
    })?;
    drop(set);
    pump.stop()?;
    for l in 0..LANES {
        if lane_status(l) != 1 {
            let r = state.load_u32(l as usize * 8 + 2) as i32;
            return Err(format!("lane {l}: a request failed with {r}").into());
        }
    }
    let data = std::fs::read(&path)?;
    let want: Vec<u8> = (0..LEN / 4)
        .flat_map(|i| (i.wrapping_mul(0x9E37_79B1) ^ SEED).to_le_bytes())
        .collect();
    if data != want {
        return Err(format!(
            "{}: the file differs from what the shader wrote",
            path.display()
        )
        .into());
    }
    println!(
        "{}: {} bytes written by the shader, synced, and checked",
        path.display(),
        data.len()
    );
    Ok(())
}
