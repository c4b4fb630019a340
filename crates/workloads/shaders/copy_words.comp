#version 460
// Copies `words` words from binding 0 to binding 1: how the host gets a buffer back from
// device-local memory it must not read itself (ReBAR on NVIDIA reads at about 7 MB/s), through
// host-cached memory the GPU writes at the bus's speed. Invocations stride over the words, so
// that any count fits a dispatch of at most 65,535 workgroups.
layout(local_size_x = 64) in;
layout(set = 0, binding = 0, std430) readonly buffer Src { uint src[]; };
layout(set = 0, binding = 1, std430) writeonly buffer Dst { uint dst[]; };
layout(push_constant) uniform Params {
    uint words;
} pc;

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < pc.words; i += stride) {
        dst[i] = src[i];
    }
}
