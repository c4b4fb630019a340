//! A file being written that is removed unless it is finished.

use std::path::{Path, PathBuf};

/// A regular file being written: removed when dropped before [`Partial::keep`], so that a write
/// that fails (a full disk, a bad argument found late) leaves no partial file behind.
#[derive(Debug)]
pub struct Partial {
    path: Option<PathBuf>,
}

impl Partial {
    /// Guards `path`, just created as `file`; something other than a regular file (a device, a
    /// pipe) is never removed.
    #[must_use]
    pub fn new(path: &Path, file: &std::fs::File) -> Partial {
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        Partial {
            path: regular.then(|| path.to_path_buf()),
        }
    }

    /// The file is complete: keep it.
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_file_is_removed_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let fa = std::fs::File::create(&a).unwrap();
        drop(Partial::new(&a, &fa));
        assert!(!a.exists());
        let fb = std::fs::File::create(&b).unwrap();
        Partial::new(&b, &fb).keep();
        assert!(b.exists());
        // Never a device.
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        drop(Partial::new(Path::new("/dev/null"), &null));
        assert!(Path::new("/dev/null").exists());
    }
}
