#version 460
// One batch of a BFS level of the CPU-orchestrated baseline (gdio_workloads::bfs): the host
// read the frontier's adjacency lists into `adj`, packed, and wrote one descriptor (first word,
// words) per piece of at most a few thousand entries; one invocation per descriptor swaps
// levels[u] from UNREACHED to level + 1 for every neighbour u and appends the winners to the
// next frontier, which the host reads after the dispatch.
//
// bindings: 0 the packed lists, 1 descriptors (uvec2 each), 2 levels, 3 the next frontier,
//           4 control words: 0 the next frontier's length, 1 the first error (1: a neighbour
//             id >= vertices, 2: the next frontier past vertices entries), 2 its neighbour id
layout(local_size_x = 64) in;
layout(set = 0, binding = 0, std430) readonly buffer Adj { uint adj[]; };
layout(set = 0, binding = 1, std430) readonly buffer Desc { uvec2 desc[]; };
layout(set = 0, binding = 2, std430) buffer Levels { uint levels[]; };
layout(set = 0, binding = 3, std430) writeonly buffer Next { uint next_frontier[]; };
layout(set = 0, binding = 4, std430) buffer Ctl { uint ctl[]; };
layout(push_constant) uniform Params {
    uint ndesc;
    uint level;
    uint vertices;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= pc.ndesc) {
        return;
    }
    uvec2 d = desc[i];
    uint next_level = pc.level + 1u;
    for (uint k = 0u; k < d.y; k++) {
        uint u = adj[d.x + k];
        if (u >= pc.vertices) {
            if (atomicCompSwap(ctl[1], 0u, 1u) == 0u) {
                ctl[2] = u;
            }
        } else if (levels[u] == 0xFFFFFFFFu && atomicCompSwap(levels[u], 0xFFFFFFFFu, next_level) == 0xFFFFFFFFu) {
            uint at = atomicAdd(ctl[0], 1u);
            if (at < pc.vertices) {
                next_frontier[at] = u;
            } else {
                atomicCompSwap(ctl[1], 0u, 2u);
            }
        }
    }
}
