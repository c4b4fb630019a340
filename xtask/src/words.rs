//! `cargo xtask test`'s word check: the repository speaks of gdio, not of the work that built
//! it, and names no place outside itself.
//!
//! Over the tracked sources and documents (`git ls-files`: `.rs .md .sh .toml .comp .glsl
//! .yml`; raw benchmark output and `Cargo.lock` are not among them) it fails, listing
//! `file:line`, on:
//! - the word [`WORD`] (any case, as a whole word, also its plural);
//! - an absolute path whose first folder is not a system one ([`SYSTEM_DIRS`]), such as a home
//!   folder or a build machine's work folder;
//! - a relative path that climbs out of the repository (more `../` than the file is deep), and
//!   a path into the folder [`SHARED`] beside the repository.

use std::path::Path;
use std::process::Command;

/// The word that names the work that built the repository (spelled so that this file does not
/// contain it).
pub const WORD: &str = "sess\u{69}on";

/// First folders of absolute paths that name the system, not someone's files (and
/// `nonexistent`, which tests use for a path that cannot exist).
pub const SYSTEM_DIRS: &[&str] = &[
    "usr",
    "dev",
    "proc",
    "sys",
    "tmp",
    "etc",
    "bin",
    "sbin",
    "lib",
    "lib32",
    "lib64",
    "opt",
    "var",
    "run",
    "nonexistent",
];

/// The folder beside the repository that its paths must not reach into.
pub const SHARED: &str = concat!("shared", "/");

/// File kinds the check reads.
const KINDS: &[&str] = &["rs", "md", "sh", "toml", "comp", "glsl", "yml"];

/// Checks every tracked file of [`KINDS`] under `root` (a git work tree); `Err` lists every hit
/// as `file:line: what`.
pub fn check(root: &Path) -> Result<(), String> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("word check: cannot run git ls-files: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "word check: git ls-files failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut hits = Vec::new();
    for name in String::from_utf8_lossy(&out.stdout).split('\0') {
        if !wanted(name) {
            continue;
        }
        // A tracked file deleted in the work tree has nothing to check.
        let Ok(text) = std::fs::read_to_string(root.join(name)) else {
            continue;
        };
        for (what, line) in scan(name, &text) {
            hits.push(format!("{name}:{line}: {what}"));
        }
    }
    if hits.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} line(s) speak of the work that built the repository or name a place outside it:\n{}",
            hits.len(),
            hits.join("\n")
        ))
    }
}

/// Whether the check reads the file `name` (a path relative to the repository root).
fn wanted(name: &str) -> bool {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    !name.is_empty() && KINDS.contains(&ext) && !name.ends_with("Cargo.lock")
}

/// Every hit in `text`, the content of the file `name`: (what, 1-based line).
fn scan(name: &str, text: &str) -> Vec<(String, usize)> {
    // How many folders deep the file lies: that many `../` stay inside the repository.
    let depth = name.matches('/').count();
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for what in line_hits(line, depth) {
            hits.push((what, i + 1));
        }
    }
    hits
}

fn word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')
}

