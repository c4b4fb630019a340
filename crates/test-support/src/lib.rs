//! What the gdio crates' tests share: memory with guard bytes around it (so a write outside a
//! window shows), files of random bytes, pipes whose reads block until written, a tmpfs for
//! the tests that need root, bounded waits, and (feature `vulkan`) a serialised Vulkan context.
//! Test code only: it panics on any failure.
#![deny(missing_docs)]

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};

#[cfg(feature = "vulkan")]
pub mod vulkan;

/// The byte every guard holds.
pub const GUARD_BYTE: u8 = 0xA5;

/// A page-aligned anonymous mapping with `guard` bytes of [`GUARD_BYTE`] on each side of the
/// usable range, unmapped on drop.
#[derive(Debug)]
pub struct GuardedMemory {
    base: *mut u8,
    total: usize,
    /// Guard bytes before (and at least as many after) the usable range.
    pub guard: usize,
    /// Bytes of the usable range.
    pub len: usize,
}

impl GuardedMemory {
    /// `len` usable bytes (filled with the guard byte too) with `guard` bytes on each side.
    #[must_use]
    pub fn new(len: usize, guard: usize) -> GuardedMemory {
        let total = (len + 2 * guard).div_ceil(4096) * 4096;
        // SAFETY: a fresh anonymous private mapping; no existing memory is touched.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                total,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )
        }
        .expect("mmap") as *mut u8;
        // SAFETY: base..base + total is the mapping just made.
        unsafe { std::ptr::write_bytes(base, GUARD_BYTE, total) };
        GuardedMemory {
            base,
            total,
            guard,
            len,
        }
    }

    /// Start of the usable range (after the front guard).
    #[must_use]
    pub fn ptr(&self) -> *mut u8 {
        self.base.wrapping_add(self.guard)
    }

    /// The usable range. Read it only while no IO targets it.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: inside the mapping; tests read only when no op is in flight.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }

    /// The usable range, to fill. Only while no IO targets it.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` is the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }

    /// Whether both guards still hold [`GUARD_BYTE`].
    #[must_use]
    pub fn guards_intact(&self) -> bool {
        // SAFETY: inside the mapping.
        let all = unsafe { std::slice::from_raw_parts(self.base, self.total) };
        all[..self.guard].iter().all(|&b| b == GUARD_BYTE)
            && all[self.guard + self.len..]
                .iter()
                .all(|&b| b == GUARD_BYTE)
    }
}

impl Drop for GuardedMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; rings using it are dropped (drained) first.
        let _ = unsafe { rustix::mm::munmap(self.base.cast(), self.total) };
    }
}

/// A seeded random number generator.
#[must_use]
pub fn rng(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// `n` random bytes from a fixed seed.
#[must_use]
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng(seed).fill_bytes(&mut v);
    v
}

/// A file of `len` random bytes in `dir`, synced; returns its path and contents.
#[must_use]
pub fn random_file(dir: &Path, name: &str, len: usize, seed: u64) -> (PathBuf, Vec<u8>) {
    let data = random_bytes(len, seed);
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&data).unwrap();
    f.sync_all().unwrap();
    (path, data)
}

/// Writes `data` to `dir/name` and opens it for reading and writing.
#[must_use]
pub fn file_with(dir: &Path, name: &str, data: &[u8]) -> OwnedFd {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap()
        .into()
}

/// A pipe (read end, write end): reads of it block until written, so IO stays in flight as
/// long as a test likes.
#[must_use]
pub fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe2")
}

/// Polls `f` every 2 ms until it holds; panics naming `what` after 20 s.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A tmpfs of `size` bytes mounted on a fresh folder, unmounted on drop. Needs root: a test
/// that uses it is `#[ignore = "needs root ..."]` and named `needs_root_*`, and `cargo xtask
/// test` runs it as root. Panics (rather than skipping) when the mount fails.
#[derive(Debug)]
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts it.
    #[must_use]
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "gdio-test"])
            .arg(dir.path())
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "cannot mount a tmpfs ({status:?}): this test needs root"
        );
        Tmpfs { dir }
    }

    /// Where it is mounted.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_show_a_write_outside_the_range() {
        let mut m = GuardedMemory::new(100, 64);
        m.bytes_mut().fill(0);
        assert!(m.guards_intact());
        // SAFETY: one byte past the usable range is inside the back guard of the mapping.
        unsafe { *m.ptr().add(100) = 0 };
        assert!(!m.guards_intact());
    }

    #[test]
    fn random_files_are_seeded() {
        let d = tempfile::tempdir().unwrap();
        let (p, a) = random_file(d.path(), "a", 1000, 5);
        assert_eq!(std::fs::read(p).unwrap(), a);
        assert_eq!(random_bytes(1000, 5), a);
        assert_ne!(random_bytes(1000, 6), a);
    }
}
