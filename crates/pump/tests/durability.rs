//! Durability: every byte an FSYNC completion acknowledged is in the file after the process
//! that wrote it is killed at a random point.
//!
//! The test re-runs its own binary as a child (`GDIO_DURABILITY_CHILD` set). The child starts
//! a pump over a file on the real file system and, through the CPU-emulated device, WRITEs one
//! 4 KiB chunk after another, each followed by an FSYNC published without waiting for the
//! WRITE; when the FSYNC completes with 0 it prints the chunk's number. The parent kills the child with SIGKILL at a random moment after
//! a random number of acknowledgements, then reads the file back with O_DIRECT (from the
//! device, not the page cache of the dead writer's pages) and checks every acknowledged chunk.
//! `GDIO_DURABILITY_KILLS` sets the number of kill points (default 200).
mod common;

use std::io::{BufRead, BufReader, Read};

use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gdio_protocol::{Op, Request};
use gdio_pump::emulated::Lane;
use gdio_pump::{HostQueueMemory, HostWindow, WindowMode};
use rand::Rng;

const CHUNK: usize = 4096;
const CHILD: &str = "GDIO_DURABILITY_CHILD";

/// The bytes of chunk `i` of run `run`.
fn chunk(run: u64, i: u64) -> Vec<u8> {
    let mut r = rng(run.wrapping_mul(1_000_003) ^ i);
    let mut v = vec![0u8; CHUNK];
    rand::RngCore::fill_bytes(&mut r, &mut v);
    v
}

/// The child's side: write, fsync, acknowledge, forever (until killed).
#[test]
#[ignore = "the writer process of acknowledged_writes_survive_the_writer_being_killed, which runs it"]
fn durability_child() {
    let spec = std::env::var_os(CHILD)
        .expect("started by the durability test, which sets GDIO_DURABILITY_CHILD");
    let spec = spec.into_string().unwrap();
    let (path, run) = spec.rsplit_once(':').unwrap();
    let run: u64 = run.parse().unwrap();
    let queue = Arc::new(HostQueueMemory::new(2).unwrap());
    let win = window(CHUNK);
    let b = builder(&queue).file(open_rw(std::path::Path::new(path)), RW);
    let _pump = add_window(b, &win, WindowMode::Auto).spawn().unwrap();
    let lane = Lane::new(&*queue, 0..2).unwrap();
    let dev = lane.queue();
    let mut out = std::io::stdout().lock();
    let fsync = Request {
        file: 0,
        ..Request::new(Op::Fsync)
    };
    for i in 0u64.. {
        win.copy_in(0, &chunk(run, i));
        // Pipelined, as a device that trusts the ordering: the WRITE is not waited for before
        // the FSYNC is published, and the acknowledgement rests on the FSYNC alone.
        let w = dev
            .publish(1, &write_req(0, 0, 0, i * CHUNK as u64, CHUNK as u32))
            .unwrap();
        let f = dev.publish(0, &fsync).unwrap();
        assert_eq!(wait_done(&dev, 0, f), 0);
        std::io::Write::write_all(&mut out, format!("\nacked {i}\n").as_bytes()).unwrap();
        std::io::Write::flush(&mut out).unwrap();
        assert_eq!(wait_done(&dev, 1, w), CHUNK as i32);
    }
}

/// A 4 KiB-aligned buffer for O_DIRECT reads.
fn aligned(len: usize) -> HostWindow {
    HostWindow::new(len).unwrap()
}

#[test]
fn acknowledged_writes_survive_the_writer_being_killed() {
    let kills: u64 = std::env::var("GDIO_DURABILITY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut r = rng(77);
    let (mut acked_total, mut checked_bytes) = (0u64, 0u64);
    for run in 0..kills {
        let path = dir.path().join(format!("run-{run}"));
        std::fs::File::create(&path).unwrap();
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "durability_child",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD, format!("{}:{run}", path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after 0..8 acknowledgements, at once or after a short random delay (between an
        // FSYNC's completion and the next, or in the middle of a WRITE or an FSYNC).
        let wait_for = r.gen_range(0..8u64);
        let mut acked = 0u64;
        while acked < wait_for {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("acked ") => {
                    assert_eq!(l["acked ".len()..].trim().parse::<u64>().unwrap(), acked);
                    acked += 1;
                }
                Some(Ok(_)) => {} // the test harness's own lines
                _ => panic!("the writer ended before it was killed (run {run})"),
            }
        }
        if r.gen_bool(0.5) {
            std::thread::sleep(Duration::from_micros(r.gen_range(0..3000)));
        }
        child.kill().unwrap();
        // Acknowledgements printed before the kill still count.
        acked += lines
            .map_while(Result::ok)
            .filter(|l| l.starts_with("acked "))
            .count() as u64;
        child.wait().unwrap();
        // Read what is on the device.
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(
            len >= acked as usize * CHUNK,
            "run {run}: {acked} chunks acknowledged, file holds {len} bytes"
        );
        if acked > 0 {
            let buf = aligned(acked as usize * CHUNK);
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
                .open(&path)
                .unwrap();
            let mut got = vec![0u8; acked as usize * CHUNK];
            // SAFETY: the mapping is ours, aligned to a page, and nothing else touches it.
            let dst = unsafe {
                std::slice::from_raw_parts_mut(
                    gdio_pump::WindowMemory::as_ptr(&buf),
                    acked as usize * CHUNK,
                )
            };
            f.read_exact(dst).unwrap();
            buf.copy_out(0, &mut got);
            for i in 0..acked {
                let at = i as usize * CHUNK;
                assert!(
                    got[at..at + CHUNK] == chunk(run, i)[..],
                    "run {run}: acknowledged chunk {i} is not in the file"
                );
            }
        }
        acked_total += acked;
        checked_bytes += acked * CHUNK as u64;
        std::fs::remove_file(&path).unwrap();
    }
    eprintln!(
        "durability: {kills} kill points, {acked_total} acknowledged chunks ({checked_bytes} bytes) all present"
    );
}
