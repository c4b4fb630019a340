//! Configuring and starting a pump.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use gdio_protocol::{FileAccess, Limits, WindowAccess};

use crate::handle::PumpHandle;
use crate::idle::IdlePolicy;
use crate::memory::{QueueMemory, WindowMemory};
use crate::staging::CopyEngine;
use crate::PumpError;

/// How a window is given to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WindowMode {
    /// Register it as a fixed buffer; if the kernel cannot pin it (EFAULT, e.g. ReBAR) or it is
    /// larger than one fixed buffer may be (1 GiB), serve it with plain READ/WRITE instead.
    #[default]
    Auto,
    /// Register it as a fixed buffer or fail.
    Registered,
    /// Never register it; plain READ/WRITE.
    Unregistered,
}

pub(crate) struct WindowSpec {
    pub source: WindowSource,
    pub access: WindowAccess,
}

/// What a window is made of.
pub(crate) enum WindowSource {
    /// Host-addressable memory, given to the ring as `mode` says.
    Host {
        memory: Arc<dyn WindowMemory>,
        mode: WindowMode,
    },
    /// Target `target` of the copy engine (see [`crate::staging`]).
    Staged { target: u32 },
}

pub(crate) struct FileSpec {
    pub fd: OwnedFd,
    pub access: FileAccess,
}

/// Everything a pump is started with.
pub struct PumpBuilder {
    pub(crate) queues: Vec<Arc<dyn QueueMemory>>,
    pub(crate) files: Vec<FileSpec>,
    pub(crate) windows: Vec<WindowSpec>,
    pub(crate) ring_entries: u32,
    pub(crate) max_files: u32,
    pub(crate) max_windows: u32,
    pub(crate) batch: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) idle: IdlePolicy,
    pub(crate) limits: Limits,
    pub(crate) sqpoll: Option<u32>,
    pub(crate) async_min: Option<u32>,
    pub(crate) io_wq_workers: Option<u32>,
    pub(crate) data_timeout: std::time::Duration,
    pub(crate) data_check_budget: usize,
    pub(crate) data_check_threads: usize,
    pub(crate) torn_limit: u32,
    pub(crate) name: String,
    pub(crate) copy_engine: Option<(Box<dyn CopyEngine>, u32)>,
    pub(crate) copy_timeout: std::time::Duration,
}

impl Default for PumpBuilder {
    fn default() -> Self {
        PumpBuilder {
            queues: Vec::new(),
            files: Vec::new(),
            windows: Vec::new(),
            ring_entries: 256,
            max_files: 64,
            max_windows: 64,
            batch: 256,
            max_in_flight: 4096,
            idle: IdlePolicy::default(),
            limits: Limits::default(),
            sqpoll: None,
            async_min: None,
            io_wq_workers: None,
            data_timeout: std::time::Duration::from_secs(1),
            data_check_budget: 16 << 10,
            // One checker hashes ~1.65 GB/s: enough threads for a bulk write stream, never
            // more than a quarter of the machine.
            data_check_threads: std::thread::available_parallelism()
                .map_or(1, |n| (n.get() / 4).clamp(1, 4)),
            torn_limit: gdio_protocol::HostQueue::DEFAULT_TORN_LIMIT,
            name: "gdio-pump".to_string(),
            copy_engine: None,
            copy_timeout: std::time::Duration::from_secs(30),
        }
    }
}

impl PumpBuilder {
    /// Adds a queue. Queues are numbered from 0 in the order added. The pump initialises its
    /// memory in `spawn()`, before it returns: start the device only after that.
    #[must_use]
    pub fn queue(mut self, memory: Arc<dyn QueueMemory>) -> Self {
        self.queues.push(memory);
        self
    }

    /// Registers a file; files added here get handles 0, 1, 2... in order (the handle a device
    /// names in its requests).
    #[must_use]
    pub fn file(mut self, fd: impl Into<OwnedFd>, access: FileAccess) -> Self {
        self.files.push(FileSpec {
            fd: fd.into(),
            access,
        });
        self
    }

    /// Adds a window; windows added here get handles 0, 1, 2... in order.
    #[must_use]
    pub fn window(
        mut self,
        memory: Arc<dyn WindowMemory>,
        mode: WindowMode,
        access: WindowAccess,
    ) -> Self {
        self.windows.push(WindowSpec {
            source: WindowSource::Host { memory, mode },
            access,
        });
        self
    }

    /// The copy engine that serves staged windows, and the size of the staging chunks it is
    /// given (a multiple of 4096 bytes, at most the staging memory's length): each request
    /// on a staged window takes one chunk while it is served, so a staged request is at most
    /// `chunk` bytes long (longer ones are answered `TOO_LONG`), and `staging length ÷ chunk`
    /// requests are served at once (the rest wait, in claim order). See [`crate::staging`].
    #[must_use]
    pub fn copy_engine(mut self, engine: Box<dyn CopyEngine>, chunk: u32) -> Self {
        self.copy_engine = Some((engine, chunk));
        self
    }

