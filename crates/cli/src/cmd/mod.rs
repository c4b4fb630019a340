//! One module per subcommand.

pub mod bench;
pub mod bfs;
pub mod demo;
pub mod gen;
pub mod lookup;
pub mod probe;
pub mod sum;
pub mod write;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the command; returns the exit status.
pub fn run(cli: &Cli) -> Result<i32> {
    let device = cli.device.as_deref();
    match &cli.command {
        Command::Probe(a) => probe::run(a, device, cli.json),
        Command::Sum(a) => sum::run(a, device, cli.json),
        Command::Write(a) => write::run(a, device, cli.json),
        Command::Lookup(a) => lookup::run(a, device, cli.json),
        Command::Bfs(a) => bfs::run(a, device, cli.json),
        Command::Gen(g) => gen::run(g, cli.json),
        Command::Bench(a) => bench::run(a, device, cli.json),
        Command::Demo(a) => demo::run(a, device, cli.json),
    }
}
