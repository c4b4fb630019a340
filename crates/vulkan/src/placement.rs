//! Where each part of a gdio queue lives, chosen by probing the device, reported, and
//! overridable with environment variables.
//!
//! - request region: host system memory (host-cached preferred): the device writes, the host
//!   polls, and host reads of ReBAR are ~7 MB/s on NVIDIA.
//! - completion region: memory a *running* shader sees host writes to: ReBAR on NVIDIA (the
//!   freshness probe's flag lives there, so a working probe proves it); on lavapipe the one heap.
//! - READ windows: the modes whose freshness probe passed (0 mismatches in every round after
//!   the first), preferring ones io_uring can register (READ_FIXED).
//! - WRITE windows: host memory the host reads fast, preferring registrable memory.

use std::fmt;
use std::time::{Duration, Instant};

use ash::vk;

use crate::context::{Context, DeviceInfo};
use crate::error::{Error, Result};
use crate::memory::{MappedBuffer, Placement};
use crate::patterns::freshness_word;
use crate::pipeline::{BufferSlice, ComputePipeline};
use crate::shaders;

/// Environment variables that override the plan: `GDIO_PLACE_REQUEST`,
/// `GDIO_PLACE_COMPLETION`, `GDIO_PLACE_READ_WINDOW`, `GDIO_PLACE_WRITE_WINDOW`; values are
/// [`Placement::name`]s (`host-cached`, `host-coherent`, `rebar`, `imported`).
pub const PLACE_ENV: [&str; 4] = [
    "GDIO_PLACE_REQUEST",
    "GDIO_PLACE_COMPLETION",
    "GDIO_PLACE_READ_WINDOW",
    "GDIO_PLACE_WRITE_WINDOW",
];

/// Where each part of a queue and its windows lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacementPlan {
    /// Request region (device writes, host polls).
    pub request: Placement,
    /// Completion region (host writes, device polls).
    pub completion: Placement,
    /// Windows the host fills with READs for a running shader.
    pub read_window: Placement,
    /// Windows a shader fills and the host WRITEs to files.
    pub write_window: Placement,
    /// Whether read windows can be io_uring fixed buffers (READ_FIXED) or take plain READ.
    pub read_window_registered: bool,
    /// Whether write windows can be io_uring fixed buffers (WRITE_FIXED).
    pub write_window_registered: bool,
    /// Whether the plan came from a probe (else from the measured defaults).
    pub probed: bool,
}

impl PlacementPlan {
    /// The plan the measurements in gpu-findings.md call for, without probing: request region
    /// host-cached, completion region and READ windows in ReBAR (DEVICE_LOCAL | HOST_VISIBLE;
    /// on lavapipe that is the one memory type), WRITE windows host-cached.
    #[must_use]
    pub fn defaults() -> PlacementPlan {
        PlacementPlan {
            request: Placement::HostCached,
            completion: Placement::DeviceLocalHostVisible,
            read_window: Placement::DeviceLocalHostVisible,
            write_window: Placement::HostCached,
            read_window_registered: false,
            write_window_registered: true,
            probed: false,
        }
    }

    /// Applies the [`PLACE_ENV`] overrides.
    pub fn with_env_overrides(mut self) -> Result<PlacementPlan> {
        for (i, var) in PLACE_ENV.iter().enumerate() {
            let Ok(v) = std::env::var(var) else { continue };
            let p = Placement::parse(&v).ok_or_else(|| {
                Error::Invalid(format!(
                    "{var}={v:?}: use host-cached, host-coherent, rebar or imported"
                ))
            })?;
            match i {
                0 => self.request = p,
                1 => self.completion = p,
                2 => self.read_window = p,
                _ => self.write_window = p,
            }
        }
        Ok(self)
    }
}

impl fmt::Display for PlacementPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reg = |r| {
            if r {
                "registered, *_FIXED"
            } else {
                "unregistered, plain READ/WRITE"
            }
        };
        writeln!(
            f,
            "placement plan ({}):",
            if self.probed { "probed" } else { "defaults" }
        )?;
        writeln!(f, "  request region    : {}", self.request)?;
        writeln!(f, "  completion region : {}", self.completion)?;
        writeln!(
            f,
            "  read windows      : {} ({})",
            self.read_window,
            reg(self.read_window_registered)
        )?;
        writeln!(
            f,
            "  write windows     : {} ({})",
            self.write_window,
            reg(self.write_window_registered)
        )
    }
}

