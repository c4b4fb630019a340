//! The `GDIO_*` environment variables of the `gdio` command, read and checked once, with the
//! same units and ranges as the flags. `main` calls [`init`] before any command runs, so that a
//! bad value ends the run (exit 2) with a message naming the variable, the value and what to
//! use; everything else reads them through [`get`].

use std::ffi::{OsStr, OsString};
use std::sync::OnceLock;

use gdio_vulkan::placement::PLACE_ENV;
use gdio_vulkan::{FenceWait, Placement, PlacementPlan};

use crate::error::CliError;
use crate::units::parse_size;

/// The variables the command reads (GDIO_PLACE_* are [`PLACE_ENV`]).
pub const KNOWN: [&str; 12] = [
    "GDIO_DEVICE",
    "GDIO_PUMPS",
    "GDIO_SEARCH",
    "GDIO_ASYNC_MIN",
    "GDIO_IOWQ_WORKERS",
    "GDIO_STAGING",
    "GDIO_FENCE_WAIT",
    "GDIO_ORCHESTRATED_STAGING",
    PLACE_ENV[0],
    PLACE_ENV[1],
    PLACE_ENV[2],
    PLACE_ENV[3],
];

/// Most pump threads, as `--pumps` takes.
pub const MAX_PUMPS: u32 = 64;

const PLACEMENTS: &str = "host-cached, host-coherent, rebar or imported";

/// The settings the environment gave (`None`: unset, the device's default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Knobs {
    /// `GDIO_DEVICE`: an index or a name substring (as `--device`; empty or `auto`: the default).
    pub device: Option<String>,
    /// `GDIO_PUMPS`: pump threads for lookups and random reads, 1..=64 (as `--pumps`).
    pub pumps: Option<u32>,
    /// `GDIO_SEARCH`: `Some(true)` for `subgroup`, `Some(false)` for `lane`.
    pub subgroup_search: Option<bool>,
    /// `GDIO_ASYNC_MIN`: `Some(None)` for `off` (or 0), `Some(Some(bytes))` for a size.
    pub async_min: Option<Option<u32>>,
    /// `GDIO_IOWQ_WORKERS`: most io-wq workers per pump.
    pub io_wq_workers: Option<u32>,
    /// `GDIO_STAGING`: bytes of host staging for device-local windows.
    pub staging: Option<usize>,
    /// `GDIO_FENCE_WAIT`: spin or block.
    pub fence_wait: Option<FenceWait>,
    /// `GDIO_ORCHESTRATED_STAGING`: where the CPU-orchestrated baselines pread.
    pub orchestrated_staging: Option<Placement>,
    /// `GDIO_PLACE_REQUEST`, `_COMPLETION`, `_READ_WINDOW`, `_WRITE_WINDOW`, in [`PLACE_ENV`]'s
    /// order.
    pub place: [Option<Placement>; 4],
    /// One line for each `GDIO_*` variable the command does not know (they are ignored).
    pub warnings: Vec<String>,
}

fn bad(var: &str, value: &str, what: &str) -> CliError {
    CliError::Usage(format!("{var}={value:?}: {what}"))
}

fn placement(var: &str, v: &str) -> Result<Placement, CliError> {
    Placement::parse(v).ok_or_else(|| bad(var, v, &format!("use {PLACEMENTS}")))
}

impl Knobs {
    /// Reads the process environment.
    pub fn from_env() -> Result<Knobs, CliError> {
        Knobs::from_vars(std::env::vars_os())
    }

