//! The device side of the protocol (gdio.glsl) against the host side driven directly with
//! `gdio::protocol::HostQueue` (no pump, no io_uring): a host thread claims, emulates READ and
//! WRITE with memcpy into and out of the windows, and completes.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{gpu, FakeHost, Win, TIMEOUT};
use gdio::protocol::codes::ResultCode;
use gdio::protocol::host::HostStats;
use gdio::vulkan::{
    BufferSlice, ComputePipeline, Context, MappedBuffer, Placement, PlacementPlan, QueueBuffers,
    Redispatch,
};
use gdio_workloads::patterns;
use gdio_workloads::shaders::{
    self, Budgets, Chunks, LaneState, LaneStatus, NopParams, RandomReadParams, StreamSumParams,
    WriteFileParams,
};

struct Run {
    states: Vec<LaneState>,
    files: Vec<Vec<u8>>,
    stats: HostStats,
    dispatches: u32,
    elapsed: Duration,
}

/// Runs a demo shader (bindings: requests, completions, [window], state) against a fake host
/// until every lane is done or failed.
fn run(
    ctx: &Context,
    spv: &[u8],
    push: &[u8],
    lanes: u32,
    slots: u32,
    window: Option<&MappedBuffer>,
    mut host: FakeHost<'_>,
) -> Run {
    let plan = PlacementPlan::defaults();
    let q = QueueBuffers::new(ctx, slots, &plan).unwrap();
    let state = MappedBuffer::new(
        ctx,
        lanes as usize * shaders::STATE_WORDS * 4,
        Placement::HostCached,
    )
    .unwrap();
    let mut slices = vec![q.request_slice(), q.completion_slice()];
    slices.extend(window.map(BufferSlice::whole));
    slices.push(BufferSlice::whole(&state));
    let pipe = ComputePipeline::new(ctx, spv, slices.len() as u32, push.len() as u32).unwrap();
    let set = pipe.bind(&slices).unwrap();
    let hq = q.init_host().unwrap();
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    std::thread::scope(|s| {
        let server = s.spawn(|| {
            let stats = host.serve(hq, &stop);
            (host, stats)
        });
        let groups = lanes.div_ceil(shaders::LANES_PER_GROUP);
        let dispatches = ctx
            .dispatch_until(
                &pipe,
                &set,
                push,
                [groups, 1, 1],
                Redispatch::new(TIMEOUT, 500),
                || LaneState::all_finished(&LaneState::read_all(&state, lanes).unwrap()),
            )
            .unwrap();
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        let (host, stats) = server.join().unwrap();
        Run {
            states: LaneState::read_all(&state, lanes).unwrap(),
            files: host.files,
            stats,
            dispatches,
            elapsed,
        }
    })
}

#[test]
fn nop_round_trips_complete_in_order() {
    let g = gpu();
    let lanes = 8;
    let count = 300;
    let p = NopParams {
        count,
        active_lanes: lanes,
        budgets: Budgets::for_device(g.ctx.info()),
        fenced: false,
        read_len: 0,
    };
    let r = run(
        &g.ctx,
        shaders::NOP_PINGPONG,
        &p.to_bytes(),
        lanes,
        lanes,
        None,
        FakeHost::new(vec![], vec![]),
    );
    for (i, s) in r.states.iter().enumerate() {
        assert_eq!(s.status, LaneStatus::Done, "lane {i}: {s:?}");
        assert_eq!(s.progress, count, "lane {i}");
    }
    assert_eq!(r.stats.claimed, u64::from(count * lanes));
    assert_eq!(r.stats.completed, u64::from(count * lanes));
    assert_eq!(
        r.stats.bad_generations, 0,
        "the GLSL publishes only next(last)"
    );
    eprintln!(
        "{} NOPs in {:?} over {} dispatches: {:.2} us per round trip per lane",
        count * lanes,
        r.elapsed,
        r.dispatches,
        r.elapsed.as_secs_f64() * 1e6 / f64::from(count)
    );
}

