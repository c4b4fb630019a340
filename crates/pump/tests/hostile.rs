//! A hostile device beside honest lanes: garbage over whole slots, wrong generations, handles
//! out of range, ranges past windows, lengths near u32::MAX, slots republished while claimed,
//! checked WRITEs whose data never matches, FSYNCs of any handle, descriptors that never
//! arrive whole, and the hostile window removed and added back while its requests are held.
//! The honest lanes' data stays right, the guard bytes around every window stay untouched, and
//! the pump neither panics nor stops.
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use gdio_protocol::{Op, Request};
use gdio_pump::emulated::{lane_slots, Lane};
use gdio_pump::{HostQueueMemory, WindowMode};
use rand::Rng;

#[test]
fn honest_lanes_are_unharmed_by_hostile_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "data", 2 << 20, 11);
    let (honest, hostile, per_lane) = (3u32, 3u32, 8u32);
    let slots = (honest + hostile) * per_lane;
    let chunk = 32 << 10;
    let queue = Arc::new(HostQueueMemory::new(slots).unwrap());
    let honest_win = window(honest as usize * chunk);
    // The hostile lanes' own window: any request they can make valid lands only here. (A
    // window shared with honest lanes is, by design, theirs to overwrite too.)
    let hostile_win = window(64 << 10);
    let scratch = dir.path().join("hostile-writes");
    std::fs::File::create(&scratch).unwrap();
    let b = builder(&queue)
        .file(open_ro(&path), RO)
        .file(open_rw(&scratch), RW)
        .data_timeout(std::time::Duration::from_millis(20))
        .torn_limit(200);
    let b = add_window(
        add_window(b, &honest_win, WindowMode::Auto),
        &hostile_win,
        WindowMode::Unregistered,
    );
    let pump = b.spawn().unwrap();
    let stop_hostile = AtomicBool::new(false);

    std::thread::scope(|s| {
        let mut honest_threads = vec![];
        for lane_idx in 0..honest {
            let (queue, data, win) = (&queue, &data, &honest_win);
            honest_threads.push(s.spawn(move || {
                let mut lane =
                    Lane::new(&**queue, lane_slots(lane_idx, honest + hostile, slots)).unwrap();
                let mut r = rng(u64::from(lane_idx));
                let base = lane_idx as usize * chunk;
                let mut buf = vec![0u8; chunk];
                for _ in 0..300 {
                    let (off, len) = random_range(&mut r, data.len(), chunk);
                    let res = lane.run(&read_req(0, 0, base as u32, off, len));
                    let want = (data.len() as u64 - off).min(u64::from(len)) as usize;
                    assert_eq!(res, want as i32);
                    win.copy_out(base, &mut buf[..want]);
                    assert_eq!(&buf[..want], &data[off as usize..off as usize + want]);
                }
            }));
        }
        for lane_idx in honest..honest + hostile {
            let (queue, stop) = (&queue, &stop_hostile);
            s.spawn(move || {
                let lane =
                    Lane::new(&**queue, lane_slots(lane_idx, honest + hostile, slots)).unwrap();
                let dev = lane.queue();
                let mine = lane_slots(lane_idx, honest + hostile, slots);
                let mut r = rng(1000 + u64::from(lane_idx));
                while !stop.load(Ordering::Relaxed) {
                    let slot = r.gen_range(mine.clone());
                    let mut words: [u32; 8] = r.gen();
                    match r.gen_range(0..9) {
                        // A checked WRITE into its own window whose data never matches (held,
                        // then answered BAD_DATA), or one that matches.
                        6 => {
                            let len = r.gen_range(1..4096u32);
                            let req = Request {
                                file: 1,
                                window: 1,
                                window_offset: r.gen_range(0..60_000),
                                len,
                                ..Request::new(Op::Write)
                            };
                            if dev.is_idle(slot).unwrap_or(false) {
                                let junk: Vec<u8> = (0..len).map(|_| r.gen()).collect();
                                let _ = dev.publish_checked_write(slot, &req, &junk);
                            }
                            std::thread::yield_now();
                            continue;
                        }
                        // An FSYNC or FDATASYNC of any file handle.
                        7 => {
                            words = Request {
                                file: r.gen_range(0..4),
                                ..Request::new(if r.gen() { Op::Fsync } else { Op::Fdatasync })
                            }
                            .to_words()
                        }
                        // A descriptor that never arrives whole (stamp and check wrong).
                        8 => {
                            let mut torn = [0u32; gdio_protocol::layout::descriptor::WRITTEN];
                            for w in torn.iter_mut() {
                                *w = r.gen();
                            }
                            let g = dev.last_published(slot).unwrap().next().0;
                            dev.write_descriptor(slot, torn, g);
                            std::thread::yield_now();
                            continue;
                        }
                        // Random bytes over the whole descriptor; never window 0 when valid-looking.
                        0 => words[2] = words[2].max(1),
                        // A valid-looking READ with handles out of range.
                        1 => {
                            words = Request {
                                file: r.gen_range(1..u32::MAX),
                                window: r.gen_range(2..u32::MAX),
                                len: 10,
                                ..Request::new(Op::Read)
                            }
                            .to_words()
                        }
                        // A range past the window, or a length near u32::MAX.
                        2 => {
                            words = Request {
                                window: 1,
                                window_offset: r.gen_range(60_000..u32::MAX),
                                len: r.gen_range(u32::MAX - 10..=u32::MAX),
                                ..Request::new(Op::Read)
                            }
                            .to_words()
                        }
                        // Something valid in its own window, and a WRITE through a read-only file.
                        3 => {
                            words = Request {
                                window: 1,
                                len: r.gen_range(0..65_536),
                                file_offset: r.gen(),
                                op_word: r.gen_range(1..=2),
                                ..Request::new(Op::Read)
                            }
                            .to_words()
                        }
                        // Flags set, unknown ops.
                        4 => words[0] = r.gen_range(7..u32::MAX),
                        _ => {
                            words =
                                Request::new(if r.gen() { Op::Fence } else { Op::Nop }).to_words()
                        }
                    }
                    let last = dev.last_published(slot).unwrap().0;
                    let publish = match r.gen_range(0..4) {
                        0 => last.wrapping_add(1).max(1), // the right next generation
                        1 => last,                        // duplicate
                        2 => last.wrapping_sub(1),        // stale
                        _ => r.gen(),                     // forged
                    };
                    if words[0] & 0xFF == Op::Read as u32 && words[2] == 0 {
                        words[2] = 1;
                    }
                    dev.write_raw(slot, words, publish);
                    // Republish at once, possibly while the pump holds the slot claimed.
                    if r.gen_bool(0.3) {
                        dev.write_raw(slot, words, publish.wrapping_add(1));
                    }
                    std::thread::yield_now();
                }
            });
        }
        // The hostile window leaves the table and comes back while its requests are held.
        {
            let (pump, stop, win) = (&pump, &stop_hostile, &hostile_win);
            s.spawn(move || {
                let mut churns = 0;
                while !stop.load(Ordering::Relaxed) && churns < 20 {
                    pump.remove_window(gdio_pump::WindowId(1)).unwrap();
                    let id = pump
                        .add_window(win.clone(), WindowMode::Unregistered, access(64 << 10))
                        .unwrap();
                    assert_eq!(id.0, 1, "the freed handle is the one reused");
                    churns += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            });
        }
        for t in honest_threads {
            t.join().unwrap();
        }
        stop_hostile.store(true, Ordering::Relaxed);
    });
    assert!(pump.is_running(), "the pump did not stop or fail");
    let report = pump
        .stop()
        .expect("the pump stops cleanly after hostile input");
    assert!(
        report.op(Op::Read).ok >= 900,
        "every honest read was served: {report}"
    );
    assert!(
        report.rejected > 0,
        "hostile requests were rejected: {report}"
    );
    assert!(
        report.bad_generations > 0,
        "forged generations were answered: {report}"
    );
    assert!(
        honest_win.guards_intact(),
        "guard bytes around the honest window"
    );
    assert!(
        hostile_win.guards_intact(),
        "guard bytes around the hostile window"
    );
}
