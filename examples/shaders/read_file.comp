#version 460
// Each invocation (lane) READs every `lanes`-th chunk of file 0 into its own part of window 0,
// one request at a time through its own slot, and sums the file's little-endian 32-bit words.
// State per lane (8 words): 0 chunks done, 1 sum, 2 status (0 running, 1 done, 2 failed),
// 3 the failing result, 4 the generation of the READ in flight (0: none). A lane stops when
// its loop budget is spent (lavapipe ends loops after 65,535 iterations) and resumes from its
// state at the next dispatch.
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"

layout(local_size_x = 8) in;
layout(set = 0, binding = 2, std430) coherent readonly buffer Window { uint win[]; };
layout(set = 0, binding = 3, std430) buffer State { uint st[]; };
layout(push_constant) uniform Params {
    uint file_len;    // bytes
    uint chunk;       // bytes per READ, a multiple of 4
    uint iter_budget; // loop iterations per dispatch
    uint wait_budget; // polls per gdio_wait
} pc;

void main() {
    gdio_begin();
    uint lane = gl_GlobalInvocationID.x;
    uint lanes = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint b = lane * 8u;
    uint chunks = (pc.file_len + pc.chunk - 1u) / pc.chunk;
    uint iters = 0u;
    // A turn starts only with room left for a whole one (a wait, then a chunk's words): lavapipe
    // ends an invocation's loops silently past its iteration cap, which would cut a chunk's
    // sum short.
    uint turn_max = pc.wait_budget + pc.chunk / 4u + 2u;
    while (st[b + 2u] == 0u && gdio_iters + iters + turn_max < pc.iter_budget) {
        iters++;
        uint c = lane + st[b] * lanes;
        if (c >= chunks) {
            st[b + 2u] = 1u;
            continue;
        }
        uint off = c * pc.chunk;
        uint g = st[b + 4u];
        if (g == 0u) {
            g = gdio_publish_read(lane, 0u, 0u, lane * pc.chunk, off, 0u,
                                  min(pc.chunk, pc.file_len - off), 0u);
            st[b + 4u] = g;
        }
        int r = gdio_wait(lane, g, pc.wait_budget);
        if (r == GDIO_TIMEOUT) {
            continue; // still in flight: wait again (this dispatch or the next)
        }
        st[b + 4u] = 0u;
        if (r < 0) {
            st[b + 2u] = 2u;
            st[b + 3u] = uint(r);
            continue;
        }
        uint words = (uint(r) + 3u) / 4u;
        uint base = lane * pc.chunk / 4u;
        uint sum = 0u;
        for (uint i = 0u; i < words; i++) {
            uint w = win[base + i];
            uint tail = uint(r) - 4u * i; // bytes of this word inside the READ
            if (tail < 4u) {
                w &= (1u << (8u * tail)) - 1u;
            }
            sum += w;
        }
        iters += words;
        st[b + 1u] += sum;
        st[b] += 1u;
    }
}
