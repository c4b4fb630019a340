//! The soak: emulated lanes issue a mix of reads (checked byte for byte), writes, NOPs, FENCEs
//! and malformed requests, many in flight each; every request must complete exactly once with
//! the result expected of it. Shared by `examples/soak.rs` (`cargo xtask soak`) and
//! `tests/soak.rs` (a short run in CI).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gdio_protocol::{FileAccess, Op, Request, ResultCode, WindowAccess};
use gdio_pump::emulated::{lane_slots, Lane};
use gdio_pump::{HostQueueMemory, HostWindow, IdlePolicy, Pump, WindowMode};
use rand::{Rng, RngCore, SeedableRng};

/// What a soak run found.
#[derive(Debug)]
pub struct SoakResult {
    /// Requests issued by all lanes.
    pub issued: u64,
    /// Requests whose completion the lanes saw.
    pub completed: u64,
    /// Completions the pump reports.
    pub pump_completed: u64,
    /// Results that were not what the request should have produced.
    pub wrong: u64,
    /// Wall time.
    pub elapsed: Duration,
}

#[derive(Clone, Copy)]
enum Expect {
    /// Bytes of a read at `file_offset` into the lane's window at `window_offset`.
    Read {
        file_offset: u64,
        window_offset: usize,
        len: usize,
    },
    Exactly(i32),
}

/// Runs `requests` requests over `lanes` lanes with `depth` in flight per lane.
pub fn run(requests: u64, lanes: u32, depth: u32, seed: u64) -> SoakResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let file_len = 4 << 20;
    let mut data = vec![0u8; file_len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    let path = dir.path().join("soak-data");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&data))
        .expect("write data file");
    let scratch = dir.path().join("soak-scratch");
    std::fs::File::create(&scratch).expect("scratch file");

    let max_len = 16 << 10;
    let slots = lanes * depth;
    let queue = Arc::new(HostQueueMemory::new(slots).expect("queue"));
    let win = Arc::new(HostWindow::new(slots as usize * max_len).expect("window"));
    let ro = FileAccess {
        readable: true,
        writable: false,
    };
    let rw = FileAccess {
        readable: true,
        writable: true,
    };
    let pump = Pump::builder()
        .queue(queue.clone())
        .file(std::fs::File::open(&path).expect("open"), ro)
        .file(
            std::fs::OpenOptions::new()
                .write(true)
                .open(&scratch)
                .expect("open"),
            rw,
        )
        .window(
            win.clone(),
            WindowMode::Auto,
            WindowAccess {
                len: win_len(&win),
                host_writes: true,
                host_reads: true,
            },
        )
        .idle(IdlePolicy {
            spins: 256,
            ..IdlePolicy::default()
        })
        .ring_entries(512)
        .spawn()
        .expect("pump");
    let started = Instant::now();
    let per_lane = requests / u64::from(lanes);
    let outcomes: Vec<(u64, u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..lanes)
            .map(|l| {
                let (queue, win, data) = (&queue, &win, &data);
                s.spawn(move || {
                    lane_soak(queue, win, data, l, lanes, slots, per_lane, max_len, seed)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("lane"))
            .collect()
    });
    let report = pump.stop().expect("pump stops cleanly");
    let (issued, completed, wrong) = outcomes
        .iter()
        .fold((0, 0, 0), |a, o| (a.0 + o.0, a.1 + o.1, a.2 + o.2));
    SoakResult {
        issued,
        completed,
        pump_completed: report.completed(),
        wrong,
        elapsed: started.elapsed(),
    }
}

fn win_len(w: &HostWindow) -> u64 {
    gdio_pump::WindowMemory::len(w) as u64
}

