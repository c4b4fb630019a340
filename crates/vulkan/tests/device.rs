//! Context creation, the device report, memory placements and the placement probe.

use gdio_test_support::vulkan::gpu;
use gdio_vulkan::placement::{freshness, freshness_pipeline, probe_buffers, ProbeOptions};
use gdio_vulkan::{
    vk, Context, DeviceSelector, MappedBuffer, Placement, PlacementPlan, QueueBuffers,
};
#[test]
fn context_opens_and_reports_the_device() {
    let g = gpu();
    let info = g.ctx.info();
    eprintln!("{info}");
    assert!(
        info.memory_model,
        "Context enables the memory model or fails"
    );
    assert!(!info.memory_types.is_empty() && !info.memory_heaps.is_empty());
    let text = info.to_string();
    assert!(text.contains("type 0") && text.contains("heap 0"), "{text}");
    // Selecting by index and by name finds the same device.
    let by_index = Context::with_selector(&DeviceSelector::Index(info.index)).unwrap();
    assert_eq!(by_index.info().name, info.name);
    let word = info.name.split_whitespace().next().unwrap().to_owned();
    let by_name = Context::with_selector(&DeviceSelector::Name(word.to_lowercase())).unwrap();
    assert_eq!(by_name.info().index, info.index);
    let err = Context::with_selector(&DeviceSelector::Name("no such gpu".into())).unwrap_err();
    assert!(err.to_string().contains("GDIO_DEVICE"), "{err}");
    assert!(Context::devices()
        .unwrap()
        .iter()
        .any(|d| d.name == info.name));
}

#[test]
fn every_placement_allocates_with_the_flags_it_promises() {
    let g = gpu();
    for p in Placement::ALL {
        if p == Placement::ImportedHost && g.ctx.info().host_import_alignment.is_none() {
            continue;
        }
        let b = MappedBuffer::new(&g.ctx, 10_000, p).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(b.len(), 12_288);
        assert_eq!(b.as_ptr() as usize % 4096, 0);
        let f = b.memory_flags();
        assert!(
            f.contains(
                vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT
            ),
            "{p}: {f:?}"
        );
        match p {
            Placement::HostCached => assert!(f.contains(vk::MemoryPropertyFlags::HOST_CACHED)),
            Placement::DeviceLocalHostVisible => {
                assert!(f.contains(vk::MemoryPropertyFlags::DEVICE_LOCAL))
            }
            _ => {}
        }
        assert_eq!(g.ctx.memory_type_flags(b.memory_type()), f);
        b.write(100, b"hello").unwrap();
        if p != Placement::DeviceLocalHostVisible || g.ctx.info().is_cpu() {
            assert_eq!(b.read_vec(100, 5).unwrap(), b"hello");
        }
        b.store_u32(7, 0xdead_beef);
        assert_eq!(
            b.words()[7].load(std::sync::atomic::Ordering::Relaxed),
            0xdead_beef
        );
        assert!(
            b.write(12_280, &[0; 9]).is_err(),
            "writes past the end are refused"
        );
        b.free();
    }
}

#[test]
fn queue_buffers_follow_the_plan_and_init() {
    let g = gpu();
    let q = QueueBuffers::new(&g.ctx, 100, &PlacementPlan::defaults()).unwrap();
    let hq = q.init_host().unwrap();
    let (req, cmp) = q.regions();
    let layout = gdio_protocol::Layout::read_from(req, cmp).unwrap();
    assert_eq!(layout.slot_count(), 100);
    assert_eq!(hq.layout(), layout);
    assert_eq!(q.request_buffer().placement(), Placement::HostCached);
    assert_eq!(
        q.completion_buffer_ref().placement(),
        Placement::DeviceLocalHostVisible
    );
}

#[test]
fn freshness_checker_reports_exactly_the_stale_words() {
    let g = gpu();
    let opts = ProbeOptions::for_device(g.ctx.info());
    let pipe = freshness_pipeline(&g.ctx).unwrap();
    let (ack, flag) = probe_buffers(&g.ctx, &opts).unwrap();
    let window = MappedBuffer::new(
        &g.ctx,
        opts.window_bytes,
        PlacementPlan::defaults().read_window,
    )
    .unwrap();
    let f = freshness(&g.ctx, &pipe, &window, &ack, &flag, &opts, true).unwrap();
    assert_eq!(f.rounds_done, opts.rounds, "{f:?}");
    let sabotaged = (2..=opts.rounds).filter(|r| r % 3 == 0).count() as u64;
    let half = (opts.window_bytes / 8) as u64;
    assert_eq!(f.first_round_mismatches, 0, "{f:?}");
    assert_eq!(f.later_mismatches, sabotaged * half, "{f:?}");
    assert_eq!(u64::from(f.stale_rounds), sabotaged);
    assert!(!f.passed());
}
