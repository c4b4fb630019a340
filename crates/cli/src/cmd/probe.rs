//! `gdio probe`: what this machine offers gdio and what each finding means for the user, in the
//! spirit of GDS's `gdscheck`.

use anyhow::Result;
use gdio::probe;
use gdio_vulkan::placement::{ModeReport, Registration};
use gdio_vulkan::{vk, Context, DeviceInfo, Placement, ProbeOptions};
use serde::Serialize;

use crate::cli::ProbeArgs;
use crate::error::{usage, OK};
use crate::gpu::{self, DeviceSummary};
use crate::report;
use crate::units;

/// One finding: what was checked, what was found, what it means.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What was checked.
    pub item: String,
    /// What was found.
    pub value: String,
    /// What it means for the user.
    pub meaning: String,
    /// False when it stops gdio from working (or working well).
    pub ok: bool,
}

fn finding(
    item: impl Into<String>,
    value: impl Into<String>,
    meaning: impl Into<String>,
    ok: bool,
) -> Finding {
    Finding {
        item: item.into(),
        value: value.into(),
        meaning: meaning.into(),
        ok,
    }
}

#[derive(Serialize)]
struct Section {
    title: String,
    findings: Vec<Finding>,
}

#[derive(Serialize)]
struct ProbeOutput {
    device: Option<DeviceSummary>,
    sections: Vec<Section>,
    ready: bool,
    verdict: String,
}

fn devices_section(selected: Option<&DeviceInfo>) -> Section {
    let mut f = Vec::new();
    match Context::devices() {
        Ok(list) if list.is_empty() => f.push(finding(
            "Vulkan devices",
            "none",
            "install a Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1 (lavapipe, CPU), or the GPU vendor's driver",
            false,
        )),
        Ok(list) => {
            for d in &list {
                let chosen = selected.is_some_and(|s| s.index == d.index);
                let meaning = if !d.memory_model {
                    "lacks vulkanMemoryModel(+DeviceScope): gdio cannot use it".to_string()
                } else if d.is_cpu() {
                    "lavapipe, Mesa's CPU driver: works everywhere, slowly; a GPU is preferred when present".to_string()
                } else {
                    "a GPU with the Vulkan memory model: gdio can use it".to_string()
                };
                f.push(finding(
                    format!("device {}{}", d.index, if chosen { " (selected)" } else { "" }),
                    format!("{}, {} {}, Vulkan {}", d.name, d.driver_name, d.driver_info, d.api_version),
                    meaning,
                    d.memory_model,
                ));
            }
        }
        Err(e) => f.push(finding("Vulkan", "not available", e.to_string(), false)),
    }
    Section {
        title: "Vulkan devices".into(),
        findings: f,
    }
}

fn flags(fl: vk::MemoryPropertyFlags) -> String {
    format!("{fl:?}")
}

fn memory_section(d: &DeviceInfo) -> Section {
    use vk::MemoryPropertyFlags as F;
    let mut f = Vec::new();
    for h in &d.memory_heaps {
        let local = h.flags.contains(vk::MemoryHeapFlags::DEVICE_LOCAL);
        f.push(finding(
            format!("heap {}", h.index),
            format!(
                "{}{}",
                units::bytes(h.size),
                if local { ", device-local" } else { "" }
            ),
            if local {
                "memory on the device (or, on lavapipe, the one heap)"
            } else {
                "host system memory the device can reach"
            },
            true,
        ));
    }
    for t in &d.memory_types {
        let fl = t.flags;
        let meaning = if fl.contains(F::DEVICE_LOCAL | F::HOST_VISIBLE) {
            "device-local and host-visible (ReBAR on a discrete GPU): where completions and READ windows live; the host must never read it"
        } else if fl.contains(F::HOST_VISIBLE | F::HOST_CACHED) {
            "host memory, cached: request regions, WRITE windows and results live here"
        } else if fl.contains(F::HOST_VISIBLE) {
            "host memory, uncached (write-combined)"
        } else if fl.contains(F::DEVICE_LOCAL) {
            "device memory the host cannot map: gdio does not use it"
        } else {
            "not host-visible: gdio does not use it"
        };
        f.push(finding(
            format!("type {} (heap {})", t.index, t.heap),
            flags(fl),
            meaning,
            true,
        ));
    }
    let rebar = d.memory_types.iter().any(|t| {
        t.flags
            .contains(F::DEVICE_LOCAL | F::HOST_VISIBLE | F::HOST_COHERENT)
    });
    f.push(finding(
        "device-local host-visible memory",
        if rebar { "yes" } else { "no" },
        if rebar {
            "a running shader can be sent completions and data here"
        } else {
            "no ReBAR: enable Resizable BAR / Above-4G decoding in the BIOS, or run on lavapipe"
        },
        rebar,
    ));
    Section {
        title: "Memory".into(),
        findings: f,
    }
}

