//! [`Ring`]: push ops, submit, reap, cancel and drain.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use io_uring::types::{CancelBuilder, SubmitArgs, Timespec};
use io_uring::{opcode, IoUring};
use rustix::io::Errno;

use crate::builder::{RingBuilder, MAX_FIXED_BUFFER};
use crate::error::errno_of;
use crate::files::{FileEntry, FileHandle, FileTable};
use crate::op::{new_slot, Completion, OpKind, Place, Slab};
use crate::probe::Features;
use crate::state::State;
use crate::windows::{Window, WindowHandle, WindowInfo, WindowKind, WindowTable};
use crate::Error;

/// `user_data` of internal cancel SQEs (slab indexes are `u32`, so this never collides).
pub(crate) const CANCEL_TAG: u64 = u64::MAX;
/// CQ slots kept free for cancel SQEs.
const CANCEL_RESERVE: usize = 4;
/// Slab slots preallocated beyond the in-flight limit (the slab grows up to the backlog
/// limit on demand, then stays).
const PREALLOC_BACKLOG: usize = 1024;
/// How often `drain` re-issues its cancel while waiting.
const RECANCEL_EVERY: Duration = Duration::from_millis(50);

/// An io_uring instance with registered files and windows, a bounded backlog, short
/// transfer continuation, cancellation and drain.
///
/// Build one with [`Ring::builder`]. Dropping it drains every op first.
pub struct Ring {
    ring: IoUring,
    st: State,
    /// Fault injection: the next call that would enter the kernel fails with this.
    fail_enter: Option<Errno>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("sq_entries", &self.ring.params().sq_entries())
            .field("cq_entries", &self.ring.params().cq_entries())
            .field("in_flight", &self.st.slab.live())
            .field("kernel", &self.st.kernel)
            .field("backlog", &self.st.backlog.len())
            .finish_non_exhaustive()
    }
}

// SAFETY: the raw window pointers are plain addresses handed to the kernel; their validity is
// the caller's promise made in the `unsafe` register/add calls, and does not depend on the
// thread. `IoUring` itself is `Send`.
unsafe impl Send for Ring {}

impl Ring {
    /// A builder with the defaults (256 entries, 64 files, 64 windows, backlog 65536).
    pub fn builder() -> RingBuilder {
        RingBuilder::default()
    }

    pub(crate) fn from_parts(ring: IoUring, b: &RingBuilder, features: Features) -> Ring {
        let cq = ring.params().cq_entries() as usize;
        let kernel_cap = b
            .max_in_kernel
            .unwrap_or_else(|| cq.saturating_sub(CANCEL_RESERVE).max(1));
        let slab_cap = kernel_cap * 2 + b.max_backlog;
        Ring {
            ring,
            st: State {
                files: FileTable::new(b.max_files),
                windows: WindowTable::new(b.max_windows),
                slab: Slab::new(slab_cap, kernel_cap + PREALLOC_BACKLOG.min(b.max_backlog)),
                backlog: VecDeque::with_capacity(b.max_backlog.min(PREALLOC_BACKLOG) + kernel_cap),
                done: VecDeque::with_capacity(b.max_backlog.min(PREALLOC_BACKLOG) + kernel_cap),
                max_backlog: b.max_backlog,
                kernel: 0,
                kernel_cap,
                cancels: 0,
                features,
                async_min: b.async_min,
            },
            fail_enter: None,
        }
    }

    /// What the kernel supports, as probed by `build`.
    pub fn features(&self) -> &Features {
        &self.st.features
    }

    /// Submission queue size.
    pub fn sq_entries(&self) -> u32 {
        self.ring.params().sq_entries()
    }

    /// Completion queue size.
    pub fn cq_entries(&self) -> u32 {
        self.ring.params().cq_entries()
    }

    /// Most ops the layer keeps in the kernel at once (more wait in the backlog).
    pub fn max_in_kernel(&self) -> usize {
        self.st.kernel_cap
    }

