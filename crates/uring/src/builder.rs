//! [`RingBuilder`]: ring size, setup flags and table sizes.

use io_uring::IoUring;
use rustix::io::Errno;

use crate::error::errno_of;
use crate::probe::Features;
use crate::ring::Ring;
use crate::Error;

/// Largest registered window (fixed buffer) the kernel accepts.
pub const MAX_FIXED_BUFFER: usize = 1 << 30;

/// Kernel limit on fixed buffers (`IORING_MAX_REG_BUFFERS`).
const MAX_REG_BUFFERS: u32 = 1 << 14;

/// Builds a [`Ring`]; get one with [`Ring::builder`].
#[derive(Debug, Clone)]
pub struct RingBuilder {
    pub(crate) entries: u32,
    pub(crate) sqpoll: Option<(u32, Option<u32>)>,
    pub(crate) single_issuer: bool,
    pub(crate) coop_taskrun: bool,
    pub(crate) defer_taskrun: bool,
    pub(crate) max_files: u32,
    pub(crate) max_windows: u32,
    pub(crate) max_backlog: usize,
    pub(crate) async_min: Option<u32>,
    pub(crate) max_in_kernel: Option<usize>,
    pub(crate) io_wq_max_workers: Option<[u32; 2]>,
}

impl Default for RingBuilder {
    fn default() -> Self {
        RingBuilder {
            entries: 256,
            sqpoll: None,
            single_issuer: false,
            coop_taskrun: false,
            defer_taskrun: false,
            max_files: 64,
            max_windows: 64,
            max_backlog: 65536,
            async_min: None,
            max_in_kernel: None,
            io_wq_max_workers: None,
        }
    }
}

impl RingBuilder {
    /// Most ops handed to the kernel at once (default: the CQ's size less a reserve for
    /// cancellations, so that the CQ never overflows). A larger bound lets completions
    /// overflow the CQ into the kernel's overflow list (`IORING_FEAT_NODROP`), which
    /// [`Ring::reap`](crate::Ring::reap) flushes: nothing is lost, but each flush costs a
    /// syscall. More ops wait in the backlog meanwhile.
    #[must_use]
    pub fn max_in_kernel(mut self, n: usize) -> Self {
        self.max_in_kernel = Some(n.max(1));
        self
    }

    /// Hands reads and writes of at least `min_bytes` to the kernel's io-wq workers
    /// (`IOSQE_ASYNC`) instead of running them in the submitting thread. A buffered read is a
    /// memory copy; into memory the CPU writes slowly (GPU ReBAR: about 5.6 GB/s per thread,
    /// measured) one thread cannot keep up, and io-wq spreads the copies over several. Smaller
    /// transfers stay inline, where they are fastest. Transfers on files opened with
    /// `O_DIRECT` never go: the block layer completes them without a thread. Off by default.
    pub fn async_transfers(mut self, min_bytes: u32) -> Self {
        self.async_min = Some(min_bytes);
        self
    }

    /// Most io-wq workers the kernel runs for this ring's async work
    /// (`IORING_REGISTER_IOWQ_MAX_WORKERS`): `bounded` for regular files and block devices (the
    /// copies [`RingBuilder::async_transfers`] hands over), `unbounded` for the rest; 0 keeps
    /// the kernel's value (bounded: the SQ's size or 4 per CPU, whichever is smaller). The
    /// limit holds for every thread that submits to the ring.
    pub fn io_wq_max_workers(mut self, bounded: u32, unbounded: u32) -> Self {
        self.io_wq_max_workers = Some([bounded, unbounded]);
        self
    }

    /// Submission queue entries (default 256, at least 8, rounded up to a power of two by the
    /// kernel). The completion queue is sized to twice that, and the layer never has more ops
    /// in the kernel than the CQ can hold.
    pub fn entries(mut self, n: u32) -> Self {
        self.entries = n;
        self
    }

    /// `IORING_SETUP_SQPOLL`: a kernel thread polls the SQ; it sleeps after `idle_ms`
    /// milliseconds without work. `cpu` pins it (`IORING_SETUP_SQ_AFF`).
    pub fn sqpoll(mut self, idle_ms: u32, cpu: Option<u32>) -> Self {
        self.sqpoll = Some((idle_ms, cpu));
        self
    }

    /// `IORING_SETUP_SINGLE_ISSUER`: only the thread that built the ring may submit.
    pub fn single_issuer(mut self, on: bool) -> Self {
        self.single_issuer = on;
        self
    }

    /// `IORING_SETUP_COOP_TASKRUN` (with `IORING_SETUP_TASKRUN_FLAG`).
    pub fn coop_taskrun(mut self, on: bool) -> Self {
        self.coop_taskrun = on;
        self
    }

