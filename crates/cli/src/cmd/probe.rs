//! `gdio probe`.
use crate::cli::ProbeArgs;
use anyhow::Result;
/// Runs `gdio probe`.
pub fn run(_a: &ProbeArgs, _device: Option<&str>, _json: bool) -> Result<i32> {
    Ok(0)
}
