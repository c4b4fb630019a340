//! `gdio bench`.
use crate::cli::BenchArgs;
use anyhow::Result;
/// Runs `gdio bench`.
pub fn run(_a: &BenchArgs, _device: Option<&str>, _json: bool) -> Result<i32> {
    Ok(0)
}
