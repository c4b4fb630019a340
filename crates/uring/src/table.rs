//! A sparse, fixed-size table indexed by handles: the shape of both the kernel's registered
//! file table and its registered buffer table, which gdio mirrors.

/// A handle that is an index into a [`SparseTable`].
pub(crate) trait Handle: Copy {
    fn from_index(i: u32) -> Self;
    fn index(self) -> u32;
}

/// Slots `0..max`, each empty or holding one entry.
#[derive(Debug)]
pub(crate) struct SparseTable<H, T> {
    slots: Vec<Option<T>>,
    _handle: std::marker::PhantomData<H>,
}

impl<H: Handle, T> SparseTable<H, T> {
    pub fn new(n: u32) -> Self {
        SparseTable {
            slots: (0..n).map(|_| None).collect(),
            _handle: std::marker::PhantomData,
        }
    }

    pub fn max(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Lowest free slot.
    pub fn free_slot(&self) -> Option<H> {
        self.slots
            .iter()
            .position(Option::is_none)
            .map(|i| H::from_index(i as u32))
    }

    pub fn get(&self, h: H) -> Option<&T> {
        self.slots.get(h.index() as usize).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, h: H) -> Option<&mut T> {
        self.slots
            .get_mut(h.index() as usize)
            .and_then(Option::as_mut)
    }

    pub fn insert(&mut self, h: H, e: T) {
        self.slots[h.index() as usize] = Some(e);
    }

    pub fn take(&mut self, h: H) -> Option<T> {
        self.slots
            .get_mut(h.index() as usize)
            .and_then(Option::take)
    }
}
