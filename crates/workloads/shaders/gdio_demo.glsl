// gdio_demo.glsl: helpers shared by gdio's test and demo shaders (not part of the library).
// The same functions are in Rust in gdio_workloads::patterns; keep both in step.
#ifndef GDIO_DEMO_GLSL
#define GDIO_DEMO_GLSL

// Lanes per workgroup: lavapipe misbehaves with fewer than 8 (its SIMD width).
#define GDIO_LANES 8

// Per-lane state words in the user state buffer (8 words per lane).
const uint ST_PROGRESS = 0u; // work items finished
const uint ST_STATUS = 1u;   // 0 running (re-dispatch), 1 done, 2 failed
const uint ST_ERROR = 2u;    // the result that failed the lane (or a shader-side code)
const uint ST_WHERE = 3u;    // which item failed
const uint ST_PHASE = 4u;    // 1 while a request of this lane is published and not consumed
const uint ST_A = 5u;        // shader-specific
const uint ST_B = 6u;        // shader-specific
const uint ST_C = 7u;        // shader-specific
const uint STATUS_RUNNING = 0u;
const uint STATUS_DONE = 1u;
const uint STATUS_FAILED = 2u;

// lowbias32 (Chris Wellons): a well-mixed 32-bit hash.
uint gdio_hash(uint x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// Word `i` (little-endian, at byte 4i) of a test file made with `seed`.
uint gdio_file_word(uint i, uint seed) {
    return gdio_hash(i + seed * 0x9E3779B9u + 0x6A09E667u);
}

// True while `used` iterations plus `need` more stay within `budget` (no overflow). A budget of
// 0xFFFFFFFF means unbounded (GPUs: no loop cap), so a long-running shader never ends on it.
bool gdio_budget_left(uint used, uint need, uint budget) {
    return budget == 0xFFFFFFFFu || (used <= budget && budget - used >= need);
}

#endif
