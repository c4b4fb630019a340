//! The crate's error type: every variant says what to do about it.

use std::time::Duration;

use ash::vk;

/// Everything that can go wrong in `gdio-vulkan`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Vulkan loader (libvulkan.so.1) could not be loaded.
    #[error("could not load Vulkan ({0}): install a Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1")]
    NoLoader(String),
    /// The loader found no physical device.
    #[error("Vulkan found no device: install a Vulkan driver (apt-get install mesa-vulkan-drivers libvulkan1); on NVIDIA set VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json")]
    NoDevice,
    /// `GDIO_DEVICE` (or the selector given) matches no device.
    #[error("device selector {selector:?} matches no device; available: {available}. Select one by an index or a name substring from that list (the gdio command reads GDIO_DEVICE)")]
    DeviceNotFound {
        /// The selector as given.
        selector: String,
        /// The devices there are, `index: name` separated by commas.
        available: String,
    },
    /// The device lacks a feature gdio cannot work without.
    #[error("device {device:?} does not support {feature}: gdio needs Vulkan 1.2 with vulkanMemoryModel and vulkanMemoryModelDeviceScope; update the driver or select another device")]
    MissingFeature {
        /// Device name.
        device: String,
        /// The missing feature.
        feature: &'static str,
    },
    /// The device has no queue family with compute.
    #[error("device {0:?} has no compute queue: select another device")]
    NoComputeQueue(String),
    /// The device has no queue that copies besides the compute queue (lavapipe has one queue),
    /// or no timeline semaphores: device-local windows served by a copy queue are unavailable.
    #[error("{0} has no copy queue besides its compute queue (or no timeline semaphores): use host-mapped windows (ReBAR or host memory) instead of device-local ones")]
    NoCopyQueue(String),
    /// An application's device handed to [`crate::Context::adopt`] lacks what gdio needs.
    #[error("the application's device {device:?} cannot be adopted: missing {missing}. Enable them when creating the device (gdio_vulkan::Requirements) and say so in EnabledFeatures")]
    NotAdoptable {
        /// Device name.
        device: String,
        /// What is missing, comma-separated.
        missing: String,
    },
    /// A Vulkan call failed.
    #[error("{call} failed with {result}: check the driver (and VK_LOADER_DEBUG=all) and that enough memory is free")]
    Vk {
        /// The Vulkan function.
        call: &'static str,
        /// What it returned.
        result: vk::Result,
    },
    /// No memory type of the device suits the placement asked for.
    #[error("no memory type on {device:?} is {needs} (for placement {placement}): choose another placement (gdio_vulkan::placement::probe reports which placements this device offers)")]
    NoMemoryType {
        /// Device name.
        device: String,
        /// The placement asked for.
        placement: crate::Placement,
        /// The property flags needed.
        needs: String,
    },
    /// VK_EXT_external_memory_host is not available.
    #[error("device {0:?} does not support VK_EXT_external_memory_host: use placement host-cached instead of imported")]
    NoHostImport(String),
    /// Anonymous memory for an import could not be mapped.
    #[error(
        "mmap of {len} bytes failed ({source}): lower the window size or raise the memory limit"
    )]
    Mmap {
        /// Bytes asked for.
        len: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// A byte range is outside a buffer.
    #[error("range {offset}+{len} is outside a buffer of {size} bytes: keep offsets and lengths inside the buffer")]
    OutOfRange {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// The buffer's size.
        size: u64,
    },
    /// A size or count argument is unusable.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The SPIR-V blob is not a whole number of 32-bit words, or lacks the magic number.
    #[error("not SPIR-V ({0}): pass the bytes glslc wrote (a .spv file), compiled for Vulkan 1.2 or later")]
    BadSpirv(&'static str),
    /// A dispatch did not finish in time. It is still running: stop the pump (pump state
    /// STOPPED or FAILED) so the shader's waits end with PUMP_GONE, then wait again.
    #[error("dispatch still running after {waited:?}: stop the pump (set pump state STOPPED or FAILED) so the shader exits, then wait again")]
    Timeout {
        /// How long it was waited for.
        waited: Duration,
    },
    /// A dispatch loop ran its maximum number of dispatches without the shader finishing.
    #[error("shader not finished after {dispatches} dispatches: raise the limit, or check that the host side completes its requests")]
    NotFinished {
        /// Dispatches run.
        dispatches: u32,
    },
    /// The watcher of a re-dispatch loop gave up (it saw no progress, or was told to stop).
    #[error("the re-dispatch loop's watcher gave up after {dispatches} dispatches")]
    GaveUp {
        /// Dispatches run, the last one included.
        dispatches: u32,
    },
    /// A queue region's layout is invalid.
    #[error(transparent)]
    Layout(#[from] gdio_protocol::LayoutError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps a `vk::Result` error to [`Error::Vk`] naming the call.
pub(crate) trait VkContext<T> {
    fn vk(self, call: &'static str) -> Result<T>;
}

impl<T> VkContext<T> for std::result::Result<T, vk::Result> {
    fn vk(self, call: &'static str) -> Result<T> {
        self.map_err(|result| Error::Vk { call, result })
    }
}
