//! Runs the built `gdio` binary on the default device (lavapipe in CI, a GPU where there is one)
//! and checks what users see.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// One gdio at a time: spinning pumps and lavapipe's threads share 2 cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn gdio(args: &[&str]) -> Output {
    gdio_env(&[], args)
}

/// gdio with environment variables set.
fn gdio_env(vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(gdio_bin());
    // Only the settings given, besides the device choice: another GDIO_ variable of the
    // caller's (a test runner's own) would change what gdio prints.
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("GDIO_") && n != "GDIO_DEVICE" {
            cmd.env_remove(name);
        }
    }
    let out = cmd
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .envs(vars.iter().copied())
        .output()
        .expect("gdio runs");
    eprintln!(
        "{vars:?} gdio {}: {}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(args: &[&str]) -> serde_json::Value {
    json_env(&[], args)
}

fn json_env(vars: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = gdio_env(vars, &all);
    assert!(out.status.success(), "gdio {args:?} failed");
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The CRC-32C of a file, computed bit by bit here (independent of gdio's code).
fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// The gdio binary: the one cargo built, or `TEST_GDIO_BIN` where the tests run away from the
/// build (a GPU machine without Rust: `run-h100.sh` sets it; not a `GDIO_` name, which gdio
/// itself would warn about).
fn gdio_bin() -> String {
    std::env::var("TEST_GDIO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_gdio").to_string())
}

/// Whether the default device is a CPU device (lavapipe), as `gdio probe` reports it: the
/// tests run on lavapipe in CI and on a GPU through `cargo xtask gpu`.
fn on_cpu_device() -> bool {
    let v = json(&["probe"]);
    v["device"]["cpu_fallback"].as_bool().unwrap()
}

#[test]
fn probe_json_reports_the_device() {
    let _g = lock();
    let v = json(&["probe"]);
    let dev = &v["device"];
    let name = dev["name"].as_str().unwrap();
    assert_eq!(
        dev["cpu_fallback"].as_bool().unwrap(),
        name.contains("llvmpipe"),
        "lavapipe, and only lavapipe, is the CPU fallback: {v}"
    );
    assert_eq!(v["ready"], true, "{v}");
    let sections: Vec<&str> = v["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    for want in [
        "Vulkan devices",
        "Memory",
        "Window placements",
        "io_uring",
        "Limits",
    ] {
        assert!(
            sections.iter().any(|s| s.starts_with(want)),
            "{want} in {sections:?}"
        );
    }
}

#[test]
fn sum_verify_agrees_with_a_cpu_crc_for_every_size() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["sum".to_string(), "--verify".to_string()];
    // Tails around the shader's 64-byte steps and 16-byte loads: bytes, words, loads.
    let sizes = [0u64, 1, 28, 4095, 4097, (3 << 20) + 5];
    for s in sizes {
        let f = dir.path().join(format!("f{s}"));
        let out = gdio(&["gen", "file", "--size", &s.to_string(), p(&f)]);
        assert!(out.status.success());
        assert_eq!(std::fs::metadata(&f).unwrap().len(), s);
        args.push(p(&f).to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = json(&refs);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), sizes.len());
    for (f, s) in files.iter().zip(sizes) {
        let data = std::fs::read(f["path"].as_str().unwrap()).unwrap();
        assert_eq!(f["bytes"], s);
        assert_eq!(
            f["crc32c"].as_str().unwrap(),
            format!("{:08x}", crc32c(&data)),
            "size {s}"
        );
        assert_eq!(f["verified"], true);
    }
    // The text output names the CRC first, like rhash/sha256sum.
    let out = gdio(&["sum", args.last().unwrap()]);
    assert!(out.status.success());
    let data = std::fs::read(args.last().unwrap()).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("{:08x}", crc32c(&data))));
}

/// A temporary folder on a file system with direct IO: under the build's target folder (the
/// repository's file system, ext4 on the CI machine), or for a packed test binary on another
/// machine its working directory.
fn direct_io_dir() -> tempfile::TempDir {
    let here = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if here.is_dir() {
        tempfile::tempdir_in(here)
    } else {
        tempfile::tempdir_in(".")
    }
    .unwrap()
}