#[allow(clippy::too_many_arguments)]
fn lane_soak(
    queue: &HostQueueMemory,
    win: &HostWindow,
    data: &[u8],
    l: u32,
    lanes: u32,
    slots: u32,
    n: u64,
    max_len: usize,
    seed: u64,
) -> (u64, u64, u64) {
    let mine = lane_slots(l, lanes, slots);
    let mut lane = Lane::new(queue, mine.clone()).expect("lane");
    let mut r = rand::rngs::StdRng::seed_from_u64(seed ^ (u64::from(l) << 32));
    let mut expect: HashMap<u32, Expect> = HashMap::new();
    let (mut issued, mut completed, mut wrong) = (0u64, 0u64, 0u64);
    let mut buf = vec![0u8; max_len];
    let check = |lane_expect: Expect, res: i32, buf: &mut Vec<u8>| -> bool {
        match lane_expect {
            Expect::Exactly(v) => v == res,
            Expect::Read {
                file_offset,
                window_offset,
                len,
            } => {
                let want = (data.len() as u64 - file_offset.min(data.len() as u64)).min(len as u64)
                    as usize;
                if res != want as i32 {
                    return false;
                }
                if want == 0 {
                    return true;
                }
                win.copy_out(window_offset, &mut buf[..want]);
                buf[..want] == data[file_offset as usize..file_offset as usize + want]
            }
        }
    };
    while issued < n || lane.pending() > 0 {
        if issued < n && lane.has_free_slot() {
            // The slot the lane will use is the top of its free list; its window range is
            // slot*max_len, so requests in flight never overlap.
            let kind = r.gen_range(0..100);
            let (req, exp) = if kind < 60 {
                let file_offset = r.gen_range(0..data.len() as u64 + 100);
                let len = r.gen_range(1..=max_len) as u32;
                (
                    read_req_at(file_offset, len),
                    Expect::Read {
                        file_offset,
                        window_offset: 0,
                        len: len as usize,
                    },
                )
            } else if kind < 70 {
                let len = r.gen_range(1..=4096u32);
                let off = u64::from(l) * 65_536 + r.gen_range(0..60_000);
                (
                    Request {
                        file: 1,
                        file_offset: off,
                        len,
                        ..Request::new(Op::Write)
                    },
                    Expect::Exactly(len as i32),
                )
            } else if kind < 85 {
                (Request::new(Op::Nop), Expect::Exactly(0))
            } else if kind < 90 {
                (Request::new(Op::Fence), Expect::Exactly(0))
            } else if kind < 95 {
                (
                    Request {
                        op_word: 0,
                        ..Request::default()
                    },
                    Expect::Exactly(ResultCode::BadOp.value()),
                )
            } else {
                (
                    Request {
                        file: 0,
                        window: 0,
                        window_offset: u32::MAX,
                        len: 10,
                        ..Request::new(Op::Read)
                    },
                    Expect::Exactly(ResultCode::OutOfWindow.value()),
                )
            };
            // Fill in the window range now that we know which slot is next.
            let slot_guess = peek_slot(&lane, &mine);
            let base = (slot_guess as usize) * max_len;
            let (req, exp) = match (req.op(), exp) {
                (
                    Some(Op::Read),
                    Expect::Read {
                        file_offset, len, ..
                    },
                ) => (
                    Request {
                        window_offset: base as u32,
                        ..req
                    },
                    Expect::Read {
                        file_offset,
                        window_offset: base,
                        len,
                    },
                ),
                (Some(Op::Write), e) => (
                    Request {
                        window_offset: base as u32,
                        ..req
                    },
                    e,
                ),
                _ => (req, exp),
            };
            let t = lane.issue(&req).expect("free slot");
            assert_eq!(t.slot, slot_guess);
            expect.insert(t.slot, exp);
            issued += 1;
        } else if let Some((t, res)) = lane.wait_oldest() {
            completed += 1;
            let e = expect
                .remove(&t.slot)
                .expect("a completion for a request we issued, once");
            if !check(e, res, &mut buf) {
                wrong += 1;
            }
        }
    }
    (issued, completed, wrong)
}

fn read_req_at(file_offset: u64, len: u32) -> Request {
    Request {
        file: 0,
        window: 0,
        file_offset,
        len,
        ..Request::new(Op::Read)
    }
}

/// The slot `Lane::issue` will take next (the lane's free list is a stack).
fn peek_slot(lane: &Lane<'_>, _mine: &std::ops::Range<u32>) -> u32 {
    lane.next_free_slot().expect("has a free slot")
}
