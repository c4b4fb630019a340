//! Each transition of the slot state machine, host and device side, and each error path.
use gdio_protocol::codes::Outcome;
use gdio_protocol::device::DeviceError;
use gdio_protocol::layout::{self, completion_header, request_header, LayoutError};
use gdio_protocol::region::zeroed_words;
use gdio_protocol::sync::{AtomicU32, Ordering};
use gdio_protocol::*;

struct Mem {
    req: Box<[AtomicU32]>,
    comp: Box<[AtomicU32]>,
}

fn mem(slots: u32) -> Mem {
    let l = Layout::new(slots).unwrap();
    Mem {
        req: zeroed_words(l.request_bytes()),
        comp: zeroed_words(l.completion_bytes()),
    }
}

fn read(len: u32) -> Request {
    Request {
        len,
        file_offset: 8192,
        tag: 77,
        ..Request::new(Op::Read)
    }
}

#[test]
fn publish_claim_complete_poll_round_trip() {
    let m = mem(4);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    let mut host = HostQueue::init(r, c, 4).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    assert!(dev.is_idle(2).unwrap());
    let g = dev.publish(2, &read(100)).unwrap();
    assert_eq!(g, Generation(1));
    assert!(!dev.is_idle(2).unwrap());
    assert_eq!(dev.poll(2, g).unwrap(), Poll::Pending);
    assert_eq!(dev.publish(2, &read(1)), Err(DeviceError::Busy(2)));

    let mut out = [Claim::default(); 8];
    assert_eq!(host.claim(&mut out), 1);
    assert_eq!(
        out[0],
        Claim {
            slot: 2,
            generation: g,
            request: read(100)
        }
    );
    assert_eq!(host.in_flight(), 1);
    assert_eq!(host.claim(&mut out), 0, "a claim is returned once");

    host.complete(2, g, 100).unwrap();
    assert_eq!(dev.poll(2, g).unwrap(), Poll::Done(100));
    assert!(dev.is_idle(2).unwrap());
    assert_eq!(
        host.claim(&mut out),
        0,
        "a completed slot is not claimed again"
    );

    let g2 = dev.publish(2, &read(5)).unwrap();
    assert_eq!(g2, Generation(2));
    assert_eq!(host.claim(&mut out), 1);
    assert_eq!(out[0].generation, g2);
    assert_eq!(
        dev.poll(2, g2).unwrap(),
        Poll::Pending,
        "the new generation waits for its own completion"
    );
}

#[test]
fn completing_twice_or_unclaimed_is_refused() {
    let m = mem(2);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    let mut host = HostQueue::init(r, c, 2).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    assert!(matches!(
        host.complete(0, Generation(1), 0),
        Err(CompleteError::NotInFlight { .. })
    ));
    assert!(matches!(
        host.complete(9, Generation(1), 0),
        Err(CompleteError::NoSuchSlot { .. })
    ));
    let g = dev.publish(0, &Request::new(Op::Nop)).unwrap();
    let mut out = [Claim::default(); 2];
    host.claim(&mut out);
    assert!(
        host.complete(0, Generation(7), 0).is_err(),
        "wrong generation"
    );
    host.complete(0, g, 0).unwrap();
    assert!(host.complete(0, g, 0).is_err(), "second completion");
    assert_eq!(host.stats().completed, 1);
}

#[test]
fn stale_duplicate_and_forged_publications_are_answered_not_claimed() {
    let m = mem(1);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    let mut host = HostQueue::init(r, c, 1).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    let mut out = [Claim::default(); 1];
    // Forged: generation 5 where 1 is next.
    dev.write_raw(0, read(1).to_words(), 5);
    assert_eq!(host.claim(&mut out), 0);
    assert_eq!(
        dev.poll(0, Generation(5)).unwrap(),
        Poll::Done(ResultCode::BadGeneration.value())
    );
    assert_eq!(host.stats().bad_generations, 1);
    // The honest next generation is still 1, and still accepted.
    dev.write_raw(0, read(1).to_words(), 1);
    assert_eq!(host.claim(&mut out), 1);
    assert_eq!(out[0].generation, Generation(1));
    // Republished while claimed: ignored until completion.
    dev.write_raw(0, read(2).to_words(), 2);
    assert_eq!(host.claim(&mut out), 0);
    host.complete(0, Generation(1), 1).unwrap();
    // Now generation 2 is next and is there.
    assert_eq!(host.claim(&mut out), 1);
    assert_eq!(out[0].generation, Generation(2));
    host.complete(0, Generation(2), 2).unwrap();
    // Late: an old generation again.
    dev.write_raw(0, read(1).to_words(), 1);
    assert_eq!(host.claim(&mut out), 0);
    // Duplicate of the current generation: the publish word does not change... then it does.
    dev.write_raw(0, read(1).to_words(), 2);
    assert_eq!(
        host.claim(&mut out),
        0,
        "generation 2 was completed: a duplicate is not a claim"
    );
    assert_eq!(host.stats().claimed, 2);
}

