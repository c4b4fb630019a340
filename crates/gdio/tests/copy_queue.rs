//! Windows in device-local memory, served through staging chunks and a Vulkan copy queue, on
//! the default device with real files and a real ring: what a READ put in the device buffer is
//! copied back and compared byte for byte, and a WRITE from the device buffer lands in a file.
//!
//! lavapipe has a single queue, so it has no copy queue: `CopyQueue::new` must say so, and the
//! copies then run on the compute queue through `CopyQueue::on_queue` with no dispatch running
//! beside them (a persistent dispatch would occupy that queue). On a GPU the context's own copy
//! queue serves them. The device side of the queue is the CPU-emulated lane: this tests the
//! pump and the copy queue; shaders reading device windows are tested by the `gdio sum`
//! workload tests.

use std::sync::Arc;
use std::time::Duration;

use gdio::protocol::{FileAccess, Op, Request, WindowAccess};
use gdio::pump::emulated::Lane;
use gdio::pump::{HostQueueMemory, Pump};
use gdio::vulkan::{Context, CopyQueue, CopyWay, DeviceBuffer, Placement};
use gdio::PumpCopyQueue;
use gdio_test_support::vulkan::gpu;

const CHUNK: u32 = 64 << 10;

fn copy_queue(ctx: &Context, staging: usize) -> CopyQueue {
    match CopyQueue::new(ctx, staging, Placement::HostCached) {
        Ok(q) => {
            assert!(
                !ctx.info().is_cpu(),
                "lavapipe has one queue: no copy queue"
            );
            q
        }
        Err(e) => {
            assert!(
                matches!(e, gdio::vulkan::Error::NoCopyQueue(_)),
                "only a device without a second queue may refuse: {e}"
            );
            assert_eq!(ctx.copy_queue_family(), None);
            eprintln!("{e}; copying on the compute queue, with no dispatch running");
            let family = ctx.queue_family();
            let q = ctx.with_queue(|q| q);
            assert!(ctx.info().timeline_semaphore);
            // SAFETY: the context enables timelineSemaphore wherever the device supports it
            // (checked above); this test submits no dispatch while the copy queue lives, so
            // nothing else submits to the compute queue meanwhile; its family is the buffers'.
            unsafe { CopyQueue::on_queue(ctx, q, family, staging, Placement::HostCached) }.unwrap()
        }
    }
}

fn req(op: Op, file: u32, window_offset: u32, file_offset: u64, len: u32) -> Request {
    Request {
        file,
        window: 0,
        window_offset,
        file_offset,
        len,
        ..Request::new(op)
    }
}

#[test]
fn reads_and_writes_through_a_device_local_window_land_byte_exact() {
    let g = gpu();
    let ctx = &g.ctx;
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = gdio_test_support::random_file(dir.path(), "in", 4 << 20, 17);
    let out = dir.path().join("out");
    std::fs::File::create(&out).unwrap();
    let window_len = 2 << 20;
    let window = Arc::new(DeviceBuffer::new(ctx, window_len).unwrap());
    // Four chunks of staging for 32 requests at a time: most wait for a chunk.
    let mut copies = PumpCopyQueue::from_queue(copy_queue(ctx, 4 * CHUNK as usize));
    let target = copies.add_target(window.clone());
    let queue = Arc::new(HostQueueMemory::new(32).unwrap());
    let rw = FileAccess {
        readable: true,
        writable: true,
    };
    let pump = Pump::builder()
        .queue(queue.clone())
        .file(std::fs::File::open(&path).unwrap(), rw)
        .file(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&out)
                .unwrap(),
            rw,
        )
        .copy_engine(Box::new(copies), CHUNK)
        .staged_window(
            target,
            WindowAccess {
                len: window_len as u64,
                host_writes: true,
                host_reads: true,
            },
        )
        .spawn()
        .unwrap();
    let mut lane = Lane::new(&*queue, 0..32).unwrap();
    lane.set_timeout(Duration::from_secs(60));
    // The window from the file's bytes 1 MiB + 3 onwards, 32 chunks in flight.
    let base = (1 << 20) + 3;
    for i in 0..window_len as u32 / CHUNK {
        lane.issue(&req(
            Op::Read,
            0,
            i * CHUNK,
            base + u64::from(i * CHUNK),
            CHUNK,
        ))
        .expect("a free slot");
    }
    while let Some((t, r)) = lane.wait_oldest() {
        assert_eq!(r, CHUNK as i32, "slot {}", t.slot);
    }
    // WRITE the window out, in reverse chunk order, and compare the file with what was read.
    for i in 0..window_len as u32 / CHUNK {
        let n = window_len as u32 / CHUNK;
        lane.issue(&req(
            Op::Write,
            1,
            i * CHUNK,
            u64::from((n - 1 - i) * CHUNK),
            CHUNK,
        ))
        .expect("a free slot");
    }
    while let Some((t, r)) = lane.wait_oldest() {
        assert_eq!(r, CHUNK as i32, "slot {}", t.slot);
    }
    let report = pump.stop().unwrap();
    assert_eq!(
        report.completed(),
        2 * (window_len as u64 / u64::from(CHUNK))
    );
    let written = std::fs::read(&out).unwrap();
    assert_eq!(written.len(), window_len);
    let n = window_len / CHUNK as usize;
    let c = CHUNK as usize;
    for i in 0..n {
        let from = base as usize + i * c;
        assert!(
            written[(n - 1 - i) * c..(n - i) * c] == data[from..from + c],
            "chunk {i}: file → device window → file"
        );
    }

    // The copy queue by itself: device window → staging returns what the READs put there.
    let mut q = copy_queue(ctx, CHUNK as usize);
    let t = q.add_target(window);
    q.record(CopyWay::ToStaging, t, 5, 0, 1000).unwrap();
    let ticket = q.submit().unwrap();
    assert!(q.wait(ticket, Duration::from_secs(30)).unwrap());
    assert_eq!(q.finished().unwrap(), ticket);
    let got = q.staging().read_vec(0, 1000).unwrap();
    assert!(got == data[base as usize + 5..base as usize + 1005]);
    // Ranges outside either buffer are refused before anything is submitted.
    assert!(q
        .record(CopyWay::ToTarget, t, window_len as u64 - 10, 0, 11)
        .is_err());
    assert!(q
        .record(CopyWay::ToTarget, t, 0, u64::from(CHUNK) - 10, 11)
        .is_err());
    assert!(q.record(CopyWay::ToTarget, 7, 0, 0, 1).is_err());
}
