//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::units::parse_size;
use gdio_workloads::btree;

/// Parses `--dist`.
fn parse_dist(s: &str) -> Result<btree::KeyDist, String> {
    btree::KeyDist::parse(s).ok_or_else(|| format!("{s}: use uniform, zipf or zipf:S (S > 0)"))
}

/// GPU-directed file IO for Vulkan: a running compute shader asks for file data, a host pump
/// serves it with io_uring straight into GPU-visible memory, and the shader goes on.
#[derive(Debug, Parser)]
#[command(name = "gdio", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// The Vulkan device: an index or a name substring (default: the first GPU, else the CPU
    /// driver lavapipe). Same as the GDIO_DEVICE environment variable.
    #[arg(long, global = true, value_name = "INDEX|NAME")]
    pub device: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check this machine: Vulkan devices, memory, which window placements a running shader
    /// sees fresh, io_uring features and registration, locked-memory limit.
    Probe(ProbeArgs),
    /// Checksum files (CRC-32C) on the GPU, which streams each file through gdio.
    Sum(SumArgs),
    /// Write a file from the GPU: a shader fills GPU-visible memory with a pattern and writes it
    /// through gdio, then FSYNCs.
    Write(WriteArgs),
    /// Look keys up in an on-disk B-tree: each GPU lane walks root to leaf, reading every node
    /// it chose itself.
    Lookup(LookupArgs),
    /// Breadth-first search of an on-disk graph (from `gdio gen graph`) on the GPU, every read
    /// through the GPU page cache.
    Bfs(BfsArgs),
    /// Generate inputs: test files, B-tree indexes, key lists, graphs.
    #[command(subcommand)]
    Gen(GenCommand),
    /// Run the benchmark suite; write JSON and SVG plots into a folder.
    Bench(BenchArgs),
    /// Run a ready demo end to end: generate a file, checksum it on the GPU, verify on the CPU,
    /// then a B-tree lookup, verified.
    Demo(DemoArgs),
}

/// `gdio probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Freshness rounds per window placement, 2..=100000 (default: 200 on GPUs, 8 on
    /// lavapipe; the first round only shows the window's first touch).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub rounds: Option<u32>,
    /// Window bytes the freshness probe rewrites each round: a multiple of 4 from 4 KiB to
    /// 1 GiB.
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    pub window: u64,
}

/// `gdio sum`.
#[derive(Debug, Args)]
pub struct SumArgs {
    /// Files to checksum.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Also compute the CRC-32C on the CPU; exit with status 3 if they differ.
    #[arg(long)]
    pub verify: bool,
    /// Open the files for direct IO (O_DIRECT: no page cache). Needs READ windows the kernel
    /// can pin (not mapped ReBAR: refused on NVIDIA unless --windows device) and a chunk of
    /// whole 4 KiB blocks.
    #[arg(long)]
    pub direct: bool,
    /// Where the shader's windows live: `mapped` (host-mapped memory the kernel reads into:
    /// ReBAR on NVIDIA) or `device` (device-local memory the host cannot map, filled from
    /// registered staging by the GPU's copy queue; not on lavapipe, which has one queue).
    #[arg(long, default_value = "mapped", value_parser = ["mapped", "device"])]
    pub windows: String,
    /// Bytes per READ (a multiple of 16; default 128 KiB on GPUs, 256 KiB with `--windows
    /// device`, 64 KiB on lavapipe).
    #[arg(long, value_parser = parse_size)]
    pub chunk: Option<u64>,
    /// Shader lanes streaming the file, two READs in flight each, 1..=16384 (default 2048 on
    /// GPUs, 1024 with `--windows device`, 8 on lavapipe).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16_384))]
    pub lanes: Option<u32>,
}

