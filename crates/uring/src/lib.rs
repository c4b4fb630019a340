//! gdio's io_uring submission layer.
//!
//! A [`Ring`] owns an io_uring with a sparse registered file table and a table of
//! *windows*: memory ranges ops read into and write from. Windows the kernel can pin are
//! fixed buffers (`READ_FIXED` / `WRITE_FIXED`); memory it cannot pin (GPU BAR/ReBAR) is
//! served with plain `READ` / `WRITE`. Files are always addressed through the fixed table.
//!
//! The layer keeps op state in a preallocated slab whose index is the SQE's `user_data`,
//! continues short transfers, retries EAGAIN/EINTR a bounded number of times, holds ops in a
//! bounded backlog when the SQ is full, never lets the CQ overflow silently, and can cancel
//! and drain everything so the kernel is provably done with the windows.
//!
//! ```no_run
//! use gdio_uring::{OpKind, Ring, Transfer};
//! # fn main() -> Result<(), gdio_uring::Error> {
//! let mut ring = Ring::builder().entries(64).build()?;
//! let file = ring.register_file(std::fs::File::open("/etc/hostname").unwrap().into())?;
//! let mut buf = vec![0u8; 4096];
//! // SAFETY: `buf` outlives the ring.
//! let win = unsafe { ring.register_window(buf.as_mut_ptr(), buf.len())? };
//! ring.push(7, OpKind::Read(Transfer { file, window: win, window_offset: 0, file_offset: 0, len: 4096 }))?;
//! ring.submit_and_wait(1, None)?;
//! ring.reap(|c| println!("{} -> {:?}", c.user_data, c.result));
//! # drop(ring);
//! # Ok(()) }
//! ```

mod builder;
mod error;
mod files;
mod op;
mod probe;
mod ring;
mod state;
mod table;
mod windows;

pub use builder::{RingBuilder, MAX_FIXED_BUFFER};
pub use error::Error;
pub use files::FileHandle;
pub use op::MAX_RETRIES;
pub use op::{errno_code, Completion, OpKind, Transfer};
pub use probe::{probe, Features};
pub use ring::Ring;
pub use rustix::io::Errno;
pub use windows::{WindowHandle, WindowInfo, WindowKind};
