//! The GLSL device (`gdio.glsl`, shader `replay.comp`) and the Rust reference device
//! (`gdio::pump::emulated::Lane`) replay the same request lists against the same pump — one
//! queue each — and must get the same result for every request and the same bytes in their
//! windows. Also: many shader lanes doing random-offset reads through the real pump at once.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::{gpu, run_with_pump, TIMEOUT};
use gdio::protocol::codes::ResultCode;
use gdio::protocol::{FileAccess, Op, Request};
use gdio::pump::emulated::Lane;
use gdio::pump::{HostQueueMemory, HostWindow, Pump, WindowMode};
use gdio::vulkan::{
    BufferSlice, ComputePipeline, MappedBuffer, Placement, PlacementPlan, QueueBuffers, Redispatch,
};
use gdio::{PumpQueue, PumpWindow};
use gdio_workloads::patterns;
use gdio_workloads::shaders::{self, Budgets, LaneState, LaneStatus, RandomReadParams};

const RO: FileAccess = FileAccess {
    readable: true,
    writable: false,
};

/// Per lane, a list mixing every outcome: reads inside the file, across and past its end,
/// zero-length, unknown file and window, out-of-window, too long, bad op, flags, NOP, FENCE,
/// FSYNC of the file, and a WRITE through the read-only file (EBADF).
fn request_list(lane: u32, file_len: u64, lane_span: u32, window: u32) -> Vec<Request> {
    let base = lane * lane_span;
    let read = |file_offset: u64, len: u32, at: u32| Request {
        file: 0,
        window,
        window_offset: base + at,
        file_offset,
        len,
        tag: lane,
        ..Request::new(Op::Read)
    };
    let mut v = vec![
        read(u64::from(lane) * 1000, 4096, 0),
        read(file_len - 100, 4096, 4096),
        read(file_len + 10, 64, 8192),
        read(7, 0, 0),
        Request {
            file: 9,
            ..read(0, 16, 0)
        },
        Request {
            window: 77,
            ..read(0, 16, 0)
        },
        read(0, 16, lane_span * 64),
        Request {
            op_word: 0,
            ..Request::default()
        },
        Request {
            op_word: Op::Nop as u32 | 0x100,
            ..Request::default()
        },
        Request::new(Op::Nop),
        Request::new(Op::Fence),
        Request {
            file: 0,
            ..Request::new(Op::Fsync)
        },
        Request {
            window,
            window_offset: base,
            len: 32,
            ..Request::new(Op::Write)
        },
    ];
    for k in 0..8u64 {
        let off = (u64::from(lane) * 7919 + k * 104_729) % (file_len - 3000);
        v.push(read(off, 3000, 12_288));
    }
    v
}

