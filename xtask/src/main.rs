//! `cargo xtask`: the project's one front door (after wgpu's xtask).
//!
//! - `test` — format check, clippy `-D warnings`, committed SPIR-V vs. a fresh build, the whole
//!   test suite (lavapipe carries the Vulkan tests where no GPU exists), the loom models, 10 M
//!   protocol fuzz inputs and 1 M pump fuzz steps (fixed seeds plus a random one), and a build
//!   of the libFuzzer targets. This is what CI runs.
//! - `fuzz [--inputs N] [--steps N] [--seed S]` — random-input fuzzing of the protocol and pump
//!   harnesses on stable Rust.
//! - `fuzz-build` — the coverage-guided libFuzzer targets `queue` and `pump` (see `fuzz.rs`).
//! - `bench [protocol|uring|pump|gdio|all] [--quick]` — side-by-side benchmarks; results go
//!   to `target/bench/`.
//! - `soak [--requests N]` — millions of mixed requests through the pump, exactly once.
//! - `gpu [DIR]` — build release binaries for the GPU machine into DIR (default `.h100`).

mod fuzz;
mod words;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs a command in the workspace root, echoing it; fails the task if it fails.
fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    let t = Instant::now();
    eprintln!("\n==> {what}");
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    eprintln!(
        "<== {what}: {} in {:.1} s",
        if status.success() { "ok" } else { "FAILED" },
        t.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Whether this process runs as root (from /proc/self/status: xtask has no dependencies).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The crates other people's programs depend on, each packaged on its own.
const PUBLISHED: [&str; 7] = [
    "gdio-protocol",
    "gdio-uring",
    "gdio-pump",
    "gdio-vulkan",
    "gdio",
    "gdio-workloads",
    "gdio-cli",
];

fn test(_args: &[String]) -> Result<(), String> {
    eprintln!("\n==> the repository speaks of gdio only (words.rs)");
    words::check(&root())?;
    run("rustfmt check", cargo().args(["fmt", "--all", "--check"]))?;
    run(
        "clippy -D warnings",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "cargo doc (rustdoc warnings are errors)",
        cargo()
            .args(["doc", "--no-deps", "--workspace"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    for package in PUBLISHED {
        run(
            &format!("cargo package --list -p {package}"),
            cargo()
                .args(["package", "--list", "--allow-dirty", "-p", package])
                .stdout(std::process::Stdio::null()),
        )?;
    }
    run(
        "committed SPIR-V matches its sources",
        Command::new("bash")
            .arg("crates/vulkan/shaders/build.sh")
            .arg("--check"),
    )?;
    run(
        "committed SPIR-V of the workloads' shaders matches its sources",
        Command::new("bash")
            .arg("crates/workloads/shaders/build.sh")
            .arg("--check"),
    )?;
    // lavapipe runs shaders on its own threads; keep it from fighting the pump for 2 cores.
    run(
        "tests (workspace; Vulkan on the default device, lavapipe without a GPU)",
        cargo()
            .args(["test", "--workspace", "--release"])
            .env("LP_NUM_THREADS", "2")
            .env(
                "XDG_RUNTIME_DIR",
                std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
            ),
    )?;
    // The examples a user starts from, run as a user would (lavapipe where no GPU exists).
    for example in ["read_file", "write_file", "cached_reads", "own_device"] {
        run(
            &format!("example {example} (examples/{example}.rs) on the default device"),
            cargo()
                .args([
                    "run",
                    "--release",
                    "-p",
                    "gdio-examples",
                    "--example",
                    example,
                ])
                .env("LP_NUM_THREADS", "2"),
        )?;
    }
    // Tests that need root (they mount a tmpfs) are ignored by default and say so; run them
    // where we are root (CI is), and say plainly where they were not run.
    if is_root() {
        run(
            "tests that need root (ignored by default: needs_root_*)",
            cargo()
                .args([
                    "test",
                    "--workspace",
                    "--release",
                    "--",
                    "--ignored",
                    "needs_root",
                ])
                .env("LP_NUM_THREADS", "2"),
        )?;
    } else {
        eprintln!("\n==> NOT RUN: the needs_root_* tests (not root); run `cargo xtask test` as root for them");
    }
    run(
        "loom models of the slot protocol and the page cache",
        cargo()
            .args([
                "test",
                "-p",
                "gdio-protocol",
                "--test",
                "loom",
                "--test",
                "cache_loom",
                "--release",
                "--target-dir",
                "target/loom",
            ])
            .env("RUSTFLAGS", "--cfg loom"),
    )?;
    fuzz::ci()?;
    Ok(())
}

fn bench(args: &[String]) -> Result<(), String> {
    let which = args
        .first()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .unwrap_or("all");
    let quick = args.iter().any(|a| a == "--quick");
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let env_quick = if quick { "1" } else { "0" };
    let all = which == "all";
    if all || which == "protocol" {
        let mut cmd = cargo();
        cmd.args(["bench", "-p", "gdio-protocol", "--bench", "claim"]);
        if quick {
            cmd.args(["--", "--warm-up-time", "0.2", "--measurement-time", "0.5"]);
        }
        run(
            "bench protocol (criterion: claim+complete, idle poll vs naive scan)",
            &mut cmd,
        )?;
    }
    for (name, pkg, bench) in [
        ("uring", "gdio-uring", "uring_vs_fio"),
        ("pump", "gdio-pump", "pump_vs_fio"),
        ("pump", "gdio-pump", "idle_policy"),
        ("pump", "gdio-pump", "held_flood"),
    ] {
        if all || which == name {
            run(
                &format!("bench {name}: {bench}"),
                cargo()
                    .args(["bench", "-p", pkg, "--bench", bench])
                    .env("GDIO_BENCH_QUICK", env_quick)
                    .env("GDIO_BENCH_OUT", out.join(format!("{bench}.json"))),
            )?;
        }
    }
    if all || which == "gdio" || which == "vulkan" {
        let mut cmd = cargo();
        cmd.args(["run", "--release", "-p", "gdio-cli", "--", "bench", "--out"])
            .arg(out.join("gdio"));
        if quick {
            cmd.arg("--quick");
        }
        run(
            "bench gdio (shader-driven IO vs fio and a CPU-orchestrated Vulkan loop)",
            &mut cmd,
        )?;
    }
    eprintln!("results in {}", out.display());
    Ok(())
}

fn soak(args: &[String]) -> Result<(), String> {
    let n = flag_value(args, "--requests").unwrap_or_else(|| "10000000".into());
    let lanes = flag_value(args, "--lanes").unwrap_or_else(|| "4".into());
    run(
        &format!("soak: {n} mixed requests"),
        cargo().args([
            "run",
            "--release",
            "-p",
            "gdio-pump",
            "--example",
            "soak",
            "--",
            &n,
            &lanes,
        ]),
    )
}

fn gpu(args: &[String]) -> Result<(), String> {
    let dir = args.first().cloned().unwrap_or_else(|| ".h100".into());
    run(
        "build and pack GPU binaries",
        Command::new("bash")
            .arg("crates/vulkan/scripts/pack-h100.sh")
            .arg(&dir),
    )?;
    if root().join("crates/cli").exists() {
        run(
            "build the gdio command (release)",
            cargo().args(["build", "--release", "-p", "gdio-cli"]),
        )?;
        std::fs::copy(
            root().join("target/release/gdio"),
            root().join(&dir).join("gdio"),
        )
        .map_err(|e| format!("copy gdio: {e}"))?;
    }
    eprintln!("copy {dir} (and .gl, the Vulkan loader's packages, where the machine has no libvulkan1) to the GPU machine and run there: bash {dir}/run-h100.sh OUTDIR");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = args
        .split_first()
        .map_or(("help", &[][..]), |(t, r)| (t.as_str(), r));
    let result = match task {
        "test" => test(rest),
        "fuzz" => fuzz::stable(rest),
        "fuzz-build" => fuzz::build_targets(),
        "bench" => bench(rest),
        "soak" => soak(rest),
        "gpu" => gpu(rest),
        _ => {
            eprintln!("usage: cargo xtask <test | fuzz [--inputs N] [--steps N] [--seed S] | fuzz-build | bench [protocol|uring|pump|gdio|all] [--quick] | soak [--requests N] [--lanes L] | gpu [DIR]>");
            return if task == "help" || task == "--help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}
