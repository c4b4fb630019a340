//! A loom model of the queue with the real orderings: two device producers, each owning one of
//! two slots, race with the host, which claims and completes. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gdio-protocol --test loom --release`
//! (`cargo xtask test` does).
#![cfg(loom)]

use gdio_protocol::region::zeroed_words;
use gdio_protocol::*;
use loom::sync::Arc;
use loom::thread;

struct Shared {
    req: Box<[gdio_protocol::sync::AtomicU32]>,
    comp: Box<[gdio_protocol::sync::AtomicU32]>,
}

#[test]
fn two_producers_two_slots_each_request_completes_once_with_its_data() {
    loom::model(|| {
        let layout = Layout::new(2).unwrap();
        let shared = Arc::new(Shared {
            req: zeroed_words(layout.request_bytes()),
            comp: zeroed_words(layout.completion_bytes()),
        });
        // The host initialises the queue before the device starts, as on a GPU.
        let mut host =
            HostQueue::init(Region::new(&shared.req), Region::new(&shared.comp), 2).unwrap();
        let producers: Vec<_> = (0..2u32)
            .map(|slot| {
                let shared = shared.clone();
                thread::spawn(move || {
                    let dev =
                        DeviceQueue::attach(Region::new(&shared.req), Region::new(&shared.comp))
                            .unwrap();
                    let req = Request {
                        len: 100 + slot,
                        tag: 0xA0 + slot,
                        ..Request::new(Op::Read)
                    };
                    let g = dev.publish(slot, &req).unwrap();
                    // One poll, no spin: a finite producer lets loom explore every
                    // interleaving (a yield loop here hid a seeded ordering bug from it).
                    match dev.poll(slot, g).unwrap() {
                        Poll::Done(r) => {
                            assert_eq!(r, (100 + slot) as i32, "result belongs to this request");
                            assert!(dev.is_idle(slot).unwrap());
                        }
                        Poll::Pending => {}
                        Poll::PumpGone { .. } => unreachable!("pump never stops here"),
                    }
                })
            })
            .collect();

        // The host: claim until both are done; its own bookkeeping needs no RMW.
        let mut done = 0;
        let mut out = [Claim::default(); 2];
        while done < 2 {
            let n = host.claim(&mut out);
            for c in &out[..n] {
                assert_eq!(
                    c.request.tag,
                    0xA0 + c.slot,
                    "descriptor read after publish is complete"
                );
                host.complete(c.slot, c.generation, c.request.len as i32)
                    .unwrap();
                done += 1;
            }
            if n == 0 {
                thread::yield_now();
            }
        }
        host.flush();
        for p in producers {
            p.join().unwrap();
        }
    });
}

/// The publish ordering on its own: a device's descriptor stores must be visible to a host that
/// sees the publish word. (In the test above, the device's acquire load in `is_idle` before its
/// stores keeps loom from exploring a stale descriptor; a seeded Relaxed publish store is
/// caught here and not there.)
#[test]
fn a_claimed_descriptor_is_the_one_published() {
    loom::model(|| {
        let layout = Layout::new(1).unwrap();
        let shared = Arc::new(Shared {
            req: zeroed_words(layout.request_bytes()),
            comp: zeroed_words(layout.completion_bytes()),
        });
        let mut host =
            HostQueue::init(Region::new(&shared.req), Region::new(&shared.comp), 1).unwrap();
        let device = {
            let shared = shared.clone();
            thread::spawn(move || {
                let dev = DeviceQueue::attach(Region::new(&shared.req), Region::new(&shared.comp))
                    .unwrap();
                let req = Request {
                    len: 5,
                    tag: 0xA0,
                    ..Request::new(Op::Read)
                };
                dev.write_raw(0, req.to_words(), 1);
            })
        };
        let mut out = [Claim::default(); 1];
        while host.claim(&mut out) == 0 {
            thread::yield_now();
        }
        assert_eq!(out[0].request.tag, 0xA0);
        assert_eq!(out[0].request.len, 5);
        device.join().unwrap();
    });
}
