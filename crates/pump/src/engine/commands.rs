//! Table changes asked for through the [`crate::PumpHandle`]: adding and removing files and
//! windows while the pump runs.
//!
//! A removal takes the entry out of the validation tables at once (no new request can name
//! it), and finishes only when nothing still uses its handle: no op in the ring and no held
//! WRITE. Until then the handle is not free, so it is never reused under a request that
//! names the old entry.

use std::sync::mpsc;

use gdio_uring::{FileHandle, WindowHandle};

use super::{Engine, Fatal, Pending};
use crate::builder::{FileSpec, WindowMode, WindowSource, WindowSpec};
use crate::direct::DirectAlign;
use crate::handle::{Command, FileId, WindowId};
use crate::tables::{Backing, WindowEntry};
use crate::PumpError;

impl Engine<'_> {
    pub(super) fn add_file(&mut self, spec: FileSpec) -> Result<FileId, PumpError> {
        let direct = DirectAlign::of(&spec.fd);
        let h = self.ring.register_file(spec.fd)?;
        self.tables.set_file(h.0, Some(spec.access), direct);
        Ok(FileId(h.0))
    }

    pub(super) fn add_window(&mut self, spec: WindowSpec) -> Result<WindowId, PumpError> {
        let (memory, mode) = match spec.source {
            WindowSource::Host { memory, mode } => (memory, mode),
            WindowSource::Staged { target } => return self.add_staged_window(target, spec.access),
        };
        let (ptr, len) = (memory.as_ptr(), memory.len());
        // Validation bounds every request by the declared length; the memory must hold it.
        if spec.access.len > len as u64 {
            return Err(PumpError::WindowLongerThanMemory {
                declared: spec.access.len,
                memory: len as u64,
            });
        }
        // SAFETY: `WindowMemory` guarantees ptr/len stay valid while the Arc lives; the Arc is
        // stored in `tables` (or `pending_removals`, or a held WRITE) until the ring no longer
        // uses the window, and the ring is dropped (drained) before all of them.
        let h = unsafe {
            match mode {
                WindowMode::Registered => self.ring.register_window(ptr, len)?,
                WindowMode::Unregistered => self.ring.add_unregistered_window(ptr, len)?,
                WindowMode::Auto => match self.ring.register_window(ptr, len) {
                    Ok(h) => h,
                    // Memory the kernel cannot pin (ReBAR), or more than one fixed buffer holds.
                    Err(
                        gdio_uring::Error::Unpinnable { .. }
                        | gdio_uring::Error::WindowTooLarge { .. },
                    ) => self.ring.add_unregistered_window(ptr, len)?,
                    Err(e) => return Err(e.into()),
                },
            }
        };
        self.tables.set_window(
            h.0,
            Some(WindowEntry {
                access: spec.access,
                backing: Backing::Host(memory),
            }),
        );
        Ok(WindowId(h.0))
    }

    /// A staged window takes a handle from the ring's window table like any other, so the
    /// handle space stays the ring's: its entry there is the staging memory, unregistered,
    /// which no op ever names (the pump reads into and writes from staging chunks through the
    /// staging memory's own registration).
    fn add_staged_window(
        &mut self,
        target: u32,
        access: gdio_protocol::WindowAccess,
    ) -> Result<WindowId, PumpError> {
        let staged = self.staged.as_ref().ok_or(PumpError::NoCopyEngine)?;
        let target_len = staged
            .target_len(target)
            .ok_or(PumpError::NoSuchTarget(target))?;
        if access.len > target_len {
            return Err(PumpError::WindowLongerThanMemory {
                declared: access.len,
                memory: target_len,
            });
        }
        let staging = staged.staging_memory();
        // SAFETY: the staging memory lives in `self.staged`, which is dropped after the ring
        // (field order), and no op is ever pushed with this handle.
        let h = unsafe {
            self.ring
                .add_unregistered_window(staging.as_ptr(), staging.len())?
        };
        self.tables.set_window(
            h.0,
            Some(WindowEntry {
                access,
                backing: Backing::Staged { target },
            }),
        );
        Ok(WindowId(h.0))
    }

    pub(super) fn take_commands(
        &mut self,
        commands: &mpsc::Receiver<Command>,
    ) -> Result<bool, Fatal> {
        let mut worked = self.retry_removals();
        while let Ok(cmd) = commands.try_recv() {
            worked = true;
            match cmd {
                Command::AddFile(spec, reply) => {
                    let _ = reply.send(self.add_file(spec));
                }
                Command::AddWindow(spec, reply) => {
                    let _ = reply.send(self.add_window(spec));
                }
                Command::RemoveFile(id, reply) => {
                    if self.ring.file_registered(FileHandle(id.0)) {
                        self.tables.set_file(id.0, None, None);
                        self.pending_removals.push(Pending::File(id, reply));
                    } else {
                        let _ = reply.send(Err(PumpError::NoSuchEntry("file")));
                    }
                }
                Command::RemoveWindow(id, reply) => match self.tables.set_window(id.0, None) {
                    Some(entry) => self
                        .pending_removals
                        .push(Pending::Window(id, entry, reply)),
                    None => {
                        let _ = reply.send(Err(PumpError::NoSuchEntry("window")));
                    }
                },
                Command::InjectPanic => panic!("injected fault (PumpHandle::inject_panic)"),
                Command::InjectEnterFailure(errno) => self
                    .ring
                    .fail_next_enter(gdio_uring::Errno::from_raw_os_error(errno)),
            }
        }
        self.retry_removals();
        Ok(worked)
    }

    /// Finishes removals whose file or window no op in flight and no held WRITE uses any more.
    fn retry_removals(&mut self) -> bool {
        if self.pending_removals.is_empty() {
            return false;
        }
        let mut still = Vec::new();
        let mut done = false;
        for p in self.pending_removals.drain(..) {
            match p {
                Pending::File(id, reply)
                    if self.held.uses_file(id.0)
                        || self.staged.as_ref().is_some_and(|s| s.uses_file(id.0)) =>
                {
                    still.push(Pending::File(id, reply))
                }
                Pending::Window(id, entry, reply)
                    if self.held.uses_window(id.0)
                        || self.staged.as_ref().is_some_and(|s| s.uses_window(id.0)) =>
                {
                    still.push(Pending::Window(id, entry, reply))
                }
                Pending::File(id, reply) => match self.ring.unregister_file(FileHandle(id.0)) {
                    Ok(fd) => {
                        drop(fd);
                        let _ = reply.send(Ok(()));
                        done = true;
                    }
                    Err(gdio_uring::Error::FileBusy { .. }) => still.push(Pending::File(id, reply)),
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                },
                Pending::Window(id, entry, reply) => {
                    match self.ring.remove_window(WindowHandle(id.0)) {
                        Ok(()) => {
                            drop(entry);
                            let _ = reply.send(Ok(()));
                            done = true;
                        }
                        Err(gdio_uring::Error::WindowBusy { .. }) => {
                            still.push(Pending::Window(id, entry, reply))
                        }
                        Err(e) => {
                            // Keep the memory: the ring may still know the window.
                            std::mem::forget(entry);
                            let _ = reply.send(Err(e.into()));
                        }
                    }
                }
            }
        }
        self.pending_removals = still;
        done
    }

    pub(super) fn refuse(&mut self, cmd: Command) {
        match cmd {
            Command::AddFile(_, r) => drop(r.send(Err(PumpError::Gone))),
            Command::AddWindow(_, r) => drop(r.send(Err(PumpError::Gone))),
            Command::RemoveFile(_, r) | Command::RemoveWindow(_, r) => {
                drop(r.send(Err(PumpError::Gone)))
            }
            Command::InjectPanic | Command::InjectEnterFailure(_) => {}
        }
    }
}
