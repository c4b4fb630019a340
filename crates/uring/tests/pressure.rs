//! Backpressure and lifetime: a tiny SQ with 1,000 ops, a deep queue of 2,048 reads,
//! drain, and drop with reads in flight.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::{file_with, pipe, random_bytes, Mem};
use gdio_uring::{Errno, Error, OpKind, Ring, Transfer};

fn run_reads(entries: u32, n: usize, block: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(n * block, 11);
    let mut ring = Ring::builder().entries(entries).build().unwrap();
    let file = ring
        .register_file(file_with(dir.path(), "f", &data))
        .unwrap();
    let mem = Mem::new(n * block, 4096);
    // SAFETY: mapping outlives the ring.
    let win = unsafe { ring.register_window(mem.ptr(), n * block) }.unwrap();
    // Reverse order so window offset != file offset order.
    for i in 0..n {
        let j = n - 1 - i;
        ring.push(
            i as u64,
            OpKind::Read(Transfer {
                file,
                window: win,
                window_offset: (i * block) as u64,
                file_offset: (j * block) as u64,
                len: block as u32,
            }),
        )
        .unwrap();
    }
    assert_eq!(ring.in_flight(), n);
    assert!(
        ring.backlogged() > 0,
        "the SQ must overflow into the backlog"
    );
    let mut seen = vec![0u32; n];
    let mut got = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got < n {
        assert!(std::time::Instant::now() < deadline, "{got} of {n}");
        ring.submit_and_wait(1, Some(Duration::from_millis(100)))
            .unwrap();
        ring.reap(|c| {
            assert_eq!(c.result, Ok(block as u32));
            seen[c.user_data as usize] += 1;
            got += 1;
        });
    }
    assert!(seen.iter().all(|&s| s == 1));
    assert_eq!(ring.in_flight(), 0);
    for i in 0..n {
        let j = n - 1 - i;
        assert_eq!(
            &mem.bytes()[i * block..(i + 1) * block],
            &data[j * block..(j + 1) * block]
        );
    }
    assert!(mem.guards_intact());
}

/// entries 8, 1,000 reads pushed at once: most wait in the backlog, all complete exactly
/// once with the right bytes.
#[test]
fn full_sq_backlog() {
    run_reads(8, 1000, 512);
}

/// 2,048 reads accepted at once (256-entry SQ plus backlog), each completed exactly once.
#[test]
fn deep_queue() {
    run_reads(256, 2048, 4096);
}

/// Past max_backlog, push fails with Error::Backlog and queues nothing.
#[test]
fn backlog_limit() {
    let mut ring = Ring::builder().entries(8).max_backlog(10).build().unwrap();
    let cap = ring.max_in_kernel();
    let mut accepted = 0;
    let err = loop {
        match ring.push(accepted, OpKind::Nop) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 10_000);
    };
    assert!(matches!(err, Error::Backlog { max: 10 }), "{err}");
    assert_eq!(ring.in_flight() as u64, accepted);
    assert!(accepted >= 10 && accepted <= (cap + 10) as u64);
    let mut got = 0;
    while got < accepted {
        ring.submit_and_wait(1, Some(Duration::from_millis(100)))
            .unwrap();
        got += ring.reap(|c| assert_eq!(c.result, Ok(0))) as u64;
    }
}

