//! Operations the caller pushes, the completions it reaps, and the preallocated slab of
//! in-flight op state whose index is the SQE's `user_data`.

use rustix::io::Errno;

use crate::{FileHandle, WindowHandle};

/// A transfer between a registered file and a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Registered file.
    pub file: FileHandle,
    /// Window read into or written from.
    pub window: WindowHandle,
    /// Byte offset inside the window.
    pub window_offset: u64,
    /// Byte offset inside the file (ignored for pipes and sockets).
    pub file_offset: u64,
    /// Bytes to transfer.
    pub len: u32,
}

/// One operation for [`Ring::push`](crate::Ring::push).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Read `len` bytes at `file_offset` of `file` into `window` at `window_offset`.
    ///
    /// Short reads are continued until `len` is done or end of file; the result is the byte
    /// count actually read.
    Read(Transfer),
    /// Write `len` bytes from `window` at `window_offset` to `file` at `file_offset`.
    ///
    /// Short writes are continued until `len` is done.
    Write(Transfer),
    /// `fsync(2)` (or `fdatasync(2)` when `datasync`) the file.
    Fsync {
        /// Registered file to sync.
        file: FileHandle,
        /// Sync data only (`fdatasync`).
        datasync: bool,
    },
    /// Do nothing; completes with `Ok(0)`.
    Nop,
}

/// A finished operation, handed to the callback of [`Ring::reap`](crate::Ring::reap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The caller's `user_data` given to `push`.
    pub user_data: u64,
    /// Bytes transferred (0 for fsync/nop), or the OS error.
    pub result: Result<u32, Errno>,
}

/// The raw (positive) errno value of `e`, e.g. `errno_code(Errno::BADF) == libc::EBADF`.
///
/// Negate it for the kernel's `-errno` convention.
pub const fn errno_code(e: Errno) -> i32 {
    e.raw_os_error()
}

/// What a slab slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    Read,
    Write,
    Fsync { datasync: bool },
    Nop,
}

/// Where an op currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Slot is on the free list.
    Free,
    /// Waiting in the backlog for SQ space.
    Backlog,
    /// In the SQ or owned by the kernel.
    Kernel,
    /// Finished locally (e.g. cancelled while in the backlog); waiting to be reaped.
    Done,
}

/// State of one op, live from `push` until its completion is reaped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub user_data: u64,
    pub code: Code,
    pub place: Place,
    pub file: u32,
    pub window: u32,
    /// Current (advanced) window offset.
    pub window_offset: u64,
    /// Current (advanced) file offset.
    pub file_offset: u64,
    /// Bytes still to transfer.
    pub remaining: u32,
    /// Bytes transferred so far.
    pub done: u32,
    /// EAGAIN/EINTR retries used.
    pub retries: u8,
    /// Hit by `cancel_all`: do not continue, complete with ECANCELED.
    pub cancelled: bool,
    /// Final result when `place == Done`.
    pub result: Result<u32, Errno>,
    /// Next free slot when `place == Free`.
    pub next_free: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        user_data: 0,
        code: Code::Nop,
        place: Place::Free,
        file: 0,
        window: 0,
        window_offset: 0,
        file_offset: 0,
        remaining: 0,
        done: 0,
        retries: 0,
        cancelled: false,
        result: Ok(0),
        next_free: NONE,
    };

    /// Whether the op transfers data through a window.
    pub fn uses_window(&self) -> bool {
        matches!(self.code, Code::Read | Code::Write)
    }

    /// Whether the op references a registered file.
    pub fn uses_file(&self) -> bool {
        !matches!(self.code, Code::Nop)
    }
}

const NONE: u32 = u32::MAX;

/// Fixed-capacity slab of op slots with an intrusive free list. Grows (amortised) up to
/// `cap` the first time that many ops are live; never allocates in steady state.
#[derive(Debug)]
pub(crate) struct Slab {
    slots: Vec<Slot>,
    free: u32,
    cap: usize,
    live: usize,
}

impl Slab {
    pub fn new(cap: usize, prealloc: usize) -> Self {
        Slab {
            slots: Vec::with_capacity(prealloc.min(cap)),
            free: NONE,
            cap,
            live: 0,
        }
    }

    /// Number of live (allocated) slots.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Allocates a slot, or `None` if `cap` slots are live.
    pub fn alloc(&mut self, slot: Slot) -> Option<u32> {
        let idx = if self.free != NONE {
            let idx = self.free;
            self.free = self.slots[idx as usize].next_free;
            self.slots[idx as usize] = slot;
            idx
        } else if self.slots.len() < self.cap {
            self.slots.push(slot);
            (self.slots.len() - 1) as u32
        } else {
            return None;
        };
        self.live += 1;
        Some(idx)
    }

    /// Frees a live slot.
    pub fn free(&mut self, idx: u32) {
        let s = &mut self.slots[idx as usize];
        debug_assert_ne!(s.place, Place::Free);
        *s = Slot::EMPTY;
        s.next_free = self.free;
        self.free = idx;
        self.live -= 1;
    }

