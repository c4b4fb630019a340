//! gdio-uring vs fio, side by side, on a page-cached file.
//!
//! Env: `GDIO_BENCH_FILE_MB` (default 1024), `GDIO_BENCH_SECS` (default 3, per case),
//! `GDIO_BENCH_QUICK=1` (64 MiB, 0.5 s: CI smoke), `GDIO_BENCH_OUT=path.json`.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gdio_uring::{OpKind, Ring};

/// One benchmark case.
struct Case {
    name: &'static str,
    random: bool,
    bs: u32,
    qd: u32,
}

/// Measured throughput.
#[derive(Clone, Copy)]
struct Rate {
    iops: f64,
    mib_s: f64,
}

const CASES: [Case; 3] = [
    Case {
        name: "4k randread QD32",
        random: true,
        bs: 4096,
        qd: 32,
    },
    Case {
        name: "4k randread QD128",
        random: true,
        bs: 4096,
        qd: 128,
    },
    Case {
        name: "1m seqread QD8",
        random: false,
        bs: 1 << 20,
        qd: 8,
    },
];

fn main() {
    // `cargo bench` passes `--bench`; ignore all arguments.
    let quick = std::env::var("GDIO_BENCH_QUICK").is_ok_and(|v| v == "1");
    let env_num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    let file_mb = if quick {
        64
    } else {
        env_num("GDIO_BENCH_FILE_MB").map_or(1024, |v| v as u64)
    };
    let secs = if quick {
        0.5
    } else {
        env_num("GDIO_BENCH_SECS").unwrap_or(3.0)
    };
    let path = format!("/var/tmp/gdio-bench-{}-{file_mb}m.dat", std::process::id());
    let path = Path::new(&path);
    let size = file_mb << 20;
    eprintln!("creating {} ({file_mb} MiB)", path.display());
    create_file(path, size);
    eprintln!("warming the page cache");
    warm(path);
    let mut rows = Vec::new();
    for c in &CASES {
        let g = gdio_case(path, size, c, secs);
        let f = fio_case(path, c, secs);
        eprintln!(
            "{}: gdio {:.0} IOPS {:.0} MiB/s | fio {:?}",
            c.name,
            g.iops,
            g.mib_s,
            f.map(|f| f.iops)
        );
        rows.push((c, g, f));
    }
    let _ = std::fs::remove_file(path);

    println!("\nfile {file_mb} MiB (page cache), {secs} s per case, 1 thread\n");
    println!("| case | gdio | fio | gdio/fio |");
    println!("|---|---|---|---|");
    let mut json = String::from("[");
    for (i, (c, g, f)) in rows.iter().enumerate() {
        let (gv, fv, unit) = if c.random {
            (g.iops / 1000.0, f.map(|f| f.iops / 1000.0), "kIOPS")
        } else {
            (g.mib_s, f.map(|f| f.mib_s), "MiB/s")
        };
        let fio_s = fv.map_or("n/a".to_string(), |v| format!("{v:.1} {unit}"));
        let ratio = fv.map_or("n/a".to_string(), |v| format!("{:.2}", gv / v));
        println!("| {} | {gv:.1} {unit} | {fio_s} | {ratio} |", c.name);
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            "\n  {{\"case\": \"{}\", \"gdio_iops\": {:.1}, \"gdio_mib_s\": {:.1}, \"fio_iops\": {}, \"fio_mib_s\": {}}}",
            c.name,
            g.iops,
            g.mib_s,
            f.map_or("null".into(), |f| format!("{:.1}", f.iops)),
            f.map_or("null".into(), |f| format!("{:.1}", f.mib_s)),
        ));
    }
    json.push_str("\n]\n");
    if let Ok(out) = std::env::var("GDIO_BENCH_OUT") {
        std::fs::write(&out, json).expect("write GDIO_BENCH_OUT");
        eprintln!("wrote {out}");
    }
}