    /// `IORING_SETUP_DEFER_TASKRUN` (with `IORING_SETUP_TASKRUN_FLAG`); needs
    /// `single_issuer(true)` and no SQPOLL. Completions then appear only when the ring is
    /// entered to wait (`submit_and_wait`).
    pub fn defer_taskrun(mut self, on: bool) -> Self {
        self.defer_taskrun = on;
        self
    }

    /// Size of the sparse registered file table (default 64).
    pub fn max_files(mut self, n: u32) -> Self {
        self.max_files = n;
        self
    }

    /// Size of the window table and of the sparse fixed buffer table (default 64, at most
    /// 16384).
    pub fn max_windows(mut self, n: u32) -> Self {
        self.max_windows = n;
        self
    }

    /// Ops that may wait in the layer when the SQ (or the in-flight limit) is full (default
    /// 65536). Past it, `push` fails with [`Error::Backlog`].
    pub fn max_backlog(mut self, n: usize) -> Self {
        self.max_backlog = n;
        self
    }

    /// Builds the ring, registers the sparse file and buffer tables and checks that the
    /// kernel has every opcode and feature this layer needs.
    pub fn build(self) -> Result<Ring, Error> {
        if self.entries == 0 || self.entries > 32768 {
            return Err(Error::InvalidConfig("entries must be between 1 and 32768"));
        }
        if self.max_files == 0 || self.max_windows == 0 {
            return Err(Error::InvalidConfig(
                "max_files and max_windows must be at least 1",
            ));
        }
        if self.max_windows > MAX_REG_BUFFERS {
            return Err(Error::InvalidConfig(
                "max_windows must be at most 16384 (IORING_MAX_REG_BUFFERS)",
            ));
        }
        if self.defer_taskrun && !self.single_issuer {
            return Err(Error::InvalidConfig(
                "defer_taskrun(true) requires single_issuer(true)",
            ));
        }
        if self.defer_taskrun && self.sqpoll.is_some() {
            return Err(Error::InvalidConfig(
                "defer_taskrun cannot be combined with sqpoll",
            ));
        }
        let entries = self.entries.max(8).next_power_of_two();
        let mut b = IoUring::builder();
        b.setup_cqsize(entries * 2).setup_clamp();
        if let Some((idle, cpu)) = self.sqpoll {
            b.setup_sqpoll(idle);
            if let Some(cpu) = cpu {
                b.setup_sqpoll_cpu(cpu);
            }
        }
        if self.single_issuer {
            b.setup_single_issuer();
        }
        if self.coop_taskrun {
            b.setup_coop_taskrun();
        }
        if self.defer_taskrun {
            b.setup_defer_taskrun();
        }
        if self.coop_taskrun || self.defer_taskrun {
            b.setup_taskrun_flag();
        }
        let ring = b.build(entries).map_err(|e| setup_error(&e))?;
        let features = Features::from_ring(&ring)?;
        if let Some((what, hint)) = features.missing() {
            return Err(Error::Unsupported { what, hint });
        }
        ring.submitter()
            .register_files_sparse(self.max_files)
            .map_err(|e| Error::Register {
                op: "FILES2 (sparse)",
                errno: errno_of(&e),
            })?;
        ring.submitter()
            .register_buffers_sparse(self.max_windows)
            .map_err(|e| match errno_of(&e) {
                Errno::NOMEM => Error::MemlockLimit { len: 0 },
                errno => Error::Register {
                    op: "BUFFERS2 (sparse)",
                    errno,
                },
            })?;
        if let Some(mut limits) = self.io_wq_max_workers {
            ring.submitter()
                .register_iowq_max_workers(&mut limits)
                .map_err(|e| Error::Register {
                    op: "IOWQ_MAX_WORKERS",
                    errno: errno_of(&e),
                })?;
        }
        Ok(Ring::from_parts(ring, &self, features))
    }
}

/// Maps an `io_uring_setup` error to a typed error with a hint.
pub(crate) fn setup_error(e: &std::io::Error) -> Error {
    let errno = errno_of(e);
    let hint = match errno {
        Errno::NOSYS => "the kernel was built without io_uring (CONFIG_IO_URING); use a kernel with it",
        Errno::PERM | Errno::ACCESS => {
            "io_uring is disabled for this process; set sysctl kernel.io_uring_disabled=0 (or 1 and join io_uring_group), or check seccomp/container policy"
        }
        Errno::NOMEM => "raise RLIMIT_MEMLOCK (ulimit -l) or run as root, or ask for fewer entries",
        Errno::INVAL => {
            "a setup flag is not supported by this kernel (SINGLE_ISSUER/COOP_TASKRUN need 6.0, DEFER_TASKRUN 6.1); turn it off"
        }
        Errno::MFILE | Errno::NFILE => "out of file descriptors; raise RLIMIT_NOFILE (ulimit -n)",
        _ => "check dmesg and the io_uring_setup(2) man page",
    };
    Error::Setup { errno, hint }
}
