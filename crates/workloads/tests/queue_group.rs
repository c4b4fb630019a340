//! One dispatch spread over several queues, each served by its own pump: every lane's reads
//! come back right, and every pump served its share.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::{gpu, TIMEOUT};
use gdio::protocol::{FileAccess, Op};
use gdio::pump::{Pump, WindowMode};
use gdio::vulkan::{
    BufferSlice, ComputePipeline, MappedBuffer, Placement, PlacementPlan, QueueGroup, Redispatch,
};
use gdio::{PumpGroupQueue, PumpWindow};
use gdio_workloads::patterns;
use gdio_workloads::shaders::{
    self, Budgets, LaneState, LaneStatus, RandomReadParams, ScalingReadParams,
};

#[test]
fn lanes_spread_over_three_queues_and_three_pumps() {
    let g = gpu();
    let ctx = &g.ctx;
    let plan = PlacementPlan::defaults();
    let (queues, lanes, read_len, reads) = (3u32, 24u32, 4096u32, 20u32);
    let seed = 3;
    let len = 1 << 20;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&patterns::file_bytes(len, seed)).unwrap();
    file.flush().unwrap();
    let group = Arc::new(QueueGroup::new(ctx, queues, lanes.div_ceil(queues), &plan).unwrap());
    let window = PumpWindow::new(
        MappedBuffer::new(ctx, (lanes * read_len) as usize, plan.read_window).unwrap(),
    );
    let pumps: Vec<_> = (0..queues)
        .map(|q| {
            Pump::builder()
                .queue(PumpGroupQueue::new(&group, q).unwrap())
                .file(
                    std::fs::File::open(file.path()).unwrap(),
                    FileAccess {
                        readable: true,
                        writable: false,
                    },
                )
                .window(window.clone(), WindowMode::Auto, window.read_access())
                .spawn()
                .unwrap()
        })
        .collect();
    let p = ScalingReadParams {
        read: RandomReadParams {
            file: 0,
            window: 0,
            file_words: (len / 4) as u32,
            read_len,
            reads,
            lanes,
            budgets: Budgets::for_device(ctx.info()),
            seed,
        },
        queues,
        req_stride: group.request_stride_words(),
        cmp_stride: group.completion_stride_words(),
    };
    let state = MappedBuffer::new(
        ctx,
        lanes as usize * shaders::STATE_WORDS * 4,
        Placement::HostCached,
    )
    .unwrap();
    let pipe =
        ComputePipeline::new(ctx, shaders::SCALING_READ, 4, p.to_bytes().len() as u32).unwrap();
    let set = pipe
        .bind(&[
            group.request_slice(),
            group.completion_slice(),
            BufferSlice::whole(window.buffer()),
            BufferSlice::whole(&state),
        ])
        .unwrap();
    ctx.dispatch_until(
        &pipe,
        &set,
        &p.to_bytes(),
        [lanes.div_ceil(shaders::LANES_PER_GROUP), 1, 1],
        Redispatch::new(TIMEOUT, 2000),
        || LaneState::all_finished(&LaneState::read_all(&state, lanes).unwrap()),
    )
    .unwrap();
    for (i, s) in LaneState::read_all(&state, lanes)
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(s.status, LaneStatus::Done, "lane {i}: {s:?}");
        assert_eq!(s.extra[0], 0, "lane {i}: mismatching words");
        assert_eq!(s.extra[1], reads * read_len, "lane {i}: bytes");
    }
    drop(set);
    for pump in pumps {
        let report = pump.stop().unwrap();
        assert_eq!(
            report.op(Op::Read).ok,
            u64::from(lanes / queues * reads),
            "each pump served its queue's lanes"
        );
    }
}
