#version 460
// NOP (or FENCE, or READ) round trips: each active lane owns slot `lane` and runs `count`
// requests, one at a time, checking each result (0, or `read_len` for a READ). The host measures
// the time (dispatch wall time / round trips). READs (file 0 at offset 0 into window 0 at
// `lane * read_len`) measure the protocol plus the pump's IO; the shader never looks at the data.
// Resumable: progress lives in the state buffer; a lane whose wait ran out of budget ends the
// dispatch with its NOP still published (ST_PHASE = 1) and waits for it in the next one.
//
// bindings: 0 request region, 1 completion region, 2 state (8 words per lane)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_demo.glsl"

layout(local_size_x = GDIO_LANES) in;
layout(set = 0, binding = 2, std430) buffer State { uint st[]; };
layout(push_constant) uniform Params {
    uint count;        // round trips per active lane
    uint active_lanes; // lanes 0..active_lanes-1 run; others end at once
    uint iter_budget;  // loop iterations this invocation may run (lavapipe: < 65,535)
    uint wait_budget;  // iterations per gdio_wait
    uint fenced;       // 1: FENCEs (an ordered publication) instead of NOPs
    uint read_len;     // > 0: READs of this many bytes instead (ordered publications too)
} pc;

void main() {
    uint lane = gl_GlobalInvocationID.x;
    uint s = lane * 8u;
    if (lane >= pc.active_lanes || st[s + ST_STATUS] != STATUS_RUNNING) {
        return;
    }
    gdio_begin();
    uint n = st[s + ST_PROGRESS];
    bool published = st[s + ST_PHASE] == 1u;
    // The generation in flight: resumed from the publish word once per dispatch, then kept
    // here (reading the publish word back would cross the bus every request).
    uint g = published ? gdio_last_published(lane) : gdio_last_completed(lane);
    bool go = n < pc.count;
    while (go) {
        if (!published) {
            if (pc.read_len != 0u) {
                g = gdio_publish_after(g, lane, GDIO_OP_READ, 0u, 0u, lane * pc.read_len, 0u, 0u,
                                       pc.read_len, n);
            } else if (pc.fenced != 0u) {
                g = gdio_publish_after(g, lane, GDIO_OP_FENCE, 0u, 0u, 0u, 0u, 0u, 0u, n);
            } else {
                g = gdio_publish_nop_after(g, lane, n);
            }
            published = true;
        }
        int r = gdio_wait(lane, g, pc.wait_budget);
        if (r == GDIO_TIMEOUT) {
            go = false;
        } else if (r != int(pc.read_len)) {
            st[s + ST_STATUS] = STATUS_FAILED;
            st[s + ST_ERROR] = uint(r);
            st[s + ST_WHERE] = n;
            published = false;
            go = false;
        } else {
            published = false;
            n += 1u;
            go = n < pc.count;
        }
        gdio_iters += 1u;
        gdio_sync_iters();
        go = go && gdio_budget_left(gdio_iters, pc.wait_budget + 2u, pc.iter_budget);
    }
    st[s + ST_PROGRESS] = n;
    st[s + ST_PHASE] = published ? 1u : 0u;
    st[s + ST_A] += 1u; // dispatches this lane ran in
    if (n >= pc.count && st[s + ST_STATUS] == STATUS_RUNNING) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
