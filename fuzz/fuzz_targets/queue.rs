//! Coverage-guided fuzzing of the slot protocol: `cargo +nightly fuzz run queue` (in fuzz/).
//! On stable, `cargo xtask fuzz --seconds N` drives the same harness with random inputs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gdio_protocol::fuzzing::run_one(data);
});
