//! The demo shaders build, and gdio-vulkan's dispatch machinery with them: recorded dispatches
//! submitted again and again, and freeing what a forgotten dispatch uses.

mod common;

use common::gpu;
use gdio::vulkan::{ComputePipeline, MappedBuffer, Placement};
use gdio_workloads::shaders;

#[test]
fn every_embedded_shader_builds_a_pipeline() {
    let g = gpu();
    // The demo shaders, and gdio-vulkan's own probe beside them.
    let probe = ("freshness", gdio::vulkan::shaders::FRESHNESS);
    for (name, spv) in std::iter::once(probe).chain(shaders::ALL) {
        let bindings = if name == "freshness" || name == "nop_pingpong" {
            3
        } else {
            4
        };
        let push = match name {
            "freshness" | "nop_pingpong" => 16,
            "stream_sum" => 32,
            _ => 36,
        };
        ComputePipeline::new(&g.ctx, spv, bindings, push).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(ComputePipeline::new(&g.ctx, &[1, 2, 3, 4], 1, 0).is_err());
}

/// crc_chunks.comp's pipeline and the CRC tables it reads (binding 2).
fn crc_chunks_pipeline(ctx: &gdio::vulkan::Context) -> (ComputePipeline, MappedBuffer) {
    let tables =
        MappedBuffer::new(ctx, shaders::CRC_TABLE_WORDS * 4, Placement::HostCached).unwrap();
    tables
        .write_u32s(0, &gdio_workloads::patterns::crc32c_tables())
        .unwrap();
    let pipe = ComputePipeline::new(ctx, shaders::CRC_CHUNKS, 3, 12).unwrap();
    (pipe, tables)
}

/// crc_chunks.comp's bindings: the chunks, one CRC word per chunk, the tables.
fn bind_crc_chunks<'a>(
    pipe: &ComputePipeline,
    data: &'a MappedBuffer,
    crcs: &'a MappedBuffer,
    tables: &'a MappedBuffer,
) -> gdio::vulkan::DescriptorSet<'a> {
    use gdio::vulkan::BufferSlice;
    pipe.bind(&[
        BufferSlice::whole(data),
        BufferSlice::whole(crcs),
        BufferSlice::whole(tables),
    ])
    .unwrap()
}

