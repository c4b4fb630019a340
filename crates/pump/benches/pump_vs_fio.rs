//! The pump with emulated lanes vs fio, side by side in one run, on a page-cached file.
//! One lane thread keeps QD requests in flight through the protocol; one pump thread serves
//! them. Also reports the pump thread's CPU time per request. `cargo xtask bench pump`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gdio_bench_support::{fio, report, Case, Offsets, Rate, Row, Settings, CASES};
use gdio_protocol::{FileAccess, Op, Request, WindowAccess};
use gdio_pump::emulated::Lane;
use gdio_pump::{HostQueueMemory, HostWindow, IdlePolicy, Pump, WindowMode};

fn main() {
    let s = Settings::from_env();
    let path = s.prepare_file("pump");
    let mut rows = vec![];
    for c in &CASES {
        let (rate, cpu_ns) = pump_case(&path, s.file_bytes, c, s.secs);
        let f = fio(&path, c, s.secs);
        rows.push(Row {
            case: *c,
            gdio: rate,
            fio: f,
            extra: vec![("pump CPU ns/request", format!("{cpu_ns:.0}"))],
        });
    }
    report(
        &format!(
            "gdio pump + emulated lane vs fio ({} MiB page-cached file, {} s per case)",
            s.file_bytes >> 20,
            s.secs
        ),
        &s,
        &rows,
    );
}

fn pump_case(path: &std::path::Path, size: u64, c: &Case, secs: f64) -> (Rate, f64) {
    let queue = Arc::new(HostQueueMemory::new(c.qd).expect("queue"));
    let win = Arc::new(HostWindow::new((c.qd * c.bs) as usize).expect("window"));
    let pump = Pump::builder()
        .queue(queue.clone())
        .file(
            std::fs::File::open(path).expect("open"),
            FileAccess {
                readable: true,
                writable: false,
            },
        )
        .window(
            win.clone(),
            WindowMode::Registered,
            WindowAccess {
                len: u64::from(c.qd * c.bs),
                host_writes: true,
                host_reads: false,
            },
        )
        .ring_entries(c.qd.max(32) * 2)
        .idle(IdlePolicy::spin())
        .spawn()
        .expect("pump");
    let mut lane = Lane::new(&*queue, 0..c.qd).expect("lane");
    let mut offsets = Offsets::new(c, size);
    let mut issue = |lane: &mut Lane<'_>| {
        let slot = lane.next_free_slot().expect("free slot");
        let req = Request {
            file: 0,
            window: 0,
            window_offset: slot * c.bs,
            file_offset: offsets.next().unwrap_or(0),
            len: c.bs,
            ..Request::new(Op::Read)
        };
        lane.issue(&req).expect("issue");
    };
    for _ in 0..c.qd {
        issue(&mut lane);
    }
    let (mut done, mut bytes) = (0u64, 0u64);
    let start = Instant::now();
    let dur = Duration::from_secs_f64(secs);
    while start.elapsed() < dur {
        for _ in 0..64 {
            let (_, r) = lane.wait_oldest().expect("pending");
            assert_eq!(r, c.bs as i32, "read failed");
            bytes += r as u64;
            done += 1;
            issue(&mut lane);
        }
    }
    let el = start.elapsed().as_secs_f64();
    while lane.wait_oldest().is_some() {}
    let report = pump.stop().expect("pump");
    let cpu_ns = report.cpu_time.as_nanos() as f64 / report.completed().max(1) as f64;
    (
        Rate {
            iops: done as f64 / el,
            mib_s: bytes as f64 / el / (1u64 << 20) as f64,
        },
        cpu_ns,
    )
}
