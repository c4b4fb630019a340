//! What an idle policy costs and buys: the pump thread's CPU use while nothing is published,
//! against the latency of the first request after an idle spell. Same run, several policies.
//! `cargo xtask bench pump`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gdio_protocol::{Op, Request};
use gdio_pump::emulated::Lane;
use gdio_pump::{HostQueueMemory, IdlePolicy, Pump};

fn main() {
    let quick = std::env::var("GDIO_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (idle_secs, wakeups) = if quick { (0.3, 50) } else { (2.0, 300) };
    let us = Duration::from_micros;
    let policies = [
        ("spin (IdlePolicy::spin)", IdlePolicy::spin()),
        (
            "default: 64 spins, park 10→100 µs, 1 µs timer slack",
            IdlePolicy::default(),
        ),
        (
            "the same with the kernel's timer slack (50 µs)",
            IdlePolicy {
                timer_slack: None,
                ..IdlePolicy::default()
            },
        ),
        (
            "lazy: 0 spins, park 100 µs→1 ms",
            IdlePolicy {
                spins: 0,
                min_park: us(100),
                max_park: us(1000),
                ..IdlePolicy::default()
            },
        ),
    ];
    println!("\npump idle policy: CPU while idle vs. wake-up latency ({idle_secs} s idle, {wakeups} wake-ups after 5 ms idle each)");
    println!(
        "| policy | idle CPU (% of a core) | wake-up p50 | wake-up p99 | busy round trip p50 |"
    );
    println!("|---|---|---|---|---|");
    for (name, policy) in policies {
        let (cpu, wake, busy) = measure(policy, idle_secs, wakeups);
        println!(
            "| {name} | {:.1} % | {:.1} µs | {:.1} µs | {:.2} µs |",
            cpu * 100.0,
            pct(&wake, 0.5),
            pct(&wake, 0.99),
            pct(&busy, 0.5)
        );
    }
}

fn pct(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q) as usize]
}

/// Returns (idle CPU fraction, wake-up latencies in µs, back-to-back round trips in µs).
fn measure(policy: IdlePolicy, idle_secs: f64, wakeups: usize) -> (f64, Vec<f64>, Vec<f64>) {
    // Idle CPU: a pump with nothing to do, for idle_secs; its report has its thread CPU time.
    let q = Arc::new(HostQueueMemory::new(1).expect("queue"));
    let pump = Pump::builder()
        .queue(q.clone())
        .idle(policy)
        .spawn()
        .expect("pump");
    std::thread::sleep(Duration::from_secs_f64(idle_secs));
    let r = pump.stop().expect("stop");
    let cpu = r.cpu_time.as_secs_f64() / r.elapsed.as_secs_f64();

    let q = Arc::new(HostQueueMemory::new(1).expect("queue"));
    let pump = Pump::builder()
        .queue(q.clone())
        .idle(policy)
        .spawn()
        .expect("pump");
    let mut lane = Lane::new(&*q, 0..1).expect("lane");
    let nop = Request::new(Op::Nop);
    let mut wake = Vec::with_capacity(wakeups);
    for _ in 0..wakeups {
        std::thread::sleep(Duration::from_millis(5));
        let t = Instant::now();
        assert_eq!(lane.run(&nop), 0);
        wake.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut busy = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let t = Instant::now();
        assert_eq!(lane.run(&nop), 0);
        busy.push(t.elapsed().as_secs_f64() * 1e6);
    }
    pump.stop().expect("stop");
    (cpu, wake, busy)
}