#[test]
fn write_makes_files_of_every_size_buffered_and_direct() {
    let _g = lock();
    // On the repository's file system (direct IO needs one that has it: ext4 on the CI
    // machine); a packed test binary on another machine uses its working directory.
    let dir = direct_io_dir();
    for direct in [false, true] {
        for s in [0u64, 1, 4097, (3 << 20) + 5] {
            let f = dir.path().join(format!("w{s}-{direct}"));
            let size = s.to_string();
            let mut args = vec!["write", p(&f), "--size", &size, "--verify", "--seed", "9"];
            if direct {
                args.push("--direct");
            }
            let v = json(&args);
            assert_eq!(v["bytes"], s, "{v}");
            assert_eq!(v["direct"], direct, "{v}");
            assert_eq!(v["verified"], true, "{v}");
            let data = std::fs::read(&f).unwrap();
            assert!(
                data == gdio_workloads::patterns::file_bytes(s as usize, 9),
                "size {s}, direct {direct}: the file is not the pattern"
            );
        }
    }
    // An existing file is replaced only with --force.
    let f = dir.path().join("w4097-false");
    let out = gdio(&["write", p(&f), "--size", "10"]);
    let (code, err) = status(&out);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 4097, "left as it was");
    assert!(gdio(&["write", p(&f), "--size", "10", "--force"])
        .status
        .success());
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 10);
    // Direct IO writes whole 4 KiB blocks: a chunk that is not a multiple is refused.
    let out = gdio(&[
        "write",
        p(&f),
        "--size",
        "10",
        "--force",
        "--direct",
        "--chunk",
        "1000",
    ]);
    let (code, err) = status(&out);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--chunk 1000"), "{err}");
}

#[test]
fn sum_direct_reads_past_the_page_cache_and_agrees_with_the_cpu() {
    // Direct IO on the repository's file system (ext4 on the CI machine); on a device whose
    // READ windows are ReBAR (NVIDIA) the command refuses it with the reason.
    let _g = lock();
    let dir = direct_io_dir();
    let mut args = vec!["sum".to_string(), "--verify".into(), "--direct".into()];
    args.extend(["--chunk".into(), "64KiB".into()]);
    // Tails around the shader's 64-byte steps and 16-byte loads: bytes, words, loads.
    let sizes = [0u64, 1, 28, 4095, 4097, (3 << 20) + 5];
    for s in sizes {
        let f = dir.path().join(format!("d{s}"));
        assert!(gdio(&["gen", "file", "--size", &s.to_string(), p(&f)])
            .status
            .success());
        args.push(p(&f).to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut all = vec!["--json"];
    all.extend_from_slice(&refs);
    let out = gdio(&all);
    if out.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for (f, s) in v["files"].as_array().unwrap().iter().zip(sizes) {
            let data = std::fs::read(f["path"].as_str().unwrap()).unwrap();
            assert_eq!(f["bytes"], s);
            assert_eq!(
                f["crc32c"].as_str().unwrap(),
                format!("{:08x}", crc32c(&data))
            );
            assert_eq!(f["verified"], true);
        }
    } else {
        // Only a device whose READ windows are in ReBAR may refuse, and it says why.
        let (code, err) = status(&out);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("ReBAR") && !on_cpu_device(), "{err}");
    }
}

#[test]
fn device_local_windows_sum_and_write_byte_exact_or_are_refused_without_a_copy_queue() {
    // With a copy queue (GPUs) both commands run and agree with the CPU; lavapipe has one
    // queue and must refuse both, saying so.
    let _g = lock();
    let dir = direct_io_dir();
    let f = dir.path().join("in");
    assert!(
        gdio(&["gen", "file", "--size", &((2 << 20) + 7).to_string(), p(&f)])
            .status
            .success()
    );
    let w = dir.path().join("out");
    for (what, out) in [
        (
            "sum",
            gdio(&["sum", "--verify", "--windows", "device", p(&f)]),
        ),
        (
            "sum --direct",
            gdio(&[
                "sum",
                "--verify",
                "--direct",
                "--chunk",
                "64KiB",
                "--windows",
                "device",
                p(&f),
            ]),
        ),
        (
            "write",
            gdio(&[
                "write",
                "--verify",
                "--windows",
                "device",
                "--size",
                "3MiB",
                p(&w),
            ]),
        ),
    ] {
        let (code, err) = status(&out);
        if on_cpu_device() {
            assert_eq!(code, Some(1), "{what}: {err}");
            assert!(err.contains("no copy queue"), "{what}: {err}");
        } else {
            assert_eq!(code, Some(0), "{what}: {err}");
        }
    }
    if !on_cpu_device() {
        assert_eq!(std::fs::metadata(&w).unwrap().len(), 3 << 20);
    }
}

