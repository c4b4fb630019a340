//! CPU references for what the demo shaders compute: the test-file content and the stream
//! checksums (sum32 and CRC-32C). Each function matches a GLSL function in
//! `shaders/gdio_demo.glsl` or a shader, word for word.

/// lowbias32 (Chris Wellons), as `gdio_hash` in `gdio_demo.glsl` (the freshness probe's hash
/// too, whence it comes).
pub use gdio::vulkan::patterns::hash;

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

/// The reflected CRC-32C (Castagnoli) polynomial.
pub const CRC32C_POLY: u32 = 0x82F6_3B78;

/// The four slice-by-4 tables of CRC-32C, 256 words each (table k: a byte followed by k zero
/// bytes), as `crc32c.glsl` takes them in its table buffer.
#[must_use]
pub fn crc32c_tables() -> Vec<u32> {
    let mut t = vec![0u32; 1024];
    for i in 0..256u32 {
        let mut c = i;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
        }
        t[i as usize] = c;
    }
    for k in 1..4 {
        for i in 0..256 {
            let prev = t[(k - 1) * 256 + i];
            t[k * 256 + i] = (prev >> 8) ^ t[(prev & 0xFF) as usize];
        }
    }
    t
}

/// The standard CRC-32C of `data` (init and final xor 0xFFFFFFFF), bit by bit: the slow,
/// obviously right reference the shaders and faster implementations are checked against.
#[must_use]
pub fn crc32c_reference(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn gf2_times(mat: &[u32; 32], mut vec: u32) -> u32 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(mat: &[u32; 32]) -> [u32; 32] {
    let mut sq = [0u32; 32];
    for (i, s) in sq.iter_mut().enumerate() {
        *s = gf2_times(mat, mat[i]);
    }
    sq
}

/// An operator that appends `len` zero bytes to a CRC-32C: build it once with
/// [`Crc32cShift::new`] and combine many equal-length pieces cheaply with
/// [`Crc32cShift::combine`].
#[derive(Debug, Clone)]
pub struct Crc32cShift {
    mat: [u32; 32],
}

impl Crc32cShift {
    /// The operator for pieces of `len` bytes.
    #[must_use]
    pub fn new(len: u64) -> Crc32cShift {
        // The operator for one zero bit, then squared up: zlib's crc32_combine, kept as a
        // matrix so that applying it costs 32 steps at most.
        let mut odd = [0u32; 32];
        odd[0] = CRC32C_POLY;
        for (i, o) in odd.iter_mut().enumerate().skip(1) {
            *o = 1 << (i - 1);
        }
        let mut result = [0u32; 32];
        for (i, r) in result.iter_mut().enumerate() {
            *r = 1 << i; // identity
        }
        let mut op = gf2_square(&gf2_square(&odd)); // 4 zero bits
        let mut bits = len.saturating_mul(2); // in units of 4 bits, op = 4 bits
                                              // Square-and-multiply over the length in nibbles.
        while bits != 0 {
            if bits & 1 != 0 {
                let mut next = [0u32; 32];
                for (i, n) in next.iter_mut().enumerate() {
                    *n = gf2_times(&op, result[i]);
                }
                result = next;
            }
            bits >>= 1;
            if bits != 0 {
                op = gf2_square(&op);
            }
        }
        Crc32cShift { mat: result }
    }

    /// The CRC-32C of `a ++ b`, given `crc_a` and the CRC `crc_b` of `b`, whose length is this
    /// operator's.
    #[must_use]
    pub fn combine(&self, crc_a: u32, crc_b: u32) -> u32 {
        gf2_times(&self.mat, crc_a) ^ crc_b
    }
}

/// The CRC-32C of `a ++ b` from the standard CRC-32Cs of `a` and `b` and `b`'s length.
#[must_use]
pub fn crc32c_combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    if len_b == 0 {
        return crc_a;
    }
    Crc32cShift::new(len_b).combine(crc_a, crc_b)
}

/// Combines per-chunk CRC-32Cs (chunks of `chunk` bytes, the last `last_len` bytes, in file
/// order) into the CRC-32C of the whole file; 0 (the CRC of nothing) for no chunks.
#[must_use]
pub fn crc32c_of_chunks(crcs: &[u32], chunk: u64, last_len: u64) -> u32 {
    let Some((&first, rest)) = crcs.split_first() else {
        return 0;
    };
    let full = Crc32cShift::new(chunk);
    let mut acc = first;
    for (i, &c) in rest.iter().enumerate() {
        acc = if i + 1 == rest.len() && last_len != chunk {
            crc32c_combine(acc, c, last_len)
        } else {
            full.combine(acc, c)
        };
    }
    acc
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
    fn crc32c_matches_the_check_value_and_combines() {
        // The standard check value of CRC-32C ("123456789").
        assert_eq!(crc32c_reference(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_reference(b""), 0);
        let data = file_bytes(10_007, 5);
        let whole = crc32c_reference(&data);
        for cut in [0usize, 1, 4, 4096, 10_006, 10_007] {
            let (a, b) = data.split_at(cut);
            let c = crc32c_combine(crc32c_reference(a), crc32c_reference(b), b.len() as u64);
            assert_eq!(c, whole, "cut at {cut}");
        }
        let chunk = 1024usize;
        let crcs: Vec<u32> = data.chunks(chunk).map(crc32c_reference).collect();
        let last = (data.len() - (crcs.len() - 1) * chunk) as u64;
        assert_eq!(crc32c_of_chunks(&crcs, chunk as u64, last), whole);
        // Slice-by-4 with the tables, as the shader does it.
        let t = crc32c_tables();
        let mut c = !0u32;
        let words = data.len() / 4;
        for w in data[..words * 4].chunks(4) {
            let x = c ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            c = t[768 + (x & 0xFF) as usize]
                ^ t[512 + ((x >> 8) & 0xFF) as usize]
                ^ t[256 + ((x >> 16) & 0xFF) as usize]
                ^ t[(x >> 24) as usize];
        }
        for &b in &data[words * 4..] {
            c = t[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        assert_eq!(!c, whole);
    }

    #[test]
    fn file_bytes_are_words_le() {
        let b = file_bytes(7, 3);
        assert_eq!(&b[..4], &file_word(0, 3).to_le_bytes());
        assert_eq!(&b[4..], &file_word(1, 3).to_le_bytes()[..3]);
    }
}
