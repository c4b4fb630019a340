//! `gdio demo`.
use crate::cli::DemoArgs;
use anyhow::Result;
/// Runs `gdio demo`.
pub fn run(_a: &DemoArgs, _device: Option<&str>, _json: bool) -> Result<i32> {
    Ok(0)
}
