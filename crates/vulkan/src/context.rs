//! The Vulkan context: loader, instance, one device with one compute queue, and what the
//! device offers (memory types, heaps, the features gdio needs).

use std::ffi::CStr;
use std::fmt;
use std::sync::{Arc, Mutex};

use ash::vk;

use crate::error::{Error, Result, VkContext};

/// Environment variable that picks the device: an index (`0`) or a name substring (`H100`).
pub const DEVICE_ENV: &str = "GDIO_DEVICE";

/// Which physical device to use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceSelector {
    /// First discrete GPU, else integrated, else virtual, else CPU (lavapipe).
    #[default]
    Auto,
    /// The device at this index in the loader's enumeration.
    Index(usize),
    /// The first device whose name contains this (case-insensitive).
    Name(String),
}

impl DeviceSelector {
    /// Reads [`DEVICE_ENV`]: unset or empty is `Auto`, digits an index, anything else a name.
    #[must_use]
    pub fn from_env() -> DeviceSelector {
        match std::env::var(DEVICE_ENV) {
            Ok(s) => DeviceSelector::parse(&s),
            Err(_) => DeviceSelector::Auto,
        }
    }

    /// Parses a selector: empty or `auto` is `Auto`, digits an index, anything else a name.
    #[must_use]
    pub fn parse(s: &str) -> DeviceSelector {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("auto") {
            DeviceSelector::Auto
        } else if let Ok(i) = s.parse() {
            DeviceSelector::Index(i)
        } else {
            DeviceSelector::Name(s.to_owned())
        }
    }
}

impl fmt::Display for DeviceSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSelector::Auto => f.write_str("auto"),
            DeviceSelector::Index(i) => write!(f, "{i}"),
            DeviceSelector::Name(n) => f.write_str(n),
        }
    }
}

/// One memory type, as the device reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryTypeInfo {
    /// Index in the device's memory types.
    pub index: u32,
    /// Property flags.
    pub flags: vk::MemoryPropertyFlags,
    /// The heap it allocates from.
    pub heap: u32,
}

/// One memory heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryHeapInfo {
    /// Index in the device's heaps.
    pub index: u32,
    /// Size in bytes.
    pub size: u64,
    /// Heap flags.
    pub flags: vk::MemoryHeapFlags,
}

/// What a device is and offers: printed by `gdio probe` and [`Context::devices`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Index in the loader's enumeration.
    pub index: usize,
    /// `deviceName`.
    pub name: String,
    /// Discrete, integrated, virtual, CPU or other.
    pub device_type: vk::PhysicalDeviceType,
    /// Driver name (`driverName`, e.g. "llvmpipe", "NVIDIA").
    pub driver_name: String,
    /// Driver info (`driverInfo`, e.g. "Mesa 22.3.6", "580.159.04").
    pub driver_info: String,
    /// Vulkan API version, as `major.minor.patch`.
    pub api_version: String,
    /// PCI vendor id.
    pub vendor_id: u32,
    /// Memory types.
    pub memory_types: Vec<MemoryTypeInfo>,
    /// Memory heaps.
    pub memory_heaps: Vec<MemoryHeapInfo>,
    /// `vulkanMemoryModel` and `vulkanMemoryModelDeviceScope` both supported.
    pub memory_model: bool,
    /// `timelineSemaphore` supported (a [`crate::CopyQueue`] signals one per batch).
    pub timeline_semaphore: bool,
    /// `shaderInt64` and `shaderBufferInt64Atomics` both supported (64-bit completion entries).
    pub int64_atomics: bool,
    /// Subgroup arithmetic in compute shaders (gdio.glsl's loop-iteration accounting).
    pub subgroup_arithmetic: bool,
    /// Subgroup ballot and shuffle in compute shaders (btree.glsl's cooperative node search,
    /// which btree_serve.comp carries whether it runs it or not).
    pub subgroup_shuffle: bool,
    /// Invocations per subgroup (`VkPhysicalDeviceSubgroupProperties::subgroupSize`).
    pub subgroup_size: u32,
    /// VK_EXT_external_memory_host's import alignment, if the extension is supported.
    pub host_import_alignment: Option<u64>,
    /// `maxStorageBufferRange`.
    pub max_storage_buffer_range: u32,
    /// `minStorageBufferOffsetAlignment`.
    pub min_storage_buffer_offset_alignment: u64,
}

