#version 460
// B-tree lookups through the page cache (gdio_cache.glsl): lane L looks up keys
// k = L + j*lanes; for each key it asks the cache for the page holding the root, searches the
// node in the cached page, releases it, asks for the child's page, and so on down to a leaf.
// Hot nodes (the root, the upper levels, the leaves of popular keys) are hits that never reach
// the host; concurrent misses on one node issue one READ. Node format: btree.glsl; a cache page
// holds page_bytes / 4096 consecutive nodes.
//
// bindings: 0 request region, 1 completion region, 2 cache metadata, 3 cache pages,
//           4 state (8 words per lane: ST_PROGRESS = keys finished, ST_A/ST_B = the node being
//             asked for (0: the root), ST_C = nodes read for the current key),
//           5 keys (u64 each, lo word first), 6 results (4 words per key, see btree.glsl),
//           7 the lanes' saved cache requests (4 words per lane: phase, slot, generation,
//             result)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_cache.glsl"
#include "gdio_demo.glsl"

layout(local_size_x_id = 1) in;
// The pages as quads: the node search loads 16 bytes at a time (btree.glsl).
layout(set = 0, binding = 3, std430) coherent readonly buffer PagesQuads { uvec4 pages4[]; };
layout(set = 0, binding = 4, std430) buffer State { uint st[]; };
layout(set = 0, binding = 5, std430) readonly buffer Keys { uint keys[]; };
layout(set = 0, binding = 6, std430) writeonly buffer Results { uint res[]; };
layout(set = 0, binding = 7, std430) buffer Saved { uint saved[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint nkeys;
    uint lanes;
    uint root_lo;
    uint root_hi;
    uint iter_budget;
    uint step_budget;
    uint queues;      // lane L uses queue L % queues and its slot L / queues (one pump each)
    uint req_stride;
    uint cmp_stride;
} pc;

uint node_base;
#define BTREE_QUAD(q) pages4[node_base / 4u + (q)]
#include "btree.glsl"

GdioCacheReq ask(uvec2 off) {
    uint64_t o = (uint64_t(off.y) << 32) | uint64_t(off.x);
    return gdio_cache_request(pc.file, uint(o >> gdio_cache_shift));
}

void main() {
    uint lane = gl_GlobalInvocationID.x;
    uint s = lane * 8u;
    if (lane >= pc.lanes || st[s + ST_STATUS] != STATUS_RUNNING) {
        return;
    }
    uint q = lane % pc.queues;
    gdio_begin_queue(q * pc.req_stride, q * pc.cmp_stride);
    uint qslot = lane / pc.queues;
    gdio_cache_open(pc.window);
    uint mine = pc.nkeys > lane ? (pc.nkeys - lane + pc.lanes - 1u) / pc.lanes : 0u;
    uint j = st[s + ST_PROGRESS];
    uvec2 off = uvec2(st[s + ST_A], st[s + ST_B]);
    if (off == uvec2(0u)) {
        off = uvec2(pc.root_lo, pc.root_hi);
    }
    uint steps = st[s + ST_C];
    GdioCacheReq r = ask(off);
    r.phase = saved[4u * lane];
    r.slot = saved[4u * lane + 1u];
    r.g = saved[4u * lane + 2u];
    r.result = int(saved[4u * lane + 3u]);
    bool go = j < mine;
    while (go) {
        uint k = lane + j * pc.lanes;
        int got = gdio_cache_get(r, qslot, pc.step_budget);
        if (got == GDIO_TIMEOUT) {
            go = false;
        } else if (got < 0) {
            st[s + ST_STATUS] = STATUS_FAILED;
            st[s + ST_ERROR] = uint(got);
            st[s + ST_WHERE] = k;
            go = false;
        } else {
            uint slot = uint(got);
            uint in_page = off.x & (gdio_cache_page_bytes() - 1u);
            bool whole = gdio_cache_len(slot) >= int(in_page + 4096u);
            node_base = gdio_cache_page_word(slot) + in_page / 4u;
            uvec3 o = whole ? btree_step(uvec2(keys[2u * k], keys[2u * k + 1u]))
                            : uvec3(BT_CORRUPT, 0u, 0u);
            gdio_cache_release(slot);
            steps += 1u;
            if (o.x == BT_ACTIVE && steps < 64u) {
                off = o.yz;
            } else {
                res[4u * k] = o.x == BT_ACTIVE ? BT_CORRUPT : o.x;
                res[4u * k + 1u] = o.y;
                res[4u * k + 2u] = o.z;
                res[4u * k + 3u] = steps;
                off = uvec2(pc.root_lo, pc.root_hi);
                steps = 0u;
                j += 1u;
            }
            r = ask(off);
            go = j < mine;
        }
        gdio_iters += 2u + BTREE_STEP_ITERS;
        gdio_sync_iters();
        go = go && gdio_budget_left(gdio_iters, pc.step_budget * 60u + 8u + BTREE_STEP_ITERS,
                                    pc.iter_budget);
    }
    st[s + ST_PROGRESS] = j;
    st[s + ST_A] = off.x;
    st[s + ST_B] = off.y;
    st[s + ST_C] = steps;
    saved[4u * lane] = r.phase;
    saved[4u * lane + 1u] = r.slot;
    saved[4u * lane + 2u] = r.g;
    saved[4u * lane + 3u] = uint(r.result);
    if (j >= mine && st[s + ST_STATUS] == STATUS_RUNNING) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
