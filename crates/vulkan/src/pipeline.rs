//! Compute pipelines from SPIR-V, with a descriptor set layout of N storage buffers at set 0,
//! bindings 0..N, and an optional push-constant block.
//!
//! A convenience, not a requirement: an application with its own pipelines, layouts and sets
//! binds gdio's regions and windows as any storage buffer ([`BufferSlice::descriptor_info`]
//! gives buffer, offset and range), sets `GDIO_SET` and the binding defines before including
//! `gdio.glsl`, and gives the library's specialization constants 0-2 the values
//! [`ComputePipeline::new`] gives them (or leaves their defaults on a GPU).

use std::marker::PhantomData;

use ash::vk;
use ash::vk::Handle as _;

use crate::context::Context;
use crate::device_buffer::DeviceBuffer;
use crate::error::{Error, Result, VkContext};
use crate::memory::MappedBuffer;
use crate::shaders;

/// Converts a SPIR-V blob (e.g. from `include_bytes!`) into words, checking the magic number.
pub fn spirv_words(bytes: &[u8]) -> Result<Vec<u32>> {
    if bytes.len() % 4 != 0 {
        return Err(Error::BadSpirv("length is not a multiple of 4"));
    }
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if words.first() != Some(&0x0723_0203) {
        return Err(Error::BadSpirv("no SPIR-V magic number"));
    }
    Ok(words)
}

/// A compute pipeline whose shader uses storage buffers at set 0, bindings `0..bindings`.
///
/// By the GLSL library's convention binding 0 is the request region and binding 1 the
/// completion region; the rest are the shader's windows and user buffers.
pub struct ComputePipeline {
    ctx: Context,
    set_layout: vk::DescriptorSetLayout,
    layout: vk::PipelineLayout,
    pipeline: vk::Pipeline,
    bindings: u32,
    push_bytes: u32,
}

impl std::fmt::Debug for ComputePipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputePipeline")
            .field("bindings", &self.bindings)
            .field("push_bytes", &self.push_bytes)
            .finish()
    }
}

impl ComputePipeline {
    /// Builds the pipeline from `spirv` (entry point `main`), `bindings` storage buffers and
    /// `push_constant_bytes` bytes of push constants (0 for none; a multiple of 4, at most 128).
    ///
    /// On lavapipe the shader is compiled to machine code at the first dispatch (tens of ms,
    /// seconds for a big polling shader on 2 cores); later runs hit Mesa's disk cache.
    pub fn new(
        ctx: &Context,
        spirv: &[u8],
        bindings: u32,
        push_constant_bytes: u32,
    ) -> Result<ComputePipeline> {
        let group = shaders::walker_lanes_per_group(ctx.info().is_cpu());
        Self::with_walker_shape(ctx, spirv, bindings, push_constant_bytes, group, 1)
    }

    /// As [`ComputePipeline::new`], with specialization constant 1 (the workgroup size of
    /// shaders whose lanes walk alone) set to `walker_group` instead of
    /// [`shaders::walker_lanes_per_group`] (a resident kernel with more lanes than a GPU can hold
    /// as one workgroup each packs them [`shaders::LANES_PER_GROUP`] to a workgroup), and
    /// constant 2 (the invocations of each walker of btree_serve.comp: 1, or a whole subgroup
    /// that searches each node together, see [`shaders::walker_invocations`]) set to
    /// `walker_invocations`. With more than one, `walker_group` must equal it: each workgroup
    /// is one walker.
    pub fn with_walker_shape(
        ctx: &Context,
        spirv: &[u8],
        bindings: u32,
        push_constant_bytes: u32,
        walker_group: u32,
        walker_invocations: u32,
    ) -> Result<ComputePipeline> {
        Self::build(
            ctx,
            spirv,
            bindings,
            push_constant_bytes,
            [walker_group, walker_invocations],
            &[],
        )
    }

