#version 460
// The CPU-orchestrated baseline of the cached B-tree lookup: one tree level (or one group of a
// level) per dispatch over a page cache the host manages. Before each dispatch the host has
// made sure every page the group's keys need is in `pages` (reading each missing page once),
// and written into `at` the word index of each key's node there (0xFFFFFFFF: not in this
// group); invocation k searches its node and writes the next offset, or the final result,
// into `res`. Node format and result words: btree.glsl.
//
// bindings: 0 pages, 1 keys (u64 each), 2 results (4 words per key), 3 at (1 word per key)
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 8) in;
layout(set = 0, binding = 0, std430) readonly buffer PagesQuads { uvec4 pages4[]; };
layout(set = 0, binding = 1, std430) readonly buffer Keys { uint keys[]; };
layout(set = 0, binding = 2, std430) buffer Results { uint res[]; };
layout(set = 0, binding = 3, std430) readonly buffer At { uint at[]; };
layout(push_constant) uniform Params {
    uint nkeys;
} pc;

uint node_base;
#define BTREE_QUAD(q) pages4[node_base / 4u + (q)]
#include "btree.glsl"

void main() {
    uint k = gl_GlobalInvocationID.x;
    if (k >= pc.nkeys || res[4u * k] != BT_ACTIVE || at[k] == 0xFFFFFFFFu) {
        return;
    }
    node_base = at[k];
    uvec3 o = btree_step(uvec2(keys[2u * k], keys[2u * k + 1u]));
    res[4u * k] = o.x;
    res[4u * k + 1u] = o.y;
    res[4u * k + 2u] = o.z;
    res[4u * k + 3u] += 1u;
}
