//! Where everything lives in a queue's two regions (see `docs/protocol.md`).

use crate::region::Region;

/// Protocol version written into both headers.
pub const VERSION: u32 = 1;
/// "GDRQ": the request region's magic.
pub const REQUEST_MAGIC: u32 = 0x5152_4447;
/// "GDCQ": the completion region's magic.
pub const COMPLETION_MAGIC: u32 = 0x5143_4447;
/// Bytes in each region's header.
pub const HEADER_BYTES: usize = 64;
/// Bytes per request descriptor.
pub const SLOT_STRIDE: usize = 64;
/// Bytes per completion entry (result, generation).
pub const COMPLETION_STRIDE: usize = 8;
/// Alignment both regions need, and the unit their parts are padded to.
pub const ALIGN: usize = 64;
/// The most slots a queue may have.
pub const MAX_SLOTS: u32 = 65_536;

/// Word indices of the request region's header.
pub mod request_header {
    /// `REQUEST_MAGIC`.
    pub const MAGIC: usize = 0;
    /// `VERSION`.
    pub const VERSION: usize = 1;
    /// Number of slots.
    pub const SLOT_COUNT: usize = 2;
    /// Bytes per descriptor (64).
    pub const SLOT_STRIDE: usize = 3;
    /// Byte offset of the publish words (64).
    pub const PUBLISH_OFFSET: usize = 4;
    /// Byte offset of the descriptors.
    pub const DESCRIPTOR_OFFSET: usize = 5;
    /// Bytes in the region.
    pub const REGION_BYTES: usize = 6;
}

/// Word indices of the completion region's header.
pub mod completion_header {
    /// `COMPLETION_MAGIC`.
    pub const MAGIC: usize = 0;
    /// `VERSION`.
    pub const VERSION: usize = 1;
    /// Number of slots.
    pub const SLOT_COUNT: usize = 2;
    /// [`crate::PumpState`] code.
    pub const PUMP_STATE: usize = 3;
    /// The result code that explains FAILED, or 0.
    pub const PUMP_ERROR: usize = 4;
    /// Byte offset of the completion entries (64).
    pub const COMPLETION_OFFSET: usize = 5;
    /// Bytes in the region.
    pub const REGION_BYTES: usize = 6;
}

/// Word indices inside a descriptor.
pub mod descriptor {
    /// Op code (bits 0..7) and flags (bits 8..31).
    pub const OP: usize = 0;
    /// File handle.
    pub const FILE: usize = 1;
    /// Window handle.
    pub const WINDOW: usize = 2;
    /// Byte offset in the window.
    pub const WINDOW_OFFSET: usize = 3;
    /// Low 32 bits of the file offset.
    pub const FILE_OFFSET_LO: usize = 4;
    /// High 32 bits of the file offset.
    pub const FILE_OFFSET_HI: usize = 5;
    /// Bytes to transfer.
    pub const LEN: usize = 6;
    /// The caller's tag.
    pub const TAG: usize = 7;
    /// Words of a request's fields (0..=7).
    pub const WORDS: usize = 8;
    /// The generation being published, stamped into the descriptor itself.
    pub const STAMP: usize = 8;
    /// [`check`] of words 0..=8.
    pub const CHECK: usize = 9;
    /// Words the device writes per request before its publish word: fields, stamp, check.
    pub const WRITTEN: usize = 10;
    /// [`data_check`] of a WRITE's bytes, when the op word has
    /// [`FLAG_DATA_CHECK`](crate::request::FLAG_DATA_CHECK). Not covered by [`CHECK`]: a late
    /// data check word only makes the data look unarrived for a little longer.
    pub const DATA_CHECK: usize = 10;

    /// One step of the fold both checks use.
    #[inline]
    #[must_use]
    pub const fn check_step(h: u32, w: u32) -> u32 {
        let h = (h ^ w).wrapping_mul(0x85EB_CA6B);
        h ^ (h >> 13)
    }

    /// The data check of a WRITE's bytes: the fold over them as little-endian 32-bit words
    /// (the last one zero-padded), seeded with 0x6A09E667, then over their length. The device
    /// computes it while it fills the window; the host recomputes it before it writes, and
    /// waits while they differ (the device's data has not all reached host memory yet).
    #[must_use]
    pub fn data_check(bytes: &[u8]) -> u32 {
        let mut c = DataCheck::new();
        c.update(bytes);
        c.finish()
    }

    /// [`data_check`] computed piece by piece (every piece but the last a multiple of 4 bytes
    /// long), for data read out of shared memory in chunks.
    #[derive(Debug, Clone, Copy)]
    pub struct DataCheck {
        h: u32,
        len: u32,
    }

    impl DataCheck {
        /// An empty check.
        #[must_use]
        pub const fn new() -> DataCheck {
            DataCheck {
                h: DATA_CHECK_SEED,
                len: 0,
            }
        }