    /// As [`ComputePipeline::new`], with the shader's own specialization constants: `(id,
    /// value)` pairs of 32-bit constants. Ids 0-2 belong to `gdio.glsl` and the library's
    /// walkers and are refused; use ids from 3.
    pub fn with_constants(
        ctx: &Context,
        spirv: &[u8],
        bindings: u32,
        push_constant_bytes: u32,
        constants: &[(u32, u32)],
    ) -> Result<ComputePipeline> {
        if let Some((id, _)) = constants.iter().find(|(id, _)| *id <= 2) {
            return Err(Error::Invalid(format!(
                "specialization constant {id} belongs to gdio.glsl (ids 0-2): give the shader's own constants ids from 3"
            )));
        }
        let mut ids: Vec<u32> = constants.iter().map(|&(id, _)| id).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::Invalid(format!(
                "specialization constant {} is given twice: give each id once",
                w[0]
            )));
        }
        let group = shaders::walker_lanes_per_group(ctx.info().is_cpu());
        Self::build(
            ctx,
            spirv,
            bindings,
            push_constant_bytes,
            [group, 1],
            constants,
        )
    }

    fn build(
        ctx: &Context,
        spirv: &[u8],
        bindings: u32,
        push_constant_bytes: u32,
        [walker_group, walker_invocations]: [u32; 2],
        constants: &[(u32, u32)],
    ) -> Result<ComputePipeline> {
        if walker_invocations > 1 && walker_invocations != walker_group {
            return Err(Error::Invalid(format!(
                "a walker of {walker_invocations} invocations needs a workgroup of as many, got {walker_group}"
            )));
        }
        if push_constant_bytes % 4 != 0 || push_constant_bytes > 128 {
            return Err(Error::Invalid(format!(
                "push constants must be a multiple of 4 bytes and at most 128, got {push_constant_bytes}"
            )));
        }
        let code = spirv_words(spirv)?;
        let dev = ctx.device();
        let mut p = ComputePipeline {
            ctx: ctx.clone(),
            set_layout: vk::DescriptorSetLayout::null(),
            layout: vk::PipelineLayout::null(),
            pipeline: vk::Pipeline::null(),
            bindings,
            push_bytes: push_constant_bytes,
        };
        let binds: Vec<_> = (0..bindings)
            .map(|b| {
                vk::DescriptorSetLayoutBinding::default()
                    .binding(b)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::COMPUTE)
            })
            .collect();
        let set_info = vk::DescriptorSetLayoutCreateInfo::default().bindings(&binds);
        // SAFETY: valid device; the create infos live across each call. Handles are stored in
        // `p` as soon as they exist, so its Drop cleans up on any later error.
        unsafe {
            p.set_layout = dev
                .create_descriptor_set_layout(&set_info, None)
                .vk("vkCreateDescriptorSetLayout")?;
            let ranges = [vk::PushConstantRange::default()
                .stage_flags(vk::ShaderStageFlags::COMPUTE)
                .offset(0)
                .size(push_constant_bytes)];
            let set_layouts = [p.set_layout];
            let mut layout_info = vk::PipelineLayoutCreateInfo::default().set_layouts(&set_layouts);
            if push_constant_bytes > 0 {
                layout_info = layout_info.push_constant_ranges(&ranges);
            }
            p.layout = dev
                .create_pipeline_layout(&layout_info, None)
                .vk("vkCreatePipelineLayout")?;
            let module_info = vk::ShaderModuleCreateInfo::default().code(&code);
            let module = dev
                .create_shader_module(&module_info, None)
                .vk("vkCreateShaderModule")?;
            // Specialization constant 0 (gdio.glsl's GDIO_SUBGROUP_ITERS): count loop
            // iterations per subgroup only where loops are capped (CPU devices); GPUs compile the
            // subgroup reduction away. Constant 1: the workgroup size of shaders whose lanes
            // walk alone (shaders::walker_lanes_per_group). Constant 2: invocations per walker.
            // Shaders without a constant ignore its entry.
            let cpu = ctx.info().is_cpu();
            let words: Vec<u32> = [
                u32::from(cpu),
                walker_group.max(1),
                walker_invocations.max(1),
            ]
            .into_iter()
            .chain(constants.iter().map(|&(_, v)| v))
            .collect();
            let spec_data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            let spec_entries: Vec<_> = (0..3u32)
                .chain(constants.iter().map(|&(id, _)| id))
                .enumerate()
                .map(|(i, id)| {
                    vk::SpecializationMapEntry::default()
                        .constant_id(id)
                        .offset(4 * i as u32)
                        .size(4)
                })
                .collect();
            let spec = vk::SpecializationInfo::default()
                .map_entries(&spec_entries)
                .data(&spec_data);
            let stage = vk::PipelineShaderStageCreateInfo::default()
                .stage(vk::ShaderStageFlags::COMPUTE)
                .module(module)
                .name(c"main")
                .specialization_info(&spec);
            let info = [vk::ComputePipelineCreateInfo::default()
                .stage(stage)
                .layout(p.layout)];
            let made = dev.create_compute_pipelines(vk::PipelineCache::null(), &info, None);
            dev.destroy_shader_module(module, None);
            p.pipeline = made.map_err(|(_, r)| r).vk("vkCreateComputePipelines")?[0];
        }
        Ok(p)
    }

    /// Number of storage-buffer bindings.
    #[must_use]
    pub fn bindings(&self) -> u32 {
        self.bindings
    }

    /// Bytes of push constants the pipeline takes.
    #[must_use]
    pub fn push_constant_bytes(&self) -> u32 {
        self.push_bytes
    }

    pub(crate) fn raw(&self) -> (vk::Pipeline, vk::PipelineLayout) {
        (self.pipeline, self.layout)
    }

    /// Makes a descriptor set binding `buffers[i]` at binding `i`. The set borrows the buffers,
    /// so none can be freed while the set (or a dispatch using it) exists.
    pub fn bind<'a>(&self, buffers: &[BufferSlice<'a>]) -> Result<DescriptorSet<'a>> {
        if buffers.len() != self.bindings as usize {
            return Err(Error::Invalid(format!(
                "pipeline has {} bindings, got {} buffers",
                self.bindings,
                buffers.len()
            )));
        }
        let align = self.ctx.info().min_storage_buffer_offset_alignment.max(1);
        for (i, b) in buffers.iter().enumerate() {
            if b.offset % align != 0 {
                return Err(Error::Invalid(format!(
                    "binding {i}: offset {} is not a multiple of minStorageBufferOffsetAlignment {align}",
                    b.offset
                )));
            }
        }
        let dev = self.ctx.device();
        let sizes = [vk::DescriptorPoolSize::default()
            .ty(vk::DescriptorType::STORAGE_BUFFER)
            .descriptor_count(self.bindings.max(1))];
        let pool_info = vk::DescriptorPoolCreateInfo::default()
            .max_sets(1)
            .pool_sizes(&sizes);
        // SAFETY: valid device; infos live across the calls; the pool is destroyed on error.
        unsafe {
            let pool = dev
                .create_descriptor_pool(&pool_info, None)
                .vk("vkCreateDescriptorPool")?;
            let layouts = [self.set_layout];
            let alloc = vk::DescriptorSetAllocateInfo::default()
                .descriptor_pool(pool)
                .set_layouts(&layouts);
            let set = match dev.allocate_descriptor_sets(&alloc) {
                Ok(s) => s[0],
                Err(result) => {
                    dev.destroy_descriptor_pool(pool, None);
                    return Err(Error::Vk {
                        call: "vkAllocateDescriptorSets",
                        result,
                    });
                }
            };
            let infos: Vec<[vk::DescriptorBufferInfo; 1]> = buffers
                .iter()
                .map(|b| {
                    [vk::DescriptorBufferInfo::default()
                        .buffer(b.buffer)
                        .offset(b.offset)
                        .range(b.len)]
                })
                .collect();
            let writes: Vec<_> = infos
                .iter()
                .enumerate()
                .map(|(i, info)| {
                    vk::WriteDescriptorSet::default()
                        .dst_set(set)
                        .dst_binding(i as u32)
                        .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                        .buffer_info(info)
                })
                .collect();
            dev.update_descriptor_sets(&writes, &[]);
            Ok(DescriptorSet {
                ctx: self.ctx.clone(),
                pool,
                set,
                buffers: buffers.iter().map(|b| b.buffer).collect(),
                _buffers: PhantomData,
            })
        }
    }
}

