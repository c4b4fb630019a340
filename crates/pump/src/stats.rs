//! Live counters (readable while the pump runs) and the report `stop()` returns.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gdio_protocol::Op;
use hdrhistogram::Histogram;

/// Counters the pump thread updates (the only writer) and any thread may read.
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    pub claimed: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub bytes: AtomicU64,
    pub in_flight: AtomicU64,
    pub parks: AtomicU64,
}

/// A snapshot of the live counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Requests claimed.
    pub claimed: u64,
    /// Requests completed (any result).
    pub completed: u64,
    /// Requests completed with a negative result.
    pub failed: u64,
    /// Bytes read plus bytes written.
    pub bytes: u64,
    /// Claimed and not yet completed.
    pub in_flight: u64,
    /// Times the pump parked while idle.
    pub parks: u64,
}

impl LiveCounters {
    /// Adds `n` to one counter. Only the pump thread writes these, so a load and a store do
    /// it without a locked read-modify-write: on x86 each of those is a full barrier that
    /// also waits for the completion entries just stored to ReBAR (write-combining) to drain,
    /// and the pump updates several counters per request.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Subtracts one from a counter (single writer, as [`LiveCounters::add`]).
    pub(crate) fn sub_one(counter: &AtomicU64) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_sub(1),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn snapshot(&self) -> LiveStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LiveStats {
            claimed: l(&self.claimed),
            completed: l(&self.completed),
            failed: l(&self.failed),
            bytes: l(&self.bytes),
            in_flight: l(&self.in_flight),
            parks: l(&self.parks),
        }
    }
}

/// Per-op counts in a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Completed with a result >= 0.
    pub ok: u64,
    /// Completed with a negative result.
    pub failed: u64,
    /// Bytes moved by the successful ones.
    pub bytes: u64,
}

/// What the copy engine of staged windows did (all zero without one): where a staged request's
/// time goes besides its ring op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Batches submitted to the engine (at most one per pump turn).
    pub batches: u64,
    /// Copies in those batches (one per staged request, more for a checked WRITE copied again).
    pub copies: u64,
    /// Pump-thread time spent in the engine's submit (for a Vulkan copy queue: recording the
    /// command buffer and `vkQueueSubmit`).
    pub submit_time: Duration,
    /// Summed over batches: from its submission to the pump turn that saw it finished.
    pub batch_time: Duration,
    /// The longest of those.
    pub batch_time_max: Duration,
    /// Staged requests that waited for a free staging chunk before they could start.
    pub waited_for_chunk: u64,
}

impl std::fmt::Display for CopyStats {
    /// One line: batches, copies per batch, submit time, batch times, waits for staging.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let batches = self.batches.max(1) as f64;
        write!(
            f,
            "{} batches of {:.1} copies on average, {:.2} s of the pump thread in submit, a batch finished {:.0} µs after its submit on average ({:.0} µs at most), {} requests waited for a staging chunk",
            self.batches,
            self.copies as f64 / batches,
            self.submit_time.as_secs_f64(),
            self.batch_time.as_secs_f64() * 1e6 / batches,
            self.batch_time_max.as_secs_f64() * 1e6,
            self.waited_for_chunk
        )
    }
}

/// What a pump did, returned by [`crate::PumpHandle::stop`].
#[derive(Debug, Clone)]
pub struct PumpReport {
    /// Counts by op (`Op::ALL` order); requests with an unknown op are under `rejected`.
    pub by_op: [(Op, OpCounts); 6],
    /// Requests refused before execution (validation failures, including unknown ops).
    pub rejected: u64,
    /// Publications claimed. Each is completed exactly once, so after a stop this equals
    /// [`PumpReport::completed`].
    pub claimed: u64,
    /// Negative results by value (errno or protocol code) and how often each occurred.
    pub errors: BTreeMap<i32, u64>,
    /// Publications answered BAD_GENERATION without a claim.
    pub bad_generations: u64,
    /// Claim-to-completion latency in nanoseconds: the host's part of each request.
    pub latency_ns: Histogram<u64>,
    /// Device turnaround in nanoseconds: from completing a slot's request to claiming the
    /// slot's next one. With one request at a time per slot (a lane that waits for each
    /// answer), that is the completion's way to the device, the device's own work between
    /// two requests (a B-tree lane's node search), and the next request's way back: what a
    /// round trip costs beyond the host's part.
    pub turnaround_ns: Histogram<u64>,
    /// Wall time the pump ran.
    pub elapsed: Duration,
    /// CPU time the pump thread used.
    pub cpu_time: Duration,
    /// Loop turns.
    pub turns: u64,
    /// Idle parks.
    pub parks: u64,
    /// The copy engine's work for staged windows.
    pub copies: CopyStats,
}