    /// Registers `fd` in the sparse fixed file table. `O_DIRECT` files, pipes and sockets
    /// are fine. The file is closed when unregistered (it is handed back) or when the ring
    /// is dropped.
    pub fn register_file(&mut self, fd: OwnedFd) -> Result<FileHandle, Error> {
        let Some(slot) = self.st.files.free_slot() else {
            return Err(Error::FileTableFull {
                max: self.st.files.max(),
            });
        };
        let entry = FileEntry::inspect(fd).map_err(|(e, _fd)| e)?;
        self.ring
            .submitter()
            .register_files_update(slot.0, &[entry.fd.as_raw_fd()])
            .map_err(|e| Error::Register {
                op: "FILES_UPDATE",
                errno: errno_of(&e),
            })?;
        self.st.files.insert(slot, entry);
        Ok(slot)
    }

    /// Removes a file from the fixed table and hands its descriptor back.
    ///
    /// Fails with [`Error::FileBusy`] while an op in flight or in the backlog uses it.
    pub fn unregister_file(&mut self, h: FileHandle) -> Result<OwnedFd, Error> {
        let users = self.st.files.get(h).ok_or(Error::BadFile(h))?.users;
        if users > 0 {
            return Err(Error::FileBusy { file: h, users });
        }
        self.ring
            .submitter()
            .register_files_update(h.0, &[-1])
            .map_err(|e| Error::Register {
                op: "FILES_UPDATE",
                errno: errno_of(&e),
            })?;
        let entry = self.st.files.take(h).ok_or(Error::BadFile(h))?;
        Ok(entry.fd)
    }

    /// Whether `h` names a registered file.
    pub fn file_registered(&self, h: FileHandle) -> bool {
        self.st.files.get(h).is_some()
    }

    /// Registers `len` bytes at `ptr` as a fixed buffer (pinned by the kernel) and returns
    /// its window. Ops on it use `READ_FIXED` / `WRITE_FIXED`.
    ///
    /// Memory the kernel cannot pin (GPU BAR/ReBAR, `PROT_NONE`, file-backed shared
    /// mappings) fails with [`Error::Unpinnable`]; add it with
    /// [`add_unregistered_window`](Self::add_unregistered_window) instead.
    ///
    /// # Safety
    ///
    /// `ptr..ptr+len` must be a mapping that stays valid (not unmapped or reused for anything
    /// the caller reads or writes while ops on it run) until the window is removed with
    /// [`remove_window`](Self::remove_window) or the ring is dropped. The kernel writes into it
    /// for reads and reads from it for writes.
    pub unsafe fn register_window(
        &mut self,
        ptr: *mut u8,
        len: usize,
    ) -> Result<WindowHandle, Error> {
        if ptr.is_null() || len == 0 {
            return Err(Error::EmptyWindow);
        }
        if len > MAX_FIXED_BUFFER {
            return Err(Error::WindowTooLarge {
                len,
                max: MAX_FIXED_BUFFER,
            });
        }
        let Some(slot) = self.st.windows.free_slot() else {
            return Err(Error::WindowTableFull {
                max: self.st.windows.max(),
            });
        };
        let iov = libc::iovec {
            iov_base: ptr.cast(),
            iov_len: len,
        };
        // SAFETY: the caller promises `ptr..ptr+len` stays valid until the window is removed
        // or the ring dropped; `remove_window` refuses while ops use it and `Drop` drains first.
        let r = unsafe {
            self.ring
                .submitter()
                .register_buffers_update(slot.0, &[iov], None)
        };
        r.map_err(|e| match errno_of(&e) {
            errno @ (Errno::FAULT | Errno::OPNOTSUPP) => Error::Unpinnable {
                ptr: ptr as usize,
                len,
                errno,
            },
            Errno::NOMEM => Error::MemlockLimit { len },
            errno => Error::Register {
                op: "BUFFERS_UPDATE",
                errno,
            },
        })?;
        self.st.windows.insert(
            slot,
            Window {
                ptr,
                len: len as u64,
                kind: WindowKind::Registered,
                users: 0,
            },
        );
        Ok(slot)
    }

