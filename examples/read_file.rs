//! A shader reads a file and sums it: `cargo run -p gdio-examples --example read_file [FILE]`.
//! The shader (shaders/read_file.comp) asks for the file's chunks itself, through gdio's slot
//! queue; a pump thread serves them with io_uring into a GPU-visible window. The CPU checks the
//! sum. Without FILE it makes a 1 MiB file of its own.
use std::error::Error;
use std::path::Path;
use std::time::Duration;

use gdio::pump::{Pump, WindowMode};
use gdio::vulkan::{glsl::Budgets, BufferSlice, ComputePipeline, Context, MappedBuffer};
use gdio::vulkan::{Placement, PlacementPlan, QueueBuffers, Redispatch};
use gdio::{protocol::FileAccess, PumpQueue, PumpWindow};

const SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/read_file.spv"));
const LANES: u32 = 8; // the shader's local_size_x, one workgroup
const CHUNK: u32 = 64 << 10;

/// The file's sum as the shader computes it: its little-endian words, the last zero-padded.
pub fn cpu_sum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |s, w| {
        let mut b = [0u8; 4];
        b[..w.len()].copy_from_slice(w);
        s.wrapping_add(u32::from_le_bytes(b))
    })
}

/// Sums the file at `path` on the GPU of `ctx`, the shader reading it through gdio.
pub fn gpu_sum(ctx: &Context, path: &Path) -> Result<u32, Box<dyn Error>> {
    let len = u32::try_from(std::fs::metadata(path)?.len())?;
    // Where a running shader sees host writes (ReBAR on NVIDIA): `gdio::probe` measures it.
    let plan = PlacementPlan::defaults();
    let queue = PumpQueue::new(QueueBuffers::new(ctx, LANES, &plan)?);
    let bytes = (LANES * CHUNK) as usize;
    let window = PumpWindow::new(MappedBuffer::new(ctx, bytes, plan.read_window)?);
    let state = MappedBuffer::new(ctx, LANES as usize * 32, Placement::HostCached)?;
    let pump = Pump::builder()
        .queue(queue.clone())
        .file(std::fs::File::open(path)?, FileAccess::READ_ONLY)
        .window(window.clone(), WindowMode::Auto, window.read_access())
        .spawn()?;
    let pipe = ComputePipeline::new(ctx, SPV, 4, 16)?;
    let slices = [
        queue.request_slice(),
        queue.completion_slice(),
        window.slice(),
        BufferSlice::whole(&state),
    ];
    let set = pipe.bind(&slices)?;
    let b = Budgets::for_device(ctx.info());
    let push: Vec<u8> = [len, CHUNK, b.iter_budget, b.wait_budget]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    // On lavapipe a dispatch ends when its loop budget is spent; dispatch again until done.
    let lane_status = |l: u32| state.load_u32_acquire(l as usize * 8 + 2);
    let limits = Redispatch::new(Duration::from_secs(60), 100_000);
    ctx.dispatch_until(&pipe, &set, &push, [1; 3], limits, || {
        (0..LANES).all(|l| lane_status(l) != 0)
    })?;
    drop(set);
    pump.stop()?;
    let mut sum = 0u32;
    for l in 0..LANES {
        if lane_status(l) != 1 {
            let r = state.load_u32(l as usize * 8 + 3) as i32;
            return Err(format!("lane {l}: a READ failed with {r}").into());
        }
        sum = sum.wrapping_add(state.load_u32(l as usize * 8 + 1));
    }
    Ok(sum)
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => p.into(),
        None => {
            let p = std::env::temp_dir().join("gdio-read-file-example.bin");
            std::fs::write(
                &p,
                (0..1u32 << 18)
                    .flat_map(|i| i.to_le_bytes())
                    .collect::<Vec<_>>(),
            )?;
            p
        }
    };
    let ctx = Context::new()?;
    let gpu = gpu_sum(&ctx, &path)?;
    let cpu = cpu_sum(&std::fs::read(&path)?);
    println!(
        "{}: GPU sum {gpu:#010x}, CPU sum {cpu:#010x} on {}",
        path.display(),
        ctx.info().name
    );
    if gpu != cpu {
        return Err("the GPU's sum differs from the CPU's".into());
    }
    Ok(())
}