impl DeviceInfo {
    /// True for lavapipe and other CPU implementations (which cap loops, see the GLSL docs).
    #[must_use]
    pub fn is_cpu(&self) -> bool {
        self.device_type == vk::PhysicalDeviceType::CPU
    }
}

/// A device type in words ("discrete GPU", "CPU", ...).
#[must_use]
pub fn type_name(t: vk::PhysicalDeviceType) -> &'static str {
    match t {
        vk::PhysicalDeviceType::DISCRETE_GPU => "discrete GPU",
        vk::PhysicalDeviceType::INTEGRATED_GPU => "integrated GPU",
        vk::PhysicalDeviceType::VIRTUAL_GPU => "virtual GPU",
        vk::PhysicalDeviceType::CPU => "CPU",
        _ => "other",
    }
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "device {}: {} ({})",
            self.index,
            self.name,
            type_name(self.device_type)
        )?;
        writeln!(
            f,
            "  driver {} {}, Vulkan {}, vendor {:#06x}",
            self.driver_name, self.driver_info, self.api_version, self.vendor_id
        )?;
        writeln!(
            f,
            "  memory model: {}; VK_EXT_external_memory_host: {}",
            if self.memory_model { "yes" } else { "NO" },
            match self.host_import_alignment {
                Some(a) => format!("yes (alignment {a})"),
                None => "no".into(),
            }
        )?;
        for h in &self.memory_heaps {
            writeln!(f, "  heap {}: {} MiB {:?}", h.index, h.size >> 20, h.flags)?;
        }
        for t in &self.memory_types {
            writeln!(f, "  type {}: heap {} {:?}", t.index, t.heap, t.flags)?;
        }
        Ok(())
    }
}

/// The state every handle shares; destroyed when the last [`Context`] clone and every object
/// made from it are dropped.
pub(crate) struct Inner {
    pub(crate) _entry: ash::Entry,
    pub(crate) instance: ash::Instance,
    pub(crate) physical: vk::PhysicalDevice,
    pub(crate) device: ash::Device,
    pub(crate) queue: Mutex<vk::Queue>,
    pub(crate) queue_family: u32,
    /// A queue other than `queue` that can copy (family, queue), for [`crate::CopyQueue`]:
    /// a transfer-only family (the copy engine) where the device has one.
    pub(crate) copy_queue: Option<(u32, Mutex<vk::Queue>)>,
    pub(crate) memory: vk::PhysicalDeviceMemoryProperties,
    pub(crate) host_import: Option<ash::ext::external_memory_host::Device>,
    pub(crate) command_pool: Mutex<vk::CommandPool>,
    /// Command buffers and fences of finished dispatches, for the next ones: creating and
    /// destroying them per dispatch cost ~0.25-0.5 ms on the H100's driver.
    pub(crate) recycled: Mutex<Vec<(vk::CommandBuffer, vk::Fence)>>,
    /// Submissions not yet seen finished: each fence with the raw handles of what its command
    /// buffer uses (pipeline, descriptor set, buffers). A [`crate::Dispatch`] borrows these, but
    /// safe code can `mem::forget` it; freeing any of them first waits for the submissions
    /// recorded here that use it (see `Context::wait_unused`).
    pub(crate) submitted: Mutex<Vec<(vk::Fence, Arc<[u64]>)>>,
    pub(crate) info: DeviceInfo,
    /// False for a device the application created and owns (`Context::adopt`).
    pub(crate) owns_device: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let pool = *self.command_pool.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: this is the last reference to the context: every buffer, pipeline and
        // dispatch holds a Context clone, so all of them are gone. What gdio submitted is
        // waited for before its fences and pool go; an adopted device (and whatever else the
        // application runs on it) is left to the application.
        unsafe {
            let fences: Vec<vk::Fence> = self
                .submitted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(f, _)| *f)
                .collect();
            if self.owns_device {
                let _ = self.device.device_wait_idle();
            } else if !fences.is_empty() {
                let _ = self.device.wait_for_fences(&fences, true, u64::MAX);
            }
            for (_, fence) in self
                .recycled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..)
            {
                self.device.destroy_fence(fence, None);
            }
            // The recycled command buffers go with their pool.
            self.device.destroy_command_pool(pool, None);
            if self.owns_device {
                self.device.destroy_device(None);
                self.instance.destroy_instance(None);
            }
        }
    }
}

/// A Vulkan device with one compute queue, ready for gdio. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("device", &self.inner.info.name)
            .finish()
    }
}