fn create_file(path: &Path, size: u64) {
    let mut f = std::fs::File::create(path).expect("create bench file under /var/tmp");
    let mut chunk = vec![0u8; 1 << 20];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in chunk.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
    }
    for _ in 0..size >> 20 {
        f.write_all(&chunk).expect("write bench file");
    }
}

fn warm(path: &Path) {
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).unwrap() > 0 {}
}

fn gdio_case(path: &Path, size: u64, c: &Case, secs: f64) -> Rate {
    let mut ring = Ring::builder()
        .entries(c.qd.max(8) * 2)
        .build()
        .expect("build ring");
    let file = ring
        .register_file(std::fs::File::open(path).unwrap().into())
        .expect("register file");
    let buf_len = (c.qd * c.bs) as usize;
    let mut buf = vec![0u8; buf_len];
    // SAFETY: `buf` stays alive until after `ring` is dropped (explicit drops at the end).
    let win = unsafe { ring.register_window(buf.as_mut_ptr(), buf_len) }.expect("register window");
    let blocks = size / u64::from(c.bs);
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next_seq = 0u64;
    let mut next_off = |rng: &mut u64| {
        if c.random {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            (*rng % blocks) * u64::from(c.bs)
        } else {
            let o = (next_seq % blocks) * u64::from(c.bs);
            next_seq += 1;
            o
        }
    };
    let op = |slot: u64, off: u64| OpKind::Read {
        file,
        window: win,
        window_offset: slot * u64::from(c.bs),
        file_offset: off,
        len: c.bs,
    };
    for slot in 0..u64::from(c.qd) {
        ring.push(slot, op(slot, next_off(&mut rng))).unwrap();
    }
    let mut done = 0u64;
    let mut bytes = 0u64;
    let mut freed = Vec::with_capacity(c.qd as usize);
    let start = Instant::now();
    let dur = Duration::from_secs_f64(secs);
    while start.elapsed() < dur {
        ring.submit_and_wait(1, None).unwrap();
        ring.reap(|cq| {
            let n = cq.result.expect("read failed");
            bytes += u64::from(n);
            done += 1;
            freed.push(cq.user_data);
        });
        for slot in freed.drain(..) {
            ring.push(slot, op(slot, next_off(&mut rng))).unwrap();
        }
    }
    let el = start.elapsed().as_secs_f64();
    ring.drain(Duration::from_secs(10), |_| {}).unwrap();
    drop(ring);
    drop(buf);
    Rate {
        iops: done as f64 / el,
        mib_s: bytes as f64 / el / (1u64 << 20) as f64,
    }
}

fn fio_case(path: &Path, c: &Case, secs: f64) -> Option<Rate> {
    let out = Command::new("fio")
        .args([
            "--name=x",
            &format!("--filename={}", path.display()),
            "--ioengine=io_uring",
            "--fixedbufs",
            "--registerfiles",
            "--invalidate=0",
            "--direct=0",
            if c.random {
                "--rw=randread"
            } else {
                "--rw=read"
            },
            if c.bs == 4096 { "--bs=4k" } else { "--bs=1m" },
            &format!("--iodepth={}", c.qd),
            "--time_based",
            &format!("--runtime={}ms", (secs * 1000.0) as u64),
            "--numjobs=1",
            "--output-format=json",
        ])
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!("fio failed: {}", String::from_utf8_lossy(&o.stderr));
            return None;
        }
        Err(e) => {
            eprintln!("fio not runnable: {e}");
            return None;
        }
    };
    let s = String::from_utf8_lossy(&out.stdout);
    let read = &s[s.find("\"jobs\"")?..];
    let read = &read[read.find("\"read\"")?..];
    let iops = json_number(read, "\"iops\"")?;
    let bw = json_number(read, "\"bw_bytes\"")?;
    Some(Rate {
        iops,
        mib_s: bw / (1u64 << 20) as f64,
    })
}

/// The number after the first `key :` in `s` (tiny hand parser for fio's JSON).
fn json_number(s: &str, key: &str) -> Option<f64> {
    let at = s.find(key)? + key.len();
    let rest = s[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.' || ch == '-' || ch == 'e' || ch == '+'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