    /// How long a copy batch may take before the pump fails (default 30 s): a copy engine
    /// that stops moving (a lost device; a copy that cannot run beside the persistent
    /// dispatch) must not leave the device waiting forever. The pump then fails (header
    /// FAILED), and requests whose copies may still run are not answered.
    #[must_use]
    pub fn copy_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.copy_timeout = timeout;
        self
    }

    /// Adds a staged window: target `target` of the copy engine, which the host cannot map.
    /// It takes the next window handle, as [`PumpBuilder::window`] does.
    #[must_use]
    pub fn staged_window(mut self, target: u32, access: WindowAccess) -> Self {
        self.windows.push(WindowSpec {
            source: WindowSource::Staged { target },
            access,
        });
        self
    }

    /// Submission queue entries of the ring (default 256).
    #[must_use]
    pub fn ring_entries(mut self, n: u32) -> Self {
        self.ring_entries = n;
        self
    }

    /// Sizes of the file and window tables (default 64 each).
    #[must_use]
    pub fn table_sizes(mut self, files: u32, windows: u32) -> Self {
        self.max_files = files;
        self.max_windows = windows;
        self
    }

    /// Most requests claimed per queue per turn (default 256).
    #[must_use]
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    /// Most IO requests in flight at once (default 4096); claiming pauses at the bound.
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// The idle policy (default: 64 spins, then parks of 10 µs doubling to 100 µs).
    #[must_use]
    pub fn idle(mut self, policy: IdlePolicy) -> Self {
        self.idle = policy;
        self
    }

    /// Per-request limits (default: 64 MiB per request).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Use a kernel SQ polling thread that idles after `idle_ms`.
    #[must_use]
    pub fn sqpoll(mut self, idle_ms: u32) -> Self {
        self.sqpoll = Some(idle_ms);
        self
    }

    /// Hands transfers of at least `min_bytes` to the kernel's io-wq workers, so large copies
    /// run on several threads while the pump thread goes on claiming (see
    /// `gdio_uring::RingBuilder::async_transfers`). Worth it for large READs into GPU ReBAR.
    #[must_use]
    pub fn async_transfers(mut self, min_bytes: u32) -> Self {
        self.async_min = Some(min_bytes);
        self
    }

    /// At most `n` io-wq workers copy the async transfers ([`PumpBuilder::async_transfers`]);
    /// the kernel's default is the ring's size or 4 per CPU, whichever is smaller (see
    /// `gdio_uring::RingBuilder::io_wq_max_workers`).
    #[must_use]
    pub fn io_wq_workers(mut self, n: u32) -> Self {
        self.io_wq_workers = Some(n);
        self
    }

    /// How long a WRITE published with `FLAG_DATA_CHECK` may wait for its window bytes to
    /// match their check (the device's writes still reaching host memory) before it is answered
    /// BAD_DATA (default 1 s).
    #[must_use]
    pub fn data_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.data_timeout = timeout;
        self
    }

    /// Window bytes the pump thread itself hashes per turn, at most, to check the data of
    /// WRITEs published with a data check (default 16 KiB): a WRITE that fits is checked at
    /// once, where its data has usually arrived; every other check runs on a checker thread
    /// (started when first needed). This bounds what a device can make the pump thread do per
    /// turn with checked WRITEs whose data never matches: the rest of the turn (claiming,
    /// reaping, an honest lane's NOP) waits at most this much hashing. 0 sends every check to
    /// the checker thread.
    #[must_use]
    pub fn data_check_budget(mut self, bytes: usize) -> Self {
        self.data_check_budget = bytes;
        self
    }

    /// Most checker threads hashing held checked WRITEs (default a quarter of the CPUs, 1 to
    /// 4; at least 1). One thread hashes about 1.65 GB/s (a 2 GHz EPYC core), so a stream
    /// of large checked WRITEs needs several; each starts when the first WRITE given to it needs it.
    #[must_use]
    pub fn data_check_threads(mut self, n: usize) -> Self {
        self.data_check_threads = n.max(1);
        self
    }

    /// How many of its claim passes a published slot may show a descriptor whose words have
    /// not all arrived before the pump answers it BAD_DESCRIPTOR (default
    /// `HostQueue::DEFAULT_TORN_LIMIT`). A FENCE or FSYNC claimed while such a slot is pending
    /// waits for it (the device may have published it first), so this also bounds that wait.
    #[must_use]
    pub fn torn_limit(mut self, polls: u32) -> Self {
        self.torn_limit = polls;
        self
    }

    /// The pump thread's name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the pump thread. Returns once the ring is set up, every file and window is
    /// registered and every queue is initialised with pump state RUNNING.
    pub fn spawn(self) -> Result<PumpHandle, PumpError> {
        if self.queues.is_empty() {
            return Err(PumpError::NoQueue);
        }
        if self.queues.len() > crate::engine::MAX_QUEUES {
            return Err(PumpError::TooManyQueues(self.queues.len()));
        }
        PumpHandle::spawn(self)
    }
}
