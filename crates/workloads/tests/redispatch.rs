//! gdio-vulkan's one re-dispatch loop (`Context::dispatch_watched`, which `dispatch_until` and
//! the workloads' `Gpu::drive` are built on) on the default device: how many dispatches it
//! runs, when it calls its watcher, and how it ends when the watcher gives up or the limit is
//! reached; and a pipeline with the shader's own specialization constants. The shader is
//! `busy.comp` (arithmetic only), so nothing here waits for IO.
mod common;

use std::ops::ControlFlow;
use std::time::Duration;

use gdio::vulkan::{BufferSlice, ComputePipeline, Error, FenceWait, MappedBuffer, Placement};
use gdio::vulkan::{Redispatch, Redispatched};
use gdio_workloads::shaders;

/// busy.comp's push constant: iterations per invocation (below lavapipe's loop cap).
const ITERATIONS: u32 = 20_000;
/// Workgroups of 64 invocations.
const GROUPS: [u32; 3] = [64, 1, 1];

fn run(
    limits: Redispatch,
    finish_on_call: u32,
    give_up_on_watch: Option<u32>,
) -> (Result<Redispatched, Error>, u32, u32) {
    let g = common::gpu();
    let sink = MappedBuffer::new(&g.ctx, 4, Placement::HostCached).unwrap();
    let pipe = ComputePipeline::new(&g.ctx, shaders::BUSY, 1, 4).unwrap();
    let set = pipe.bind(&[BufferSlice::whole(&sink)]).unwrap();
    let (mut done_calls, mut watch_calls) = (0u32, 0u32);
    let r = g.ctx.dispatch_watched(
        &pipe,
        &set,
        &ITERATIONS.to_le_bytes(),
        GROUPS,
        limits,
        || {
            done_calls += 1;
            done_calls == finish_on_call
        },
        || {
            watch_calls += 1;
            if give_up_on_watch == Some(watch_calls) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    (r, done_calls, watch_calls)
}

#[test]
fn runs_until_done_and_watches_between_dispatches() {
    for how in [FenceWait::Block, FenceWait::Spin] {
        let poll = if how == FenceWait::Spin {
            Duration::ZERO
        } else {
            Duration::from_millis(1)
        };
        let limits = Redispatch::new(common::TIMEOUT, 10)
            .with_fence_wait(how)
            .with_poll(poll);
        let (r, done_calls, watch_calls) = run(limits, 3, None);
        let ran = r.unwrap_or_else(|e| panic!("{how:?}: {e}"));
        assert_eq!(ran.dispatches, 3, "{how:?}");
        assert_eq!(done_calls, 3, "{how:?}: done is asked once per dispatch");
        // Once after each of the two dispatches that did not finish, and any number of times
        // while they ran.
        assert!(watch_calls >= 2, "{how:?}: watched {watch_calls} times");
        assert!(ran.elapsed > Duration::ZERO);
    }
}

#[test]
fn a_watcher_that_gives_up_ends_the_loop_with_gave_up() {
    let limits = Redispatch::new(common::TIMEOUT, 10).with_poll(Duration::from_millis(1));
    let (r, done_calls, watch_calls) = run(limits, u32::MAX, Some(1));
    match r {
        Err(Error::GaveUp { dispatches: 1 }) => {}
        other => panic!("expected GaveUp after the first dispatch, got {other:?}"),
    }
    assert_eq!(watch_calls, 1);
    assert!(done_calls <= 1);
}

#[test]
fn the_dispatch_limit_ends_the_loop_with_not_finished() {
    let (r, done_calls, _) = run(Redispatch::new(common::TIMEOUT, 2), u32::MAX, None);
    match r {
        Err(Error::NotFinished { dispatches: 2 }) => {}
        other => panic!("expected NotFinished after 2 dispatches, got {other:?}"),
    }
    assert_eq!(done_calls, 2);
}

#[test]
fn a_pipeline_takes_the_shaders_own_constants_from_id_3_only() {
    let g = common::gpu();
    for bad in [[(0, 1)], [(2, 7)]] {
        match ComputePipeline::with_constants(&g.ctx, shaders::BUSY, 1, 4, &bad) {
            Err(Error::Invalid(why)) => assert!(why.contains("belongs to gdio.glsl"), "{why}"),
            other => panic!("{bad:?}: expected a refusal, got {other:?}"),
        }
    }
    match ComputePipeline::with_constants(&g.ctx, shaders::BUSY, 1, 4, &[(3, 1), (3, 2)]) {
        Err(Error::Invalid(why)) => assert!(why.contains("twice"), "{why}"),
        other => panic!("a repeated id: expected a refusal, got {other:?}"),
    }
    // busy.comp declares no constant 3: Vulkan ignores an entry for a constant the shader
    // lacks, so the pipeline builds and runs.
    let pipe = ComputePipeline::with_constants(&g.ctx, shaders::BUSY, 1, 4, &[(3, 5)]).unwrap();
    let sink = MappedBuffer::new(&g.ctx, 4, Placement::HostCached).unwrap();
    let set = pipe.bind(&[BufferSlice::whole(&sink)]).unwrap();
    let n = g
        .ctx
        .dispatch_until(
            &pipe,
            &set,
            &1u32.to_le_bytes(),
            [1, 1, 1],
            Redispatch::new(common::TIMEOUT, 1),
            || true,
        )
        .unwrap();
    assert_eq!(n, 1);
    let info = BufferSlice::whole(&sink).descriptor_info();
    assert_eq!((info.offset, info.range), (0, sink.len() as u64));
    assert_eq!(info.buffer, sink.buffer());
}
