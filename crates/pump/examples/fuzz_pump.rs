//! Random-input fuzzing of the pump on stable Rust, for a given number of steps.
//!
//! `cargo run -p gdio-pump --example fuzz_pump --features fuzzing --release -- STEPS [SEED]...`
//! The inputs in `fuzz/regressions/pump/` are replayed first. Each seed then runs until it has
//! played STEPS steps; with no seed, one random seed (printed, so that a failure can be
//! replayed). Coverage-guided fuzzing of the same harness:
//! `cargo fuzz run pump` in `fuzz/`.
use rand::{Rng, RngCore, SeedableRng};

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut seeds: Vec<u64> = args.filter_map(|s| s.parse().ok()).collect();
    if seeds.is_empty() {
        seeds.push(rand::thread_rng().gen());
    }
    // Inputs that once broke an invariant (the pump's or the harness's), replayed first; their
    // outcome depends on thread timing, so each runs many times.
    let regressions = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/regressions/pump");
    if let Ok(dir) = std::fs::read_dir(regressions) {
        for entry in dir.flatten() {
            let input = std::fs::read(entry.path()).expect("a regression input");
            for _ in 0..100 {
                gdio_pump::fuzzing::run_one(&input);
            }
            println!(
                "fuzz: regression {} replayed 100 times",
                entry.path().display()
            );
        }
    }
    for seed in seeds {
        let t = std::time::Instant::now();
        println!("fuzzing gdio-pump for {steps} steps, seed {seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut done, mut inputs) = (0u64, 0u64);
        let mut buf = Vec::new();
        while done < steps {
            let len = rng.gen_range(0..1024);
            buf.resize(len, 0);
            rng.fill_bytes(&mut buf);
            done += gdio_pump::fuzzing::run_one(&buf).max(1);
            inputs += 1;
        }
        println!(
            "fuzz: {done} pump steps over {inputs} inputs (pumps started and stopped), no invariant broken (seed {seed}, {:.1} s)",
            t.elapsed().as_secs_f64()
        );
    }
}
