//! `gdio`: GPU-directed file IO for Vulkan, from the command line.
//!
//! `gdio probe` checks the machine, `gdio sum` checksums files on the GPU, `gdio lookup` walks
//! an on-disk B-tree from shader lanes, `gdio bfs` searches an on-disk graph through the GPU
//! page cache, `gdio gen` makes inputs, `gdio bench` runs the benchmark suite and `gdio demo`
//! shows it all end to end. Every command takes `--json`.

mod capacity;
mod cli;
mod cmd;
mod error;
mod gpu;
mod knobs;
mod progress;
mod report;
mod units;

use clap::Parser;

fn main() {
    gpu::prepare_env();
    let cli = cli::Cli::parse();
    let status = match knobs::init()
        .map_err(anyhow::Error::from)
        .and_then(|_| cmd::run(&cli))
    {
        Ok(status) => status,
        Err(e) => {
            let status = e
                .downcast_ref::<error::CliError>()
                .map_or(error::FAILED, error::CliError::status);
            eprintln!("gdio: error: {e:#}");
            status
        }
    };
    std::process::exit(status);
}
