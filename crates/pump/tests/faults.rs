//! Faults reach the lane as the right result; a failed or stopped pump releases every lane;
//! after stop() returns no window changes.
mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gdio_protocol::{Limits, Op, Request, ResultCode, WindowAccess};
use gdio_pump::emulated::Lane;
use gdio_pump::{HostQueueMemory, PumpError, WindowMode};

const EBADF: i32 = -9;
const ENOSPC: i32 = -28;
const ECANCELED: i32 = -125;

#[test]
fn each_error_arrives_as_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(&dir, "data", 10_000, 21);
    let queue = Arc::new(HostQueueMemory::new(2).unwrap());
    let win = window(8192);
    let ro_win = window(4096);
    let b = builder(&queue)
        .file(open_ro(&path), RO)
        .limits(Limits::new(6000));
    let b = add_window(b, &win, WindowMode::Auto);
    // A window the host may only read from (WRITE source), never write into.
    let b = b.window(
        ro_win.clone(),
        WindowMode::Auto,
        WindowAccess {
            len: 4096,
            host_writes: false,
            host_reads: true,
        },
    );
    let pump = b.spawn().unwrap();
    let mut lane = Lane::new(&*queue, 0..2).unwrap();
    assert_eq!(
        lane.run(&read_req(0, 0, 0, 9_000, 4_000)),
        1_000,
        "short read at end of file"
    );
    assert_eq!(
        lane.run(&read_req(0, 0, 0, 10_000, 100)),
        0,
        "read at end of file"
    );
    assert_eq!(
        lane.run(&write_req(0, 0, 0, 0, 100)),
        EBADF,
        "write through a read-only file"
    );
    assert_eq!(
        lane.run(&read_req(5, 0, 0, 0, 100)),
        ResultCode::BadFile.value()
    );
    assert_eq!(
        lane.run(&read_req(0, 9, 0, 0, 100)),
        ResultCode::BadWindow.value()
    );
    assert_eq!(
        lane.run(&read_req(0, 0, 8000, 0, 193)),
        ResultCode::OutOfWindow.value()
    );
    assert_eq!(
        lane.run(&read_req(0, 0, 0, 0, 6001)),
        ResultCode::TooLong.value()
    );
    assert_eq!(
        lane.run(&read_req(0, 0, 0, u64::MAX - 5, 100)),
        ResultCode::BadOffset.value()
    );
    assert_eq!(
        lane.run(&read_req(0, 1, 0, 0, 100)),
        ResultCode::WindowAccess.value()
    );
    assert_eq!(
        lane.run(&Request {
            op_word: 0,
            ..Request::default()
        }),
        ResultCode::BadOp.value()
    );
    assert_eq!(
        lane.run(&Request {
            op_word: Op::Nop as u32 | 1 << 9,
            ..Request::default()
        }),
        ResultCode::BadFlags.value()
    );
    assert_eq!(
        lane.run(&Request {
            file: 3,
            ..Request::new(Op::Fsync)
        }),
        ResultCode::BadFile.value()
    );
    let report = pump.stop().unwrap();
    assert_eq!(report.rejected, 9);
    assert_eq!(report.count_of(EBADF), 1);
    assert!(win.guards_intact() && ro_win.guards_intact());
}

#[test]
#[ignore = "needs root (mounts a 64 KiB tmpfs); cargo xtask test runs it when run as root"]
fn needs_root_enospc_reaches_the_lane() {
    let tiny = Tmpfs::mount("64k");
    let path = tiny.path().join("f");
    std::fs::File::create(&path).unwrap();
    let queue = Arc::new(HostQueueMemory::new(1).unwrap());
    let win = window(1 << 20);
    let pump = add_window(
        builder(&queue).file(open_rw(&path), RW),
        &win,
        WindowMode::Auto,
    )
    .spawn()
    .unwrap();
    let mut lane = Lane::new(&*queue, 0..1).unwrap();
    let r = lane.run(&write_req(0, 0, 0, 0, 1 << 20));
    drop(pump);
    assert_eq!(r, ENOSPC);
}

