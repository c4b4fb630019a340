//! Requests as the device wrote them, and their validation.
//!
//! Every request is untrusted input: [`Request::validate`] turns any bit pattern into either a
//! [`ValidRequest`] the host may execute or a [`ResultCode`] for the slot, never a panic.

use crate::codes::{Op, ResultCode};
use crate::layout::descriptor;

/// Op-word flag (bit 8), WRITE only: descriptor word 10 holds the
/// [`data_check`](crate::layout::descriptor::data_check) of the bytes to write, and the host
/// writes only once the window holds bytes that match it. For devices whose writes to host
/// memory may reach the host out of order (measured on NVIDIA).
pub const FLAG_DATA_CHECK: u32 = 1 << 8;

/// The eight descriptor words of one request, decoded into fields but not yet trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
    /// Descriptor word 0: op code (bits 0..7) and flags (bits 8..31).
    pub op_word: u32,
    /// Index into the registered file table.
    pub file: u32,
    /// Index into the registered window table.
    pub window: u32,
    /// Byte offset inside the window.
    pub window_offset: u32,
    /// File offset in bytes.
    pub file_offset: u64,
    /// Bytes to transfer.
    pub len: u32,
    /// The caller's tag, carried for tracing only.
    pub tag: u32,
    /// Descriptor word 10: the data check of a WRITE with [`FLAG_DATA_CHECK`] (else unused).
    pub data_check: u32,
}

impl Request {
    /// Builds a request word-set for `op` (what a device writes).
    #[must_use]
    pub fn new(op: Op) -> Request {
        Request {
            op_word: op.code(),
            ..Request::default()
        }
    }

    /// The descriptor words in protocol order.
    #[must_use]
    pub fn to_words(&self) -> [u32; descriptor::WORDS] {
        [
            self.op_word,
            self.file,
            self.window,
            self.window_offset,
            self.file_offset as u32,
            (self.file_offset >> 32) as u32,
            self.len,
            self.tag,
        ]
    }

    /// Decodes descriptor words (any values).
    #[must_use]
    pub fn from_words(w: [u32; descriptor::WORDS]) -> Request {
        Request {
            op_word: w[descriptor::OP],
            file: w[descriptor::FILE],
            window: w[descriptor::WINDOW],
            window_offset: w[descriptor::WINDOW_OFFSET],
            file_offset: u64::from(w[descriptor::FILE_OFFSET_LO])
                | (u64::from(w[descriptor::FILE_OFFSET_HI]) << 32),
            len: w[descriptor::LEN],
            tag: w[descriptor::TAG],
            data_check: 0,
        }
    }

    /// The op, if the op field holds a known code (flags ignored).
    #[must_use]
    pub fn op(&self) -> Option<Op> {
        Op::from_code(self.op_word & 0xFF)
    }

    /// Checks the request against the host's limits and tables.
    pub fn validate(
        &self,
        limits: &Limits,
        tables: &impl Tables,
    ) -> Result<ValidRequest, ResultCode> {
        let op = self.op().ok_or(ResultCode::BadOp)?;
        let flags = self.op_word & !0xFF;
        if flags != 0 && !(op == Op::Write && flags == FLAG_DATA_CHECK) {
            return Err(ResultCode::BadFlags);
        }
        match op {
            Op::Nop => Ok(ValidRequest::Nop),
            Op::Fence => Ok(ValidRequest::Fence),
            Op::Fsync | Op::Fdatasync => {
                tables.file(self.file).ok_or(ResultCode::BadFile)?;
                Ok(ValidRequest::Fsync {
                    file: self.file,
                    datasync: op == Op::Fdatasync,
                })
            }
            Op::Read | Op::Write => {
                // The file's open mode is the OS's to enforce: a WRITE through a read-only file
                // completes with -EBADF from the kernel.
                tables.file(self.file).ok_or(ResultCode::BadFile)?;
                let window = tables.window(self.window).ok_or(ResultCode::BadWindow)?;
                if self.len > limits.max_len() {
                    return Err(ResultCode::TooLong);
                }
                let end = u64::from(self.window_offset) + u64::from(self.len);
                if end > window.len {
                    return Err(ResultCode::OutOfWindow);
                }
                if self
                    .file_offset
                    .checked_add(u64::from(self.len))
                    .is_none_or(|e| e > i64::MAX as u64)
                {
                    return Err(ResultCode::BadOffset);
                }
                let allowed = if op == Op::Read {
                    window.host_writes
                } else {
                    window.host_reads
                };
                if !allowed {
                    return Err(ResultCode::WindowAccess);
                }
                let t = Transfer {
                    file: self.file,
                    window: self.window,
                    window_offset: self.window_offset,
                    file_offset: self.file_offset,
                    len: self.len,
                    data_check: (flags == FLAG_DATA_CHECK).then_some(self.data_check),
                };
                Ok(if op == Op::Read {
                    ValidRequest::Read(t)
                } else {
                    ValidRequest::Write(t)
                })
            }
        }
    }
}

