//! The registered (fixed) file table: which slots are taken, and what each file is.

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, OFlags, SeekFrom, StatxFlags};
use rustix::io::Errno;

use crate::Error;

/// Index of a file in the ring's registered (fixed) file table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileHandle(pub u32);

/// One registered file.
#[derive(Debug)]
pub(crate) struct FileEntry {
    pub fd: OwnedFd,
    /// Opened with `O_DIRECT`: continuations must stay aligned.
    pub direct: bool,
    /// Offset alignment `O_DIRECT` needs (from `statx(STATX_DIOALIGN)`, else 512).
    pub dio_align: u32,
    /// Not seekable (pipe, socket): offsets are ignored, `-1` is passed.
    pub stream: bool,
    /// Ops in flight or backlogged that use this file.
    pub users: u32,
}

impl FileEntry {
    /// Inspects `fd` (flags, seekability, direct-IO alignment).
    pub fn inspect(fd: OwnedFd) -> Result<FileEntry, (Error, OwnedFd)> {
        let flags = match rustix::fs::fcntl_getfl(&fd) {
            Ok(f) => f,
            Err(e) => return Err((Error::FileInspect(e), fd)),
        };
        let direct = flags.contains(OFlags::DIRECT);
        let stream = matches!(
            rustix::fs::seek(&fd, SeekFrom::Current(0)),
            Err(Errno::SPIPE)
        );
        let mut dio_align = 512;
        if direct {
            if let Ok(st) = rustix::fs::statx(&fd, "", AtFlags::EMPTY_PATH, StatxFlags::DIOALIGN) {
                if st.stx_mask & StatxFlags::DIOALIGN.bits() != 0 && st.stx_dio_offset_align > 0 {
                    dio_align = st.stx_dio_offset_align;
                }
            }
        }
        Ok(FileEntry {
            fd,
            direct,
            dio_align,
            stream,
            users: 0,
        })
    }
}

/// Sparse table mirroring the kernel's registered file table.
pub(crate) type FileTable = crate::table::SparseTable<FileHandle, FileEntry>;

impl crate::table::Handle for FileHandle {
    fn from_index(i: u32) -> Self {
        FileHandle(i)
    }
    fn index(self) -> u32 {
        self.0
    }
}