/// The hits in one line of a file `depth` folders deep.
fn line_hits(line: &str, depth: usize) -> Vec<String> {
    const BESIDE: &str = "a path into the folder beside the repository that holds no part of it";
    let mut hits = Vec::new();
    let lower = line.to_ascii_lowercase();
    let b = lower.as_bytes();
    // The word, whole (letters and digits on neither side), or its plural.
    let mut from = 0;
    while let Some(at) = lower[from..].find(WORD) {
        let start = from + at;
        let mut end = start + WORD.len();
        if b.get(end) == Some(&b's') {
            end += 1;
        }
        let before = start == 0 || !word_char(b[start - 1]);
        let after = end == b.len() || !word_char(b[end]);
        if before && after {
            hits.push(format!("the word \"{}\"", &line[start..end]));
        }
        from = start + WORD.len();
    }
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        // Only where a path starts (not inside a word or another path), and only at the ASCII
        // bytes a path starts with, which are always character boundaries.
        let starts = i == 0 || !(path_char(b[i - 1]) || matches!(b[i - 1], b'/' | b':' | b'~'));
        if !starts || !matches!(c, b'/' | b'.' | b's') {
            continue;
        }
        let rest = &line[i..];
        if c == b'/' {
            // An absolute path: a slash, a whole folder name and a slash (a folder whose name
            // starts with a dot is a path from the repository's root, as .gitignore writes it).
            let dir: String = rest[1..]
                .bytes()
                .take_while(|&c| path_char(c))
                .map(char::from)
                .collect();
            let whole = !dir.is_empty() && rest[1 + dir.len()..].starts_with('/');
            if whole && !dir.starts_with('.') && !SYSTEM_DIRS.contains(&dir.as_str()) {
                hits.push(format!("an absolute path outside the repository: /{dir}/"));
            }
        } else if rest.starts_with("../") {
            let ups = rest
                .as_bytes()
                .chunks(3)
                .take_while(|w| *w == b"../")
                .count();
            if ups > depth {
                hits.push(format!(
                    "a relative path out of the repository ({ups} × ../ from {depth} folder(s) deep)"
                ));
            } else if rest[3 * ups..].starts_with(SHARED) && ups == depth {
                hits.push(BESIDE.into());
            }
        } else if rest.starts_with(SHARED) {
            hits.push(BESIDE.into());
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(line: &str) -> usize {
        line_hits(line, 1).len()
    }

    #[test]
    fn the_word_is_found_whole_in_any_case() {
        let w = WORD;
        let cap = format!("{}{}", WORD[..1].to_uppercase(), &WORD[1..]);
        assert_eq!(hits(&format!("the last {w} measured")), 1);
        assert_eq!(hits(&format!("{cap}s of work")), 1);
        assert_eq!(hits(&format!("({}).", w.to_uppercase())), 1);
        assert_eq!(hits(&format!("a {w}_id and a {w}-less run")), 2);
        assert_eq!(hits(&format!("pre{w} and {w}ful")), 0);
        assert_eq!(hits("nothing here"), 0);
    }

    #[test]
    fn absolute_paths_outside_the_system_are_found() {
        let p = |dir: &str| format!("run `bash /{dir}/run.sh` there");
        assert_eq!(hits(&p("home")), 1);
        assert_eq!(hits(&p("root")), 1);
        assert_eq!(hits(&p("work")), 1);
        for dir in SYSTEM_DIRS {
            assert_eq!(hits(&p(dir)), 0, "/{dir}/");
        }
        // Not paths: units, fractions, URLs, comments, a folder inside the repository.
        assert_eq!(hits("1.2 GB/s, 300 k /s, read/write, a / b"), 0);
        assert_eq!(
            hits("https://example.org/a/b and // a comment, /// docs"),
            0
        );
        assert_eq!(hits("crates/vulkan/docs/h100.md, .h100/gdio, `/.h100/`"), 0);
        assert_eq!(hits("a bare /tmp or /x"), 0);
    }

    #[test]
    fn paths_out_of_the_repository_are_found() {
        let shared = format!("{SHARED}reference/notes.md");
        // From a file one folder deep, one `../` is the repository root.
        assert_eq!(line_hits("see ../crates/cli/README.md", 1).len(), 0);
        assert_eq!(line_hits("see ../../x/y.md", 1).len(), 1);
        assert_eq!(line_hits("see ../x.md", 0).len(), 1);
        assert_eq!(line_hits(&format!("see ../{shared}"), 1).len(), 1);
        assert_eq!(line_hits(&format!("see {shared}"), 0).len(), 1);
        let nested = format!("the {SHARED} folder of crates/x/{SHARED}y");
        assert_eq!(line_hits(&nested, 0).len(), 1);
    }

    #[test]
    fn files_are_chosen_by_kind() {
        for name in [
            "README.md",
            "crates/cli/src/main.rs",
            ".ci/x.sh",
            "Cargo.toml",
            "a.comp",
            "b.glsl",
            ".github/workflows/ci.yml",
        ] {
            assert!(wanted(name), "{name}");
        }
        for name in [
            "Cargo.lock",
            "docs/bench/h100/bench.txt",
            "docs/bench/h100/bench.json",
            "",
        ] {
            assert!(!wanted(name), "{name}");
        }
    }

    #[test]
    fn hits_carry_their_line() {
        let text = format!("one\ntwo {WORD}\nthree /{}/y.md\n", "home");
        let found = scan("docs/a.md", &text);
        assert_eq!(
            found.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
            vec![2, 3]
        );
    }
}
