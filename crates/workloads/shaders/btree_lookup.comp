#version 460
// Data-dependent IO: B-tree lookups where every READ depends on the node the GPU just read.
// Lane L (of `lanes`) looks up keys k = L + j*lanes. For each key it READs the root node into
// its own window region (bytes L*4096 ..), searches it on the GPU, READs the child it chose,
// and so on down to a leaf, then writes the key's result. One READ in flight per lane, through
// slot L / queues of queue L % queues (several queues, one pump each, spread the node reads
// over pump threads). Node format: btree.glsl.
//
// bindings: 0 request region, 1 completion region, 2 the window (lanes * 4096 bytes),
//           3 state (8 words per lane: ST_PROGRESS = keys finished, ST_PHASE = 1 while a READ
//             is published, ST_A/ST_B = the offset of the node being read (0: the root),
//             ST_C = nodes read for the current key),
//           4 keys (u64 each, lo word first), 5 results (4 words per key, see btree.glsl)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_demo.glsl"

// Workgroup size: specialization constant 1 (1 on GPUs, so that every lane waits for its own
// READs alone; GDIO_LANES on lavapipe), set by gdio_vulkan::ComputePipeline.
layout(local_size_x_id = 1) in;
layout(set = 0, binding = 2, std430) coherent readonly buffer Window { uint win[]; };
// The same buffer as quads: the node search loads 16 bytes at a time (btree.glsl).
layout(set = 0, binding = 2, std430) coherent readonly buffer WindowQuads { uvec4 win4[]; };
layout(set = 0, binding = 3, std430) buffer State { uint st[]; };
layout(set = 0, binding = 4, std430) readonly buffer Keys { uint keys[]; };
layout(set = 0, binding = 5, std430) writeonly buffer Results { uint res[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint nkeys;
    uint lanes;
    uint root_lo;
    uint root_hi;
    uint iter_budget;
    uint wait_budget;
    uint queues;       // lane L uses queue L % queues and its slot L / queues (one pump each)
    uint req_stride;   // words between queues' request regions
    uint cmp_stride;   // words between queues' completion regions
} pc;

uint node_base;
#define BTREE_QUAD(q) win4[node_base / 4u + (q)]
#include "btree.glsl"

const uint NODE_BYTES = 4096u;

void main() {
    uint lane = gl_GlobalInvocationID.x;
    uint s = lane * 8u;
    if (lane >= pc.lanes || st[s + ST_STATUS] != STATUS_RUNNING) {
        return;
    }
    uint q = lane % pc.queues;
    gdio_begin_queue(q * pc.req_stride, q * pc.cmp_stride);
    uint slot = lane / pc.queues;
    node_base = lane * (NODE_BYTES / 4u);
    uint mine = pc.nkeys > lane ? (pc.nkeys - lane + pc.lanes - 1u) / pc.lanes : 0u;
    uint j = st[s + ST_PROGRESS];
    bool published = st[s + ST_PHASE] == 1u;
    uvec2 off = uvec2(st[s + ST_A], st[s + ST_B]);
    uint steps = st[s + ST_C];
    // The generation in flight: resumed from the publish word once per dispatch, then kept
    // here (reading the publish word back would cross the bus every request).
    uint g = published ? gdio_last_published(slot) : gdio_last_completed(slot);
    bool go = j < mine;
    while (go) {
        uint k = lane + j * pc.lanes;
        if (off == uvec2(0u)) {
            off = uvec2(pc.root_lo, pc.root_hi);
        }
        if (!published) {
            g = gdio_publish_after(g, slot, GDIO_OP_READ, pc.file, pc.window, lane * NODE_BYTES,
                                   off.x, off.y, NODE_BYTES, k);
            published = true;
        }
        int r = gdio_wait(slot, g, pc.wait_budget);
        if (r == GDIO_TIMEOUT) {
            go = false;
        } else if (r != int(NODE_BYTES)) {
            st[s + ST_STATUS] = STATUS_FAILED;
            st[s + ST_ERROR] = uint(r);
            st[s + ST_WHERE] = k;
            published = false;
            go = false;
        } else {
            published = false;
            steps += 1u;
            uvec3 o = btree_step(uvec2(keys[2u * k], keys[2u * k + 1u]));
            if (o.x == BT_ACTIVE && steps < 64u) {
                off = o.yz;
            } else {
                res[4u * k] = o.x == BT_ACTIVE ? BT_CORRUPT : o.x;
                res[4u * k + 1u] = o.y;
                res[4u * k + 2u] = o.z;
                res[4u * k + 3u] = steps;
                off = uvec2(0u);
                steps = 0u;
                j += 1u;
            }
            go = j < mine;
        }
        // The search's own loop counts too (lavapipe ends every loop past its cap, silently).
        gdio_iters += 2u + BTREE_STEP_ITERS;
        gdio_sync_iters();
        go = go && gdio_budget_left(gdio_iters, pc.wait_budget + 4u + BTREE_STEP_ITERS,
                                    pc.iter_budget);
    }
    st[s + ST_PROGRESS] = j;
    st[s + ST_PHASE] = published ? 1u : 0u;
    st[s + ST_A] = off.x;
    st[s + ST_B] = off.y;
    st[s + ST_C] = steps;
    if (j >= mine && st[s + ST_STATUS] == STATUS_RUNNING) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
