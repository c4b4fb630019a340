//! The pump's fuzz harness: bytes drive an emulated device against the real pump, a real
//! io_uring and real files.
//!
//! Each input starts a pump over one queue, a read-only and a read-write file, two host
//! windows and one staged window (a CPU copy engine's target, served through two staging
//! chunks), all with guard pages, then plays steps taken from the bytes: publications of any
//! descriptor (honest, forged, out of range), descriptors whose words arrive late or never,
//! checked WRITEs whose data arrives late or never, FENCEs and FSYNCs, windows and files
//! removed and added while requests are held, waits and polls, and finally stop (or a stop in
//! the middle).
//! Used by the `cargo fuzz` target `pump` (coverage-guided) and by `cargo xtask fuzz` (random
//! inputs on stable, a bounded number of steps). It panics only when an invariant breaks,
//! which is the finding:
//! - no byte outside a window changes (guard pages around every window);
//! - every publication the pump claims is completed exactly once: after stop, the pump's
//!   live counters have as many completions as claims and nothing in flight;
//! - a FENCE or FSYNC that completes with 0 completes after every READ, WRITE and NOP
//!   published before it (each of them is then seen complete);
//! - every publication ends answered, or with the pump state STOPPED or FAILED for the device
//!   to see: no device waits forever;
//! - stop returns.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gdio_protocol::layout::descriptor;
use gdio_protocol::{DeviceQueue, FileAccess, Generation, Op, Poll, Request, WindowAccess};

use crate::memory::{HostQueueMemory, HostWindow, QueueMemory};
use crate::{HostCopyEngine, IdlePolicy, Pump, PumpHandle, WindowMode};

/// Slots in the fuzzed queue.
const SLOTS: u32 = 8;
/// Bytes of each window.
const WINDOW: usize = 16 << 10;
/// Bytes of the read-only file.
const FILE: usize = 24 << 10;
/// Bytes of a staging chunk: two of them, so that staged requests wait for chunks, and one
/// page, so that many are TOO_LONG.
const STAGING_CHUNK: u32 = 4096;
/// The staged window's handle (after the two host windows).
const STAGED: u32 = 2;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u32(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            v |= u32::from(self.u8()?) << (8 * i);
        }
        Some(v)
    }
}

/// Files shared by every input of a process (created once, in a fresh temporary folder).
fn files() -> &'static (PathBuf, PathBuf) {
    static FILES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("gdio-pump-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder for the fuzzed files");
        let ro = dir.join("ro");
        let data: Vec<u8> = (0..FILE).map(|i| (i * 7 + 3) as u8).collect();
        std::fs::write(&ro, data).expect("the read-only file");
        (ro, dir.join("rw"))
    })
}

fn open(path: &PathBuf, write: bool) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .create(write)
        .truncate(write)
        .open(path)
        .expect("opening a fuzzed file")
}

/// What the harness knows of one slot.
#[derive(Clone, Copy, Default)]
struct Slot {
    /// The device's last publication, if it may still be pending.
    pending: Option<Generation>,
    /// A descriptor published torn: the words to write once the rest "arrives".
    torn: Option<[u32; descriptor::WRITTEN]>,
    /// A checked WRITE whose data has not arrived: (window, offset, the data).
    data: Option<(u32, u32, u8)>,
    /// How it was published (for the failure message).
    how: &'static str,
}

/// A FENCE or FSYNC and the publications made before it that it must follow.
struct Closer {
    slot: u32,
    generation: Generation,
    before: Vec<(u32, Generation, &'static str)>,
}

struct Harness<'a> {
    trace: bool,
    dev: DeviceQueue<'a>,
    slots: [Slot; SLOTS as usize],
    /// Slots a forged publication went into: their generations may repeat one still in flight
    /// (the device's own idle check is fooled by its stale publish word), so what completes
    /// there cannot be told apart; the harness stops tracking them (the pump's own invariants
    /// still hold for them).
    tainted: [bool; SLOTS as usize],
    closers: Vec<Closer>,
    /// The windows the device writes into (by handle, as first added: two host windows and the
    /// staged window's target), then the staging memory and the windows added later: all of
    /// them are checked for bytes changed outside them.
    windows: Vec<Arc<HostWindow>>,
    steps: u64,
}

