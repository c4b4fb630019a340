//! Slot generations: each use of a slot is numbered, so that no publication or completion can be
//! taken for another use's.

/// A slot's generation. 0 means "never used"; live generations are `1..=u32::MAX` and wrap
/// from `u32::MAX` back to 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Generation(pub u32);

impl Generation {
    /// The state of a slot that was never published.
    pub const NEVER: Generation = Generation(0);

    /// The generation that follows this one, skipping 0 on wrap.
    #[inline]
    #[must_use]
    pub const fn next(self) -> Generation {
        if self.0 == u32::MAX {
            Generation(1)
        } else {
            Generation(self.0 + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Generation;

    #[test]
    fn next_counts_up_and_skips_zero_on_wrap() {
        assert_eq!(Generation::NEVER.next(), Generation(1));
        assert_eq!(Generation(41).next(), Generation(42));
        assert_eq!(Generation(u32::MAX).next(), Generation(1));
    }
}
