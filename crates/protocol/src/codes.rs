//! Op codes, result codes and pump states: the numbers both sides agree on.

/// What a request asks the host to do (descriptor word 0, bits 0..7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Op {
    /// Read `len` bytes of a file at `file_offset` into a window at `window_offset`.
    Read = 1,
    /// Write `len` bytes from a window at `window_offset` into a file at `file_offset`.
    Write = 2,
    /// Complete once every request of this queue claimed before it has completed.
    Fence = 3,
    /// Make the file's earlier completed writes durable (`fsync`).
    Fsync = 4,
    /// Do nothing; completes with 0. Measures the round trip.
    Nop = 5,
    /// Like [`Op::Fsync`], data only (`fdatasync`).
    Fdatasync = 6,
}

impl Op {
    /// Every op, in code order.
    pub const ALL: [Op; 6] = [
        Op::Read,
        Op::Write,
        Op::Fence,
        Op::Fsync,
        Op::Nop,
        Op::Fdatasync,
    ];

    /// Decodes the op field (bits 0..7 of descriptor word 0).
    #[must_use]
    pub const fn from_code(code: u32) -> Option<Op> {
        match code {
            1 => Some(Op::Read),
            2 => Some(Op::Write),
            3 => Some(Op::Fence),
            4 => Some(Op::Fsync),
            5 => Some(Op::Nop),
            6 => Some(Op::Fdatasync),
            _ => None,
        }
    }

    /// The op's code as stored in descriptor word 0.
    #[must_use]
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// A short lower-case name, for reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Fence => "fence",
            Op::Fsync => "fsync",
            Op::Nop => "nop",
            Op::Fdatasync => "fdatasync",
        }
    }
}

/// A protocol-level failure, written into a completion as a negative result.
///
/// Results `-1..=-4095` are `-errno` from the IO itself; these codes lie below, so a device can
/// always tell "the request was malformed" from "the disk said no".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(i32)]
pub enum ResultCode {
    /// Unknown op code: use one of READ=1, WRITE=2, FENCE=3, FSYNC=4, NOP=5, FDATASYNC=6.
    #[error("unknown op code: use READ=1, WRITE=2, FENCE=3, FSYNC=4, NOP=5 or FDATASYNC=6")]
    BadOp = -4097,
    /// Reserved flag bits (word 0, bits 8..31) were set; version 1 defines none.
    #[error("reserved flag bits set in the op word: clear bits 8..31")]
    BadFlags = -4098,
    /// The file handle is not in the host's registered file table.
    #[error("file handle not registered: use an index the host registered")]
    BadFile = -4099,
    /// The window handle is not in the host's registered window table.
    #[error("window handle not registered: use an index the host registered")]
    BadWindow = -4100,
    /// `window_offset + len` runs past the end of the window.
    #[error("range runs past the end of the window: shorten len or lower window_offset")]
    OutOfWindow = -4101,
    /// `len` is over the host's per-request limit.
    #[error("request longer than the host's max_len: split it")]
    TooLong = -4102,
    /// `file_offset + len` does not fit a signed 64-bit file offset.
    #[error("file offset + len past 2^63-1: use a smaller offset")]
    BadOffset = -4103,
    /// The window does not allow this direction (READ needs host-writable, WRITE host-readable).
    #[error("window does not allow this direction: register it for reads (host writes) or writes (host reads)")]
    WindowAccess = -4104,
    /// The publication was not the slot's next generation; it was answered, never executed.
    #[error("publication is not the slot's next generation: publish next(last) in an idle slot")]
    BadGeneration = -4105,
    /// The pump was stopping; the request was not executed.
    #[error("pump stopping: request not executed")]
    Stopped = -4106,
    /// The pump failed (ring error or panic) before the request finished.
    #[error("pump failed before the request finished: see the host's error")]
    Internal = -4107,
    /// Device-side only: the pump is STOPPED or FAILED and this slot is still pending.
    #[error("pump gone while the request was pending: do not reuse the slot")]
    PumpGone = -4108,
    /// Device-side only: a bounded wait ran out; the request is still pending.
    #[error("wait budget exhausted: the request is still pending, wait again")]
    Timeout = -4109,
    /// The descriptor's stamp or check word never matched its publication: write words 0..=7,
    /// the generation into word 8 and the check of words 0..=8 into word 9 before publishing.
    #[error("descriptor stamp/check never matched the publication: write the stamp and check words before the publish word")]
    BadDescriptor = -4110,
    /// A WRITE with FLAG_DATA_CHECK whose window bytes never matched its data check.
    #[error("WRITE data never matched its data check: compute it over exactly the bytes written")]
    BadData = -4111,
    /// A READ or WRITE on a file opened for direct IO (`O_DIRECT`) whose file offset, length or
    /// window address is not a multiple of the file's direct-IO alignment (as the file system
    /// reports it: `statx`'s `STATX_DIOALIGN`; 4 KiB covers common devices).
    #[error("direct-IO request not aligned: make the file offset, length and window offset multiples of the file's direct-IO alignment")]
    Misaligned = -4112,
    /// Device-side only (the page cache): the page starts at or past the end of its file (its
    /// READ returned no bytes); the page is not cached.
    #[error("page starts at or past the end of the file: ask for pages below the file's size")]
    PastEnd = -4113,
    /// Device-side only (the page cache): the cache's metadata does not describe a cache its
    /// bound buffers hold, or a slot word holds a value no cache writes; nothing was read.
    #[error("page cache metadata is not a gdio cache: bind the buffers PageCache::new made, and reset it with PageCache::clear")]
    CacheBad = -4114,
}