fn stream_sum(ctx: &Context, file: Vec<u8>, chunk: u32, lanes: u32) -> (u32, Run) {
    let budgets = Budgets::for_device(ctx.info());
    let p = StreamSumParams {
        file: 0,
        window: 0,
        chunks: Chunks::new(file.len() as u64, chunk),
        lanes,
        budgets,
    };
    let window =
        MappedBuffer::new(ctx, p.window_bytes(), PlacementPlan::defaults().read_window).unwrap();
    // Poison the window so stale bytes past a short read would show.
    window.fill(0, window.len(), 0xA5).unwrap();
    let host = FakeHost::new(
        vec![file],
        vec![Win {
            buf: &window,
            offset: 0,
            len: p.window_bytes(),
        }],
    );
    let r = run(
        ctx,
        shaders::STREAM_SUM,
        &p.to_bytes(),
        lanes,
        p.slots(),
        Some(&window),
        host,
    );
    let len = r.files[0].len() as u32;
    let sum = r.states.iter().fold(len, |a, s| a.wrapping_add(s.extra[0]));
    (sum, r)
}

#[test]
fn stream_sum_matches_cpu_for_awkward_sizes() {
    let g = gpu();
    for len in [0usize, 1, 4095, 4096, 4097, 100_003, 3 << 20] {
        let file = patterns::file_bytes(len, len as u32 ^ 0x1234);
        let want = patterns::sum32(&file);
        let (got, r) = stream_sum(&g.ctx, file, 16 << 10, 8);
        for (i, s) in r.states.iter().enumerate() {
            assert_eq!(s.status, LaneStatus::Done, "len {len} lane {i}: {s:?}");
        }
        let bytes: u64 = r.states.iter().map(|s| u64::from(s.extra[2])).sum();
        assert_eq!(bytes, len as u64, "bytes consumed, len {len}");
        assert_eq!(got, want, "checksum of {len} bytes");
        eprintln!(
            "stream_sum {len} B: ok in {:?}, {} dispatches",
            r.elapsed, r.dispatches
        );
    }
}

#[test]
fn stream_sum_sees_protocol_errors() {
    let g = gpu();
    let ctx = &g.ctx;
    let budgets = Budgets::for_device(ctx.info());
    let file = patterns::file_bytes(64 << 10, 9);
    let base = StreamSumParams {
        file: 0,
        window: 0,
        chunks: Chunks::new(file.len() as u64, 4096),
        lanes: 8,
        budgets,
    };
    let window = MappedBuffer::new(
        ctx,
        base.window_bytes(),
        PlacementPlan::defaults().read_window,
    )
    .unwrap();
    let full = Win {
        buf: &window,
        offset: 0,
        len: base.window_bytes(),
    };
    let cases: Vec<(&str, StreamSumParams, Win<'_>, i32)> = vec![
        (
            "unknown file",
            StreamSumParams { file: 7, ..base },
            full,
            ResultCode::BadFile.value(),
        ),
        (
            "unknown window",
            StreamSumParams { window: 3, ..base },
            full,
            ResultCode::BadWindow.value(),
        ),
        (
            "out of window",
            base,
            Win { len: 4096, ..full },
            ResultCode::OutOfWindow.value(),
        ),
        // The file is 64 KiB but the shader is told 68 KiB: the last chunk reads past EOF.
        (
            "past EOF",
            StreamSumParams {
                chunks: Chunks::new(68 << 10, 4096),
                ..base
            },
            full,
            0,
        ),
    ];
    for (name, p, win, want) in cases {
        let host = FakeHost::new(vec![file.clone()], vec![win]);
        let r = run(
            ctx,
            shaders::STREAM_SUM,
            &p.to_bytes(),
            8,
            p.slots(),
            Some(&window),
            host,
        );
        let failed: Vec<_> = r
            .states
            .iter()
            .filter(|s| s.status == LaneStatus::Failed)
            .collect();
        assert!(!failed.is_empty(), "{name}: no lane failed: {:?}", r.states);
        assert!(
            failed.iter().all(|s| s.error == want),
            "{name}: want {want}, got {failed:?}"
        );
        if name == "past EOF" {
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].at, 16, "the chunk past the end");
        }
    }
}

