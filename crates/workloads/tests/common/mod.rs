//! Shared test helpers: gdio-test-support's serialised context, and a fake pump that drives a
//! `gdio::protocol::HostQueue` directly, serving READ/WRITE from in-memory files with memcpy.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gdio::protocol::codes::{PumpState, ResultCode};
use gdio::protocol::host::HostStats;
use gdio::protocol::request::{StaticTables, ValidRequest};
use gdio::protocol::{Claim, FileAccess, HostQueue, Limits, WindowAccess};
use gdio::vulkan::{Context, MappedBuffer};

pub use gdio_test_support::vulkan::{gpu, TIMEOUT};

/// A window the fake pump serves: a byte range of a mapped buffer.
#[derive(Clone, Copy)]
pub struct Win<'a> {
    pub buf: &'a MappedBuffer,
    pub offset: usize,
    pub len: usize,
}

/// The fake pump's world: files in memory and windows.
pub struct FakeHost<'a> {
    pub files: Vec<Vec<u8>>,
    pub windows: Vec<Win<'a>>,
    /// After this many claims, set pump state FAILED and stop answering (a dying pump).
    pub fail_after: Option<u64>,
    pub ops: Vec<u32>,
}

impl<'a> FakeHost<'a> {
    pub fn new(files: Vec<Vec<u8>>, windows: Vec<Win<'a>>) -> Self {
        FakeHost {
            files,
            windows,
            fail_after: None,
            ops: Vec::new(),
        }
    }

    fn tables(&self) -> StaticTables {
        StaticTables {
            files: self
                .files
                .iter()
                .map(|_| FileAccess {
                    readable: true,
                    writable: true,
                })
                .collect(),
            windows: self
                .windows
                .iter()
                .map(|w| WindowAccess {
                    len: w.len as u64,
                    host_writes: true,
                    host_reads: true,
                })
                .collect(),
        }
    }

    fn execute(&mut self, c: &Claim, tables: &StaticTables) -> i32 {
        self.ops.push(c.request.op_word);
        match c.request.validate(&Limits::default(), tables) {
            Err(code) => code.value(),
            Ok(ValidRequest::Nop | ValidRequest::Fence | ValidRequest::Fsync { .. }) => 0,
            Ok(ValidRequest::Read(t)) => {
                let f = &self.files[t.file as usize];
                let start = (t.file_offset as usize).min(f.len());
                let end = (start + t.len as usize).min(f.len());
                let w = self.windows[t.window as usize];
                w.buf
                    .write(w.offset + t.window_offset as usize, &f[start..end])
                    .unwrap();
                (end - start) as i32
            }
            Ok(ValidRequest::Write(t)) => {
                let w = self.windows[t.window as usize];
                let data = w
                    .buf
                    .read_vec(w.offset + t.window_offset as usize, t.len as usize)
                    .unwrap();
                let f = &mut self.files[t.file as usize];
                let end = t.file_offset as usize + data.len();
                if f.len() < end {
                    f.resize(end, 0);
                }
                f[t.file_offset as usize..end].copy_from_slice(&data);
                data.len() as i32
            }
        }
    }

    /// Serves `q` until `stop` is set (then sets STOPPED), or until `fail_after` claims.
    pub fn serve(&mut self, mut q: HostQueue<'_>, stop: &AtomicBool) -> HostStats {
        let tables = self.tables();
        q.set_pump_state(PumpState::Running, 0);
        let mut claims = [Claim::default(); 64];
        let mut idle = 0u32;
        let mut claimed = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let n = q.claim(&mut claims);
            if n == 0 {
                idle += 1;
                if idle > 256 {
                    std::thread::sleep(Duration::from_micros(50));
                } else {
                    std::thread::yield_now();
                }
                continue;
            }
            idle = 0;
            for c in &claims[..n] {
                claimed += 1;
                if self.fail_after.is_some_and(|k| claimed > k) {
                    q.set_pump_state(PumpState::Failed, ResultCode::Internal.value());
                    return q.stats();
                }
                let r = self.execute(c, &tables);
                q.complete(c.slot, c.generation, r).unwrap();
            }
            q.flush();
        }
        q.set_pump_state(PumpState::Stopped, 0);
        q.stats()
    }
}

/// Runs a 4-binding demo shader (requests, completions, window, state) with a running pump.
pub fn run_with_pump(
    ctx: &Context,
    pump: &gdio::pump::PumpHandle,
    queue: &gdio::PumpQueue,
    window: &gdio::PumpWindow,
    spv: &[u8],
    push: &[u8],
    lanes: u32,
) -> Vec<gdio_workloads::shaders::LaneState> {
    let state = MappedBuffer::new(
        ctx,
        lanes as usize * gdio_workloads::shaders::STATE_WORDS * 4,
        gdio::vulkan::Placement::HostCached,
    )
    .unwrap();
    let slices = [
        queue.request_slice(),
        queue.completion_slice(),
        gdio::vulkan::BufferSlice::whole(window.buffer()),
        gdio::vulkan::BufferSlice::whole(&state),
    ];
    let pipe = gdio::vulkan::ComputePipeline::new(ctx, spv, 4, push.len() as u32).unwrap();
    let set = pipe.bind(&slices).unwrap();
    let groups = lanes.div_ceil(gdio_workloads::shaders::LANES_PER_GROUP);
    ctx.dispatch_until(
        &pipe,
        &set,
        push,
        [groups, 1, 1],
        gdio::vulkan::Redispatch::new(TIMEOUT, 2000),
        || {
            gdio_workloads::shaders::LaneState::all_finished(
                &gdio_workloads::shaders::LaneState::read_all(&state, lanes).unwrap(),
            )
        },
    )
    .unwrap_or_else(|e| panic!("{e}; pump: {:?}", pump.stats()));
    gdio_workloads::shaders::LaneState::read_all(&state, lanes).unwrap()
}
