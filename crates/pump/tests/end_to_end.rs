//! The whole host side with emulated lanes: real files, real io_uring, real windows.
mod common;

use std::sync::Arc;

use common::*;
use gdio_protocol::{Op, Request, ResultCode};
use gdio_pump::emulated::{lane_slots, Lane};
use gdio_pump::{HostQueueMemory, WindowMode};
use rand::Rng;

#[test]
fn lanes_read_random_ranges_and_every_byte_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "data", 3 << 20, 1);
    let lanes = 4u32;
    let per_lane = 8u32;
    let chunk = 64 << 10;
    let queue = Arc::new(HostQueueMemory::new(lanes * per_lane).unwrap());
    // One fixed (registered) and one plain window: both paths of the uring layer.
    let fixed = window((lanes * per_lane) as usize * chunk);
    let plain = window((lanes * per_lane) as usize * chunk);
    let b = builder(&queue).file(open_ro(&path), RO);
    let b = add_window(b, &fixed, WindowMode::Registered);
    let b = add_window(b, &plain, WindowMode::Unregistered);
    let pump = b.spawn().unwrap();
    std::thread::scope(|s| {
        for lane_idx in 0..lanes {
            let (queue, data, fixed, plain) = (&queue, &data, &fixed, &plain);
            s.spawn(move || {
                let mut lane =
                    Lane::new(&**queue, lane_slots(lane_idx, lanes, lanes * per_lane)).unwrap();
                let mut r = rng(100 + u64::from(lane_idx));
                let mut buf = vec![0u8; chunk];
                for i in 0..200 {
                    // Each lane owns window range lane*chunk.., so concurrent IO never overlaps.
                    let (off, len) = random_range(&mut r, data.len(), chunk);
                    let win = (i % 2) as u32;
                    let base = lane_idx as usize * chunk;
                    lane.issue(&read_req(0, win, base as u32, off, len))
                        .expect("free slot");
                    let (t, res) = lane.wait_oldest().unwrap();
                    let want = (data.len() as u64 - off).min(u64::from(len)) as usize;
                    assert_eq!(
                        res, want as i32,
                        "bytes read at {off}+{len} (slot {})",
                        t.slot
                    );
                    let w = if win == 0 { fixed } else { plain };
                    assert!(w.copy_out(base, &mut buf[..want]));
                    assert_eq!(
                        &buf[..want],
                        &data[off as usize..off as usize + want],
                        "data at {off}"
                    );
                }
            });
        }
    });
    let report = pump.stop().unwrap();
    assert_eq!(report.op(Op::Read).ok, 800);
    assert!(fixed.guards_intact() && plain.guards_intact());
}

#[test]
fn many_in_flight_per_lane_each_lands_in_its_own_range() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "data", 1 << 20, 2);
    let slots = 64u32;
    let chunk = 4096usize;
    let queue = Arc::new(HostQueueMemory::new(slots).unwrap());
    let win = window(slots as usize * chunk);
    let pump = add_window(
        builder(&queue).file(open_ro(&path), RO),
        &win,
        WindowMode::Auto,
    )
    .spawn()
    .unwrap();
    let mut lane = Lane::new(&*queue, 0..slots).unwrap();
    let mut r = rng(7);
    for _round in 0..20 {
        let mut issued = vec![];
        for s in 0..slots {
            let off = r.gen_range(0..(data.len() - chunk) as u64);
            let t = lane
                .issue(&read_req(
                    0,
                    0,
                    (s as usize * chunk) as u32,
                    off,
                    chunk as u32,
                ))
                .unwrap();
            issued.push((t, off));
        }
        for _ in 0..slots {
            let (t, res) = lane.wait_oldest().unwrap();
            assert_eq!(res, chunk as i32);
            let off = issued.iter().find(|(x, _)| *x == t).unwrap().1 as usize;
            let mut buf = vec![0u8; chunk];
            // The slot index picks the window range: lanes reuse slots in LIFO order.
            let range = issued.iter().position(|(x, _)| *x == t).unwrap() * chunk;
            win.copy_out(range, &mut buf);
            assert_eq!(buf, &data[off..off + chunk]);
        }
    }
    pump.stop().unwrap();
    assert!(win.guards_intact());
}