#[test]
fn random_reads_see_the_right_bytes() {
    let g = gpu();
    let ctx = &g.ctx;
    let seed = 77;
    let len = 1 << 20;
    let (lanes, read_len) = (16u32, 512u32);
    let p = RandomReadParams {
        file: 0,
        window: 0,
        file_words: (len / 4) as u32,
        read_len,
        reads: 64,
        lanes,
        budgets: Budgets::for_device(ctx.info()),
        seed,
    };
    let wbytes = (lanes * read_len) as usize;
    let window = MappedBuffer::new(ctx, wbytes, PlacementPlan::defaults().read_window).unwrap();
    let host = FakeHost::new(
        vec![patterns::file_bytes(len, seed)],
        vec![Win {
            buf: &window,
            offset: 0,
            len: wbytes,
        }],
    );
    let r = run(
        ctx,
        shaders::RANDOM_READ,
        &p.to_bytes(),
        lanes,
        lanes,
        Some(&window),
        host,
    );
    for (i, s) in r.states.iter().enumerate() {
        assert_eq!(s.status, LaneStatus::Done, "lane {i}: {s:?}");
        assert_eq!(s.extra[0], 0, "lane {i}: mismatching words");
        assert_eq!(s.extra[1], 64 * read_len, "lane {i}: bytes");
    }
    eprintln!(
        "random_read: {} reads in {:?}, {} dispatches",
        64 * lanes,
        r.elapsed,
        r.dispatches
    );
}

#[test]
fn write_file_writes_the_pattern_and_fsyncs() {
    let g = gpu();
    let ctx = &g.ctx;
    let len = 100_003u64;
    let chunk = 8192;
    let p = WriteFileParams {
        file: 0,
        window: 0,
        chunks: Chunks::new(len, chunk),
        lanes: 8,
        budgets: Budgets::for_device(ctx.info()),
        seed: 5,
    };
    let wbytes = (8 * chunk) as usize;
    let window = MappedBuffer::new(ctx, wbytes, PlacementPlan::defaults().write_window).unwrap();
    let host = FakeHost::new(
        vec![Vec::new()],
        vec![Win {
            buf: &window,
            offset: 0,
            len: wbytes,
        }],
    );
    let r = run(
        ctx,
        shaders::WRITE_FILE,
        &p.to_bytes(),
        8,
        8,
        Some(&window),
        host,
    );
    for (i, s) in r.states.iter().enumerate() {
        assert_eq!(s.status, LaneStatus::Done, "lane {i}: {s:?}");
        assert_eq!(s.extra[0], 1, "lane {i} finished");
    }
    assert_eq!(
        r.states[0].extra[1], 8,
        "lanes counted before the one FSYNC"
    );
    assert_eq!(r.files[0].len() as u64, len);
    assert!(
        r.files[0] == patterns::file_bytes(len as usize, 5),
        "file content differs from the pattern"
    );
}

#[test]
fn pump_failure_mid_run_ends_waits_with_pump_gone() {
    let g = gpu();
    let ctx = &g.ctx;
    let lanes = 8;
    // Waits long enough that only PUMP_GONE (not TIMEOUT) can end them within the dispatch.
    let mut budgets = Budgets::for_device(ctx.info());
    budgets.wait_budget = budgets
        .wait_budget
        .max(50_000)
        .min(budgets.iter_budget - 100);
    let p = NopParams {
        count: 1_000_000,
        active_lanes: lanes,
        budgets,
        fenced: false,
        read_len: 0,
    };
    let mut host = FakeHost::new(vec![], vec![]);
    host.fail_after = Some(100);
    let start = Instant::now();
    let r = run(
        ctx,
        shaders::NOP_PINGPONG,
        &p.to_bytes(),
        lanes,
        lanes,
        None,
        host,
    );
    assert!(
        start.elapsed() < TIMEOUT,
        "the dispatch must end well before its timeout"
    );
    for (i, s) in r.states.iter().enumerate() {
        assert_eq!(s.status, LaneStatus::Failed, "lane {i}: {s:?}");
        assert_eq!(s.error, ResultCode::PumpGone.value(), "lane {i}");
    }
    let done: u32 = r.states.iter().map(|s| s.progress).sum();
    assert_eq!(done, 100, "exactly the claims completed before the failure");
    eprintln!("pump failure seen by every lane after {:?}", r.elapsed);
}
