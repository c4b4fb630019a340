//! Coverage-guided fuzzing of the slot protocol: `cargo fuzz run queue` (in fuzz/), or the
//! stable build of `cargo xtask fuzz-build`. `cargo xtask fuzz` drives the same harness with
//! random inputs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gdio_protocol::fuzzing::run_one(data);
});
