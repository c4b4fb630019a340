//! Host-visible buffers the GPU and the host share, with exact control of the memory type.
//!
//! Allocation is done with raw `vkAllocateMemory`, one allocation per buffer, not through
//! gpu-allocator: gdio allocates a handful of large, long-lived buffers (queue regions,
//! windows), so sub-allocation buys nothing, while *which memory type* backs each buffer is the
//! whole point (ReBAR vs. system memory decides whether a running shader sees host writes on
//! NVIDIA) and gpu-allocator neither lets us pick the type nor reports the one it picked.
//!
//! Mapped memory that a GPU may write is never handed out as `&[u8]`/`&mut [u8]`: a
//! [`MappedBuffer`] exposes its pointer (for `gdio_protocol::Region`, io_uring registration),
//! atomic word access, and copy-in/copy-out helpers.

use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use ash::vk;
use ash::vk::Handle as _;
use gdio_protocol::Region;

use crate::context::Context;
use crate::error::{Error, Result, VkContext};

/// Where a buffer's memory lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Host system memory, HOST_VISIBLE | HOST_COHERENT | HOST_CACHED (fast for the host to
    /// read: request regions, WRITE windows, results). On NVIDIA a running shader does not
    /// see host writes here.
    HostCached,
    /// Host system memory, HOST_VISIBLE | HOST_COHERENT, preferably not cached.
    HostCoherent,
    /// DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT: ReBAR on NVIDIA. The only memory a running
    /// NVIDIA shader sees host writes to; the host must never read it (about 7 MB/s); io_uring
    /// cannot register it (EFAULT), so it is served with plain READ.
    DeviceLocalHostVisible,
    /// Anonymous host memory (mmap, page aligned) imported with VK_EXT_external_memory_host.
    ImportedHost,
}

impl Placement {
    /// Every placement, in the order reports list them.
    pub const ALL: [Placement; 4] = [
        Placement::HostCached,
        Placement::HostCoherent,
        Placement::DeviceLocalHostVisible,
        Placement::ImportedHost,
    ];