/// A 70,000-key B-tree (height 3) in `dir` and `count` keys for it (a fifth absent): the two
/// paths and `gdio gen keys`'s JSON report.
fn index_with_keys(dir: &Path, count: u32) -> (PathBuf, PathBuf, serde_json::Value) {
    let idx = dir.join("idx");
    let keys = dir.join("keys");
    assert!(gdio(&["gen", "btree", "--keys", "70000", p(&idx)])
        .status
        .success());
    let count = count.to_string();
    let g = json(&[
        "gen",
        "keys",
        "--index",
        p(&idx),
        "--count",
        &count,
        "--absent",
        "0.2",
        p(&keys),
    ]);
    (idx, keys, g)
}

#[test]
fn lookup_finds_present_keys_and_reports_absent_ones() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let (idx, keys, g) = index_with_keys(dir.path(), 500);
    let (present, absent) = (
        g["present_keys"].as_u64().unwrap(),
        g["absent_keys"].as_u64().unwrap(),
    );
    assert_eq!(present + absent, 500);
    assert!(present > 300 && absent > 50, "{g}");
    let v = json(&["lookup", "--verify", p(&idx), p(&keys)]);
    let s = &v["summary"];
    assert_eq!(s["mismatches"], 0, "{v}");
    assert_eq!(s["found"].as_u64().unwrap(), present);
    assert_eq!(s["absent"].as_u64().unwrap(), absent);
    assert_eq!(s["height"], 3);
    let results = v["results"].as_array().unwrap();
    // Present keys are even, absent ones odd (the generator's rule).
    for r in results {
        let k = r["key"].as_u64().unwrap();
        assert_eq!(r["found"].as_bool().unwrap(), k % 2 == 0, "{r}");
        assert_eq!(r["nodes"], 3);
    }
    // The same keys through the resident kernel, in batches of 128 (the last one short).
    let v = json(&["lookup", "--verify", "--batch", "128", p(&idx), p(&keys)]);
    let s = &v["summary"];
    assert_eq!(s["mismatches"], 0, "{v}");
    assert_eq!(s["found"].as_u64().unwrap(), present);
    assert_eq!(s["batch"][0], 128, "{v}");
    assert!(s["batch"][1].as_f64().unwrap() > 0.0, "{v}");
    if on_cpu_device() {
        assert_eq!(
            s["invocations_per_lane"], 1,
            "lavapipe's default: a lane each: {v}"
        );
    } else {
        assert!(s["invocations_per_lane"].as_u64().unwrap() >= 1, "{v}");
    }
    assert_eq!(v["results"].as_array().unwrap().len(), 500);
    // Again with each lane a whole subgroup searching every node together (the GPU default):
    // every result equal to the CPU's, through the same kernel's other search.
    let sub = json_env(
        &[("GDIO_SEARCH", "subgroup")],
        &["lookup", "--verify", "--batch", "128", p(&idx), p(&keys)],
    );
    let ss = &sub["summary"];
    assert_eq!(ss["mismatches"], 0, "{sub}");
    assert_eq!(ss["found"].as_u64().unwrap(), present);
    assert!(ss["invocations_per_lane"].as_u64().unwrap() > 1, "{sub}");
    assert_eq!(sub["results"], v["results"]);
    // A hand-written keys file: comments, hex, a key below every key and one above.
    let mine = dir.path().join("mine");
    let first = results.iter().find(|r| r["found"] == true).unwrap()["key"]
        .as_u64()
        .unwrap();
    std::fs::write(
        &mine,
        format!("# keys\n{first}\n0x{first:x}\n0\n{}\n", u64::MAX),
    )
    .unwrap();
    let out = gdio(&["lookup", "--verify", p(&idx), p(&mine)]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("\tfound\t").count(), 2, "{text}");
    assert_eq!(text.matches("\tabsent").count(), 2, "{text}");
}

