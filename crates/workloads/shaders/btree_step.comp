#version 460
// The CPU-orchestrated baseline of the B-tree lookup: one tree level per dispatch. Before each
// dispatch the host has read, for every key still walking, the node named by its result words
// 1..2 (the root at first) into `nodes` (key k's node at byte k*4096); invocation k searches it
// and writes the next offset, or the final result, into `res`. The host repeats until no key
// is BT_ACTIVE. Node format and result words: btree.glsl.
//
// bindings: 0 nodes (nkeys * 4096 bytes), 1 keys (u64 each), 2 results (4 words per key)
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 8) in;
layout(set = 0, binding = 0, std430) readonly buffer Nodes { uint nodes[]; };
// The same buffer as quads: the node search loads 16 bytes at a time (btree.glsl).
layout(set = 0, binding = 0, std430) readonly buffer NodesQuads { uvec4 nodes4[]; };
layout(set = 0, binding = 1, std430) readonly buffer Keys { uint keys[]; };
layout(set = 0, binding = 2, std430) buffer Results { uint res[]; };
layout(push_constant) uniform Params {
    uint nkeys;
} pc;

uint node_base;
#define BTREE_QUAD(q) nodes4[node_base / 4u + (q)]
#include "btree.glsl"

void main() {
    uint k = gl_GlobalInvocationID.x;
    if (k >= pc.nkeys || res[4u * k] != BT_ACTIVE) {
        return;
    }
    node_base = k * 1024u;
    uvec3 o = btree_step(uvec2(keys[2u * k], keys[2u * k + 1u]));
    res[4u * k] = o.x;
    res[4u * k + 1u] = o.y;
    res[4u * k + 2u] = o.z;
    res[4u * k + 3u] += 1u;
}