    /// The short name used in reports, flags and environment variables.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Placement::HostCached => "host-cached",
            Placement::HostCoherent => "host-coherent",
            Placement::DeviceLocalHostVisible => "rebar",
            Placement::ImportedHost => "imported",
        }
    }

    /// Parses [`Placement::name`] (also accepts `device-local-host-visible`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Placement> {
        match s.trim().to_ascii_lowercase().as_str() {
            "host-cached" | "cached" => Some(Placement::HostCached),
            "host-coherent" | "coherent" => Some(Placement::HostCoherent),
            "rebar" | "device-local-host-visible" | "bar" => {
                Some(Placement::DeviceLocalHostVisible)
            }
            "imported" | "imported-host" | "host-import" => Some(Placement::ImportedHost),
            _ => None,
        }
    }

    fn required(self) -> vk::MemoryPropertyFlags {
        use vk::MemoryPropertyFlags as F;
        match self {
            Placement::HostCached => F::HOST_VISIBLE | F::HOST_COHERENT | F::HOST_CACHED,
            Placement::HostCoherent | Placement::ImportedHost => F::HOST_VISIBLE | F::HOST_COHERENT,
            Placement::DeviceLocalHostVisible => {
                F::DEVICE_LOCAL | F::HOST_VISIBLE | F::HOST_COHERENT
            }
        }
    }

    /// Flags a type should preferably *not* have (each one costs a point).
    fn unwanted(self) -> vk::MemoryPropertyFlags {
        use vk::MemoryPropertyFlags as F;
        match self {
            Placement::HostCached => F::DEVICE_LOCAL,
            Placement::HostCoherent => F::DEVICE_LOCAL | F::HOST_CACHED,
            Placement::DeviceLocalHostVisible | Placement::ImportedHost => F::empty(),
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Picks the memory type for `placement` among `type_bits`: it must have the required flags;
/// among those, fewest unwanted flags, then the largest heap (real ReBAR over a 256 MiB BAR).
pub(crate) fn choose_memory_type(
    ctx: &Context,
    type_bits: u32,
    placement: Placement,
) -> Option<u32> {
    let mem = &ctx.inner.memory;
    let required = placement.required();
    let unwanted = placement.unwanted();
    mem.memory_types_as_slice()
        .iter()
        .enumerate()
        .filter(|(i, t)| type_bits & (1 << i) != 0 && t.property_flags.contains(required))
        .min_by_key(|(i, t)| {
            let bad = (t.property_flags & unwanted).as_raw().count_ones();
            let heap = mem.memory_heaps[t.heap_index as usize].size;
            (bad, std::cmp::Reverse(heap), *i)
        })
        .map(|(i, _)| i as u32)
}

/// An anonymous mapping we own (for imported host memory).
#[derive(Debug)]
struct HostMapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Drop for HostMapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned; nothing uses the range any more
        // (the Vulkan memory importing it was freed first, see MappedBuffer::drop).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A VkBuffer bound to its own host-visible memory, mapped for the buffer's whole life.
///
/// Dropping (or [`MappedBuffer::free`]) unmaps and frees the memory. A pump that registered the
/// buffer as a window must be drained first: free windows by value after the pump's drain, so
/// the kernel is done with them (the borrow checker enforces this for dispatches, since a
/// [`crate::DescriptorSet`] borrows the buffers it binds).
pub struct MappedBuffer {
    ctx: Context,
    buffer: vk::Buffer,
    memory: vk::DeviceMemory,
    ptr: NonNull<u8>,
    len: usize,
    memory_type: u32,
    flags: vk::MemoryPropertyFlags,
    placement: Placement,
    host: Option<HostMapping>,
}

// SAFETY: the mapping is process-wide memory; every accessor is either atomic or a raw copy the
// caller orders with the protocol; Vulkan handles may be used from any thread.
unsafe impl Send for MappedBuffer {}
// SAFETY: as above; no accessor takes `&self` into non-atomic shared state.
unsafe impl Sync for MappedBuffer {}

impl fmt::Debug for MappedBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedBuffer")
            .field("len", &self.len)
            .field("placement", &self.placement)
            .field("memory_type", &self.memory_type)
            .field("flags", &self.flags)
            .finish()
    }
}

const USAGE: vk::BufferUsageFlags = vk::BufferUsageFlags::from_raw(
    vk::BufferUsageFlags::STORAGE_BUFFER.as_raw()
        | vk::BufferUsageFlags::TRANSFER_SRC.as_raw()
        | vk::BufferUsageFlags::TRANSFER_DST.as_raw(),
);

impl MappedBuffer {
    /// Allocates `len` bytes (rounded up to 4 KiB) in `placement`, mapped and zeroed.
    ///
    /// The memory is zeroed by the host here, so do not allocate large ReBAR buffers in a hot
    /// path.
    pub fn new(ctx: &Context, len: usize, placement: Placement) -> Result<MappedBuffer> {
        if len == 0 {
            return Err(Error::Invalid("a buffer needs at least one byte".into()));
        }
        let len = len.div_ceil(4096) * 4096;
        let b = match placement {
            Placement::ImportedHost => Self::new_imported(ctx, len)?,
            _ => Self::new_device(ctx, len, placement)?,
        };
        // SAFETY: freshly mapped, `len` bytes, nothing else has the pointer yet.
        unsafe { std::ptr::write_bytes(b.ptr.as_ptr(), 0, len) };
        Ok(b)
    }

    fn create_buffer(ctx: &Context, len: usize, external: bool) -> Result<vk::Buffer> {
        let mut ext = vk::ExternalMemoryBufferCreateInfo::default()
            .handle_types(vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT);
        let mut info = vk::BufferCreateInfo::default()
            .size(len as u64)
            .usage(USAGE)
            .sharing_mode(vk::SharingMode::EXCLUSIVE);
        if external {
            info = info.push_next(&mut ext);
        }
        // SAFETY: the device is valid and `info` lives across the call.
        unsafe { ctx.device().create_buffer(&info, None) }.vk("vkCreateBuffer")
    }