fn mode_finding(m: &ModeReport) -> Finding {
    let fresh = m.fresh();
    let fresh_txt = match &m.freshness {
        Ok(fr) if fr.passed() => format!("fresh in all {} rounds", fr.rounds_done),
        Ok(fr) => match &fr.incomplete {
            Some(why) => format!("incomplete after {} rounds ({why})", fr.rounds_done),
            None => format!(
                "STALE in {}/{} rounds after the first",
                fr.stale_rounds,
                fr.rounds_done.saturating_sub(1)
            ),
        },
        Err(e) => format!("not run ({e})"),
    };
    let reg_txt = match &m.registration {
        Registration::Registered => "io_uring registers it".to_string(),
        Registration::Refused(e) => format!("io_uring refuses to register it ({e})"),
        Registration::NoRing(e) => format!("no io_uring ({e})"),
        Registration::NotProbed => "registration not probed".to_string(),
    };
    let meaning = match (fresh, m.registers()) {
        (true, true) => "usable as a READ window, served with READ_FIXED (fastest)".to_string(),
        (true, false) => "usable as a READ window, served with plain READ".to_string(),
        (false, _) if m.placement == Placement::DeviceLocalHostVisible => {
            "a running shader does not see host writes here: gdio's completions cannot work on this device".to_string()
        }
        (false, _) => {
            "a running shader does not see host writes here: not a READ window (fine for WRITE windows and request regions)".to_string()
        }
    };
    let ty = m.memory.map_or("-".to_string(), |(t, _)| t.to_string());
    finding(
        format!("window in {}", m.placement),
        format!("type {ty}: {fresh_txt}; {reg_txt}"),
        meaning,
        fresh || m.placement != Placement::DeviceLocalHostVisible,
    )
}

fn uring_section() -> Section {
    let mut f = Vec::new();
    match gdio_uring::probe() {
        Ok(feat) => {
            let yn = |b: bool| if b { "yes" } else { "no" };
            let rows = [
                ("READ / WRITE", feat.op_read && feat.op_write, "plain reads and writes: how ReBAR windows are served"),
                ("READ_FIXED / WRITE_FIXED", feat.op_read_fixed && feat.op_write_fixed, "reads into registered windows, no page pinning per IO"),
                ("FSYNC", feat.op_fsync, "a shader's FSYNC/FDATASYNC requests"),
                ("ASYNC_CANCEL", feat.op_async_cancel, "stopping the pump cancels IO in flight"),
                ("FEAT_NODROP", feat.feat_nodrop, "no completion is ever lost on CQ overflow"),
                ("FEAT_EXT_ARG", feat.feat_ext_arg, "bounded waits"),
                ("FEAT_RSRC_TAGS", feat.feat_rsrc_tags, "files and windows can be added and removed while running"),
                ("SETUP_SQPOLL", feat.setup_sqpoll, "optional: a kernel thread can submit (PumpBuilder::sqpoll)"),
                ("SETUP_SINGLE_ISSUER", feat.setup_single_issuer, "optional: cheaper submission"),
                ("SETUP_DEFER_TASKRUN", feat.setup_defer_taskrun, "optional: completions run in the pump thread"),
            ];
            for (name, ok, meaning) in rows {
                let optional = meaning.starts_with("optional");
                f.push(finding(name, yn(ok), meaning, ok || optional));
            }
            if let Some((what, hint)) = feat.missing() {
                f.push(finding("io_uring", format!("missing {what}"), hint, false));
            }
        }
        Err(e) => f.push(finding(
            "io_uring",
            "unavailable",
            format!("{e}; gdio's pump needs io_uring (Linux 5.19+, not disabled by sysctl kernel.io_uring_disabled or a seccomp profile)"),
            false,
        )),
    }
    Section {
        title: "io_uring (gdio_uring::probe)".into(),
        findings: f,
    }
}

fn limits_section() -> Section {
    let mut f = Vec::new();
    let lim = rustix::process::getrlimit(rustix::process::Resource::Memlock);
    let root = rustix::process::geteuid().is_root();
    // `None`: unlimited.
    let show = |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), units::bytes);
    let big = lim.current.is_none_or(|c| c >= 1 << 30);
    let meaning = if root {
        "running as root (CAP_IPC_LOCK): registering windows is not limited".to_string()
    } else if big {
        "enough to register large windows".to_string()
    } else {
        format!(
            "registered (fixed) windows may total at most {}; larger ones are served with plain READ instead. Raise it with `ulimit -l` or /etc/security/limits.conf",
            show(lim.current)
        )
    };
    f.push(finding(
        "RLIMIT_MEMLOCK",
        format!("{} (hard {})", show(lim.current), show(lim.maximum)),
        meaning,
        true,
    ));
    f.push(finding(
        "user",
        if root { "root" } else { "not root" },
        "",
        true,
    ));
    Section {
        title: "Limits".into(),
        findings: f,
    }
}

