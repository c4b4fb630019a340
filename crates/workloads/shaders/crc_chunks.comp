#version 460
// The CPU-orchestrated baseline of `gdio bench`: the host has read `nchunks` chunks of a file
// into `data` (chunk c at byte c * chunk) before the dispatch; invocation c computes chunk c's
// CRC-32C, exactly as crc_stream.comp does for a chunk that arrived through gdio.
//
// bindings: 0 data, 1 chunk CRCs (one word per chunk), 2 CRC tables (1024 words)
#extension GL_GOOGLE_include_directive : require
#define GDIO_CRC_TABLE_BINDING 2
#include "crc32c.glsl"

layout(local_size_x = 8) in;
layout(set = 0, binding = 0, std430) readonly buffer Data { uint data[]; };
layout(set = 0, binding = 1, std430) writeonly buffer Crcs { uint crcs[]; };
layout(push_constant) uniform Params {
    uint nchunks;
    uint last_len;   // bytes in the last chunk (1..=chunk)
    uint chunk;      // bytes per chunk, a multiple of 16
} pc;

void main() {
    crc32c_load_tables();
    uint c = gl_GlobalInvocationID.x;
    if (c >= pc.nchunks) {
        return;
    }
    uint len = c + 1u == pc.nchunks ? pc.last_len : pc.chunk;
    uint full = len / 4u;
    uint base = c * (pc.chunk / 4u);
    uint crc = 0xFFFFFFFFu;
    for (uint k = 0u; k < full; k += 4u) {
        for (uint u = 0u; u < 4u; u++) {
            if (k + u < full) {
                crc = crc32c_word(crc, data[base + k + u]);
            }
        }
    }
    uint tail = len & 3u;
    if (tail != 0u) {
        crc = crc32c_tail(crc, data[base + full], tail);
    }
    crcs[c] = crc ^ 0xFFFFFFFFu;
}
