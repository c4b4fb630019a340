//! What a device that floods the pump with checked WRITEs whose data never matches costs an
//! honest lane: the NOP round trip with 0 and with 16 held 64 MiB WRITEs, same run. The pump
//! thread hashes at most its inline budget per turn; the held WRITEs are hashed by the checker
//! thread, so the NOP should not wait for them (where a core is free for that thread).
//! `cargo xtask bench pump`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gdio_protocol::{FileAccess, Op, Request, WindowAccess};
use gdio_pump::emulated::Lane;
use gdio_pump::{HostQueueMemory, HostWindow, IdlePolicy, Pump, WindowMode};

const HELD: u32 = 16;
const WRITE: usize = 64 << 20;

fn main() {
    let quick = std::env::var("GDIO_BENCH_QUICK").is_ok_and(|v| v == "1");
    let nops = if quick { 2_000 } else { 20_000 };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out");
    std::fs::File::create(&path).expect("file");
    let window = Arc::new(HostWindow::new(WRITE).expect("window"));
    println!("\nan honest NOP beside {HELD} held {} MiB checked WRITEs whose data never matches ({nops} NOPs each, spinning pump)", WRITE >> 20);
    println!("| inline data-check budget per turn | held WRITEs | NOP p50 | NOP p99 | NOP max |");
    println!("|---|---|---|---|---|");
    for budget in [16usize << 10] {
        for held in [0, HELD] {
            let mut t = run(&path, &window, budget, held, nops);
            t.sort_by(f64::total_cmp);
            let p = |q: f64| t[((t.len() - 1) as f64 * q) as usize];
            println!(
                "| {} KiB | {held} | {:.2} µs | {:.2} µs | {:.2} µs |",
                budget >> 10,
                p(0.5),
                p(0.99),
                t[t.len() - 1]
            );
        }
    }
}

/// NOP round trips in µs with `held` never-matching checked WRITEs held by the pump.
fn run(
    path: &std::path::Path,
    window: &Arc<HostWindow>,
    budget: usize,
    held: u32,
    nops: usize,
) -> Vec<f64> {
    let q = Arc::new(HostQueueMemory::new(HELD + 1).expect("queue"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    let pump = Pump::builder()
        .queue(q.clone())
        .idle(IdlePolicy::spin())
        .data_check_budget(budget)
        .data_timeout(Duration::from_secs(600))
        .file(
            file,
            FileAccess {
                readable: false,
                writable: true,
            },
        )
        .window(
            window.clone(),
            WindowMode::Unregistered,
            WindowAccess {
                len: WRITE as u64,
                host_writes: false,
                host_reads: true,
            },
        )
        .spawn()
        .expect("pump");
    let flood = Lane::new(&*q, 0..HELD).expect("lane");
    let dev = flood.queue();
    let mut bogus = vec![0u8; WRITE];
    bogus[WRITE - 1] = 1;
    for s in 0..held {
        let w = Request {
            len: WRITE as u32,
            ..Request::new(Op::Write)
        };
        dev.publish_checked_write(s, &w, &bogus).expect("publish");
    }
    let mut lane = Lane::new(&*q, HELD..HELD + 1).expect("lane");
    let nop = Request::new(Op::Nop);
    let mut out = Vec::with_capacity(nops);
    for _ in 0..nops {
        let t = Instant::now();
        assert_eq!(lane.run(&nop), 0);
        out.push(t.elapsed().as_secs_f64() * 1e6);
    }
    pump.stop().expect("stop");
    out
}
