#version 460
// The page cache, exercised: lane L asks the cache for pages asks[L*per .. L*per+per] in turn,
// checks every word of each page it gets against the test file's pattern, and releases it.
// For each ask it writes out[2i] = the page's bytes (or the negative code the cache returned)
// and out[2i+1] = the words that did not match (with `check` 0, the last ask's and failures'
// only). One READ in flight per lane (its own slot of
// its queue), as gdio_cache.glsl fills a page with the lane that missed.
//
// bindings: 0 request region, 1 completion region, 2 cache metadata, 3 cache pages (a READ
//           window), 4 asks (one page index per ask), 5 out (2 words per ask), 6 state (8 words
//           per lane: ST_PROGRESS = asks finished, ST_PHASE/ST_A/ST_B/ST_C = the saved cache
//           request's phase, slot, generation, result)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_cache.glsl"
#include "gdio_demo.glsl"

layout(local_size_x_id = 1) in;
layout(set = 0, binding = 4, std430) readonly buffer Asks { uint asks[]; };
layout(set = 0, binding = 5, std430) writeonly buffer Out { uint outw[]; };
layout(set = 0, binding = 6, std430) buffer State { uint st[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint lanes;
    uint per_lane;
    uint seed;
    uint iter_budget;
    uint step_budget;
    uint queues;      // lane L uses queue L % queues, slot L / queues
    uint req_stride;
    uint cmp_stride;
    uint check;       // 0: read one word of each page instead of checking all (hit-cost runs)
} pc;

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
    uint j = st[s + ST_PROGRESS];
    GdioCacheReq r = gdio_cache_request(pc.file, j < pc.per_lane ? asks[lane * pc.per_lane + j] : 0u);
    r.phase = st[s + ST_PHASE];
    r.slot = st[s + ST_A];
    r.g = st[s + ST_B];
    r.result = int(st[s + ST_C]);
    bool go = j < pc.per_lane;
    while (go) {
        int res = gdio_cache_get(r, qslot, pc.step_budget);
        if (res == GDIO_TIMEOUT) {
            go = false;
        } else {
            uint ask = lane * pc.per_lane + j;
            uint bad = 0u;
            if (res >= 0) {
                uint slot = uint(res);
                int len = gdio_cache_len(slot);
                uint base = gdio_cache_page_word(slot);
                uint first = r.page << (gdio_cache_shift - 2u);
                uint words = pc.check != 0u ? uint(max(len, 0)) / 4u : min(uint(max(len, 0)) / 4u, 1u);
                for (uint i = 0u; i < words; i++) {
                    if (gdio_cache_pages[base + i] != gdio_file_word(first + i, pc.seed)) {
                        bad += 1u;
                    }
                }
                gdio_iters += words;
                gdio_cache_release(slot);
                // Hit-cost runs write the outcome of their last ask only (and of failures): a
                // store to host memory before every release would be timed as the cache's.
                if (pc.check != 0u || j + 1u == pc.per_lane) {
                    outw[2u * ask] = uint(len);
                    outw[2u * ask + 1u] = bad;
                }
            } else {
                outw[2u * ask] = uint(res);
                outw[2u * ask + 1u] = bad;
            }
            j += 1u;
            go = j < pc.per_lane;
            r = gdio_cache_request(pc.file, go ? asks[lane * pc.per_lane + j] : 0u);
        }
        gdio_iters += 2u;
        gdio_sync_iters();
        // A step runs up to ~50 iterations (16 ways) and a page check up to 16,384: room for one more ask.
        go = go && gdio_budget_left(gdio_iters, pc.step_budget * 60u + 16400u, pc.iter_budget);
    }
    st[s + ST_PROGRESS] = j;
    st[s + ST_PHASE] = r.phase;
    st[s + ST_A] = r.slot;
    st[s + ST_B] = r.g;
    st[s + ST_C] = uint(r.result);
    if (j >= pc.per_lane) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