#[test]
fn write_fsync_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    std::fs::File::create(&path).unwrap();
    let queue = Arc::new(HostQueueMemory::new(4).unwrap());
    let src = window(1 << 20);
    let dst = window(1 << 20);
    let mut payload = vec![0u8; 1 << 20];
    rand::RngCore::fill_bytes(&mut rng(3), &mut payload);
    src.copy_in(0, &payload);
    let b = builder(&queue).file(open_rw(&path), RW);
    let b = add_window(
        add_window(b, &src, WindowMode::Auto),
        &dst,
        WindowMode::Auto,
    );
    let pump = b.spawn().unwrap();
    let mut lane = Lane::new(&*queue, 0..4).unwrap();
    // Two writes, then FSYNC (ordered after them), then read everything back.
    let half = 1u32 << 19;
    lane.issue(&write_req(0, 0, 0, 0, half)).unwrap();
    lane.issue(&write_req(0, 0, half, u64::from(half), half))
        .unwrap();
    lane.issue(&Request {
        file: 0,
        ..Request::new(Op::Fsync)
    })
    .unwrap();
    let results: Vec<i32> = (0..3).map(|_| lane.wait_oldest().unwrap().1).collect();
    assert_eq!(results, vec![half as i32, half as i32, 0]);
    assert_eq!(
        lane.run(&Request {
            file: 0,
            ..Request::new(Op::Fdatasync)
        }),
        0
    );
    assert_eq!(lane.run(&read_req(0, 1, 0, 0, 1 << 20)), 1 << 20);
    let mut back = vec![0u8; 1 << 20];
    dst.copy_out(0, &mut back);
    assert_eq!(back, payload);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        payload,
        "the file itself holds the data"
    );
    let report = pump.stop().unwrap();
    assert_eq!(report.op(Op::Write).bytes, 1 << 20);
    assert_eq!(report.op(Op::Fsync).ok, 1);
}

#[test]
fn a_fence_completes_only_after_everything_claimed_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(&dir, "data", 8 << 20, 4);
    let slots = 33u32;
    let queue = Arc::new(HostQueueMemory::new(slots).unwrap());
    let win = window(32 << 20);
    let pump = add_window(
        builder(&queue).file(open_ro(&path), RO),
        &win,
        WindowMode::Auto,
    )
    .spawn()
    .unwrap();
    let mut lane = Lane::new(&*queue, 0..slots).unwrap();
    let dev = lane.queue();
    for round in 0..30 {
        let mut before = vec![];
        for i in 0..32u32 {
            // Large reads take a while; the fence must still wait for all of them.
            before.push(
                lane.issue(&read_req(0, 0, i << 20, u64::from(i % 8) << 20, 1 << 20))
                    .unwrap(),
            );
        }
        let fence = lane.issue(&Request::new(Op::Fence)).unwrap();
        // Wait for the fence alone, then check (without waiting) that every earlier one is done.
        assert_eq!(wait_done(&dev, fence.slot, fence.generation), 0);
        for t in &before {
            assert!(
                matches!(dev.poll(t.slot, t.generation).unwrap(), gdio_protocol::Poll::Done(x) if x == 1 << 20),
                "round {round}: a read claimed before the fence was not complete when the fence was"
            );
        }
        while lane.wait_oldest().is_some() {}
    }
    let report = pump.stop().unwrap();
    assert_eq!(report.op(Op::Fence).ok, 30);
}

#[test]
fn nop_round_trips() {
    let queue = Arc::new(HostQueueMemory::new(1).unwrap());
    let pump = builder(&queue).spawn().unwrap();
    let mut lane = Lane::new(&*queue, 0..1).unwrap();
    for _ in 0..10_000 {
        assert_eq!(lane.run(&Request::new(Op::Nop)), 0);
    }
    let report = pump.stop().unwrap();
    assert_eq!(report.op(Op::Nop).ok, 10_000);
    assert_eq!(report.latency_ns.len(), 10_000);
    // One slot, one request at a time: every claim after the first follows a completion of the
    // same slot, and the lane's turn between them (its poll, its next publication) takes time.
    assert_eq!(report.turnaround_ns.len(), 9_999);
    // At least two cache-line handovers between the threads (samples are clamped to 1 ns: a
    // turnaround taken at the wrong moment would show as ~0).
    assert!(
        report.turnaround_ns.value_at_quantile(0.5) >= 20,
        "turnaround p50 {} ns",
        report.turnaround_ns.value_at_quantile(0.5)
    );
}