impl Drop for ComputePipeline {
    fn drop(&mut self) {
        self.ctx.wait_unused(self.pipeline.as_raw());
        let dev = self.ctx.device();
        // SAFETY: handles (or null) made on this device; a Dispatch borrows the pipeline, and a
        // forgotten one was waited for above, so none is executing.
        unsafe {
            dev.destroy_pipeline(self.pipeline, None);
            dev.destroy_pipeline_layout(self.layout, None);
            dev.destroy_descriptor_set_layout(self.set_layout, None);
        }
    }
}

/// A byte range of a [`MappedBuffer`] or a [`DeviceBuffer`] to bind as one storage buffer.
#[derive(Debug, Clone, Copy)]
pub struct BufferSlice<'a> {
    buffer: vk::Buffer,
    offset: u64,
    len: u64,
    _borrow: PhantomData<&'a ()>,
}

impl<'a> BufferSlice<'a> {
    /// The whole buffer.
    #[must_use]
    pub fn whole(buffer: &'a MappedBuffer) -> BufferSlice<'a> {
        BufferSlice {
            buffer: buffer.buffer(),
            offset: 0,
            len: buffer.len() as u64,
            _borrow: PhantomData,
        }
    }

    /// The whole of a device-local buffer.
    #[must_use]
    pub fn whole_device(buffer: &'a DeviceBuffer) -> BufferSlice<'a> {
        BufferSlice {
            buffer: buffer.buffer(),
            offset: 0,
            len: buffer.len() as u64,
            _borrow: PhantomData,
        }
    }

    /// Bytes `offset..offset + len` (e.g. one region of a combined queue buffer).
    pub fn range(buffer: &'a MappedBuffer, offset: usize, len: usize) -> Result<BufferSlice<'a>> {
        if offset.checked_add(len).is_none_or(|e| e > buffer.len()) || len == 0 {
            return Err(Error::OutOfRange {
                offset: offset as u64,
                len: len as u64,
                size: buffer.len() as u64,
            });
        }
        Ok(BufferSlice {
            buffer: buffer.buffer(),
            offset: offset as u64,
            len: len as u64,
            _borrow: PhantomData,
        })
    }
}

impl BufferSlice<'_> {
    /// The Vulkan buffer.
    #[must_use]
    pub fn buffer(&self) -> vk::Buffer {
        self.buffer
    }

    /// Where the slice starts in the buffer, in bytes.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Its length in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Never: a slice has at least one byte.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buffer, offset and range, for an application that writes its own descriptor sets (as
    /// a storage buffer). The slice's borrow of the buffer ends here: the application keeps
    /// the buffer alive while its sets and dispatches use it.
    pub fn descriptor_info(&self) -> vk::DescriptorBufferInfo {
        vk::DescriptorBufferInfo {
            buffer: self.buffer,
            offset: self.offset,
            range: self.len,
        }
    }
}

impl<'a> From<&'a MappedBuffer> for BufferSlice<'a> {
    fn from(b: &'a MappedBuffer) -> Self {
        BufferSlice::whole(b)
    }
}

impl<'a> From<&'a DeviceBuffer> for BufferSlice<'a> {
    fn from(b: &'a DeviceBuffer) -> Self {
        BufferSlice::whole_device(b)
    }
}

