//! Shared test helpers.

#![allow(dead_code)]

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use gdio_uring::{Completion, Ring};
use rand::{Rng, SeedableRng};

/// A page-aligned anonymous mapping with `guard` bytes of 0xA5 on each side of the
/// usable range, unmapped on drop.
pub struct Mem {
    base: *mut u8,
    total: usize,
    pub guard: usize,
    pub len: usize,
}

impl Mem {
    pub fn new(len: usize, guard: usize) -> Mem {
        let total = (len + 2 * guard).div_ceil(4096) * 4096;
        // SAFETY: fresh anonymous private mapping; no existing memory is touched.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                total,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )
        }
        .expect("mmap") as *mut u8;
        let m = Mem {
            base,
            total,
            guard,
            len,
        };
        // SAFETY: base..base+total is our mapping.
        unsafe { std::ptr::write_bytes(base, 0xA5, total) };
        m
    }

    /// Start of the usable range (after the front guard).
    pub fn ptr(&self) -> *mut u8 {
        self.base.wrapping_add(self.guard)
    }

    /// The usable range.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: inside our mapping; tests read only when no op is in flight.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }

    /// Whether both guards still hold 0xA5.
    pub fn guards_intact(&self) -> bool {
        // SAFETY: inside our mapping.
        let all = unsafe { std::slice::from_raw_parts(self.base, self.total) };
        all[..self.guard].iter().all(|&b| b == 0xA5)
            && all[self.guard + self.len..].iter().all(|&b| b == 0xA5)
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: our mapping; rings using it are dropped (drained) before.
        let _ = unsafe { rustix::mm::munmap(self.base.cast(), self.total) };
    }
}

/// Random bytes from a fixed seed.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; n];
    rng.fill(&mut v[..]);
    v
}

/// Writes `data` to `dir/name` and opens it read-write.
pub fn file_with(dir: &Path, name: &str, data: &[u8]) -> OwnedFd {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(data).unwrap();
    drop(f);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap()
        .into()
}

/// Submits and reaps until `n` completions arrived (or panics after 10 s).
pub fn wait_n(ring: &mut Ring, n: usize) -> Vec<Completion> {
    let mut out = Vec::with_capacity(n);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out: {} of {n}",
            out.len()
        );
        ring.submit_and_wait(1, Some(Duration::from_millis(100)))
            .unwrap();
        ring.reap(|c| out.push(c));
    }
    out
}

/// A pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    use std::os::fd::FromRawFd;
    // SAFETY: pipe2 succeeded, both fds are fresh and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}
