//! Typed errors of the submission layer; every message says what to do about it.

use rustix::io::Errno;

use crate::{FileHandle, WindowHandle};

/// Everything that can go wrong in `gdio-uring`.
///
/// Per-operation OS errors (EBADF, ENOSPC, ECANCELED, ...) are not `Error`s: they come back in
/// [`Completion::result`](crate::Completion::result).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `io_uring_setup` failed.
    #[error("io_uring_setup failed: {errno}; {hint}")]
    Setup {
        /// The OS error.
        errno: Errno,
        /// What to do about it.
        hint: &'static str,
    },
    /// The running kernel lacks an opcode, setup flag or feature this layer needs.
    #[error("the running kernel does not support {what}; {hint}")]
    Unsupported {
        /// The missing opcode / flag / feature.
        what: &'static str,
        /// What to do about it.
        hint: &'static str,
    },
    /// The builder was given values that cannot work together.
    #[error("invalid ring configuration: {0}")]
    InvalidConfig(&'static str),
    /// A register/unregister call on the ring failed with an unexpected error.
    #[error("io_uring_register({op}) failed: {errno}; check the argument (fd, pointer, length) and kernel log")]
    Register {
        /// Which register operation.
        op: &'static str,
        /// The OS error.
        errno: Errno,
    },
    /// The memory given to `register_window` cannot be pinned by the kernel.
    #[error(
        "memory at {ptr:#x} (+{len} bytes) can't be pinned (e.g. GPU BAR/ReBAR, PROT_NONE or a \
         file-backed shared mapping; kernel said {errno}); add it with add_unregistered_window \
         and it is served with plain READ/WRITE"
    )]
    Unpinnable {
        /// Start of the rejected range.
        ptr: usize,
        /// Length of the rejected range.
        len: usize,
        /// What the kernel returned (EFAULT or EOPNOTSUPP).
        errno: Errno,
    },
    /// Pinning the window would exceed the locked-memory limit.
    #[error(
        "pinning {len} bytes exceeds the locked-memory limit (ENOMEM); raise RLIMIT_MEMLOCK \
         (ulimit -l) or run as root / with CAP_IPC_LOCK"
    )]
    MemlockLimit {
        /// Length that could not be pinned.
        len: usize,
    },
    /// A registered window is larger than the kernel accepts for one fixed buffer.
    #[error("window of {len} bytes is larger than the {max}-byte limit of one fixed buffer; split it into several windows")]
    WindowTooLarge {
        /// Requested length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A null pointer or a zero length was given as a window.
    #[error("window pointer is null or length is zero; pass a real mapping")]
    EmptyWindow,
    /// Every slot of the registered file table is taken.
    #[error("registered file table is full ({max} slots); unregister a file or raise RingBuilder::max_files")]
    FileTableFull {
        /// Table size.
        max: u32,
    },
    /// Every slot of the window table is taken.
    #[error(
        "window table is full ({max} slots); remove a window or raise RingBuilder::max_windows"
    )]
    WindowTableFull {
        /// Table size.
        max: u32,
    },
    /// The file handle names no registered file.
    #[error(
        "file handle {0:?} is not registered; register the file with Ring::register_file first"
    )]
    BadFile(FileHandle),
    /// The window handle names no window.
    #[error("window handle {0:?} does not exist; add it with register_window / add_unregistered_window first")]
    BadWindow(WindowHandle),
    /// `window_offset + len` is past the end of the window (or overflows).
    #[error(
        "range {window_offset}+{len} is outside window {window:?} of {window_len} bytes; \
         shrink the transfer or use a bigger window"
    )]
    OutOfWindow {
        /// The window.
        window: WindowHandle,
        /// Requested window offset.
        window_offset: u64,
        /// Requested length.
        len: u32,
        /// The window's length.
        window_len: u64,
    },
    /// `file_offset + len` does not fit in an `i64` (a kernel `loff_t`).
    #[error("file range {file_offset}+{len} overflows a 64-bit signed file offset; pass a smaller offset")]
    FileOffsetOverflow {
        /// Requested file offset.
        file_offset: u64,
        /// Requested length.
        len: u32,
    },
    /// The backlog of ops waiting for SQ space is full.
    #[error("submission backlog is full ({max} ops waiting); submit and reap completions before pushing more, or raise RingBuilder::max_backlog")]
    Backlog {
        /// The configured limit.
        max: usize,
    },
    /// The window is used by an op in flight or in the backlog.
    #[error("window {window:?} is used by {users} op(s) in flight; reap or drain them before removing it")]
    WindowBusy {
        /// The window.
        window: WindowHandle,
        /// How many ops use it.
        users: u32,
    },
    /// The file is used by an op in flight or in the backlog.
    #[error("file {file:?} is used by {users} op(s) in flight; reap or drain them before unregistering it")]
    FileBusy {
        /// The file.
        file: FileHandle,
        /// How many ops use it.
        users: u32,
    },
    /// `io_uring_enter` failed with an unexpected error.
    #[error(
        "io_uring_enter failed: {0}; the ring is likely unusable, drop it and build a new one"
    )]
    Enter(Errno),
    /// `drain` gave up before the kernel finished every op.
    #[error("drain timed out with {in_flight} op(s) still owned by the kernel; call drain again (the window memory must stay alive until it returns Ok)")]
    DrainTimeout {
        /// Ops still in flight.
        in_flight: usize,
    },
    /// An fstat/fcntl on a file being registered failed.
    #[error("inspecting the file to register failed: {0}; pass an open, valid file descriptor")]
    FileInspect(Errno),
}

/// Converts a `std::io::Error` from the io-uring crate into an [`Errno`].
pub(crate) fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_io_error(e).unwrap_or(Errno::IO)
}