/// `gdio write`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The file to write (created, or replaced with --force).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Bytes to write, e.g. 0, 4096, 2GiB (at most 16 GiB).
    #[arg(long, value_parser = parse_size)]
    pub size: u64,
    /// Reread the file on the CPU and compare it with the pattern; exit with status 3 if it
    /// differs.
    #[arg(long)]
    pub verify: bool,
    /// Open the file for direct IO (O_DIRECT: no page cache). Writes go in aligned 4 KiB
    /// multiples; the last is padded and the file cut back to --size.
    #[arg(long)]
    pub direct: bool,
    /// Where the shader's window lives: `mapped` (host-mapped memory the kernel writes from)
    /// or `device` (device-local memory the host cannot map, copied into registered staging by
    /// the GPU's copy queue; not on lavapipe, which has one queue).
    #[arg(long, default_value = "mapped", value_parser = ["mapped", "device"])]
    pub windows: String,
    /// Replace FILE if it exists and is not empty.
    #[arg(long)]
    pub force: bool,
    /// Seed of the pattern.
    #[arg(long, default_value_t = 1)]
    pub seed: u32,
    /// Bytes per WRITE (a multiple of 16, of 4096 with --direct; default 1 MiB on GPUs, 64 KiB
    /// on lavapipe).
    #[arg(long, value_parser = parse_size)]
    pub chunk: Option<u64>,
    /// Shader lanes, one WRITE in flight each, 1..=4096 (default 256 on GPUs, 8 on lavapipe).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub lanes: Option<u32>,
}

/// `gdio lookup`.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// The B-tree index (from `gdio gen btree`).
    pub index: PathBuf,
    /// The keys: a text file, one unsigned 64-bit key per line, decimal or 0x-hex (from
    /// `gdio gen keys`).
    pub keys: PathBuf,
    /// Also look every key up on the CPU; exit with status 3 on any difference.
    #[arg(long)]
    pub verify: bool,
    /// Shader lanes, one key walk each at a time, 1..=65535 (default 1024 on GPUs, 32 on
    /// lavapipe).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub lanes: Option<u32>,
    /// Print every key's result (default: only when there are at most 20 keys).
    #[arg(long)]
    pub print: bool,
    /// Pump threads (queues) serving the lanes' READs (default: 1 on lavapipe, one per 16
    /// lanes up to 4 on a GPU; `GDIO_PUMPS` also sets it).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub pumps: Option<u32>,
    /// Serve the keys in batches of this many through one resident kernel (dispatched once,
    /// fed batch after batch), and report the median batch time.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// Look the keys up through a GPU page cache of this size (e.g. 64MiB; gdio_cache.glsl):
    /// hot nodes are read once, concurrent misses on one node issue one READ. Reports the
    /// cache's hits, misses and READs.
    #[arg(long, value_parser = parse_size, conflicts_with = "batch")]
    pub cache: Option<u64>,
    /// The cache's page size: a power of two from 4KiB to 64KiB.
    #[arg(long, value_parser = parse_size, default_value = "4KiB")]
    pub cache_page: u64,
}

/// `gdio bfs`.
#[derive(Debug, Args)]
pub struct BfsArgs {
    /// The graph (from `gdio gen graph`).
    pub file: PathBuf,
    /// The vertex the search starts from.
    #[arg(long)]
    pub source: u64,
    /// Also search on the CPU; exit with status 3 if any vertex's level differs.
    #[arg(long)]
    pub verify: bool,
    /// Bytes of the GPU page cache every read goes through, e.g. 64MiB (default: 256 MiB, or
    /// the whole graph where it is smaller).
    #[arg(long, value_parser = parse_size)]
    pub cache: Option<u64>,
    /// The cache's page size: a power of two from 4KiB to 64KiB.
    #[arg(long, value_parser = parse_size, default_value = "4KiB")]
    pub page: u64,
    /// Shader lanes, one page ask in flight each, 1..=1048576 (default 8192 on GPUs, 32 on
    /// lavapipe).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub lanes: Option<u32>,
    /// Pump threads (queues) serving the cache's READs (default: 1 on lavapipe, 4 on a GPU;
    /// `GDIO_PUMPS` also sets it).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub pumps: Option<u32>,
}

