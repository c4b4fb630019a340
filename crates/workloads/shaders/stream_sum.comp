#version 460
// Streams a file through a ring of window regions and checksums every byte.
//
// The file is `nchunks` chunks of `chunk` bytes, the last one `last_len` bytes. Lane L (of
// `lanes`) takes chunks c = L + j*lanes, j = 0, 1, ..., keeping up to two READs in flight in
// its two slots (2L, 2L+1), whose window regions start at byte (slot * chunk) of window
// `window`. Each READ must return exactly the chunk's length, or the lane fails with ST_ERROR =
// the result it got (a negative code, or the short byte count) and ST_WHERE = the chunk.
//
// Checksum (gdio_workloads::patterns::sum32 computes the same on the CPU): with w_i the i-th
// 32-bit little-endian word of the file (the last one zero-padded),
//     sum32(file) = len + sum_i w_i * (2i + 1)   (mod 2^32).
// Each lane adds w_i (2i+1) over its chunks into ST_A; the host adds the lanes' sums and the
// length. The odd per-word weight makes it position-sensitive: stale or misplaced data shows.
//
// bindings: 0 request region, 1 completion region, 2 the window (all slots' regions),
//           3 state (8 words per lane: ST_PROGRESS = chunks consumed, ST_B = chunks issued,
//           ST_A = partial sum, ST_C = bytes consumed, ST_PHASE unused)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_demo.glsl"

layout(local_size_x = GDIO_LANES) in;
layout(set = 0, binding = 2, std430) coherent readonly buffer Window { uint win[]; };
layout(set = 0, binding = 3, std430) buffer State { uint st[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint nchunks;
    uint last_len;    // bytes in the last chunk (1..=chunk)
    uint chunk;       // bytes per chunk, a multiple of 4
    uint lanes;       // invocations taking part (<= dispatched invocations)
    uint iter_budget;
    uint wait_budget;
} pc;

const uint DEPTH = 2u;

uint chunk_of(uint lane, uint j) { return lane + j * pc.lanes; }
uint slot_of(uint lane, uint j) { return lane * DEPTH + (j % DEPTH); }
uint len_of(uint c) { return c + 1u == pc.nchunks ? pc.last_len : pc.chunk; }

void main() {
    uint lane = gl_GlobalInvocationID.x;
    uint s = lane * 8u;
    if (lane >= pc.lanes || st[s + ST_STATUS] != STATUS_RUNNING) {
        return;
    }
    gdio_begin();
    // Chunks of this lane: ceil((nchunks - lane) / lanes).
    uint mine = pc.nchunks > lane ? (pc.nchunks - lane + pc.lanes - 1u) / pc.lanes : 0u;
    uint consumed = st[s + ST_PROGRESS];
    uint issued = st[s + ST_B];
    uint sum = st[s + ST_A];
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
            umulExtended(c, pc.chunk, off_hi, off_lo);
            uint d = issued % DEPTH;
            gens[d] = gdio_publish_after(gens[d], slot, GDIO_OP_READ, pc.file, pc.window,
                                         slot * pc.chunk, off_lo, off_hi, len_of(c), c);
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
            // Checksum r bytes at word (slot * chunk / 4); global word index c * chunk / 4.
            uint n = (uint(r) + 3u) / 4u;
            uint base = slot * (pc.chunk / 4u);
            uint gw = c * (pc.chunk / 4u);
            uint tail = uint(r) & 3u;
            uint tail_mask = tail == 0u ? 0xFFFFFFFFu : (1u << (8u * tail)) - 1u;
            for (uint k = 0u; k < n; k += 4u) {
                for (uint u = 0u; u < 4u; u++) {
                    uint i = k + u;
                    if (i < n) {
                        uint w = win[base + i];
                        w = i + 1u == n ? (w & tail_mask) : w;
                        sum += w * (2u * (gw + i) + 1u);
                    }
                }
                gdio_iters += 1u;
            }
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
    st[s + ST_A] = sum;
    st[s + ST_C] = bytes;
    if (consumed >= mine && st[s + ST_STATUS] == STATUS_RUNNING) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