#[test]
fn claim_resumes_after_a_full_buffer_so_no_slot_starves() {
    let m = mem(8);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    let mut host = HostQueue::init(r, c, 8).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    for s in 0..8 {
        dev.publish(s, &read(s)).unwrap();
    }
    let mut out = [Claim::default(); 3];
    let mut order = vec![];
    loop {
        let n = host.claim(&mut out);
        if n == 0 {
            break;
        }
        order.extend(out[..n].iter().map(|c| c.slot));
    }
    assert_eq!(order, vec![0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(host.in_flight_slots().count(), 8);
}

#[test]
fn pump_state_reaches_the_device_and_releases_waiters() {
    let m = mem(2);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    let mut host = HostQueue::init(r, c, 2).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    assert_eq!(dev.pump_state(), (Some(PumpState::Init), 0));
    host.set_pump_state(PumpState::Running, 0);
    let g = dev.publish(1, &Request::new(Op::Nop)).unwrap();
    assert_eq!(dev.wait(1, g, 10).unwrap(), ResultCode::Timeout.value());
    host.set_pump_state(PumpState::Failed, ResultCode::Internal.value());
    assert_eq!(
        dev.poll(1, g).unwrap(),
        Poll::PumpGone {
            state: PumpState::Failed,
            error: ResultCode::Internal.value()
        }
    );
    assert_eq!(dev.wait(1, g, 10).unwrap(), ResultCode::PumpGone.value());
    assert_eq!(
        Outcome::of(ResultCode::PumpGone.value()),
        Outcome::Protocol(ResultCode::PumpGone)
    );
}

#[test]
fn a_completion_written_before_stopped_is_still_seen() {
    let m = mem(1);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    let mut host = HostQueue::init(r, c, 1).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    let g = dev.publish(0, &Request::new(Op::Nop)).unwrap();
    let mut out = [Claim::default(); 1];
    host.claim(&mut out);
    host.complete(0, g, ResultCode::Stopped.value()).unwrap();
    host.set_pump_state(PumpState::Stopped, 0);
    assert_eq!(
        dev.poll(0, g).unwrap(),
        Poll::Done(ResultCode::Stopped.value())
    );
}

#[test]
fn attach_rejects_uninitialised_or_corrupt_headers() {
    let m = mem(4);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    assert!(matches!(
        DeviceQueue::attach(r, c),
        Err(LayoutError::SlotCount(0))
    ));
    HostQueue::init(r, c, 4).unwrap();
    m.req[request_header::MAGIC].store(0xdead, Ordering::Relaxed);
    assert!(matches!(
        DeviceQueue::attach(r, c),
        Err(LayoutError::Header {
            region: "request",
            word: 0,
            ..
        })
    ));
    HostQueue::init(r, c, 4).unwrap();
    m.comp[completion_header::VERSION].store(2, Ordering::Relaxed);
    assert!(matches!(
        DeviceQueue::attach(r, c),
        Err(LayoutError::Header {
            region: "completion",
            word: 1,
            ..
        })
    ));
    HostQueue::init(r, c, 4).unwrap();
    m.req[request_header::SLOT_COUNT].store(1 << 20, Ordering::Relaxed);
    assert!(DeviceQueue::attach(r, c).is_err());
}

#[test]
fn init_rejects_small_regions() {
    let l = Layout::new(64).unwrap();
    let req = zeroed_words(l.request_bytes() - 4);
    let comp = zeroed_words(l.completion_bytes());
    let e = HostQueue::init(Region::new(&req), Region::new(&comp), 64).unwrap_err();
    assert!(matches!(
        e,
        LayoutError::TooSmall {
            region: "request",
            ..
        }
    ));
    assert!(e.to_string().contains("allocate at least"));
}

#[test]
fn one_buffer_can_hold_both_regions() {
    let l = Layout::new(16).unwrap();
    let words = zeroed_words(l.combined_bytes());
    let all = Region::new(&words);
    let r = all.sub(0, l.request_bytes()).unwrap();
    let c = all.sub(l.request_bytes(), l.completion_bytes()).unwrap();
    let mut host = HostQueue::init(r, c, 16).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    let g = dev.publish(15, &read(3)).unwrap();
    let mut out = [Claim::default(); 1];
    assert_eq!(host.claim(&mut out), 1);
    host.complete(15, g, 3).unwrap();
    assert_eq!(dev.poll(15, g).unwrap(), Poll::Done(3));
    assert!(all.sub(4, usize::MAX).is_none());
}

#[test]
fn device_rejects_slots_outside_the_queue() {
    let m = mem(2);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    HostQueue::init(r, c, 2).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    assert_eq!(dev.publish(2, &read(1)), Err(DeviceError::NoSuchSlot(2)));
    assert_eq!(dev.poll(2, Generation(1)), Err(DeviceError::NoSuchSlot(2)));
    dev.write_raw(5, [1; 8], 1); // ignored, no panic
}

#[test]
fn a_publish_word_that_overtakes_its_descriptor_is_claimed_once_the_descriptor_arrives() {
    // Measured on an H100: a running shader's writes to host memory can reach the host out of
    // order, so the host may see the publish word before the descriptor's words.
    let m = mem(2);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    let mut host = HostQueue::init(r, c, 2).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    let mut out = [Claim::default(); 2];
    let req = read(4096);
    // Only the publish word has arrived.
    dev.write_publish_word(1, 1);
    assert_eq!(host.claim(&mut out), 0);
    assert_eq!(host.stats().torn, 1);
    // Part of the descriptor has arrived: fields but not the check word.
    let mut words = [0u32; layout::descriptor::WRITTEN];
    words[..8].copy_from_slice(&req.to_words());
    words[layout::descriptor::STAMP] = 1;
    dev.write_descriptor(1, words, 1);
    assert_eq!(host.claim(&mut out), 0, "no claim with a wrong check word");
    // Everything has arrived: claimed once, with the full descriptor.
    dev.write_raw(1, req.to_words(), 1);
    assert_eq!(host.claim(&mut out), 1);
    assert_eq!(out[0].request, req);
    assert_eq!(out[0].generation, Generation(1));
    assert_eq!(host.claim(&mut out), 0);
}

#[test]
fn a_descriptor_that_never_becomes_whole_is_answered_bad_descriptor() {
    let m = mem(1);
    let (r, c) = (Region::new(&m.req), Region::new(&m.comp));
    let mut host = HostQueue::init(r, c, 1).unwrap();
    let dev = DeviceQueue::attach(r, c).unwrap();
    host.set_torn_limit(3);
    let mut out = [Claim::default(); 1];
    dev.write_publish_word(0, 1);
    for _ in 0..2 {
        assert_eq!(host.claim(&mut out), 0);
        assert_eq!(dev.poll(0, Generation(1)).unwrap(), Poll::Pending);
    }
    assert_eq!(host.claim(&mut out), 0);
    assert_eq!(
        dev.poll(0, Generation(1)).unwrap(),
        Poll::Done(ResultCode::BadDescriptor.value())
    );
    assert_eq!(host.stats().bad_descriptors, 1);
    // Generation 1 is used up (answered); the device goes on with next(1) = 2, as it would
    // after any completion, and that is claimed.
    assert!(dev.is_idle(0).unwrap());
    assert_eq!(dev.publish(0, &read(1)).unwrap(), Generation(2));
    assert_eq!(host.claim(&mut out), 1);
    assert_eq!(out[0].generation, Generation(2));
}

#[test]
fn check_word_is_the_documented_function() {
    // docs/protocol.md specifies this fold; gdio.glsl implements the same one.
    assert_eq!(layout::descriptor::check(&[0; 9]), {
        let mut h: u32 = 0x9E37_79B9;
        for _ in 0..9 {
            h = h.wrapping_mul(0x85EB_CA6B);
            h ^= h >> 13;
        }
        h
    });
    assert_ne!(
        layout::descriptor::check(&[1, 0, 0, 0, 0, 0, 0, 0, 1]),
        layout::descriptor::check(&[0, 1, 0, 0, 0, 0, 0, 0, 1])
    );
}
