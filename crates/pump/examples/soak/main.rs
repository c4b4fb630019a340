//! `cargo xtask soak --requests N`: millions of mixed requests, exactly once, zero lost.
#[path = "core.rs"]
mod soak_core;

fn main() {
    let mut args = std::env::args().skip(1);
    let requests: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let lanes: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(4);
    println!("soak: {requests} requests over {lanes} lanes, 16 in flight each");
    let r = soak_core::run(requests, lanes, 16, 42);
    println!(
        "soak: issued {}, completed {} (pump says {}), wrong results {}, lost {}, {:.1} s, {:.0} req/s",
        r.issued,
        r.completed,
        r.pump_completed,
        r.wrong,
        r.issued - r.completed,
        r.elapsed.as_secs_f64(),
        r.completed as f64 / r.elapsed.as_secs_f64()
    );
    if r.issued != r.completed || r.completed != r.pump_completed || r.wrong != 0 {
        eprintln!("soak FAILED");
        std::process::exit(1);
    }
    println!("soak passed: every request completed exactly once with its expected result");
}
