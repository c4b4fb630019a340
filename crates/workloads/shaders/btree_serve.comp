#version 460
// A resident B-tree lookup server: one dispatch stays on the GPU and serves batch after batch
// of keys; the host never launches anything per batch. The host writes a batch into the
// mailbox (device-local host-visible memory, where a running shader sees host writes) and
// raises its sequence number; every lane waits for a new sequence number, walks its share of
// the keys through gdio READs (each node chosen by the node before, as btree_lookup.comp),
// writes each key's result to host memory with the batch's sequence number and a check word,
// and waits for the next batch. The host knows a batch is done when every result of it has
// arrived whole (the check: a running shader's writes to host memory may arrive in any order).
//
// bindings: 0 request region, 1 completion region, 2 the windows (lanes * windows * 4096 bytes),
//           3 state (16 words per lane, SV_*), 4 the mailbox (MB_*; keys from word MB_KEYS,
//           u64 each, lo word first), 5 results (8 words per key: status, value or offset lo,
//           hi, nodes read, batch sequence number, check, 0, 0)
// Lanes end when the mailbox says stop, when the pump is gone, or when their loop budget runs
// out (lavapipe): the host then dispatches again and every lane resumes from its state.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "gdio.glsl"
#include "gdio_demo.glsl"

// Workgroup size: specialization constant 1, set by gdio_vulkan::ComputePipeline: on GPUs the
// subgroup size when a lane is a whole subgroup (below), else 1, so that every lane waits for
// its own READs alone; GDIO_LANES on lavapipe and for servers of more than 256 lanes.
layout(local_size_x_id = 1) in;
// Invocations per walker, specialization constant 2: 1, every invocation walks alone (the
// "lanes" below are invocations); more, each workgroup (of this many invocations, which must be
// one whole subgroup) is one walker (a "lane" below) that searches each node with all of them
// (btree_step_coop) while one invocation, the leader, talks to the pump and writes results.
layout(constant_id = 2) const uint WALKER_INVOCATIONS = 1u;
const bool COOP = WALKER_INVOCATIONS > 1u;
layout(set = 0, binding = 2, std430) coherent readonly buffer Window { uint win[]; };
// The same buffer as quads: the node search loads 16 bytes at a time (btree.glsl).
layout(set = 0, binding = 2, std430) coherent readonly buffer WindowQuads { uvec4 win4[]; };
layout(set = 0, binding = 3, std430) buffer State { uint sv[]; };
layout(set = 0, binding = 4, std430) coherent readonly buffer Mailbox { uint mb[]; };
// The same buffer in 64-bit words: the sequence number and the key count are one (MB_SEQ_NKEYS).
layout(set = 0, binding = 4, std430) coherent readonly buffer Mailbox64 { uint64_t mb64[]; };
layout(set = 0, binding = 5, std430) buffer Results { uint res[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint capacity;     // keys the mailbox and the results hold (BtreeLookupParams::nkeys)
    uint lanes;
    uint root_lo;
    uint root_hi;
    uint iter_budget;
    uint wait_budget;
    uint queues;       // lane L uses queue L % queues and its slot L / queues (one pump each)
    uint req_stride;   // words between queues' request regions
    uint cmp_stride;   // words between queues' completion regions
    uint windows;      // node windows per lane (1..=32), used in turn: lane L's window w is
                       // node L * windows + w of the window buffer
} pc;

// Mailbox words (the host writes them; the keys first, then the sequence number and the key
// count together in one 64-bit release store, so that a lane has the key count from the load
// that saw the batch).
const uint MB_SEQ_NKEYS = 0u; // 64-bit word 0: batch sequence number (low half; 0: none yet)
                              // and keys in the batch (high half)
const uint MB_STOP = 2u;   // 1: every lane ends
const uint MB_KEYS = 4u;

// Lane state words.
const uint SV_STATUS = 0u;  // STATUS_RUNNING / STATUS_DONE (stopped) / STATUS_FAILED
const uint SV_SERVED = 1u;  // last batch this lane finished
const uint SV_CUR = 2u;     // batch being served (== SV_SERVED when idle)
const uint SV_J = 3u;       // keys of the current batch this lane finished
const uint SV_PHASE = 4u;   // 1 while a READ is published
const uint SV_OFF_LO = 5u;  // node being read (0: the root)
const uint SV_OFF_HI = 6u;
const uint SV_STEPS = 7u;   // nodes read for the current key
const uint SV_ERROR = 8u;
const uint SV_WHERE = 9u;
const uint SV_DISPATCHES = 10u;
const uint SV_NKEYS = 11u;  // keys in the current batch (read once, when it was picked up)
const uint SV_WINDOW = 12u; // the lane's window of the READ in flight or last read
const uint SV_WORDS = 16u;

const uint NODE_BYTES = 4096u;
const uint RESULT_WORDS = 8u;

uint node_base;
#define BTREE_QUAD(q) win4[node_base / 4u + (q)]
#define BTREE_COOP
#define BTREE_COOP_LANES WALKER_INVOCATIONS
#include "btree.glsl"

// True when the walker's invocations search together: COOP, and the workgroup is exactly one
// subgroup of WALKER_INVOCATIONS. When COOP holds but the device made the subgroup another size,
// the leader walks alone and the others end at once.
bool together = false;

// Windows of this lane read since the last release fence (bit w: window w). A READ into a window
// in this set needs the fence first, so that the host cannot overwrite data the lane has not
// finished reading; with several windows used in turn, one fence covers several READs.
uint unfenced_reads = 0xFFFFFFFFu;

// The key being looked up, loaded from the mailbox once per key, and whether that load has been
// followed by a release fence yet. The host rewrites the mailbox once it has every result of
// the batch, so the load must be ordered before the key's result store: the fence before the
// key's first READ does it (taken whenever key_unfenced), or one before the result when the key
// was loaded again on resuming a dispatch.
uvec2 key = uvec2(0u);
bool key_unfenced = false;

uvec2 mailbox_key(uint k) {
    return uvec2(mb[MB_KEYS + 2u * k], mb[MB_KEYS + 2u * k + 1u]);
}

// v as the leader has it, in every invocation of the walker (v itself when not together). What
// decides the walker's control flow goes through here, so that its invocations stay converged.
uint walker_uniform(uint v) {
    return together ? subgroupBroadcastFirst(v) : v;
}

// Orders the walker's invocations' buffer accesses before and after it against each other: the
// others' reads of the window before the leader hands it back for a READ, and what the leader
// acquired (a completion, a batch) before the others read the data.
void walker_sync() {
    if (together) {
        controlBarrier(gl_ScopeSubgroup, gl_ScopeSubgroup, gl_StorageSemanticsBuffer,
                       gl_SemanticsAcquireRelease);
    }
}

uint mailbox(uint w) {
    return atomicLoad(mb[w], gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
}

// The sequence number (x) and key count (y) of the last batch the host posted, in one load.
uvec2 mailbox_batch() {
    uint64_t v = atomicLoad(mb64[MB_SEQ_NKEYS], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                            gl_SemanticsRelaxed);
    return uvec2(uint(v), uint(v >> 32));
}

// Results go to host memory with device-scope atomic stores (as the request region does), so
// that they leave the GPU while the dispatch runs.
void put(uint w, uint v) {
    atomicStore(res[w], v, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
}

#define LOOK_(b, served) if (b.x == served) { b = mailbox_batch(); }

// The check word of a result, as crates/cli/src/work/serve.rs computes it.
uint result_check(uvec4 r, uint seq) {
    uint h = 0x2545F491u;
    h = gdio_check_step(h, r.x);
    h = gdio_check_step(h, r.y);
    h = gdio_check_step(h, r.z);
    h = gdio_check_step(h, r.w);
    return gdio_check_step(h, seq);
}

// Key k's result for batch `seq`: the four words, the batch, the check.
void put_result(uint k, uvec4 r, uint seq) {
    uint b = k * RESULT_WORDS;
    put(b, r.x);
    put(b + 1u, r.y);
    put(b + 2u, r.z);
    put(b + 3u, r.w);
    put(b + 4u, seq);
    put(b + 5u, result_check(r, seq));
}

// Keys of a batch of n that lane L serves: L, L + lanes, L + 2 lanes, ...
uint keys_of(uint lane, uint n) {
    return n > lane ? (n - lane + pc.lanes - 1u) / pc.lanes : 0u;
}

// Node index of the lane's window `window` in the window buffer.
uint window_node(uint lane, uint windows, uint window) {
    return lane * windows + window;
}

// Moves the lane on to its next window (node_base follows) and publishes there the READ of the
// node at `off` (0: the root, and then key k is loaded first) for key k (the leader; every
// invocation returns the generation). The release fence comes first only when the lane has
// read that window since the last fence, or loaded a key since (gdio_publish_raw's fence, taken
// by need: nothing else a READ here must order, since results carry their own check and the
// descriptor its stamp and check).
uint publish_node(uint g, uint slot, uint lane, uint windows, inout uint window, uvec2 off,
                  uint k, bool leader) {
    if (off == uvec2(0u)) {
        off = uvec2(pc.root_lo, pc.root_hi);
        key = mailbox_key(k);
        key_unfenced = true;
    }
    window = (window + 1u) % windows;
    node_base = window_node(lane, windows, window) * (NODE_BYTES / 4u);
    uint next = gdio_next(g);
    uint at = window_node(lane, windows, window) * NODE_BYTES;
    if ((unfenced_reads & (1u << window)) != 0u || key_unfenced) {
        walker_sync();
        if (leader) {
            gdio_publish_raw(slot, next, GDIO_OP_READ, pc.file, pc.window, at, off.x, off.y,
                             NODE_BYTES, k);
        }
        unfenced_reads = 0u;
        key_unfenced = false;
    } else if (leader) {
        gdio_publish_unordered(slot, next, GDIO_OP_READ, pc.file, pc.window, at, off.x, off.y,
                               NODE_BYTES, k);
    }
    return next;
}

void main() {
    together = COOP && btree_coop_fits();
    if (COOP && !together && gl_LocalInvocationIndex != 0u) {
        return;
    }
    uint lane = COOP ? gl_WorkGroupID.x : gl_GlobalInvocationID.x;
    // The invocation that publishes, waits and writes results and state (each, when alone).
    bool leader = !together || gl_SubgroupInvocationID == 0u;
    uint s = lane * SV_WORDS;
    if (lane >= pc.lanes || sv[s + SV_STATUS] != STATUS_RUNNING) {
        return;
    }
    uint q = lane % pc.queues;
    gdio_begin_queue(q * pc.req_stride, q * pc.cmp_stride);
    uint slot = lane / pc.queues;
    uint windows = clamp(pc.windows, 1u, 32u);
    uint window = min(sv[s + SV_WINDOW], windows - 1u);
    node_base = window_node(lane, windows, window) * (NODE_BYTES / 4u);
    uint served = sv[s + SV_SERVED];
    uint cur = sv[s + SV_CUR];
    uint j = sv[s + SV_J];
    bool published = sv[s + SV_PHASE] == 1u;
    uvec2 off = uvec2(sv[s + SV_OFF_LO], sv[s + SV_OFF_HI]);
    uint steps = sv[s + SV_STEPS];
    uint nkeys = sv[s + SV_NKEYS];
    uint mine = keys_of(lane, nkeys);
    if (cur != served && j < mine && (published || off != uvec2(0u))) {
        // Resumed in the middle of a key: load it again (ordered by the next fence).
        key = mailbox_key(lane + j * pc.lanes);
        key_unfenced = true;
    }
    uint status = STATUS_RUNNING;
    uint g = published ? gdio_last_published(slot) : gdio_last_completed(slot);
    bool go = true;
    while (go) {
        if (cur == served) {
            // Idle: look for a new batch (8 looks per iteration: lavapipe caps iterations).
            uvec2 b = uvec2(served, 0u);
            LOOK_(b, served) LOOK_(b, served) LOOK_(b, served) LOOK_(b, served)
            LOOK_(b, served) LOOK_(b, served) LOOK_(b, served) LOOK_(b, served)
            b = uvec2(walker_uniform(b.x), walker_uniform(b.y));
            if (b.x != served && b.x != 0u) {
                // Acquire what the host wrote before posting the batch (its keys).
                memoryBarrier(gl_ScopeDevice, gl_StorageSemanticsBuffer,
                              gl_SemanticsAcquire | gl_SemanticsMakeVisible);
                walker_sync();
                cur = b.x;
                j = 0u;
                // Kept: the host may post the next batch as soon as this one's results are all
                // in, before this lane looks at the mailbox again.
                nkeys = min(b.y, pc.capacity);
                mine = keys_of(lane, nkeys);
            } else if (walker_uniform(mailbox(MB_STOP)) != 0u) {
                status = STATUS_DONE;
                go = false;
            } else {
                uint p = walker_uniform(gdio_pump_state());
                if (p == GDIO_PUMP_STOPPED || p == GDIO_PUMP_FAILED) {
                    status = STATUS_DONE;
                    go = false;
                }
            }
        } else {
            if (j >= mine) {
                served = cur;
            } else {
                uint k = lane + j * pc.lanes;
                if (!published) {
                    // The batch's first key, or the lane resumed: its READ is not out yet.
                    g = publish_node(g, slot, lane, windows, window, off, k, leader);
                    published = true;
                }
                int r = 0;
                if (leader) {
                    r = gdio_wait(slot, g, pc.wait_budget);
                }
                r = int(walker_uniform(uint(r)));
                gdio_iters = walker_uniform(gdio_iters);
                walker_sync();
                bool ended = false; // this key is done: its result is `result`
                uvec4 result = uvec4(0u);
                if (r == GDIO_TIMEOUT) {
                    // Still pending: wait again. A resident lane must not end on its own (the
                    // host starts the dispatch again only once every lane has ended); where
                    // loops are capped the budget check below ends it.
                } else if (r == GDIO_PUMP_GONE) {
                    // No pump: nothing more can be served.
                    status = STATUS_FAILED;
                    if (leader) {
                        sv[s + SV_ERROR] = uint(r);
                        sv[s + SV_WHERE] = k;
                    }
                    published = false;
                    go = false;
                } else if (r != int(NODE_BYTES)) {
                    // This key's READ failed (an IO error, a short read past the end of a
                    // damaged index): its result says so, and the lane serves on.
                    published = false;
                    ended = true;
                    result = uvec4(BT_FAILED, uint(r), 0u, steps + 1u);
                } else {
                    published = false;
                    steps += 1u;
                    uvec3 o = together ? btree_step_coop(key) : btree_step(key);
                    unfenced_reads |= 1u << window;
                    if (o.x == BT_ACTIVE && steps < 64u) {
                        off = o.yz;
                    } else {
                        ended = true;
                        result = uvec4(o.x == BT_ACTIVE ? BT_CORRUPT : o.x, o.y, o.z, steps);
                    }
                }
                if (ended) {
                    off = uvec2(0u);
                    steps = 0u;
                    j += 1u;
                }
                // The next READ goes out at once, before the result is written: the node the
                // step chose, or the root for the lane's next key.
                if (go && !published && r != GDIO_TIMEOUT && j < mine) {
                    g = publish_node(g, slot, lane, windows, window, off, lane + j * pc.lanes,
                                     leader);
                    published = true;
                }
                if (ended && key_unfenced) {
                    // The key was loaded on resuming and no READ has fenced since.
                    walker_sync();
                    memoryBarrier(gl_ScopeDevice, gl_StorageSemanticsBuffer,
                                  gl_SemanticsRelease | gl_SemanticsMakeAvailable);
                    key_unfenced = false;
                }
                if (ended && leader) {
                    put_result(k, result, cur);
                }
            }
        }
        // The search's own loop counts too (lavapipe ends every loop past its cap, silently).
        gdio_iters += 2u + (together ? BTREE_COOP_STEP_ITERS : BTREE_STEP_ITERS);
        gdio_sync_iters();
        go = go && gdio_budget_left(gdio_iters,
                                    pc.wait_budget + 4u +
                                        (together ? BTREE_COOP_STEP_ITERS : BTREE_STEP_ITERS),
                                    pc.iter_budget);
    }
    if (!leader) {
        return;
    }
    sv[s + SV_STATUS] = status;
    sv[s + SV_SERVED] = served;
    sv[s + SV_CUR] = cur;
    sv[s + SV_J] = j;
    sv[s + SV_PHASE] = published ? 1u : 0u;
    sv[s + SV_OFF_LO] = off.x;
    sv[s + SV_OFF_HI] = off.y;
    sv[s + SV_STEPS] = steps;
    sv[s + SV_NKEYS] = nkeys;
    sv[s + SV_WINDOW] = window;
    sv[s + SV_DISPATCHES] += 1u;
}
