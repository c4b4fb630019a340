#version 460
// Lanes fill window regions with computed data, WRITE them to a file, then FSYNC it.
//
// The file is `nchunks` chunks of `chunk` bytes (the last `last_len` bytes); byte b of the file
// is byte (b % 4) of gdio_file_word(b / 4, seed), little-endian (gdio_workloads::patterns makes the
// same bytes). Lane L writes chunks c = L + j*lanes through slot L and window region L*chunk,
// one at a time. A lane whose WRITEs have all completed counts itself; the lane that counts
// last publishes one FSYNC for the whole file (every other lane's WRITEs completed before it
// counted), as a program writing a checkpoint syncs once at its end: FSYNCs from every lane
// as it finishes would each flush what had been written so far while other lanes still
// write. A lane fails on a short write or a negative result.
//
// bindings: 0 request region, 1 completion region, 2 the window (host reads it: host memory),
//           3 state (8 words per lane: ST_PROGRESS = chunks written, ST_A = 0 writing, 2
//           counted last and syncing, 1 finished (the file is durable once every lane is);
//           lane 0's ST_B counts the lanes that finished writing)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_demo.glsl"

layout(local_size_x = GDIO_LANES) in;
layout(set = 0, binding = 2, std430) coherent writeonly buffer Window { uint win[]; };
layout(set = 0, binding = 3, std430) buffer State { uint st[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint nchunks;
    uint last_len;
    uint chunk;       // a multiple of 4
    uint lanes;
    uint iter_budget;
    uint wait_budget;
    uint seed;
} pc;

uint len_of(uint c) { return c + 1u == pc.nchunks ? pc.last_len : pc.chunk; }

void main() {
    uint lane = gl_GlobalInvocationID.x;
    uint s = lane * 8u;
    if (lane >= pc.lanes || st[s + ST_STATUS] != STATUS_RUNNING) {
        return;
    }
    gdio_begin();
    uint mine = pc.nchunks > lane ? (pc.nchunks - lane + pc.lanes - 1u) / pc.lanes : 0u;
    uint done = st[s + ST_PROGRESS];
    bool published = st[s + ST_PHASE] == 1u;
    bool synced = st[s + ST_A] == 1u;
    bool syncer = st[s + ST_A] == 2u;
    uint slot = lane;
    uint fill_iters = pc.chunk / 16u + 2u;
    // The generation in flight: resumed from the publish word once per dispatch, then kept
    // here (reading the publish word back would cross the bus every request).
    uint g = published ? gdio_last_published(slot) : 0u;
    bool go = !synced;
    while (go) {
        bool syncing = done >= mine;
        if (syncing && !syncer) {
            // Every WRITE of this lane has completed: count it (the FSYNC is the last lane's).
            if (atomicAdd(st[ST_B], 1u) + 1u == pc.lanes) {
                syncer = true;
            } else {
                synced = true;
                break;
            }
        }
        uint c = lane + done * pc.lanes;
        if (!published) {
            if (syncing) {
                g = gdio_publish_fsync(slot, pc.file, false, 0xFFFFFFFFu);
            } else {
                uint len = len_of(c);
                uint n = (len + 3u) / 4u;
                uint base = slot * (pc.chunk / 4u);
                uint gw = c * (pc.chunk / 4u);
                // Bytes of the last word past `len` are not written to the file: mask them
                // out of the data check.
                uint tail = len & 3u;
                uint last_mask = tail == 0u ? 0xFFFFFFFFu : (1u << (8u * tail)) - 1u;
                uint h = GDIO_DATA_CHECK_SEED;
                for (uint k = 0u; k < n; k += 4u) {
                    for (uint u = 0u; u < 4u; u++) {
                        if (k + u < n) {
                            uint w = gdio_file_word(gw + k + u, pc.seed);
                            win[base + k + u] = w;
                            h = gdio_check_step(h, k + u + 1u == n ? (w & last_mask) : w);
                        }
                    }
                    gdio_iters += 1u;
                }
                uint off_hi;
                uint off_lo;
                umulExtended(c, pc.chunk, off_hi, off_lo);
                // The release in publish orders the window writes above for the device; the
                // data check covers hosts that see them late.
                g = gdio_publish_write_checked(slot, pc.file, pc.window, slot * pc.chunk, off_lo,
                                           off_hi, len, c, gdio_data_check_finish(h, len));
            }
            published = true;
        }
        int r = gdio_wait(slot, g, pc.wait_budget);
        uint want = syncing ? 0u : len_of(c);
        if (r == GDIO_TIMEOUT) {
            go = false;
        } else if (r < 0 || uint(r) != want) {
            st[s + ST_STATUS] = STATUS_FAILED;
            st[s + ST_ERROR] = uint(r);
            st[s + ST_WHERE] = syncing ? 0xFFFFFFFFu : c;
            published = false;
            go = false;
        } else {
            published = false;
            if (syncing) {
                synced = true;
                go = false;
            } else {
                done += 1u;
            }
        }
        gdio_iters += 1u;
        gdio_sync_iters();
        go = go && gdio_budget_left(gdio_iters, pc.wait_budget + fill_iters + 2u, pc.iter_budget);
    }
    st[s + ST_PROGRESS] = done;
    st[s + ST_PHASE] = published ? 1u : 0u;
    st[s + ST_A] = synced ? 1u : (syncer ? 2u : 0u);
    if (synced && st[s + ST_STATUS] == STATUS_RUNNING) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