    /// Reads `GDIO_*` variables out of `vars` (name, value pairs); others are skipped.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Knobs, CliError> {
        let mut k = Knobs::default();
        let mut vars: Vec<(OsString, OsString)> = vars
            .into_iter()
            .filter(|(n, _)| n.as_encoded_bytes().starts_with(b"GDIO_"))
            .collect();
        vars.sort();
        for (name, value) in vars {
            let Some(name) = name.to_str() else {
                k.warnings.push(format!(
                    "{} is not a gdio setting; ignored (known: {})",
                    name.to_string_lossy(),
                    KNOWN.join(", ")
                ));
                continue;
            };
            if !KNOWN.contains(&name) {
                k.warnings.push(format!(
                    "{name} is not a gdio setting; ignored (known: {})",
                    KNOWN.join(", ")
                ));
                continue;
            }
            k.set(name, &value)?;
        }
        Ok(k)
    }

    fn set(&mut self, name: &str, value: &OsStr) -> Result<(), CliError> {
        let Some(raw) = value.to_str() else {
            return Err(CliError::Usage(format!(
                "{name}={:?}: not valid UTF-8; unset it or use a value from README.md's list of knobs",
                value.to_string_lossy()
            )));
        };
        let v = raw.trim();
        match name {
            "GDIO_DEVICE" => self.device = Some(v.to_string()),
            "GDIO_PUMPS" => {
                let n = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_PUMPS).contains(n))
                    .ok_or_else(|| {
                        bad(
                            name,
                            raw,
                            &format!("use a number of pump threads, 1..={MAX_PUMPS}"),
                        )
                    })?;
                self.pumps = Some(n);
            }
            "GDIO_SEARCH" => {
                self.subgroup_search = Some(match v {
                    "subgroup" => true,
                    "lane" => false,
                    _ => return Err(bad(name, raw, "use lane or subgroup")),
                });
            }
            "GDIO_ASYNC_MIN" => {
                let what = "use a size up to 4 GiB - 1 (e.g. 65536, 64KiB, 1MiB) or off";
                self.async_min = Some(if v.eq_ignore_ascii_case("off") {
                    None
                } else {
                    let n = parse_size(v).map_err(|e| bad(name, raw, &format!("{e}; {what}")))?;
                    let n = u32::try_from(n).map_err(|_| bad(name, raw, what))?;
                    (n > 0).then_some(n)
                });
            }
            "GDIO_IOWQ_WORKERS" => {
                self.io_wq_workers = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=4096).contains(n))
                        .ok_or_else(|| bad(name, raw, "use a count of workers, 1..=4096"))?,
                );
            }
            "GDIO_STAGING" => {
                let what = "use a size from 4 KiB to 16 GiB (e.g. 64MiB)";
                let n = parse_size(v).map_err(|e| bad(name, raw, &format!("{e}; {what}")))?;
                self.staging = Some(
                    usize::try_from(n)
                        .ok()
                        .filter(|n| (4096..=16 << 30).contains(n))
                        .ok_or_else(|| bad(name, raw, what))?,
                );
            }
            "GDIO_FENCE_WAIT" => {
                self.fence_wait = Some(match v {
                    "spin" => FenceWait::Spin,
                    "block" => FenceWait::Block,
                    _ => return Err(bad(name, raw, "use spin or block")),
                });
            }
            "GDIO_ORCHESTRATED_STAGING" => self.orchestrated_staging = Some(placement(name, raw)?),
            _ => {
                let i = PLACE_ENV
                    .iter()
                    .position(|p| *p == name)
                    .expect("a KNOWN name");
                self.place[i] = Some(placement(name, raw)?);
            }
        }
        Ok(())
    }

    /// `plan` with the `GDIO_PLACE_*` overrides applied (as
    /// [`PlacementPlan::with_env_overrides`] does).
    #[must_use]
    pub fn placements(&self, mut plan: PlacementPlan) -> PlacementPlan {
        let [request, completion, read_window, write_window] = self.place;
        plan.request = request.unwrap_or(plan.request);
        plan.completion = completion.unwrap_or(plan.completion);
        plan.read_window = read_window.unwrap_or(plan.read_window);
        plan.write_window = write_window.unwrap_or(plan.write_window);
        plan
    }
}

static KNOBS: OnceLock<Knobs> = OnceLock::new();

/// Reads and checks the environment; prints a warning line on stderr for each unknown `GDIO_*`
/// variable. Call once, before any command runs.
pub fn init() -> Result<&'static Knobs, CliError> {
    let k = Knobs::from_env()?;
    for w in &k.warnings {
        eprintln!("gdio: warning: {w}");
    }
    Ok(KNOBS.get_or_init(|| k))
}