#[test]
fn files_and_windows_change_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, d1) = random_file(&dir, "a", 10_000, 5);
    let (p2, d2) = random_file(&dir, "b", 10_000, 6);
    let queue = Arc::new(HostQueueMemory::new(2).unwrap());
    let pump = builder(&queue).spawn().unwrap();
    let mut lane = Lane::new(&*queue, 0..2).unwrap();
    assert_eq!(
        lane.run(&read_req(0, 0, 0, 0, 10)),
        ResultCode::BadFile.value()
    );
    let f1 = pump.add_file(open_ro(&p1), RO).unwrap();
    assert_eq!(
        lane.run(&read_req(f1.0, 0, 0, 0, 10)),
        ResultCode::BadWindow.value()
    );
    let w = window(16384);
    let wid = pump
        .add_window(w.clone(), WindowMode::Auto, access(16384))
        .unwrap();
    assert_eq!(lane.run(&read_req(f1.0, wid.0, 0, 0, 10_000)), 10_000);
    let mut buf = vec![0u8; 10_000];
    w.copy_out(0, &mut buf);
    assert_eq!(buf, d1);
    let f2 = pump.add_file(open_ro(&p2), RO).unwrap();
    pump.remove_file(f1).unwrap();
    assert_eq!(
        lane.run(&read_req(f1.0, wid.0, 0, 0, 10)),
        ResultCode::BadFile.value()
    );
    assert_eq!(lane.run(&read_req(f2.0, wid.0, 100, 0, 10_000)), 10_000);
    w.copy_out(100, &mut buf);
    assert_eq!(buf, d2);
    pump.remove_window(wid).unwrap();
    assert_eq!(
        Arc::strong_count(&w),
        1,
        "the pump dropped its reference to the window"
    );
    assert_eq!(
        lane.run(&read_req(f2.0, wid.0, 0, 0, 10)),
        ResultCode::BadWindow.value()
    );
    assert!(pump.remove_window(wid).is_err());
    pump.stop().unwrap();
}

#[test]
fn two_queues_on_one_pump() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "data", 100_000, 8);
    let q1 = Arc::new(HostQueueMemory::new(4).unwrap());
    let q2 = Arc::new(HostQueueMemory::new(4).unwrap());
    let win = window(8192);
    let b = builder(&q1).queue(q2.clone()).file(open_ro(&path), RO);
    let pump = add_window(b, &win, WindowMode::Auto).spawn().unwrap();
    let mut l1 = Lane::new(&*q1, 0..4).unwrap();
    let mut l2 = Lane::new(&*q2, 0..4).unwrap();
    assert_eq!(l1.run(&read_req(0, 0, 0, 10, 100)), 100);
    assert_eq!(
        l2.run(&read_req(0, 0, 4096, 99_950, 100)),
        50,
        "short at end of file"
    );
    let mut b2 = vec![0u8; 50];
    win.copy_out(4096, &mut b2);
    assert_eq!(b2, &data[99_950..]);
    pump.stop().unwrap();
}

#[test]
fn an_auto_window_larger_than_a_fixed_buffer_is_served_with_plain_io() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "data", 8192, 31);
    let queue = Arc::new(HostQueueMemory::new(1).unwrap());
    // Over the kernel's 1 GiB limit for one fixed buffer; anonymous memory, touched only where
    // the read lands.
    let big = window((1 << 30) + 65536);
    let pump = add_window(
        builder(&queue).file(open_ro(&path), RO),
        &big,
        WindowMode::Auto,
    )
    .spawn()
    .unwrap();
    let mut lane = Lane::new(&*queue, 0..1).unwrap();
    let at = (1u32 << 30) - 100;
    assert_eq!(lane.run(&read_req(0, 0, at, 0, 8192)), 8192);
    let mut buf = vec![0u8; 8192];
    big.copy_out(at as usize, &mut buf);
    assert_eq!(buf, data);
    pump.stop().unwrap();
}

