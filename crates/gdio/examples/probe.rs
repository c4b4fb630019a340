//! Prints the device report and the placement probe (what `gdio probe` prints).
//!
//! `cargo run -p gdio --example probe [--rounds N] [--window-kib K]`; `GDIO_DEVICE`
//! picks the device; `GDIO_PLACE_*` override the plan printed last.
use gdio::probe;
use gdio_vulkan::{Context, ProbeOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let ctx = match Context::new() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gdio probe: {e}");
            std::process::exit(2);
        }
    };
    let mut opts = ProbeOptions::for_device(ctx.info());
    while let Some(a) = args.next() {
        let v: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!("usage: probe [--rounds N] [--window-kib K]");
            std::process::exit(2)
        });
        match a.as_str() {
            "--rounds" => opts.rounds = v as u32,
            "--window-kib" => opts.window_bytes = v << 10,
            _ => {
                eprintln!("unknown argument {a}");
                std::process::exit(2);
            }
        }
    }
    match probe(&ctx, &opts) {
        Ok(report) => {
            print!("{report}");
            match report.plan.with_env_overrides() {
                Ok(p) if p != report.plan => print!("after GDIO_PLACE_* overrides:\n{p}"),
                Ok(_) => {}
                Err(e) => eprintln!("{e}"),
            }
        }
        Err(e) => {
            eprintln!("gdio probe: {e}");
            std::process::exit(1);
        }
    }
}
