//! The ring's bookkeeping apart from the io_uring itself: the file and window tables, the op
//! slab, the backlog, and what a completion queue entry means for its op. Kept apart so that
//! completions can be handled while the SQ and CQ are borrowed.

use std::collections::VecDeque;

use io_uring::squeue::{Entry, PushError};
use io_uring::types::{Fixed, FsyncFlags};
use io_uring::{opcode, SubmissionQueue};

use crate::files::{FileHandle, FileTable};
use crate::op::{step, Code, Completion, OpKind, Place, Slab, Transfer};
use crate::probe::Features;
use crate::ring::CANCEL_TAG;
use crate::windows::{WindowHandle, WindowKind, WindowTable};
use crate::Error;

/// Everything but the io_uring itself, so completions can be handled while the SQ and CQ are
/// borrowed.
pub(crate) struct State {
    pub(crate) files: FileTable,
    pub(crate) windows: WindowTable,
    pub(crate) slab: Slab,
    /// Ops waiting for SQ space; continuations go to the front.
    pub(crate) backlog: VecDeque<u32>,
    /// Ops finished without the kernel (cancelled while backlogged), waiting to be reaped.
    pub(crate) done: VecDeque<u32>,
    pub(crate) max_backlog: usize,
    /// User ops in the SQ or owned by the kernel (including unreaped CQEs).
    pub(crate) kernel: usize,
    /// Limit on `kernel`, so the CQ can always hold every completion.
    pub(crate) kernel_cap: usize,
    /// Cancel SQEs in the SQ or the kernel.
    pub(crate) cancels: usize,
    pub(crate) features: Features,
    /// Transfers of at least this many bytes go to io-wq (`IOSQE_ASYNC`).
    pub(crate) async_min: Option<u32>,
}

impl State {
    /// Checks handles and bounds of `op`.
    pub(crate) fn validate(&self, op: &OpKind) -> Result<(), Error> {
        match *op {
            OpKind::Read(t) | OpKind::Write(t) => {
                let Transfer {
                    file,
                    window,
                    window_offset,
                    file_offset,
                    len,
                } = t;
                if self.files.get(file).is_none() {
                    return Err(Error::BadFile(file));
                }
                let w = self.windows.get(window).ok_or(Error::BadWindow(window))?;
                let end = window_offset.checked_add(u64::from(len));
                if end.is_none_or(|end| end > w.len) {
                    return Err(Error::OutOfWindow {
                        window,
                        window_offset,
                        len,
                        window_len: w.len,
                    });
                }
                let fend = file_offset.checked_add(u64::from(len));
                if fend.is_none_or(|e| e > i64::MAX as u64) {
                    return Err(Error::FileOffsetOverflow { file_offset, len });
                }
                Ok(())
            }
            OpKind::Fsync { file, .. } => {
                if self.files.get(file).is_none() {
                    return Err(Error::BadFile(file));
                }
                Ok(())
            }
            OpKind::Nop => Ok(()),
        }
    }

    /// Counts the op as a user of its file and window.
    pub(crate) fn acquire(&mut self, idx: u32) {
        let s = *self.slab.get(idx);
        if s.uses_file() {
            if let Some(f) = self.files.get_mut(FileHandle(s.file)) {
                f.users += 1;
            }
        }
        if s.uses_window() {
            if let Some(w) = self.windows.get_mut(WindowHandle(s.window)) {
                w.users += 1;
            }
        }
    }

    /// Releases the op's file and window and frees its slot.
    pub(crate) fn finish(&mut self, idx: u32) {
        let s = *self.slab.get(idx);
        if s.uses_file() {
            if let Some(f) = self.files.get_mut(FileHandle(s.file)) {
                f.users = f.users.saturating_sub(1);
            }
        }
        if s.uses_window() {
            if let Some(w) = self.windows.get_mut(WindowHandle(s.window)) {
                w.users = w.users.saturating_sub(1);
            }
        }
        self.slab.free(idx);
    }