#[test]
fn stop_with_over_1000_in_flight_leaves_windows_untouched_afterwards() {
    let slots = 1100u32;
    let (rd, mut wr) = pipe();
    let queue = Arc::new(HostQueueMemory::new(slots).unwrap());
    let win = window(slots as usize * 64);
    win.fill(0x3C);
    let canary = win.fingerprint();
    let pump = add_window(
        builder(&queue).ring_entries(1024).file(rd, RO),
        &win,
        WindowMode::Auto,
    )
    .spawn()
    .unwrap();
    let mut lane = Lane::new(&*queue, 0..slots).unwrap();
    for s in 0..slots {
        lane.issue(&read_req(0, 0, s * 64, 0, 64)).unwrap();
    }
    wait_until("every read claimed", || {
        pump.stats().in_flight == u64::from(slots)
    });
    assert!(pump.stats().in_flight >= 1000);
    let report = pump.stop().unwrap();
    // The kernel is done with the window: feed the pipe, nothing may land.
    let _ = wr.write_all(&[0xEE; 1 << 16]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        win.fingerprint(),
        canary,
        "a window changed after stop() returned"
    );
    let mut cancelled = 0;
    while let Some((_, r)) = lane.wait_oldest() {
        assert!(
            r == ECANCELED || r == ResultCode::Stopped.value(),
            "result {r}"
        );
        cancelled += 1;
    }
    assert_eq!(cancelled, slots);
    assert_eq!(
        report.count_of(ECANCELED) + report.count_of(ResultCode::Stopped.value()),
        u64::from(slots)
    );
    assert!(win.guards_intact());
}

#[test]
fn requests_published_while_stopping_get_stopped_and_later_ones_pump_gone() {
    let queue = Arc::new(HostQueueMemory::new(4).unwrap());
    let pump = builder(&queue).spawn().unwrap();
    let mut lane = Lane::new(&*queue, 0..4).unwrap();
    assert_eq!(lane.run(&Request::new(Op::Nop)), 0);
    pump.stop().unwrap();
    lane.set_timeout(Duration::from_secs(5));
    assert_eq!(
        lane.run(&Request::new(Op::Nop)),
        ResultCode::PumpGone.value()
    );
}

