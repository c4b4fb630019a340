//! End to end: the GLSL device side with the real pump (`gdio-pump`) and io_uring, on real
//! files. Windows and queue regions are gdio-vulkan buffers placed by `PlacementPlan::defaults`
//! (on NVIDIA: completion region and READ windows in ReBAR, served with plain READ).
//!
//! Drop order: each test stops the pump (which drains the ring) before the windows and queue
//! buffers are dropped; the pump also holds an `Arc` of each until its thread ends.

mod common;

use std::io::Write;

use common::{gpu, run_with_pump as run, TIMEOUT};
use gdio::protocol::codes::ResultCode;
use gdio::protocol::{FileAccess, Op, WindowAccess};
use gdio::pump::{Pump, WindowMode};
use gdio::vulkan::{
    BufferSlice, ComputePipeline, Context, MappedBuffer, Placement, PlacementPlan, QueueBuffers,
    Redispatch,
};
use gdio::{PumpQueue, PumpWindow};
use gdio_workloads::patterns;
use gdio_workloads::shaders::{
    self, Budgets, Chunks, LaneState, LaneStatus, StreamSumParams, WriteFileParams,
};

type Queue = PumpQueue;
type Window = PumpWindow;

const RW: FileAccess = FileAccess {
    readable: true,
    writable: true,
};

fn access(w: &Window) -> WindowAccess {
    w.read_access()
}

fn temp_file(content: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    f.flush().unwrap();
    f
}

#[test]
fn stream_sum_through_the_pump_matches_the_cpu() {
    let g = gpu();
    let ctx = &g.ctx;
    let plan = PlacementPlan::defaults();
    let (lanes, chunk) = (8u32, 64u32 << 10);
    let slots = 2 * lanes;
    let queue = PumpQueue::new(QueueBuffers::new(ctx, slots, &plan).unwrap());
    let window = PumpWindow::new(
        MappedBuffer::new(ctx, (slots * chunk) as usize, plan.read_window).unwrap(),
    );
    let pump = Pump::builder()
        .queue(queue.clone())
        .window(window.clone(), WindowMode::Auto, access(&window))
        .spawn()
        .unwrap();
    for len in [0usize, 1, 4095, 4097, (5 << 20) + 3] {
        let content = patterns::file_bytes(len, len as u32);
        let file = temp_file(&content);
        let fid = pump
            .add_file(std::fs::File::open(file.path()).unwrap(), RW)
            .unwrap();
        window.fill(0, window.len(), 0x5A).unwrap();
        let p = StreamSumParams {
            file: fid.0,
            window: 0,
            chunks: Chunks::new(len as u64, chunk),
            lanes,
            budgets: Budgets::for_device(ctx.info()),
        };
        let states = run(
            ctx,
            &pump,
            &queue,
            &window,
            shaders::STREAM_SUM,
            &p.to_bytes(),
            lanes,
        );
        for (i, s) in states.iter().enumerate() {
            assert_eq!(s.status, LaneStatus::Done, "len {len} lane {i}: {s:?}");
        }
        let sum = states
            .iter()
            .fold(len as u32, |a, s| a.wrapping_add(s.extra[0]));
        assert_eq!(sum, patterns::sum32(&content), "checksum of {len} bytes");
        pump.remove_file(fid).unwrap();
    }
    let report = pump.stop().unwrap();
    eprintln!(
        "pump: {:?} elapsed, {:?} cpu, {} turns, {} parks, reads {:?}",
        report.elapsed, report.cpu_time, report.turns, report.parks, report.by_op[0]
    );
}

