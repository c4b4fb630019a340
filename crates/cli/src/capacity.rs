//! Room for what `gdio gen` makes: free disk space where a file goes, available memory, and
//! removing a file whose writing failed ([`Partial`]).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context as _, Result};
use gdio_workloads::btree::{self, Superblock};
pub use gdio_workloads::partial::Partial;

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

/// Fails before anything is written when a tree of `keys` keys does not fit in the available
/// memory or the free disk where `path` goes, saying how many keys would.
pub fn check_btree_room(path: &Path, keys: u64, fanout: usize) -> Result<()> {
    let disk = disk_for(path)?;
    let memory = mem_available();
    let fits = |k: u64| {
        btree::build_needs(k, fanout).is_some_and(|(m, d)| {
            memory.is_none_or(|a| m <= a) && disk.is_none_or(|free| d <= free)
        })
    };
    if fits(keys) {
        return Ok(());
    }
    // The most that fit: needs grow with keys.
    let (mut lo, mut hi) = (0u64, keys);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let (need_mem, need_disk) = btree::build_needs(keys, fanout).map_or_else(
        || {
            (
                "more than 16 EiB".to_string(),
                "more than 16 EiB".to_string(),
            )
        },
        |(m, d)| (units::bytes(m), units::bytes(d)),
    );
    let fit = if fits(lo) {
        format!("at most {lo} keys fit")
    } else {
        "not even an empty tree fits".to_string()
    };
    anyhow::bail!(
        "a B-tree of {keys} keys needs {need_mem} of memory to build and a file of {need_disk}; \
         {} of memory is available and {} has {} free: {fit}. Ask for fewer keys, free memory \
         or disk space, or write to another filesystem",
        memory.map_or_else(|| "an unknown amount".to_string(), units::bytes),
        folder(path).display(),
        disk.map_or_else(|| "unchecked space".to_string(), units::bytes),
    )
}

/// Builds the B-tree [`btree::build`] makes, after checking that it fits
/// ([`check_btree_room`]): what `gdio gen btree`, the demo and the benchmark make.
pub fn build_btree(
    path: &Path,
    keys: u64,
    seed: u64,
    fanout: usize,
    progress: impl FnMut(u64),
) -> Result<Superblock> {
    check_btree_room(path, keys, fanout)?;
    btree::build(path, keys, seed, fanout, progress)
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
    fn a_tree_that_does_not_fit_is_refused_before_a_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge");
        let e = build_btree(&p, 4_000_000_000_000, 1, 255, |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most") && e.contains("keys fit"), "{e}");
        assert!(!p.exists(), "no file left behind");
        // The number it gives fits (half of it, as memory and disk change under other
        // processes).
        let most: u64 = e
            .split("at most ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|t| t.parse().ok())
            .unwrap();
        assert!(most > 0 && most < 4_000_000_000_000, "{e}");
        check_btree_room(&p, most / 2, 255).unwrap();
    }
}
