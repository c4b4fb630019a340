//! Bar charts as plain SVG (no font or plotting dependency): one bar per measurement, on a
//! logarithmic axis so that bars 100× apart both stay readable.

use std::fmt::Write as _;
use std::path::Path;

/// A horizontal bar chart with a logarithmic value axis.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title at the top.
    pub title: String,
    /// Unit of the values, shown under the axis.
    pub unit: String,
    /// Writes an axis tick's value (the unit's own formatter: `nanos`, `rate_of`, `per_sec`).
    pub tick: fn(f64) -> String,
    /// (label, value, value as text) per bar.
    pub bars: Vec<(String, f64, String)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The decades the axis spans: from the power of ten at or below the smallest value (one lower
/// when the smallest value is that power, so its bar still shows) to the one at or above the
/// largest.
fn decades(values: impl Iterator<Item = f64>) -> (i32, i32) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0, 1);
    }
    let mut a = lo.log10().floor() as i32;
    if 10f64.powi(a) >= lo {
        a -= 1;
    }
    let b = (hi.log10().ceil() as i32).max(a + 1);
    (a, b)
}

/// A tick label without trailing zeros: "10.00 µs" → "10 µs", "2.50 GB/s" → "2.5 GB/s".
fn trim_zeros(label: &str) -> String {
    match label.split_once(' ') {
        Some((num, unit)) if num.contains('.') => {
            format!("{} {unit}", num.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => label.to_string(),
    }
}

impl Chart {
    /// A chart with no bars yet.
    #[must_use]
    pub fn new(title: &str, unit: &str, tick: fn(f64) -> String) -> Chart {
        Chart {
            title: title.into(),
            unit: unit.into(),
            tick,
            bars: Vec::new(),
        }
    }

    /// Adds a bar.
    pub fn bar(&mut self, label: impl Into<String>, value: f64, text: impl Into<String>) {
        self.bars.push((label.into(), value, text.into()));
    }

    /// The chart as an SVG document.
    #[must_use]
    pub fn svg(&self) -> String {
        let (left, bar_h, gap, width) = (320.0, 26.0, 10.0, 960.0);
        let plot = width - left - 170.0;
        let top = 50.0;
        let bottom = top + self.bars.len() as f64 * (bar_h + gap);
        let height = bottom + 60.0;
        let (a, b) = decades(self.bars.iter().map(|bar| bar.1));
        let span = f64::from(b - a);
        // Position of a value along the axis: the log of the value, from 10^a to 10^b.
        let x = |v: f64| {
            let l = if v > 0.0 { v.log10() } else { f64::from(a) };
            left + ((l - f64::from(a)) / span).clamp(0.0, 1.0) * plot
        };
        let colors = [
            "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
        ];
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="28" font-size="16" font-weight="bold" text-anchor="middle">{}</text>"#,
            width / 2.0,
            esc(&self.title)
        );
        // One grid line per decade, labelled with the unit's own formatter.
        for d in a..=b {
            let v = 10f64.powi(d);
            let gx = x(v);
            let _ = writeln!(
                s,
                r##"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="{bottom}" stroke="#ccc"/>"##,
                top - 6.0
            );
            let _ = writeln!(
                s,
                r##"<text x="{gx:.1}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
                bottom + 18.0,
                esc(&trim_zeros(&(self.tick)(v)))
            );
        }
        for (i, (label, v, text)) in self.bars.iter().enumerate() {
            let y = top + i as f64 * (bar_h + gap);
            let w = (x(*v) - left).max(1.0);
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                left - 8.0,
                y + bar_h * 0.7,
                esc(label)
            );
            let _ = writeln!(
                s,
                r#"<rect x="{left}" y="{y}" width="{w:.1}" height="{bar_h}" fill="{}"/>"#,
                colors[i % colors.len()]
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}">{}</text>"#,
                left + w + 6.0,
                y + bar_h * 0.7,
                esc(text)
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{left}" y="{}" fill="#555">{} (logarithmic axis: each grid line is 10× the one before)</text>"##,
            height - 12.0,
            esc(&self.unit)
        );
        s.push_str("</svg>\n");
        s
    }

    /// Writes the SVG to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.svg())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_spans_whole_decades_around_the_values() {
        assert_eq!(decades([561.0, 44_610.0].into_iter()), (2, 5));
        // The smallest value on a power of ten gets a decade below it, so its bar shows.
        assert_eq!(decades([1000.0, 5000.0].into_iter()), (2, 4));
        assert_eq!(decades([3.0].into_iter()), (0, 1));
        assert_eq!(decades(std::iter::empty()), (0, 1));
    }

    #[test]
    fn tick_labels_lose_trailing_zeros() {
        assert_eq!(trim_zeros("10.00 µs"), "10 µs");
        assert_eq!(trim_zeros("2.50 GB/s"), "2.5 GB/s");
        assert_eq!(trim_zeros("100 ns"), "100 ns");
    }

    #[test]
    fn bars_100x_apart_both_show() {
        let mut c = Chart::new("t", "ns", |v| format!("{v}"));
        c.bar("small", 500.0, "500 ns");
        c.bar("large", 50_000.0, "50 µs");
        let svg = c.svg();
        let widths: Vec<f64> = svg
            .lines()
            .filter(|l| l.starts_with("<rect x="))
            .map(|l| {
                let w = l.split("width=\"").nth(1).unwrap();
                w[..w.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(widths.len(), 2);
        // On a linear axis the small bar would be 1 % of the large one.
        assert!(widths[0] > 0.2 * widths[1], "{widths:?}");
        assert!(widths[0] < widths[1]);
    }
}
