//! gdio's on-disk B-tree: the format, building one, looking keys up on the CPU, and the keys
//! `gdio gen` makes. `shaders/btree.glsl` reads the same format on the GPU (btree_lookup.comp,
//! btree_serve.comp, btree_step.comp).
//!
//! The file is a sequence of 4096-byte nodes, little-endian. Node 0 is the superblock:
//!
//! | word | field |
//! |---|---|
//! | 0 | magic `0x54424447` ("GDBT") |
//! | 1 | version 1 |
//! | 2 | node bytes (4096) |
//! | 3 | height (1: the root is a leaf) |
//! | 4..5 | root node's file offset |
//! | 6..7 | number of keys |
//! | 8..9 | seed of the keys |
//! | 10..11 | number of nodes, superblock included |
//!
//! Every other node: word 0 kind (1 leaf, 2 internal), word 1 `n` keys, words 2..3 zero,
//! `keys[255]` (u64) at byte 16, then at byte 2056 `values[255]` (leaf) or `children[255]`
//! (internal: file offsets; child `i` holds keys `k` with `keys[i-1] <= k < keys[i]`, so an
//! internal node has `n + 1 <= 255` children).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::partial::Partial;

/// Bytes per node.
pub const NODE: usize = 4096;
/// Key slots per node.
pub const SLOTS: usize = 255;
/// Most keys in a leaf.
pub const LEAF_MAX: usize = 255;
/// Most children of an internal node.
pub const FANOUT: usize = 255;
/// "GDBT".
pub const MAGIC: u32 = 0x5442_4447;
const KEYS_AT: usize = 16;
const VALUES_AT: usize = KEYS_AT + 8 * SLOTS;
const LEAF: u32 = 1;
const INTERNAL: u32 = 2;

/// What the superblock says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Superblock {
    /// Levels; 1 when the root is a leaf.
    pub height: u32,
    /// File offset of the root node.
    pub root: u64,
    /// Keys in the tree.
    pub keys: u64,
    /// Seed the keys were made with.
    pub seed: u64,
    /// Nodes in the file, superblock included.
    pub nodes: u64,
}

/// splitmix64's finaliser: a well-mixed 64-bit hash.
#[must_use]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Key `i` of a tree made with `seed`: increasing in `i`, even, spread over 64 bits' high part.
#[must_use]
pub const fn key(i: u64, seed: u64) -> u64 {
    ((i + 1) << 20) | ((mix64(i ^ seed.rotate_left(32)) & 0x7_FFFF) << 1)
}

/// A key that is in no tree: odd (every present key is even).
#[must_use]
pub const fn absent_key(r: u64) -> u64 {
    key(r >> 1, r) | 1
}

/// The value stored with `key`.
#[must_use]
pub const fn value(key: u64) -> u64 {
    mix64(key ^ 0x005E_ED0F_6D10)
}