    fn new_device(ctx: &Context, len: usize, placement: Placement) -> Result<MappedBuffer> {
        let dev = ctx.device();
        let buffer = Self::create_buffer(ctx, len, false)?;
        let guard = BufferGuard {
            ctx,
            buffer,
            memory: vk::DeviceMemory::null(),
        };
        // SAFETY: `buffer` was just created on this device.
        let req = unsafe { dev.get_buffer_memory_requirements(buffer) };
        let memory_type =
            choose_memory_type(ctx, req.memory_type_bits, placement).ok_or_else(|| {
                Error::NoMemoryType {
                    device: ctx.info().name.clone(),
                    placement,
                    needs: format!("{:?}", placement.required()),
                }
            })?;
        let alloc = vk::MemoryAllocateInfo::default()
            .allocation_size(req.size)
            .memory_type_index(memory_type);
        // SAFETY: valid device, type index from the device's own list.
        let memory = unsafe { dev.allocate_memory(&alloc, None) }.vk("vkAllocateMemory")?;
        let mut guard = guard;
        guard.memory = memory;
        // SAFETY: buffer and memory belong to this device; the memory was sized by the
        // buffer's requirements; it is host-visible (required flags), so it can be mapped.
        let ptr = unsafe {
            dev.bind_buffer_memory(buffer, memory, 0)
                .vk("vkBindBufferMemory")?;
            dev.map_memory(memory, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty())
                .vk("vkMapMemory")?
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(Error::Vk {
            call: "vkMapMemory",
            result: vk::Result::ERROR_MEMORY_MAP_FAILED,
        })?;
        std::mem::forget(guard);
        Ok(MappedBuffer {
            ctx: ctx.clone(),
            buffer,
            memory,
            ptr,
            len,
            memory_type,
            flags: ctx.memory_type_flags(memory_type),
            placement,
            host: None,
        })
    }

    fn new_imported(ctx: &Context, len: usize) -> Result<MappedBuffer> {
        let ext = ctx
            .inner
            .host_import
            .as_ref()
            .ok_or_else(|| Error::NoHostImport(ctx.info().name.clone()))?;
        let align = ctx.info().host_import_alignment.unwrap_or(4096).max(4096) as usize;
        let len = len.div_ceil(align) * align;
        // SAFETY: anonymous private mapping, no address hint; checked for MAP_FAILED below.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(Error::Mmap {
                len,
                source: std::io::Error::last_os_error(),
            });
        }
        let host = HostMapping {
            ptr: NonNull::new(raw.cast()).expect("mmap returned null"),
            len,
        };
        let handle = vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT;
        let mut props = vk::MemoryHostPointerPropertiesEXT::default();
        // SAFETY: ash 0.38 has no wrapper for vkGetMemoryHostPointerPropertiesEXT, so the fp
        // table is called directly; the pointer is a live, page-aligned mapping we own, and
        // `props` lives across the call.
        let r = unsafe {
            (ext.fp().get_memory_host_pointer_properties_ext)(
                ctx.device().handle(),
                handle,
                raw,
                &mut props,
            )
        };
        r.result().vk("vkGetMemoryHostPointerPropertiesEXT")?;
        let memory_type = choose_memory_type(ctx, props.memory_type_bits, Placement::ImportedHost)
            .ok_or_else(|| Error::NoMemoryType {
                device: ctx.info().name.clone(),
                placement: Placement::ImportedHost,
                needs: "HOST_VISIBLE | HOST_COHERENT among the importable types".into(),
            })?;
        let dev = ctx.device();
        let buffer = Self::create_buffer(ctx, len, true)?;
        let mut guard = BufferGuard {
            ctx,
            buffer,
            memory: vk::DeviceMemory::null(),
        };
        // SAFETY: buffer created on this device just above.
        let req = unsafe { dev.get_buffer_memory_requirements(buffer) };
        if req.memory_type_bits & (1 << memory_type) == 0 || req.size > len as u64 {
            return Err(Error::NoMemoryType {
                device: ctx.info().name.clone(),
                placement: Placement::ImportedHost,
                needs: format!("type {memory_type} for an external buffer of {len} bytes"),
            });
        }
        let mut import = vk::ImportMemoryHostPointerInfoEXT::default()
            .handle_type(handle)
            .host_pointer(raw);
        let alloc = vk::MemoryAllocateInfo::default()
            .allocation_size(len as u64)
            .memory_type_index(memory_type)
            .push_next(&mut import);
        // SAFETY: the host pointer is aligned to the import alignment and `len` is a multiple
        // of it; the mapping outlives the memory object (MappedBuffer frees memory first).
        let memory =
            unsafe { dev.allocate_memory(&alloc, None) }.vk("vkAllocateMemory (host import)")?;
        guard.memory = memory;
        // SAFETY: buffer and memory belong to this device; the memory covers the buffer.
        unsafe { dev.bind_buffer_memory(buffer, memory, 0) }.vk("vkBindBufferMemory")?;
        std::mem::forget(guard);
        Ok(MappedBuffer {
            ctx: ctx.clone(),
            buffer,
            memory,
            ptr: host.ptr,
            len,
            memory_type,
            flags: ctx.memory_type_flags(memory_type),
            placement: Placement::ImportedHost,
            host: Some(host),
        })
    }

    /// Frees the buffer. Taking it by value is the point: call this only after every user of
    /// the memory is done (the pump drained, dispatches finished, io_uring unregistered).
    pub fn free(self) {
        drop(self);
    }

    /// The Vulkan buffer handle.
    #[must_use]
    pub fn buffer(&self) -> vk::Buffer {
        self.buffer
    }

    /// Bytes mapped (a multiple of 4096).
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: buffers have at least 4096 bytes. (For clippy's `len_without_is_empty`.)
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The mapped pointer, page aligned: for `gdio_protocol::Region::from_raw_parts` and for
    /// io_uring window registration. Valid until the buffer is freed.
    #[must_use]
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Where the memory lives.
    #[must_use]
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// The memory type index backing the buffer.
    #[must_use]
    pub fn memory_type(&self) -> u32 {
        self.memory_type
    }

    /// The memory type's property flags (as the device reports them, e.g. to check that a
    /// `rebar` buffer really is DEVICE_LOCAL | HOST_VISIBLE).
    #[must_use]
    pub fn memory_flags(&self) -> vk::MemoryPropertyFlags {
        self.flags
    }

    /// The context the buffer was made on.
    #[must_use]
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The whole buffer as 32-bit atomic words.
    #[must_use]
    pub fn words(&self) -> &[AtomicU32] {
        // SAFETY: the mapping is 4096-aligned, `len` bytes, valid while `self` lives; the host
        // only touches it through these atomics or raw copies (never `&`/`&mut` to plain data),
        // and a GPU is a foreign agent writing whole words, like another process sharing memory.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<AtomicU32>(), self.len / 4) }
    }

    /// The whole buffer as 64-bit atomic words (for a pair of words the device must see
    /// together; an aligned 64-bit store is one store, on ReBAR too).
    #[must_use]
    pub fn words64(&self) -> &[AtomicU64] {
        // SAFETY: as `words`; the mapping is 4096-aligned, so 8-aligned, and `len / 8` words
        // stay inside it.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<AtomicU64>(), self.len / 8) }
    }

    /// A protocol region over bytes `offset..offset + len` (both multiples of 64).
    pub fn region(&self, offset: usize, len: usize) -> Result<Region<'_>> {
        self.check(offset, len)?;
        if offset % 64 != 0 {
            return Err(Error::Invalid(format!(
                "queue regions must be 64-byte aligned, got offset {offset}"
            )));
        }
        Ok(Region::new(&self.words()[offset / 4..(offset + len) / 4]))
    }

    fn check(&self, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::OutOfRange {
                offset: offset as u64,
                len: len as u64,
                size: self.len as u64,
            }),
        }
    }

    /// Relaxed atomic load of word `index`.
    #[must_use]
    pub fn load_u32(&self, index: usize) -> u32 {
        self.words()[index].load(Ordering::Relaxed)
    }

    /// Acquire load of word `index` (pairs with a device release store).
    #[must_use]
    pub fn load_u32_acquire(&self, index: usize) -> u32 {
        self.words()[index].load(Ordering::Acquire)
    }

    /// Relaxed atomic store of word `index`.
    pub fn store_u32(&self, index: usize, value: u32) {
        self.words()[index].store(value, Ordering::Relaxed);
    }

    /// Release store of word `index`, after a full fence (also orders write-combined ReBAR
    /// stores on x86), then another full fence so the store leaves the write-combining buffer.
    pub fn store_u32_release(&self, index: usize, value: u32) {
        std::sync::atomic::fence(Ordering::SeqCst);
        self.words()[index].store(value, Ordering::Release);
        std::sync::atomic::fence(Ordering::SeqCst);
    }

    /// Copies `data` into the buffer at byte `offset` (memcpy; what a READ into a window does).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.check(offset, data.len())?;
        // SAFETY: in bounds (checked); the source is a distinct Rust slice; the destination is
        // shared memory reached only through raw pointers, never a Rust reference.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len())
        };
        Ok(())
    }

    /// Copies bytes at `offset` out into `out`. Slow on ReBAR (about 7 MB/s on NVIDIA): read
    /// only host-cached buffers in hot paths.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<()> {
        self.check(offset, out.len())?;
        // SAFETY: in bounds (checked); `out` is a distinct, exclusively borrowed Rust slice.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        Ok(())
    }

    /// `len` bytes at `offset`, copied out.
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        let mut v = vec![0u8; len];
        self.read(offset, &mut v)?;
        Ok(v)
    }

    /// Copies `words` into the buffer at word index `index`.
    pub fn write_u32s(&self, index: usize, words: &[u32]) -> Result<()> {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.write(index * 4, &bytes)
    }

    /// `n` words from word index `index` (relaxed atomic loads).
    pub fn read_u32s(&self, index: usize, n: usize) -> Result<Vec<u32>> {
        self.check(index * 4, n * 4)?;
        Ok(self.words()[index..index + n]
            .iter()
            .map(|w| w.load(Ordering::Relaxed))
            .collect())
    }

    /// Sets `len` bytes at `offset` to `byte`.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<()> {
        self.check(offset, len)?;
        // SAFETY: in bounds (checked); raw write to shared memory.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(offset), byte, len) };
        Ok(())
    }
}

impl Drop for MappedBuffer {
    fn drop(&mut self) {
        // A forgotten Dispatch (mem::forget) no longer borrows the buffer: wait for its
        // submission rather than free memory the GPU may still write.
        self.ctx.wait_unused(self.buffer.as_raw());
        let dev = self.ctx.device();
        // SAFETY: the caller is done with the buffer (documented on the type and on `free`);
        // the buffer and memory belong to this device. Memory is freed before `host` (the
        // imported mapping) is unmapped by its own Drop after this function.
        unsafe {
            if self.host.is_none() {
                dev.unmap_memory(self.memory);
            }
            dev.destroy_buffer(self.buffer, None);
            dev.free_memory(self.memory, None);
        }
    }
}

/// Destroys a half-made buffer on an error path.
struct BufferGuard<'a> {
    ctx: &'a Context,
    buffer: vk::Buffer,
    memory: vk::DeviceMemory,
}

impl Drop for BufferGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: both handles (or null) were made on this device and nothing uses them yet.
        unsafe {
            self.ctx.device().destroy_buffer(self.buffer, None);
            if self.memory != vk::DeviceMemory::null() {
                self.ctx.device().free_memory(self.memory, None);
            }
        }
    }
}