/// What the freshness probe saw for one window placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// Rounds asked for.
    pub rounds: u32,
    /// Rounds every lane acknowledged.
    pub rounds_done: u32,
    /// Mismatching words in round 1 (first touch: right even where later rounds are stale).
    pub first_round_mismatches: u64,
    /// Mismatching words in rounds 2.. summed.
    pub later_mismatches: u64,
    /// Rounds after the first with any mismatch.
    pub stale_rounds: u32,
    /// Why the probe ended early, if it did (host or shader timeout).
    pub incomplete: Option<String>,
    /// Wall time of the dispatch.
    pub elapsed: Duration,
}

impl Freshness {
    /// Passes only if every round ran and rounds after the first had 0 mismatches.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.incomplete.is_none() && self.rounds_done == self.rounds && self.later_mismatches == 0
    }
}

/// Whether io_uring could register a buffer as a fixed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// `IORING_REGISTER_BUFFERS` accepted it.
    Registered,
    /// It was refused with this error (EFAULT for ReBAR on NVIDIA; ENOMEM for RLIMIT_MEMLOCK).
    Refused(String),
    /// io_uring itself is unavailable.
    NoRing(String),
    /// Not probed: [`probe`] was given no registration check (the composing crate `gdio`
    /// gives one that tries io_uring).
    NotProbed,
}

/// The probe of one window placement.
#[derive(Debug, Clone)]
pub struct ModeReport {
    /// The placement probed.
    pub placement: Placement,
    /// The memory type it got, and its flags (None if allocation failed).
    pub memory: Option<(u32, vk::MemoryPropertyFlags)>,
    /// Freshness probe outcome (Err: why it could not run).
    pub freshness: std::result::Result<Freshness, String>,
    /// Registration probe outcome.
    pub registration: Registration,
}

impl ModeReport {
    /// Freshness passed.
    #[must_use]
    pub fn fresh(&self) -> bool {
        self.freshness.as_ref().is_ok_and(Freshness::passed)
    }

    /// io_uring registration worked.
    #[must_use]
    pub fn registers(&self) -> bool {
        self.registration == Registration::Registered
    }
}

/// Options of [`probe`].
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Freshness rounds per mode (the H100 fails system memory from round 2).
    pub rounds: u32,
    /// Window bytes rewritten each round.
    pub window_bytes: usize,
    /// Placements to probe.
    pub modes: Vec<Placement>,
    /// Where the probe's flag lives (the completion-region candidate).
    pub flag: Placement,
    /// Where the probe's acks live (the request-region candidate).
    pub ack: Placement,
    /// Host-side limit for one round's acknowledgement.
    pub round_timeout: Duration,
}

impl ProbeOptions {
    /// Defaults for a device: 64 KiB windows; 200 rounds on GPUs, 8 on CPU devices (lavapipe's
    /// loop cap bounds the rounds one dispatch can spin through).
    #[must_use]
    pub fn for_device(info: &DeviceInfo) -> ProbeOptions {
        ProbeOptions {
            rounds: if info.is_cpu() { 8 } else { 200 },
            window_bytes: 64 << 10,
            modes: Placement::ALL.to_vec(),
            flag: Placement::DeviceLocalHostVisible,
            ack: Placement::HostCached,
            round_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything `gdio probe` prints.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The device.
    pub device: DeviceInfo,
    /// Options used.
    pub rounds: u32,
    /// Window bytes per round.
    pub window_bytes: usize,
    /// Flag (completion-side) and ack (request-side) placements used.
    pub flag: Placement,
    /// Ack placement.
    pub ack: Placement,
    /// One report per mode.
    pub modes: Vec<ModeReport>,
    /// The plan derived from the modes (before env overrides).
    pub plan: PlacementPlan,
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.device)?;
        writeln!(
            f,
            "freshness probe: {} rounds of {} KiB; flag in {}, acks in {}",
            self.rounds,
            self.window_bytes >> 10,
            self.flag,
            self.ack
        )?;
        writeln!(
            f,
            "  {:<14} {:>4}  {:<58} {:<30} io_uring register",
            "window", "type", "flags", "freshness"
        )?;
        for m in &self.modes {
            let (ty, flags) = match m.memory {
                Some((t, fl)) => (t.to_string(), format!("{fl:?}")),
                None => ("-".into(), "(not allocated)".into()),
            };
            let fresh = match &m.freshness {
                Ok(fr) if fr.passed() => format!("PASS ({} rounds, 0 stale)", fr.rounds_done),
                Ok(fr) => match &fr.incomplete {
                    Some(why) => format!("INCOMPLETE after {} rounds: {why}", fr.rounds_done),
                    None => format!(
                        "FAIL: {}/{} later rounds stale ({} words), round 1: {}",
                        fr.stale_rounds,
                        fr.rounds_done.saturating_sub(1),
                        fr.later_mismatches,
                        fr.first_round_mismatches
                    ),
                },
                Err(e) => format!("not run: {e}"),
            };
            let reg = match &m.registration {
                Registration::Registered => "ok".to_string(),
                Registration::Refused(e) => format!("refused: {e}"),
                Registration::NoRing(e) => format!("no io_uring: {e}"),
                Registration::NotProbed => "not probed".to_string(),
            };
            writeln!(
                f,
                "  {:<14} {:>4}  {:<58} {:<30} {}",
                m.placement.name(),
                ty,
                flags,
                fresh,
                reg
            )?;
        }
        write!(f, "{}", self.plan)
    }
}

