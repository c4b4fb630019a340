//! Per-lane state buffers of the shaders, and turning a failed lane into an error that says
//! what happened.

use crate::shaders::{LaneState, LaneStatus, STATE_WORDS};
use anyhow::Result;
use gdio::protocol::ResultCode;
use gdio::vulkan::{Context, MappedBuffer, Placement};

/// A zeroed state buffer for `lanes` lanes (host-cached: the GPU writes, the host reads after
/// each dispatch).
pub fn state_buffer(ctx: &Context, lanes: u32) -> Result<MappedBuffer> {
    Ok(MappedBuffer::new(
        ctx,
        (lanes.max(1) as usize) * STATE_WORDS * 4,
        Placement::HostCached,
    )?)
}

/// What a result code means, in words.
#[must_use]
pub fn describe_result(r: i32) -> String {
    if let Some(code) = ResultCode::from_value(r) {
        format!("{r} ({})", code.name())
    } else if (-4095..0).contains(&r) {
        format!("{r} ({})", std::io::Error::from_raw_os_error(-r))
    } else {
        format!("{r} (a short transfer: {r} bytes)")
    }
}

/// The states of `lanes` lanes, and whether all have finished. Fails if any lane failed.
pub fn check(state: &MappedBuffer, lanes: u32, item: &str) -> Result<(Vec<LaneState>, bool)> {
    let states = LaneState::read_all(state, lanes)?;
    if let Some((i, s)) = states
        .iter()
        .enumerate()
        .find(|(_, s)| s.status == LaneStatus::Failed)
    {
        let failed = states
            .iter()
            .filter(|s| s.status == LaneStatus::Failed)
            .count();
        anyhow::bail!(
            "shader lane {i} failed at {item} {}: result {} ({failed} of {lanes} lanes failed; lane words {:#x} {:#x} {:#x})",
            s.at,
            describe_result(s.error),
            s.extra[0],
            s.extra[1],
            s.extra[2]
        );
    }
    let done = LaneState::all_finished(&states);
    Ok((states, done))
}
