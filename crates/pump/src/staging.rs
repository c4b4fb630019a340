//! Staged windows: windows in memory the host cannot map (a GPU's device-local memory), served
//! through host staging memory and a copy engine.
//!
//! A READ on a staged window is read by io_uring into a chunk of the staging memory (a fixed
//! buffer, so `READ_FIXED`, and `O_DIRECT` when the file is direct), then a [`CopyEngine`]
//! copies the chunk into the window; the slot completes once the copy has finished. A WRITE
//! goes the other way round: copy window → chunk, then WRITE from the chunk. The pump records
//! the copies of one turn and submits them as one batch, and asks the engine, without blocking,
//! how far its batches have got.
//!
//! The staging memory is split into chunks of one size ([`crate::PumpBuilder::copy_engine`]);
//! a request on a staged window is at most one chunk long (longer ones are answered
//! `TOO_LONG`), and requests wait for a free chunk in the order they were claimed.
//!
//! gdio's Vulkan engine (a transfer queue, a timeline semaphore) lives in the `gdio` crate;
//! [`HostCopyEngine`] is a CPU one over host memory, for tests and for machines without a GPU.

use std::sync::Arc;
use std::time::Duration;

use crate::memory::WindowMemory;

/// Which way a copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyDirection {
    /// Staging → target (a READ's data going to the device).
    ToTarget,
    /// Target → staging (a WRITE's data coming from the device).
    ToStaging,
}

/// One copy between the staging memory and a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    /// Which way.
    pub direction: CopyDirection,
    /// The engine's target (what [`CopyEngine::target_len`] knows).
    pub target: u32,
    /// Byte offset in the target.
    pub target_offset: u64,
    /// Byte offset in the staging memory.
    pub staging_offset: u64,
    /// Bytes to copy (at least 1).
    pub len: u64,
}

/// A copy engine failed; the pump fails with it (every slot answered, header FAILED).
#[derive(Debug, thiserror::Error)]
#[error("copy engine: {0}")]
pub struct CopyError(pub String);

/// Moves bytes between the pump's staging memory and targets the host cannot map.
///
/// The pump owns the engine on its thread: it records copies, submits each turn's copies as one
/// batch, polls [`CopyEngine::finished`] without blocking, and on stop waits for the last
/// batch with [`CopyEngine::wait`] before it lets go of the staging memory. An engine that
/// cannot say its copies finished (a `wait` that times out) makes the pump keep the staging
/// memory forever rather than free it under a copy.
pub trait CopyEngine: Send + 'static {
    /// The staging memory: host memory io_uring reads into and writes from, and the engine
    /// copies from and into. The pump registers it with its ring.
    fn staging(&self) -> Arc<dyn WindowMemory>;

    /// The length of target `target`, or `None` if the engine has no such target. A staged
    /// window is refused unless its declared length fits its target.
    fn target_len(&self, target: u32) -> Option<u64>;

    /// Records a copy for the next [`CopyEngine::submit`]. The pump records only copies whose
    /// ranges lie inside the staging memory and inside the target.
    fn record(&mut self, copy: Copy);

    /// Submits every copy recorded since the last submit as one batch. Returns the batch's
    /// ticket: 1 for the first batch, one more for each next.
    ///
    /// All or nothing: on an error none of the recorded copies was or will be made, and they
    /// are dropped. The pump then fails and never submits again; it answers the requests of
    /// those copies without waiting for them.
    fn submit(&mut self) -> Result<u64, CopyError>;

    /// The highest ticket whose copies have all finished, and whose data the device (for
    /// [`CopyDirection::ToTarget`]) or the host (for [`CopyDirection::ToStaging`]) sees;
    /// 0 before the first. Must not block.
    fn finished(&mut self) -> Result<u64, CopyError>;

    /// Blocks until batch `ticket` has finished or `timeout` passed; returns whether it finished.
    fn wait(&mut self, ticket: u64, timeout: Duration) -> Result<bool, CopyError>;
}

