//! Random-input fuzzing of the protocol on stable Rust, for a given number of inputs.
//!
//! `cargo run -p gdio-protocol --example fuzz_stable --features fuzzing --release -- INPUTS [SEED]...`
//! Each seed runs INPUTS inputs; with no seed, one random seed (printed, so that a failure can
//! be replayed). Coverage-guided fuzzing of the same harness: `cargo fuzz run queue` in `fuzz/`
//! (or the stable build `cargo xtask fuzz-build` makes).
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let inputs: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut seeds: Vec<u64> = args.filter_map(|s| s.parse().ok()).collect();
    if seeds.is_empty() {
        seeds.push(rand::thread_rng().gen());
    }
    let mut buf = Vec::new();
    for seed in seeds {
        let t = Instant::now();
        println!("fuzzing gdio-protocol with {inputs} inputs, seed {seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..inputs {
            let len = rng.gen_range(0..2048);
            buf.clear();
            buf.extend((0..len).map(|_| rng.gen::<u8>()));
            gdio_protocol::fuzzing::run_one(&buf);
        }
        println!(
            "fuzz: {inputs} inputs, no invariant broken (seed {seed}, {:.1} s)",
            t.elapsed().as_secs_f64()
        );
    }
}