const ABORT: u32 = u32::MAX;
const ACK_HEADER_WORDS: usize = 64;

/// Runs the freshness probe on one window (see `shaders/freshness.comp`): `opts.rounds`
/// rounds of `opts.window_bytes` bytes; the pipeline is [`freshness_pipeline`]'s.
///
/// With `sabotage`, every third round rewrites only the first half of the window: the probe
/// must then report exactly those stale words (a self-test of the checker).
pub fn freshness(
    ctx: &Context,
    pipeline: &ComputePipeline,
    window: &MappedBuffer,
    ack: &MappedBuffer,
    flag: &MappedBuffer,
    opts: &ProbeOptions,
    sabotage: bool,
) -> Result<Freshness> {
    let (window_bytes, rounds, round_timeout) =
        (opts.window_bytes, opts.rounds, opts.round_timeout);
    let lanes = shaders::LANES_PER_GROUP as usize;
    let words = (window_bytes.min(window.len()) / 4) as u32;
    if ack.len() < (ACK_HEADER_WORDS + lanes * (rounds as usize + 1)) * 4 {
        return Err(Error::Invalid(
            "ack buffer too small for the rounds asked".into(),
        ));
    }
    ack.fill(0, ack.len(), 0)?;
    flag.store_u32_release(0, 0);
    let per_round = words / (4 * lanes as u32) + 4;
    let spin_budget = if ctx.info().is_cpu() {
        // Stay under lavapipe's 65,535 loop iterations for the whole dispatch.
        (60_000u32.saturating_sub(rounds * per_round) / rounds.max(1)).max(16)
    } else {
        1 << 24
    };
    let push: Vec<u8> = [rounds, words, spin_budget, 0x5EED]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    // Patterns are made before the dispatch so that a round costs the host one memcpy.
    let patterns: Vec<Vec<u8>> = (1..=rounds)
        .map(|r| {
            (0..words)
                .flat_map(|i| freshness_word(r, i, 0x5EED).to_le_bytes())
                .collect()
        })
        .collect();
    let set = pipeline.bind(&[
        BufferSlice::whole(ack),
        BufferSlice::whole(flag),
        BufferSlice::whole(window),
    ])?;

    let mut dispatch = ctx.dispatch(pipeline, &set, &push, [1, 1, 1])?;
    let mut incomplete = None;
    let mut rounds_done = 0;
    for r in 1..=rounds {
        let pattern = &patterns[r as usize - 1];
        let n = if sabotage && r % 3 == 0 {
            pattern.len() / 2
        } else {
            pattern.len()
        };
        window.write(0, &pattern[..n])?;
        flag.store_u32_release(0, r);
        let deadline = Instant::now() + round_timeout;
        let mut spins = 0u32;
        let acked = loop {
            let all = (0..lanes).all(|l| ack.load_u32_acquire(l) == r);
            if all {
                break true;
            }
            if (0..lanes).any(|l| ack.load_u32(8 + l) != 0) {
                incomplete = Some(format!("shader spin budget ran out waiting for round {r}"));
                break false;
            }
            if Instant::now() > deadline {
                incomplete = Some(format!("no ack for round {r} within {round_timeout:?}"));
                break false;
            }
            spins += 1;
            if spins % 4096 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        };
        if !acked {
            break;
        }
        rounds_done = r;
    }
    if incomplete.is_some() {
        flag.store_u32_release(0, ABORT);
    }
    let elapsed = dispatch.wait(round_timeout + Duration::from_secs(5))?;
    let mut first = 0u64;
    let mut later = 0u64;
    let mut stale_rounds = 0;
    for r in 1..=rounds_done {
        let counts = ack.read_u32s(ACK_HEADER_WORDS + lanes * r as usize, lanes)?;
        let n: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        if r == 1 {
            first = n;
        } else {
            later += n;
            stale_rounds += u32::from(n > 0);
        }
    }
    Ok(Freshness {
        rounds,
        rounds_done,
        first_round_mismatches: first,
        later_mismatches: later,
        stale_rounds,
        incomplete,
        elapsed,
    })
}

