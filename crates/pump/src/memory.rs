//! Memory the pump serves: queue regions and data windows, kept alive by the pump for as long
//! as the kernel or the device may touch them.

use std::ptr::NonNull;

use gdio_protocol::region::zeroed_words;
use gdio_protocol::sync::AtomicU32;
use gdio_protocol::{Layout, Region};

/// Memory holding one queue's request and completion regions.
///
/// The pump keeps an `Arc` of it until the pump thread has finished, so the regions outlive
/// every access the pump makes.
pub trait QueueMemory: Send + Sync + 'static {
    /// The request region (device writes, host polls).
    fn requests(&self) -> Region<'_>;
    /// The completion region (host writes, device polls).
    fn completions(&self) -> Region<'_>;
    /// Number of slots the regions were sized for.
    fn slot_count(&self) -> u32;
}

/// A data window: memory the kernel reads into (READ) or writes from (WRITE).
///
/// # Safety
/// Implementors guarantee that [`WindowMemory::as_ptr`] is valid for reads and writes of
/// [`WindowMemory::len`] bytes, does not change, and stays mapped for as long as the value
/// lives. The pump holds an `Arc` of every window until the kernel is provably done with it
/// (the ring is drained), so dropping the last other reference never frees memory under IO.
pub unsafe trait WindowMemory: Send + Sync + 'static {
    /// Start of the window.
    fn as_ptr(&self) -> *mut u8;
    /// Length in bytes.
    fn len(&self) -> usize;
    /// True if the window has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A queue in ordinary host memory: for the CPU-emulated device, tests and benchmarks.
#[derive(Debug)]
pub struct HostQueueMemory {
    slots: u32,
    requests: Box<[AtomicU32]>,
    completions: Box<[AtomicU32]>,
}

impl HostQueueMemory {
    /// Zeroed regions for `slots` slots.
    pub fn new(slots: u32) -> Result<HostQueueMemory, gdio_protocol::LayoutError> {
        let layout = Layout::new(slots)?;
        Ok(HostQueueMemory {
            slots,
            requests: zeroed_words(layout.request_bytes()),
            completions: zeroed_words(layout.completion_bytes()),
        })
    }
}

impl QueueMemory for HostQueueMemory {
    fn requests(&self) -> Region<'_> {
        Region::new(&self.requests)
    }
    fn completions(&self) -> Region<'_> {
        Region::new(&self.completions)
    }
    fn slot_count(&self) -> u32 {
        self.slots
    }
}

/// A page-aligned anonymous mapping used as a data window, with guard bytes on both sides
/// that tests check to prove no IO wrote outside the window.
#[derive(Debug)]
pub struct HostWindow {
    base: NonNull<u8>,
    map_len: usize,
    guard: usize,
    len: usize,
}

// SAFETY: the mapping is owned by this value and only accessed through raw pointers whose
// aliasing the methods below document; it can move between threads.
unsafe impl Send for HostWindow {}
// SAFETY: shared access only copies bytes in and out through raw pointers (see copy_out).
unsafe impl Sync for HostWindow {}

/// Byte written into guard areas.
pub const GUARD_BYTE: u8 = 0xA5;

impl HostWindow {
    /// A zeroed window of `len` bytes with one page of guard bytes on each side.
    pub fn new(len: usize) -> std::io::Result<HostWindow> {
        let page = rustix::param::page_size();
        let guard = page;
        let map_len = guard + len.div_ceil(page) * page + guard;
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                map_len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )
        }?;
        let base = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        let w = HostWindow {
            base,
            map_len,
            guard,
            len,
        };
        // SAFETY: the whole mapping is ours and nothing else references it yet.
        unsafe { std::ptr::write_bytes(base.as_ptr(), GUARD_BYTE, map_len) };
        w.fill(0);
        Ok(w)
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: guard < map_len; the pointer stays inside the mapping.
        unsafe { self.base.as_ptr().add(self.guard) }
    }

    /// Sets every byte of the window (not the guards) to `byte`.
    pub fn fill(&self, byte: u8) {
        // SAFETY: the window's bytes are inside the mapping; callers fill only while no IO
        // targets the window (like any DMA buffer, the pump's user sequences this).
        unsafe { std::ptr::write_bytes(self.data(), byte, self.len) };
    }

    /// Copies `out.len()` bytes at `offset` out of the window. Returns false if out of range.
    ///
    /// Call it only for ranges whose READ has completed (the completion's acquire orders the
    /// kernel's writes before this copy) and that no IO targets now.
    pub fn copy_out(&self, offset: usize, out: &mut [u8]) -> bool {
        if offset.checked_add(out.len()).is_none_or(|e| e > self.len) {
            return false;
        }
        // SAFETY: range checked above; source is our mapping, destination a distinct slice.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data().add(offset), out.as_mut_ptr(), out.len())
        };
        true
    }

    /// Copies `data` into the window at `offset`. Returns false if out of range.
    /// Call it only for ranges no IO targets now.
    pub fn copy_in(&self, offset: usize, data: &[u8]) -> bool {
        if offset.checked_add(data.len()).is_none_or(|e| e > self.len) {
            return false;
        }
        // SAFETY: range checked above; distinct source and destination.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.data().add(offset), data.len())
        };
        true
    }

    /// True if every guard byte on both sides still holds [`GUARD_BYTE`].
    #[must_use]
    pub fn guards_intact(&self) -> bool {
        let tail = self.guard + self.len;
        let check = |from: usize, to: usize| {
            (from..to).all(|i| {
                // SAFETY: i < map_len; reading our own mapping.
                unsafe { self.base.as_ptr().add(i).read_volatile() == GUARD_BYTE }
            })
        };
        check(0, self.guard) && check(tail, self.map_len)
    }

    /// A checksum of the window's bytes (FNV-1a 64), for canary checks.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for i in 0..self.len {
            // SAFETY: i < len; reading our own mapping.
            let b = unsafe { self.data().add(i).read_volatile() };
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h
    }
}

// SAFETY: `data()` is valid for `len` bytes for as long as the HostWindow lives (unmapped only
// in Drop) and never moves.
unsafe impl WindowMemory for HostWindow {
    fn as_ptr(&self) -> *mut u8 {
        self.data()
    }
    fn len(&self) -> usize {
        self.len
    }
}

impl Drop for HostWindow {
    fn drop(&mut self) {
        // SAFETY: the mapping was created in `new` with this length and is unmapped once.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.map_len) };
    }
}
