//! Reads and writes against real files: random round trips through registered and
//! unregistered windows, fsync/nop, bounds checks and end of file.

mod common;

use common::{file_with, random_bytes, wait_n, Mem};
use gdio_uring::{Errno, Error, FileHandle, OpKind, Ring, Transfer, WindowHandle, WindowKind};
use rand::{Rng, SeedableRng};

const FILE_LEN: usize = 1 << 20;
const WIN_LEN: usize = 256 << 10;

/// Random reads (offset, length, window offset) into a registered and an unregistered
/// window, each checked byte for byte against the file.
#[test]
fn random_reads_registered_and_unregistered() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(FILE_LEN, 1);
    let mut ring = Ring::builder().entries(32).build().unwrap();
    let file = ring
        .register_file(file_with(dir.path(), "f", &data))
        .unwrap();
    let mut reg = Mem::new(WIN_LEN, 4096);
    let mut unreg = Mem::new(WIN_LEN, 4096);
    // SAFETY: both mappings outlive the ring (dropped after it at the end of the test).
    let wr = unsafe { ring.register_window(reg.ptr(), WIN_LEN) }.unwrap();
    // SAFETY: as above.
    let wu = unsafe { ring.add_unregistered_window(unreg.ptr(), WIN_LEN) }.unwrap();
    assert_eq!(ring.window_info(wr).unwrap().kind, WindowKind::Registered);
    assert_eq!(ring.window_info(wu).unwrap().kind, WindowKind::Unregistered);
    assert_eq!(ring.window_info(wu).unwrap().len, WIN_LEN as u64);

    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    for round in 0..200u64 {
        let (w, mem) = if round % 2 == 0 {
            (wr, &mut reg)
        } else {
            (wu, &mut unreg)
        };
        mem.bytes_mut().fill(0);
        let len = rng.gen_range(1..=64 << 10) as u32;
        let file_offset = rng.gen_range(0..=(FILE_LEN - len as usize)) as u64;
        let window_offset = rng.gen_range(0..=(WIN_LEN - len as usize)) as u64;
        ring.push(
            round,
            OpKind::Read(Transfer {
                file,
                window: w,
                window_offset,
                file_offset,
                len,
            }),
        )
        .unwrap();
        let c = wait_n(&mut ring, 1);
        assert_eq!(c[0].user_data, round);
        assert_eq!(c[0].result, Ok(len));
        let wo = window_offset as usize;
        let fo = file_offset as usize;
        assert_eq!(
            &mem.bytes()[wo..wo + len as usize],
            &data[fo..fo + len as usize]
        );
        assert!(mem.bytes()[..wo].iter().all(|&b| b == 0));
        assert!(mem.bytes()[wo + len as usize..].iter().all(|&b| b == 0));
        assert!(mem.guards_intact());
    }
    assert_eq!(ring.in_flight(), 0);
}

/// Writes through both window kinds, reads back through the other, compares.
#[test]
fn write_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut ring = Ring::builder().entries(16).build().unwrap();
    let file = ring.register_file(file_with(dir.path(), "w", &[])).unwrap();
    let mut src = Mem::new(WIN_LEN, 0);
    let dst = Mem::new(WIN_LEN, 0);
    let payload = random_bytes(WIN_LEN, 3);
    src.bytes_mut().copy_from_slice(&payload);
    // SAFETY: mappings outlive the ring.
    let ws = unsafe { ring.register_window(src.ptr(), WIN_LEN) }.unwrap();
    // SAFETY: as above.
    let wd = unsafe { ring.add_unregistered_window(dst.ptr(), WIN_LEN) }.unwrap();
    let half = (WIN_LEN / 2) as u32;
    // Registered source -> file [0, half); unregistered source -> file [half, 2*half).
    ring.push(1, write(file, ws, 0, 0, half)).unwrap();
    // SAFETY: as above (the same memory, added again as an unregistered window).
    let ws2 = unsafe { ring.add_unregistered_window(src.ptr(), WIN_LEN) }.unwrap();
    ring.push(2, write(file, ws2, half as u64, half as u64, half))
        .unwrap();
    let mut c = wait_n(&mut ring, 2);
    c.sort_by_key(|c| c.user_data);
    assert_eq!(c[0].result, Ok(half));
    assert_eq!(c[1].result, Ok(half));
    ring.push(
        3,
        OpKind::Fsync {
            file,
            datasync: false,
        },
    )
    .unwrap();
    ring.push(
        4,
        OpKind::Fsync {
            file,
            datasync: true,
        },
    )
    .unwrap();
    ring.push(5, OpKind::Nop).unwrap();
    let mut c = wait_n(&mut ring, 3);
    c.sort_by_key(|c| c.user_data);
    assert!(c.iter().all(|c| c.result == Ok(0)), "{c:?}");
    ring.push(6, read(file, wd, 0, 0, WIN_LEN as u32)).unwrap();
    let c = wait_n(&mut ring, 1);
    assert_eq!(c[0].result, Ok(WIN_LEN as u32));
    assert_eq!(dst.bytes(), &payload[..]);
}

