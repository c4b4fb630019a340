//! `gdio sum` through device-local windows: the pump READs into registered staging chunks and
//! the device's copy queue copies them into memory the host cannot map, while the streaming
//! shader runs. On a GPU the CRC must equal the CPU's, through the page cache and with
//! O_DIRECT; on lavapipe, which has one queue and so no copy queue, the streamer must refuse
//! with the reason (a copy behind the running dispatch would never run).

use gdio::vulkan::Error as VkError;
use gdio_workloads::sum::{cpu_crc32c, StreamShape, Streamer, WindowKind};
use gdio_workloads::{Gpu, Settings};

#[test]
fn a_stream_through_device_local_windows_matches_the_cpu_or_is_refused_without_a_copy_queue() {
    let lock = gdio_test_support::vulkan::gpu();
    let gpu = Gpu::with_context(lock.ctx.clone(), &Settings::default()).unwrap();
    // A disk-backed folder (O_DIRECT): the build's target folder, or the working folder where
    // the packed binary runs on a machine without it.
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(if base.is_dir() {
        base
    } else {
        std::path::Path::new(".")
    })
    .unwrap();
    let (path, _) = gdio_test_support::random_file(dir.path(), "f", (6 << 20) + 4096, 12);
    let shape = StreamShape {
        chunk: 64 << 10,
        lanes: if gpu.is_cpu() { 8 } else { 256 },
    };
    let st = Streamer::with_windows(&gpu, shape, WindowKind::Device);
    let mut st = match st {
        Err(e) if gpu.ctx.copy_queue_family().is_none() => {
            assert!(
                matches!(e.root_cause().downcast_ref(), Some(VkError::NoCopyQueue(_))),
                "{e:#}"
            );
            eprintln!("refused as it must be on this device: {e:#}");
            return;
        }
        Err(e) => panic!("the device has a copy queue, yet: {e:#}"),
        Ok(st) => st,
    };
    let want = cpu_crc32c(&path).unwrap();
    let s = st.sum(&path, |_, _| {}).unwrap();
    assert_eq!(s.crc32c, want, "through the page cache");
    st.set_direct(true).unwrap();
    let s = st.sum(&path, |_, _| {}).unwrap();
    assert_eq!(s.crc32c, want, "with O_DIRECT");
    st.finish().unwrap();
}