/// Runs one input; returns the number of steps played.
pub fn run_one(data: &[u8]) -> u64 {
    let mut input = Bytes(data);
    let (ro, rw) = files();
    let queue = Arc::new(HostQueueMemory::new(SLOTS).expect("a small queue"));
    let mut windows: Vec<Arc<HostWindow>> = (0..3)
        .map(|_| Arc::new(HostWindow::new(WINDOW).expect("a window with guard pages")))
        .collect();
    let staging =
        Arc::new(HostWindow::new(2 * STAGING_CHUNK as usize).expect("staging with guard pages"));
    let engine = HostCopyEngine::new(staging.clone(), vec![windows[STAGED as usize].clone()])
        .expect("the CPU copy engine starts");
    let access = |len: usize| WindowAccess {
        len: len as u64,
        host_writes: true,
        host_reads: true,
    };
    let mut b = Pump::builder()
        .queue(queue.clone())
        .idle(IdlePolicy {
            spins: 8,
            ..IdlePolicy::default()
        })
        .data_timeout(Duration::from_millis(5))
        .data_check_budget(4096)
        .torn_limit(20)
        .file(
            open(ro, false),
            FileAccess {
                readable: true,
                writable: false,
            },
        )
        .file(
            open(rw, true),
            FileAccess {
                readable: true,
                writable: true,
            },
        );
    for (i, w) in windows[..2].iter().enumerate() {
        let mode = if i == 0 {
            WindowMode::Auto
        } else {
            WindowMode::Unregistered
        };
        b = b.window(w.clone(), mode, access(WINDOW));
    }
    let pump = b
        .copy_engine(Box::new(engine), STAGING_CHUNK)
        .copy_timeout(Duration::from_secs(10))
        .staged_window(0, access(WINDOW))
        .spawn()
        .expect("the fuzzed pump starts");
    windows.push(staging);
    let dev = DeviceQueue::attach(queue.requests(), queue.completions()).expect("initialised");
    let mut h = Harness {
        trace: std::env::var_os("GDIO_FUZZ_TRACE").is_some(),
        dev,
        slots: [Slot::default(); SLOTS as usize],
        tainted: [false; SLOTS as usize],
        closers: Vec::new(),
        windows,
        steps: 0,
    };
    let mut pump = Some(pump);
    let trace = std::env::var_os("GDIO_FUZZ_TRACE").is_some();
    while let Some(op) = input.u8() {
        h.steps += 1;
        let slot = u32::from(input.u8().unwrap_or(0)) % SLOTS;
        if trace {
            eprintln!(
                "step {}: op {} slot {slot} pump {}",
                h.steps,
                op % 16,
                pump.is_some()
            );
        }
        match op % 16 {
            0..=4 => h.publish(&mut input, slot),
            5 => h.publish_torn(&mut input, slot),
            6 => h.arrive(slot),
            7 => h.publish_checked(&mut input, slot),
            8 => h.publish_closer(&mut input, slot),
            9 | 10 => h.wait(slot),
            11 => h.republish_raw(&mut input, slot),
            12 => {
                if let Some(p) = &pump {
                    h.change_tables(&mut input, p);
                }
            }
            13 => h.check_closers(),
            14 => std::thread::yield_now(),
            _ => {
                // A stop in the middle; later steps play against a stopped pump.
                if let Some(p) = pump.take() {
                    finish(p);
                }
            }
        }
    }
    // Every torn descriptor arrives, then the device waits a little for what is pending.
    for s in 0..SLOTS {
        h.arrive(s);
    }
    for s in 0..SLOTS {
        h.wait(s);
    }
    h.check_closers();
    if let Some(p) = pump.take() {
        finish(p);
    }
    // After stop, every publication is answered or the device sees the pump gone.
    for s in 0..SLOTS {
        if let Some(g) = h.slots[s as usize].pending {
            match h.dev.poll(s, g).expect("slot in range") {
                Poll::Done(_) | Poll::PumpGone { .. } => {}
                Poll::Pending => panic!("slot {s} generation {g:?} pending after stop"),
            }
        }
    }
    h.check_closers();
    for (i, w) in h.windows.iter().enumerate() {
        assert!(w.guards_intact(), "window {i}: bytes outside it changed");
    }
    h.steps
}