impl PumpReport {
    pub(crate) fn new() -> PumpReport {
        PumpReport {
            by_op: Op::ALL.map(|op| (op, OpCounts::default())),
            rejected: 0,
            claimed: 0,
            errors: BTreeMap::new(),
            bad_generations: 0,
            latency_ns: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("valid histogram bounds"),
            turnaround_ns: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("valid histogram bounds"),
            elapsed: Duration::ZERO,
            cpu_time: Duration::ZERO,
            turns: 0,
            parks: 0,
            copies: CopyStats::default(),
        }
    }

    /// Requests completed, any result.
    #[must_use]
    pub fn completed(&self) -> u64 {
        self.by_op.iter().map(|(_, c)| c.ok + c.failed).sum::<u64>() + self.rejected
    }

    /// Counts for one op.
    #[must_use]
    pub fn op(&self, op: Op) -> OpCounts {
        self.by_op
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }

    /// How many completions carried `result`.
    #[must_use]
    pub fn count_of(&self, result: i32) -> u64 {
        self.errors.get(&result).copied().unwrap_or(0)
    }

    pub(crate) fn record_turnaround(&mut self, d: Duration) {
        let _ = self
            .turnaround_ns
            .record(d.as_nanos().clamp(1, u128::from(u64::MAX)) as u64);
    }

    pub(crate) fn record(&mut self, op: Option<Op>, result: i32, latency: Duration) {
        let _ = self
            .latency_ns
            .record(latency.as_nanos().clamp(1, u128::from(u64::MAX)) as u64);
        if result < 0 {
            *self.errors.entry(result).or_default() += 1;
        }
        match op.and_then(|op| self.by_op.iter_mut().find(|(o, _)| *o == op)) {
            Some((_, c)) if result >= 0 => {
                c.ok += 1;
                c.bytes += result as u64;
            }
            Some((_, c)) => c.failed += 1,
            None => self.rejected += 1,
        }
    }
}

impl std::fmt::Display for PumpReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "pump ran {:.3} s, cpu {:.3} s, {} turns, {} parks",
            self.elapsed.as_secs_f64(),
            self.cpu_time.as_secs_f64(),
            self.turns,
            self.parks
        )?;
        for (op, c) in &self.by_op {
            if c.ok + c.failed > 0 {
                writeln!(
                    f,
                    "  {:<9} ok {:>10}  failed {:>8}  bytes {:>14}",
                    op.name(),
                    c.ok,
                    c.failed,
                    c.bytes
                )?;
            }
        }
        if self.rejected > 0 {
            writeln!(f, "  rejected  {}", self.rejected)?;
        }
        for (code, n) in &self.errors {
            let name = gdio_protocol::ResultCode::from_value(*code)
                .map_or_else(|| format!("errno {}", -code), |c| c.name().to_string());
            writeln!(f, "  result {code} ({name}): {n}")?;
        }
        let h = &self.latency_ns;
        if !h.is_empty() {
            writeln!(
                f,
                "  latency p50 {} ns, p99 {} ns, max {} ns",
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.max()
            )?;
        }
        if self.copies.batches > 0 {
            writeln!(f, "  copy engine: {}", self.copies)?;
        }
        let t = &self.turnaround_ns;
        if !t.is_empty() {
            writeln!(
                f,
                "  device turnaround p50 {} ns, p99 {} ns",
                t.value_at_quantile(0.5),
                t.value_at_quantile(0.99)
            )?;
        }
        Ok(())
    }
}
