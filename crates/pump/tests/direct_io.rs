//! Files opened for direct IO (`O_DIRECT`) on the repository's file system (ext4 on the CI
//! machine): aligned READs and WRITEs go through the page-cache-free path and land, and a
//! request whose file offset, length or window address breaks the file's alignment is answered
//! MISALIGNED without reaching the kernel, while the same requests on a buffered file run.
mod common;

use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::Arc;

use common::*;
use gdio_protocol::{Op, ResultCode};
use gdio_pump::emulated::Lane;
use gdio_pump::{HostQueueMemory, WindowMode};

const BLOCK: u32 = 4096;

fn open_direct(path: &std::path::Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
        .expect("this test needs a file system with direct IO under target/ (ext4, xfs)")
}

#[test]
fn direct_io_lands_aligned_requests_and_answers_misaligned_ones() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let direct_path = dir.path().join("direct");
    let buffered_path = dir.path().join("buffered");
    std::fs::write(&direct_path, vec![0u8; 4 * BLOCK as usize]).unwrap();
    std::fs::write(&buffered_path, vec![0u8; 4 * BLOCK as usize]).unwrap();
    let queue = Arc::new(HostQueueMemory::new(4).unwrap());
    // Page-aligned windows: a registered one and a plain one (both paths of the uring layer).
    let fixed = window(4 * BLOCK as usize);
    let plain = window(4 * BLOCK as usize);
    let mut payload = vec![0u8; 2 * BLOCK as usize];
    rand::RngCore::fill_bytes(&mut rng(9), &mut payload);
    fixed.copy_in(0, &payload);
    let b = builder(&queue)
        .file(open_direct(&direct_path), RW)
        .file(open_rw(&buffered_path), RW);
    let b = add_window(b, &fixed, WindowMode::Registered);
    let b = add_window(b, &plain, WindowMode::Unregistered);
    let pump = b.spawn().unwrap();
    let mut lane = Lane::new(&*queue, 0..4).unwrap();

    // Aligned: a WRITE of two blocks at block 1 from the fixed window, read back into the
    // plain one.
    assert_eq!(
        lane.run(&write_req(0, 0, 0, u64::from(BLOCK), 2 * BLOCK)),
        2 * BLOCK as i32
    );
    assert_eq!(
        lane.run(&read_req(0, 1, 0, u64::from(BLOCK), 2 * BLOCK)),
        2 * BLOCK as i32
    );
    let mut back = vec![0u8; 2 * BLOCK as usize];
    assert!(plain.copy_out(0, &mut back));
    assert!(
        back == payload,
        "the direct READ returns what the direct WRITE wrote"
    );

    // Misaligned file offset, length, or window address: MISALIGNED, on either window.
    let misaligned = ResultCode::Misaligned.value();
    for (what, req) in [
        ("file offset", read_req(0, 0, 0, 1, BLOCK)),
        ("length", read_req(0, 1, 0, 0, BLOCK - 1)),
        ("length", write_req(0, 0, 0, 0, 100)),
        ("window offset", read_req(0, 1, 1, 0, BLOCK)),
        ("window offset", write_req(0, 0, 1, 0, BLOCK)),
    ] {
        assert_eq!(lane.run(&req), misaligned, "misaligned {what}: {req:?}");
    }
    // The same requests on the buffered file run.
    assert_eq!(lane.run(&read_req(1, 0, 0, 1, BLOCK)), BLOCK as i32);
    assert_eq!(lane.run(&write_req(1, 0, 1, 0, 100)), 100);
    let report = pump.stop().unwrap();
    assert_eq!(report.count_of(misaligned), 5);
    assert_eq!(report.op(Op::Write).ok, 2);
    assert!(fixed.guards_intact() && plain.guards_intact());
    // Nothing misaligned reached the file: blocks 1-2 hold the payload, block 0 and 3 zeros.
    let on_disk = std::fs::read(&direct_path).unwrap();
    assert!(on_disk[BLOCK as usize..3 * BLOCK as usize] == payload[..]);
    assert!(on_disk[..BLOCK as usize].iter().all(|&b| b == 0));
    assert!(on_disk[3 * BLOCK as usize..].iter().all(|&b| b == 0));
}
