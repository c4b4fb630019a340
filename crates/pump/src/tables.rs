//! The pump's file and window tables, as request validation sees them.

use std::sync::Arc;

use gdio_protocol::{FileAccess, Tables, WindowAccess};

use crate::memory::WindowMemory;

pub(crate) struct WindowEntry {
    pub access: WindowAccess,
    /// Keeps the memory alive while the ring may use it.
    pub memory: Arc<dyn WindowMemory>,
}

/// Indexed by the uring layer's handles, which are also the protocol's handles.
#[derive(Default)]
pub(crate) struct PumpTables {
    files: Vec<Option<FileAccess>>,
    windows: Vec<Option<WindowEntry>>,
}

fn put<T>(v: &mut Vec<Option<T>>, i: u32, x: Option<T>) -> Option<T> {
    let i = i as usize;
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    std::mem::replace(&mut v[i], x)
}

impl PumpTables {
    pub(crate) fn set_file(&mut self, handle: u32, access: Option<FileAccess>) {
        put(&mut self.files, handle, access);
    }

    pub(crate) fn set_window(
        &mut self,
        handle: u32,
        entry: Option<WindowEntry>,
    ) -> Option<WindowEntry> {
        put(&mut self.windows, handle, entry)
    }
}

impl PumpTables {
    /// The memory of window `handle`, if registered (a reference that keeps it alive).
    pub(crate) fn window_arc(&self, handle: u32) -> Option<Arc<dyn WindowMemory>> {
        self.windows
            .get(handle as usize)?
            .as_ref()
            .map(|w| w.memory.clone())
    }
}

impl Tables for PumpTables {
    fn file(&self, handle: u32) -> Option<FileAccess> {
        self.files.get(handle as usize).copied().flatten()
    }
    fn window(&self, handle: u32) -> Option<WindowAccess> {
        self.windows
            .get(handle as usize)?
            .as_ref()
            .map(|w| w.access)
    }
}
