#version 460
// Fills a buffer with the test pattern: word w of the buffer is gdio_file_word(base + w, seed),
// the bytes write_file.comp writes at the same place in the file. The CPU-orchestrated write
// baseline dispatches it for each batch, waits on the fence, copies the buffer out and pwrites
// it. Invocations stride over the words, so neighbouring invocations store neighbouring words.
//
// bindings: 0 the buffer (host-visible: the host copies it out after the fence)
#extension GL_GOOGLE_include_directive : require
#include "gdio_demo.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0, std430) writeonly buffer Out { uint words[]; };
layout(push_constant) uniform Params {
    uint base;    // the pattern's word index of words[0]
    uint nwords;  // words to fill
    uint seed;
} pc;

void main() {
    uint stride = gl_NumWorkGroups.x * 64u;
    for (uint w = gl_GlobalInvocationID.x; w < pc.nwords; w += stride) {
        words[w] = gdio_file_word(pc.base + w, pc.seed);
    }
}
