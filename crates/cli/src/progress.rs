//! Progress bars: shown on a terminal for work that takes more than a second, hidden when
//! stderr is not a TTY or the output is JSON.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that only appears once its work has run for a second.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
    enabled: bool,
}

impl Progress {
    /// A bar of `total` units; `bytes` picks byte units for the counts.
    #[must_use]
    pub fn new(total: u64, what: &str, bytes: bool, enabled: bool) -> Progress {
        let enabled = enabled && std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let template = if bytes {
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
        } else {
            "{msg:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        Progress {
            bar,
            started: Instant::now(),
            shown: false,
            enabled,
        }
    }

    /// Sets the position; the bar appears after a second of work.
    pub fn set(&mut self, pos: u64) {
        if self.enabled && !self.shown && self.started.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        self.bar.set_position(pos);
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// A [`Progress`] bar made at the first report of the work, which brings its total: what a
/// workload's `progress(done, total)` callback feeds.
pub struct Reported {
    what: &'static str,
    bytes: bool,
    enabled: bool,
    bar: Option<Progress>,
}

impl Reported {
    /// A bar for `what` (`bytes`: byte units), shown as [`Progress::new`] says.
    #[must_use]
    pub fn new(what: &'static str, bytes: bool, enabled: bool) -> Reported {
        Reported {
            what,
            bytes,
            enabled,
            bar: None,
        }
    }

    /// `done` of `total`.
    pub fn set(&mut self, done: u64, total: u64) {
        let (what, bytes, enabled) = (self.what, self.bytes, self.enabled);
        self.bar
            .get_or_insert_with(|| Progress::new(total, what, bytes, enabled))
            .set(done);
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish();
        }
    }
}