/// The freshness probe's pipeline (bindings: ack, flag, window; 16 bytes of push constants).
pub fn freshness_pipeline(ctx: &Context) -> Result<ComputePipeline> {
    ComputePipeline::new(ctx, shaders::FRESHNESS, 3, 16)
}

/// The probe's ack buffer (in `opts.ack`) and flag buffer (in `opts.flag`).
pub fn probe_buffers(ctx: &Context, opts: &ProbeOptions) -> Result<(MappedBuffer, MappedBuffer)> {
    let lanes = shaders::LANES_PER_GROUP as usize;
    let ack = MappedBuffer::new(
        ctx,
        (ACK_HEADER_WORDS + lanes * (opts.rounds as usize + 1)) * 4,
        opts.ack,
    )?;
    let flag = MappedBuffer::new(ctx, 4096, opts.flag)?;
    Ok((ack, flag))
}

/// Probes every mode in `opts`: freshness (one dispatch each) and, through `register`,
/// whether the host's IO layer can register the window (this crate does no IO: `gdio::probe`
/// passes io_uring's registration; pass `|_| Registration::NotProbed` to skip it); then
/// derives a [`PlacementPlan`].
pub fn probe(
    ctx: &Context,
    opts: &ProbeOptions,
    register: &dyn Fn(&MappedBuffer) -> Registration,
) -> Result<ProbeReport> {
    let pipeline = freshness_pipeline(ctx)?;
    let (ack, flag) = probe_buffers(ctx, opts)?;
    let mut modes = Vec::new();
    for &placement in &opts.modes {
        let report = match MappedBuffer::new(ctx, opts.window_bytes, placement) {
            Ok(window) => {
                let registration = register(&window);
                let fresh = freshness(ctx, &pipeline, &window, &ack, &flag, opts, false)
                    .map_err(|e| e.to_string());
                ModeReport {
                    placement,
                    memory: Some((window.memory_type(), window.memory_flags())),
                    freshness: fresh,
                    registration,
                }
            }
            Err(e) => ModeReport {
                placement,
                memory: None,
                freshness: Err(e.to_string()),
                registration: Registration::NoRing("not allocated".into()),
            },
        };
        modes.push(report);
    }
    let plan = plan_from(&modes, opts);
    Ok(ProbeReport {
        device: ctx.info().clone(),
        rounds: opts.rounds,
        window_bytes: opts.window_bytes,
        flag: opts.flag,
        ack: opts.ack,
        modes,
        plan,
    })
}

/// Derives the plan from probed modes: READ windows in a fresh mode, registrable ones first
/// (host-cached, imported, host-coherent, rebar); WRITE windows in host memory, registrable
/// first; the request region where the acks were, the completion region where the flag was
/// (any completed round proves a running shader saw host writes there).
#[must_use]
pub fn plan_from(modes: &[ModeReport], opts: &ProbeOptions) -> PlacementPlan {
    let order = |p: Placement| Placement::ALL.iter().position(|&q| q == p).unwrap_or(9);
    let mut fresh: Vec<&ModeReport> = modes.iter().filter(|m| m.fresh()).collect();
    fresh.sort_by_key(|m| (!m.registers(), order(m.placement)));
    let mut defaults = PlacementPlan::defaults();
    if let Some(m) = fresh.first() {
        defaults.read_window = m.placement;
        defaults.read_window_registered = m.registers();
    }
    let mut host: Vec<&ModeReport> = modes
        .iter()
        .filter(|m| m.memory.is_some() && m.placement != Placement::DeviceLocalHostVisible)
        .collect();
    host.sort_by_key(|m| (!m.registers(), order(m.placement)));
    if let Some(m) = host.first() {
        defaults.write_window = m.placement;
        defaults.write_window_registered = m.registers();
    }
    defaults.request = opts.ack;
    defaults.completion = opts.flag;
    defaults.probed = true;
    defaults
}
