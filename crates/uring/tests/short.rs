//! Short transfers: a pipe read continued until its full length, and O_DIRECT alignment.

mod common;

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::time::Duration;

use common::{pipe, random_bytes, wait_n, Mem};
use gdio_uring::{Errno, OpKind, Ring, Transfer};

/// One 64 KiB read from a pipe that is fed 4 KiB at a time by another thread: the kernel
/// returns what is available, the layer continues at the advanced window offset until the
/// whole length is there. One completion, full count, right bytes.
#[test]
fn pipe_short_reads_are_continued() {
    let (r, w) = pipe();
    let data = random_bytes(64 << 10, 7);
    let mut ring = Ring::builder().entries(8).build().unwrap();
    let file = ring.register_file(r).unwrap();
    let mem = Mem::new(64 << 10, 4096);
    // SAFETY: mapping outlives the ring.
    let win = unsafe { ring.register_window(mem.ptr(), 64 << 10) }.unwrap();
    ring.push(
        9,
        OpKind::Read(Transfer {
            file,
            window: win,
            window_offset: 0,
            file_offset: 0,
            len: 64 << 10,
        }),
    )
    .unwrap();
    ring.submit().unwrap();
    let feed = data.clone();
    let writer = std::thread::spawn(move || {
        let mut w = std::fs::File::from(w);
        for chunk in feed.chunks(4096) {
            w.write_all(chunk).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let c = wait_n(&mut ring, 1);
    writer.join().unwrap();
    assert_eq!(
        c,
        vec![gdio_uring::Completion {
            user_data: 9,
            result: Ok(64 << 10)
        }]
    );
    assert_eq!(mem.bytes(), &data[..]);
    assert!(mem.guards_intact());
}

/// A pipe closed early: the read ends with the bytes actually transferred (EOF = 0).
#[test]
fn pipe_eof_mid_read() {
    let (r, w) = pipe();
    let mut ring = Ring::builder().entries(8).build().unwrap();
    let file = ring.register_file(r).unwrap();
    let mem = Mem::new(8192, 0);
    // SAFETY: mapping outlives the ring.
    let win = unsafe { ring.add_unregistered_window(mem.ptr(), 8192) }.unwrap();
    ring.push(
        1,
        OpKind::Read(Transfer {
            file,
            window: win,
            window_offset: 0,
            file_offset: 0,
            len: 8192,
        }),
    )
    .unwrap();
    ring.submit().unwrap();
    let mut w = std::fs::File::from(w);
    w.write_all(&[7u8; 3000]).unwrap();
    drop(w);
    let c = wait_n(&mut ring, 1);
    assert_eq!(c[0].result, Ok(3000));
    assert!(mem.bytes()[..3000].iter().all(|&b| b == 7));
}

fn open_direct(path: &std::path::Path) -> OwnedFd {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(f) => f.into(),
        Err(e) => panic!(
            "open {} with O_DIRECT: {e} (the test's folder must be on a file system with direct IO, as the build folder is)",
            path.display()
        ),
    }
}

/// O_DIRECT on a real-disk file in the build folder: aligned reads into a 4096-aligned registered
/// buffer work (including one across EOF of an unaligned-size file, which stops at EOF);
/// a misaligned one completes with EINVAL.
#[test]
fn o_direct_alignment() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("direct");
    let size = (1 << 20) + 1000; // unaligned size: last block is partial
    let data = random_bytes(size, 8);
    std::fs::write(&path, &data).unwrap();
    let fd = open_direct(&path);
    let mut ring = Ring::builder().entries(8).build().unwrap();
    let file = ring.register_file(fd).unwrap();
    let mem = Mem::new(1 << 20, 0); // mmap: page (4096) aligned
                                    // SAFETY: mapping outlives the ring.
    let win = unsafe { ring.register_window(mem.ptr(), 1 << 20) }.unwrap();
    ring.push(
        1,
        OpKind::Read(Transfer {
            file,
            window: win,
            window_offset: 4096,
            file_offset: 8192,
            len: 65536,
        }),
    )
    .unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Ok(65536));
    assert_eq!(&mem.bytes()[4096..4096 + 65536], &data[8192..8192 + 65536]);
    // Across EOF: 1000 bytes remain after the 1 MiB mark.
    ring.push(
        2,
        OpKind::Read(Transfer {
            file,
            window: win,
            window_offset: 0,
            file_offset: 1 << 20,
            len: 8192,
        }),
    )
    .unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Ok(1000));
    assert_eq!(&mem.bytes()[..1000], &data[1 << 20..]);
    // Misaligned file offset and window offset.
    ring.push(
        3,
        OpKind::Read(Transfer {
            file,
            window: win,
            window_offset: 0,
            file_offset: 100,
            len: 4096,
        }),
    )
    .unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Err(Errno::INVAL));
    ring.push(
        4,
        OpKind::Read(Transfer {
            file,
            window: win,
            window_offset: 1,
            file_offset: 0,
            len: 4096,
        }),
    )
    .unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Err(Errno::INVAL));
}
