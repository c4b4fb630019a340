//! The device the command runs on: opened with the settings of the `GDIO_*` variables
//! ([`crate::knobs`]), and what reports say about it. What runs on it is gdio-workloads'.

use anyhow::Result;
use gdio_vulkan::{DeviceSelector, PlacementPlan};
use gdio_workloads::{Gpu, Settings};
use serde::Serialize;

use crate::knobs;

/// What a report says about the device.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    /// Device name.
    pub name: String,
    /// "discrete GPU", "CPU", ...
    pub kind: String,
    /// Driver name and version.
    pub driver: String,
    /// Vulkan API version.
    pub vulkan: String,
    /// True for lavapipe (or another CPU implementation).
    pub cpu_fallback: bool,
    /// A sentence for the user, e.g. that lavapipe is used because there is no GPU.
    pub note: Option<String>,
}

/// The sentence `gdio` prints when it runs on lavapipe because no GPU was found.
pub const LAVAPIPE_NOTE: &str = "no GPU found: using lavapipe, Mesa's CPU Vulkan driver";

/// Sets up the environment lavapipe needs (XDG_RUNTIME_DIR) before Vulkan is loaded.
pub fn prepare_env() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // Called at the start of main, before any thread is spawned.
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
}

/// The selector from `--device`, else `GDIO_DEVICE`.
#[must_use]
pub fn selector(device: Option<&str>) -> DeviceSelector {
    device
        .or(knobs::get().device.as_deref())
        .map_or(DeviceSelector::Auto, DeviceSelector::parse)
}

/// The workloads' settings: the device from `--device` (else `GDIO_DEVICE`), the placements
/// with `GDIO_PLACE_*` applied, and the other `GDIO_*` choices.
#[must_use]
pub fn settings(device: Option<&str>) -> Settings {
    let k = knobs::get();
    Settings {
        device: selector(device),
        plan: k.placements(PlacementPlan::defaults()),
        subgroup_search: k.subgroup_search,
        async_min: k.async_min,
        io_wq_workers: k.io_wq_workers,
        staging: k.staging,
        fence_wait: k.fence_wait,
        orchestrated_staging: k.orchestrated_staging,
        pumps: k.pumps,
    }
}

/// Opens the device `--device` (else `GDIO_DEVICE`) selects, with the `GDIO_*` settings.
pub fn open(device: Option<&str>) -> Result<Gpu> {
    Gpu::open(&settings(device))
}

/// What reports say about the device.
#[must_use]
pub fn summary(gpu: &Gpu) -> DeviceSummary {
    let i = gpu.ctx.info();
    let note = if i.is_cpu() && gpu.auto {
        Some(LAVAPIPE_NOTE.to_string())
    } else if i.is_cpu() {
        Some("using a CPU Vulkan driver (lavapipe), as selected".to_string())
    } else {
        None
    };
    DeviceSummary {
        name: i.name.clone(),
        kind: gdio_vulkan::context::type_name(i.device_type).to_string(),
        driver: format!("{} {}", i.driver_name, i.driver_info),
        vulkan: i.api_version.clone(),
        cpu_fallback: i.is_cpu(),
        note,
    }
}

/// One line naming the device, for text output.
#[must_use]
pub fn line(gpu: &Gpu) -> String {
    let s = summary(gpu);
    let mut l = format!("device: {} ({}, {})", s.name, s.kind, s.driver);
    if let Some(n) = s.note {
        l.push_str(&format!("\n        {n}"));
    }
    l
}
