//! Staged windows (memory the host cannot map, reached through staging chunks and a copy
//! engine) on real files and a real ring, with the CPU copy engine: READs and WRITEs land byte
//! for byte through fewer chunks than requests, short and empty transfers, TOO_LONG, O_DIRECT
//! through staging, checked WRITEs, stop with copies in flight, an engine that fails, a busy
//! engine given larger batches, and the set-up errors.
mod common;

use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gdio_protocol::{Op, PumpState, Request, ResultCode};
use gdio_pump::emulated::Lane;
use gdio_pump::staging::{Copy, CopyEngine, CopyError};
use gdio_pump::{HostCopyEngine, HostQueueMemory, HostWindow, PumpError, WindowMemory};

const CHUNK: u32 = 16 << 10;

/// A CPU copy engine with `chunks` staging chunks and one target of `target_len` bytes.
fn engine(chunks: usize, target_len: usize) -> (Box<HostCopyEngine>, Arc<HostWindow>) {
    let staging = window(chunks * CHUNK as usize);
    let target = window(target_len);
    let e = HostCopyEngine::new(staging, vec![target.clone()]).unwrap();
    (Box::new(e), target)
}

#[test]
fn staged_reads_and_writes_land_byte_exact_through_fewer_chunks_than_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "in", 1 << 20, 3);
    let out = dir.path().join("out");
    std::fs::File::create(&out).unwrap();
    let (copies, target) = engine(4, 256 << 10);
    let queue = Arc::new(HostQueueMemory::new(32).unwrap());
    let pump = builder(&queue)
        .file(open_ro(&path), RO)
        .file(open_rw(&out), RW)
        .copy_engine(copies, CHUNK)
        .staged_window(0, access(256 << 10))
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..32).unwrap();
    // 64 READs of up to one chunk into 16 KiB apart offsets, 32 in flight over 4 chunks.
    let mut r = rng(5);
    let mut expect = Vec::new();
    // Copies the engine makes: one per request that moved bytes.
    let mut copies = 0;
    for i in 0..64u32 {
        let (off, len) = random_range(&mut r, data.len() - usize::from(u16::MAX), CHUNK as usize);
        let at = (i % 16) * CHUNK;
        if i % 16 == 0 {
            while lane.wait_oldest().is_some() {}
            for (at, off, len) in expect.drain(..) {
                check_target(
                    &target,
                    at,
                    &data[off as usize..off as usize + len as usize],
                );
            }
        }
        let t = lane
            .issue(&read_req(0, 0, at, off, len))
            .expect("a free slot");
        expect.push((at, off, len));
        copies += u64::from(len > 0);
        let _ = t;
    }
    while let Some((t, res)) = lane.wait_oldest() {
        assert!(res > 0, "slot {}: {res}", t.slot);
    }
    for (at, off, len) in expect.drain(..) {
        check_target(
            &target,
            at,
            &data[off as usize..off as usize + len as usize],
        );
    }

    // A READ that runs past the end of the file: the bytes there, and only those, are copied.
    target.fill(0xCC);
    let n = lane.run(&read_req(0, 0, 0, data.len() as u64 - 100, CHUNK));
    assert_eq!(n, 100);
    check_target(&target, 0, &data[data.len() - 100..]);
    check_target(&target, 100, &[0xCC; 64]);
    // Past the end: 0 bytes; a zero-length READ: 0.
    assert_eq!(lane.run(&read_req(0, 0, 0, data.len() as u64 + 5, 10)), 0);
    assert_eq!(lane.run(&read_req(0, 0, 0, 0, 0)), 0);
    // Longer than a chunk: TOO_LONG, never submitted.
    assert_eq!(
        lane.run(&read_req(0, 0, 0, 0, CHUNK + 1)),
        ResultCode::TooLong.value()
    );
    // Past the window: OUT_OF_WINDOW, as for any window.
    assert_eq!(
        lane.run(&read_req(0, 0, (256 << 10) - 10, 0, 11)),
        ResultCode::OutOfWindow.value()
    );

    // WRITEs from the target to the second file, 16 at once, then read back.
    let mut pattern = vec![0u8; 256 << 10];
    rand::RngCore::fill_bytes(&mut r, &mut pattern);
    assert!(target.copy_in(0, &pattern));
    for i in 0..16u32 {
        lane.issue(&write_req(
            1,
            0,
            i * CHUNK,
            u64::from(15 - i) * u64::from(CHUNK),
            CHUNK,
        ))
        .expect("a free slot");
    }
    while let Some((_, res)) = lane.wait_oldest() {
        assert_eq!(res, CHUNK as i32);
    }
    let file = std::fs::read(&out).unwrap();
    for i in 0..16usize {
        let c = CHUNK as usize;
        assert!(
            file[(15 - i) * c..(16 - i) * c] == pattern[i * c..(i + 1) * c],
            "chunk {i} written where asked"
        );
    }
    let report = pump.stop().unwrap();
    assert_eq!(report.count_of(ResultCode::TooLong.value()), 1);
    // The 64 READs that moved bytes, the one past the end of the file, the 16 WRITEs; in
    // batches of one or more.
    let c = report.copies;
    assert_eq!(c.copies, copies + 1 + 16, "{c:?}");
    assert!(c.batches >= 1 && c.batches <= c.copies, "{c:?}");
    assert!(c.batch_time_max <= c.batch_time, "{c:?}");
}

