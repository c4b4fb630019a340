//! Property test: random interleavings of honest and hostile device operations with host
//! operations, checked against a simple model. Every honest publication is claimed exactly once
//! and completed exactly once with the result the host chose; hostile slots (random words,
//! stale, duplicate and forged generations) never disturb honest slots; duplicate completions
//! are refused; nothing panics.
use std::collections::HashMap;

use gdio_protocol::region::zeroed_words;
use gdio_protocol::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Action {
    /// An honest lane publishes in its slot if idle.
    Publish { lane: u8, len: u32 },
    /// A hostile lane writes anything into its own slot.
    Hostile {
        lane: u8,
        words: [u32; 8],
        publish: u32,
    },
    /// The host claims up to `max` requests.
    Claim { max: u8 },
    /// The host completes the `pick`-th claimed request.
    Complete { pick: u8 },
    /// The host tries a completion it does not hold.
    Forge { slot: u8, generation: u32 },
    /// An honest lane polls its slot.
    Poll { lane: u8 },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (any::<u8>(), any::<u32>()).prop_map(|(lane, len)| Action::Publish { lane, len }),
        2 => (any::<u8>(), any::<[u32; 8]>(), any::<u32>()).prop_map(|(lane, words, publish)| Action::Hostile { lane, words, publish }),
        3 => (0u8..6).prop_map(|max| Action::Claim { max }),
        3 => any::<u8>().prop_map(|pick| Action::Complete { pick }),
        1 => (any::<u8>(), any::<u32>()).prop_map(|(slot, generation)| Action::Forge { slot, generation }),
        2 => any::<u8>().prop_map(|lane| Action::Poll { lane }),
    ]
}

fn result_for(slot: u32, generation: Generation) -> i32 {
    ((slot * 1000 + generation.0) % 1_000_000) as i32
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn honest_requests_complete_exactly_once(
        honest in 1u32..6,
        hostile in 0u32..4,
        actions in prop::collection::vec(action(), 1..300),
    ) {
        let slots = honest + hostile;
        let layout = Layout::new(slots).unwrap();
        let req = zeroed_words(layout.request_bytes());
        let comp = zeroed_words(layout.completion_bytes());
        let (r, c) = (Region::new(&req), Region::new(&comp));
        let mut host = HostQueue::init(r, c, slots).unwrap();
        let dev = DeviceQueue::attach(r, c).unwrap();

        // Model of honest slots: the generation pending and what it asked for.
        let mut pending: HashMap<u32, (Generation, Request)> = HashMap::new();
        let mut claimed: Vec<Claim> = Vec::new();
        let mut claims_seen: HashMap<(u32, u32), u32> = HashMap::new();
        let mut published = 0u64;
        let mut done = 0u64;
        let mut out = [Claim::default(); 8];

        for a in actions {
            match a {
                Action::Publish { lane, len } => {
                    let slot = u32::from(lane) % honest;
                    if let Some(&(g, _)) = pending.get(&slot) {
                        // A lane reads its result before reusing the slot.
                        if dev.is_idle(slot).unwrap() {
                            prop_assert_eq!(dev.poll(slot, g).unwrap(), Poll::Done(result_for(slot, g)));
                            pending.remove(&slot);
                            done += 1;
                        }
                    }
                    if let std::collections::hash_map::Entry::Vacant(e) = pending.entry(slot) {
                        let req = Request { len, tag: slot, ..Request::new(Op::Read) };
                        let g = dev.publish(slot, &req).unwrap();
                        e.insert((g, req));
                        published += 1;
                    } else {
                        prop_assert!(dev.publish(slot, &Request::new(Op::Nop)).is_err());
                    }
                }
                Action::Hostile { lane, words, publish } => {
                    if hostile > 0 {
                        dev.write_raw(honest + u32::from(lane) % hostile, words, publish);
                    }
                }
                Action::Claim { max } => {
                    let n = host.claim(&mut out[..usize::from(max)]);
                    for cl in &out[..n] {
                        *claims_seen.entry((cl.slot, cl.generation.0)).or_default() += 1;
                        if cl.slot < honest {
                            let (g, req) = pending[&cl.slot];
                            prop_assert_eq!(cl.generation, g);
                            prop_assert_eq!(cl.request, req);
                        }
                        claimed.push(*cl);
                    }
                }
                Action::Complete { pick } => {
                    if !claimed.is_empty() {
                        let cl = claimed.swap_remove(usize::from(pick) % claimed.len());
                        host.complete(cl.slot, cl.generation, result_for(cl.slot, cl.generation)).unwrap();
                        prop_assert!(host.complete(cl.slot, cl.generation, 0).is_err());
                    }
                }
                Action::Forge { slot, generation } => {
                    let slot = u32::from(slot) % slots;
                    let holds = claimed.iter().any(|c| c.slot == slot && c.generation.0 == generation);
                    if !holds {
                        prop_assert!(host.complete(slot, Generation(generation), -1).is_err());
                    }
                }
                Action::Poll { lane } => {
                    let slot = u32::from(lane) % honest;
                    if let Some(&(g, _)) = pending.get(&slot) {
                        match dev.poll(slot, g).unwrap() {
                            Poll::Done(res) => {
                                prop_assert_eq!(res, result_for(slot, g));
                                pending.remove(&slot);
                                done += 1;
                            }
                            Poll::Pending => {}
                            Poll::PumpGone { .. } => prop_assert!(false, "pump state never set"),
                        }
                    }
                }
            }
        }
        // Drain: the host claims and completes everything; every honest request then completes.
        loop {
            let n = host.claim(&mut out);
            claimed.extend_from_slice(&out[..n]);
            for cl in &out[..n] {
                *claims_seen.entry((cl.slot, cl.generation.0)).or_default() += 1;
            }
            if claimed.is_empty() { break; }
            for cl in claimed.drain(..) {
                host.complete(cl.slot, cl.generation, result_for(cl.slot, cl.generation)).unwrap();
            }
        }
        for (slot, (g, _)) in pending.drain() {
            prop_assert_eq!(dev.poll(slot, g).unwrap(), Poll::Done(result_for(slot, g)));
            done += 1;
        }
        prop_assert_eq!(done, published);
        prop_assert!(claims_seen.values().all(|&n| n == 1), "a generation was claimed twice");
        prop_assert_eq!(host.in_flight(), 0);
    }

    /// Validation maps every byte pattern to a request or a protocol code, never a panic, and a
    /// valid transfer always lies inside its window.
    #[test]
    fn validation_is_total_and_in_bounds(words in any::<[u32; 8]>(), max_len in any::<u32>(), wlen in any::<u32>()) {
        let tables = request::StaticTables {
            files: vec![FileAccess { readable: true, writable: true }; 3],
            windows: vec![WindowAccess { len: u64::from(wlen), host_writes: true, host_reads: false }; 3],
        };
        let mut w = words;
        w[0] %= 8; // reach the ops often
        w[1] %= 4;
        w[2] %= 4;
        match Request::from_words(w).validate(&Limits::new(max_len), &tables) {
            Ok(ValidRequest::Read(t)) => {
                prop_assert!(u64::from(t.window_offset) + u64::from(t.len) <= u64::from(wlen));
                prop_assert!(t.len <= max_len.min(i32::MAX as u32));
                prop_assert!(t.file_offset + u64::from(t.len) <= i64::MAX as u64);
            }
            Ok(ValidRequest::Write(_)) => prop_assert!(false, "window is not host-readable"),
            Ok(_) => {}
            Err(code) => prop_assert!(code.value() < -4096),
        }
    }
}
