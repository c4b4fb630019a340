#version 460
// Keeps every invocation busy with `iterations` steps of integer arithmetic: a load that raises
// the GPU's clock before a latency measurement. Measured on the H100 (nvidia-smi, 500 ms
// samples): after a few seconds in which it counts as idle, which round trips of a few lanes do,
// the governor takes the SM clock from 1980 MHz down to 345 MHz (single-key B-tree lookups then
// took 1.9-2.5x longer through gdio, ~1.3x through the orchestrated loop); a moment of full
// load brings it back.
//
// bindings: 0 a sink (one word, written when the arithmetic ends on one value that depends on a
//           push constant, rarely if ever: it only keeps the loop from being optimized away)
layout(local_size_x = 64) in;
layout(set = 0, binding = 0, std430) buffer Sink { uint sink[]; };
layout(push_constant) uniform Params {
    uint iterations;   // below lavapipe's loop cap of 65,535
} pc;

void main() {
    uint x = gl_GlobalInvocationID.x;
    for (uint i = 0u; i < pc.iterations; i++) {
        x = x * 1664525u + 1013904223u;
    }
    if (x == pc.iterations + 0x9E3779B9u) {
        sink[0] = x;
    }
}
