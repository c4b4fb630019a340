//! An application's own Vulkan device, adopted by gdio:
//! `cargo run -p gdio-examples --example own_device [FILE]`.
//!
//! The application creates the instance, the device and the queue itself (as a renderer or an
//! inference engine does), enabling what gdio needs (`Requirements`); gdio adopts them, checks
//! what it was told, and the same code as in `read_file` runs on them. The application keeps
//! ownership and destroys the device after the last gdio object is gone.
use std::error::Error;

use ash::vk;
use gdio::vulkan::{Context, EnabledFeatures, ExternalDevice, Requirements};

#[path = "read_file.rs"]
#[allow(dead_code)]
mod read_file;

fn main() -> Result<(), Box<dyn Error>> {
    // SAFETY: loading the system's Vulkan loader.
    let entry = unsafe { ash::Entry::load()? };
    let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_2);
    // SAFETY: valid create info; the instance is destroyed at the end.
    let instance = unsafe {
        entry.create_instance(
            &vk::InstanceCreateInfo::default().application_info(&app),
            None,
        )?
    };
    // SAFETY: the instance is valid.
    let physical = unsafe { instance.enumerate_physical_devices()? }[0];
    // SAFETY: as above.
    let family = unsafe { instance.get_physical_device_queue_family_properties(physical) }
        .iter()
        .position(|q| q.queue_flags.contains(vk::QueueFlags::COMPUTE))
        .ok_or("no compute queue")? as u32;
    let core = Requirements::core_features();
    let mut v12 = Requirements::vulkan12_features();
    let priorities = [1.0f32];
    let queues = [vk::DeviceQueueCreateInfo::default()
        .queue_family_index(family)
        .queue_priorities(&priorities)];
    let create = vk::DeviceCreateInfo::default()
        .queue_create_infos(&queues)
        .enabled_features(&core)
        .push_next(&mut v12);
    // SAFETY: valid create info on this instance's physical device.
    let device = unsafe { instance.create_device(physical, &create, None)? };
    // SAFETY: the family was created with one queue.
    let queue = unsafe { device.get_device_queue(family, 0) };
    let external = |enabled| ExternalDevice {
        entry: entry.clone(),
        instance: instance.clone(),
        physical,
        device: device.clone(),
        queue,
        queue_family: family,
        enabled,
        external_memory_host: false,
    };
    // gdio names what is missing when the application did not enable it.
    if let Err(e) = Context::adopt(external(EnabledFeatures::default())) {
        println!("adopting without the features: {e}");
    }
    let ctx = Context::adopt(external(EnabledFeatures::from_create_info(&core, &v12)))?;
    let path = std::env::temp_dir().join("gdio-own-device-example.bin");
    std::fs::write(
        &path,
        (0..1u32 << 16)
            .flat_map(|i| (i * 7).to_le_bytes())
            .collect::<Vec<_>>(),
    )?;
    let gpu = read_file::gpu_sum(&ctx, &path)?;
    let cpu = read_file::cpu_sum(&std::fs::read(&path)?);
    println!(
        "adopted {}: GPU sum {gpu:#010x}, CPU sum {cpu:#010x}",
        ctx.info().name
    );
    assert!(!ctx.owns_device());
    drop(ctx); // gdio's objects first, then the application's device
               // SAFETY: nothing made from the device or instance is left.
    unsafe {
        device.destroy_device(None);
        instance.destroy_instance(None);
    }
    if gpu != cpu {
        return Err("the GPU's sum differs from the CPU's".into());
    }
    Ok(())
}
