//! Bring your own device: an application that created its own Vulkan instance, device and
//! queue (a renderer, an inference engine) hands them to gdio instead of letting
//! [`Context::new`] create them.
//!
//! The application keeps ownership: gdio never destroys the instance or the device; it makes
//! its own command pool, fences and buffer memory on them and frees those when the last
//! [`Context`] clone goes. The application enables what gdio needs when it creates the device
//! ([`Requirements`] lists it and can fill the create-info structures), tells gdio what it
//! enabled ([`EnabledFeatures`]), and gdio checks it and names exactly what is missing.
//!
//! gdio submits its dispatches to the queue given, under its own lock. Vulkan requires
//! submissions to one queue to be externally synchronised: if the application submits to the
//! same queue from other threads, it does so through [`Context::with_queue`], under that lock.
//!
//! ```no_run
//! # fn demo(entry: ash::Entry, instance: ash::Instance, physical: gdio_vulkan::vk::PhysicalDevice,
//! #         device: ash::Device, queue: gdio_vulkan::vk::Queue, family: u32)
//! #         -> gdio_vulkan::Result<()> {
//! use gdio_vulkan::{Context, EnabledFeatures, ExternalDevice};
//! // When creating the device: Requirements::vulkan12_features() and ::core_features() give
//! // what to enable; the application passes what it did enable.
//! let ctx = Context::adopt(ExternalDevice {
//!     entry,
//!     instance,
//!     physical,
//!     device,
//!     queue,
//!     queue_family: family,
//!     enabled: EnabledFeatures::all_required(),
//!     external_memory_host: false,
//! })?;
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

use ash::vk;

use crate::context::{describe_device, Context, Inner};
use crate::error::{Error, Result, VkContext};

/// What gdio needs of a device, for an application that creates it.
#[derive(Debug, Clone, Copy)]
pub struct Requirements;

impl Requirements {
    /// Core features to enable: `shaderInt64` (a completion entry is one 64-bit load).
    pub fn core_features() -> vk::PhysicalDeviceFeatures {
        vk::PhysicalDeviceFeatures::default().shader_int64(true)
    }

    /// Vulkan 1.2 features to enable (chain it into `VkDeviceCreateInfo`):
    /// `vulkanMemoryModel`, `vulkanMemoryModelDeviceScope` (gdio.glsl's acquire/release
    /// operations) and `shaderBufferInt64Atomics`.
    pub fn vulkan12_features() -> vk::PhysicalDeviceVulkan12Features<'static> {
        vk::PhysicalDeviceVulkan12Features::default()
            .vulkan_memory_model(true)
            .vulkan_memory_model_device_scope(true)
            .shader_buffer_int64_atomics(true)
    }

    /// Device properties gdio needs and cannot enable: Vulkan 1.2 and subgroup arithmetic
    /// in compute shaders (gdio.glsl counts loop iterations per subgroup).
    pub const PROPERTIES: &'static str = "Vulkan 1.2 and subgroup arithmetic in compute shaders";
}

/// The features gdio needs, as the application enabled them at device creation (Vulkan offers
/// no query for the enabled features of a device, so the application says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EnabledFeatures {
    /// `VkPhysicalDeviceFeatures::shaderInt64`.
    pub shader_int64: bool,
    /// `VkPhysicalDeviceVulkan12Features::vulkanMemoryModel`.
    pub vulkan_memory_model: bool,
    /// `VkPhysicalDeviceVulkan12Features::vulkanMemoryModelDeviceScope`.
    pub vulkan_memory_model_device_scope: bool,
    /// `VkPhysicalDeviceVulkan12Features::shaderBufferInt64Atomics`.
    pub shader_buffer_int64_atomics: bool,
}

impl EnabledFeatures {
    /// Every feature gdio needs, enabled (as [`Requirements`] asks).
    #[must_use]
    pub fn all_required() -> EnabledFeatures {
        EnabledFeatures {
            shader_int64: true,
            vulkan_memory_model: true,
            vulkan_memory_model_device_scope: true,
            shader_buffer_int64_atomics: true,
        }
    }

    /// Reads the flags from the structures the device was created with.
    #[must_use]
    pub fn from_create_info(
        core: &vk::PhysicalDeviceFeatures,
        v12: &vk::PhysicalDeviceVulkan12Features<'_>,
    ) -> EnabledFeatures {
        EnabledFeatures {
            shader_int64: core.shader_int64 == vk::TRUE,
            vulkan_memory_model: v12.vulkan_memory_model == vk::TRUE,
            vulkan_memory_model_device_scope: v12.vulkan_memory_model_device_scope == vk::TRUE,
            shader_buffer_int64_atomics: v12.shader_buffer_int64_atomics == vk::TRUE,
        }
    }

