#version 460
// Freshness probe: does a *running* shader see what the host writes into a window?
// One dispatch, `rounds` rounds. Round r: the host rewrites the whole window with pattern r
// (memcpy), then raises flag = r in completion-side memory; the shader waits for the flag,
// reads every word, counts words that differ from pattern r, stores the count and acks r in
// request-side memory, which the host polls. On the H100 system-memory windows fail from
// round 2 (the shader keeps seeing round 1's bytes); ReBAR passes.
//
// binding 0: ack   (request-side placement; device writes, host polls)
//            words 0..7 last round acked per lane; 8..15 1 if the lane's spin budget ran out;
//            64 + 8 r + lane: mismatches lane saw in round r
// binding 1: flag  (completion-side placement; host writes, device polls): word 0 = round,
//            0xFFFFFFFF = abort
// binding 2: the window under test
#pragma use_vulkan_memory_model
#extension GL_KHR_memory_scope_semantics : require

// Lanes per workgroup: lavapipe misbehaves with fewer than 8 (its SIMD width);
// gdio_vulkan::shaders::LANES_PER_GROUP.
#define GDIO_LANES 8

// lowbias32 (Chris Wellons): a well-mixed 32-bit hash (gdio_vulkan::patterns::hash).
uint gdio_hash(uint x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

layout(local_size_x = GDIO_LANES) in;
layout(set = 0, binding = 0, std430) buffer Ack { uint ack[]; };
layout(set = 0, binding = 1, std430) buffer Flag { uint flag[]; };
layout(set = 0, binding = 2, std430) coherent readonly buffer Window { uint win[]; };
layout(push_constant) uniform Params {
    uint rounds;
    uint words;       // window words to check
    uint spin_budget; // loop iterations a lane may spin per round
    uint seed;
} pc;

const uint ABORT = 0xFFFFFFFFu;

uint round_flag() {
    return atomicLoad(flag[0], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                      gl_SemanticsAcquire | gl_SemanticsMakeVisible);
}

uint expect(uint r, uint i) {
    return gdio_hash(i * 0x9E3779B1u ^ (r * 0x85EBCA77u + pc.seed));
}

#define PEEK if (seen != r && seen != ABORT) { seen = round_flag(); }
#define PEEK8 PEEK PEEK PEEK PEEK PEEK PEEK PEEK PEEK

void main() {
    uint lane = gl_LocalInvocationID.x;
    uint r = 1u;
    bool alive = true;
    while (alive && r <= pc.rounds) {
        uint seen = 0u;
        uint i = 0u;
        while (seen != r && seen != ABORT && i < pc.spin_budget) {
            // 64 polls per iteration: lavapipe counts loop iterations, not polls.
            PEEK8 PEEK8 PEEK8 PEEK8 PEEK8 PEEK8 PEEK8 PEEK8
            i += 1u;
        }
        if (seen != r) {
            ack[8u + lane] = 1u;
            alive = false;
        } else {
            uint bad = 0u;
            for (uint w = lane; w < pc.words; w += 4u * GDIO_LANES) {
                uint w1 = w + GDIO_LANES;
                uint w2 = w + 2u * GDIO_LANES;
                uint w3 = w + 3u * GDIO_LANES;
                bad += win[w] != expect(r, w) ? 1u : 0u;
                if (w1 < pc.words) { bad += win[w1] != expect(r, w1) ? 1u : 0u; }
                if (w2 < pc.words) { bad += win[w2] != expect(r, w2) ? 1u : 0u; }
                if (w3 < pc.words) { bad += win[w3] != expect(r, w3) ? 1u : 0u; }
            }
            ack[64u + 8u * r + lane] = bad;
            atomicStore(ack[lane], r, gl_ScopeDevice, gl_StorageSemanticsBuffer,
                        gl_SemanticsRelease | gl_SemanticsMakeAvailable);
            r += 1u;
        }
    }
}