fn put32(node: &mut [u8], word: usize, v: u32) {
    node[4 * word..4 * word + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(node: &mut [u8], at: usize, v: u64) {
    node[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get32(node: &[u8], word: usize) -> u32 {
    u32::from_le_bytes(node[4 * word..4 * word + 4].try_into().expect("4 bytes"))
}

fn get64(node: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(node[at..at + 8].try_into().expect("8 bytes"))
}

/// Splits `n` items into groups of at most `max`, as even as possible (so that no group has
/// fewer than 2 items when `n >= 2`).
fn groups(n: usize, max: usize) -> Vec<usize> {
    let g = n.div_ceil(max).max(1);
    (0..g).map(|i| n / g + usize::from(i < n % g)).collect()
}

/// Writes a tree of `keys` keys (`key(i, seed)` for `i < keys`) to `path`, with at most
/// `fanout` keys per leaf and `fanout` children per internal node (3..=255; the node format is
/// the same for every fanout), calling `progress(keys_written)` now and then. A file whose
/// writing fails is removed. It does not check the room first: [`build_needs`] says what the
/// tree takes.
pub fn build(
    path: &Path,
    keys: u64,
    seed: u64,
    fanout: usize,
    mut progress: impl FnMut(u64),
) -> Result<Superblock> {
    // At 2 an internal level of odd width would need a node with one child and no key.
    if !(3..=FANOUT).contains(&fanout) {
        anyhow::bail!("a fanout of {fanout}: use 3..=255");
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let partial = Partial::new(path, &file);
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(&[0u8; NODE])?;
    let mut next = NODE as u64;
    let mut node = vec![0u8; NODE];
    let leaf_sizes = groups(keys as usize, fanout.min(LEAF_MAX));
    // Leaves: (first key, offset) of each.
    let mut level: Vec<(u64, u64)> = Vec::with_capacity(leaf_sizes.len());
    let mut i = 0u64;
    for n in leaf_sizes {
        node.fill(0);
        put32(&mut node, 0, LEAF);
        put32(&mut node, 1, n as u32);
        let first = key(i, seed);
        for s in 0..n {
            let k = key(i, seed);
            put64(&mut node, KEYS_AT + 8 * s, k);
            put64(&mut node, VALUES_AT + 8 * s, value(k));
            i += 1;
        }
        w.write_all(&node)?;
        level.push((first, next));
        next += NODE as u64;
        if level.len() % 4096 == 0 {
            progress(i);
        }
    }
    let mut height = 1u32;
    while level.len() > 1 {
        let sizes = groups(level.len(), fanout);
        let mut up = Vec::with_capacity(sizes.len());
        let mut it = level.iter();
        for n in sizes {
            let children: Vec<(u64, u64)> = it.by_ref().take(n).copied().collect();
            node.fill(0);
            put32(&mut node, 0, INTERNAL);
            put32(&mut node, 1, (n - 1) as u32);
            for (c, &(first, off)) in children.iter().enumerate() {
                if c > 0 {
                    put64(&mut node, KEYS_AT + 8 * (c - 1), first);
                }
                put64(&mut node, VALUES_AT + 8 * c, off);
            }
            w.write_all(&node)?;
            up.push((children[0].0, next));
            next += NODE as u64;
        }
        level = up;
        height += 1;
    }
    let sb = Superblock {
        height,
        root: level[0].1,
        keys,
        seed,
        nodes: next / NODE as u64,
    };
    node.fill(0);
    put32(&mut node, 0, MAGIC);
    put32(&mut node, 1, 1);
    put32(&mut node, 2, NODE as u32);
    put32(&mut node, 3, sb.height);
    put64(&mut node, 16, sb.root);
    put64(&mut node, 24, sb.keys);
    put64(&mut node, 32, sb.seed);
    put64(&mut node, 40, sb.nodes);
    w.seek(SeekFrom::Start(0))?;
    w.write_all(&node)?;
    w.flush()?;
    partial.keep();
    progress(keys);
    Ok(sb)
}

/// What [`build`] takes for a tree of `keys` keys at `fanout`: bytes of memory (the leaf sizes,
/// 8 bytes a leaf, and a level's (first key, offset) pairs, 16 bytes a node, with the level
/// above while it is made; 2 MiB of buffers) and bytes of file. `None` past 2^64.
#[must_use]
pub fn build_needs(keys: u64, fanout: usize) -> Option<(u64, u64)> {
    let leaves = keys.div_ceil(fanout.min(LEAF_MAX) as u64).max(1);
    let (mut width, mut nodes) = (leaves, 1 + leaves);
    while width > 1 {
        width = width.div_ceil(fanout as u64);
        nodes = nodes.checked_add(width)?;
    }
    let memory = leaves.checked_mul(24)?.checked_add(2 << 20)?;
    Some((memory, nodes.checked_mul(NODE as u64)?))
}

/// Reads and checks the superblock of the index at `path`.
pub fn open(path: &Path) -> Result<(File, Superblock)> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut node = vec![0u8; NODE];
    f.read_exact_at(&mut node, 0).with_context(|| {
        format!(
            "{} is too short for a gdio B-tree (make one with `gdio gen btree`)",
            path.display()
        )
    })?;
    if get32(&node, 0) != MAGIC || get32(&node, 1) != 1 || get32(&node, 2) != NODE as u32 {
        anyhow::bail!(
            "{} is not a gdio B-tree version 1: give an index made by `gdio gen btree --keys N \
             NEW_INDEX` (a new path: gen does not overwrite other files)",
            path.display()
        );
    }
    let sb = Superblock {
        height: get32(&node, 3),
        root: get64(&node, 16),
        keys: get64(&node, 24),
        seed: get64(&node, 32),
        nodes: get64(&node, 40),
    };
    let len = f.metadata()?.len();
    if sb.root % NODE as u64 != 0
        || sb.root == 0
        || sb.root >= len
        || sb.nodes.checked_mul(NODE as u64) != Some(len)
    {
        anyhow::bail!(
            "{}: the superblock does not match the file's size; regenerate it with `gdio gen \
             btree`",
            path.display()
        );
    }
    // Every node but the superblock is at most a leaf of LEAF_MAX keys, and each level has at
    // least one node.
    if !(1..=64).contains(&sb.height)
        || u64::from(sb.height) >= sb.nodes
        || sb.keys > (sb.nodes - 1).saturating_mul(LEAF_MAX as u64)
    {
        anyhow::bail!(
            "{}: the superblock says {} keys in {} levels of {} nodes, which cannot be; \
             regenerate it with `gdio gen btree`",
            path.display(),
            sb.keys,
            sb.height,
            sb.nodes
        );
    }
    Ok((f, sb))
}

/// A lookup's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The key is there with this value.
    Value(u64),
    /// It is not.
    Absent,
}

/// Looks `key` up on the CPU: reads nodes with pread from the root down. Returns the outcome and
/// the nodes read.
pub fn lookup(f: &File, sb: &Superblock, k: u64) -> Result<(Found, u32)> {
    let mut node = vec![0u8; NODE];
    let mut off = sb.root;
    for depth in 1..=64u32 {
        f.read_exact_at(&mut node, off)
            .with_context(|| format!("reading the node at {off}"))?;
        let n = get32(&node, 1) as usize;
        let keys = |i: usize| get64(&node, KEYS_AT + 8 * i);
        // Number of keys <= k.
        let (mut lo, mut hi) = (0usize, n.min(SLOTS));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if keys(mid) <= k {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match get32(&node, 0) {
            INTERNAL if (1..SLOTS).contains(&n) => off = get64(&node, VALUES_AT + 8 * lo),
            LEAF if n <= SLOTS => {
                return Ok(if lo > 0 && keys(lo - 1) == k {
                    (Found::Value(get64(&node, VALUES_AT + 8 * (lo - 1))), depth)
                } else {
                    (Found::Absent, depth)
                })
            }
            kind => anyhow::bail!("corrupt node at {off}: kind {kind}, {n} keys"),
        }
    }
    anyhow::bail!("the tree is deeper than 64 levels: it is corrupt")
}

/// Parses a keys file: one key per line, decimal or 0x-hex; blank lines and `#` comments skipped.
/// Reads it line by line (memory holds the keys, not the text).
pub fn read_keys(path: &Path) -> Result<Vec<u64>> {
    use std::io::BufRead as _;
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut keys = Vec::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| {
            format!(
                "{}:{}: not a line of text (one decimal or 0x-hex key per line)",
                path.display(),
                n + 1
            )
        })?;
        match parse_key_line(&line) {
            Ok(Some(k)) => keys.push(k),
            Ok(None) => {}
            Err(t) => anyhow::bail!(
                "{}:{}: {t:?} is not an unsigned 64-bit key (one decimal or 0x-hex key per line)",
                path.display(),
                n + 1
            ),
        }
    }
    Ok(keys)
}

/// One line of a keys file: `Ok(None)` for a blank line or a comment, `Err` with the text that
/// is not a key.
pub fn parse_key_line(line: &str) -> std::result::Result<Option<u64>, &str> {
    let t = line.split('#').next().unwrap_or("").trim();
    if t.is_empty() {
        return Ok(None);
    }
    let k = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        t.parse()
    };
    k.map(Some).map_err(|_| t)
}

/// Makes `count` keys for a tree of `keys` keys made with `tree_seed`: a fraction `absent` of
/// them absent, the rest present, in random order.
#[must_use]
pub fn make_keys(keys: u64, tree_seed: u64, count: u64, absent: f64, seed: u64) -> Vec<u64> {
    key_stream(keys, tree_seed, count, absent, seed).collect()
}

/// The keys [`make_keys`] makes, one at a time (for any `count`).
pub fn key_stream(
    keys: u64,
    tree_seed: u64,
    count: u64,
    absent: f64,
    seed: u64,
) -> impl Iterator<Item = u64> {
    (0..count).map(move |j| {
        let r = mix64(j ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let is_absent = keys == 0 || ((r >> 11) as f64 / (1u64 << 53) as f64) < absent;
        if is_absent {
            absent_key(mix64(r))
        } else {
            key(mix64(r) % keys, tree_seed)
        }
    })
}

/// How lookup keys are drawn from a tree's keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyDist {
    /// Every key equally likely.
    Uniform,
    /// Zipf with exponent `s` over key ranks (rank 1 the most popular), the ranks scattered
    /// over the tree by a hash (YCSB's scrambled Zipfian), so that popular keys do not share
    /// leaves by construction.
    Zipf(f64),
}

impl KeyDist {
    /// Parses `uniform`, `zipf` (s = 0.99) or `zipf:S`.
    #[must_use]
    pub fn parse(s: &str) -> Option<KeyDist> {
        match s {
            "uniform" => Some(KeyDist::Uniform),
            "zipf" => Some(KeyDist::Zipf(0.99)),
            _ => s
                .strip_prefix("zipf:")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0 && v.is_finite())
                .map(KeyDist::Zipf),
        }
    }

    /// A short name for reports (`uniform`, `zipf 0.99`).
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            KeyDist::Uniform => "uniform".into(),
            KeyDist::Zipf(s) => format!("zipf {s}"),
        }
    }
}

