//! Room for what `gdio gen` makes: free disk space where a file goes, available memory, and
//! removing a file whose writing failed.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::units;

/// The folder a file at `out` goes into.
#[must_use]
pub fn folder(out: &Path) -> &Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Bytes a file written at `out` may take: what the filesystem of its folder has free for an
/// unprivileged writer, plus the blocks of a regular file already at `out` (the only name of
/// its data), which writing it truncates first. `None` when `out` is something other than a
/// regular file (a device or a pipe: no space to check).
pub fn disk_for(out: &Path) -> Result<Option<u64>> {
    let Some(freed) = freed_by_writing(out) else {
        return Ok(None);
    };
    let dir = folder(out);
    let fs = rustix::fs::statvfs(dir)
        .with_context(|| format!("cannot read the free space of {}", dir.display()))?;
    Ok(Some(
        fs.f_bavail
            .saturating_mul(fs.f_frsize)
            .saturating_add(freed),
    ))
}

/// Bytes that writing a file at `out` frees first: the blocks of a regular file there that has
/// no other name (0 for none or a file with other links; `None` for a device, a pipe or a
/// folder).
fn freed_by_writing(out: &Path) -> Option<u64> {
    match std::fs::metadata(out) {
        Err(_) => Some(0),
        Ok(m) if !m.is_file() => None,
        Ok(m) if m.nlink() == 1 => Some(m.blocks().saturating_mul(512)),
        Ok(_) => Some(0),
    }
}

/// Fails, saying what to do, when a file of `need` bytes (`None`: more than 2^64) does not fit
/// at `out`. `what` names what asked for it, e.g. "the test file".
pub fn check_disk(out: &Path, need: Option<u64>, what: &str) -> Result<()> {
    let Some(free) = disk_for(out)? else {
        return Ok(());
    };
    if need.is_some_and(|n| n <= free) {
        return Ok(());
    }
    anyhow::bail!(
        "{what} needs {} of disk but {} has {} free: ask for less, free some space or write to \
         another filesystem",
        need.map_or_else(|| "more than 16 EiB".to_string(), units::bytes),
        folder(out).display(),
        units::bytes(free)
    )
}

/// The `MemAvailable` line of a /proc/meminfo text, in bytes.
#[must_use]
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line["MemAvailable:".len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// Memory the kernel says can be had without swapping (`MemAvailable`), if it says.
#[must_use]
pub fn mem_available() -> Option<u64> {
    parse_meminfo(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// Fails, saying what to do, when `need` bytes of memory (`None`: more than 2^64) are more than
/// [`mem_available`]. `what` names what asked for it.
pub fn check_memory(need: Option<u64>, what: &str) -> Result<()> {
    let Some(avail) = mem_available() else {
        return Ok(());
    };
    if need.is_some_and(|n| n <= avail) {
        return Ok(());
    }
    anyhow::bail!(
        "{what} needs {} of memory but {} is available: ask for less",
        need.map_or_else(|| "more than 16 EiB".to_string(), units::bytes),
        units::bytes(avail)
    )
}

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
    fn meminfo_gives_mem_available_in_bytes() {
        let text = "MemTotal:       16318412 kB\nMemFree:         1053992 kB\nMemAvailable:    9876543 kB\n";
        assert_eq!(parse_meminfo(text), Some(9_876_543 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_meminfo("MemAvailable: lots kB\n"), None);
        // This machine has a /proc/meminfo with the line.
        assert!(mem_available().is_some_and(|m| m > 0));
    }

    #[test]
    fn a_file_folder_is_its_parent_or_here() {
        assert_eq!(folder(Path::new("x")), Path::new("."));
        assert_eq!(folder(Path::new("/tmp/x")), Path::new("/tmp"));
        assert_eq!(folder(Path::new("a/b")), Path::new("a"));
    }

    #[test]
    fn disk_checks_refuse_what_does_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("f");
        let free = disk_for(&out).unwrap().unwrap();
        assert!(free > 0);
        check_disk(&out, Some(1), "1 byte").unwrap();
        let e = check_disk(&out, Some(u64::MAX), "--size 16 EiB")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--size 16 EiB") && e.contains("free"), "{e}");
        let e = check_disk(&out, None, "2^70 keys").unwrap_err().to_string();
        assert!(e.contains("more than 16 EiB"), "{e}");
        // A file already there counts as room (writing it truncates it first), unless it has
        // another name.
        assert_eq!(freed_by_writing(&out), Some(0));
        std::fs::write(&out, vec![1u8; 1 << 20]).unwrap();
        assert!(freed_by_writing(&out).unwrap() >= 1 << 20);
        std::fs::hard_link(&out, dir.path().join("g")).unwrap();
        assert_eq!(freed_by_writing(&out), Some(0));
        // Devices and pipes are not checked.
        assert_eq!(freed_by_writing(Path::new("/dev/null")), None);
        assert_eq!(disk_for(Path::new("/dev/null")).unwrap(), None);
        check_disk(Path::new("/dev/null"), None, "anything").unwrap();
    }

    #[test]
    fn memory_checks_refuse_what_does_not_fit() {
        check_memory(Some(1), "a byte").unwrap();
        let e = check_memory(Some(u64::MAX), "2^64 bytes")
            .unwrap_err()
            .to_string();
        assert!(e.contains("2^64 bytes") && e.contains("available"), "{e}");
        assert!(check_memory(None, "more").is_err());
    }

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