fn check_target(target: &HostWindow, at: u32, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    assert!(target.copy_out(at as usize, &mut got));
    assert!(got == want, "target bytes at {at}, {} long", want.len());
}

#[test]
fn direct_io_reads_through_staging_at_any_window_offset() {
    // The staging chunks are aligned, so a direct READ may land at an odd window offset (a
    // host window there would be MISALIGNED); the file offset and length still must align.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (path, data) = random_file(&dir, "d", 64 << 10, 8);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(&path)
        .expect("this test needs a file system with direct IO under target/ (ext4, xfs)");
    let (copies, target) = engine(2, 64 << 10);
    let queue = Arc::new(HostQueueMemory::new(4).unwrap());
    let pump = builder(&queue)
        .file(file, RO)
        .copy_engine(copies, CHUNK)
        .staged_window(0, access(64 << 10))
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..4).unwrap();
    assert_eq!(lane.run(&read_req(0, 0, 3, 8192, 8192)), 8192);
    check_target(&target, 3, &data[8192..16384]);
    assert_eq!(
        lane.run(&read_req(0, 0, 0, 100, 4096)),
        ResultCode::Misaligned.value()
    );
    assert_eq!(
        lane.run(&read_req(0, 0, 0, 4096, 100)),
        ResultCode::Misaligned.value()
    );
    pump.stop().unwrap();
}

#[test]
fn a_checked_staged_write_copies_again_until_its_data_matches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    std::fs::File::create(&path).unwrap();
    let (copies, target) = engine(2, 64 << 10);
    let queue = Arc::new(HostQueueMemory::new(2).unwrap());
    let pump = builder(&queue)
        .file(open_rw(&path), RW)
        .data_timeout(Duration::from_millis(300))
        .copy_engine(copies, CHUNK)
        .staged_window(0, access(64 << 10))
        .spawn()
        .unwrap();
    let lane = Lane::new(&*queue, 0..2).unwrap();
    let dev = lane.queue();
    let mut meant = vec![0u8; 10_001];
    rand::RngCore::fill_bytes(&mut rng(4), &mut meant);
    target.fill(0xEE); // the device's bytes have not arrived
    let g = dev
        .publish_checked_write(0, &write_req(0, 0, 0, 0, meant.len() as u32), &meant)
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        dev.poll(0, g).unwrap(),
        gdio_protocol::Poll::Pending,
        "held while the copied bytes differ"
    );
    assert!(target.copy_in(0, &meant)); // they arrive
    assert_eq!(dev.wait(0, g, u64::MAX).unwrap(), meant.len() as i32);
    assert_eq!(std::fs::read(&path).unwrap(), meant);
    let g = dev
        .publish_checked_write(1, &write_req(0, 0, 0, 0, 100), &[1; 100])
        .unwrap();
    assert_eq!(
        dev.wait(1, g, u64::MAX).unwrap(),
        ResultCode::BadData.value()
    );
    assert_eq!(std::fs::read(&path).unwrap(), meant, "nothing written");
    pump.stop().unwrap();
}

#[test]
fn stop_with_staged_requests_in_flight_answers_every_slot_and_keeps_every_answered_read() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "in", 4 << 20, 6);
    let (copies, target) = engine(4, 1 << 20);
    let queue = Arc::new(HostQueueMemory::new(64).unwrap());
    let pump = builder(&queue)
        .file(open_ro(&path), RO)
        .copy_engine(copies, CHUNK)
        .staged_window(0, access(1 << 20))
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..64).unwrap();
    let mut issued = Vec::new();
    for i in 0..64u32 {
        let off = u64::from(i) * u64::from(CHUNK);
        let t = lane.issue(&read_req(0, 0, i * CHUNK, off, CHUNK)).unwrap();
        issued.push((t, i));
    }
    let report = pump.stop().unwrap();
    let dev = lane.queue();
    let (mut read, mut stopped) = (0, 0);
    for (t, i) in issued {
        let r = wait_done(&dev, t.slot, t.generation);
        if r == CHUNK as i32 {
            read += 1;
            let at = (i * CHUNK) as usize;
            check_target(&target, i * CHUNK, &data[at..at + CHUNK as usize]);
        } else {
            assert_eq!(r, ResultCode::Stopped.value(), "slot {}", t.slot);
            stopped += 1;
        }
    }
    assert_eq!(read + stopped, 64);
    assert_eq!(report.completed(), 64);
    assert_eq!(dev.pump_state().0, Some(PumpState::Stopped));
}