/// `gdio gen`.
#[derive(Debug, Subcommand)]
pub enum GenCommand {
    /// A test file of pseudo-random bytes (deterministic for a seed).
    File {
        /// Size, e.g. 4096, 64MiB, 1.5GiB.
        #[arg(long, value_parser = parse_size)]
        size: u64,
        /// Seed of the content.
        #[arg(long, default_value_t = 1)]
        seed: u32,
        /// Overwrite OUT even when it is not a file this subcommand makes (gen refuses to,
        /// without it).
        #[arg(long)]
        force: bool,
        /// Where to write it.
        out: PathBuf,
    },
    /// A B-tree index of N keys (4 KiB nodes, u64 keys and values).
    Btree {
        /// Number of keys.
        #[arg(long)]
        keys: u64,
        /// Seed of the keys.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Most keys per leaf and children per internal node (3..=255). Smaller makes a deeper
        /// tree of the same 4 KiB nodes: more dependent reads per lookup.
        #[arg(long, default_value_t = 255)]
        fanout: u32,
        /// Overwrite OUT even when it is not a file this subcommand makes (gen refuses to,
        /// without it).
        #[arg(long)]
        force: bool,
        /// Where to write it.
        out: PathBuf,
    },
    /// An undirected R-MAT graph of 2^scale vertices (Graph500's Kronecker parameters) as an
    /// on-disk CSR file: rows of u64, adjacency of u32, duplicate edges and self loops dropped.
    Graph {
        /// log2 of the vertex count, 1..=31.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=31))]
        scale: u32,
        /// Undirected edges drawn per vertex.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
        edge_factor: u32,
        /// Seed of the edges and of the vertex numbering.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Overwrite OUT even when it is not a file this subcommand makes (gen refuses to,
        /// without it).
        #[arg(long)]
        force: bool,
        /// Where to write it.
        out: PathBuf,
    },
    /// A text file of keys to look up in an index: a mix of present and absent keys.
    Keys {
        /// The index the keys are for.
        #[arg(long)]
        index: PathBuf,
        /// Number of keys.
        #[arg(long)]
        count: u64,
        /// Fraction of keys that are not in the index (uniform keys only).
        #[arg(long, default_value_t = 0.1)]
        absent: f64,
        /// How keys are drawn: `uniform`, `zipf` (s = 0.99: a few keys asked very often, as
        /// in key-value workloads) or `zipf:S`. Zipf keys are all present.
        #[arg(long, default_value = "uniform", value_parser = parse_dist)]
        dist: btree::KeyDist,
        /// Seed of the choice.
        #[arg(long, default_value_t = 2)]
        seed: u64,
        /// Overwrite OUT even when it is not a file this subcommand makes (gen refuses to,
        /// without it).
        #[arg(long)]
        force: bool,
        /// Where to write them.
        out: PathBuf,
    },
}

/// `gdio bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Folder for bench.json and the SVG plots (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Small inputs and short runs (seconds; for CI).
    #[arg(long)]
    pub quick: bool,
    /// The fio binary to compare with.
    #[arg(long, default_value = "fio")]
    pub fio: PathBuf,
    /// Folder for the generated input files (default: a temporary folder, removed after).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Run only these sections (comma-separated): roundtrip, streaming, random, btree, scaling,
    /// write, gpus, cache, bfs.
    #[arg(long, value_delimiter = ',', value_parser = ["roundtrip", "streaming", "random", "btree", "scaling", "write", "gpus", "cache", "bfs"])]
    pub only: Vec<String>,
    /// Devices for section 7 (comma-separated indices from `gdio probe`; repeats open a device
    /// again). Default: every discrete GPU where there are two or more.
    #[arg(long, value_delimiter = ',')]
    pub gpus: Vec<usize>,
    /// Also print the notes under each table (how each row is measured); bench.json has them
    /// either way.
    #[arg(long)]
    pub verbose: bool,
}

/// `gdio demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Size of the generated file.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub size: u64,
    /// Keys in the demo B-tree.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// Lookups in the demo.
    #[arg(long, default_value_t = 1000)]
    pub lookups: u64,
    /// Folder for the generated files (default: a temporary folder, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
