//! The window table: memory ranges ops read into and write from, registered (fixed buffers)
//! or not.

/// Index of a window in the ring's window table (and, for registered windows, in the kernel's
/// fixed buffer table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowHandle(pub u32);

/// How the kernel reaches a window's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// A pinned fixed buffer, served with `READ_FIXED` / `WRITE_FIXED`.
    Registered,
    /// Memory that cannot be pinned (e.g. GPU BAR/ReBAR), served with plain `READ` / `WRITE`.
    Unregistered,
}

/// What [`Ring::window_info`](crate::Ring::window_info) reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowInfo {
    /// Length in bytes.
    pub len: u64,
    /// Registered or not.
    pub kind: WindowKind,
}

/// One window.
#[derive(Debug)]
pub(crate) struct Window {
    pub ptr: *mut u8,
    pub len: u64,
    pub kind: WindowKind,
    /// Ops in flight or backlogged that use this window.
    pub users: u32,
}

/// Sparse table of windows; for registered windows the index is also the fixed buffer index.
pub(crate) type WindowTable = crate::table::SparseTable<WindowHandle, Window>;

impl crate::table::Handle for WindowHandle {
    fn from_index(i: u32) -> Self {
        WindowHandle(i)
    }
    fn index(self) -> u32 {
        self.0
    }
}