/// A uniform draw in [0, 1) from a counter and a seed (53 bits of a well-mixed hash).
fn unit(j: u64, seed: u64) -> f64 {
    (mix64(j ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 11) as f64 / (1u64 << 53) as f64
}

/// Zipf ranks 1..=n with exponent s by rejection-inversion (Hörmann and Derflinger), with
/// uniform draws from [`unit`].
struct ZipfRanks {
    n: f64,
    s: f64,
    t: f64,
}

impl ZipfRanks {
    fn new(n: u64, s: f64) -> ZipfRanks {
        let n = n.max(1) as f64;
        let t = if (s - 1.0).abs() > 1e-12 {
            (n.powf(1.0 - s) - s) / (1.0 - s)
        } else {
            1.0 + n.ln()
        };
        ZipfRanks { n, s, t }
    }

    fn inv_cdf(&self, p: f64) -> f64 {
        let pt = p * self.t;
        if pt <= 1.0 {
            pt
        } else if (self.s - 1.0).abs() > 1e-12 {
            (pt * (1.0 - self.s) + self.s).powf(1.0 / (1.0 - self.s))
        } else {
            (pt - 1.0).exp()
        }
    }

    /// Rank of draw `j`.
    fn rank(&self, j: u64, seed: u64) -> u64 {
        let mut i = 0u64;
        loop {
            let inv_b = self.inv_cdf(unit(2 * (j * 64 + i), seed));
            let x = (inv_b + 1.0).floor().min(self.n);
            let mut ratio = x.powf(-self.s);
            if x > 1.0 {
                ratio *= inv_b.powf(self.s);
            }
            if unit(2 * (j * 64 + i) + 1, seed) < ratio || i == 63 {
                return x as u64;
            }
            i += 1;
        }
    }
}

/// Makes `count` keys, all present, of a tree of `keys` keys made with `tree_seed`, drawn as
/// `dist` says ([`make_keys`] with no absent keys for [`KeyDist::Uniform`]).
#[must_use]
pub fn make_keys_dist(keys: u64, tree_seed: u64, count: u64, dist: KeyDist, seed: u64) -> Vec<u64> {
    match dist {
        KeyDist::Uniform => make_keys(keys, tree_seed, count, 0.0, seed),
        KeyDist::Zipf(s) => {
            let z = ZipfRanks::new(keys, s);
            (0..count)
                .map(|j| {
                    let r = z.rank(j, seed);
                    key(mix64(r ^ 0x5C4A_B1ED) % keys.max(1), tree_seed)
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_increase_and_absent_keys_are_odd() {
        for i in 0..10_000 {
            assert!(key(i, 7) < key(i + 1, 7));
            assert_eq!(key(i, 7) & 1, 0);
            assert_eq!(absent_key(i) & 1, 1);
        }
    }

    #[test]
    fn zipf_keys_are_skewed_and_uniform_keys_are_not() {
        let count = |d: KeyDist| {
            let mut m = std::collections::HashMap::new();
            for k in make_keys_dist(1_000_000, 3, 100_000, d, 9) {
                *m.entry(k).or_insert(0u32) += 1;
            }
            let mut v: Vec<u32> = m.into_values().collect();
            v.sort_unstable_by(|a, b| b.cmp(a));
            v
        };
        let z = count(KeyDist::Zipf(0.99));
        let u = count(KeyDist::Uniform);
        // With s = 0.99 over 10^6 ranks the top rank takes ~7% of draws; uniform keys repeat
        // rarely.
        assert!(z[0] > 4_000 && z[0] < 10_000, "top zipf key {}", z[0]);
        assert!(z.len() < 60_000, "distinct zipf keys {}", z.len());
        assert!(u[0] < 10, "top uniform key {}", u[0]);
        assert_eq!(KeyDist::parse("zipf"), Some(KeyDist::Zipf(0.99)));
        assert_eq!(KeyDist::parse("zipf:1.2"), Some(KeyDist::Zipf(1.2)));
        assert_eq!(KeyDist::parse("zipf:-1"), None);
        assert_eq!(
            make_keys_dist(10, 1, 5, KeyDist::Zipf(0.99), 2),
            make_keys_dist(10, 1, 5, KeyDist::Zipf(0.99), 2)
        );
    }

    #[test]
    fn groups_are_even_and_never_single_when_avoidable() {
        assert_eq!(groups(0, 255), vec![0]);
        assert_eq!(groups(256, 255), vec![128, 128]);
        assert!(groups(100_000, 255).iter().all(|g| (2..=255).contains(g)));
    }

    #[test]
    fn fanout_out_of_range_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(build(&dir.path().join("x"), 10, 1, 2, |_| {}).is_err());
        assert!(build(&dir.path().join("y"), 10, 1, 256, |_| {}).is_err());
    }

    /// Rewrites the superblock field at byte `at` of the tree at `p`.
    fn forge(p: &Path, at: u64, v: u64) {
        let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        f.write_all_at(&v.to_le_bytes(), at).unwrap();
    }

    #[test]
    fn forged_superblocks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        let sb = build(&p, 10, 1, 255, |_| {}).unwrap();
        assert_eq!((sb.nodes, sb.height), (2, 1));
        open(&p).unwrap();
        // 2^52 + 2 nodes of 4 KiB wrap to the file's 8 KiB in 64 bits.
        forge(&p, 40, (1 << 52) + 2);
        let e = open(&p).unwrap_err().to_string();
        assert!(e.contains("does not match the file's size"), "{e}");
        forge(&p, 40, 2);
        open(&p).unwrap();
        // More keys than two nodes hold.
        forge(&p, 24, 256);
        assert!(open(&p).unwrap_err().to_string().contains("cannot be"));
        forge(&p, 24, 1 << 60);
        assert!(open(&p).is_err());
        forge(&p, 24, 255);
        open(&p).unwrap();
        // Heights of 0, more levels than nodes, more than 64.
        for h in [0u32, 2, 65, u32::MAX] {
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            f.write_all_at(&h.to_le_bytes(), 12).unwrap();
            assert!(open(&p).is_err(), "height {h}");
        }
    }

    #[test]
    fn build_needs_count_the_nodes_build_writes() {
        let dir = tempfile::tempdir().unwrap();
        for (n, fanout) in [
            (0u64, 255),
            (1, 255),
            (65_026, 255),
            (70_000, 255),
            (5_000, 3),
        ] {
            let p = dir.path().join(format!("t{n}-{fanout}"));
            let sb = build(&p, n, 3, fanout, |_| {}).unwrap();
            let (mem, disk) = build_needs(n, fanout).unwrap();
            assert_eq!(disk, std::fs::metadata(&p).unwrap().len(), "{n} {fanout}");
            assert_eq!(disk, sb.nodes * NODE as u64);
            assert!(mem >= 24 * (n / 255));
        }
        // 4e12 keys: a 64 TB file, 376 GB of leaf bookkeeping.
        let (mem, disk) = build_needs(4_000_000_000_000, 255).unwrap();
        assert!(mem > 300_000_000_000 && disk > 60_000_000_000_000);
        assert_eq!(build_needs(u64::MAX, 3), None);
    }

    #[test]
    fn streamed_keys_equal_made_keys() {
        let made = make_keys(1000, 3, 500, 0.3, 9);
        assert!(key_stream(1000, 3, 500, 0.3, 9).eq(made.iter().copied()));
        // Any count: nothing is collected.
        assert_eq!(
            key_stream(10, 1, u64::MAX, 0.1, 2).nth(3),
            Some(make_keys(10, 1, 4, 0.1, 2)[3])
        );
    }

    #[test]
    fn key_lines_parse() {
        assert_eq!(parse_key_line("12"), Ok(Some(12)));
        assert_eq!(parse_key_line(" 0x1f # c"), Ok(Some(31)));
        assert_eq!(parse_key_line("# only"), Ok(None));
        assert_eq!(parse_key_line(""), Ok(None));
        assert_eq!(parse_key_line("banana"), Err("banana"));
    }

    #[test]
    fn built_trees_find_every_key_and_no_absent_one() {
        let dir = tempfile::tempdir().unwrap();
        for (n, fanout) in [
            (0u64, 255),
            (1, 255),
            (255, 255),
            (256, 255),
            (65_026, 255),
            (70_000, 255),
            (5_000, 4),
            (5_000, 3),
        ] {
            let p = dir.path().join(format!("t{n}-{fanout}"));
            let sb = build(&p, n, 3, fanout, |_| {}).unwrap();
            if fanout == 4 {
                assert_eq!(
                    sb.height, 7,
                    "5,000 keys at fanout 4: 1,250 leaves, 7 levels"
                );
            }
            let (f, sb2) = open(&p).unwrap();
            assert_eq!(sb, sb2);
            for i in (0..n).step_by(97).chain(n.checked_sub(1)) {
                let k = key(i, 3);
                assert_eq!(
                    lookup(&f, &sb, k).unwrap().0,
                    Found::Value(value(k)),
                    "n {n} fanout {fanout} i {i}"
                );
            }
            for r in 0..50 {
                assert_eq!(lookup(&f, &sb, absent_key(r)).unwrap().0, Found::Absent);
            }
            assert_eq!(lookup(&f, &sb, 0).unwrap().0, Found::Absent);
            assert_eq!(lookup(&f, &sb, u64::MAX).unwrap().0, Found::Absent);
        }
    }
}
