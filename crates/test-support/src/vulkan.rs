//! A Vulkan context per test on the default device (lavapipe where no GPU exists), one test at
//! a time: spinning shaders and spinning hosts must not share a small machine's cores with
//! other tests.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use gdio_vulkan::Context;

/// How long a test waits for one dispatch.
pub const TIMEOUT: Duration = Duration::from_secs(30);

static SERIAL: Mutex<()> = Mutex::new(());

/// A context on the default device, and the lock that keeps the binary's other Vulkan tests
/// out until it drops.
#[allow(missing_debug_implementations)] // Context has no Debug
pub struct Gpu {
    /// The context.
    pub ctx: Context,
    _guard: MutexGuard<'static, ()>,
}

/// Takes the lock (a test that panicked while holding it does not poison the rest) and opens a
/// context on the default device; panics, naming the package to install, when there is none.
#[must_use]
pub fn gpu() -> Gpu {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // lavapipe needs it before it starts; harmless on GPUs.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", "/tmp");
    }
    let ctx =
        Context::new().expect("a Vulkan device (lavapipe: apt-get install mesa-vulkan-drivers)");
    Gpu { ctx, _guard: guard }
}