/// Drain with blocked reads returns Ok with everything ECANCELED; afterwards writing the
/// pipe changes nothing in the window.
#[test]
fn drain_blocked_reads() {
    let (r, w) = pipe();
    let mut ring = Ring::builder().entries(16).build().unwrap();
    let file = ring.register_file(r).unwrap();
    let mem = Mem::new(4096, 0);
    // SAFETY: mapping outlives the ring.
    let win = unsafe { ring.register_window(mem.ptr(), 4096) }.unwrap();
    for i in 0..50 {
        ring.push(
            i,
            OpKind::Read(Transfer {
                file,
                window: win,
                window_offset: 0,
                file_offset: 0,
                len: 4096,
            }),
        )
        .unwrap();
    }
    ring.submit().unwrap();
    let mut n = 0;
    ring.drain(Duration::from_secs(5), |c| {
        assert_eq!(c.result, Err(Errno::CANCELED));
        n += 1;
    })
    .unwrap();
    assert_eq!(n, 50);
    assert_eq!(ring.in_flight(), 0);
    let mut w = std::fs::File::from(w);
    w.write_all(&[1u8; 4096]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(mem.bytes().iter().all(|&b| b == 0xA5));
    // The ring still works after a drain.
    ring.push(99, OpKind::Nop).unwrap();
    ring.submit_and_wait(1, Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(
        ring.reap(|c| assert_eq!((c.user_data, c.result), (99, Ok(0)))),
        1
    );
}

/// Dropping a ring with pipe reads in flight returns only after the kernel let go of the
/// window: writing the pipe afterwards leaves the window's memory unchanged.
#[test]
fn drop_with_reads_in_flight() {
    let (r, w) = pipe();
    // Keep a second read end open so the pipe stays readable after the ring closes its
    // copy: any read the kernel still held would then really land in the window.
    let _keep = r.try_clone().unwrap();
    let mem = Mem::new(65536, 0);
    {
        let mut ring = Ring::builder().entries(8).build().unwrap();
        let file = ring.register_file(r).unwrap();
        // SAFETY: mapping outlives the ring.
        let win = unsafe { ring.register_window(mem.ptr(), 65536) }.unwrap();
        // SAFETY: as above.
        let uwin = unsafe { ring.add_unregistered_window(mem.ptr(), 65536) }.unwrap();
        for i in 0..32u64 {
            let window = if i % 2 == 0 { win } else { uwin };
            ring.push(
                i,
                OpKind::Read(Transfer {
                    file,
                    window,
                    window_offset: i * 2048,
                    file_offset: 0,
                    len: 2048,
                }),
            )
            .unwrap();
        }
        ring.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut w = std::fs::File::from(w);
    w.write_all(&[3u8; 4096]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(mem.bytes().iter().all(|&b| b == 0xA5));
}

/// A ring allowed more ops in the kernel than its CQ holds: 256 reads are handed over before
/// any is reaped, so completions overflow the 8-entry CQ into the kernel's overflow list. Every
/// one still arrives exactly once with the right bytes, through `reap`'s flush.
#[test]
fn cq_overflow_loses_nothing() {
    let (n, block) = (256usize, 512usize);
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(n * block, 12);
    let mut ring = Ring::builder().entries(4).max_in_kernel(n).build().unwrap();
    assert!(ring.cq_entries() < n as u32);
    let file = ring
        .register_file(file_with(dir.path(), "f", &data))
        .unwrap();
    let mem = Mem::new(n * block, 4096);
    // SAFETY: mapping outlives the ring.
    let win = unsafe { ring.register_window(mem.ptr(), n * block) }.unwrap();
    for i in 0..n {
        ring.push(
            i as u64,
            OpKind::Read(Transfer {
                file,
                window: win,
                window_offset: (i * block) as u64,
                file_offset: (i * block) as u64,
                len: block as u32,
            }),
        )
        .unwrap();
    }
    // Hand everything over without reaping.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ring.backlogged() > 0 {
        assert!(std::time::Instant::now() < deadline);
        ring.submit().unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(ring.cq_overflowed(), "completions overflowed the CQ");
    let mut seen = vec![0u32; n];
    let mut got = 0;
    while got < n {
        assert!(std::time::Instant::now() < deadline, "{got} of {n}");
        ring.reap(|c| {
            assert_eq!(c.result, Ok(block as u32));
            seen[c.user_data as usize] += 1;
            got += 1;
        });
        if got < n {
            ring.submit_and_wait(1, Some(Duration::from_millis(50)))
                .unwrap();
        }
    }
    assert!(seen.iter().all(|&s| s == 1), "each exactly once");
    assert_eq!(mem.bytes(), &data[..]);
    assert!(!ring.cq_overflowed());
}
