//! Output: JSON on stdout for `--json`, aligned text tables otherwise.

use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A text table with aligned columns (first column left-aligned, the rest right-aligned).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    /// Title printed above the table.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
    /// Lines printed under the table with `verbose` (how each row is measured, sources).
    pub notes: Vec<String>,
    /// Lines always printed under the table (measurements that call for care).
    pub warnings: Vec<String>,
}

impl Table {
    /// An empty table with a title and headers.
    #[must_use]
    pub fn new(title: &str, headers: &[&str]) -> Table {
        Table {
            title: title.to_string(),
            headers: headers.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Adds a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Adds a warning.
    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// The table as text: title, headers, rows, warnings, and the notes when `verbose`.
    #[must_use]
    pub fn render(&self, verbose: bool) -> String {
        let cols = self.headers.len();
        let mut width = vec![0usize; cols];
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |r: &Vec<String>| {
            let mut s = String::from("  ");
            for (i, c) in r.iter().enumerate().take(cols) {
                let pad = width[i].saturating_sub(c.chars().count());
                if i == 0 {
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad));
                } else {
                    s.push_str("  ");
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                }
            }
            s.trim_end().to_string()
        };
        let mut out = format!("{}\n", self.title);
        out.push_str(&line(&self.headers));
        out.push('\n');
        let total: usize = width.iter().sum::<usize>() + 2 * cols;
        out.push_str(&format!("  {}\n", "-".repeat(total.saturating_sub(2))));
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        for w in &self.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        if verbose {
            for n in &self.notes {
                out.push_str(&format!("  note: {n}\n"));
            }
        }
        out
    }
}
