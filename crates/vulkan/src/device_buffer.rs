//! Device-local memory the host never maps: where a GPU keeps data its shaders read at full
//! speed. The host reaches it only through a [`crate::CopyQueue`].

use std::fmt;

use ash::vk;
use ash::vk::Handle as _;

use crate::context::Context;
use crate::error::{Error, Result, VkContext};

/// A VkBuffer in device-local memory, not mapped: bind it to shaders (through
/// [`crate::BufferSlice`]) and fill or drain it with a [`crate::CopyQueue`].
///
/// The memory type is device-local and, where the device has one, not host-visible (the whole
/// of a discrete GPU's memory rather than its BAR window). Its bytes start undefined.
pub struct DeviceBuffer {
    ctx: Context,
    buffer: vk::Buffer,
    memory: vk::DeviceMemory,
    len: usize,
    memory_type: u32,
}

impl fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceBuffer")
            .field("len", &self.len)
            .field("memory_type", &self.memory_type)
            .finish()
    }
}

/// Device-local without host-visible first, then any device-local type, among `bits`.
fn device_local_type(ctx: &Context, bits: u32) -> Option<u32> {
    let types = ctx
        .info()
        .memory_types
        .iter()
        .filter(|t| bits & (1 << t.index) != 0);
    let local =
        |t: &&crate::MemoryTypeInfo| t.flags.contains(vk::MemoryPropertyFlags::DEVICE_LOCAL);
    let hidden =
        |t: &&crate::MemoryTypeInfo| !t.flags.contains(vk::MemoryPropertyFlags::HOST_VISIBLE);
    types
        .clone()
        .filter(local)
        .find(hidden)
        .or_else(|| types.clone().find(local))
        .map(|t| t.index)
}

impl DeviceBuffer {
    /// Allocates `len` bytes (rounded up to 4 KiB) of device-local memory, usable as a storage
    /// buffer and as the source and destination of copies, shared between the compute queue's
    /// family and the copy queue's ([`Context::copy_queue_family`]) where they differ.
    pub fn new(ctx: &Context, len: usize) -> Result<DeviceBuffer> {
        let families: Vec<u32> = ctx.copy_queue_family().into_iter().collect();
        DeviceBuffer::shared(ctx, len, &families)
    }

    /// As [`DeviceBuffer::new`], shared between the compute queue's family and `families`
    /// (for a copy queue on an application's device, [`crate::CopyQueue::on_queue`]). Shared
    /// (`VK_SHARING_MODE_CONCURRENT`) because the two queues use it at once, with no ownership
    /// transfer possible while a persistent dispatch runs.
    pub fn shared(ctx: &Context, len: usize, families: &[u32]) -> Result<DeviceBuffer> {
        if len == 0 {
            return Err(Error::Invalid("a buffer needs at least one byte".into()));
        }
        let len = len.div_ceil(4096) * 4096;
        let dev = ctx.device();
        let info = vk::BufferCreateInfo::default()
            .size(len as u64)
            .usage(
                vk::BufferUsageFlags::STORAGE_BUFFER
                    | vk::BufferUsageFlags::TRANSFER_SRC
                    | vk::BufferUsageFlags::TRANSFER_DST,
            )
            .sharing_mode(vk::SharingMode::EXCLUSIVE);
        let mut all = vec![ctx.queue_family()];
        all.extend(
            families
                .iter()
                .copied()
                .filter(|f| *f != ctx.queue_family()),
        );
        all.dedup();
        let info = if all.len() > 1 {
            info.sharing_mode(vk::SharingMode::CONCURRENT)
                .queue_family_indices(&all)
        } else {
            info
        };
        // SAFETY: the device is valid and `info` (with `all`) lives across the call.
        let buffer = unsafe { dev.create_buffer(&info, None) }.vk("vkCreateBuffer")?;
        // SAFETY: `buffer` was just created on this device.
        let req = unsafe { dev.get_buffer_memory_requirements(buffer) };
        let Some(memory_type) = device_local_type(ctx, req.memory_type_bits) else {
            // SAFETY: nothing uses the buffer yet.
            unsafe { dev.destroy_buffer(buffer, None) };
            return Err(Error::Invalid(format!(
                "{} offers no device-local memory type for a storage buffer",
                ctx.info().name
            )));
        };
        let alloc = vk::MemoryAllocateInfo::default()
            .allocation_size(req.size)
            .memory_type_index(memory_type);
        // SAFETY: valid device; the type index comes from the device's own list; on failure
        // the buffer, which nothing uses, is destroyed.
        let memory = match unsafe { dev.allocate_memory(&alloc, None) } {
            Ok(m) => m,
            Err(result) => {
                // SAFETY: nothing uses the buffer yet.
                unsafe { dev.destroy_buffer(buffer, None) };
                return Err(Error::Vk {
                    call: "vkAllocateMemory",
                    result,
                });
            }
        };
        // SAFETY: buffer and memory belong to this device; the memory was sized by the
        // buffer's requirements.
        if let Err(result) = unsafe { dev.bind_buffer_memory(buffer, memory, 0) } {
            // SAFETY: nothing uses either yet.
            unsafe {
                dev.destroy_buffer(buffer, None);
                dev.free_memory(memory, None);
            }
            return Err(Error::Vk {
                call: "vkBindBufferMemory",
                result,
            });
        }
        Ok(DeviceBuffer {
            ctx: ctx.clone(),
            buffer,
            memory,
            len,
            memory_type,
        })
    }

    /// The Vulkan buffer.
    #[must_use]
    pub fn buffer(&self) -> vk::Buffer {
        self.buffer
    }

    /// Length in bytes (a multiple of 4 KiB).
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: a buffer has at least 4 KiB.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The memory type it was allocated from.
    #[must_use]
    pub fn memory_type(&self) -> u32 {
        self.memory_type
    }

    /// Property flags of its memory type.
    #[must_use]
    pub fn memory_flags(&self) -> vk::MemoryPropertyFlags {
        self.ctx.memory_type_flags(self.memory_type)
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // A forgotten Dispatch no longer borrows the buffer: wait for its submission. Copies
        // that name it hold an Arc of it (CopyQueue), so none is in flight here.
        self.ctx.wait_unused(self.buffer.as_raw());
        // SAFETY: nothing uses the buffer any more (above); both handles belong to this device.
        unsafe {
            self.ctx.device().destroy_buffer(self.buffer, None);
            self.ctx.device().free_memory(self.memory, None);
        }
    }
}
