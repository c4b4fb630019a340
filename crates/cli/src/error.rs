//! Exit statuses and the errors that carry one.

/// Exit status when a run worked.
pub const OK: i32 = 0;
/// Exit status of an error (a message on stderr says what to do).
pub const FAILED: i32 = 1;
/// Exit status when `--verify` found a difference between the GPU and the CPU.
pub const MISMATCH: i32 = 3;

/// An error with its own exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The GPU and the CPU disagree.
    #[error("verification failed: {0}")]
    Mismatch(String),
}

impl CliError {
    /// The exit status for this error.
    #[must_use]
    pub fn status(&self) -> i32 {
        match self {
            CliError::Mismatch(_) => MISMATCH,
        }
    }
}
