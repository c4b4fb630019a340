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
#[derive(Debug)]
pub(crate) struct WindowTable {
    slots: Vec<Option<Window>>,
}

impl WindowTable {
    pub fn new(n: u32) -> Self {
        WindowTable {
            slots: (0..n).map(|_| None).collect(),
        }
    }

    pub fn max(&self) -> u32 {
        self.slots.len() as u32
    }

    pub fn free_slot(&self) -> Option<u32> {
        self.slots
            .iter()
            .position(Option::is_none)
            .map(|i| i as u32)
    }

    pub fn get(&self, h: WindowHandle) -> Option<&Window> {
        self.slots.get(h.0 as usize).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, h: WindowHandle) -> Option<&mut Window> {
        self.slots.get_mut(h.0 as usize).and_then(Option::as_mut)
    }

    pub fn insert(&mut self, slot: u32, w: Window) {
        self.slots[slot as usize] = Some(w);
    }

    pub fn take(&mut self, h: WindowHandle) -> Option<Window> {
        self.slots.get_mut(h.0 as usize).and_then(Option::take)
    }
}