#[test]
fn write_file_through_the_pump_lands_on_disk() {
    let g = gpu();
    let ctx = &g.ctx;
    let plan = PlacementPlan::defaults();
    let (lanes, chunk, len) = (8u32, 16u32 << 10, 300_007u64);
    let queue = PumpQueue::new(QueueBuffers::new(ctx, lanes, &plan).unwrap());
    let window = PumpWindow::new(
        MappedBuffer::new(ctx, (lanes * chunk) as usize, plan.write_window).unwrap(),
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    let fd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file.path())
        .unwrap();
    let pump = Pump::builder()
        .queue(queue.clone())
        .window(window.clone(), WindowMode::Auto, access(&window))
        .file(fd, RW)
        .spawn()
        .unwrap();
    let p = WriteFileParams {
        file: 0,
        window: 0,
        chunks: Chunks::new(len, chunk),
        lanes,
        budgets: Budgets::for_device(ctx.info()),
        seed: 11,
    };
    let states = run(
        ctx,
        &pump,
        &queue,
        &window,
        shaders::WRITE_FILE,
        &p.to_bytes(),
        lanes,
    );
    let report = pump.stop().unwrap();
    for (i, s) in states.iter().enumerate() {
        assert_eq!(s.status, LaneStatus::Done, "lane {i}: {s:?}");
        assert_eq!(s.extra[0], 1, "lane {i} finished");
    }
    // One FSYNC for the file, from the lane whose WRITEs completed last; every lane counted.
    let fsyncs = report
        .by_op
        .iter()
        .find(|(op, _)| *op == Op::Fsync)
        .map(|(_, c)| c.ok + c.failed);
    assert_eq!(fsyncs, Some(1), "{:?}", report.by_op);
    assert_eq!(states[0].extra[1], lanes, "lanes counted");
    let written = std::fs::read(file.path()).unwrap();
    assert_eq!(written.len() as u64, len);
    assert!(
        written == patterns::file_bytes(len as usize, 11),
        "file content differs from the pattern"
    );
}

#[test]
fn the_shader_sees_the_pumps_error_results() {
    let g = gpu();
    let ctx = &g.ctx;
    let plan = PlacementPlan::defaults();
    let (lanes, chunk) = (8u32, 4096u32);
    let slots = 2 * lanes;
    let queue = PumpQueue::new(QueueBuffers::new(ctx, slots, &plan).unwrap());
    let window = PumpWindow::new(
        MappedBuffer::new(ctx, (slots * chunk) as usize, plan.read_window).unwrap(),
    );
    // Window 1 is too small for the slots' regions: requests into it are OUT_OF_WINDOW.
    let small = PumpWindow::new(MappedBuffer::new(ctx, 4096, plan.read_window).unwrap());
    let content = patterns::file_bytes(64 << 10, 3);
    let file = temp_file(&content);
    let pump = Pump::builder()
        .queue(queue.clone())
        .window(window.clone(), WindowMode::Auto, access(&window))
        .window(small.clone(), WindowMode::Auto, access(&small))
        .file(std::fs::File::open(file.path()).unwrap(), RW)
        .spawn()
        .unwrap();
    let base = StreamSumParams {
        file: 0,
        window: 0,
        chunks: Chunks::new(content.len() as u64, chunk),
        lanes,
        budgets: Budgets::for_device(ctx.info()),
    };
    let cases = [
        (
            "unknown file",
            StreamSumParams { file: 9, ..base },
            ResultCode::BadFile.value(),
        ),
        (
            "unknown window",
            StreamSumParams { window: 5, ..base },
            ResultCode::BadWindow.value(),
        ),
        (
            "out of window",
            StreamSumParams { window: 1, ..base },
            ResultCode::OutOfWindow.value(),
        ),
        (
            "past EOF",
            StreamSumParams {
                chunks: Chunks::new(68 << 10, chunk),
                ..base
            },
            0,
        ),
    ];
    for (name, p, want) in cases {
        let states = run(
            ctx,
            &pump,
            &queue,
            &window,
            shaders::STREAM_SUM,
            &p.to_bytes(),
            lanes,
        );
        let failed: Vec<_> = states
            .iter()
            .filter(|s| s.status == LaneStatus::Failed)
            .collect();
        assert!(!failed.is_empty(), "{name}: no lane failed: {states:?}");
        if name == "out of window" {
            // Slot 0's region fits the small window; every other slot's does not.
            assert!(failed.iter().all(|s| s.error == want), "{name}: {failed:?}");
        } else {
            assert!(
                failed.iter().all(|s| s.error == want),
                "{name}: want {want}, got {failed:?}"
            );
        }
        if name == "past EOF" {
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].at, 16, "the chunk past the end");
        }
    }
    pump.stop().unwrap();
}