fn load_entry() -> Result<ash::Entry> {
    // SAFETY: loading libvulkan runs its initialisers; this is the documented way to load the
    // loader at run time and nothing else in the process depends on it being absent.
    unsafe { ash::Entry::load() }.map_err(|e| Error::NoLoader(e.to_string()))
}

fn create_instance(entry: &ash::Entry) -> Result<ash::Instance> {
    let app = vk::ApplicationInfo::default()
        .application_name(c"gdio")
        .engine_name(c"gdio")
        .api_version(vk::API_VERSION_1_2);
    let info = vk::InstanceCreateInfo::default().application_info(&app);
    // SAFETY: `info` and what it points to live across the call.
    unsafe { entry.create_instance(&info, None) }.vk("vkCreateInstance")
}

fn cstr_field(chars: &[std::ffi::c_char]) -> String {
    // SAFETY: Vulkan guarantees these fixed-size string fields are NUL-terminated.
    unsafe { CStr::from_ptr(chars.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn has_extension(instance: &ash::Instance, pd: vk::PhysicalDevice, name: &CStr) -> bool {
    // SAFETY: `pd` was enumerated from `instance`.
    let exts = unsafe { instance.enumerate_device_extension_properties(pd) }.unwrap_or_default();
    exts.iter()
        .any(|e| e.extension_name_as_c_str().is_ok_and(|n| n == name))
}

/// What `pd` is and offers, with its index in the instance's enumeration.
pub(crate) fn describe_device(instance: &ash::Instance, pd: vk::PhysicalDevice) -> DeviceInfo {
    // SAFETY: `pd` belongs to `instance` (the caller's promise).
    let index = unsafe { instance.enumerate_physical_devices() }
        .ok()
        .and_then(|all| all.iter().position(|&p| p == pd))
        .unwrap_or(0);
    describe(instance, pd, index)
}

fn describe(instance: &ash::Instance, pd: vk::PhysicalDevice, index: usize) -> DeviceInfo {
    let host_ext = has_extension(instance, pd, ash::ext::external_memory_host::NAME);
    let mut driver = vk::PhysicalDeviceDriverProperties::default();
    let mut host = vk::PhysicalDeviceExternalMemoryHostPropertiesEXT::default();
    let mut subgroup = vk::PhysicalDeviceSubgroupProperties::default();
    let mut props2 = vk::PhysicalDeviceProperties2::default()
        .push_next(&mut driver)
        .push_next(&mut subgroup);
    if host_ext {
        props2 = props2.push_next(&mut host);
    }
    let mut f12 = vk::PhysicalDeviceVulkan12Features::default();
    let mut features2 = vk::PhysicalDeviceFeatures2::default().push_next(&mut f12);
    // SAFETY: `pd` belongs to `instance`; the chained structs live across the calls and only
    // structs of extensions the device reports are chained.
    let memory = unsafe {
        instance.get_physical_device_properties2(pd, &mut props2);
        instance.get_physical_device_features2(pd, &mut features2);
        instance.get_physical_device_memory_properties(pd)
    };
    let int64 = features2.features.shader_int64 == vk::TRUE;
    let p = props2.properties;
    let subgroup_max = subgroup
        .supported_stages
        .contains(vk::ShaderStageFlags::COMPUTE)
        && subgroup
            .supported_operations
            .contains(vk::SubgroupFeatureFlags::ARITHMETIC);
    let subgroup_shuffle = subgroup
        .supported_stages
        .contains(vk::ShaderStageFlags::COMPUTE)
        && subgroup
            .supported_operations
            .contains(vk::SubgroupFeatureFlags::BALLOT | vk::SubgroupFeatureFlags::SHUFFLE);
    let v = p.api_version;
    DeviceInfo {
        index,
        name: cstr_field(&p.device_name),
        device_type: p.device_type,
        driver_name: cstr_field(&driver.driver_name),
        driver_info: cstr_field(&driver.driver_info),
        api_version: format!(
            "{}.{}.{}",
            vk::api_version_major(v),
            vk::api_version_minor(v),
            vk::api_version_patch(v)
        ),
        vendor_id: p.vendor_id,
        timeline_semaphore: f12.timeline_semaphore == vk::TRUE,
        memory_types: memory
            .memory_types_as_slice()
            .iter()
            .enumerate()
            .map(|(i, t)| MemoryTypeInfo {
                index: i as u32,
                flags: t.property_flags,
                heap: t.heap_index,
            })
            .collect(),
        memory_heaps: memory
            .memory_heaps_as_slice()
            .iter()
            .enumerate()
            .map(|(i, h)| MemoryHeapInfo {
                index: i as u32,
                size: h.size,
                flags: h.flags,
            })
            .collect(),
        memory_model: f12.vulkan_memory_model == vk::TRUE
            && f12.vulkan_memory_model_device_scope == vk::TRUE,
        int64_atomics: int64 && f12.shader_buffer_int64_atomics == vk::TRUE,
        subgroup_arithmetic: subgroup_max,
        subgroup_shuffle,
        subgroup_size: subgroup.subgroup_size,
        host_import_alignment: host_ext.then_some(host.min_imported_host_pointer_alignment),
        max_storage_buffer_range: p.limits.max_storage_buffer_range,
        min_storage_buffer_offset_alignment: p.limits.min_storage_buffer_offset_alignment,
    }
}

fn type_rank(t: vk::PhysicalDeviceType) -> u32 {
    match t {
        vk::PhysicalDeviceType::DISCRETE_GPU => 0,
        vk::PhysicalDeviceType::INTEGRATED_GPU => 1,
        vk::PhysicalDeviceType::VIRTUAL_GPU => 2,
        vk::PhysicalDeviceType::CPU => 3,
        _ => 4,
    }
}

/// Picks a device index from `infos` by `selector`.
fn select(infos: &[DeviceInfo], selector: &DeviceSelector) -> Result<usize> {
    let found = match selector {
        DeviceSelector::Auto => infos
            .iter()
            .min_by_key(|d| (type_rank(d.device_type), d.index)),
        DeviceSelector::Index(i) => infos.get(*i),
        DeviceSelector::Name(n) => {
            let n = n.to_lowercase();
            infos.iter().find(|d| d.name.to_lowercase().contains(&n))
        }
    };
    found.map(|d| d.index).ok_or_else(|| Error::DeviceNotFound {
        selector: selector.to_string(),
        available: infos
            .iter()
            .map(|d| format!("{}: {}", d.index, d.name))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// What `Context::open` made: the physical device, the device, the compute queue's family, the
/// copy queue's `(family, index)` if any, and the description.
type Opened = (
    vk::PhysicalDevice,
    ash::Device,
    u32,
    Option<(u32, u32)>,
    DeviceInfo,
);

impl Context {
    /// Opens the device [`DeviceSelector::from_env`] picks (`GDIO_DEVICE`).
    pub fn new() -> Result<Context> {
        Context::with_selector(&DeviceSelector::from_env())
    }

    /// Describes every device the loader finds, without opening any.
    pub fn devices() -> Result<Vec<DeviceInfo>> {
        let entry = load_entry()?;
        let instance = create_instance(&entry)?;
        // SAFETY: the instance is valid; it is destroyed below after its last use.
        let pds = unsafe { instance.enumerate_physical_devices() };
        let infos = pds.map(|pds| {
            pds.iter()
                .enumerate()
                .map(|(i, &pd)| describe(&instance, pd, i))
                .collect()
        });
        // SAFETY: nothing made from the instance outlives this call.
        unsafe { instance.destroy_instance(None) };
        infos.vk("vkEnumeratePhysicalDevices")
    }

    /// Opens the device `selector` picks, with vulkanMemoryModel + vulkanMemoryModelDeviceScope
    /// enabled (an error names them if missing), VK_EXT_external_memory_host if supported, and
    /// one compute queue.
    pub fn with_selector(selector: &DeviceSelector) -> Result<Context> {
        let entry = load_entry()?;
        let instance = create_instance(&entry)?;
        // On error the instance must be destroyed: do the rest in a closure.
        match Self::open(&instance, selector) {
            Ok((physical, device, queue_family, copy, info)) => Ok(Self::finish(
                entry,
                instance,
                physical,
                device,
                (queue_family, copy),
                info,
            )?),
            Err(e) => {
                // SAFETY: no object made from the instance survives a failed open().
                unsafe { instance.destroy_instance(None) };
                Err(e)
            }
        }
    }

    fn open(instance: &ash::Instance, selector: &DeviceSelector) -> Result<Opened> {
        // SAFETY: the instance is valid.
        let pds =
            unsafe { instance.enumerate_physical_devices() }.vk("vkEnumeratePhysicalDevices")?;
        if pds.is_empty() {
            return Err(Error::NoDevice);
        }
        let infos: Vec<DeviceInfo> = pds
            .iter()
            .enumerate()
            .map(|(i, &pd)| describe(instance, pd, i))
            .collect();
        let index = select(&infos, selector)?;
        let pd = pds[index];
        let info = infos[index].clone();
        if !info.memory_model {
            return Err(Error::MissingFeature {
                device: info.name,
                feature: "vulkanMemoryModel + vulkanMemoryModelDeviceScope",
            });
        }
        if !info.int64_atomics {
            return Err(Error::MissingFeature {
                device: info.name,
                feature: "shaderInt64 + shaderBufferInt64Atomics (gdio.glsl loads each completion entry in one 64-bit atomic load)",
            });
        }
        if !info.subgroup_arithmetic {
            return Err(Error::MissingFeature {
                device: info.name,
                feature: "subgroup arithmetic in compute shaders (gdio.glsl counts loop iterations per subgroup)",
            });
        }
        // SAFETY: `pd` belongs to `instance`.
        let families = unsafe { instance.get_physical_device_queue_family_properties(pd) };
        // Prefer a compute queue without graphics (NVIDIA's async compute family), else any.
        let family = families
            .iter()
            .enumerate()
            .filter(|(_, q)| q.queue_flags.contains(vk::QueueFlags::COMPUTE))
            .min_by_key(|(_, q)| q.queue_flags.contains(vk::QueueFlags::GRAPHICS))
            .map(|(i, _)| i as u32)
            .ok_or_else(|| Error::NoComputeQueue(info.name.clone()))?;
        let copy = copy_queue_choice(&families, info.timeline_semaphore);
        let priorities = [1.0f32];
        let mut queues = vec![vk::DeviceQueueCreateInfo::default()
            .queue_family_index(family)
            .queue_priorities(&priorities)];
        if let Some((f, _)) = copy {
            queues.push(
                vk::DeviceQueueCreateInfo::default()
                    .queue_family_index(f)
                    .queue_priorities(&priorities),
            );
        }
        let mut extensions = Vec::new();
        if info.host_import_alignment.is_some() {
            extensions.push(ash::ext::external_memory_host::NAME.as_ptr());
        }
        let mut f12 = vk::PhysicalDeviceVulkan12Features::default()
            .vulkan_memory_model(true)
            .vulkan_memory_model_device_scope(true)
            .shader_buffer_int64_atomics(true)
            .timeline_semaphore(info.timeline_semaphore);
        let core = vk::PhysicalDeviceFeatures::default().shader_int64(true);
        let create = vk::DeviceCreateInfo::default()
            .enabled_features(&core)
            .queue_create_infos(&queues)
            .enabled_extension_names(&extensions)
            .push_next(&mut f12);
        // SAFETY: every pointer in `create` lives across the call; the features and extensions
        // enabled were checked above.
        let device = unsafe { instance.create_device(pd, &create, None) }.vk("vkCreateDevice")?;
        Ok((pd, device, family, copy, info))
    }

    fn finish(
        entry: ash::Entry,
        instance: ash::Instance,
        physical: vk::PhysicalDevice,
        device: ash::Device,
        (queue_family, copy): (u32, Option<(u32, u32)>),
        info: DeviceInfo,
    ) -> Result<Context> {
        // SAFETY: the family was requested with one queue at device creation.
        let queue = unsafe { device.get_device_queue(queue_family, 0) };
        // SAFETY: `copy` names a queue requested at device creation.
        let copy_queue =
            copy.map(|(f, i)| (f, Mutex::new(unsafe { device.get_device_queue(f, i) })));
        let pool_info = vk::CommandPoolCreateInfo::default()
            .queue_family_index(queue_family)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        // SAFETY: the device is valid.
        let pool = match unsafe { device.create_command_pool(&pool_info, None) } {
            Ok(p) => p,
            Err(result) => {
                // SAFETY: nothing was made from the device yet.
                unsafe {
                    device.destroy_device(None);
                    instance.destroy_instance(None);
                }
                return Err(Error::Vk {
                    call: "vkCreateCommandPool",
                    result,
                });
            }
        };
        // SAFETY: `physical` belongs to `instance`.
        let memory = unsafe { instance.get_physical_device_memory_properties(physical) };
        let host_import = info
            .host_import_alignment
            .map(|_| ash::ext::external_memory_host::Device::new(&instance, &device));
        Ok(Context {
            inner: Arc::new(Inner {
                _entry: entry,
                instance,
                physical,
                device,
                queue: Mutex::new(queue),
                queue_family,
                copy_queue,
                memory,
                host_import,
                command_pool: Mutex::new(pool),
                recycled: Mutex::new(Vec::new()),
                submitted: Mutex::new(Vec::new()),
                info,
                owns_device: true,
            }),
        })
    }

    /// What the open device is and offers.
    #[must_use]
    pub fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    /// The raw ash device, for code that records its own commands.
    #[must_use]
    pub fn device(&self) -> &ash::Device {
        &self.inner.device
    }

    /// The physical device.
    #[must_use]
    pub fn physical_device(&self) -> vk::PhysicalDevice {
        self.inner.physical
    }

    /// The compute queue's family index.
    #[must_use]
    pub fn queue_family(&self) -> u32 {
        self.inner.queue_family
    }

    /// The queue family of the copy queue ([`crate::CopyQueue`] submits there), if the device
    /// has a queue that copies besides the compute queue.
    #[must_use]
    pub fn copy_queue_family(&self) -> Option<u32> {
        self.inner.copy_queue.as_ref().map(|(f, _)| *f)
    }

    /// Property flags of memory type `index` (empty if there is no such type).
    #[must_use]
    pub fn memory_type_flags(&self, index: u32) -> vk::MemoryPropertyFlags {
        self.inner
            .memory
            .memory_types_as_slice()
            .get(index as usize)
            .map_or(vk::MemoryPropertyFlags::empty(), |t| t.property_flags)
    }
}

/// The copy queue to create beside the compute queue: `(family, 0)` of a transfer-only family
/// (a GPU's copy engine); `None` without timeline semaphores or such a family (lavapipe has one
/// queue). Not the compute family's second queue: a persistent dispatch occupies the compute
/// queue, and on some drivers a copy on a compute-capable queue runs as a shader that the
/// dispatch, holding every compute unit while it waits for the copy, keeps from running.
fn copy_queue_choice(families: &[vk::QueueFamilyProperties], timeline: bool) -> Option<(u32, u32)> {
    if !timeline {
        return None;
    }
    let transfer_only = families.iter().position(|q| {
        q.queue_count > 0
            && q.queue_flags.contains(vk::QueueFlags::TRANSFER)
            && !q
                .queue_flags
                .intersects(vk::QueueFlags::COMPUTE | vk::QueueFlags::GRAPHICS)
    });
    transfer_only.map(|f| (f as u32, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(index: usize, name: &str, t: vk::PhysicalDeviceType) -> DeviceInfo {
        DeviceInfo {
            index,
            name: name.into(),
            device_type: t,
            driver_name: String::new(),
            driver_info: String::new(),
            api_version: String::new(),
            vendor_id: 0,
            memory_types: vec![],
            memory_heaps: vec![],
            memory_model: true,
            timeline_semaphore: true,
            int64_atomics: true,
            subgroup_arithmetic: true,
            subgroup_shuffle: true,
            subgroup_size: 32,
            host_import_alignment: None,
            max_storage_buffer_range: 0,
            min_storage_buffer_offset_alignment: 0,
        }
    }

    #[test]
    fn selector_parses_and_selects() {
        assert_eq!(DeviceSelector::parse(""), DeviceSelector::Auto);
        assert_eq!(DeviceSelector::parse(" 2 "), DeviceSelector::Index(2));
        assert_eq!(
            DeviceSelector::parse("h100"),
            DeviceSelector::Name("h100".into())
        );
        let infos = [
            info(0, "llvmpipe", vk::PhysicalDeviceType::CPU),
            info(1, "Intel UHD", vk::PhysicalDeviceType::INTEGRATED_GPU),
            info(
                2,
                "NVIDIA H100 80GB HBM3",
                vk::PhysicalDeviceType::DISCRETE_GPU,
            ),
        ];
        assert_eq!(select(&infos, &DeviceSelector::Auto).unwrap(), 2);
        assert_eq!(select(&infos[..2], &DeviceSelector::Auto).unwrap(), 1);
        assert_eq!(
            select(&infos, &DeviceSelector::Name("H100".into())).unwrap(),
            2
        );
        assert_eq!(select(&infos, &DeviceSelector::Index(0)).unwrap(), 0);
        let e = select(&infos, &DeviceSelector::Name("amd".into())).unwrap_err();
        assert!(e.to_string().contains("2: NVIDIA H100"), "{e}");
    }
}
