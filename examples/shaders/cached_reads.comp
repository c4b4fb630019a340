#version 460
// Each invocation (lane) looks up `per_lane` 32-bit items of file 0 at indices it computes
// (a hash: scattered, with repeats, as an embedding table or index is asked), through the page
// cache (gdio_cache.glsl): a hit never leaves the GPU, a miss READs its page once however many
// lanes want it. It sums what it finds. State per lane (8 words): 0 items done, 1 sum, 2 status
// (0 running, 1 done, 2 failed), 3 the failing code, 4..7 the cache request in progress
// (phase, slot, generation, result), kept across dispatches (lavapipe ends loops after 65,535
// iterations; the host dispatches again).
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_cache.glsl" // bindings 2 (metadata) and 3 (pages)

layout(local_size_x = 8) in;
layout(set = 0, binding = 4, std430) buffer State { uint st[]; };
layout(push_constant) uniform Params {
    uint items;       // 32-bit items in the file
    uint per_lane;    // items each lane looks up
    uint iter_budget; // loop iterations per dispatch
    uint step_budget; // cache steps per gdio_cache_get
} pc;

// Item j of lane `lane`: a scattered index, skewed towards the file's start (the top three
// bits of a hash halve the range up to seven times), the same on the CPU (cached_reads.rs).
uint item_of(uint lane, uint j) {
    uint x = lane * 0x9E3779B9u + j * 0x85EBCA6Bu;
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    return x % max(pc.items >> (x >> 29), 1u);
}

void main() {
    gdio_begin();
    gdio_cache_open(0u); // the pages are window 0
    uint lane = gl_GlobalInvocationID.x;
    uint b = lane * 8u;
    uint j = st[b];
    uint item = item_of(lane, j);
    GdioCacheReq r = gdio_cache_request(0u, (item * 4u) >> gdio_cache_shift);
    r.phase = st[b + 4u];
    r.slot = st[b + 5u];
    r.g = st[b + 6u];
    r.result = int(st[b + 7u]);
    while (st[b + 2u] == 0u && gdio_iters + pc.step_budget * 60u < pc.iter_budget) {
        if (j >= pc.per_lane) {
            st[b + 2u] = 1u;
            continue;
        }
        int s = gdio_cache_get(r, lane, pc.step_budget);
        if (s == GDIO_TIMEOUT) {
            continue; // still in progress: step again (this dispatch or the next)
        }
        if (s < 0) {
            st[b + 2u] = 2u;
            st[b + 3u] = uint(s);
            continue;
        }
        uint in_page = (item * 4u) & (gdio_cache_page_bytes() - 1u);
        st[b + 1u] += gdio_cache_pages[gdio_cache_page_word(uint(s)) + in_page / 4u];
        gdio_cache_release(uint(s)); // before asking for the next page
        j += 1u;
        st[b] = j;
        item = item_of(lane, j);
        r = gdio_cache_request(0u, (item * 4u) >> gdio_cache_shift);
    }
    st[b + 4u] = r.phase;
    st[b + 5u] = r.slot;
    st[b + 6u] = r.g;
    st[b + 7u] = uint(r.result);
}
