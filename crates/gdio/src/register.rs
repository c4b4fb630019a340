//! Whether io_uring can register a buffer as a fixed window (READ_FIXED into pinned pages) or
//! must serve it with plain READ (memory the kernel cannot pin, such as NVIDIA's ReBAR VRAM),
//! and the placement probe with that check.

use gdio_vulkan::placement::{ProbeOptions, ProbeReport, Registration};
use gdio_vulkan::{Context, MappedBuffer};

/// Tries to register `len` bytes at `ptr` as a window of a throwaway `gdio-uring` ring (the
/// same registration the pump does), then drops the ring, which unregisters it.
///
/// # Safety
/// `ptr..ptr + len` is a mapping of this process that stays mapped during the call. Nothing is
/// read or written through it; the kernel only tries to pin its pages.
#[must_use]
pub unsafe fn try_register(ptr: *mut u8, len: usize) -> Registration {
    let mut ring = match gdio_uring::Ring::builder()
        .entries(4)
        .max_files(1)
        .max_windows(1)
        .build()
    {
        Ok(r) => r,
        Err(e) => return Registration::NoRing(e.to_string()),
    };
    // SAFETY: the caller's memory stays mapped for this call; the ring (and with it the
    // registration) is dropped before returning, with no IO ever submitted.
    match unsafe { ring.register_window(ptr, len) } {
        Ok(_) => Registration::Registered,
        Err(e) => Registration::Refused(e.to_string()),
    }
}

/// Whether io_uring can register `buffer`'s memory.
#[must_use]
pub fn registration_of(buffer: &MappedBuffer) -> Registration {
    // SAFETY: `buffer` is borrowed for the call, so its mapping stays.
    unsafe { try_register(buffer.as_ptr(), buffer.len()) }
}

/// The placement probe of `gdio_vulkan::placement::probe`, with io_uring's registration check:
/// which memory a running shader sees host writes in, and which of it io_uring can pin.
pub fn probe(ctx: &Context, opts: &ProbeOptions) -> gdio_vulkan::Result<ProbeReport> {
    gdio_vulkan::placement::probe(ctx, opts, &registration_of)
}
