//! The pump's file and window tables, as request validation sees them.

use std::sync::Arc;

use gdio_protocol::{FileAccess, Tables, WindowAccess};

use crate::direct::DirectAlign;
use crate::memory::WindowMemory;

pub(crate) struct WindowEntry {
    pub access: WindowAccess,
    pub backing: Backing,
}

/// Where a window's bytes are.
pub(crate) enum Backing {
    /// Host-addressable memory the ring reads into and writes from; the `Arc` keeps it alive
    /// while the ring may use it.
    Host(Arc<dyn WindowMemory>),
    /// Memory only the copy engine reaches: its target `target` (see `crate::staging`).
    Staged { target: u32 },
}

/// Indexed by the uring layer's handles, which are also the protocol's handles.
#[derive(Default)]
pub(crate) struct PumpTables {
    files: Vec<Option<FileEntry>>,
    windows: Vec<Option<WindowEntry>>,
}

#[derive(Clone, Copy)]
struct FileEntry {
    access: FileAccess,
    /// `Some` for a file opened for direct IO.
    direct: Option<DirectAlign>,
}

fn put<T>(v: &mut Vec<Option<T>>, i: u32, x: Option<T>) -> Option<T> {
    let i = i as usize;
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    std::mem::replace(&mut v[i], x)
}

impl PumpTables {
    pub(crate) fn set_file(
        &mut self,
        handle: u32,
        access: Option<FileAccess>,
        direct: Option<DirectAlign>,
    ) {
        put(
            &mut self.files,
            handle,
            access.map(|access| FileEntry { access, direct }),
        );
    }

    /// Whether a validated transfer breaks its file's direct-IO alignment.
    pub(crate) fn misaligned(&self, t: &gdio_protocol::request::Transfer) -> bool {
        let Some(Some(FileEntry {
            direct: Some(align),
            ..
        })) = self.files.get(t.file as usize)
        else {
            return false;
        };
        let Some(Some(w)) = self.windows.get(t.window as usize) else {
            return false;
        };
        let addr = match &w.backing {
            Backing::Host(memory) => {
                (memory.as_ptr() as usize).wrapping_add(t.window_offset as usize)
            }
            // The kernel reads into a staging chunk, whose address is chunk-aligned; the copy
            // engine places the bytes at any window offset.
            Backing::Staged { .. } => 0,
        };
        !align.allows(addr, t.file_offset, t.len)
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
    /// The host memory of window `handle`, if registered and host-addressable (a reference
    /// that keeps it alive).
    pub(crate) fn window_arc(&self, handle: u32) -> Option<Arc<dyn WindowMemory>> {
        match &self.windows.get(handle as usize)?.as_ref()?.backing {
            Backing::Host(memory) => Some(memory.clone()),
            Backing::Staged { .. } => None,
        }
    }

    /// The copy-engine target of window `handle`, if it is a staged window.
    pub(crate) fn staged_target(&self, handle: u32) -> Option<u32> {
        match self.windows.get(handle as usize)?.as_ref()?.backing {
            Backing::Staged { target } => Some(target),
            Backing::Host(_) => None,
        }
    }
}

impl Tables for PumpTables {
    fn file(&self, handle: u32) -> Option<FileAccess> {
        self.files
            .get(handle as usize)
            .copied()
            .flatten()
            .map(|f| f.access)
    }
    fn window(&self, handle: u32) -> Option<WindowAccess> {
        self.windows
            .get(handle as usize)?
            .as_ref()
            .map(|w| w.access)
    }
}