/// Runs `gdio probe`.
pub fn run(args: &ProbeArgs, device: Option<&str>, json: bool) -> Result<i32> {
    let gpu = gpu::open(device);
    let mut sections = vec![devices_section(gpu.as_ref().ok().map(|g| g.ctx.info()))];
    let mut verdict = Vec::new();
    match &gpu {
        Ok(g) => {
            sections.push(memory_section(g.ctx.info()));
            let mut opts = ProbeOptions::for_device(g.ctx.info());
            if let Some(r) = args.rounds {
                opts.rounds = r;
            }
            if !(4096..=1 << 30).contains(&args.window) || args.window % 4 != 0 {
                usage!(
                    "--window {}: use a multiple of 4 bytes from 4 KiB to 1 GiB",
                    args.window
                );
            }
            opts.window_bytes = args.window as usize;
            let mut f = Vec::new();
            match probe(&g.ctx, &opts) {
                Ok(rep) => {
                    for m in &rep.modes {
                        f.push(mode_finding(m));
                    }
                    let plan = crate::knobs::get().placements(rep.plan);
                    f.push(finding(
                        "probe suggests: request region",
                        plan.request.to_string(),
                        "where shaders publish requests (the host polls it)",
                        true,
                    ));
                    f.push(finding(
                        "probe suggests: completion region",
                        plan.completion.to_string(),
                        "where the host writes completions (the shader polls it)",
                        true,
                    ));
                    let any_fresh = rep.modes.iter().any(ModeReport::fresh);
                    f.push(finding(
                        "probe suggests: READ windows",
                        format!(
                            "{} ({})",
                            plan.read_window,
                            if plan.read_window_registered { "READ_FIXED" } else { "plain READ" }
                        ),
                        if any_fresh {
                            "where file data lands for a running shader"
                        } else {
                            "NO placement passed the freshness probe: a running shader would read stale data"
                        },
                        any_fresh,
                    ));
                    f.push(finding(
                        "probe suggests: WRITE windows",
                        plan.write_window.to_string(),
                        "where shaders put data to be written to files",
                        true,
                    ));
                    if !any_fresh {
                        verdict
                            .push("no window placement is fresh for a running shader".to_string());
                    }
                    f.push(finding(
                        "gdio uses",
                        format!(
                            "request {}, completion {}, READ windows {}, WRITE windows {}",
                            g.plan.request, g.plan.completion, g.plan.read_window, g.plan.write_window
                        ),
                        "the measured defaults (GDIO_PLACE_REQUEST/_COMPLETION/_READ_WINDOW/_WRITE_WINDOW override them)",
                        true,
                    ));
                }
                Err(e) => {
                    verdict.push(format!("the freshness probe failed: {e}"));
                    f.push(finding("freshness probe", "failed", e.to_string(), false));
                }
            }
            sections.push(Section {
                title: format!(
                    "Window placements (freshness: {} rounds of {}; a running shader must see every host rewrite)",
                    opts.rounds,
                    units::bytes(opts.window_bytes as u64)
                ),
                findings: f,
            });
        }
        Err(e) => verdict.push(format!("no usable Vulkan device: {e:#}")),
    }
    sections.push(uring_section());
    sections.push(limits_section());
    for s in &sections {
        for f in &s.findings {
            if !f.ok && !verdict.iter().any(|v| v.contains(&f.item)) {
                verdict.push(format!("{}: {}", f.item, f.meaning));
            }
        }
    }
    let ready = verdict.is_empty();
    let summary = gpu.as_ref().ok().map(gpu::summary);
    let verdict_line = if ready {
        match &summary {
            Some(s) if s.cpu_fallback => format!(
                "gdio is ready on {} ({})",
                s.name,
                s.note.clone().unwrap_or_default()
            ),
            Some(s) => format!("gdio is ready on {}", s.name),
            None => "gdio is ready".into(),
        }
    } else {
        format!("gdio is NOT ready: {}", verdict.join("; "))
    };
    if json {
        report::json(&ProbeOutput {
            device: summary,
            sections,
            ready,
            verdict: verdict_line,
        })?;
    } else {
        if let Ok(g) = &gpu {
            println!("{}\n", gpu::line(g));
        }
        for s in &sections {
            println!("{}", s.title);
            let w = s
                .findings
                .iter()
                .map(|f| f.item.chars().count())
                .max()
                .unwrap_or(0);
            for f in &s.findings {
                let mark = if f.ok { " " } else { "!" };
                println!("{mark} {:<w$} : {}", f.item, f.value);
                if !f.meaning.is_empty() {
                    println!("  {:<w$}   -> {}", "", f.meaning);
                }
            }
            println!();
        }
        println!("{verdict_line}");
    }
    Ok(if ready { OK } else { crate::error::FAILED })
}
