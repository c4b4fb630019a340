#version 460
// Many lanes read random 4-aligned offsets of a test file whose word i is
// gdio_file_word(i, seed), and check every word they get.
//
// Lane L does `reads` READs of `read_len` bytes (a multiple of 4) through slot L into window
// region L*read_len, one at a time. Read k of lane L starts at word
//     gdio_hash(L * 0x10001 + k * 0x9E3779B9 + seed) % (file_words - read_words + 1).
// ST_A counts mismatching words, ST_B bytes read. A negative or short result fails the lane.
//
// bindings: 0 request region, 1 completion region, 2 the window, 3 state (8 words per lane)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_demo.glsl"

layout(local_size_x = GDIO_LANES) in;
layout(set = 0, binding = 2, std430) coherent readonly buffer Window { uint win[]; };
layout(set = 0, binding = 3, std430) buffer State { uint st[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint file_words;  // file length / 4 (the file is at least read_len bytes)
    uint read_len;    // bytes per read, a multiple of 4
    uint reads;       // reads per lane
    uint lanes;
    uint iter_budget;
    uint wait_budget;
    uint seed;
} pc;

uint start_word(uint lane, uint k) {
    uint span = pc.file_words - pc.read_len / 4u + 1u;
    return gdio_hash(lane * 0x10001u + k * 0x9E3779B9u + pc.seed) % span;
}

void main() {
    uint lane = gl_GlobalInvocationID.x;
    uint s = lane * 8u;
    if (lane >= pc.lanes || st[s + ST_STATUS] != STATUS_RUNNING) {
        return;
    }
    gdio_begin();
    uint k = st[s + ST_PROGRESS];
    bool published = st[s + ST_PHASE] == 1u;
    uint bad = st[s + ST_A];
    uint bytes = st[s + ST_B];
    uint slot = lane;
    uint n = pc.read_len / 4u;
    uint check_iters = n / 4u + 2u;
    // The generation in flight: resumed from the publish word once per dispatch, then kept
    // here (reading the publish word back would cross the bus every request).
    uint g = published ? gdio_last_published(slot) : gdio_last_completed(slot);
    bool go = k < pc.reads;
    while (go) {
        uint w0 = start_word(lane, k);
        if (!published) {
            g = gdio_publish_after(g, slot, GDIO_OP_READ, pc.file, pc.window, slot * pc.read_len,
                                   w0 * 4u, w0 >> 30, pc.read_len, k);
            published = true;
        }
        int r = gdio_wait(slot, g, pc.wait_budget);
        if (r == GDIO_TIMEOUT) {
            go = false;
        } else if (r < 0 || uint(r) != pc.read_len) {
            st[s + ST_STATUS] = STATUS_FAILED;
            st[s + ST_ERROR] = uint(r);
            st[s + ST_WHERE] = k;
            published = false;
            go = false;
        } else {
            uint base = slot * n;
            for (uint i = 0u; i < n; i += 4u) {
                for (uint u = 0u; u < 4u; u++) {
                    if (i + u < n) {
                        bad += win[base + i + u] != gdio_file_word(w0 + i + u, pc.seed) ? 1u : 0u;
                    }
                }
                gdio_iters += 1u;
            }
            bytes += uint(r);
            published = false;
            k += 1u;
            go = k < pc.reads;
        }
        gdio_iters += 1u;
        gdio_sync_iters();
        go = go && gdio_budget_left(gdio_iters, pc.wait_budget + check_iters + 2u, pc.iter_budget);
    }
    st[s + ST_PROGRESS] = k;
    st[s + ST_PHASE] = published ? 1u : 0u;
    st[s + ST_A] = bad;
    st[s + ST_B] = bytes;
    if (k >= pc.reads && st[s + ST_STATUS] == STATUS_RUNNING) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
