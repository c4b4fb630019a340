//! Exit statuses and the errors that carry one.

/// Exit status when a run worked.
pub const OK: i32 = 0;
/// Exit status of an error (a message on stderr says what to do).
pub const FAILED: i32 = 1;
/// Exit status of a bad command line or environment setting (clap's status for parse errors).
pub const USAGE: i32 = 2;
/// Exit status when `--verify` found a difference between the GPU and the CPU.
pub const MISMATCH: i32 = 3;

/// An error with its own exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or a `GDIO_*` setting asks for something gdio cannot do: the message
    /// names the argument, the value and what to use instead.
    #[error("{0}")]
    Usage(String),
    /// The GPU and the CPU disagree.
    #[error("verification failed: {0}")]
    Mismatch(String),
}

impl CliError {
    /// The exit status for this error.
    #[must_use]
    pub fn status(&self) -> i32 {
        match self {
            CliError::Usage(_) => USAGE,
            CliError::Mismatch(_) => MISMATCH,
        }
    }
}

/// Returns early with a [`CliError::Usage`] built like `format!`.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err($crate::error::CliError::Usage(format!($($arg)*)).into())
    };
}
pub(crate) use usage;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_through_anyhow_context() {
        let e = anyhow::Error::from(CliError::Usage("--x 0: use 1..=3".into())).context("outer");
        let status = e
            .downcast_ref::<CliError>()
            .map_or(FAILED, CliError::status);
        assert_eq!(status, USAGE);
    }
}