/// Dispatches crc_chunks.comp once over `p`'s chunks and waits for it.
fn crc_chunks_once(
    ctx: &gdio::vulkan::Context,
    pipe: &ComputePipeline,
    set: &gdio::vulkan::DescriptorSet<'_>,
    p: &shaders::CrcChunksParams,
) {
    let mut d = ctx
        .dispatch(pipe, set, &p.to_bytes(), [p.groups(), 1, 1])
        .unwrap();
    d.wait_with(
        gdio::vulkan::FenceWait::Block,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
}

/// One recorded dispatch submitted three times runs three times, each seeing what the host wrote
/// before that submission: the CRC-32C of each chunk, three different contents.
#[test]
fn a_recorded_dispatch_runs_again_at_every_submission() {
    use gdio::vulkan::FenceWait;
    use gdio_workloads::patterns::crc32c_reference;
    let g = gpu();
    const CHUNK: u32 = 4096;
    const CHUNKS: usize = 4;
    let data = MappedBuffer::new(&g.ctx, CHUNKS * CHUNK as usize, Placement::HostCached).unwrap();
    let crcs = MappedBuffer::new(&g.ctx, CHUNKS * 4, Placement::HostCached).unwrap();
    let (pipe, tables) = crc_chunks_pipeline(&g.ctx);
    let set = bind_crc_chunks(&pipe, &data, &crcs, &tables);
    let p = shaders::CrcChunksParams {
        chunks: shaders::Chunks::new(u64::from(CHUNK) * CHUNKS as u64, CHUNK),
    };
    let mut recorded = g
        .ctx
        .record_dispatch(&pipe, &set, &p.to_bytes(), [p.groups(), 1, 1])
        .unwrap();
    for round in 0u8..3 {
        let bytes: Vec<u8> = (0..CHUNKS * CHUNK as usize)
            .map(|i| (i as u8).wrapping_mul(round + 3) ^ round)
            .collect();
        data.write(0, &bytes).unwrap();
        crcs.write_u32s(0, &[0; CHUNKS]).unwrap();
        let mut d = recorded.submit().unwrap();
        d.wait_with(FenceWait::Block, std::time::Duration::from_secs(60))
            .unwrap();
        drop(d);
        let got = crcs.read_u32s(0, CHUNKS).unwrap();
        let want: Vec<u32> = bytes.chunks(CHUNK as usize).map(crc32c_reference).collect();
        assert_eq!(got, want, "round {round}");
    }
    // Its command buffer and fence go back to the context and serve a one-time dispatch.
    drop(recorded);
    crcs.write_u32s(0, &[0; CHUNKS]).unwrap();
    crc_chunks_once(&g.ctx, &pipe, &set, &p);
    let mut bytes = vec![0u8; CHUNKS * CHUNK as usize];
    data.read(0, &mut bytes).unwrap();
    let want: Vec<u32> = bytes.chunks(CHUNK as usize).map(crc32c_reference).collect();
    assert_eq!(crcs.read_u32s(0, CHUNKS).unwrap(), want);
}

/// crc_chunks.comp's CRC-32C agrees with the CPU's for last chunks of every length around its
/// 64-byte steps and 16-byte loads (whole steps, a few loads, words, single bytes).
#[test]
fn chunk_crcs_match_the_cpu_for_every_tail_shape() {
    use gdio_workloads::patterns::crc32c_reference;
    let g = gpu();
    const CHUNK: u32 = 256;
    let (pipe, tables) = crc_chunks_pipeline(&g.ctx);
    for len in [
        1u64,
        3,
        4,
        12,
        15,
        16,
        17,
        63,
        64,
        65,
        79,
        255,
        256,
        257,
        2 * 256 + 200,
    ] {
        let chunks = shaders::Chunks::new(len, CHUNK);
        let padded = chunks.count as usize * CHUNK as usize;
        let data = MappedBuffer::new(&g.ctx, padded, Placement::HostCached).unwrap();
        let crcs =
            MappedBuffer::new(&g.ctx, chunks.count as usize * 4, Placement::HostCached).unwrap();
        // Bytes past the file's end are not zero: the shader must not read them into a CRC.
        let mut bytes: Vec<u8> = (0..padded).map(|i| (i * 7 + 1) as u8).collect();
        data.write(0, &bytes).unwrap();
        bytes.truncate(len as usize);
        let set = bind_crc_chunks(&pipe, &data, &crcs, &tables);
        let p = shaders::CrcChunksParams { chunks };
        crc_chunks_once(&g.ctx, &pipe, &set, &p);
        let want: Vec<u32> = bytes.chunks(CHUNK as usize).map(crc32c_reference).collect();
        assert_eq!(
            crcs.read_u32s(0, chunks.count as usize).unwrap(),
            want,
            "{len} bytes"
        );
    }
}

/// A recorded dispatch whose submission was forgotten instead of waited for is not submitted
/// again over it: the next submit says so.
#[test]
fn a_recorded_dispatch_refuses_a_submission_over_an_unfinished_one() {
    use gdio::vulkan::BufferSlice;
    let g = gpu();
    let sink = MappedBuffer::new(&g.ctx, 4, Placement::HostCached).unwrap();
    let pipe = ComputePipeline::new(&g.ctx, shaders::BUSY, 1, 4).unwrap();
    let set = pipe.bind(&[BufferSlice::whole(&sink)]).unwrap();
    // Long enough (milliseconds) that the first submission is still running when the second
    // is asked for, microseconds later.
    let push = 60_000u32.to_le_bytes();
    let groups = if g.ctx.info().is_cpu() { 64 } else { 4096 };
    let mut recorded = g
        .ctx
        .record_dispatch(&pipe, &set, &push, [groups, 1, 1])
        .unwrap();
    std::mem::forget(recorded.submit().unwrap());
    let err = recorded.submit().unwrap_err();
    assert!(err.to_string().contains("has not finished"), "{err}");
    // Once the forgotten one is done, submitting works again (and is waited for, so that the
    // buffers outlive both runs).
    let start = std::time::Instant::now();
    loop {
        match recorded.submit() {
            Ok(mut d) => {
                d.wait_with(
                    gdio::vulkan::FenceWait::Block,
                    std::time::Duration::from_secs(60),
                )
                .unwrap();
                break;
            }
            Err(e) => {
                assert!(start.elapsed().as_secs() < 60, "still refused: {e}");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

#[test]
fn btree_serve_builds_in_both_walker_shapes_and_refuses_a_mismatched_one() {
    let g = gpu();
    let info = g.ctx.info();
    // One invocation per walker, and (where the device's subgroups fit) a whole subgroup each.
    ComputePipeline::with_walker_shape(&g.ctx, shaders::BTREE_SERVE, 6, 48, 8, 1).unwrap();
    let coop = shaders::walker_invocations(info).expect("lavapipe and GPUs have a fitting size");
    ComputePipeline::with_walker_shape(&g.ctx, shaders::BTREE_SERVE, 6, 48, coop, coop).unwrap();
    // A walker of several invocations must be exactly one workgroup.
    let err = ComputePipeline::with_walker_shape(&g.ctx, shaders::BTREE_SERVE, 6, 48, 1, coop)
        .unwrap_err();
    assert!(
        err.to_string().contains("needs a workgroup of as many"),
        "{err}"
    );
}

/// Safe code may `mem::forget` a running Dispatch, which ends its borrows of the pipeline, the
/// descriptor set and the buffers: freeing them must then wait for the GPU rather than free
/// memory it still uses. The submission stays recorded until it is seen finished, and each
/// drop below returns only once no recorded submission uses what it frees.
#[test]
fn freeing_what_a_forgotten_dispatch_uses_waits_for_the_gpu() {
    use gdio::vulkan::BufferSlice;
    let gpu = common::gpu();
    let ctx = &gpu.ctx;
    let unrelated = MappedBuffer::new(ctx, 4, Placement::HostCoherent).unwrap();
    let sink = MappedBuffer::new(ctx, 4, Placement::HostCoherent).unwrap();
    let pipe = ComputePipeline::new(ctx, shaders::BUSY, 1, 4).unwrap();
    let set = pipe.bind(&[BufferSlice::whole(&sink)]).unwrap();
    assert_eq!(ctx.submissions_in_flight(), 0);
    // Long enough on lavapipe and on GPUs that it is still running when forgotten.
    let d = ctx
        .dispatch(&pipe, &set, &60_000u32.to_le_bytes(), [64, 1, 1])
        .unwrap();
    std::mem::forget(d);
    assert_eq!(
        ctx.submissions_in_flight(),
        1,
        "recorded until seen finished"
    );
    // Something the dispatch does not use is freed at once, without waiting for it.
    drop(unrelated);
    assert_eq!(ctx.submissions_in_flight(), 1);
    drop(set);
    assert_eq!(
        ctx.submissions_in_flight(),
        0,
        "the descriptor set was freed without waiting for the dispatch that uses it"
    );
    drop(sink);
    drop(pipe);
    // The context still works.
    let sink = MappedBuffer::new(ctx, 4, Placement::HostCoherent).unwrap();
    let pipe = ComputePipeline::new(ctx, shaders::BUSY, 1, 4).unwrap();
    let set = pipe.bind(&[BufferSlice::whole(&sink)]).unwrap();
    let mut d = ctx
        .dispatch(&pipe, &set, &10u32.to_le_bytes(), [1, 1, 1])
        .unwrap();
    d.wait(common::TIMEOUT).unwrap();
    drop(d);
    assert_eq!(ctx.submissions_in_flight(), 0);
}
