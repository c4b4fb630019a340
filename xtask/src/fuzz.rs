//! Fuzzing: the protocol and the pump harnesses on stable Rust with random inputs (fixed seeds
//! plus one random, printed), and the coverage-guided libFuzzer targets in `fuzz/`, built on
//! stable with the same coverage instrumentation cargo-fuzz uses (no sanitizer: that one
//! needs nightly).

use std::process::Command;

use crate::{cargo, flag_value, root, run};

/// Seeds every CI run replays; one random seed is added to them each run.
pub const SEEDS: [u64; 3] = [1, 2, 3];

/// Protocol inputs and pump steps per CI run, spread over the seeds.
pub const CI_PROTOCOL_INPUTS: u64 = 10_000_000;
/// See [`CI_PROTOCOL_INPUTS`].
pub const CI_PUMP_STEPS: u64 = 1_000_000;

/// The flags cargo-fuzz builds with, less the sanitizer.
const COVERAGE_FLAGS: &str = "--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks";

/// Where the libFuzzer binaries land.
pub fn target_dir() -> std::path::PathBuf {
    root().join("target/fuzz")
}

fn seeds_with_random() -> Vec<String> {
    let random = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 ^ u64::from(std::process::id()))
        .unwrap_or(4);
    eprintln!("fuzz seeds: {SEEDS:?} and the random seed {random} (replay with --seed {random})");
    SEEDS
        .iter()
        .copied()
        .chain([random])
        .map(|s| s.to_string())
        .collect()
}

/// The protocol harness with `inputs` inputs per seed.
fn protocol(inputs: u64, seeds: &[String]) -> Result<(), String> {
    run(
        &format!("fuzz the protocol: {inputs} inputs per seed"),
        cargo()
            .args([
                "run",
                "--release",
                "-p",
                "gdio-protocol",
                "--features",
                "fuzzing",
                "--example",
                "fuzz_stable",
                "--",
                &inputs.to_string(),
            ])
            .args(seeds),
    )
}

/// The pump harness with `steps` steps per seed.
fn pump(steps: u64, seeds: &[String]) -> Result<(), String> {
    run(
        &format!("fuzz the pump: {steps} steps per seed"),
        cargo()
            .args([
                "run",
                "--release",
                "-p",
                "gdio-pump",
                "--features",
                "fuzzing",
                "--example",
                "fuzz_pump",
                "--",
                &steps.to_string(),
            ])
            .args(seeds),
    )
}

/// What `cargo xtask test` runs: both harnesses over the fixed seeds and a random one, and a
/// build of the libFuzzer targets.
pub fn ci() -> Result<(), String> {
    let seeds = seeds_with_random();
    let n = seeds.len() as u64;
    protocol(CI_PROTOCOL_INPUTS.div_ceil(n), &seeds)?;
    pump(CI_PUMP_STEPS.div_ceil(n), &seeds)?;
    build_targets()
}

/// `cargo xtask fuzz [--inputs N] [--steps N] [--seed S]`: both harnesses on stable.
pub fn stable(args: &[String]) -> Result<(), String> {
    let inputs = flag_value(args, "--inputs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_PROTOCOL_INPUTS);
    let steps = flag_value(args, "--steps")
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_PUMP_STEPS);
    let seeds = match flag_value(args, "--seed") {
        Some(s) => vec![s],
        None => seeds_with_random(),
    };
    protocol(inputs, &seeds)?;
    pump(steps, &seeds)
}

/// `cargo xtask fuzz-build`: the libFuzzer targets `queue` and `pump`, with coverage
/// instrumentation, into `target/fuzz/x86_64-unknown-linux-gnu/release/`. Run one with
/// `target/fuzz/x86_64-unknown-linux-gnu/release/pump CORPUS_DIR -max_total_time=SECONDS`.
pub fn build_targets() -> Result<(), String> {
    run(
        "build the libFuzzer targets (queue, pump) with coverage instrumentation",
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "--manifest-path",
                "fuzz/Cargo.toml",
                // Flags apply to the target only (not build scripts) when it is named.
                "--target",
                "x86_64-unknown-linux-gnu",
                "--target-dir",
            ])
            .arg(target_dir())
            .env("RUSTFLAGS", COVERAGE_FLAGS),
    )
}
