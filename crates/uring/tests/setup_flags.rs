//! The ring set-up options a polling pump uses — SQPOLL, COOP_TASKRUN, SINGLE_ISSUER with
//! DEFER_TASKRUN — each serve reads correctly, and combinations the kernel refuses are typed
//! errors from `build`; io-wq worker limits are set as asked.

mod common;

use common::{file_with, random_bytes, wait_n, Mem};
use gdio_uring::{Error, OpKind, Ring, RingBuilder, Transfer};

fn reads_work(builder: RingBuilder, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(256 << 10, 9);
    let mut ring = builder.build().unwrap_or_else(|e| panic!("{what}: {e}"));
    let file = ring
        .register_file(file_with(dir.path(), "f", &data))
        .unwrap();
    let mut mem = Mem::new(64 << 10, 4096);
    // SAFETY: `mem` outlives the ring (dropped explicitly first below).
    let win = unsafe { ring.register_window(mem.ptr(), 64 << 10) }.unwrap();
    for i in 0..64u64 {
        let off = (i * 4099) % (192 << 10);
        ring.push(
            i,
            OpKind::Read(Transfer {
                file,
                window: win,
                window_offset: 0,
                file_offset: off,
                len: 4096,
            }),
        )
        .unwrap();
        let c = wait_n(&mut ring, 1);
        assert_eq!(c[0].result, Ok(4096), "{what}");
        assert_eq!(
            &mem.bytes_mut()[..4096],
            &data[off as usize..off as usize + 4096],
            "{what}"
        );
    }
    drop(ring);
}

#[test]
fn sqpoll_ring_serves_reads() {
    reads_work(Ring::builder().entries(16).sqpoll(50, None), "sqpoll");
}

#[test]
fn coop_taskrun_ring_serves_reads() {
    reads_work(
        Ring::builder().entries(16).coop_taskrun(true),
        "coop_taskrun",
    );
}

#[test]
fn single_issuer_defer_taskrun_ring_serves_reads() {
    reads_work(
        Ring::builder()
            .entries(16)
            .single_issuer(true)
            .defer_taskrun(true),
        "single_issuer + defer_taskrun",
    );
}

#[test]
fn defer_taskrun_without_single_issuer_is_a_typed_error() {
    match Ring::builder().defer_taskrun(true).build() {
        Err(Error::InvalidConfig(msg)) => assert!(!msg.is_empty()),
        other => panic!("expected InvalidConfig, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn async_transfers_ring_serves_reads() {
    // Every read of 4 KiB or more goes through io-wq: the bytes must be the same.
    reads_work(
        Ring::builder().entries(16).async_transfers(4096),
        "async_transfers",
    );
}

#[test]
fn io_wq_worker_limits_are_set_and_async_reads_still_work() {
    let mut ring = Ring::builder().build().unwrap();
    let default = ring.io_wq_max_workers().unwrap();
    drop(ring);
    ring = Ring::builder().io_wq_max_workers(3, 5).build().unwrap();
    assert_eq!(ring.io_wq_max_workers().unwrap(), [3, 5]);
    assert_ne!(
        default,
        [3, 5],
        "the kernel's defaults differ from the limits set"
    );
    drop(ring);
    // Async copies with a limit of one worker: every read still lands.
    reads_work(
        Ring::builder().io_wq_max_workers(1, 1).async_transfers(1),
        "one io-wq worker",
    );
}
