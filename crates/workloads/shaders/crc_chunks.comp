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
layout(set = 0, binding = 0, std430) readonly buffer Data { uvec4 data[]; };
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
    // 64 bytes per step, loaded before any is used, as crc_stream.comp does.
    uint full = len / 16u;
    uint base = c * (pc.chunk / 16u);
    uint crc = 0xFFFFFFFFu;
    uint k = 0u;
    for (; k + 4u <= full; k += 4u) {
        uvec4 a = data[base + k];
        uvec4 b = data[base + k + 1u];
        uvec4 e = data[base + k + 2u];
        uvec4 f = data[base + k + 3u];
        crc = crc32c_vec4(crc32c_vec4(crc32c_vec4(crc32c_vec4(crc, a), b), e), f);
    }
    for (; k < full; k++) {
        crc = crc32c_vec4(crc, data[base + k]);
    }
    uint rest = len & 15u;
    if (rest != 0u) {
        crc = crc32c_vec4_head(crc, data[base + full], rest);
    }
    crcs[c] = crc ^ 0xFFFFFFFFu;
}
