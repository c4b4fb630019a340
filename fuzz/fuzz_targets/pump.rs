//! Coverage-guided fuzzing of the pump: `cargo fuzz run pump` (see gdio_pump::fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gdio_pump::fuzzing::run_one(data);
});