#[test]
fn a_checked_write_waits_for_its_data_and_writes_the_bytes_that_match() {
    // Models a GPU whose data reaches host memory after its publication (out of order): the
    // pump must write the bytes the device meant, not what the window held at claim time.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    std::fs::File::create(&path).unwrap();
    let queue = Arc::new(HostQueueMemory::new(2).unwrap());
    let win = window(1 << 16);
    let b = builder(&queue)
        .file(open_rw(&path), RW)
        .data_timeout(std::time::Duration::from_millis(200));
    let pump = add_window(b, &win, WindowMode::Auto).spawn().unwrap();
    let lane = Lane::new(&*queue, 0..2).unwrap();
    let dev = lane.queue();
    let mut meant = vec![0u8; 40_001];
    rand::RngCore::fill_bytes(&mut rng(9), &mut meant);
    win.fill(0xEE); // stale bytes
    let g = dev
        .publish_checked_write(0, &write_req(0, 0, 0, 0, meant.len() as u32), &meant)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(30));
    assert_eq!(
        dev.poll(0, g).unwrap(),
        gdio_protocol::Poll::Pending,
        "held while the data differs"
    );
    win.copy_in(0, &meant); // the data arrives
    let r = dev.wait(0, g, u64::MAX).unwrap();
    assert_eq!(r, meant.len() as i32);
    assert_eq!(std::fs::read(&path).unwrap(), meant);
    // A check that never matches: BAD_DATA after the pump's data timeout.
    let g = dev
        .publish_checked_write(1, &write_req(0, 0, 0, 0, 100), &[1; 100])
        .unwrap();
    assert_eq!(
        dev.wait(1, g, u64::MAX).unwrap(),
        gdio_protocol::ResultCode::BadData.value()
    );
    let report = pump.stop().unwrap();
    assert_eq!(
        report.count_of(gdio_protocol::ResultCode::BadData.value()),
        1
    );
}

#[test]
fn checked_writes_spread_over_several_checker_threads_each_land_once_with_their_bytes() {
    // Eight WRITEs too large for the pump thread's inline check, their data late, with three
    // checker threads: each is checked by the thread its id picks, reported once, and written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    std::fs::File::create(&path).unwrap();
    let (slots, len) = (8u32, 40_000usize);
    let queue = Arc::new(HostQueueMemory::new(slots).unwrap());
    let win = window(slots as usize * len);
    let b = builder(&queue)
        .file(open_rw(&path), RW)
        .data_check_threads(3)
        .data_timeout(std::time::Duration::from_secs(10));
    let pump = add_window(b, &win, WindowMode::Auto).spawn().unwrap();
    let lane = Lane::new(&*queue, 0..slots).unwrap();
    let dev = lane.queue();
    let mut meant = vec![0u8; slots as usize * len];
    rand::RngCore::fill_bytes(&mut rng(12), &mut meant);
    win.fill(0xEE);
    let mut gens = Vec::new();
    for s in 0..slots {
        let at = s as usize * len;
        let req = write_req(0, 0, at as u32, at as u64, len as u32);
        gens.push(
            dev.publish_checked_write(s, &req, &meant[at..at + len])
                .unwrap(),
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    win.copy_in(0, &meant); // every WRITE's data arrives
    for (s, g) in gens.into_iter().enumerate() {
        assert_eq!(
            dev.wait(s as u32, g, u64::MAX).unwrap(),
            len as i32,
            "slot {s}"
        );
    }
    let report = pump.stop().unwrap();
    assert_eq!(report.op(Op::Write).ok, u64::from(slots));
    assert!(
        std::fs::read(&path).unwrap() == meant,
        "every WRITE wrote its own bytes"
    );
}

/// A publication the host answers by itself (BAD_GENERATION, from its scan) breaks the chain of
/// completion → next claim in that slot: the next claim is not counted as a device turnaround,
/// which would otherwise include the time the bad publication took.
#[test]
fn a_publication_answered_by_the_scan_is_not_a_turnaround() {
    let queue = Arc::new(HostQueueMemory::new(1).unwrap());
    let pump = builder(&queue).spawn().unwrap();
    let mut lane = Lane::new(&*queue, 0..1).unwrap();
    assert_eq!(lane.run(&Request::new(Op::Nop)), 0);
    let dev = lane.queue();
    let first = dev.last_published(0).unwrap().0;
    let nop = Request::new(Op::Nop).to_words();
    let wait = |g: u32| wait_done(&dev, 0, gdio_protocol::Generation(g));
    let forged = first.wrapping_add(100);
    dev.write_raw(0, nop, forged);
    assert_eq!(wait(forged), ResultCode::BadGeneration.value());
    // The slot's real next generation is still first + 1 (a BAD_GENERATION answer claims nothing).
    dev.write_raw(0, nop, first + 1);
    assert_eq!(wait(first + 1), 0);
    let report = pump.stop().unwrap();
    assert_eq!(report.bad_generations, 1);
    assert_eq!(report.op(Op::Nop).ok, 2);
    assert_eq!(
        report.turnaround_ns.len(),
        0,
        "neither claim follows a completion of its own slot's request directly"
    );
}