    /// The names of the required features that are not enabled.
    #[must_use]
    pub fn missing(&self) -> Vec<&'static str> {
        [
            (self.shader_int64, "shaderInt64"),
            (self.vulkan_memory_model, "vulkanMemoryModel"),
            (
                self.vulkan_memory_model_device_scope,
                "vulkanMemoryModelDeviceScope",
            ),
            (self.shader_buffer_int64_atomics, "shaderBufferInt64Atomics"),
        ]
        .into_iter()
        .filter(|(on, _)| !on)
        .map(|(_, name)| name)
        .collect()
    }
}

/// A device the application created and keeps owning.
pub struct ExternalDevice {
    /// The loader entry the instance was made with.
    pub entry: ash::Entry,
    /// The application's instance (Vulkan 1.2 or later).
    pub instance: ash::Instance,
    /// The physical device the device was made on.
    pub physical: vk::PhysicalDevice,
    /// The application's device.
    pub device: ash::Device,
    /// A queue of `queue_family`, which must support compute.
    pub queue: vk::Queue,
    /// The queue's family.
    pub queue_family: u32,
    /// What the application enabled of what gdio needs.
    pub enabled: EnabledFeatures,
    /// Whether the application enabled VK_EXT_external_memory_host (for
    /// [`crate::Placement::ImportedHost`] windows).
    pub external_memory_host: bool,
}

impl std::fmt::Debug for ExternalDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalDevice")
            .field("queue_family", &self.queue_family)
            .field("enabled", &self.enabled)
            .field("external_memory_host", &self.external_memory_host)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Adopts a device the application created: checks that the features gdio needs were
    /// enabled and that the queue's family supports compute, and says exactly what is missing.
    /// gdio never destroys the application's instance or device; the application must keep
    /// them alive until every [`Context`] clone (and every buffer, pipeline and dispatch made
    /// from it) is gone.
    pub fn adopt(ext: ExternalDevice) -> Result<Context> {
        // SAFETY: the physical device belongs to the application's instance (its promise).
        let info = describe_device(&ext.instance, ext.physical);
        let mut missing: Vec<String> = ext
            .enabled
            .missing()
            .into_iter()
            .map(|f| format!("{f} (not enabled)"))
            .collect();
        if !info.memory_model || !info.int64_atomics {
            missing.push("the Vulkan memory model with device scope and 64-bit buffer atomics (not supported by the device)".into());
        }
        if !info.subgroup_arithmetic {
            missing.push("subgroup arithmetic in compute shaders (not supported)".into());
        }
        // SAFETY: as above.
        let families = unsafe {
            ext.instance
                .get_physical_device_queue_family_properties(ext.physical)
        };
        if !families
            .get(ext.queue_family as usize)
            .is_some_and(|q| q.queue_flags.contains(vk::QueueFlags::COMPUTE))
        {
            missing.push(format!(
                "compute on queue family {} (give a queue of a family with VK_QUEUE_COMPUTE_BIT)",
                ext.queue_family
            ));
        }
        if !missing.is_empty() {
            return Err(Error::NotAdoptable {
                device: info.name,
                missing: missing.join(", "),
            });
        }
        let mut info = info;
        if !ext.external_memory_host {
            info.host_import_alignment = None;
        }
        let pool_info = vk::CommandPoolCreateInfo::default()
            .queue_family_index(ext.queue_family)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        // SAFETY: the application's device is valid for as long as this Context lives.
        let pool = unsafe { ext.device.create_command_pool(&pool_info, None) }
            .vk("vkCreateCommandPool")?;
        // SAFETY: as above.
        let memory = unsafe {
            ext.instance
                .get_physical_device_memory_properties(ext.physical)
        };
        let host_import = info
            .host_import_alignment
            .map(|_| ash::ext::external_memory_host::Device::new(&ext.instance, &ext.device));
        Ok(Context {
            inner: Arc::new(Inner {
                _entry: ext.entry,
                instance: ext.instance,
                physical: ext.physical,
                device: ext.device,
                queue: Mutex::new(ext.queue),
                queue_family: ext.queue_family,
                copy_queue: None,
                memory,
                host_import,
                command_pool: Mutex::new(pool),
                recycled: Mutex::new(Vec::new()),
                submitted: Mutex::new(Vec::new()),
                info,
                owns_device: false,
            }),
        })
    }

    /// Runs `f` with the compute queue, under the lock gdio submits with: how an application
    /// that shares the queue with gdio submits its own work (Vulkan requires submissions to a
    /// queue to be externally synchronised).
    pub fn with_queue<R>(&self, f: impl FnOnce(vk::Queue) -> R) -> R {
        let queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
        f(*queue)
    }

    /// Whether this context created its device (and destroys it at the end), rather than
    /// adopting the application's ([`Context::adopt`]).
    #[must_use]
    pub fn owns_device(&self) -> bool {
        self.inner.owns_device
    }
}