/// A descriptor set (with its own pool) binding buffers it borrows for `'a`.
pub struct DescriptorSet<'a> {
    ctx: Context,
    pool: vk::DescriptorPool,
    set: vk::DescriptorSet,
    /// The buffers bound, as the Context's record of submissions names them.
    buffers: Vec<vk::Buffer>,
    _buffers: PhantomData<&'a MappedBuffer>,
}

impl std::fmt::Debug for DescriptorSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DescriptorSet").finish_non_exhaustive()
    }
}

impl DescriptorSet<'_> {
    pub(crate) fn raw(&self) -> vk::DescriptorSet {
        self.set
    }

    /// What a submission that uses this set uses: the set and every buffer it binds.
    pub(crate) fn resources(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::once(self.set.as_raw()).chain(self.buffers.iter().map(|b| b.as_raw()))
    }
}

impl Drop for DescriptorSet<'_> {
    fn drop(&mut self) {
        // A forgotten Dispatch (mem::forget) no longer borrows the set: wait for its submission.
        self.ctx.wait_unused(self.set.as_raw());
        // SAFETY: the pool was made on this device; no submission that uses the set is
        // executing (a Dispatch borrows it, and a forgotten one was waited for above).
        unsafe { self.ctx.device().destroy_descriptor_pool(self.pool, None) };
    }
}
