//! Bar charts as plain SVG (no font or plotting dependency): one bar per measurement.

use std::fmt::Write as _;
use std::path::Path;

/// A horizontal bar chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title at the top.
    pub title: String,
    /// Unit of the values, shown on the axis.
    pub unit: String,
    /// (label, value, value as text) per bar.
    pub bars: Vec<(String, f64, String)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Chart {
    /// A chart with no bars yet.
    #[must_use]
    pub fn new(title: &str, unit: &str) -> Chart {
        Chart {
            title: title.into(),
            unit: unit.into(),
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
        let (left, bar_h, gap, width) = (300.0, 26.0, 10.0, 900.0);
        let plot = width - left - 160.0;
        let height = 70.0 + self.bars.len() as f64 * (bar_h + gap) + 30.0;
        let max = self
            .bars
            .iter()
            .map(|b| b.1)
            .fold(0.0f64, f64::max)
            .max(f64::MIN_POSITIVE);
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
        for (i, (label, v, text)) in self.bars.iter().enumerate() {
            let y = 50.0 + i as f64 * (bar_h + gap);
            let w = (v / max * plot).max(1.0);
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
            r##"<text x="{left}" y="{}" fill="#555">{}</text>"##,
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