    /// Adds `len` bytes at `ptr` as a window the kernel does not pin (e.g. GPU ReBAR). Ops on
    /// it use plain `READ` / `WRITE`.
    ///
    /// # Safety
    ///
    /// Same contract as [`register_window`](Self::register_window): the memory must stay
    /// valid until the window is removed or the ring is dropped.
    pub unsafe fn add_unregistered_window(
        &mut self,
        ptr: *mut u8,
        len: usize,
    ) -> Result<WindowHandle, Error> {
        if ptr.is_null() || len == 0 {
            return Err(Error::EmptyWindow);
        }
        let Some(slot) = self.st.windows.free_slot() else {
            return Err(Error::WindowTableFull {
                max: self.st.windows.max(),
            });
        };
        self.st.windows.insert(
            slot,
            Window {
                ptr,
                len: len as u64,
                kind: WindowKind::Unregistered,
                users: 0,
            },
        );
        Ok(slot)
    }

    /// Removes a window (and unregisters its fixed buffer). Fails with
    /// [`Error::WindowBusy`] while an op in flight or in the backlog uses it.
    pub fn remove_window(&mut self, h: WindowHandle) -> Result<(), Error> {
        let w = self.st.windows.get(h).ok_or(Error::BadWindow(h))?;
        if w.users > 0 {
            return Err(Error::WindowBusy {
                window: h,
                users: w.users,
            });
        }
        if w.kind == WindowKind::Registered {
            let iov = libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            };
            // SAFETY: a null, zero-length iovec clears the slot; no memory is handed over.
            let r = unsafe {
                self.ring
                    .submitter()
                    .register_buffers_update(h.0, &[iov], None)
            };
            r.map_err(|e| Error::Register {
                op: "BUFFERS_UPDATE (clear)",
                errno: errno_of(&e),
            })?;
        }
        self.st.windows.take(h);
        Ok(())
    }

    /// Length and kind of a window, or `None` if `h` names none.
    pub fn window_info(&self, h: WindowHandle) -> Option<WindowInfo> {
        self.st.windows.get(h).map(|w| WindowInfo {
            len: w.len,
            kind: w.kind,
        })
    }

    /// Ops accepted by `push` and not yet reaped (in the kernel, in the backlog, or finished
    /// and waiting for `reap`).
    pub fn in_flight(&self) -> usize {
        self.st.slab.live()
    }

    /// The io-wq worker limits in force for the calling thread's io-wq, `[bounded,
    /// unbounded]` (`IORING_REGISTER_IOWQ_MAX_WORKERS` with zeros, which reads without
    /// changing them); `[0, 0]` when the calling thread has no io-wq (it never submitted to a
    /// ring). See [`RingBuilder::io_wq_max_workers`](crate::RingBuilder::io_wq_max_workers).
    pub fn io_wq_max_workers(&self) -> Result<[u32; 2], Error> {
        let mut limits = [0u32; 2];
        self.ring
            .submitter()
            .register_iowq_max_workers(&mut limits)
            .map_err(|e| Error::Register {
                op: "IOWQ_MAX_WORKERS",
                errno: crate::error::errno_of(&e),
            })?;
        Ok(limits)
    }

    /// Whether the kernel holds completions in its CQ overflow list (the next
    /// [`reap`](Self::reap) flushes them). Only a ring built with
    /// [`RingBuilder::max_in_kernel`](crate::RingBuilder::max_in_kernel) above the CQ's size
    /// gets there.
    pub fn cq_overflowed(&mut self) -> bool {
        self.ring.submission().cq_overflow()
    }

    /// Fault injection for tests: the next [`submit`](Self::submit) or
    /// [`submit_and_wait`](Self::submit_and_wait) fails with [`Error::Enter`]`(errno)`, as if
    /// `io_uring_enter` had, before entering the kernel. Nothing already in the kernel changes.
    #[doc(hidden)]
    pub fn fail_next_enter(&mut self, errno: Errno) {
        self.fail_enter = Some(errno);
    }

    /// Ops waiting in the backlog for SQ space.
    pub fn backlogged(&self) -> usize {
        self.st.backlog.len()
    }

    /// Whether an `io_uring_enter` would do anything now: SQEs or backlogged ops to submit, or
    /// the kernel asking for one (completions that overflowed the CQ, deferred task work to
    /// run). A caller that submits only then saves the syscall on turns with nothing to hand
    /// over, which is most turns of a pump answering NOPs and FENCEs.
    pub fn needs_enter(&mut self) -> bool {
        // A backlog waits for room in the kernel's share of the ring: entering while that is
        // full would hand over nothing.
        if !self.st.backlog.is_empty() && self.st.kernel < self.st.kernel_cap {
            return true;
        }
        let sq = self.ring.submission();
        !sq.is_empty() || sq.cq_overflow() || sq.taskrun()
    }

    /// Validates `op` and queues it: into the SQ if there is room, else into the backlog.
    /// Nothing is queued when validation fails. Call [`submit`](Self::submit) to hand queued
    /// ops to the kernel.
    pub fn push(&mut self, user_data: u64, op: OpKind) -> Result<(), Error> {
        self.st.validate(&op)?;
        let st = &mut self.st;
        let mut sq = self.ring.submission();
        let direct = st.backlog.is_empty() && st.kernel < st.kernel_cap && !sq.is_full();
        if !direct && st.backlog.len() >= st.max_backlog {
            return Err(Error::Backlog {
                max: st.max_backlog,
            });
        }
        let Some(idx) = st.slab.alloc(new_slot(user_data, &op)) else {
            return Err(Error::Backlog {
                max: st.max_backlog,
            });
        };
        st.acquire(idx);
        if !(direct && st.try_push_sqe(&mut sq, idx)) {
            if let Some(s) = st.slab.get_mut(idx) {
                s.place = Place::Backlog;
            }
            st.backlog.push_back(idx);
        }
        Ok(())
    }

    /// Moves backlogged ops into the SQ and submits the SQ to the kernel. Never blocks.
    /// Returns how many SQEs the kernel accepted.
    pub fn submit(&mut self) -> Result<usize, Error> {
        if let Some(errno) = self.fail_enter.take() {
            return Err(Error::Enter(errno));
        }
        let mut total = 0;
        for _ in 0..4 {
            {
                let mut sq = self.ring.submission();
                self.st.fill_from_backlog(&mut sq);
            }
            let n = match self.ring.submit() {
                Ok(n) => n,
                Err(e) => match errno_of(&e) {
                    Errno::AGAIN | Errno::BUSY | Errno::INTR => break,
                    errno => return Err(Error::Enter(errno)),
                },
            };
            total += n;
            if n == 0 || self.st.backlog.is_empty() || self.st.kernel >= self.st.kernel_cap {
                break;
            }
        }
        Ok(total)
    }

    /// Like [`submit`](Self::submit), then waits until at least `want` completions are ready
    /// or `timeout` passes. `want` is capped to the ops in the kernel, so this never waits
    /// for completions that cannot come. A timeout or a signal is not an error.
    pub fn submit_and_wait(
        &mut self,
        want: usize,
        timeout: Option<Duration>,
    ) -> Result<usize, Error> {
        let submitted = self.submit()?;
        let want = want.min(self.st.kernel + self.st.cancels);
        if want == 0 {
            return Ok(submitted);
        }
        let r = match timeout {
            Some(t) => {
                let ts = Timespec::from(t);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want, &args)
            }
            None => self.ring.submit_and_wait(want),
        };
        match r {
            Ok(n) => Ok(submitted + n),
            Err(e) => match errno_of(&e) {
                Errno::TIME | Errno::INTR | Errno::AGAIN | Errno::BUSY => Ok(submitted),
                errno => Err(Error::Enter(errno)),
            },
        }
    }

    /// Hands every finished op to `f` and returns how many. Short transfers and EAGAIN are
    /// continued internally (their SQEs go to the SQ for the next `submit`) and not reported
    /// until done. Flushes the kernel's CQ overflow list if it was used. Does not allocate.
    pub fn reap(&mut self, mut f: impl FnMut(Completion)) -> usize {
        let mut count = 0;
        while let Some(idx) = self.st.done.pop_front() {
            let s = self.st.slab.get(idx);
            let c = Completion {
                user_data: s.user_data,
                result: s.result,
            };
            self.st.finish(idx);
            f(c);
            count += 1;
        }
        for _ in 0..8 {
            let overflow;
            {
                let (_, mut sq, mut cq) = self.ring.split();
                cq.sync();
                for cqe in &mut cq {
                    if let Some(c) = self.st.handle(cqe.user_data(), cqe.result(), &mut sq) {
                        f(c);
                        count += 1;
                    }
                }
                overflow = sq.cq_overflow();
            }
            if !overflow {
                break;
            }
            // Completions were parked in the kernel's overflow list: entering with GETEVENTS
            // (which `submit` does when the overflow flag is set) moves them into the CQ.
            let _ = self.ring.submit();
        }
        count
    }

    /// Cancels every op: backlogged ops finish with `ECANCELED` at the next `reap`; ops in
    /// the kernel are cancelled with `IORING_OP_ASYNC_CANCEL` + `IORING_ASYNC_CANCEL_ANY`
    /// and complete with `ECANCELED` (ops the kernel cannot interrupt finish normally).
    /// Cancelled ops are not continued after a short transfer.
    pub fn cancel_all(&mut self) -> Result<(), Error> {
        while let Some(idx) = self.st.backlog.pop_front() {
            if let Some(s) = self.st.slab.get_mut(idx) {
                s.place = Place::Done;
                s.result = Err(Errno::CANCELED);
            }
            self.st.done.push_back(idx);
        }
        for s in self.st.slab.iter_live_mut() {
            if s.place == Place::Kernel {
                s.cancelled = true;
            }
        }
        if self.st.kernel == 0 || self.st.cancels >= CANCEL_RESERVE {
            return Ok(());
        }
        if self.ring.submission().is_full() {
            self.submit()?;
        }
        let entry = opcode::AsyncCancel2::new(CancelBuilder::any())
            .build()
            .user_data(CANCEL_TAG);
        // SAFETY: a cancel SQE references no memory.
        let pushed = unsafe { self.ring.submission().push(&entry) }.is_ok();
        if pushed {
            self.st.cancels += 1;
        }
        self.submit()?;
        Ok(())
    }

    /// Cancels everything and waits until the kernel is done with every op, handing each
    /// completion to `f`. After `Ok(())` nothing is in flight and the kernel writes into no
    /// window. Fails with [`Error::DrainTimeout`] if ops remain after `timeout`; call it again.
    pub fn drain(&mut self, timeout: Duration, mut f: impl FnMut(Completion)) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        self.cancel_all()?;
        let mut last_cancel = Instant::now();
        loop {
            self.reap(&mut f);
            if self.st.slab.live() == 0 {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::DrainTimeout {
                    in_flight: self.st.slab.live(),
                });
            }
            if now.duration_since(last_cancel) >= RECANCEL_EVERY {
                self.cancel_all()?;
                last_cancel = now;
            }
            let wait = (deadline - now).min(RECANCEL_EVERY);
            self.submit_and_wait(1, Some(wait))?;
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // The kernel must be done with every window before the caller may free it, so wait
        // as long as it takes; warn every 10 s.
        let mut failures = 0;
        loop {
            match self.drain(Duration::from_secs(10), |_| {}) {
                Ok(()) => break,
                Err(Error::DrainTimeout { in_flight }) => {
                    eprintln!("gdio-uring: dropping ring: still waiting for {in_flight} op(s) to leave the kernel");
                }
                Err(e) => {
                    failures += 1;
                    if failures >= 3 {
                        // The ring cannot be entered (e.g. SINGLE_ISSUER dropped on another
                        // thread); closing it makes the kernel cancel and reap everything.
                        eprintln!(
                            "gdio-uring: dropping ring: drain failed ({e}); closing the ring"
                        );
                        break;
                    }
                }
            }
        }
        // Unregistering waits for the kernel to drop its references to the buffers.
        let sub = self.ring.submitter();
        let _ = sub.unregister_buffers();
        let _ = sub.unregister_files();
    }
}
