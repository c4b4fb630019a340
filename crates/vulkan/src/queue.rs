//! A queue's two regions, allocated where a [`PlacementPlan`] says.

use gdio_protocol::{HostQueue, Layout, Region};

use crate::context::Context;
use crate::error::Result;
use crate::memory::{MappedBuffer, Placement};
use crate::pipeline::BufferSlice;
use crate::placement::PlacementPlan;

/// The request region (device writes, host polls) and the completion region (host writes,
/// device polls) of one queue. When both placements are the same (lavapipe) they share one
/// buffer, request region first; otherwise (NVIDIA: host-cached + ReBAR) they are two.
///
/// By the GLSL library's convention, bind [`QueueBuffers::request_slice`] at binding 0 and
/// [`QueueBuffers::completion_slice`] at binding 1.
#[derive(Debug)]
pub struct QueueBuffers {
    layout: Layout,
    request: MappedBuffer,
    completion: Option<MappedBuffer>,
    completion_offset: usize,
}

impl QueueBuffers {
    /// Allocates both regions for `slot_count` slots (zeroed; call
    /// [`QueueBuffers::init_host`] to write the headers before the first dispatch).
    pub fn new(ctx: &Context, slot_count: u32, plan: &PlacementPlan) -> Result<QueueBuffers> {
        QueueBuffers::with_placements(ctx, slot_count, plan.request, plan.completion)
    }

    /// As [`QueueBuffers::new`] with explicit placements.
    pub fn with_placements(
        ctx: &Context,
        slot_count: u32,
        request: Placement,
        completion: Placement,
    ) -> Result<QueueBuffers> {
        let layout = Layout::new(slot_count)?;
        let align = (ctx.info().min_storage_buffer_offset_alignment as usize).max(64);
        if request == completion {
            let completion_offset = layout.request_bytes().div_ceil(align) * align;
            let buf =
                MappedBuffer::new(ctx, completion_offset + layout.completion_bytes(), request)?;
            Ok(QueueBuffers {
                layout,
                request: buf,
                completion: None,
                completion_offset,
            })
        } else {
            Ok(QueueBuffers {
                layout,
                request: MappedBuffer::new(ctx, layout.request_bytes(), request)?,
                completion: Some(MappedBuffer::new(
                    ctx,
                    layout.completion_bytes(),
                    completion,
                )?),
                completion_offset: 0,
            })
        }
    }

    /// The queue's layout.
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn completion_buffer(&self) -> &MappedBuffer {
        self.completion.as_ref().unwrap_or(&self.request)
    }

    /// Both regions as protocol views (request, completion).
    #[must_use]
    pub fn regions(&self) -> (Region<'_>, Region<'_>) {
        let req = self
            .request
            .region(0, self.layout.request_bytes())
            .expect("request region fits its buffer");
        let cmp = self
            .completion_buffer()
            .region(self.completion_offset, self.layout.completion_bytes())
            .expect("completion region fits its buffer");
        (req, cmp)
    }

    /// Initialises both regions (headers, zeroes, pump state INIT) and returns the host's side.
    /// Call before the first dispatch: on NVIDIA a running shader does not see later host
    /// writes to the (system-memory) request region.
    pub fn init_host(&self) -> Result<HostQueue<'_>> {
        let (req, cmp) = self.regions();
        Ok(HostQueue::init(req, cmp, self.layout.slot_count())?)
    }

    /// The request region, to bind at binding 0.
    #[must_use]
    pub fn request_slice(&self) -> BufferSlice<'_> {
        BufferSlice::range(&self.request, 0, self.layout.request_bytes())
            .expect("request region fits")
    }

    /// The completion region, to bind at binding 1.
    #[must_use]
    pub fn completion_slice(&self) -> BufferSlice<'_> {
        BufferSlice::range(
            self.completion_buffer(),
            self.completion_offset,
            self.layout.completion_bytes(),
        )
        .expect("completion region fits")
    }

    /// The buffer holding the request region.
    #[must_use]
    pub fn request_buffer(&self) -> &MappedBuffer {
        &self.request
    }

    /// The buffer holding the completion region (the request buffer when shared).
    #[must_use]
    pub fn completion_buffer_ref(&self) -> &MappedBuffer {
        self.completion_buffer()
    }

    /// Frees both regions; call after the pump has stopped and every dispatch finished.
    pub fn free(self) {
        drop(self);
    }
}

/// Several queues side by side in one request buffer and one completion buffer, so one
/// dispatch can spread its lanes over them (each queue served by its own pump): the shader
/// calls `gdio_begin_queue(q * request_stride_words(), q * completion_stride_words())`.
#[derive(Debug)]
pub struct QueueGroup {
    layout: Layout,
    queues: u32,
    request: MappedBuffer,
    completion: MappedBuffer,
}

impl QueueGroup {
    /// `queues` queues of `slot_count` slots each, placed as `plan` says (zeroed; each pump
    /// initialises its own queue).
    pub fn new(
        ctx: &Context,
        queues: u32,
        slot_count: u32,
        plan: &PlacementPlan,
    ) -> Result<QueueGroup> {
        let layout = Layout::new(slot_count)?;
        let queues = queues.max(1);
        Ok(QueueGroup {
            layout,
            queues,
            request: MappedBuffer::new(
                ctx,
                layout.request_bytes() * queues as usize,
                plan.request,
            )?,
            completion: MappedBuffer::new(
                ctx,
                layout.completion_bytes() * queues as usize,
                plan.completion,
            )?,
        })
    }

    /// Each queue's layout.
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// How many queues.
    #[must_use]
    pub fn queues(&self) -> u32 {
        self.queues
    }

    /// Words from one queue's request region to the next (both regions are 64-byte multiples).
    #[must_use]
    pub fn request_stride_words(&self) -> u32 {
        (self.layout.request_bytes() / 4) as u32
    }

    /// Words from one queue's completion region to the next.
    #[must_use]
    pub fn completion_stride_words(&self) -> u32 {
        (self.layout.completion_bytes() / 4) as u32
    }

    /// Queue `q`'s regions (request, completion); `None` past the last queue.
    #[must_use]
    pub fn regions(&self, q: u32) -> Option<(Region<'_>, Region<'_>)> {
        if q >= self.queues {
            return None;
        }
        let (rb, cb) = (self.layout.request_bytes(), self.layout.completion_bytes());
        let req = self.request.region(q as usize * rb, rb).ok()?;
        let cmp = self.completion.region(q as usize * cb, cb).ok()?;
        Some((req, cmp))
    }

    /// Every queue's request regions, to bind at binding 0.
    #[must_use]
    pub fn request_slice(&self) -> BufferSlice<'_> {
        BufferSlice::whole(&self.request)
    }

    /// Every queue's completion regions, to bind at binding 1.
    #[must_use]
    pub fn completion_slice(&self) -> BufferSlice<'_> {
        BufferSlice::whole(&self.completion)
    }
}
