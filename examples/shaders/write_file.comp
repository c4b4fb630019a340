#version 460
// Each invocation (lane) writes every `lanes`-th chunk of file 0: it fills its own part of
// window 0 with the pattern word(i) = i * 0x9E3779B1 ^ seed (i: the word's index in the file),
// WRITEs it (with a data check, so the host writes only bytes that have all arrived), and when
// its chunks are written, FSYNCs the file. State per lane (8 words): 0 chunks done, 1 status
// (0 running, 1 done, 2 failed), 2 the failing result, 3 generation in flight (0: none),
// 4 phase (0 writing, 1 syncing). Resumes from its state at the next dispatch.
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"

layout(local_size_x = 8) in;
layout(set = 0, binding = 2, std430) coherent writeonly buffer Window { uint win[]; };
layout(set = 0, binding = 3, std430) buffer State { uint st[]; };
layout(push_constant) uniform Params {
    uint file_len;    // bytes, a multiple of 4
    uint chunk;       // bytes per WRITE, a multiple of 4
    uint seed;
    uint iter_budget;
    uint wait_budget;
} pc;

void main() {
    gdio_begin();
    uint lane = gl_GlobalInvocationID.x;
    uint lanes = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint b = lane * 8u;
    uint chunks = (pc.file_len + pc.chunk - 1u) / pc.chunk;
    uint words_max = pc.chunk / 4u;
    uint iters = 0u;
    while (st[b + 1u] == 0u && gdio_iters + iters + 2u * words_max < pc.iter_budget) {
        iters++;
        uint g = st[b + 3u];
        if (g == 0u) {
            uint c = lane + st[b] * lanes;
            if (st[b + 4u] == 0u && c < chunks) {
                uint off = c * pc.chunk;
                uint len = min(pc.chunk, pc.file_len - off);
                uint base = lane * words_max;
                uint h = GDIO_DATA_CHECK_SEED;
                for (uint i = 0u; i < len / 4u; i++) {
                    uint w = (off / 4u + i) * 0x9E3779B1u ^ pc.seed;
                    win[base + i] = w;
                    h = gdio_check_step(h, w);
                }
                iters += len / 4u;
                g = gdio_publish_write_checked(lane, 0u, 0u, lane * pc.chunk, off, 0u, len, 0u,
                                               gdio_data_check_finish(h, len));
            } else {
                st[b + 4u] = 1u;
                g = gdio_publish_fsync(lane, 0u, false, 0u);
            }
            st[b + 3u] = g;
        }
        int r = gdio_wait(lane, g, pc.wait_budget);
        if (r == GDIO_TIMEOUT) {
            continue;
        }
        st[b + 3u] = 0u;
        if (r < 0) {
            st[b + 1u] = 2u;
            st[b + 2u] = uint(r);
        } else if (st[b + 4u] == 1u) {
            st[b + 1u] = 1u;
        } else {
            st[b] += 1u;
        }
    }
}