/// An engine whose batches fail once `fail_after` have been submitted.
struct FailingEngine {
    inner: HostCopyEngine,
    submitted: u64,
    fail_after: u64,
}

impl CopyEngine for FailingEngine {
    fn staging(&self) -> Arc<dyn WindowMemory> {
        self.inner.staging()
    }
    fn target_len(&self, target: u32) -> Option<u64> {
        self.inner.target_len(target)
    }
    fn record(&mut self, copy: Copy) {
        self.inner.record(copy);
    }
    fn submit(&mut self) -> Result<u64, CopyError> {
        if self.submitted == self.fail_after {
            return Err(CopyError("device lost (injected)".into()));
        }
        self.submitted += 1;
        self.inner.submit()
    }
    fn finished(&mut self) -> Result<u64, CopyError> {
        self.inner.finished()
    }
    fn wait(&mut self, ticket: u64, timeout: Duration) -> Result<bool, CopyError> {
        self.inner.wait(ticket, timeout)
    }
}

#[test]
fn a_failing_copy_engine_fails_the_pump_and_answers_every_slot() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(&dir, "in", 1 << 20, 2);
    let (inner, _target) = engine(4, 256 << 10);
    let failing = FailingEngine {
        inner: *inner,
        submitted: 0,
        fail_after: 2,
    };
    let queue = Arc::new(HostQueueMemory::new(8).unwrap());
    let pump = builder(&queue)
        .file(open_ro(&path), RO)
        .copy_engine(Box::new(failing), CHUNK)
        .staged_window(0, access(256 << 10))
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..8).unwrap();
    let mut results = Vec::new();
    for i in 0..8u32 {
        results.push(lane.run(&read_req(0, 0, 0, u64::from(i) * 4096, 4096)));
        if lane.queue().pump_state().0 == Some(PumpState::Failed) {
            break;
        }
    }
    assert_eq!(results[..2], [4096, 4096], "the first two batches copied");
    // The request whose batch failed gets INTERNAL; one published while the pump was winding
    // down gets STOPPED; after that the device sees the pump gone.
    assert_eq!(results[2], ResultCode::Internal.value(), "{results:?}");
    let late = [
        ResultCode::Stopped.value(),
        ResultCode::PumpGone.value(),
        ResultCode::Internal.value(),
    ];
    assert!(results[3..].iter().all(|r| late.contains(r)), "{results:?}");
    wait_until("the pump to fail", || {
        lane.queue().pump_state().0 == Some(PumpState::Failed)
    });
    match pump.stop() {
        Err(PumpError::Failed { what, .. }) => assert!(what.contains("device lost"), "{what}"),
        other => panic!("expected the pump to fail, got {other:?}"),
    }
}

/// An engine whose batches never finish (a lost device that does not say so).
struct StuckEngine(HostCopyEngine);

impl CopyEngine for StuckEngine {
    fn staging(&self) -> Arc<dyn WindowMemory> {
        self.0.staging()
    }
    fn target_len(&self, target: u32) -> Option<u64> {
        self.0.target_len(target)
    }
    fn record(&mut self, _copy: Copy) {}
    fn submit(&mut self) -> Result<u64, CopyError> {
        Ok(1)
    }
    fn finished(&mut self) -> Result<u64, CopyError> {
        Ok(0)
    }
    fn wait(&mut self, _ticket: u64, _timeout: Duration) -> Result<bool, CopyError> {
        Ok(false)
    }
}

#[test]
fn a_copy_that_never_finishes_fails_the_pump_instead_of_stranding_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(&dir, "in", 64 << 10, 2);
    let (inner, _target) = engine(2, 64 << 10);
    let queue = Arc::new(HostQueueMemory::new(2).unwrap());
    let pump = builder(&queue)
        .file(open_ro(&path), RO)
        .copy_engine(Box::new(StuckEngine(*inner)), CHUNK)
        .copy_timeout(Duration::from_millis(200))
        .staged_window(0, access(64 << 10))
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..2).unwrap();
    // Its copy may still run: the slot is not answered, and the device learns the pump is gone.
    assert_eq!(
        lane.run(&read_req(0, 0, 0, 0, 4096)),
        ResultCode::PumpGone.value()
    );
    assert_eq!(lane.queue().pump_state().0, Some(PumpState::Failed));
    match pump.stop() {
        Err(PumpError::Failed { what, .. }) => assert!(what.contains("not finished"), "{what}"),
        other => panic!("expected the pump to fail, got {other:?}"),
    }
}

