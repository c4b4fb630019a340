//! Shared set-up for the pump's tests: real files with random contents, real windows.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::sync::Arc;

use gdio_protocol::{DeviceQueue, FileAccess, Generation, Op, Poll, Request, WindowAccess};
use gdio_pump::{HostQueueMemory, HostWindow, IdlePolicy, Pump, PumpBuilder, WindowMode};
use rand::Rng;

pub const RW: FileAccess = FileAccess {
    readable: true,
    writable: true,
};
pub const RO: FileAccess = FileAccess {
    readable: true,
    writable: false,
};
pub const WIN_RW: WindowAccess = WindowAccess {
    len: 0,
    host_writes: true,
    host_reads: true,
};

pub fn access(len: usize) -> WindowAccess {
    WindowAccess {
        len: len as u64,
        ..WIN_RW
    }
}

pub use gdio_test_support::{rng, wait_until, Tmpfs};

/// A pipe whose reads block until written: IO that stays in flight as long as a test likes.
/// Returns the read end (for the pump) and the write end as a file.
pub fn pipe() -> (std::os::fd::OwnedFd, std::fs::File) {
    let (r, w) = gdio_test_support::pipe();
    (r, std::fs::File::from(w))
}

/// A temporary file of `len` random bytes; returns its path (in `dir`) and contents.
pub fn random_file(
    dir: &tempfile::TempDir,
    name: &str,
    len: usize,
    seed: u64,
) -> (PathBuf, Vec<u8>) {
    gdio_test_support::random_file(dir.path(), name, len, seed)
}

pub fn open_ro(path: &std::path::Path) -> std::fs::File {
    std::fs::File::open(path).unwrap()
}

pub fn open_rw(path: &std::path::Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

/// A pump builder with test-friendly idle settings (parks quickly: 2 cores are shared with
/// the lanes).
pub fn builder(queue: &Arc<HostQueueMemory>) -> PumpBuilder {
    Pump::builder().queue(queue.clone()).idle(IdlePolicy {
        spins: 16,
        ..IdlePolicy::default()
    })
}

pub fn window(len: usize) -> Arc<HostWindow> {
    Arc::new(HostWindow::new(len).unwrap())
}

pub fn add_window(b: PumpBuilder, w: &Arc<HostWindow>, mode: WindowMode) -> PumpBuilder {
    let len = gdio_pump::WindowMemory::len(&**w);
    b.window(w.clone(), mode, access(len))
}

pub fn read_req(file: u32, window: u32, window_offset: u32, file_offset: u64, len: u32) -> Request {
    Request {
        file,
        window,
        window_offset,
        file_offset,
        len,
        ..Request::new(Op::Read)
    }
}

pub fn write_req(
    file: u32,
    window: u32,
    window_offset: u32,
    file_offset: u64,
    len: u32,
) -> Request {
    Request {
        file,
        window,
        window_offset,
        file_offset,
        len,
        ..Request::new(Op::Write)
    }
}

pub fn random_range(r: &mut impl Rng, file_len: usize, max: usize) -> (u64, u32) {
    let off = r.gen_range(0..file_len as u64);
    let len = r.gen_range(1..=max) as u32;
    (off, len)
}

/// Spins until generation `g` of `slot` is complete and returns its result.
pub fn wait_done(dev: &DeviceQueue<'_>, slot: u32, g: Generation) -> i32 {
    loop {
        if let Poll::Done(r) = dev.poll(slot, g).unwrap() {
            return r;
        }
        std::thread::yield_now();
    }
}