/// A copy engine on a CPU thread over host memory targets: the staged path without a GPU, for
/// tests and benchmarks of the pump's side.
///
/// Each batch is copied by a worker thread after the pump submitted it, so copies really run
/// while the pump goes on, as a GPU's copy engine does.
pub struct HostCopyEngine {
    staging: Arc<crate::HostWindow>,
    targets: Vec<Arc<crate::HostWindow>>,
    recorded: Vec<Copy>,
    submitted: u64,
    done: Arc<std::sync::atomic::AtomicU64>,
    failed: Arc<std::sync::atomic::AtomicBool>,
    worker: Option<std::sync::mpsc::Sender<Vec<Copy>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for HostCopyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCopyEngine")
            .field("targets", &self.targets.len())
            .field("submitted", &self.submitted)
            .finish_non_exhaustive()
    }
}

impl HostCopyEngine {
    /// An engine with `staging` as its staging memory and `targets` as targets 0, 1, 2...
    pub fn new(
        staging: Arc<crate::HostWindow>,
        targets: Vec<Arc<crate::HostWindow>>,
    ) -> std::io::Result<HostCopyEngine> {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Copy>>();
        let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, t, d, fl) = (
            staging.clone(),
            targets.clone(),
            done.clone(),
            failed.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("gdio-host-copy".into())
            .spawn(move || {
                let mut buf = Vec::new();
                for batch in rx {
                    for c in batch {
                        let Some(target) = t.get(c.target as usize) else {
                            fl.store(true, std::sync::atomic::Ordering::Release);
                            continue;
                        };
                        buf.resize(c.len as usize, 0);
                        let ok = match c.direction {
                            CopyDirection::ToTarget => {
                                s.copy_out(c.staging_offset as usize, &mut buf)
                                    && target.copy_in(c.target_offset as usize, &buf)
                            }
                            CopyDirection::ToStaging => {
                                target.copy_out(c.target_offset as usize, &mut buf)
                                    && s.copy_in(c.staging_offset as usize, &buf)
                            }
                        };
                        if !ok {
                            fl.store(true, std::sync::atomic::Ordering::Release);
                        }
                    }
                    // Release: the copies above happen before a reader sees the ticket.
                    d.fetch_add(1, std::sync::atomic::Ordering::Release);
                }
            })?;
        Ok(HostCopyEngine {
            staging,
            targets,
            recorded: Vec::new(),
            submitted: 0,
            done,
            failed,
            worker: Some(tx),
            thread: Some(thread),
        })
    }

    fn check(&self) -> Result<(), CopyError> {
        if self.failed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(CopyError(
                "a copy ran outside its staging or target memory".into(),
            ));
        }
        Ok(())
    }
}

impl CopyEngine for HostCopyEngine {
    fn staging(&self) -> Arc<dyn WindowMemory> {
        self.staging.clone()
    }
    fn target_len(&self, target: u32) -> Option<u64> {
        self.targets.get(target as usize).map(|t| t.len() as u64)
    }
    fn record(&mut self, copy: Copy) {
        self.recorded.push(copy);
    }
    fn submit(&mut self) -> Result<u64, CopyError> {
        let batch = std::mem::take(&mut self.recorded);
        self.check()?;
        self.worker
            .as_ref()
            .and_then(|w| w.send(batch).ok())
            .ok_or_else(|| CopyError("the copy thread is gone".into()))?;
        self.submitted += 1;
        Ok(self.submitted)
    }
    fn finished(&mut self) -> Result<u64, CopyError> {
        self.check()?;
        Ok(self.done.load(std::sync::atomic::Ordering::Acquire))
    }
    fn wait(&mut self, ticket: u64, timeout: Duration) -> Result<bool, CopyError> {
        let end = std::time::Instant::now() + timeout;
        while self.finished()? < ticket {
            if std::time::Instant::now() >= end {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        Ok(true)
    }
}

impl Drop for HostCopyEngine {
    fn drop(&mut self) {
        // Closing the channel ends the thread after the batches already sent.
        self.worker = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