/// A checked transfer between a file and a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Registered file index.
    pub file: u32,
    /// Registered window index.
    pub window: u32,
    /// Byte offset inside the window; `window_offset + len` is inside the window.
    pub window_offset: u32,
    /// File offset; `file_offset + len` fits an `i64`.
    pub file_offset: u64,
    /// Bytes, at most the host's `max_len`.
    pub len: u32,
    /// For a WRITE with [`FLAG_DATA_CHECK`]: the check its bytes must match before writing.
    pub data_check: Option<u32>,
}

/// A request that passed validation: safe for the host to execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidRequest {
    /// File → window.
    Read(Transfer),
    /// Window → file.
    Write(Transfer),
    /// Order point for the queue.
    Fence,
    /// Durability point for a file.
    Fsync {
        /// Registered file index.
        file: u32,
        /// `fdatasync` rather than `fsync`.
        datasync: bool,
    },
    /// Nothing.
    Nop,
}

impl ValidRequest {
    /// The op this request performs.
    #[must_use]
    pub fn op(&self) -> Op {
        match self {
            ValidRequest::Read(_) => Op::Read,
            ValidRequest::Write(_) => Op::Write,
            ValidRequest::Fence => Op::Fence,
            ValidRequest::Fsync {
                datasync: false, ..
            } => Op::Fsync,
            ValidRequest::Fsync { datasync: true, .. } => Op::Fdatasync,
            ValidRequest::Nop => Op::Nop,
        }
    }
}

/// What the host knows about a registered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileAccess {
    /// Opened for reading.
    pub readable: bool,
    /// Opened for writing.
    pub writable: bool,
}

impl FileAccess {
    /// A file opened for reading only: READ allowed, WRITE and FSYNC answered BAD_ACCESS.
    pub const READ_ONLY: FileAccess = FileAccess {
        readable: true,
        writable: false,
    };
    /// A file opened for writing only.
    pub const WRITE_ONLY: FileAccess = FileAccess {
        readable: false,
        writable: true,
    };
    /// A file opened for reading and writing.
    pub const READ_WRITE: FileAccess = FileAccess {
        readable: true,
        writable: true,
    };
}

/// What the host knows about a registered window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowAccess {
    /// Length in bytes.
    pub len: u64,
    /// The host may write into it (READ requests).
    pub host_writes: bool,
    /// The host may read from it (WRITE requests).
    pub host_reads: bool,
}

/// The host's registered tables, as validation sees them.
pub trait Tables {
    /// The file at `handle`, if registered.
    fn file(&self, handle: u32) -> Option<FileAccess>;
    /// The window at `handle`, if registered.
    fn window(&self, handle: u32) -> Option<WindowAccess>;
}

/// Per-request limits the host enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_len: u32,
}

impl Limits {
    /// Largest allowed request: 2^31 - 1 bytes, so a byte count always fits the result word.
    pub const MAX_LEN_CEILING: u32 = i32::MAX as u32;

    /// Limits with a per-request maximum length, clamped to [`Limits::MAX_LEN_CEILING`].
    #[must_use]
    pub fn new(max_len: u32) -> Limits {
        Limits {
            max_len: max_len.min(Self::MAX_LEN_CEILING),
        }
    }

    /// The per-request maximum length in bytes.
    #[must_use]
    pub fn max_len(&self) -> u32 {
        self.max_len
    }
}

impl Default for Limits {
    /// 64 MiB per request.
    fn default() -> Limits {
        Limits::new(64 << 20)
    }
}

/// Simple in-memory tables (tests, models, the fuzzer).
#[derive(Debug, Clone, Default)]
pub struct StaticTables {
    /// Files by handle.
    pub files: Vec<FileAccess>,
    /// Windows by handle.
    pub windows: Vec<WindowAccess>,
}