#[test]
fn a_pump_that_panics_releases_every_waiting_lane() {
    let (rd, _wr) = pipe();
    let slots = 64u32;
    let queue = Arc::new(HostQueueMemory::new(slots).unwrap());
    let win = window(slots as usize * 16);
    let pump = add_window(builder(&queue).file(rd, RO), &win, WindowMode::Auto)
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..slots).unwrap();
    for s in 0..48 {
        lane.issue(&read_req(0, 0, s * 16, 0, 16)).unwrap();
    }
    wait_until("reads claimed", || pump.stats().in_flight == 48);
    pump.inject_panic();
    // Published after the failure: nobody will claim it, the lane must still be released.
    for _ in 0..16 {
        lane.issue(&Request::new(Op::Nop)).unwrap();
    }
    let mut results = vec![];
    while let Some((_, r)) = lane.wait_oldest() {
        results.push(r);
    }
    assert_eq!(results.len(), 64);
    for r in &results {
        assert!(
            [
                ECANCELED,
                ResultCode::Internal.value(),
                ResultCode::PumpGone.value(),
                ResultCode::Stopped.value(),
                0
            ]
            .contains(r),
            "unexpected result {r}"
        );
    }
    assert!(
        results[..48].iter().all(|r| *r != 0),
        "blocked reads cannot have succeeded"
    );
    wait_until("the header says FAILED", || {
        lane.queue().pump_state().0 == Some(gdio_protocol::PumpState::Failed)
    });
    let (_, code) = lane.queue().pump_state();
    assert_eq!(code, ResultCode::Internal.value());
    match pump.stop() {
        Err(PumpError::Failed { what, code }) => {
            assert!(what.contains("injected"), "{what}");
            assert_eq!(code, ResultCode::Internal.value());
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn dropping_the_handle_stops_and_drains() {
    let (rd, mut wr) = pipe();
    let queue = Arc::new(HostQueueMemory::new(8).unwrap());
    let win = window(4096);
    win.fill(1);
    let canary = win.fingerprint();
    let pump = add_window(builder(&queue).file(rd, RO), &win, WindowMode::Auto)
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..8).unwrap();
    for s in 0..8 {
        lane.issue(&read_req(0, 0, s * 512, 0, 512)).unwrap();
    }
    wait_until("reads claimed", || pump.stats().in_flight == 8);
    drop(pump);
    let _ = wr.write_all(&[9; 8192]);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(win.fingerprint(), canary);
    assert_eq!(Arc::strong_count(&win), 1, "the pump released the window");
    while let Some((_, r)) = lane.wait_oldest() {
        assert!(r == ECANCELED || r == ResultCode::Stopped.value());
    }
}

/// `io_uring_enter` failing (EIO here, injected before the kernel is entered) fails the pump:
/// every waiting lane is released with an answer, the header says FAILED with `-errno`, and
/// stop reports the failure.
#[test]
fn a_failing_io_uring_enter_fails_the_pump_and_releases_every_lane() {
    let (rd, _wr) = pipe();
    let slots = 16u32;
    let queue = Arc::new(HostQueueMemory::new(slots).unwrap());
    let win = window(slots as usize * 16);
    let pump = add_window(builder(&queue).file(rd, RO), &win, WindowMode::Auto)
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..slots).unwrap();
    for s in 0..8 {
        lane.issue(&read_req(0, 0, s * 16, 0, 16)).unwrap();
    }
    wait_until("reads claimed", || pump.stats().in_flight == 8);
    let eio = rustix::io::Errno::IO.raw_os_error();
    pump.inject_enter_failure(eio);
    // A request after the injection makes the pump enter the kernel.
    lane.issue(&read_req(0, 0, 8 * 16, 0, 16)).unwrap();
    let mut results = vec![];
    while let Some((_, r)) = lane.wait_oldest() {
        results.push(r);
    }
    assert_eq!(results.len(), 9);
    assert!(
        results.iter().all(|&r| r < 0),
        "blocked reads cannot have succeeded: {results:?}"
    );
    // The final state follows the last answers (wind-down answers every slot, then publishes
    // it): wait for it, boundedly.
    wait_until("the header says FAILED", || {
        lane.queue().pump_state().0 == Some(gdio_protocol::PumpState::Failed)
    });
    let (_, code) = lane.queue().pump_state();
    assert_eq!(code, -eio, "the header carries -errno of the failed enter");
    match pump.stop() {
        Err(PumpError::Failed { what, code }) => {
            assert_eq!(code, -eio, "{what}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

/// A READ the kernel answers with EIO (a read of unmapped memory through /proc/self/mem, an
/// EIO source that needs no root): the lane gets -EIO in its slot and the pump goes on.
#[test]
fn eio_reaches_the_lane_and_the_pump_goes_on() {
    let mem = std::fs::File::open("/proc/self/mem").unwrap();
    let queue = Arc::new(HostQueueMemory::new(1).unwrap());
    let win = window(4096);
    let pump = add_window(builder(&queue).file(mem, RO), &win, WindowMode::Auto)
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..1).unwrap();
    // Address 0 is never mapped.
    let r = lane.run(&read_req(0, 0, 0, 0, 4096));
    assert_eq!(r, -rustix::io::Errno::IO.raw_os_error());
    assert_eq!(lane.run(&Request::new(Op::Nop)), 0, "the pump goes on");
    let report = pump.stop().unwrap();
    assert_eq!(report.count_of(-rustix::io::Errno::IO.raw_os_error()), 1);
    assert!(win.guards_intact());
}