/// Ranges outside the window and overflowing offsets are refused by `push` with a typed
/// error; nothing is queued and the guard bytes around the window stay untouched.
#[test]
fn out_of_window_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut ring = Ring::builder().entries(8).build().unwrap();
    let file = ring
        .register_file(file_with(dir.path(), "f", &random_bytes(65536, 4)))
        .unwrap();
    let mem = Mem::new(4096, 4096);
    // SAFETY: mapping outlives the ring.
    let w = unsafe { ring.register_window(mem.ptr(), 4096) }.unwrap();
    let bad = [
        (0u64, 4097u32),
        (1, 4096),
        (4096, 1),
        (u64::MAX, 2),
        (u64::MAX - 1, 4096),
    ];
    for (wo, len) in bad {
        let e = ring.push(1, read(file, w, wo, 0, len)).unwrap_err();
        assert!(matches!(e, Error::OutOfWindow { .. }), "{e}");
        let e = ring.push(1, write(file, w, wo, 0, len)).unwrap_err();
        assert!(matches!(e, Error::OutOfWindow { .. }), "{e}");
    }
    for fo in [u64::MAX, i64::MAX as u64, i64::MAX as u64 - 10] {
        let e = ring.push(1, read(file, w, 0, fo, 4096)).unwrap_err();
        assert!(matches!(e, Error::FileOffsetOverflow { .. }), "{e}");
    }
    assert!(matches!(
        ring.push(1, read(FileHandle(7), w, 0, 0, 1)),
        Err(Error::BadFile(_))
    ));
    assert!(matches!(
        ring.push(1, read(file, WindowHandle(9), 0, 0, 1)),
        Err(Error::BadWindow(_))
    ));
    assert!(matches!(
        ring.push(
            1,
            OpKind::Fsync {
                file: FileHandle(1000),
                datasync: false
            }
        ),
        Err(Error::BadFile(_))
    ));
    assert_eq!(ring.in_flight(), 0);
    assert_eq!(ring.submit().unwrap(), 0, "nothing was queued");
    assert!(mem.guards_intact());
    assert!(mem.bytes().iter().all(|&b| b == 0xA5));
    // The exact edge is fine.
    ring.push(2, read(file, w, 0, 0, 4096)).unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Ok(4096));
    assert!(mem.guards_intact());
}

/// A read across end of file returns the short count; a read at or past EOF returns 0.
#[test]
fn end_of_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(10_000, 5);
    let mut ring = Ring::builder().entries(8).build().unwrap();
    let file = ring
        .register_file(file_with(dir.path(), "f", &data))
        .unwrap();
    let mem = Mem::new(16384, 4096);
    // SAFETY: mapping outlives the ring.
    let w = unsafe { ring.register_window(mem.ptr(), 16384) }.unwrap();
    ring.push(1, read(file, w, 100, 8000, 8192)).unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Ok(2000));
    assert_eq!(&mem.bytes()[100..2100], &data[8000..]);
    assert!(mem.bytes()[2100..].iter().all(|&b| b == 0xA5));
    ring.push(2, read(file, w, 0, 10_000, 4096)).unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Ok(0));
    ring.push(3, read(file, w, 0, 1 << 30, 4096)).unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Ok(0));
    assert!(mem.guards_intact());
    assert_eq!(gdio_uring::errno_code(Errno::BADF), libc::EBADF);
}

fn read(file: FileHandle, window: WindowHandle, wo: u64, fo: u64, len: u32) -> OpKind {
    OpKind::Read(Transfer {
        file,
        window,
        window_offset: wo,
        file_offset: fo,
        len,
    })
}

fn write(file: FileHandle, window: WindowHandle, wo: u64, fo: u64, len: u32) -> OpKind {
    OpKind::Write(Transfer {
        file,
        window,
        window_offset: wo,
        file_offset: fo,
        len,
    })
}

/// `needs_enter` is true exactly while something waits for the kernel: a queued op, until it
/// is submitted; a completed op is reaped without another syscall.
#[test]
fn needs_enter_only_with_work_for_the_kernel() {
    let mut ring = Ring::builder().entries(8).build().unwrap();
    assert!(!ring.needs_enter(), "a fresh ring has nothing to submit");
    ring.push(7, OpKind::Nop).unwrap();
    assert!(ring.needs_enter(), "a queued NOP needs an io_uring_enter");
    ring.submit().unwrap();
    assert!(!ring.needs_enter(), "nothing left after the submit");
    let c = wait_n(&mut ring, 1);
    assert_eq!(c[0].user_data, 7);
    assert!(!ring.needs_enter());
}
