//! The fuzz harness: arbitrary bytes drive arbitrary queue contents and operation sequences.
//!
//! Used by the `cargo fuzz` target (`fuzz/fuzz_targets/queue.rs`, coverage-guided) and
//! by `cargo xtask fuzz` (random inputs on stable, a bounded number). Panics only when an invariant
//! breaks, which is the finding.

use std::collections::HashMap;

use crate::codes::{Op, PumpState};
use crate::device::{DeviceQueue, Poll};
use crate::generation::Generation;
use crate::host::{Claim, HostQueue};
use crate::layout::Layout;
use crate::region::{zeroed_words, Region};
use crate::request::{FileAccess, Limits, Request, StaticTables, WindowAccess};

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

/// Runs one input. Invariants checked: every claim is the slot's next generation and is
/// returned once; completing a claim succeeds exactly once; validation and device polls
/// never panic on any bytes; a pump state set by the host is what the device reads.
pub fn run_one(data: &[u8]) {
    let mut input = Bytes(data);
    let Some(n) = input.u8() else { return };
    let slots = u32::from(n % 16) + 1;
    let layout = Layout::new(slots).expect("1..=16 slots");
    let req_mem = zeroed_words(layout.request_bytes());
    let comp_mem = zeroed_words(layout.completion_bytes());
    let (req, comp) = (Region::new(&req_mem), Region::new(&comp_mem));
    let mut host = HostQueue::init(req, comp, slots).expect("sized by layout");
    host.set_torn_limit(3);
    let device = DeviceQueue::attach(req, comp).expect("initialised");
    let tables = StaticTables {
        files: vec![
            FileAccess {
                readable: true,
                writable: false
            };
            2
        ],
        windows: vec![
            WindowAccess {
                len: 4096,
                host_writes: true,
                host_reads: true
            };
            2
        ],
    };
    let limits = Limits::new(1 << 20);
    // Model: per slot, last completed generation; claimed-and-not-completed generations.
    let mut completed: Vec<u32> = vec![0; slots as usize];
    let mut in_flight: HashMap<u32, Generation> = HashMap::new();
    let mut out = [Claim::default(); 4];

    while let Some(op) = input.u8() {
        let slot = u32::from(input.u8().unwrap_or(0)) % (slots + 1); // may be out of range
        match op % 8 {
            0 => {
                let words = [input.u32().unwrap_or(0); 8].map(|w| w % 4097);
                let r = Request {
                    op_word: words[0] % 8,
                    ..Request::from_words(words)
                };
                let _ = device.publish(slot, &r);
            }
            1 => {
                let mut words = [0u32; 8];
                for w in &mut words {
                    *w = input.u32().unwrap_or(0);
                }
                let publish = input.u32().unwrap_or(0);
                device.write_raw(slot, words, publish);
            }
            2 => {
                let k = usize::from(input.u8().unwrap_or(0)) % (out.len() + 1);
                let expected: Vec<Generation> = (0..slots)
                    .map(|s| host.next_generation(s).expect("in range"))
                    .collect();
                let got = host.claim(&mut out[..k]);
                assert!(got <= k);
                for c in &out[..got] {
                    assert!(c.slot < slots);
                    assert_eq!(
                        c.generation, expected[c.slot as usize],
                        "claim is not the next generation"
                    );
                    assert!(
                        in_flight.insert(c.slot, c.generation).is_none(),
                        "slot claimed twice"
                    );
                    let _ = c.request.validate(&limits, &tables);
                }
            }
            3 => {
                let pick = in_flight
                    .keys()
                    .copied()
                    .min_by_key(|s| s.wrapping_sub(slot));
                if let Some(s) = pick {
                    let g = in_flight.remove(&s).expect("picked from the map");
                    let result = input.u32().unwrap_or(0) as i32;
                    host.complete(s, g, result)
                        .expect("a claimed request completes");
                    completed[s as usize] = g.0;
                    assert!(host.complete(s, g, result).is_err(), "completed twice");
                }
            }
            4 => {
                let g = Generation(input.u32().unwrap_or(0));
                let legit = in_flight.get(&slot) == Some(&g);
                let r = host.complete(slot, g, 0);
                assert_eq!(r.is_ok(), legit);
                if legit {
                    in_flight.remove(&slot);
                    completed[slot as usize] = g.0;
                }
            }
            5 => {
                let g = Generation(input.u32().unwrap_or(0));
                if let Ok(Poll::Done(_)) = device.poll(slot, g) {
                    assert!(slot < slots);
                }
            }
            6 => {
                let s = PumpState::from_code(u32::from(input.u8().unwrap_or(0)) % 5).expect("0..5");
                host.set_pump_state(s, -1);
                assert_eq!(device.pump_state().0, Some(s));
            }
            7 if input.u8().unwrap_or(0) % 2 == 0 => {
                // A descriptor whose words have not all arrived, or a bare publish word.
                let mut words = [0u32; crate::layout::descriptor::WRITTEN];
                for w in &mut words {
                    *w = input.u32().unwrap_or(0);
                }
                let publish = input.u32().unwrap_or(0);
                if publish % 2 == 0 {
                    device.write_descriptor(slot, words, publish);
                } else {
                    device.write_publish_word(slot, publish);
                }
            }
            _ => {
                // Arbitrary garbage anywhere in the request region's body (never the header,
                // which the device does not own), through the device's only write path.
                let word = input.u32().unwrap_or(0);
                let op_word = if word % 3 == 0 { Op::Read.code() } else { word };
                device.write_raw(
                    slot,
                    [op_word, word, word, word, word, word, word, word],
                    word,
                );
            }
        }
        assert_eq!(host.in_flight() as usize, in_flight.len());
    }
}
