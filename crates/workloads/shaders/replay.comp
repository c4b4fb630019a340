#version 460
// Replays a list of raw requests, lane by lane, through gdio.glsl: the GLSL device side of the
// equivalence test, which runs the same list through the Rust reference device
// (gdio_pump::emulated::Lane) against the same pump and compares every result.
//
// Lane L owns slot L and issues its `count` requests one at a time: request k is the 8
// descriptor words at list[(L * count + k) * 8 ..], published as-is with the slot's next
// generation; its result goes to results[L * count + k]. Resumable across re-dispatches.
//
// bindings: 0 request region, 1 completion region, 2 state (8 words per lane), 3 list,
//           4 results
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_demo.glsl"

layout(local_size_x = GDIO_LANES) in;
layout(set = 0, binding = 2, std430) buffer State { uint st[]; };
layout(set = 0, binding = 3, std430) readonly buffer List { uint list[]; };
layout(set = 0, binding = 4, std430) buffer Results { int results[]; };
layout(push_constant) uniform Params {
    uint lanes;
    uint count;       // requests per lane
    uint iter_budget;
    uint wait_budget;
} pc;

void main() {
    uint lane = gl_GlobalInvocationID.x;
    uint s = lane * 8u;
    if (lane >= pc.lanes || st[s + ST_STATUS] != STATUS_RUNNING) {
        return;
    }
    gdio_begin();
    uint k = st[s + ST_PROGRESS];
    bool published = st[s + ST_PHASE] == 1u;
    uint slot = lane;
    uint g = published ? gdio_last_published(slot) : 0u;
    bool go = k < pc.count;
    while (go) {
        uint d = (lane * pc.count + k) * 8u;
        if (!published) {
            g = gdio_next(gdio_last_completed(slot));
            gdio_publish_raw(slot, g, list[d], list[d + 1u], list[d + 2u], list[d + 3u],
                             list[d + 4u], list[d + 5u], list[d + 6u], list[d + 7u]);
            published = true;
        }
        int r = gdio_wait(slot, g, pc.wait_budget);
        if (r == GDIO_TIMEOUT) {
            go = false;
        } else {
            results[lane * pc.count + k] = r;
            published = false;
            k += 1u;
            go = k < pc.count && r != GDIO_PUMP_GONE;
            if (r == GDIO_PUMP_GONE) {
                st[s + ST_STATUS] = STATUS_FAILED;
                st[s + ST_ERROR] = uint(r);
            }
        }
        gdio_iters += 1u;
        gdio_sync_iters();
        go = go && gdio_budget_left(gdio_iters, pc.wait_budget + 2u, pc.iter_budget);
    }
    st[s + ST_PROGRESS] = k;
    st[s + ST_PHASE] = published ? 1u : 0u;
    if (k >= pc.count && st[s + ST_STATUS] == STATUS_RUNNING) {
        st[s + ST_STATUS] = STATUS_DONE;
    }
}