    /// The live slot at `idx`, if any.
    pub fn get_mut(&mut self, idx: u32) -> Option<&mut Slot> {
        self.slots
            .get_mut(idx as usize)
            .filter(|s| s.place != Place::Free)
    }

    /// The slot at `idx` (must be live).
    pub fn get(&self, idx: u32) -> &Slot {
        &self.slots[idx as usize]
    }

    /// Iterates live slots mutably.
    pub fn iter_live_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.slots.iter_mut().filter(|s| s.place != Place::Free)
    }
}

/// A fresh slot for a pushed op (before placement).
pub(crate) fn new_slot(user_data: u64, op: &OpKind) -> Slot {
    let mut s = Slot {
        user_data,
        place: Place::Backlog,
        ..Slot::EMPTY
    };
    match *op {
        OpKind::Read(t) | OpKind::Write(t) => {
            s.code = if matches!(op, OpKind::Read(_)) {
                Code::Read
            } else {
                Code::Write
            };
            s.file = t.file.0;
            s.window = t.window.0;
            s.window_offset = t.window_offset;
            s.file_offset = t.file_offset;
            s.remaining = t.len;
        }
        OpKind::Fsync { file, datasync } => {
            s.code = Code::Fsync { datasync };
            s.file = file.0;
        }
        OpKind::Nop => s.code = Code::Nop,
    }
    s
}

/// EAGAIN/EINTR retries per op before the error is reported.
pub const MAX_RETRIES: u8 = 8;

/// Advances an op by one CQE result. `Some(result)` when the op is finished, `None` when it
/// must be resubmitted (short transfer or EAGAIN/EINTR). Every `None` either transfers at
/// least one byte (the remaining length shrinks) or uses one of `MAX_RETRIES`, so the loop
/// ends.
pub(crate) fn step(s: &mut Slot, res: i32, direct: bool, align: u32) -> Option<Result<u32, Errno>> {
    let retryable = |e: Errno| matches!(e, Errno::AGAIN | Errno::INTR);
    if res < 0 {
        let e = Errno::from_raw_os_error(-res);
        if retryable(e) && !s.cancelled && s.retries < MAX_RETRIES {
            s.retries += 1;
            return None;
        }
        return Some(Err(e));
    }
    if !matches!(s.code, Code::Read | Code::Write) {
        return Some(Ok(res as u32));
    }
    let n = (res as u32).min(s.remaining);
    if n == 0 {
        // Read: end of file. Write: the kernel made no progress; report what was done.
        return Some(Ok(s.done));
    }
    s.done += n;
    s.remaining -= n;
    s.window_offset += u64::from(n);
    s.file_offset += u64::from(n);
    s.retries = 0;
    if s.remaining == 0 {
        return Some(Ok(s.done));
    }
    if direct && s.done % align.max(1) != 0 {
        // An O_DIRECT transfer that ends unaligned hit end of file; continuing would EINVAL.
        return Some(Ok(s.done));
    }
    if s.cancelled {
        return Some(Err(Errno::CANCELED));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_slot(len: u32) -> Slot {
        new_slot(
            1,
            &OpKind::Read(Transfer {
                file: FileHandle(0),
                window: WindowHandle(0),
                window_offset: 0,
                file_offset: 0,
                len,
            }),
        )
    }

    /// Short transfers advance both offsets; EOF stops with the bytes done.
    #[test]
    fn step_short_then_eof() {
        let mut s = read_slot(10_000);
        assert_eq!(step(&mut s, 4096, false, 512), None);
        assert_eq!(
            (s.file_offset, s.window_offset, s.remaining),
            (4096, 4096, 5904)
        );
        assert_eq!(step(&mut s, 0, false, 512), Some(Ok(4096)));
    }

    /// EAGAIN is retried at most MAX_RETRIES times, then reported.
    #[test]
    fn step_eagain_is_bounded() {
        let mut s = read_slot(100);
        for _ in 0..MAX_RETRIES {
            assert_eq!(step(&mut s, -libc::EAGAIN, false, 512), None);
        }
        assert_eq!(
            step(&mut s, -libc::EAGAIN, false, 512),
            Some(Err(Errno::AGAIN))
        );
    }

    /// An unaligned short O_DIRECT transfer is end of file; a cancelled op is not continued.
    #[test]
    fn step_direct_and_cancelled() {
        let mut s = read_slot(8192);
        assert_eq!(step(&mut s, 1000, true, 512), Some(Ok(1000)));
        let mut s = read_slot(8192);
        assert_eq!(step(&mut s, 4096, true, 4096), None);
        s.cancelled = true;
        assert_eq!(step(&mut s, 1, false, 512), Some(Err(Errno::CANCELED)));
        let mut s = read_slot(8192);
        s.cancelled = true;
        assert_eq!(
            step(&mut s, -libc::EINTR, false, 512),
            Some(Err(Errno::INTR))
        );
    }
}
