//! Shared test helpers: a context per test, serialised (spinning shaders and spinning hosts
//! must not share 2 cores with other tests).
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use gdio_vulkan::Context;

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the test lock and a context.
pub struct Gpu {
    pub ctx: Context,
    _guard: MutexGuard<'static, ()>,
}

pub fn gpu() -> Gpu {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Must be set before lavapipe starts; harmless on GPUs.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", "/tmp");
    }
    let ctx =
        Context::new().expect("a Vulkan device (lavapipe: apt-get install mesa-vulkan-drivers)");
    Gpu { ctx, _guard: guard }
}
