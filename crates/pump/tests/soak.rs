//! A bounded soak in CI: mixed requests, exactly once, zero lost (the long one is
//! `cargo xtask soak`).
#[allow(dead_code)]
#[path = "../examples/soak/core.rs"]
mod soak_core;

#[test]
fn mixed_requests_complete_exactly_once() {
    let r = soak_core::run(100_000, 4, 16, 7);
    assert_eq!(r.issued, 100_000);
    assert_eq!(r.completed, r.issued, "lost requests");
    assert_eq!(
        r.pump_completed, r.issued,
        "the pump completed a different number"
    );
    assert_eq!(r.wrong, 0, "wrong results");
}