/// Stops the pump within a bounded time and checks exactly-once completion.
fn finish(pump: PumpHandle) {
    let start = Instant::now();
    // A failed pump answers everything INTERNAL and says FAILED; only a clean stop is
    // expected (a pump bug that completes a slot twice panics in its loop under `fuzzing`).
    let report = pump
        .stop()
        .unwrap_or_else(|e| panic!("the pump failed under fuzzing: {e}"));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "stop took {:?}",
        start.elapsed()
    );
    assert_eq!(
        report.claimed,
        report.completed(),
        "every claim completed exactly once: {report}"
    );
}

impl Harness<'_> {
    fn request(&self, input: &mut Bytes<'_>) -> Request {
        let kind = input.u8().unwrap_or(0);
        let file = u32::from(kind >> 6 & 1);
        let a = input.u32().unwrap_or(0);
        let b = input.u32().unwrap_or(0);
        // A quarter of the requests go to the staged window.
        let window = if b >> 30 == 3 {
            STAGED
        } else {
            u32::from(kind >> 5 & 1)
        };
        let len = match kind & 3 {
            0 => a % 64,
            1 => a % (WINDOW as u32 + 64),
            2 => a,
            _ => 4096,
        };
        let window_offset = match kind >> 2 & 3 {
            0 => 0,
            1 => (a >> 8) % WINDOW as u32,
            2 => (a >> 3) & !3,
            _ => WINDOW as u32 - len.min(WINDOW as u32),
        };
        let file_offset = u64::from(b % (2 * FILE as u32));
        let op = match kind >> 4 & 1 {
            0 => Op::Read,
            _ => Op::Write,
        };
        let mut r = Request {
            file,
            window,
            window_offset,
            file_offset,
            len,
            ..Request::new(op)
        };
        if kind == 0xFF {
            // Anything at all.
            r = Request::from_words([
                input.u32().unwrap_or(0),
                input.u32().unwrap_or(0),
                input.u32().unwrap_or(0),
                input.u32().unwrap_or(0),
                input.u32().unwrap_or(0),
                input.u32().unwrap_or(0),
                input.u32().unwrap_or(0),
                input.u32().unwrap_or(0),
            ]);
        } else if kind & 0x80 != 0 && kind & 3 == 0 {
            r = Request::new(Op::Nop);
        }
        r
    }

    /// An honest publication where the slot is idle.
    fn publish(&mut self, input: &mut Bytes<'_>, slot: u32) {
        let r = self.request(input);
        if let Ok(g) = self.dev.publish(slot, &r) {
            if self.trace {
                eprintln!("  honest slot {slot} gen {g:?} {r:?}");
            }
            if self.tainted[slot as usize] {
                return;
            }
            self.slots[slot as usize] = Slot {
                pending: Some(g),
                how: "honest",
                ..Slot::default()
            };
        }
    }

    /// A publication whose descriptor has not all arrived (a word is still old).
    fn publish_torn(&mut self, input: &mut Bytes<'_>, slot: u32) {
        if !self.dev.is_idle(slot).unwrap_or(false) {
            return;
        }
        let r = self.request(input);
        let g = self.dev.last_published(slot).expect("slot in range").next();
        let mut whole = [0u32; descriptor::WRITTEN];
        whole[..descriptor::WORDS].copy_from_slice(&r.to_words());
        whole[descriptor::STAMP] = g.0;
        let mut head = [0u32; 9];
        head.copy_from_slice(&whole[..9]);
        whole[descriptor::CHECK] = descriptor::check(&head);
        let mut torn = whole;
        let w = usize::from(input.u8().unwrap_or(0)) % descriptor::WRITTEN;
        torn[w] ^= 0x8000_0001;
        self.dev.write_descriptor(slot, torn, g.0);
        if self.tainted[slot as usize] {
            return;
        }
        self.slots[slot as usize] = Slot {
            pending: Some(g),
            torn: Some(whole),
            data: None,
            how: "torn",
        };
    }

    /// The rest of a torn descriptor, or of a checked WRITE's data, arrives.
    fn arrive(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if let (Some(whole), Some(g)) = (s.torn.take(), s.pending) {
            self.dev.write_descriptor(slot, whole, g.0);
        }
        if let Some((window, offset, byte)) = s.data.take() {
            // The device's last data lands now (the pump may already have given up on it).
            if let Some(w) = self.windows.get(window as usize) {
                w.copy_in(offset as usize, &[byte]);
            }
        }
    }

    /// A checked WRITE whose data may arrive late (or never).
    fn publish_checked(&mut self, input: &mut Bytes<'_>, slot: u32) {
        let b = input.u8().unwrap_or(0);
        let window = if b & 0x80 != 0 {
            STAGED
        } else {
            u32::from(b & 1)
        };
        let len = 1 + u32::from(input.u8().unwrap_or(0)) * 16;
        let offset = (u32::from(input.u8().unwrap_or(0)) * 60) % (WINDOW as u32 - len);
        let w = &self.windows[window as usize];
        let mut meant = vec![0u8; len as usize];
        w.copy_out(offset as usize, &mut meant);
        let last = meant[len as usize - 1].wrapping_add(1 + (b >> 1));
        *meant.last_mut().expect("len >= 1") = last;
        let r = Request {
            file: 1,
            window,
            window_offset: offset,
            file_offset: u64::from(input.u8().unwrap_or(0)) * 512,
            len,
            ..Request::new(Op::Write)
        };
        if let Ok(g) = self.dev.publish_checked_write(slot, &r, &meant) {
            if self.trace {
                eprintln!("  checked write slot {slot} gen {g:?} {r:?}");
            }
            if self.tainted[slot as usize] {
                return;
            }
            self.slots[slot as usize] = Slot {
                pending: Some(g),
                torn: None,
                data: Some((window, offset + len - 1, last)),
                how: "checked write",
            };
        }
    }

    /// A FENCE or FSYNC; remembers what was published before it.
    fn publish_closer(&mut self, input: &mut Bytes<'_>, slot: u32) {
        let b = input.u8().unwrap_or(0);
        let r = match b % 3 {
            0 => Request::new(Op::Fence),
            1 => Request {
                file: 1,
                ..Request::new(Op::Fsync)
            },
            _ => Request {
                file: u32::from(b >> 2),
                ..Request::new(Op::Fdatasync)
            },
        };
        let before: Vec<(u32, Generation, &'static str)> = (0..SLOTS)
            .filter(|&s| s != slot)
            .filter_map(|s| {
                let x = self.slots[s as usize];
                x.pending.map(|g| (s, g, x.how))
            })
            .collect();
        if let Ok(g) = self.dev.publish(slot, &r) {
            if self.trace {
                eprintln!(
                    "  closer {:?} slot {slot} gen {g:?} after {before:?}",
                    r.op()
                );
            }
            if self.tainted[slot as usize] {
                return;
            }
            self.slots[slot as usize] = Slot {
                pending: Some(g),
                how: "closer",
                ..Slot::default()
            };
            self.closers.push(Closer {
                slot,
                generation: g,
                before,
            });
        }
    }

    /// A forged or duplicate publication over whatever is in the slot.
    fn republish_raw(&mut self, input: &mut Bytes<'_>, slot: u32) {
        let r = self.request(input);
        let last = self.dev.last_published(slot).expect("slot in range").0;
        let publish = match input.u8().unwrap_or(0) % 4 {
            0 => last,
            1 => last.wrapping_sub(1),
            2 => input.u32().unwrap_or(7),
            _ => last.wrapping_add(2),
        };
        self.dev.write_raw(slot, r.to_words(), publish);
        if self.trace {
            eprintln!("  raw slot {slot} publish {publish} (last {last}) {r:?}");
        }
        // The slot's honest state is unknown now: stop tracking it (the invariants that
        // remain are the pump's own: exactly once, guards, stop).
        self.tainted[slot as usize] = true;
        self.slots[slot as usize] = Slot::default();
        self.closers.retain(|c| c.slot != slot);
        for c in &mut self.closers {
            c.before.retain(|&(s, _, _)| s != slot);
        }
    }

    /// Waits a bounded time for the slot's pending publication.
    fn wait(&mut self, slot: u32) {
        let Some(g) = self.slots[slot as usize].pending else {
            return;
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(20) {
            match self.dev.poll(slot, g).expect("slot in range") {
                Poll::Pending => std::thread::yield_now(),
                other => {
                    if self.trace {
                        eprintln!("  waited slot {slot} gen {g:?}: {other:?}");
                    }
                    self.slots[slot as usize].pending = None;
                    break;
                }
            }
        }
        self.check_closers();
    }

    /// A closer seen completed with 0 completed after everything published before it.
    fn check_closers(&mut self) {
        let dev = &self.dev;
        self.closers.retain(|c| match dev.poll(c.slot, c.generation) {
            Ok(Poll::Done(0)) => {
                for &(s, g, how) in &c.before {
                    if dev.last_published(s).expect("slot in range") != g {
                        // Published again since: the device saw it complete first.
                        continue;
                    }
                    match dev.poll(s, g).expect("slot in range") {
                        Poll::Done(_) => {}
                        // A closer claimed in the same scan may have its own entry written
                        // just after (its work, an fsync, is ordered; docs/protocol.md).
                        Poll::Pending if how == "closer" => {}
                        other => panic!(
                            "a closer in slot {} completed before slot {s} generation {g:?} ({how}) published before it ({other:?})",
                            c.slot
                        ),
                    }
                }
                false
            }
            Ok(Poll::Pending) => true,
            _ => false,
        });
    }

    /// Removes a window or file and adds one back, while requests may be held or in flight.
    fn change_tables(&mut self, input: &mut Bytes<'_>, pump: &PumpHandle) {
        let b = input.u8().unwrap_or(0);
        if b & 1 == 0 && b & 0x80 != 0 {
            // The staged window goes and comes back over the same target (a new handle).
            if pump.remove_window(crate::WindowId(STAGED)).is_ok() {
                let _ = pump.add_staged_window(
                    0,
                    WindowAccess {
                        len: WINDOW as u64,
                        host_writes: true,
                        host_reads: true,
                    },
                );
            }
        } else if b & 1 == 0 {
            let id = crate::WindowId(u32::from(b >> 1 & 1));
            if pump.remove_window(id).is_ok() {
                let w = Arc::new(HostWindow::new(WINDOW / 4).expect("a window"));
                let access = WindowAccess {
                    len: (WINDOW / 4) as u64,
                    host_writes: true,
                    host_reads: true,
                };
                if pump
                    .add_window(w.clone(), WindowMode::Unregistered, access)
                    .is_ok()
                {
                    self.windows.push(w);
                }
            }
        } else {
            let id = crate::FileId(u32::from(b >> 1 & 1));
            if pump.remove_file(id).is_ok() {
                let _ = pump.add_file(
                    open(&files().0, false),
                    FileAccess {
                        readable: true,
                        writable: false,
                    },
                );
            }
        }
    }
}