impl Tables for StaticTables {
    fn file(&self, handle: u32) -> Option<FileAccess> {
        self.files.get(handle as usize).copied()
    }
    fn window(&self, handle: u32) -> Option<WindowAccess> {
        self.windows.get(handle as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> StaticTables {
        StaticTables {
            files: vec![FileAccess {
                readable: true,
                writable: true,
            }],
            windows: vec![
                WindowAccess {
                    len: 4096,
                    host_writes: true,
                    host_reads: true,
                },
                WindowAccess {
                    len: 4096,
                    host_writes: false,
                    host_reads: true,
                },
            ],
        }
    }

    fn read(window_offset: u32, len: u32) -> Request {
        Request {
            window_offset,
            len,
            ..Request::new(Op::Read)
        }
    }

    #[test]
    fn words_round_trip() {
        let r = Request {
            op_word: 2,
            file: 3,
            window: 4,
            window_offset: 5,
            file_offset: 0x1234_5678_9abc_def0,
            len: 7,
            tag: 8,
            data_check: 0,
        };
        assert_eq!(Request::from_words(r.to_words()), r);
    }

    #[test]
    fn each_error_code_is_reachable() {
        let t = tables();
        let l = Limits::new(1 << 20);
        let bad_op = Request {
            op_word: 0,
            ..Request::default()
        };
        assert_eq!(bad_op.validate(&l, &t), Err(ResultCode::BadOp));
        let flags = Request {
            op_word: Op::Nop.code() | 0x100,
            ..Request::default()
        };
        assert_eq!(flags.validate(&l, &t), Err(ResultCode::BadFlags));
        assert_eq!(
            Request {
                file: 1,
                ..read(0, 1)
            }
            .validate(&l, &t),
            Err(ResultCode::BadFile)
        );
        assert_eq!(
            Request {
                window: 9,
                ..read(0, 1)
            }
            .validate(&l, &t),
            Err(ResultCode::BadWindow)
        );
        assert_eq!(read(4095, 2).validate(&l, &t), Err(ResultCode::OutOfWindow));
        assert_eq!(
            read(u32::MAX, u32::MAX).validate(&Limits::new(u32::MAX), &t),
            Err(ResultCode::TooLong)
        );
        assert_eq!(
            read(0, (1 << 20) + 1).validate(&l, &t),
            Err(ResultCode::TooLong)
        );
        let far = Request {
            file_offset: i64::MAX as u64,
            ..read(0, 1)
        };
        assert_eq!(far.validate(&l, &t), Err(ResultCode::BadOffset));
        let huge = Request {
            file_offset: u64::MAX,
            ..read(0, 1)
        };
        assert_eq!(huge.validate(&l, &t), Err(ResultCode::BadOffset));
        assert_eq!(
            Request {
                window: 1,
                ..read(0, 1)
            }
            .validate(&l, &t),
            Err(ResultCode::WindowAccess)
        );
        let fsync_bad = Request {
            file: 7,
            ..Request::new(Op::Fsync)
        };
        assert_eq!(fsync_bad.validate(&l, &t), Err(ResultCode::BadFile));
    }

    #[test]
    fn valid_requests_pass_at_the_edges() {
        let t = tables();
        let l = Limits::default();
        assert!(matches!(
            read(4095, 1).validate(&l, &t),
            Ok(ValidRequest::Read(_))
        ));
        assert!(matches!(
            read(0, 4096).validate(&l, &t),
            Ok(ValidRequest::Read(_))
        ));
        assert!(matches!(
            read(4096, 0).validate(&l, &t),
            Ok(ValidRequest::Read(_))
        ));
        let w = Request {
            window: 1,
            len: 10,
            ..Request::new(Op::Write)
        };
        assert!(matches!(w.validate(&l, &t), Ok(ValidRequest::Write(_))));
        let last = Request {
            file_offset: i64::MAX as u64 - 1,
            ..read(0, 1)
        };
        assert!(last.validate(&l, &t).is_ok());
        assert_eq!(
            Request::new(Op::Fence).validate(&l, &t),
            Ok(ValidRequest::Fence)
        );
        assert_eq!(
            Request::new(Op::Fdatasync).validate(&l, &t),
            Ok(ValidRequest::Fsync {
                file: 0,
                datasync: true
            })
        );
        for op in Op::ALL {
            let v = Request {
                len: 1,
                ..Request::new(op)
            }
            .validate(&l, &t)
            .unwrap();
            assert_eq!(v.op(), op);
        }
    }

    #[test]
    fn the_data_check_flag_is_valid_on_write_only() {
        let t = tables();
        let l = Limits::default();
        let w = Request {
            window: 1,
            len: 10,
            data_check: 77,
            op_word: Op::Write.code() | FLAG_DATA_CHECK,
            ..Request::default()
        };
        match w.validate(&l, &t) {
            Ok(ValidRequest::Write(t)) => assert_eq!(t.data_check, Some(77)),
            other => panic!("{other:?}"),
        }
        let plain = Request {
            op_word: Op::Write.code(),
            ..w
        };
        assert!(matches!(
            plain.validate(&l, &t),
            Ok(ValidRequest::Write(Transfer {
                data_check: None,
                ..
            }))
        ));
        let r = Request {
            op_word: Op::Read.code() | FLAG_DATA_CHECK,
            window: 0,
            ..w
        };
        assert_eq!(r.validate(&l, &t), Err(ResultCode::BadFlags));
        let other = Request {
            op_word: Op::Write.code() | FLAG_DATA_CHECK << 1,
            ..w
        };
        assert_eq!(other.validate(&l, &t), Err(ResultCode::BadFlags));
    }

    #[test]
    fn data_check_pads_and_counts_length() {
        use crate::layout::descriptor::data_check;
        assert_ne!(data_check(&[]), data_check(&[0]));
        assert_ne!(data_check(&[1, 2, 3]), data_check(&[1, 2, 3, 0]));
        assert_ne!(data_check(&[1, 2, 3, 4]), data_check(&[1, 2, 4, 3]));
    }

    #[test]
    fn limits_clamp_to_i32() {
        assert_eq!(Limits::new(u32::MAX).max_len(), i32::MAX as u32);
    }
}
