#version 460
// Streams a file through a ring of window regions, as stream_sum.comp does, and computes the
// CRC-32C of every chunk; the host combines the chunk CRCs into the file's standard CRC-32C
// (gdio_workloads::patterns::crc32c_combine). What `gdio sum` runs.
//
// The file is `nchunks` chunks of `chunk` bytes, the last one `last_len` bytes. Lane L (of
// `lanes`) takes chunks c = L + j*lanes, j = 0, 1, ..., keeping up to two READs in flight in
// its two slots (2L, 2L+1). Chunk j of lane L lands in window region (j % 2) * lanes + L (at
// byte region * chunk of window `window`): the chunks of one round, c = j*lanes ...
// (j+1)*lanes - 1, fill one half of the window in file order, so READs of neighbouring chunks
// land next to each other and a copy engine serving them can merge their copies. A READ that does not return the chunk's length fails the lane (ST_ERROR = the
// result, ST_WHERE = the chunk).
//
// bindings: 0 request region, 1 completion region, 2 the window, 3 state (8 words per lane:
//           ST_PROGRESS = chunks consumed, ST_B = chunks issued, ST_C = bytes consumed),
//           4 chunk CRCs (one word per chunk, written by the lane that consumed it),
//           5 CRC tables (1024 words, patterns::crc32c_tables)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_demo.glsl"
#define GDIO_CRC_TABLE_BINDING 5
#include "crc32c.glsl"

layout(local_size_x = GDIO_LANES) in;
layout(set = 0, binding = 2, std430) coherent readonly buffer Window { uvec4 win[]; };
layout(set = 0, binding = 3, std430) buffer State { uint st[]; };
layout(set = 0, binding = 4, std430) writeonly buffer Crcs { uint crcs[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint nchunks;
    uint last_len;    // bytes in the last chunk (1..=chunk)
    uint chunk;       // bytes per chunk, a multiple of 16
    uint lanes;       // invocations taking part (<= dispatched invocations)
    uint iter_budget;
    uint wait_budget;
    uint first_chunk; // the file's chunk index of chunk 0: this run reads a part of the file
    uint read_last;   // bytes the last chunk's READ asks for: last_len, or last_len rounded up
                      // to the direct-IO block (the READ then returns last_len, the file's end)
} pc;

const uint DEPTH = 2u;

uint chunk_of(uint lane, uint j) { return lane + j * pc.lanes; }
uint slot_of(uint lane, uint j) { return lane * DEPTH + (j % DEPTH); }
uint region_of(uint lane, uint j) { return (j % DEPTH) * pc.lanes + lane; }
uint len_of(uint c) { return c + 1u == pc.nchunks ? pc.last_len : pc.chunk; }
uint read_len_of(uint c) { return c + 1u == pc.nchunks ? pc.read_last : pc.chunk; }

void main() {
    uint table_iters = crc32c_load_tables();
    uint lane = gl_GlobalInvocationID.x;
    uint s = lane * 8u;
    if (lane >= pc.lanes || st[s + ST_STATUS] != STATUS_RUNNING) {
        return;
    }
    gdio_begin();
    gdio_iters += table_iters;
    uint mine = pc.nchunks > lane ? (pc.nchunks - lane + pc.lanes - 1u) / pc.lanes : 0u;
    uint consumed = st[s + ST_PROGRESS];
    uint issued = st[s + ST_B];
    uint bytes = st[s + ST_C];
    uint chunk_iters = pc.chunk / 16u + 2u;
    // Generations in flight per slot: read back from the publish words once per dispatch
    // (a resumed run), then kept here (reading them back would cross the bus every chunk).
    uint gens[DEPTH];
    for (uint i = 0u; i < DEPTH; i++) {
        gens[i] = gdio_last_published(lane * DEPTH + i);
    }
    gdio_iters += DEPTH;
    bool go = consumed < mine;
    while (go) {
        while (issued < mine && issued - consumed < DEPTH) {
            uint c = chunk_of(lane, issued);
            uint slot = slot_of(lane, issued);
            uint off_hi;
            uint off_lo;
            umulExtended(pc.first_chunk + c, pc.chunk, off_hi, off_lo);
            uint d = issued % DEPTH;
            gens[d] = gdio_publish_after(gens[d], slot, GDIO_OP_READ, pc.file, pc.window,
                                         region_of(lane, issued) * pc.chunk, off_lo, off_hi,
                                         read_len_of(c), c);
            issued += 1u;
            gdio_iters += 1u;
        }
        uint c = chunk_of(lane, consumed);
        uint slot = slot_of(lane, consumed);
        int r = gdio_wait(slot, gens[consumed % DEPTH], pc.wait_budget);
        if (r == GDIO_TIMEOUT) {
            go = false;
        } else if (r < 0 || uint(r) != len_of(c)) {
            st[s + ST_STATUS] = STATUS_FAILED;
            st[s + ST_ERROR] = uint(r);
            st[s + ST_WHERE] = c;
            go = false;
        } else {
            // 64 bytes per step, loaded before any is used: each load waits for device
            // memory (the window is `coherent`, so not from L1), and a lane that loaded one
            // word at a time was bound by that wait, not by the CRC.
            uint full = uint(r) / 16u;
            uint base = region_of(lane, consumed) * (pc.chunk / 16u);
            uint crc = 0xFFFFFFFFu;
            uint k = 0u;
            for (; k + 4u <= full; k += 4u) {
                uvec4 a = win[base + k];
                uvec4 b = win[base + k + 1u];
                uvec4 e = win[base + k + 2u];
                uvec4 f = win[base + k + 3u];
                crc = crc32c_vec4(crc32c_vec4(crc32c_vec4(crc32c_vec4(crc, a), b), e), f);
                gdio_iters += 1u;
            }
            for (; k < full; k++) {
                crc = crc32c_vec4(crc, win[base + k]);
                gdio_iters += 1u;
            }
            uint rest = uint(r) & 15u;
            if (rest != 0u) {
                crc = crc32c_vec4_head(crc, win[base + full], rest);
            }
            crcs[c] = crc ^ 0xFFFFFFFFu;
            bytes += uint(r);
            consumed += 1u;
            go = consumed < mine;
        }
        gdio_iters += 1u;
        gdio_sync_iters();
        go = go && gdio_budget_left(gdio_iters, pc.wait_budget + chunk_iters + DEPTH + 2u,
                                    pc.iter_budget);
    }
    st[s + ST_PROGRESS] = consumed;
    st[s + ST_B] = issued;
    st[s + ST_C] = bytes;
    if (consumed >= mine && st[s + ST_STATUS] == STATUS_RUNNING) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
