//! Faults: EBADF, ENOSPC, unpinnable memory, cancellation, busy windows/files, file table
//! churn while ops run.

mod common;

use std::io::Write as _;
use std::os::fd::AsFd;
use std::time::Duration;

use common::{file_with, pipe, random_bytes, wait_n, Mem};
use gdio_uring::{Errno, Error, OpKind, Ring, Transfer};

/// A write through a read-only descriptor completes with EBADF.
#[test]
fn write_to_read_only_fd_is_ebadf() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ro");
    std::fs::write(&p, [0u8; 4096]).unwrap();
    let mut ring = Ring::builder().entries(8).build().unwrap();
    let file = ring
        .register_file(std::fs::File::open(&p).unwrap().into())
        .unwrap();
    let mem = Mem::new(4096, 0);
    // SAFETY: mapping outlives the ring.
    let w = unsafe { ring.register_window(mem.ptr(), 4096) }.unwrap();
    ring.push(
        1,
        OpKind::Write(Transfer {
            file,
            window: w,
            window_offset: 0,
            file_offset: 0,
            len: 4096,
        }),
    )
    .unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Err(Errno::BADF));
}

/// Writing 256 KiB into a 64 KiB tmpfs: the short first write is continued and the
/// continuation fails with ENOSPC, which is the op's result.
#[test]
#[ignore = "needs root (mounts a 64 KiB tmpfs); cargo xtask test runs it when run as root"]
fn needs_root_enospc_on_tiny_tmpfs() {
    // Unmounted when dropped, after the ring (inside the closure) is gone.
    let mnt = gdio_test_support::Tmpfs::mount("64k");
    let result = std::panic::catch_unwind(|| {
        let mut ring = Ring::builder().entries(8).build().unwrap();
        let file = ring
            .register_file(file_with(mnt.path(), "big", &[]))
            .unwrap();
        let mut mem = Mem::new(256 << 10, 0);
        mem.bytes_mut().copy_from_slice(&random_bytes(256 << 10, 9));
        // SAFETY: mapping outlives the ring (dropped first, inside this closure).
        let w = unsafe { ring.register_window(mem.ptr(), 256 << 10) }.unwrap();
        ring.push(
            1,
            OpKind::Write(Transfer {
                file,
                window: w,
                window_offset: 0,
                file_offset: 0,
                len: 256 << 10,
            }),
        )
        .unwrap();
        let r = wait_n(&mut ring, 1)[0].result;
        drop(ring);
        r
    });
    assert_eq!(result.unwrap(), Err(Errno::NOSPC));
}

/// Memory the kernel cannot pin (PROT_NONE, and a MAP_SHARED mapping of a regular file on
/// disk, both EFAULT on Linux 6.x) is refused with `Error::Unpinnable`, whose message
/// points to `add_unregistered_window`; the table slot stays free.
#[test]
fn unpinnable_memory() {
    use rustix::mm::{mmap, mmap_anonymous, munmap, MapFlags, ProtFlags};
    let mut ring = Ring::builder().entries(8).max_windows(2).build().unwrap();
    // SAFETY: fresh anonymous mapping.
    let none = unsafe {
        mmap_anonymous(
            std::ptr::null_mut(),
            65536,
            ProtFlags::empty(),
            MapFlags::PRIVATE,
        )
    }
    .unwrap();
    // SAFETY: the mapping exists for the duration of the call (and is not kept on error).
    let e = unsafe { ring.register_window(none.cast(), 65536) }.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unpinnable {
                errno: Errno::FAULT,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("add_unregistered_window"), "{e}");

    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let f = file_with(dir.path(), "m", &[1u8; 65536]);
    // SAFETY: fresh shared mapping of our own file.
    let shared = unsafe {
        mmap(
            std::ptr::null_mut(),
            65536,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            f.as_fd(),
            0,
        )
    }
    .unwrap();
    // SAFETY: as above.
    match unsafe { ring.register_window(shared.cast(), 65536) } {
        Err(Error::Unpinnable { .. }) => {}
        Ok(h) => {
            println!("NOTE: this kernel/filesystem pins file-backed shared mappings");
            ring.remove_window(h).unwrap();
        }
        Err(e) => panic!("unexpected {e}"),
    }
    // The fallback works: the same memory as an unregistered window, served with READ.
    let src = file_with(dir.path(), "src", &[42u8; 4096]);
    let file = ring.register_file(src).unwrap();
    // SAFETY: mapping stays until after the ring is dropped.
    let w = unsafe { ring.add_unregistered_window(shared.cast(), 65536) }.unwrap();
    ring.push(
        1,
        OpKind::Read(Transfer {
            file,
            window: w,
            window_offset: 0,
            file_offset: 0,
            len: 4096,
        }),
    )
    .unwrap();
    assert_eq!(wait_n(&mut ring, 1)[0].result, Ok(4096));
    drop(ring);
    // SAFETY: mapped above, ring dropped.
    unsafe {
        munmap(none, 65536).unwrap();
        munmap(shared, 65536).unwrap();
    }
}