impl ResultCode {
    /// Every code, in value order (highest first).
    pub const ALL: [ResultCode; 18] = [
        ResultCode::BadOp,
        ResultCode::BadFlags,
        ResultCode::BadFile,
        ResultCode::BadWindow,
        ResultCode::OutOfWindow,
        ResultCode::TooLong,
        ResultCode::BadOffset,
        ResultCode::WindowAccess,
        ResultCode::BadGeneration,
        ResultCode::Stopped,
        ResultCode::Internal,
        ResultCode::PumpGone,
        ResultCode::Timeout,
        ResultCode::BadDescriptor,
        ResultCode::BadData,
        ResultCode::Misaligned,
        ResultCode::PastEnd,
        ResultCode::CacheBad,
    ];

    /// The value stored in a completion's result word.
    #[must_use]
    pub const fn value(self) -> i32 {
        self as i32
    }

    /// Decodes a protocol result code; `None` for byte counts and errno values.
    #[must_use]
    pub fn from_value(v: i32) -> Option<ResultCode> {
        ResultCode::ALL.into_iter().find(|c| c.value() == v)
    }

    /// A short name, for reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ResultCode::BadOp => "BAD_OP",
            ResultCode::BadFlags => "BAD_FLAGS",
            ResultCode::BadFile => "BAD_FILE",
            ResultCode::BadWindow => "BAD_WINDOW",
            ResultCode::OutOfWindow => "OUT_OF_WINDOW",
            ResultCode::TooLong => "TOO_LONG",
            ResultCode::BadOffset => "BAD_OFFSET",
            ResultCode::WindowAccess => "WINDOW_ACCESS",
            ResultCode::BadGeneration => "BAD_GENERATION",
            ResultCode::Stopped => "STOPPED",
            ResultCode::Internal => "INTERNAL",
            ResultCode::PumpGone => "PUMP_GONE",
            ResultCode::Timeout => "TIMEOUT",
            ResultCode::BadDescriptor => "BAD_DESCRIPTOR",
            ResultCode::BadData => "BAD_DATA",
            ResultCode::Misaligned => "MISALIGNED",
            ResultCode::PastEnd => "PAST_END",
            ResultCode::CacheBad => "CACHE_BAD",
        }
    }
}

/// How a completion result reads: bytes, an OS error, or a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The request succeeded and moved this many bytes.
    Bytes(u32),
    /// The IO failed with this errno (positive, e.g. 28 for ENOSPC).
    Errno(i32),
    /// The protocol refused the request, or the pump could not run it.
    Protocol(ResultCode),
    /// A negative value no version-1 host writes.
    Unknown(i32),
}

impl Outcome {
    /// Classifies a completion's result word.
    #[must_use]
    pub fn of(result: i32) -> Outcome {
        if result >= 0 {
            Outcome::Bytes(result as u32)
        } else if result >= -4095 {
            Outcome::Errno(-result)
        } else {
            match ResultCode::from_value(result) {
                Some(c) => Outcome::Protocol(c),
                None => Outcome::Unknown(result),
            }
        }
    }
}

/// The pump's state, in the completion region's header (word 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum PumpState {
    /// The queue is initialised; no pump has started.
    Init = 0,
    /// The pump is claiming and serving requests.
    Running = 1,
    /// The pump is stopping: new requests are answered STOPPED, in-flight IO is drained.
    Stopping = 2,
    /// The pump has stopped; every request it claimed is completed.
    Stopped = 3,
    /// The pump failed; `pump_error` says why. Pending requests will not complete.
    Failed = 4,
}

impl PumpState {
    /// Decodes header word 3; unknown values read as `None`.
    #[must_use]
    pub const fn from_code(v: u32) -> Option<PumpState> {
        match v {
            0 => Some(PumpState::Init),
            1 => Some(PumpState::Running),
            2 => Some(PumpState::Stopping),
            3 => Some(PumpState::Stopped),
            4 => Some(PumpState::Failed),
            _ => None,
        }
    }

    /// True once no more completions will come for requests still pending.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, PumpState::Stopped | PumpState::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_codes_round_trip_and_zero_is_invalid() {
        for op in Op::ALL {
            assert_eq!(Op::from_code(op.code()), Some(op));
        }
        assert_eq!(Op::from_code(0), None);
        assert_eq!(Op::from_code(7), None);
    }

    #[test]
    fn result_codes_are_distinct_and_below_errno_range() {
        for (i, c) in ResultCode::ALL.iter().enumerate() {
            assert!(c.value() < -4096);
            assert_eq!(ResultCode::from_value(c.value()), Some(*c));
            for d in &ResultCode::ALL[i + 1..] {
                assert_ne!(c.value(), d.value());
            }
        }
    }

    #[test]
    fn outcome_classifies_each_range() {
        assert_eq!(Outcome::of(4096), Outcome::Bytes(4096));
        assert_eq!(Outcome::of(0), Outcome::Bytes(0));
        assert_eq!(Outcome::of(-28), Outcome::Errno(28));
        assert_eq!(Outcome::of(-4095), Outcome::Errno(4095));
        assert_eq!(Outcome::of(-4096), Outcome::Unknown(-4096));
        assert_eq!(
            Outcome::of(-4101),
            Outcome::Protocol(ResultCode::OutOfWindow)
        );
        assert_eq!(Outcome::of(i32::MIN), Outcome::Unknown(i32::MIN));
    }

    #[test]
    fn pump_states_round_trip() {
        for v in 0..5 {
            assert_eq!(PumpState::from_code(v).map(|s| s as u32), Some(v));
        }
        assert_eq!(PumpState::from_code(5), None);
        assert!(PumpState::Failed.is_terminal());
        assert!(!PumpState::Stopping.is_terminal());
    }
}
