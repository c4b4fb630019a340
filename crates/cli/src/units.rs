//! Human units: sizes ("1.5 GiB"), rates ("3.2 GB/s"), durations, and parsing sizes.

use std::time::Duration;

/// Bytes in binary units: "512 B", "4.0 KiB", "1.5 GiB".
#[must_use]
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// Bytes per second (0 for a zero duration).
#[must_use]
pub fn bytes_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 {
        bytes as f64 / s
    } else {
        0.0
    }
}

/// Formats bytes per second: "850 MB/s", "3.20 GB/s".
#[must_use]
pub fn rate_of(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.2} GB/s", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.0} MB/s", bps / 1e6)
    } else if bps >= 1e3 {
        format!("{:.0} kB/s", bps / 1e3)
    } else {
        format!("{bps:.0} B/s")
    }
}

/// A count per second: "1.25 M/s", "830 k/s".
#[must_use]
pub fn per_sec(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.2} M/s", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} k/s", n / 1e3)
    } else {
        format!("{n:.1} /s")
    }
}

/// A duration: "850 ns", "12.3 µs", "4.56 ms", "1.23 s".
#[must_use]
pub fn duration(d: Duration) -> String {
    nanos(d.as_nanos() as f64)
}

/// Nanoseconds as a duration string.
#[must_use]
pub fn nanos(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A ratio: "3.2×", or "-" when undefined.
#[must_use]
pub fn ratio(a: f64, b: f64) -> String {
    if a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() {
        format!("{:.2}×", a / b)
    } else {
        "-".into()
    }
}

/// Parses a size: a number with an optional unit, binary or decimal, any case, optional space:
/// "4096", "4k", "4KiB", "64 MiB", "1.5G", "2GB". `k`/`K`/`KiB` are 1024; `kB`/`KB`... are
/// decimal only when written with a trailing `B` and no `i` ("1 GB" = 10^9).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a size: use e.g. 4096, 64KiB, 1.5GiB or 2GB"))?;
    let unit = unit.trim();
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024f64.powi(2),
        "g" | "gib" => 1024f64.powi(3),
        "t" | "tib" => 1024f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {s:?}: use B, KiB, MiB, GiB, TiB (or k, M, G, T; KB, MB, GB for powers of 1000)"
            ))
        }
    };
    let v = num * mult;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(v.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("64 MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("2GB").unwrap(), 2_000_000_000);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("x").is_err());
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(
            rate_of(bytes_per_sec(3_200_000_000, Duration::from_secs(1))),
            "3.20 GB/s"
        );
        assert_eq!(duration(Duration::from_micros(12)), "12.00 µs");
        assert_eq!(ratio(6.0, 2.0), "3.00×");
    }
}
