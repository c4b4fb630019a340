//! CPU references for what the demo shaders compute: the test-file content, the stream
//! checksum and the freshness patterns. Each function matches a GLSL function in
//! `shaders/gdio_demo.glsl` or a shader, word for word.

/// lowbias32 (Chris Wellons), as `gdio_hash` in `gdio_demo.glsl`.
#[must_use]
pub const fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Word `i` of a test file made with `seed` (`gdio_file_word`): the file's bytes are these
/// words, little-endian.
#[must_use]
pub const fn file_word(i: u32, seed: u32) -> u32 {
    hash(
        i.wrapping_add(seed.wrapping_mul(0x9E37_79B9))
            .wrapping_add(0x6A09_E667),
    )
}

/// The first `len` bytes of the test file made with `seed` (what `write_file.comp` writes and
/// `random_read.comp` expects).
#[must_use]
pub fn file_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len.div_ceil(4) as u32)
        .flat_map(|i| file_word(i, seed).to_le_bytes())
        .collect();
    v.truncate(len);
    v
}

/// The stream checksum `stream_sum.comp` computes: with `w_i` the i-th little-endian 32-bit
/// word of `data` (the last zero-padded), `len + Σ w_i·(2i+1)` modulo 2^32.
#[must_use]
pub fn sum32(data: &[u8]) -> u32 {
    let mut sum = data.len() as u32;
    for (i, c) in data.chunks(4).enumerate() {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        let weight = (i as u32).wrapping_mul(2).wrapping_add(1);
        sum = sum.wrapping_add(u32::from_le_bytes(w).wrapping_mul(weight));
    }
    sum
}

/// Word `i` of the freshness probe's pattern for round `round` (`expect` in freshness.comp).
#[must_use]
pub const fn freshness_word(round: u32, i: u32, seed: u32) -> u32 {
    hash(i.wrapping_mul(0x9E37_79B1) ^ round.wrapping_mul(0x85EB_CA77).wrapping_add(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum32_is_position_sensitive_and_pads() {
        assert_eq!(sum32(&[]), 0);
        assert_eq!(sum32(&[1]), 1 + 1);
        assert_eq!(sum32(&[0, 0, 0, 0, 1]), 5 + 3);
        assert_ne!(
            sum32(&[1, 0, 0, 0, 2, 0, 0, 0]),
            sum32(&[2, 0, 0, 0, 1, 0, 0, 0])
        );
    }

    #[test]
    fn file_bytes_are_words_le() {
        let b = file_bytes(7, 3);
        assert_eq!(&b[..4], &file_word(0, 3).to_le_bytes());
        assert_eq!(&b[4..], &file_word(1, 3).to_le_bytes()[..3]);
    }
}