/// Points every child of every internal node past the end of the file (the superblock and the
/// file's size stay valid), so that walks read 0 bytes below the root.
fn break_children(index: &Path) {
    let mut d = std::fs::read(index).unwrap();
    let mut broken = 0;
    for off in (0..d.len()).step_by(4096) {
        let word =
            |i: usize| u32::from_le_bytes(d[off + 4 * i..off + 4 * i + 4].try_into().unwrap());
        let (kind, n) = (word(0), word(1) as usize);
        if kind == 2 && (1..=254).contains(&n) {
            for c in 0..=n {
                let at = off + 514 * 4 + 8 * c;
                d[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
            }
            broken += 1;
        }
    }
    assert!(broken > 0, "no internal node found");
    std::fs::write(index, d).unwrap();
}

/// Runs `gdio lookup` over `idx` and `keys` (through the resident kernel in batches of `batch`,
/// if given) with `GDIO_SEARCH=search` and four pumps, expects it to fail, and returns stderr.
fn failing_lookup(idx: &Path, keys: &Path, batch: Option<&str>, search: &str) -> String {
    let mut args = vec!["lookup", "--pumps", "4", p(idx), p(keys)];
    if let Some(b) = batch {
        args.extend(["--batch", b]);
    }
    let out = gdio_env(&[("GDIO_SEARCH", search)], &args);
    assert_eq!(out.status.code(), Some(1), "{args:?} {search}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_damaged_index_fails_fast_with_the_reason() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let (idx, keys, _) = index_with_keys(dir.path(), 200);
    break_children(&idx);
    // One dispatch, and the resident kernel: each ends with an error naming the short read (the
    // resident kernel answers the key with a failure and serves on; the host stops at it).
    for (batch, search) in [
        (None, "lane"),
        (Some("64"), "lane"),
        (Some("64"), "subgroup"),
        (Some("1"), "subgroup"),
    ] {
        let err = failing_lookup(&idx, &keys, batch, search);
        assert!(
            err.contains("a short transfer: 0 bytes"),
            "{batch:?} {search}: {err}"
        );
        // The failure itself, not the stall guard's "no result for 60 s".
        assert!(!err.contains("no result for"), "{batch:?} {search}: {err}");
    }
}

/// Overwrites the root node's header words (kind, key count).
fn set_root_header(index: &Path, kind: u32, n: u32) {
    let mut d = std::fs::read(index).unwrap();
    let root = u64::from_le_bytes(d[16..24].try_into().unwrap()) as usize;
    d[root..root + 4].copy_from_slice(&kind.to_le_bytes());
    d[root + 4..root + 8].copy_from_slice(&n.to_le_bytes());
    std::fs::write(index, d).unwrap();
}

#[test]
fn a_node_that_is_not_a_btree_node_is_named_by_every_search() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let (idx, keys, _) = index_with_keys(dir.path(), 100);
    // An internal root claiming 300 keys (at most 254 fit), then one of an unknown kind: every
    // search (one dispatch; the resident kernel with a lane an invocation or a subgroup) reads
    // only inside the node and ends with the node named, not a wrong answer or a hang.
    for (kind, n) in [(2, 300), (7, 10)] {
        set_root_header(&idx, kind, n);
        for (batch, search) in [
            (None, "lane"),
            (Some("16"), "lane"),
            (Some("16"), "subgroup"),
        ] {
            let err = failing_lookup(&idx, &keys, batch, search);
            assert!(
                err.contains(&format!("not a B-tree node (kind {kind}, {n} keys)")),
                "{batch:?} {search}: {err}"
            );
        }
    }
}

#[test]
fn demo_passes() {
    let _g = lock();
    let out = gdio(&[
        "demo",
        "--size",
        "8MiB",
        "--keys",
        "20000",
        "--lookups",
        "300",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("demo passed"), "{text}");
    assert_eq!(
        text.contains("no GPU found: using lavapipe"),
        on_cpu_device(),
        "{text}"
    );
}

#[test]
fn bench_quick_writes_json_and_svg() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let out = gdio(&["bench", "--quick", "--out", p(dir.path())]);
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bench.json")).unwrap()).unwrap();
    for key in [
        "roundtrip",
        "streaming",
        "random",
        "btree",
        "scaling",
        "write",
        "cache",
        "bfs",
    ] {
        assert!(v["sections"][key].is_object(), "{key}: {v}");
        assert!(
            v["sections"][key].get("error").is_none(),
            "{key} failed: {}",
            v["sections"][key]
        );
    }
    for svg in [
        "roundtrip.svg",
        "streaming.svg",
        "random.svg",
        "btree.svg",
        "write.svg",
        "cache.svg",
        "bfs.svg",
    ] {
        let s = std::fs::read_to_string(dir.path().join(svg)).unwrap();
        assert!(
            s.starts_with("<svg") && s.trim_end().ends_with("</svg>"),
            "{svg}"
        );
    }
    assert!(
        v["sections"]["streaming"]["gdio_bytes_per_sec"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The pump's own split of the READ round trip: both parts measured (the shader finished
    // every READ with its full length, or the section would have failed above).
    let read = &v["sections"]["roundtrip"]["shader_read_via_pump"];
    for part in ["service_p50_ns", "turnaround_p50_ns"] {
        assert!(read[part].as_u64().unwrap() > 0, "{part}: {read}");
    }
    // Section 9 searched the graph through the cache, every vertex checked (or it would have
    // failed above), and the cache read pages and hit some.
    let bfs = &v["sections"]["bfs"];
    assert!(bfs["graph_bytes"].as_u64().unwrap() > bfs["cache_bytes"].as_u64().unwrap());
    for r in bfs["runs"].as_array().unwrap() {
        assert!(r["cache_reads"].as_u64().unwrap() > 0, "{r}");
        assert!(r["cache_hits"].as_u64().unwrap() > 0, "{r}");
        assert!(r["reached"].as_u64().unwrap() > 1, "{r}");
    }
    assert!(!bfs["runs"].as_array().unwrap().is_empty(), "{bfs}");
    let resident: Vec<_> = v["sections"]["btree"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["resident_kernel"] == true)
        .collect();
    assert!(!resident.is_empty());
    for r in resident {
        assert!(
            r["device_turnaround_seconds_p50"].as_f64().unwrap() > 0.0,
            "{r}"
        );
    }
}

#[test]
fn bench_streams_one_file_split_across_devices() {
    // Device 0 opened twice: the several-GPU path (parts, one thread, queue and pump each, the
    // parts' CRCs joined and checked) on a machine with one device.
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let out = gdio(&[
        "bench",
        "--quick",
        "--only",
        "gpus",
        "--gpus",
        "0,0",
        "--out",
        p(dir.path()),
    ]);
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bench.json")).unwrap()).unwrap();
    let g = &v["sections"]["gpus"];
    assert!(
        g.get("error").is_none() && g.get("skipped").is_none(),
        "{g}"
    );
    let rows = g["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{g}");
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r["gpus"], k + 1);
        assert!(r["bytes_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    }
    // Random reads (every word checked) and lookups (checked against the CPU) on one and two.
    for (what, rate) in [("random", "reads_per_sec"), ("lookups", "lookups_per_sec")] {
        let rows = g[what].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{g}");
        for (k, r) in rows.iter().enumerate() {
            assert_eq!(r["gpus"], k + 1);
            assert!(r[rate].as_f64().unwrap() > 0.0, "{r}");
        }
    }
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let out = gdio(&["sum", "/nonexistent/file"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/file") && err.contains("no such file"),
        "{err}"
    );

    let out = gdio(&["gen", "file", "--size", "12 parsecs", "/tmp/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown size unit"));

    let out = gdio(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    // Probe sizes out of range are refused, not raised quietly.
    for args in [["probe", "--rounds", "1"], ["probe", "--window", "100"]] {
        let out = gdio(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let not_tree = dir.path().join("plain");
    std::fs::write(&not_tree, vec![0u8; 8192]).unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "1\n").unwrap();
    let out = gdio(&["lookup", p(&not_tree), p(&keys)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a gdio B-tree"), "{err}");
    // What it suggests makes a new index; it must not overwrite the user's file.
    assert!(
        !err.contains(&format!("gen btree --keys N {}", p(&not_tree))),
        "{err}"
    );
    assert!(err.contains("gen btree --keys N NEW_INDEX"), "{err}");

    std::fs::write(&keys, "12\nbanana\n").unwrap();
    let tree = dir.path().join("t");
    assert!(gdio(&["gen", "btree", "--keys", "10", p(&tree)])
        .status
        .success());
    let out = gdio(&["lookup", p(&tree), p(&keys)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2: \"banana\""));
}

/// The exit status and stderr of a run.
fn status(out: &Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_gdio_settings_exit_2_naming_the_variable_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    for (var, value) in [
        ("GDIO_PUMPS", "0"),
        ("GDIO_PUMPS", "65"),
        ("GDIO_PUMPS", "four"),
        ("GDIO_ASYNC_MIN", "64 parsecs"),
        ("GDIO_ASYNC_MIN", "8GiB"),
        ("GDIO_SEARCH", "warp"),
        ("GDIO_FENCE_WAIT", "yield"),
        ("GDIO_ORCHESTRATED_STAGING", "vram"),
        ("GDIO_PLACE_REQUEST", "vram"),
        ("GDIO_PLACE_COMPLETION", "vram"),
        ("GDIO_PLACE_READ_WINDOW", "vram"),
        ("GDIO_PLACE_WRITE_WINDOW", "vram"),
    ] {
        let (code, err) = status(&gdio_env(
            &[(var, value)],
            &["gen", "file", "--size", "16", p(&f)],
        ));
        assert_eq!(code, Some(2), "{var}={value}: {err}");
        assert!(
            err.contains(&format!("{var}={value:?}")) && err.contains("use "),
            "{var}={value}: {err}"
        );
        assert!(!f.exists(), "{var}={value}: nothing ran");
    }
    // Good values, in the flags' units (the README writes 64KiB); an unknown name warns.
    let (code, err) = status(&gdio_env(
        &[
            ("GDIO_ASYNC_MIN", "64KiB"),
            ("GDIO_PUMPS", "64"),
            ("GDIO_SEARCH", "lane"),
            ("GDIO_FENCE_WAIT", "spin"),
            ("GDIO_PLACE_READ_WINDOW", "host-cached"),
            ("GDIO_PUMP", "4"),
        ],
        &["gen", "file", "--size", "16", p(&f)],
    ));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("gdio: warning: GDIO_PUMP is not a gdio setting"))
            .count(),
        1,
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_numbers_on_the_command_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (out, idx) = (dir.path().join("out"), dir.path().join("idx"));
    for args in [
        vec!["sum", "--lanes", "0", "/etc/hostname"],
        vec!["sum", "--lanes", "16385", "/etc/hostname"],
        vec!["lookup", "--lanes", "0", "a", "b"],
        vec!["lookup", "--lanes", "65536", "a", "b"],
        vec!["lookup", "--pumps", "0", "a", "b"],
        vec!["gen", "btree", "--keys", "10", "--fanout", "2", p(&out)],
        vec!["gen", "btree", "--keys", "10", "--fanout", "256", p(&out)],
        vec!["gen", "btree", "--keys", "8796093022208", p(&out)],
        vec![
            "gen",
            "keys",
            "--index",
            p(&idx),
            "--count",
            "3",
            "--absent",
            "2",
            p(&out),
        ],
        vec!["demo", "--keys", "8796093022208"],
    ] {
        let (code, err) = status(&gdio(&args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?}");
    }
    let (_, err) = status(&gdio(&[
        "gen",
        "btree",
        "--keys",
        "10",
        "--fanout",
        "2",
        p(&out),
    ]));
    assert!(err.contains("--fanout 2: use 3..=255"), "{err}");
}

#[test]
fn a_bad_chunk_exits_2() {
    let _g = lock();
    let (code, err) = status(&gdio(&["sum", "--chunk", "17", "/etc/hostname"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--chunk 17: use a multiple of 16"), "{err}");
}

#[test]
fn gen_overwrites_only_its_own_files_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let precious = d("precious");
    std::fs::write(&precious, "my notes\n").unwrap();
    let idx = d("idx");
    assert!(gdio(&["gen", "btree", "--keys", "1000", p(&idx)])
        .status
        .success());
    let index = p(&idx);
    for args in [
        vec!["gen", "file", "--size", "16"],
        vec!["gen", "btree", "--keys", "10"],
        vec!["gen", "keys", "--index", index, "--count", "3"],
    ] {
        let mut a = args.clone();
        a.push(p(&precious));
        let (code, err) = status(&gdio(&a));
        assert_eq!(code, Some(2), "{a:?}: {err}");
        assert!(
            err.contains("--force") && err.contains(p(&precious)),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "my notes\n");
    }
    // A folder is never a file to write.
    let (code, err) = status(&gdio(&[
        "gen",
        "file",
        "--size",
        "16",
        "--force",
        p(dir.path()),
    ]));
    assert_eq!(code, Some(2), "{err}");
    // Each subcommand rewrites what it made (a test file only of the same seed); none takes
    // another's file.
    let (file, keys) = (d("file"), d("keys"));
    let ok = |a: &[&str]| {
        let (code, err) = status(&gdio(a));
        assert_eq!(code, Some(0), "{a:?}: {err}");
    };
    let refused = |a: &[&str]| {
        let (code, err) = status(&gdio(a));
        assert_eq!(code, Some(2), "{a:?}: {err}");
    };
    ok(&["gen", "file", "--size", "5000", p(&file)]);
    ok(&["gen", "file", "--size", "3", p(&file)]);
    ok(&["gen", "file", "--size", "100", p(&file)]);
    refused(&["gen", "file", "--size", "100", "--seed", "2", p(&file)]);
    ok(&["gen", "btree", "--keys", "2000", p(&idx)]);
    ok(&["gen", "keys", "--index", index, "--count", "2000", p(&keys)]);
    ok(&["gen", "keys", "--index", index, "--count", "5", p(&keys)]);
    refused(&["gen", "keys", "--index", index, "--count", "5", p(&idx)]);
    refused(&["gen", "btree", "--keys", "10", p(&keys)]);
    refused(&["gen", "file", "--size", "10", p(&idx)]);
    refused(&["gen", "btree", "--keys", "10", p(&file)]);
    // Empty files are test files of any seed and keys files.
    let empty = d("empty");
    std::fs::write(&empty, "").unwrap();
    ok(&["gen", "keys", "--index", index, "--count", "5", p(&empty)]);
    std::fs::write(&empty, "").unwrap();
    ok(&["gen", "file", "--size", "10", "--seed", "9", p(&empty)]);
    // --force overwrites.
    ok(&["gen", "btree", "--keys", "10", "--force", p(&precious)]);
    ok(&["gen", "file", "--size", "10", "--force", p(&precious)]);
    ok(&[
        "gen",
        "keys",
        "--index",
        index,
        "--count",
        "3",
        "--force",
        p(&precious),
    ]);
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap().lines().count(),
        3
    );
}

#[test]
fn gen_checks_sizes_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let (idx, out) = (dir.path().join("idx"), dir.path().join("out"));
    assert!(gdio(&["gen", "btree", "--keys", "100", p(&idx)])
        .status
        .success());
    for (args, says) in [
        (
            vec![
                "gen",
                "keys",
                "--index",
                p(&idx),
                "--count",
                "18446744073709551615",
            ],
            "more than 16 EiB",
        ),
        (
            vec![
                "gen",
                "keys",
                "--index",
                p(&idx),
                "--count",
                "100000000000000000",
            ],
            "free",
        ),
        (vec!["gen", "btree", "--keys", "4000000000000"], "keys fit"),
        (vec!["gen", "file", "--size", "1000TiB"], "free"),
        (vec!["gen", "file", "--size", "15000000TiB"], "free"),
    ] {
        let mut a = args.clone();
        a.push(p(&out));
        let (code, err) = status(&gdio(&a));
        assert_eq!(code, Some(1), "{a:?}: {err}");
        assert!(err.contains(says), "{a:?}: {err}");
        assert!(!out.exists(), "{a:?}: no file");
    }
}

#[test]
fn a_failed_write_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    assert!(gdio(&["gen", "btree", "--keys", "100", p(&idx)])
        .status
        .success());
    let out = dir.path().join("out");
    // Files past 512 bytes fail to grow (EFBIG; SIGXFSZ ignored, so the write returns it).
    for args in [
        vec!["gen", "file", "--size", "1MiB"],
        vec!["gen", "btree", "--keys", "100000"],
        vec!["gen", "keys", "--index", p(&idx), "--count", "100000"],
    ] {
        let mut a = args.clone();
        a.push(p(&out));
        let cmd = "ulimit -f 1; trap '' XFSZ; exec \"$0\" \"$@\"";
        let o = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .arg(gdio_bin())
            .args(&a)
            .output()
            .unwrap();
        let (code, err) = status(&o);
        assert_eq!(code, Some(1), "{a:?}: {err}");
        assert!(err.contains("File too large"), "{a:?}: {err}");
        assert!(!out.exists(), "{a:?}: the partial file is removed");
    }
}

#[test]
fn lookup_through_the_page_cache_with_zipf_keys_matches_the_cpu() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let (idx, _, _) = index_with_keys(dir.path(), 10);
    let keys = dir.path().join("zipf.keys");
    let g = json(&[
        "gen",
        "keys",
        "--index",
        p(&idx),
        "--count",
        "2000",
        "--dist",
        "zipf",
        p(&keys),
    ]);
    assert_eq!(g["absent_keys"], 0, "{g}");
    // 64 KiB of 4 KiB pages against a tree of ~300 nodes: hits and evictions both.
    let v = json(&["lookup", "--verify", "--cache", "64KiB", p(&idx), p(&keys)]);
    let s = &v["summary"];
    assert_eq!(s["mismatches"], 0, "{v}");
    assert_eq!(s["found"], 2000, "{v}");
    let c = &s["cache"];
    assert_eq!(c["bytes"], 65536, "{v}");
    let (hits, misses, coalesced) = (
        c["hits"].as_u64().unwrap(),
        c["misses"].as_u64().unwrap(),
        c["coalesced"].as_u64().unwrap(),
    );
    assert_eq!(
        hits + misses + coalesced,
        2000 * 3,
        "every node ask counted once: {v}"
    );
    assert_eq!(c["reads"].as_u64().unwrap(), misses, "{v}");
    assert_eq!(
        s["reads"].as_u64().unwrap(),
        misses,
        "the pumps' READs: {v}"
    );
    assert!(hits > 2000, "the root and hot leaves are hits: {v}");
    assert!(c["evictions"].as_u64().unwrap() > 0, "{v}");
    // A page size the cache cannot take is refused before anything runs.
    let bad = gdio(&[
        "lookup",
        "--cache",
        "64KiB",
        "--cache-page",
        "3000",
        p(&idx),
        p(&keys),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("power of two"));
}

/// The vertex of the most neighbours of a graph file from `gdio gen graph`, read here from its
/// rows array (u64 at byte 4096, the vertex count at byte 16).
fn busiest_vertex(graph: &Path) -> u64 {
    let b = std::fs::read(graph).unwrap();
    let u64at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let vertices = u64at(16);
    (0..vertices)
        .max_by_key(|&v| u64at(4096 + 8 * v as usize + 8) - u64at(4096 + 8 * v as usize))
        .unwrap()
}

#[test]
fn bfs_through_a_small_cache_matches_the_cpu_and_names_what_is_wrong() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let graph = dir.path().join("rmat.graph");
    let g = json(&["gen", "graph", "--scale", "11", "--seed", "4", p(&graph)]);
    let h = &g["graph"];
    assert_eq!(h["vertices"], 2048, "{g}");
    assert_eq!(h["edge_factor"], 16, "{g}");
    assert_eq!(h["drawn"], 2048 * 16, "{g}");
    let bytes = std::fs::read(&graph).unwrap();
    assert_eq!(g["bytes"].as_u64().unwrap(), bytes.len() as u64);
    // Made again, the same bytes; a graph is rewritten without --force, another file is not.
    json(&["gen", "graph", "--scale", "11", "--seed", "4", p(&graph)]);
    assert_eq!(std::fs::read(&graph).unwrap(), bytes);
    let notes = dir.path().join("notes");
    std::fs::write(&notes, "mine\n").unwrap();
    let (code, err) = status(&gdio(&["gen", "graph", "--scale", "4", p(&notes)]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--force"), "{err}");

    // 32 KiB of cache against a graph of ~50 pages: pages evicted and read again.
    let source = busiest_vertex(&graph).to_string();
    let v = json(&[
        "bfs",
        p(&graph),
        "--source",
        &source,
        "--verify",
        "--cache",
        "32KiB",
    ]);
    let s = &v["summary"];
    assert_eq!(s["mismatches"], 0, "{v}");
    assert!(s["first_mismatch"].is_null(), "{v}");
    assert!(s["levels"].as_u64().unwrap() >= 3, "{v}");
    assert!(s["reached"].as_u64().unwrap() > 1000, "{v}");
    let frontiers: u64 = s["frontiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_u64().unwrap())
        .sum();
    assert_eq!(frontiers, s["reached"].as_u64().unwrap(), "{v}");
    let c = &s["cache"];
    assert_eq!(c["bytes"], 32768, "{v}");
    assert!(c["evictions"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(c["reads"], c["misses"], "{v}");
    assert_eq!(s["pump_reads"], c["misses"], "{v}");
    // Text: the levels and the verdict.
    let out = gdio(&["bfs", p(&graph), "--source", &source, "--verify"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("vertices per level: 1, "), "{text}");
    assert!(
        text.contains("verified: every vertex's level equals the CPU search's"),
        "{text}"
    );

    // A source outside the graph, a page size the cache cannot take: exit 2.
    for args in [
        vec!["bfs", p(&graph), "--source", "2048"],
        vec!["bfs", p(&graph), "--source", "1", "--page", "3000"],
    ] {
        let (code, err) = status(&gdio(&args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
    }
    let (_, err) = status(&gdio(&["bfs", p(&graph), "--source", "2048"]));
    assert!(err.contains("it has 2048 vertices, ids 0..=2047"), "{err}");
    // Not a graph, and a graph whose source row points past the adjacency array: exit 1 with
    // the reason.
    let (code, err) = status(&gdio(&["bfs", p(&notes), "--source", "0"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not a gdio graph"), "{err}");
    let mut damaged = bytes.clone();
    let at = 4096 + 8 * (busiest_vertex(&graph) as usize + 1);
    damaged[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&graph, &damaged).unwrap();
    let (code, err) = status(&gdio(&["bfs", p(&graph), "--source", &source]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("the rows array is corrupt at vertex {source}")),
        "{err}"
    );
    assert!(err.contains("gdio gen graph"), "{err}");
}