        /// Folds in the next piece.
        pub fn update(&mut self, bytes: &[u8]) {
            let mut chunks = bytes.chunks_exact(4);
            for c in &mut chunks {
                self.h = check_step(self.h, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            }
            let rest = chunks.remainder();
            if !rest.is_empty() {
                let mut w = [0u8; 4];
                w[..rest.len()].copy_from_slice(rest);
                self.h = check_step(self.h, u32::from_le_bytes(w));
            }
            self.len = self.len.wrapping_add(bytes.len() as u32);
        }

        /// The check.
        #[must_use]
        pub const fn finish(self) -> u32 {
            check_step(self.h, self.len)
        }
    }

    impl Default for DataCheck {
        fn default() -> DataCheck {
            DataCheck::new()
        }
    }

    /// Seed of [`data_check`].
    pub const DATA_CHECK_SEED: u32 = 0x6A09_E667;

    /// The check word over descriptor words 0..=8 (fields and stamp): lets the host tell a
    /// descriptor that has fully arrived from one whose words are still in flight. On NVIDIA
    /// a running shader's writes to host memory may reach the host out of order (measured: a
    /// publish word seen before the descriptor's `len`); Vulkan promises no order to the host.
    #[must_use]
    pub const fn check(words: &[u32; 9]) -> u32 {
        let mut h: u32 = 0x9E37_79B9;
        let mut i = 0;
        while i < 9 {
            h = check_step(h, words[i]);
            i += 1;
        }
        h
    }
}

/// Why a layout or a region does not describe a version-1 queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The slot count is 0 or above [`MAX_SLOTS`].
    #[error("slot count {0} out of range: use 1..=65536 slots")]
    SlotCount(u32),
    /// A region is smaller than the layout needs.
    #[error("{region} region is {got} bytes but the layout needs {need}: allocate at least {need} bytes")]
    TooSmall {
        /// Which region.
        region: &'static str,
        /// Its size in bytes.
        got: usize,
        /// The size the layout needs.
        need: usize,
    },
    /// A header word does not hold what version 1 requires.
    #[error("{region} header word {word} is {got:#x}, expected {expected:#x}: the memory is not an initialised gdio v1 queue (call HostQueue::init first)")]
    Header {
        /// Which region.
        region: &'static str,
        /// Word index.
        word: usize,
        /// What it holds.
        got: u32,
        /// What it should hold.
        expected: u32,
    },
}

/// The byte layout of a queue with a given number of slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    slot_count: u32,
}

const fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl Layout {
    /// The layout of a queue with `slot_count` slots.
    pub fn new(slot_count: u32) -> Result<Layout, LayoutError> {
        if slot_count == 0 || slot_count > MAX_SLOTS {
            return Err(LayoutError::SlotCount(slot_count));
        }
        Ok(Layout { slot_count })
    }

    /// Number of slots.
    #[must_use]
    pub const fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// Byte offset of the publish words in the request region.
    #[must_use]
    pub const fn publish_offset(&self) -> usize {
        HEADER_BYTES
    }

    /// Byte offset of the descriptors in the request region.
    #[must_use]
    pub const fn descriptor_offset(&self) -> usize {
        HEADER_BYTES + round_up(4 * self.slot_count as usize, ALIGN)
    }

    /// Bytes of the request region (device writes, host polls).
    #[must_use]
    pub const fn request_bytes(&self) -> usize {
        self.descriptor_offset() + SLOT_STRIDE * self.slot_count as usize
    }

    /// Byte offset of the completion entries in the completion region.
    #[must_use]
    pub const fn completion_offset(&self) -> usize {
        HEADER_BYTES
    }

    /// Bytes of the completion region (host writes, device polls).
    #[must_use]
    pub const fn completion_bytes(&self) -> usize {
        HEADER_BYTES + round_up(COMPLETION_STRIDE * self.slot_count as usize, ALIGN)
    }

    /// Bytes of one buffer holding both regions, request region first (the lavapipe layout).
    #[must_use]
    pub const fn combined_bytes(&self) -> usize {
        self.request_bytes() + self.completion_bytes()
    }

    /// Word index of slot `slot`'s publish word in the request region.
    #[inline]
    #[must_use]
    pub const fn publish_word(&self, slot: u32) -> usize {
        HEADER_BYTES / 4 + slot as usize
    }

    /// Word index of word `word` of slot `slot`'s descriptor in the request region.
    #[inline]
    #[must_use]
    pub const fn descriptor_word(&self, slot: u32, word: usize) -> usize {
        (self.descriptor_offset() + SLOT_STRIDE * slot as usize) / 4 + word
    }

    /// Word index of slot `slot`'s result word in the completion region.
    #[inline]
    #[must_use]
    pub const fn result_word(&self, slot: u32) -> usize {
        HEADER_BYTES / 4 + 2 * slot as usize
    }

    /// Word index of slot `slot`'s completed generation in the completion region.
    #[inline]
    #[must_use]
    pub const fn completion_generation_word(&self, slot: u32) -> usize {
        self.result_word(slot) + 1
    }

    /// The request header's words, as the host writes them.
    #[must_use]
    pub fn request_header(&self) -> [u32; 16] {
        let mut h = [0u32; 16];
        h[request_header::MAGIC] = REQUEST_MAGIC;
        h[request_header::VERSION] = VERSION;
        h[request_header::SLOT_COUNT] = self.slot_count;
        h[request_header::SLOT_STRIDE] = SLOT_STRIDE as u32;
        h[request_header::PUBLISH_OFFSET] = self.publish_offset() as u32;
        h[request_header::DESCRIPTOR_OFFSET] = self.descriptor_offset() as u32;
        h[request_header::REGION_BYTES] = self.request_bytes() as u32;
        h
    }

    /// The completion header's words at initialisation (pump state INIT).
    #[must_use]
    pub fn completion_header(&self) -> [u32; 16] {
        let mut h = [0u32; 16];
        h[completion_header::MAGIC] = COMPLETION_MAGIC;
        h[completion_header::VERSION] = VERSION;
        h[completion_header::SLOT_COUNT] = self.slot_count;
        h[completion_header::COMPLETION_OFFSET] = self.completion_offset() as u32;
        h[completion_header::REGION_BYTES] = self.completion_bytes() as u32;
        h
    }

    /// Checks that both regions are large enough for this layout.
    pub fn check_sizes(
        &self,
        requests: Region<'_>,
        completions: Region<'_>,
    ) -> Result<(), LayoutError> {
        let pairs = [
            ("request", requests.len_bytes(), self.request_bytes()),
            (
                "completion",
                completions.len_bytes(),
                self.completion_bytes(),
            ),
        ];
        for (region, got, need) in pairs {
            if got < need {
                return Err(LayoutError::TooSmall { region, got, need });
            }
        }
        Ok(())
    }

    /// Reads the layout back from two initialised regions, checking every fixed header word.
    /// This is what a device (or a second process) does before it trusts the memory.
    pub fn read_from(requests: Region<'_>, completions: Region<'_>) -> Result<Layout, LayoutError> {
        let too_small = |region, got| LayoutError::TooSmall {
            region,
            got,
            need: HEADER_BYTES,
        };
        if requests.len_bytes() < HEADER_BYTES {
            return Err(too_small("request", requests.len_bytes()));
        }
        if completions.len_bytes() < HEADER_BYTES {
            return Err(too_small("completion", completions.len_bytes()));
        }
        let slots = requests.load_relaxed(request_header::SLOT_COUNT);
        let layout = Layout::new(slots)?;
        layout.check_sizes(requests, completions)?;
        let fixed_words = [
            (
                "request",
                requests,
                layout.request_header(),
                &[0usize, 1, 2, 3, 4, 5, 6][..],
            ),
            (
                "completion",
                completions,
                layout.completion_header(),
                &[0usize, 1, 2, 5, 6][..],
            ),
        ];
        for (region, mem, expected, words) in fixed_words {
            for &word in words {
                let got = mem.load_relaxed(word);
                if got != expected[word] {
                    return Err(LayoutError::Header {
                        region,
                        word,
                        got,
                        expected: expected[word],
                    });
                }
            }
        }
        Ok(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_the_document() {
        let l = Layout::new(4096).unwrap();
        assert_eq!(l.publish_offset(), 64);
        assert_eq!(l.descriptor_offset(), 64 + 16384);
        assert_eq!(l.request_bytes(), 64 + 16384 + 64 * 4096);
        assert_eq!(l.completion_bytes(), 64 + 8 * 4096);
        let one = Layout::new(1).unwrap();
        assert_eq!(one.descriptor_offset(), 128);
        assert_eq!(one.request_bytes(), 192);
        assert_eq!(one.completion_bytes(), 128);
        assert_eq!(one.descriptor_word(0, descriptor::LEN), 32 + 6);
        assert_eq!(one.result_word(0), 16);
        assert_eq!(one.completion_generation_word(0), 17);
    }

    #[test]
    fn every_part_is_64_byte_aligned() {
        for n in [1, 2, 15, 16, 17, 1000, 4096, 65_536] {
            let l = Layout::new(n).unwrap();
            assert_eq!(l.descriptor_offset() % ALIGN, 0);
            assert_eq!(l.request_bytes() % ALIGN, 0);
            assert_eq!(l.completion_bytes() % ALIGN, 0);
        }
    }

    #[test]
    fn slot_count_bounds() {
        assert_eq!(Layout::new(0), Err(LayoutError::SlotCount(0)));
        assert_eq!(Layout::new(65_537), Err(LayoutError::SlotCount(65_537)));
        assert!(Layout::new(65_536).is_ok());
    }
}
