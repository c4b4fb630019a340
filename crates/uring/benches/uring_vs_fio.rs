//! gdio-uring vs fio, side by side in one run, on a page-cached file, one thread each.
//! `cargo xtask bench uring`; settings from the environment (see gdio-bench-support).

use std::time::{Duration, Instant};

use gdio_bench_support::{fio, report, Case, Offsets, Rate, Row, Settings, CASES};
use gdio_uring::{OpKind, Ring, Transfer};

fn main() {
    let s = Settings::from_env();
    let path = s.prepare_file("uring");
    let rows: Vec<Row> = CASES
        .iter()
        .map(|c| Row {
            case: *c,
            gdio: gdio_case(&path, s.file_bytes, c, s.secs),
            fio: fio(&path, c, s.secs),
            extra: vec![],
        })
        .collect();
    report(
        &format!(
            "gdio-uring vs fio ({} MiB page-cached file, {} s per case)",
            s.file_bytes >> 20,
            s.secs
        ),
        &s,
        &rows,
    );
}

fn gdio_case(path: &std::path::Path, size: u64, c: &Case, secs: f64) -> Rate {
    let mut ring = Ring::builder()
        .entries(c.qd.max(8) * 2)
        .build()
        .expect("build ring");
    let file = ring
        .register_file(std::fs::File::open(path).expect("open").into())
        .expect("register file");
    let buf_len = (c.qd * c.bs) as usize;
    let mut buf = vec![0u8; buf_len];
    // SAFETY: `buf` stays alive until after `ring` is dropped (explicit drops at the end).
    let win = unsafe { ring.register_window(buf.as_mut_ptr(), buf_len) }.expect("register window");
    let mut offsets = Offsets::new(c, size);
    let op = |slot: u64, off: u64| {
        OpKind::Read(Transfer {
            file,
            window: win,
            window_offset: slot * u64::from(c.bs),
            file_offset: off,
            len: c.bs,
        })
    };
    for slot in 0..u64::from(c.qd) {
        ring.push(slot, op(slot, offsets.next().unwrap_or(0)))
            .expect("push");
    }
    let (mut done, mut bytes) = (0u64, 0u64);
    let mut freed = Vec::with_capacity(c.qd as usize);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs_f64(secs) {
        ring.submit_and_wait(1, None).expect("submit");
        ring.reap(|cq| {
            bytes += u64::from(cq.result.expect("read failed"));
            done += 1;
            freed.push(cq.user_data);
        });
        for slot in freed.drain(..) {
            ring.push(slot, op(slot, offsets.next().unwrap_or(0)))
                .expect("push");
        }
    }
    let el = start.elapsed().as_secs_f64();
    ring.drain(Duration::from_secs(10), |_| {}).expect("drain");
    drop(ring);
    drop(buf);
    Rate {
        iops: done as f64 / el,
        mib_s: bytes as f64 / el / (1u64 << 20) as f64,
    }
}
