//! The GLSL device library (`shaders/gdio.glsl`) for shaders of your own, and the loop budgets
//! they need.
//!
//! Compile a shader that includes it with
//! `glslc --target-env=vulkan1.2 -O -I <INCLUDE_DIR> your.comp -o your.spv`. A build script of
//! a crate that depends on gdio-vulkan finds the folder in `DEP_GDIO_GLSL_INCLUDE`; at run
//! time it is [`INCLUDE_DIR`]. The API is in `docs/glsl.md` of this crate.

/// The folder that holds `gdio.glsl` (this crate's `shaders/`).
pub const INCLUDE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");

/// The text of `gdio.glsl`.
pub const GDIO_GLSL: &str = include_str!("../shaders/gdio.glsl");

/// The text of `gdio_cache.glsl`, the page cache (include it after `gdio.glsl`).
pub const GDIO_CACHE_GLSL: &str = include_str!("../shaders/gdio_cache.glsl");

/// Loop budgets for a shader that waits on gdio requests: how many loop iterations a dispatch
/// may run and how many one `gdio_wait` may spin before the shader saves its progress, ends,
/// and is dispatched again ([`crate::Context::dispatch_until`]).
///
/// On CPU devices (lavapipe) an invocation's loops end silently after 65,535 iterations in
/// total, so the budgets stay below that; on GPUs they are effectively unbounded (a wait still
/// ends when the pump stops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Loop iterations per dispatch per invocation.
    pub iter_budget: u32,
    /// Polls per `gdio_wait`.
    pub wait_budget: u32,
}

impl Budgets {
    /// The budgets for a device.
    #[must_use]
    pub fn for_device(info: &crate::DeviceInfo) -> Budgets {
        if info.is_cpu() {
            Budgets {
                iter_budget: 60_000,
                wait_budget: 4_000,
            }
        } else {
            Budgets {
                iter_budget: u32::MAX,
                wait_budget: 1 << 25,
            }
        }
    }
}
