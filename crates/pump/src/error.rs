//! The pump's typed errors; each says what to do.

use gdio_protocol::LayoutError;

/// Why the pump could not start, change its tables, or finished with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PumpError {
    /// The io_uring layer failed (set-up, registration, submission).
    #[error("io_uring: {0}")]
    Uring(#[from] gdio_uring::Error),
    /// A queue's memory does not fit its layout.
    #[error("queue memory: {0}")]
    Layout(#[from] LayoutError),
    /// The builder was given no queue.
    #[error("a pump needs at least one queue: call PumpBuilder::queue")]
    NoQueue,
    /// Too many queues for one pump.
    #[error("{0} queues exceed the 32,767 one pump can serve: split them over several pumps")]
    TooManyQueues(usize),
    /// The pump thread could not be spawned.
    #[error("spawning the pump thread failed: {0}; check the process's thread limit")]
    Spawn(std::io::Error),
    /// The pump thread is gone (stopped or failed) and can take no more commands.
    #[error("the pump has stopped: start a new one")]
    Gone,
    /// The pump failed while running; the queue header says FAILED with `code`.
    #[error("the pump failed ({what}); every pending slot was completed with INTERNAL ({code})")]
    Failed {
        /// What went wrong.
        what: String,
        /// The code written into the header's pump error word.
        code: i32,
    },
    /// A window was declared longer than its memory.
    #[error("the window is declared {declared} bytes long but its memory holds {memory}: declare at most the memory's length")]
    WindowLongerThanMemory {
        /// The declared length (`WindowAccess::len`).
        declared: u64,
        /// The memory's length (`WindowMemory::len`).
        memory: u64,
    },
    /// A handle given to the pump names nothing it has.
    #[error("no such {0} in the pump's table: use the id returned when it was added")]
    NoSuchEntry(&'static str),
    /// A staged window was added to a pump without a copy engine.
    #[error("a staged window needs a copy engine: call PumpBuilder::copy_engine")]
    NoCopyEngine,
    /// The copy engine has no target with this number.
    #[error("the copy engine has no target {0}: add the target to the engine before the window")]
    NoSuchTarget(u32),
    /// The copy engine's staging chunk size is unusable.
    #[error("staging chunk of {chunk} bytes with {staging} bytes of staging memory: use a multiple of 4096 bytes, at most the staging memory's length, and staging memory that starts 4 KiB-aligned")]
    BadStagingChunk {
        /// The chunk size asked for.
        chunk: u32,
        /// The staging memory's length.
        staging: u64,
    },
}
