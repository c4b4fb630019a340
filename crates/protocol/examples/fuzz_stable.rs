//! Random-input fuzzing of the protocol on stable Rust, for a bounded time.
//!
//! `cargo run -p gdio-protocol --example fuzz_stable --features fuzzing --release -- SECONDS [SEED]`
//! Coverage-guided fuzzing of the same harness: `cargo +nightly fuzz run queue` in `fuzz/`.
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let seed: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("fuzzing gdio-protocol for {secs} s, seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut runs = 0u64;
    let mut buf = Vec::new();
    while Instant::now() < deadline {
        for _ in 0..256 {
            let len = rng.gen_range(0..2048);
            buf.clear();
            buf.extend((0..len).map(|_| rng.gen::<u8>()));
            gdio_protocol::fuzzing::run_one(&buf);
            runs += 1;
        }
    }
    println!("fuzz: {runs} inputs, no invariant broken (seed {seed})");
}