/// Runs nop_pingpong (bindings: requests, completions, state) with a running pump.
fn run_nops(
    ctx: &Context,
    queue: &Queue,
    p: &shaders::NopParams,
    lanes: u32,
) -> (Vec<LaneState>, std::time::Duration) {
    let state = MappedBuffer::new(
        ctx,
        lanes as usize * shaders::STATE_WORDS * 4,
        Placement::HostCached,
    )
    .unwrap();
    let slices = [
        queue.request_slice(),
        queue.completion_slice(),
        BufferSlice::whole(&state),
    ];
    let push = p.to_bytes();
    let pipe = ComputePipeline::new(ctx, shaders::NOP_PINGPONG, 3, push.len() as u32).unwrap();
    let set = pipe.bind(&slices).unwrap();
    let start = std::time::Instant::now();
    ctx.dispatch_until(
        &pipe,
        &set,
        &push,
        [lanes.div_ceil(8), 1, 1],
        Redispatch::new(TIMEOUT, 100_000),
        // Lanes past active_lanes return at once and never change their state.
        || LaneState::all_finished(&LaneState::read_all(&state, p.active_lanes).unwrap()),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", LaneState::read_all(&state, p.active_lanes)));
    (
        LaneState::read_all(&state, p.active_lanes).unwrap(),
        start.elapsed(),
    )
}

#[test]
fn nop_and_fence_round_trips_through_the_pump() {
    let g = gpu();
    let ctx = &g.ctx;
    // NOPs are published without the release fence, FENCEs with it: both must complete with 0,
    // one after another, through the real pump.
    for fenced in [false, true] {
        let queue = PumpQueue::new(QueueBuffers::new(ctx, 8, &PlacementPlan::defaults()).unwrap());
        let pump = Pump::builder().queue(queue.clone()).spawn().unwrap();
        let count = 2000;
        let p = shaders::NopParams {
            count,
            active_lanes: 1,
            budgets: Budgets::for_device(ctx.info()),
            fenced,
            read_len: 0,
        };
        let (states, elapsed) = run_nops(ctx, &queue, &p, 8);
        let report = pump.stop().unwrap();
        assert_eq!(states[0].status, LaneStatus::Done, "{:?}", states[0]);
        assert_eq!(states[0].progress, count);
        let op = if fenced { Op::Fence } else { Op::Nop };
        assert_eq!(report.op(op).ok, u64::from(count), "{op:?}: {report:?}");
        eprintln!(
            "{} round trip through the pump, one lane: {:.2} us (incl. {} dispatches)",
            if fenced { "FENCE" } else { "NOP" },
            elapsed.as_secs_f64() * 1e6 / f64::from(count),
            states[0].extra[0]
        );
    }
}

#[test]
fn stopping_the_pump_mid_run_ends_the_shader() {
    let g = gpu();
    let ctx = &g.ctx;
    let queue = PumpQueue::new(QueueBuffers::new(ctx, 8, &PlacementPlan::defaults()).unwrap());
    let pump = Pump::builder().queue(queue.clone()).spawn().unwrap();
    let mut budgets = Budgets::for_device(ctx.info());
    budgets.wait_budget = budgets
        .wait_budget
        .max(50_000)
        .min(budgets.iter_budget - 100);
    let p = shaders::NopParams {
        count: u32::MAX,
        active_lanes: 8,
        budgets,
        fenced: false,
        read_len: 0,
    };
    let start = std::time::Instant::now();
    let states = std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            pump.stop().unwrap();
        });
        run_nops(ctx, &queue, &p, 8).0
    });
    assert!(start.elapsed() < TIMEOUT);
    for (i, st) in states.iter().enumerate() {
        assert_eq!(st.status, LaneStatus::Failed, "lane {i}: {st:?}");
        assert!(
            st.error == ResultCode::PumpGone.value() || st.error == ResultCode::Stopped.value(),
            "lane {i}: {st:?}"
        );
        assert!(st.progress > 0, "lane {i} ran NOPs before the stop");
    }
}
