//! The handle a pump's owner holds: change tables while running, read stats, stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use crate::builder::{FileSpec, PumpBuilder, WindowMode, WindowSource, WindowSpec};
use crate::engine;
use crate::memory::WindowMemory;
use crate::stats::{LiveCounters, LiveStats, PumpReport};
use crate::PumpError;
use gdio_protocol::{FileAccess, WindowAccess};

/// A registered file's handle: the index a device names in its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId(pub u32);

/// A window's handle: the index a device names in its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowId(pub u32);

pub(crate) type Reply<T> = mpsc::Sender<Result<T, PumpError>>;

pub(crate) enum Command {
    AddFile(FileSpec, Reply<FileId>),
    RemoveFile(FileId, Reply<()>),
    AddWindow(WindowSpec, Reply<WindowId>),
    RemoveWindow(WindowId, Reply<()>),
    InjectPanic,
    InjectEnterFailure(i32),
}

/// A running pump. Dropping it stops the pump (and waits for the drain), like [`PumpHandle::stop`].
pub struct PumpHandle {
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<Result<PumpReport, PumpError>>>,
    live: Arc<LiveCounters>,
    stop: Arc<AtomicBool>,
}

impl PumpHandle {
    pub(crate) fn spawn(cfg: PumpBuilder) -> Result<PumpHandle, PumpError> {
        let (commands, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let live = Arc::new(LiveCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (live.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(cfg.name.clone())
            .spawn(move || engine::run(cfg, rx, ready_tx, l, s))
            .map_err(PumpError::Spawn)?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(PumpHandle {
                commands,
                thread: Some(thread),
                live,
                stop,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => match thread.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(PumpError::Failed {
                    what: "pump thread died during set-up".into(),
                    code: gdio_protocol::ResultCode::Internal.value(),
                }),
            },
        }
    }

    fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, PumpError> {
        let (tx, rx) = mpsc::channel();
        self.commands.send(make(tx)).map_err(|_| PumpError::Gone)?;
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
        rx.recv().map_err(|_| PumpError::Gone)?
    }

    /// Registers a file while running; returns the handle devices name.
    pub fn add_file(
        &self,
        fd: impl Into<std::os::fd::OwnedFd>,
        access: FileAccess,
    ) -> Result<FileId, PumpError> {
        let spec = FileSpec {
            fd: fd.into(),
            access,
        };
        self.call(|r| Command::AddFile(spec, r))
    }

    /// Unregisters a file. New requests naming it get BAD_FILE at once; the call returns once
    /// no request in flight uses it, and the file is closed.
    pub fn remove_file(&self, id: FileId) -> Result<(), PumpError> {
        self.call(|r| Command::RemoveFile(id, r))
    }

    /// Adds a window while running; returns the handle devices name.
    pub fn add_window(
        &self,
        memory: Arc<dyn WindowMemory>,
        mode: WindowMode,
        access: WindowAccess,
    ) -> Result<WindowId, PumpError> {
        let spec = WindowSpec {
            source: WindowSource::Host { memory, mode },
            access,
        };
        self.call(|r| Command::AddWindow(spec, r))
    }

    /// Adds a staged window while running: target `target` of the pump's copy engine
    /// ([`crate::PumpBuilder::copy_engine`]). Returns the handle devices name.
    pub fn add_staged_window(
        &self,
        target: u32,
        access: WindowAccess,
    ) -> Result<WindowId, PumpError> {
        let spec = WindowSpec {
            source: WindowSource::Staged { target },
            access,
        };
        self.call(|r| Command::AddWindow(spec, r))
    }

    /// Removes a window. New requests naming it get BAD_WINDOW at once; the call returns once
    /// the kernel no longer uses it, and the pump has dropped its reference to the memory. For
    /// a staged window, once no request uses it any more; its target stays the copy engine's
    /// (the engine keeps its targets until it is dropped with the pump).
    pub fn remove_window(&self, id: WindowId) -> Result<(), PumpError> {
        self.call(|r| Command::RemoveWindow(id, r))
    }

    /// The live counters.
    #[must_use]
    pub fn stats(&self) -> LiveStats {
        self.live.snapshot()
    }

    /// True while the pump thread runs.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Makes the pump thread panic inside its loop, to prove the failure path (every pending
    /// slot completed with INTERNAL, header FAILED). For fault tests.
    #[doc(hidden)]
    pub fn inject_panic(&self) {
        let _ = self.commands.send(Command::InjectPanic);
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    /// Makes the pump's next `io_uring_enter` fail with `errno` (the pump then fails: every
    /// slot completed, header FAILED with `-errno`). For fault tests.
    #[doc(hidden)]
    pub fn inject_enter_failure(&self, errno: i32) {
        let _ = self.commands.send(Command::InjectEnterFailure(errno));
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    /// Stops the pump: stop claiming, mark STOPPING, cancel and drain what is in flight,
    /// complete what remains with STOPPED, mark STOPPED, join. When it returns, the kernel
    /// writes into no window. Returns the report, or the error the pump failed with.
    pub fn stop(mut self) -> Result<PumpReport, PumpError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<PumpReport, PumpError> {
        let Some(thread) = self.thread.take() else {
            return Err(PumpError::Gone);
        };
        self.stop.store(true, Ordering::Release);
        thread.thread().unpark();
        match thread.join() {
            Ok(r) => r,
            Err(_) => Err(PumpError::Failed {
                what: "pump thread panicked outside its loop".into(),
                code: gdio_protocol::ResultCode::Internal.value(),
            }),
        }
    }
}

impl Drop for PumpHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop_and_join();
        }
    }
}
