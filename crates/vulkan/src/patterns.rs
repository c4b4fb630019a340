//! The freshness probe's pattern on the CPU: each function matches `freshness.comp` word for
//! word. (The demo shaders' test patterns and CRCs are gdio-workloads'.)

/// lowbias32 (Chris Wellons), as `gdio_hash` in `freshness.comp`.
#[must_use]
pub const fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Word `i` of the freshness probe's pattern for round `round` (`expect` in freshness.comp).
#[must_use]
pub const fn freshness_word(round: u32, i: u32, seed: u32) -> u32 {
    hash(i.wrapping_mul(0x9E37_79B1) ^ round.wrapping_mul(0x85EB_CA77).wrapping_add(seed))
}
