//! Files opened for direct IO (`O_DIRECT`): the alignment the kernel demands of their
//! requests, so that a misaligned one is answered MISALIGNED before it is submitted (the
//! kernel would answer EINVAL, which says less).

use std::os::fd::AsFd;

use rustix::fs::{fcntl_getfl, statx, AtFlags, OFlags, StatxFlags};

/// Where a direct-IO file's requests must be aligned, in bytes (powers of two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirectAlign {
    /// Of the memory address (window base + window offset).
    pub mem: u32,
    /// Of the file offset and the length.
    pub offset: u32,
}

impl DirectAlign {
    /// `Some` if `fd` is open with `O_DIRECT` and `statx` reports its alignment
    /// (`STATX_DIOALIGN`, Linux 6.1+, file systems on block devices). Where nothing is reported
    /// (older kernels; NFS, FUSE and others, some of which take any alignment) nothing is
    /// checked here and a misaligned request gets the kernel's answer (EINVAL) in its slot.
    pub(crate) fn of(fd: impl AsFd) -> Option<DirectAlign> {
        let flags = fcntl_getfl(&fd).ok()?;
        if !flags.contains(OFlags::DIRECT) {
            return None;
        }
        statx(&fd, "", AtFlags::EMPTY_PATH, StatxFlags::DIOALIGN)
            .ok()
            .filter(|st| {
                st.stx_mask & StatxFlags::DIOALIGN.bits() != 0 && st.stx_dio_offset_align != 0
            })
            .map(|st| DirectAlign {
                mem: st.stx_dio_mem_align.max(1),
                offset: st.stx_dio_offset_align,
            })
    }

    /// Whether a transfer of `len` bytes at `file_offset`, to or from memory at `addr`, is
    /// aligned.
    pub(crate) fn allows(self, addr: usize, file_offset: u64, len: u32) -> bool {
        addr % self.mem as usize == 0
            && file_offset % u64::from(self.offset) == 0
            && len % self.offset == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffered_file_has_no_alignment_and_a_direct_one_has() {
        use std::os::unix::fs::OpenOptionsExt as _;
        // The crate's folder: the repository's file system (ext4 on the CI machine), which
        // has direct IO.
        let file = tempfile::NamedTempFile::new_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert_eq!(DirectAlign::of(file.as_file()), None);
        let direct = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(OFlags::DIRECT.bits() as i32)
            .open(file.path())
            .expect("this test needs the repository on a file system with direct IO (ext4, xfs)");
        let a = DirectAlign::of(&direct).expect("O_DIRECT is seen");
        assert!(
            a.offset.is_power_of_two() && a.mem.is_power_of_two(),
            "{a:?}"
        );
        assert!(a.allows(0, 0, 0));
        assert!(!a.allows(0, 1, a.offset), "{a:?}");
        assert!(!a.allows(0, 0, a.offset + 1), "{a:?}");
        assert!(a.mem == 1 || !a.allows(1, 0, a.offset), "{a:?}");
        let big = a.offset.max(a.mem) as usize;
        assert!(a.allows(big, big as u64, big as u32), "{a:?}");
    }
}