    /// Builds the SQE for the op at `idx` from its current (advanced) state.
    pub(crate) fn entry(&self, idx: u32) -> Entry {
        let s = self.slab.get(idx);
        let e = match s.code {
            Code::Nop => opcode::Nop::new().build(),
            Code::Fsync { datasync } => {
                let flags = if datasync {
                    FsyncFlags::DATASYNC
                } else {
                    FsyncFlags::empty()
                };
                opcode::Fsync::new(Fixed(s.file)).flags(flags).build()
            }
            Code::Read | Code::Write => {
                // Both exist: `users` keeps them from being removed while the op lives.
                let file = self.files.get(FileHandle(s.file));
                let (stream, direct) = file.map_or((false, false), |f| (f.stream, f.direct));
                let (base, kind) = self
                    .windows
                    .get(WindowHandle(s.window))
                    .map_or((std::ptr::null_mut(), WindowKind::Unregistered), |w| {
                        (w.ptr, w.kind)
                    });
                // -1: use (and ignore) the file position of a pipe/socket.
                let off = if stream { u64::MAX } else { s.file_offset };
                let ptr = base.wrapping_add(s.window_offset as usize);
                let fd = Fixed(s.file);
                let buf = s.window as u16;
                let e = match (s.code, kind) {
                    (Code::Read, WindowKind::Registered) => {
                        opcode::ReadFixed::new(fd, ptr, s.remaining, buf)
                            .offset(off)
                            .build()
                    }
                    (Code::Read, WindowKind::Unregistered) => {
                        opcode::Read::new(fd, ptr, s.remaining).offset(off).build()
                    }
                    (_, WindowKind::Registered) => {
                        opcode::WriteFixed::new(fd, ptr, s.remaining, buf)
                            .offset(off)
                            .build()
                    }
                    (_, WindowKind::Unregistered) => {
                        opcode::Write::new(fd, ptr, s.remaining).offset(off).build()
                    }
                };
                // Direct IO is asynchronous in the kernel already (the block layer completes
                // it; io_uring hands it to io-wq itself where it would block): sent to io-wq it
                // would hold a worker for the whole device transfer.
                match self.async_min {
                    Some(min) if s.remaining >= min && !direct => {
                        e.flags(io_uring::squeue::Flags::ASYNC)
                    }
                    _ => e,
                }
            }
        };
        e.user_data(u64::from(idx))
    }

    /// Pushes the op's SQE into the SQ; on success the op is in the kernel.
    pub(crate) fn try_push_sqe(&mut self, sq: &mut SubmissionQueue<'_>, idx: u32) -> bool {
        if self.kernel >= self.kernel_cap {
            return false;
        }
        let e = self.entry(idx);
        // SAFETY: the SQE points into a window whose memory the caller promised (in the
        // unsafe register/add call) to keep valid until the window is removed; `push`
        // checked the range lies inside it, and the window cannot be removed while this op
        // counts as its user.
        let r: Result<(), PushError> = unsafe { sq.push(&e) };
        if r.is_err() {
            return false;
        }
        if let Some(s) = self.slab.get_mut(idx) {
            s.place = Place::Kernel;
        }
        self.kernel += 1;
        true
    }

    /// Moves backlogged ops into the SQ while there is room.
    pub(crate) fn fill_from_backlog(&mut self, sq: &mut SubmissionQueue<'_>) {
        while let Some(&idx) = self.backlog.front() {
            if !self.try_push_sqe(sq, idx) {
                break;
            }
            self.backlog.pop_front();
        }
    }

    /// Handles one CQE; returns the user completion if the op is finished.
    pub(crate) fn handle(
        &mut self,
        ud: u64,
        res: i32,
        sq: &mut SubmissionQueue<'_>,
    ) -> Option<Completion> {
        if ud == CANCEL_TAG {
            self.cancels = self.cancels.saturating_sub(1);
            return None;
        }
        let idx = u32::try_from(ud).ok()?;
        let (direct, align) = {
            let s = self.slab.get_mut(idx)?;
            if s.place != Place::Kernel {
                return None;
            }
            let f = self.files.get(FileHandle(s.file));
            (f.is_some_and(|f| f.direct), f.map_or(512, |f| f.dio_align))
        };
        self.kernel = self.kernel.saturating_sub(1);
        let s = self.slab.get_mut(idx)?;
        match step(s, res, direct, align) {
            Some(result) => {
                let c = Completion {
                    user_data: s.user_data,
                    result,
                };
                self.finish(idx);
                Some(c)
            }
            None => {
                if !self.try_push_sqe(sq, idx) {
                    if let Some(s) = self.slab.get_mut(idx) {
                        s.place = Place::Backlog;
                    }
                    self.backlog.push_front(idx);
                }
                None
            }
        }
    }
}