/// The settings. In the command [`init`] ran first; elsewhere (unit tests) they are read here.
///
/// # Panics
///
/// Outside the command, if a `GDIO_*` variable has a bad value.
pub fn get() -> &'static Knobs {
    KNOBS.get_or_init(|| Knobs::from_env().unwrap_or_else(|e| panic!("{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(vars: &[(&str, &str)]) -> Result<Knobs, CliError> {
        Knobs::from_vars(vars.iter().map(|(n, v)| (n.into(), v.into())))
    }

    fn refused(var: &str, value: &str) -> String {
        let e = knobs(&[(var, value)]).expect_err(value).to_string();
        assert!(e.contains(var) && e.contains(value), "{e}");
        assert!(e.contains("use"), "says what to use: {e}");
        e
    }

    #[test]
    fn unset_means_defaults_and_other_variables_are_skipped() {
        assert_eq!(
            knobs(&[("PATH", "/bin"), ("XGDIO_PUMPS", "x")]).unwrap(),
            Knobs::default()
        );
    }

    #[test]
    fn pumps_take_the_flags_range() {
        assert_eq!(knobs(&[("GDIO_PUMPS", "4")]).unwrap().pumps, Some(4));
        assert_eq!(knobs(&[("GDIO_PUMPS", "64")]).unwrap().pumps, Some(64));
        for v in ["0", "65", "four", "-1", "", "4.5"] {
            refused("GDIO_PUMPS", v);
        }
    }

    #[test]
    fn io_wq_workers_is_a_count() {
        let w = |v: &str| knobs(&[("GDIO_IOWQ_WORKERS", v)]).map(|k| k.io_wq_workers);
        assert_eq!(w("16").unwrap(), Some(16));
        for bad in ["0", "-1", "sixteen", "4097"] {
            assert!(w(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn staging_is_a_size() {
        let s = |v: &str| knobs(&[("GDIO_STAGING", v)]).unwrap().staging;
        assert_eq!(s("64MiB"), Some(64 << 20));
        assert_eq!(s("4096"), Some(4096));
        for v in ["4095", "17GiB", "lots", ""] {
            refused("GDIO_STAGING", v);
        }
    }

    #[test]
    fn async_min_is_a_size_or_off() {
        let a = |v: &str| knobs(&[("GDIO_ASYNC_MIN", v)]).unwrap().async_min;
        assert_eq!(a("64KiB"), Some(Some(65_536)));
        assert_eq!(a("65536"), Some(Some(65_536)));
        assert_eq!(a("1 MiB"), Some(Some(1 << 20)));
        assert_eq!(a("off"), Some(None));
        assert_eq!(a("0"), Some(None));
        for v in ["4GiB", "lots", "64 parsecs", ""] {
            refused("GDIO_ASYNC_MIN", v);
        }
    }

    #[test]
    fn words_are_checked() {
        let k = knobs(&[
            ("GDIO_SEARCH", "lane"),
            ("GDIO_FENCE_WAIT", "block"),
            ("GDIO_ORCHESTRATED_STAGING", "host-cached"),
            ("GDIO_PLACE_READ_WINDOW", "host-coherent"),
            ("GDIO_DEVICE", "llvmpipe"),
        ])
        .unwrap();
        assert_eq!(k.subgroup_search, Some(false));
        assert_eq!(k.fence_wait, Some(FenceWait::Block));
        assert_eq!(k.orchestrated_staging, Some(Placement::HostCached));
        assert_eq!(k.device.as_deref(), Some("llvmpipe"));
        let plan = k.placements(PlacementPlan::defaults());
        assert_eq!(plan.read_window, Placement::HostCoherent);
        assert_eq!(plan.request, PlacementPlan::defaults().request);
        refused("GDIO_SEARCH", "warp");
        refused("GDIO_FENCE_WAIT", "yield");
        refused("GDIO_ORCHESTRATED_STAGING", "vram");
        for var in PLACE_ENV {
            refused(var, "vram");
        }
    }

    #[test]
    fn unknown_names_warn_without_failing() {
        let k = knobs(&[("GDIO_PUMP", "4"), ("GDIO_PUMPS", "2")]).unwrap();
        assert_eq!(k.pumps, Some(2));
        assert_eq!(k.warnings.len(), 1);
        assert!(k.warnings[0].starts_with("GDIO_PUMP is not a gdio setting"));
        assert!(k.warnings[0].contains("GDIO_PUMPS"), "lists the known ones");
    }

    #[test]
    fn non_utf8_values_are_refused() {
        use std::os::unix::ffi::OsStringExt;
        let e = Knobs::from_vars([(
            OsString::from("GDIO_SEARCH"),
            OsString::from_vec(vec![0xff, b'x']),
        )])
        .unwrap_err();
        assert!(e.to_string().contains("GDIO_SEARCH"), "{e}");
    }
}