#[test]
fn glsl_and_rust_devices_agree_on_every_result_and_byte() {
    let g = gpu();
    let ctx = &g.ctx;
    let plan = PlacementPlan::defaults();
    let budgets = Budgets::for_device(ctx.info());
    let lanes = 8u32;
    let span = 16u32 << 10;
    let file_len = 200_003u64;
    let content = patterns::file_bytes(file_len as usize, 5);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&content).unwrap();
    file.flush().unwrap();

    // One pump, two queues: queue 0 for the shader (Vulkan buffers), queue 1 for the Rust
    // device (host memory). Window 0 is the shader's, window 1 the Rust device's; both
    // read-write for the host, same size.
    let vk_queue = PumpQueue::new(QueueBuffers::new(ctx, lanes, &plan).unwrap());
    let rs_queue = Arc::new(HostQueueMemory::new(lanes).unwrap());
    let win_len = (lanes * span) as usize;
    let vk_win = PumpWindow::new(MappedBuffer::new(ctx, win_len, plan.read_window).unwrap());
    let rs_win = Arc::new(HostWindow::new(win_len).unwrap());
    vk_win.fill(0, win_len, 0).unwrap();
    let access = vk_win.access(true, true);
    let pump = Pump::builder()
        .queue(vk_queue.clone())
        .queue(rs_queue.clone())
        .file(std::fs::File::open(file.path()).unwrap(), RO)
        .window(vk_win.clone(), WindowMode::Auto, access)
        .window(rs_win.clone(), WindowMode::Auto, access)
        .limits(gdio::protocol::Limits::new(1 << 20))
        .spawn()
        .unwrap();

    let lists: Vec<Vec<Request>> = (0..lanes)
        .map(|l| request_list(l, file_len, span, 0))
        .collect();
    let count = lists[0].len() as u32;

    // The GLSL device.
    let words: Vec<u32> = lists.iter().flatten().flat_map(|r| r.to_words()).collect();
    let list = MappedBuffer::new(ctx, words.len() * 4, Placement::HostCached).unwrap();
    list.write_u32s(0, &words).unwrap();
    let results =
        MappedBuffer::new(ctx, (lanes * count) as usize * 4, Placement::HostCached).unwrap();
    let state = MappedBuffer::new(
        ctx,
        lanes as usize * shaders::STATE_WORDS * 4,
        Placement::HostCached,
    )
    .unwrap();
    let pipe = ComputePipeline::new(ctx, shaders::REPLAY, 5, 16).unwrap();
    let slices = [
        vk_queue.request_slice(),
        vk_queue.completion_slice(),
        BufferSlice::whole(&state),
        BufferSlice::whole(&list),
        BufferSlice::whole(&results),
    ];
    let set = pipe.bind(&slices).unwrap();
    let push: Vec<u8> = [lanes, count, budgets.iter_budget, budgets.wait_budget]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    ctx.dispatch_until(
        &pipe,
        &set,
        &push,
        [lanes.div_ceil(shaders::LANES_PER_GROUP), 1, 1],
        Redispatch::new(TIMEOUT, 2000),
        || LaneState::all_finished(&LaneState::read_all(&state, lanes).unwrap()),
    )
    .unwrap();
    for (i, s) in LaneState::read_all(&state, lanes)
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(s.status, LaneStatus::Done, "shader lane {i}: {s:?}");
    }
    let glsl: Vec<i32> = results
        .read_u32s(0, (lanes * count) as usize)
        .unwrap()
        .into_iter()
        .map(|w| w as i32)
        .collect();

    // The Rust reference device: the same lists, window handle 1, lane L on slot L.
    let mut rust = Vec::new();
    for (l, reqs) in lists.iter().enumerate() {
        let mut lane = Lane::new(&*rs_queue, l as u32..l as u32 + 1).unwrap();
        for r in reqs {
            let r = if r.window == 0 {
                Request { window: 1, ..*r }
            } else {
                *r
            };
            rust.push(lane.run(&r));
        }
    }
    pump.stop().unwrap();

    assert_eq!(
        glsl, rust,
        "per-request results, GLSL device vs Rust reference device"
    );
    // The results are the documented ones, not merely equal.
    let expect_lane0 = [
        4096,
        100,
        0,
        0,
        ResultCode::BadFile.value(),
        ResultCode::BadWindow.value(),
        ResultCode::OutOfWindow.value(),
        ResultCode::BadOp.value(),
        ResultCode::BadFlags.value(),
        0,
        0,
        0,
        -9,
    ];
    assert_eq!(&rust[..expect_lane0.len()], &expect_lane0);
    let vk_bytes = vk_win.read_vec(0, win_len).unwrap();
    let mut rs_bytes = vec![0u8; win_len];
    assert!(rs_win.copy_out(0, &mut rs_bytes));
    assert!(
        vk_bytes == rs_bytes,
        "window contents differ between the two devices"
    );
    assert!(rs_win.guards_intact());
}

#[test]
fn many_shader_lanes_read_random_offsets_through_the_pump() {
    let g = gpu();
    let ctx = &g.ctx;
    let plan = PlacementPlan::defaults();
    let lanes = 32u32;
    let read_len = 4096u32;
    let len = 4 << 20;
    let seed = 11;
    let content = patterns::file_bytes(len, seed);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&content).unwrap();
    file.flush().unwrap();
    let queue = PumpQueue::new(QueueBuffers::new(ctx, lanes, &plan).unwrap());
    let window = PumpWindow::new(
        MappedBuffer::new(ctx, (lanes * read_len) as usize, plan.read_window).unwrap(),
    );
    let pump = Pump::builder()
        .queue(queue.clone())
        .file(std::fs::File::open(file.path()).unwrap(), RO)
        .window(window.clone(), WindowMode::Auto, window.read_access())
        .spawn()
        .unwrap();
    let p = RandomReadParams {
        file: 0,
        window: 0,
        file_words: (len / 4) as u32,
        read_len,
        reads: 40,
        lanes,
        budgets: Budgets::for_device(ctx.info()),
        seed,
    };
    let states = run_with_pump(
        ctx,
        &pump,
        &queue,
        &window,
        shaders::RANDOM_READ,
        &p.to_bytes(),
        lanes,
    );
    let report = pump.stop().unwrap();
    for (i, s) in states.iter().enumerate() {
        assert_eq!(s.status, LaneStatus::Done, "lane {i}: {s:?}");
        assert_eq!(s.extra[0], 0, "lane {i}: mismatching words");
        assert_eq!(s.extra[1], 40 * read_len, "lane {i}: bytes read");
    }
    assert_eq!(report.op(Op::Read).ok, u64::from(lanes) * 40);
}
