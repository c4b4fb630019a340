//! Claim cost: gdio's dense publish words against a naive full-descriptor scan, same run.
//!
//! `cargo xtask bench protocol` runs this and prints the ratios.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gdio_protocol::region::zeroed_words;
use gdio_protocol::sync::Ordering;
use gdio_protocol::{Claim, DeviceQueue, HostQueue, Layout, Op, Region, Request};
use std::hint::black_box;

/// The naive design: a state word inside each 64-byte descriptor, so a poll reads every
/// descriptor's whole line (what the seed pump did).
fn naive_poll(desc: &[gdio_protocol::sync::AtomicU32], slots: usize, seen: &mut [u32]) -> usize {
    let mut found = 0;
    for (s, seen_s) in seen.iter_mut().enumerate().take(slots) {
        let base = s * 16;
        let mut acc = 0u32;
        for w in 0..16 {
            acc = acc.wrapping_add(desc[base + w].load(Ordering::Relaxed));
        }
        let state = desc[base].load(Ordering::Acquire);
        if state != *seen_s {
            *seen_s = state;
            found += 1;
        }
        black_box(acc);
    }
    found
}

fn idle_poll(c: &mut Criterion) {
    let mut g = c.benchmark_group("idle_poll");
    for slots in [64u32, 1024, 4096] {
        let layout = Layout::new(slots).unwrap();
        let req = zeroed_words(layout.request_bytes());
        let comp = zeroed_words(layout.completion_bytes());
        let mut host = HostQueue::init(Region::new(&req), Region::new(&comp), slots).unwrap();
        let mut out = [Claim::default(); 64];
        g.bench_with_input(BenchmarkId::new("gdio", slots), &slots, |b, _| {
            b.iter(|| black_box(host.claim(&mut out)))
        });
        let desc = zeroed_words(64 * slots as usize);
        let mut seen = vec![0u32; slots as usize];
        g.bench_with_input(BenchmarkId::new("naive", slots), &slots, |b, _| {
            b.iter(|| black_box(naive_poll(&desc, slots as usize, &mut seen)))
        });
    }
    g.finish();
}

fn claim_complete(c: &mut Criterion) {
    let mut g = c.benchmark_group("claim_complete");
    for slots in [64u32, 1024, 4096] {
        let layout = Layout::new(slots).unwrap();
        let req = zeroed_words(layout.request_bytes());
        let comp = zeroed_words(layout.completion_bytes());
        let (r, cm) = (Region::new(&req), Region::new(&comp));
        let mut host = HostQueue::init(r, cm, slots).unwrap();
        let device = DeviceQueue::attach(r, cm).unwrap();
        let request = Request {
            len: 4096,
            ..Request::new(Op::Read)
        };
        let mut out = vec![Claim::default(); slots as usize];
        // One iteration: the device publishes in every slot, the host claims all and completes
        // all: per-request cost = time / slots.
        g.throughput(Throughput::Elements(u64::from(slots)));
        g.bench_with_input(BenchmarkId::new("all_slots", slots), &slots, |b, _| {
            b.iter(|| {
                for s in 0..slots {
                    device.publish(s, &request).unwrap();
                }
                let n = host.claim(&mut out);
                for c in &out[..n] {
                    host.complete(c.slot, c.generation, 4096).unwrap();
                }
                host.flush();
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, idle_poll, claim_complete);
criterion_main!(benches);