/// Reads from an empty pipe block; cancel_all completes each with ECANCELED exactly once,
/// including the ones still waiting in the backlog.
#[test]
fn cancel_blocked_reads() {
    let (r, w) = pipe();
    let mut ring = Ring::builder().entries(8).build().unwrap();
    let file = ring.register_file(r).unwrap();
    let mem = Mem::new(64 << 10, 4096);
    // SAFETY: mapping outlives the ring.
    let win = unsafe { ring.register_window(mem.ptr(), 64 << 10) }.unwrap();
    const N: u64 = 40; // more than the 8-entry SQ: some wait in the backlog
    for i in 0..N {
        ring.push(
            i,
            OpKind::Read(Transfer {
                file,
                window: win,
                window_offset: i * 1024,
                file_offset: 0,
                len: 1024,
            }),
        )
        .unwrap();
    }
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        ring.reap(|c| panic!("nothing should complete yet: {c:?}")),
        0
    );
    assert_eq!(ring.in_flight(), N as usize);
    ring.cancel_all().unwrap();
    let mut seen = vec![0u32; N as usize];
    let mut got = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while got < N {
        assert!(std::time::Instant::now() < deadline);
        ring.submit_and_wait(1, Some(Duration::from_millis(50)))
            .unwrap();
        ring.reap(|c| {
            assert_eq!(c.result, Err(Errno::CANCELED));
            seen[c.user_data as usize] += 1;
            got += 1;
        });
    }
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    assert_eq!(ring.in_flight(), 0);
    drop(w);
    assert!(mem.guards_intact());
    assert!(mem.bytes().iter().all(|&b| b == 0xA5));
}

/// Removing a window or unregistering a file while an op uses it fails with
/// WindowBusy / FileBusy; after the op finished it works. Files are unregistered and
/// re-registered while reads on another file are in flight, and the new file reads right.
#[test]
fn busy_window_and_file_churn() {
    let dir = tempfile::tempdir().unwrap();
    let (r, w) = pipe();
    let mut ring = Ring::builder().entries(8).max_files(4).build().unwrap();
    let pipe_h = ring.register_file(r).unwrap();
    let mem = Mem::new(8192, 0);
    // SAFETY: mapping outlives the ring.
    let win = unsafe { ring.register_window(mem.ptr(), 8192) }.unwrap();
    // SAFETY: as above.
    let win2 = unsafe { ring.add_unregistered_window(mem.ptr(), 8192) }.unwrap();
    ring.push(
        1,
        OpKind::Read(Transfer {
            file: pipe_h,
            window: win,
            window_offset: 0,
            file_offset: 0,
            len: 100,
        }),
    )
    .unwrap();
    ring.submit().unwrap();
    assert!(matches!(
        ring.remove_window(win),
        Err(Error::WindowBusy { users: 1, .. })
    ));
    assert!(matches!(
        ring.unregister_file(pipe_h),
        Err(Error::FileBusy { users: 1, .. })
    ));

    // Churn the file table while the pipe read is in flight.
    for round in 0..20u8 {
        let data = [round; 4096];
        let h = ring
            .register_file(file_with(dir.path(), &format!("f{round}"), &data))
            .unwrap();
        assert!(ring.file_registered(h));
        ring.push(
            100 + u64::from(round),
            OpKind::Read(Transfer {
                file: h,
                window: win2,
                window_offset: 4096,
                file_offset: 0,
                len: 4096,
            }),
        )
        .unwrap();
        let c = wait_n(&mut ring, 1);
        assert_eq!(c[0].user_data, 100 + u64::from(round));
        assert_eq!(c[0].result, Ok(4096));
        assert!(mem.bytes()[4096..].iter().all(|&b| b == round));
        let _fd = ring.unregister_file(h).unwrap();
        assert!(!ring.file_registered(h));
    }
    let mut w = std::fs::File::from(w);
    w.write_all(&[5u8; 100]).unwrap();
    let c = wait_n(&mut ring, 1);
    assert_eq!((c[0].user_data, c[0].result), (1, Ok(100)));
    ring.remove_window(win).unwrap();
    assert!(ring.window_info(win).is_none());
    assert!(matches!(ring.remove_window(win), Err(Error::BadWindow(_))));
    let _ = ring.unregister_file(pipe_h).unwrap();
}
