//! The placement probe with io_uring's registration check, and the registration check itself.

use gdio::probe;
use gdio::register::try_register;
use gdio_test_support::vulkan::gpu;
use gdio_vulkan::placement::{ProbeOptions, Registration};
use gdio_vulkan::Placement;

#[test]
fn placement_probe_passes_where_the_findings_say() {
    let g = gpu();
    let opts = ProbeOptions::for_device(g.ctx.info());
    let report = probe(&g.ctx, &opts).unwrap();
    eprintln!("{report}");
    let rebar = report
        .modes
        .iter()
        .find(|m| m.placement == Placement::DeviceLocalHostVisible)
        .unwrap();
    assert!(
        rebar.fresh(),
        "ReBAR windows must pass freshness on every device: {rebar:?}"
    );
    if g.ctx.info().is_cpu() {
        for m in &report.modes {
            assert!(m.fresh(), "{}: {:?}", m.placement, m.freshness);
            assert!(m.registers(), "{}: {:?}", m.placement, m.registration);
        }
        assert!(report.plan.read_window_registered);
    }
    assert!(report.plan.probed);
}

#[test]
fn registration_probe_accepts_plain_memory_and_refuses_unpinnable() {
    let mut v = vec![0u8; 1 << 16];
    // SAFETY: `v` is a live allocation for the whole call.
    let r = unsafe { try_register(v.as_mut_ptr(), v.len()) };
    assert_eq!(r, Registration::Registered);
    // A PROT_NONE mapping cannot be pinned: the probe must say so, not pass.
    // SAFETY: a fresh private anonymous mapping, unmapped below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            1 << 16,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    // SAFETY: the mapping stays mapped during the call.
    let r = unsafe { try_register(p.cast(), 1 << 16) };
    // SAFETY: unmapping the mapping made above.
    unsafe { libc::munmap(p, 1 << 16) };
    assert!(
        matches!(r, Registration::Refused(ref e) if e.contains("pinned")),
        "{r:?}"
    );
}
