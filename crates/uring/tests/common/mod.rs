//! Shared test helpers.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

use gdio_uring::{Completion, Ring};

pub use gdio_test_support::{file_with, pipe, random_bytes, GuardedMemory as Mem};

/// Submits and reaps until `n` completions arrived (or panics after 10 s).
pub fn wait_n(ring: &mut Ring, n: usize) -> Vec<Completion> {
    let mut out = Vec::with_capacity(n);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out: {} of {n}",
            out.len()
        );
        ring.submit_and_wait(1, Some(Duration::from_millis(100)))
            .unwrap();
        ring.reap(|c| out.push(c));
    }
    out
}