#[test]
fn staged_windows_are_refused_without_an_engine_a_target_or_room() {
    let queue = Arc::new(HostQueueMemory::new(2).unwrap());
    let no_engine = builder(&queue).staged_window(0, access(4096)).spawn();
    assert!(
        matches!(no_engine, Err(PumpError::NoCopyEngine)),
        "{:?}",
        no_engine.err()
    );
    let (copies, _) = engine(2, 64 << 10);
    let bad_chunk = builder(&queue).copy_engine(copies, 1000).spawn();
    assert!(matches!(
        bad_chunk,
        Err(PumpError::BadStagingChunk { chunk: 1000, .. })
    ));
    let (copies, target) = engine(2, 64 << 10);
    let pump = builder(&queue).copy_engine(copies, CHUNK).spawn().unwrap();
    assert!(matches!(
        pump.add_staged_window(1, access(4096)),
        Err(PumpError::NoSuchTarget(1))
    ));
    assert!(matches!(
        pump.add_staged_window(0, access(128 << 10)),
        Err(PumpError::WindowLongerThanMemory { .. })
    ));
    // A staged window added while running serves requests, and removes once idle.
    let w = pump.add_staged_window(0, access(64 << 10)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "in", 4096, 1);
    let f = pump.add_file(open_ro(&path), RO).unwrap();
    let mut lane = Lane::new(&*queue, 0..2).unwrap();
    assert_eq!(lane.run(&Request::new(Op::Nop)), 0);
    assert_eq!(lane.run(&read_req(f.0, w.0, 0, 0, 4096)), 4096);
    check_target(&target, 0, &data);
    pump.remove_window(w).unwrap();
    assert_eq!(
        lane.run(&read_req(f.0, w.0, 0, 0, 1)),
        ResultCode::BadWindow.value()
    );
    pump.stop().unwrap();
}

/// The CPU engine behind a gate: batches count as finished only up to `released`; `records`
/// and `submits` say what the pump gave it.
struct GatedEngine {
    inner: HostCopyEngine,
    records: Arc<AtomicU64>,
    submits: Arc<AtomicU64>,
    released: Arc<AtomicU64>,
}

impl CopyEngine for GatedEngine {
    fn staging(&self) -> Arc<dyn WindowMemory> {
        self.inner.staging()
    }
    fn target_len(&self, target: u32) -> Option<u64> {
        self.inner.target_len(target)
    }
    fn record(&mut self, copy: Copy) {
        self.records.fetch_add(1, Ordering::SeqCst);
        self.inner.record(copy);
    }
    fn submit(&mut self) -> Result<u64, CopyError> {
        self.submits.fetch_add(1, Ordering::SeqCst);
        self.inner.submit()
    }
    fn finished(&mut self) -> Result<u64, CopyError> {
        Ok(self
            .inner
            .finished()?
            .min(self.released.load(Ordering::SeqCst)))
    }
    fn wait(&mut self, ticket: u64, timeout: Duration) -> Result<bool, CopyError> {
        self.inner.wait(ticket, timeout)
    }
}

#[test]
fn copies_recorded_while_two_batches_run_wait_and_go_as_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = random_file(&dir, "in", 256 << 10, 4);
    let (inner, target) = engine(4, 256 << 10);
    let [records, submits, released] = [0; 3].map(|_| Arc::new(AtomicU64::new(0)));
    let gated = GatedEngine {
        inner: *inner,
        records: records.clone(),
        submits: submits.clone(),
        released: released.clone(),
    };
    let queue = Arc::new(HostQueueMemory::new(4).unwrap());
    let pump = builder(&queue)
        .file(open_ro(&path), RO)
        .copy_engine(Box::new(gated), CHUNK)
        .staged_window(0, access(256 << 10))
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..4).unwrap();
    // One READ at a time, each once the previous one's copy was recorded (and, for the first
    // two, submitted): two batches run, the third and fourth copies wait.
    for i in 0..4u32 {
        lane.issue(&read_req(0, 0, i * CHUNK, u64::from(i * CHUNK), CHUNK))
            .expect("a free slot");
        let n = u64::from(i) + 1;
        wait_until("the copy to be recorded", || {
            records.load(Ordering::SeqCst) == n && (n > 2 || submits.load(Ordering::SeqCst) == n)
        });
    }
    assert_eq!(
        submits.load(Ordering::SeqCst),
        2,
        "two batches in flight at most"
    );
    released.store(u64::MAX, Ordering::SeqCst);
    while let Some((t, r)) = lane.wait_oldest() {
        assert_eq!(r, CHUNK as i32, "slot {}", t.slot);
    }
    check_target(&target, 0, &data[..4 * CHUNK as usize]);
    let report = pump.stop().unwrap();
    assert_eq!(report.copies.batches, 3, "{:?}", report.copies);
    assert_eq!(report.copies.copies, 4, "{:?}", report.copies);
}
