// gdio.glsl: the device side of the gdio slot protocol, version 1 (docs/protocol.md).
//
// This file implements, word for word, what gdio_protocol::DeviceQueue does in Rust:
//   publish: g = next(last generation of the idle slot); a release fence; descriptor words
//            0..7, stamp g and check (relaxed device-scope atomic stores); g into
//            publish[slot] (relaxed: the fence before orders everything earlier, and the stamp
//            and check let the host wait for the descriptor's words). The last generation is
//            read from the completion entry (device-local memory: idle means publish[slot] ==
//            completion[slot].generation), never from the publish word, whose read would
//            cross PCIe on a discrete GPU; waits take the g publish returned. A NOP orders
//            nothing and skips the fence.
//   wait:    load the completion entry (result, generation) as one 64-bit word; generation
//            == g -> an acquire fence, the result from the same load; otherwise acquire-load
//            pump_state, and if STOPPED or FAILED look at the entry once more, then PUMP_GONE
//            (-4108); a wait that runs out of budget returns TIMEOUT (-4109).
//
// Include it after `#version 460` and `#extension GL_GOOGLE_include_directive : require`.
// It needs the Vulkan memory model (glslc --target-env=vulkan1.2, and the device features
// vulkanMemoryModel + vulkanMemoryModelDeviceScope, and for the 64-bit completion entries
// shaderInt64 + shaderBufferInt64Atomics, which gdio_vulkan::Context enables).
//
// Bindings (define before including to move them):
//   GDIO_SET                  descriptor set of both regions          (default 0)
//   GDIO_REQUEST_BINDING      the request region: device writes       (default 0)
//   GDIO_COMPLETION_BINDING   the completion region: host writes      (default 1)
// Tuning:
//   GDIO_PUMP_LOOK_EVERY      polls of a wait between looks at the pump state (default 64, a
//                             multiple of 8)
//
// Every loop iteration the library runs is counted in `gdio_iters`, so that a shader can stop
// before lavapipe's limit of 65,535 loop iterations per invocation and ask for a re-dispatch.
// See crates/vulkan/docs/glsl.md for the full API and the rules (slot ownership, resuming).
#ifndef GDIO_GLSL
#define GDIO_GLSL

#pragma use_vulkan_memory_model
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_shader_atomic_int64 : require
#extension GL_KHR_shader_subgroup_arithmetic : require

#ifndef GDIO_SET
#define GDIO_SET 0
#endif
#ifndef GDIO_REQUEST_BINDING
#define GDIO_REQUEST_BINDING 0
#endif
#ifndef GDIO_COMPLETION_BINDING
#define GDIO_COMPLETION_BINDING 1
#endif
#ifndef GDIO_PUMP_LOOK_EVERY
#define GDIO_PUMP_LOOK_EVERY 64u
#endif

// ---- op codes (descriptor word 0, bits 0..7) ----
const uint GDIO_OP_READ = 1u;
const uint GDIO_OP_WRITE = 2u;
const uint GDIO_OP_FENCE = 3u;
const uint GDIO_OP_FSYNC = 4u;
const uint GDIO_OP_NOP = 5u;
const uint GDIO_OP_FDATASYNC = 6u;

// ---- result codes (i32). >= 0: bytes; -1..-4095: -errno ----
const int GDIO_BAD_OP = -4097;
const int GDIO_BAD_FLAGS = -4098;
const int GDIO_BAD_FILE = -4099;
const int GDIO_BAD_WINDOW = -4100;
const int GDIO_OUT_OF_WINDOW = -4101;
const int GDIO_TOO_LONG = -4102;
const int GDIO_BAD_OFFSET = -4103;
const int GDIO_WINDOW_ACCESS = -4104;
const int GDIO_BAD_GENERATION = -4105;
const int GDIO_STOPPED = -4106;
const int GDIO_INTERNAL = -4107;
const int GDIO_PUMP_GONE = -4108;
const int GDIO_TIMEOUT = -4109;
const int GDIO_BAD_DESCRIPTOR = -4110;
const int GDIO_BAD_DATA = -4111;
const int GDIO_MISALIGNED = -4112;
// Device-side only, from the page cache (gdio_cache.glsl).
const int GDIO_PAST_END = -4113;
const int GDIO_CACHE_BAD = -4114;
// Op-word flag (WRITE only): descriptor word 10 holds the data check of the bytes to write.
const uint GDIO_FLAG_DATA_CHECK = 0x100u;
const uint GDIO_DATA_CHECK_SEED = 0x6A09E667u;

// ---- pump states (completion header word 3) ----
const uint GDIO_PUMP_INIT = 0u;
const uint GDIO_PUMP_RUNNING = 1u;
const uint GDIO_PUMP_STOPPING = 2u;
const uint GDIO_PUMP_STOPPED = 3u;
const uint GDIO_PUMP_FAILED = 4u;

// ---- gdio_poll outcomes ----
const uint GDIO_POLL_PENDING = 0u;
const uint GDIO_POLL_DONE = 1u;
const uint GDIO_POLL_GONE = 2u;

// ---- layout (words) ----
const uint GDIO_HEADER_WORDS = 16u;
const uint GDIO_REQ_DESCRIPTOR_OFFSET = 5u; // request header word: descriptor byte offset
const uint GDIO_CMP_PUMP_STATE = 3u;        // completion header words
const uint GDIO_CMP_PUMP_ERROR = 4u;

// The request region: written by the device (descriptors, publish words), polled by the host.
// On NVIDIA it lives in host system memory; the device never reads what the host writes here
// after the dispatch started (only the header, written before, and its own publish words).
layout(set = GDIO_SET, binding = GDIO_REQUEST_BINDING, std430) buffer GdioRequests {
    uint gdio_req[];
};
// The completion region: written by the host, polled by the device. On NVIDIA it must be
// device-local host-visible memory (ReBAR): a running shader never sees host writes to system
// memory there.
layout(set = GDIO_SET, binding = GDIO_COMPLETION_BINDING, std430) buffer GdioCompletions {
    uint gdio_cmp[];
};
// The same buffer as 64-bit words: each slot's completion entry (result in the low half, the
// generation in the high half) is read in one atomic load, as the host writes it in one store.
// The header is read only through gdio_cmp, the entries only through gdio_cmp64.
layout(set = GDIO_SET, binding = GDIO_COMPLETION_BINDING, std430) buffer GdioCompletionEntries {
    uint64_t gdio_cmp64[];
};

// Loop iterations run by this invocation's gdio_wait calls (plus whatever the shader adds).
uint gdio_iters = 0u;
// Word index of descriptor 0, read from the request header by gdio_begin().
uint gdio_desc_base = 0u;
// Word offsets of this invocation's queue inside the request and completion buffers: 0 for a
// buffer holding one queue; several queues (one pump each) may sit back to back.
uint gdio_req_base = 0u;
uint gdio_cmp_base = 0u;

// Call once at the start of the shader, before any other gdio_ function, when the bound
// buffers hold several queues: this invocation uses the queue whose request region starts at
// word `req_base` of binding 0 and whose completion region starts at word `cmp_base` of
// binding 1 (an even word: entries are 8-byte aligned). Slots are that queue's own.
void gdio_begin_queue(uint req_base, uint cmp_base) {
    gdio_req_base = req_base;
    gdio_cmp_base = cmp_base;
    gdio_desc_base = req_base + (atomicLoad(gdio_req[req_base + GDIO_REQ_DESCRIPTOR_OFFSET],
                                            gl_ScopeDevice, gl_StorageSemanticsBuffer,
                                            gl_SemanticsRelaxed) >> 2);
    gdio_iters = 0u;
}

// lavapipe counts loop iterations per SIMD vector of invocations (its subgroup), not per
// invocation: when lanes wait for different lengths, a lane's own count falls behind what its
// vector ran, and the cap can cut a loop short silently. Call once per outer loop iteration,
// before checking the budget, so that every lane counts at least what its subgroup ran.
// Specialization constant 0 turns it on; gdio_vulkan::ComputePipeline sets it on CPU devices
// only (GPUs have no cap, and the reduction cost ~0.08 µs of a NOP round trip on the H100). It
// also sets how many looks gdio_wait takes per iteration (GDIO_LOOKS_PER_ITERATION).
layout(constant_id = 0) const bool GDIO_SUBGROUP_ITERS = true;

// Looks at the completion entry per gdio_wait iteration: eight where loops are capped (a wait
// then lasts eight times as many looks per counted iteration), one elsewhere (measured faster
// on the H100, see gdio_wait).
const uint GDIO_LOOKS_PER_ITERATION = GDIO_SUBGROUP_ITERS ? 8u : 1u;

void gdio_sync_iters() {
    if (GDIO_SUBGROUP_ITERS) {
        gdio_iters = subgroupMax(gdio_iters);
    }
}

// Call once at the start of the shader, before any other gdio_ function (one queue).
void gdio_begin() {
    gdio_begin_queue(0u, 0u);
}

// next(g): counts up and skips 0 on wrap.
uint gdio_next(uint g) {
    return g == 0xFFFFFFFFu ? 1u : g + 1u;
}

uint gdio_publish_word(uint slot) { return gdio_req_base + GDIO_HEADER_WORDS + slot; }
// Index of `slot`'s completion entry in gdio_cmp64.
uint gdio_entry_index(uint slot) { return (gdio_cmp_base + GDIO_HEADER_WORDS) / 2u + slot; }

// The completion entry of `slot`, relaxed or acquire, and its halves.
uint64_t gdio_entry(uint slot) {
    return atomicLoad(gdio_cmp64[gdio_entry_index(slot)], gl_ScopeDevice,
                      gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
}
uint64_t gdio_entry_acquire(uint slot) {
    return atomicLoad(gdio_cmp64[gdio_entry_index(slot)], gl_ScopeDevice,
                      gl_StorageSemanticsBuffer, gl_SemanticsAcquire | gl_SemanticsMakeVisible);
}
uint gdio_entry_generation(uint64_t e) { return uint(e >> 32); }
int gdio_entry_result(uint64_t e) { return int(uint(e & 0xFFFFFFFFul)); }

// The generation this device last published in `slot` (its own write; 0 = never). On a
// discrete GPU this reads host memory across the bus (about a microsecond): keep the g that
// gdio_publish returned instead, and call this only to resume after a re-dispatch.
uint gdio_last_published(uint slot) {
    return atomicLoad(gdio_req[gdio_publish_word(slot)], gl_ScopeDevice,
                      gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
}

// The generation the host last completed in `slot`, relaxed: for a slot this invocation has
// already waited on (its own earlier acquire saw it), from device-local memory.
uint gdio_last_completed(uint slot) {
    return gdio_entry_generation(gdio_entry(slot));
}

// The generation the host last completed in `slot` (acquire).
uint gdio_completed(uint slot) {
    return gdio_entry_generation(gdio_entry_acquire(slot));
}

// The generation still pending in `slot`, or 0 if the slot is idle. After a re-dispatch this
// is how a shader finds the requests it published before it ended.
uint gdio_pending(uint slot) {
    uint p = gdio_last_published(slot);
    return gdio_completed(slot) == p ? 0u : p;
}

// The pump state word (acquire) and the pump error word.
uint gdio_pump_state() {
    return atomicLoad(gdio_cmp[gdio_cmp_base + GDIO_CMP_PUMP_STATE], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                      gl_SemanticsAcquire | gl_SemanticsMakeVisible);
}
int gdio_pump_error() {
    return int(atomicLoad(gdio_cmp[gdio_cmp_base + GDIO_CMP_PUMP_ERROR], gl_ScopeDevice,
                          gl_StorageSemanticsBuffer, gl_SemanticsRelaxed));
}

// The check word over descriptor words 0..8 (fields and stamp), as
// gdio_protocol::layout::descriptor::check: it lets the host tell a descriptor that has fully
// arrived from one whose words are still in flight (a running shader's writes to host memory
// can reach the host out of order; measured on an H100).
uint gdio_check_step(uint h, uint w) {
    h = (h ^ w) * 0x85EBCA6Bu;
    return h ^ (h >> 13);
}

// Writes descriptor words 0..7, the stamp g (word 8), the check (word 9) and then `g` as the
// slot's publication, all relaxed, with nothing ordered before them: for a request that depends
// on nothing this invocation did before (a NOP). No checks: the caller guarantees the slot is
// idle, owned by this invocation, and g = next(last).
void gdio_publish_unordered(uint slot, uint g, uint op, uint file, uint window, uint window_offset,
                      uint file_offset_lo, uint file_offset_hi, uint len, uint tag) {
    uint d = gdio_desc_base + 16u * slot;
    uint h = 0x9E3779B9u;
    h = gdio_check_step(h, op);
    h = gdio_check_step(h, file);
    h = gdio_check_step(h, window);
    h = gdio_check_step(h, window_offset);
    h = gdio_check_step(h, file_offset_lo);
    h = gdio_check_step(h, file_offset_hi);
    h = gdio_check_step(h, len);
    h = gdio_check_step(h, tag);
    h = gdio_check_step(h, g);
    atomicStore(gdio_req[d + 0u], op, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 1u], file, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 2u], window, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 3u], window_offset, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 4u], file_offset_lo, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 5u], file_offset_hi, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 6u], len, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 7u], tag, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 8u], g, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[d + 9u], h, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    atomicStore(gdio_req[gdio_publish_word(slot)], g, gl_ScopeDevice, gl_StorageSemanticsBuffer,
                gl_SemanticsRelaxed);
}

// A release fence, then gdio_publish_unordered: every earlier access of this invocation to
// buffer memory (a WRITE's window data, its reads of a window it now hands back for a READ,
// its earlier publications, which FENCE orders by) is visible to a host that has seen this
// publication, on devices that keep the order for host memory (the stamp, the check and a
// WRITE's data check cover those that do not). The fence comes first rather than as a release
// on the publish word: it then waits for little (the earlier requests' stores went out long
// ago) instead of for this descriptor's own ten stores across the bus (~0.5 µs on an H100).
void gdio_publish_raw(uint slot, uint g, uint op, uint file, uint window, uint window_offset,
                      uint file_offset_lo, uint file_offset_hi, uint len, uint tag) {
    memoryBarrier(gl_ScopeDevice, gl_StorageSemanticsBuffer,
                  gl_SemanticsRelease | gl_SemanticsMakeAvailable);
    gdio_publish_unordered(slot, g, op, file, window, window_offset, file_offset_lo,
                           file_offset_hi, len, tag);
}

// Publishes a request in idle `slot` as generation next(last), where `last` is the generation
// this invocation last published there (gdio_last_completed(slot) before its first), and
// returns it: pass it to gdio_wait, and as `last` to the slot's next publication. A shader that
// keeps its generations this way saves gdio_publish's read of the completion entry (on the
// H100 the NOP round trip did not measurably change: 2.22-2.31 against 2.27-2.30 us).
uint gdio_publish_after(uint last, uint slot, uint op, uint file, uint window,
                        uint window_offset, uint file_offset_lo, uint file_offset_hi, uint len,
                        uint tag) {
    uint g = gdio_next(last);
    gdio_publish_raw(slot, g, op, file, window, window_offset, file_offset_lo, file_offset_hi,
                     len, tag);
    return g;
}

// Publishes a request in idle `slot` and returns its generation: pass it to gdio_wait. The
// slot being idle, its last publication equals its last completion, which is read from
// device-local memory (the completion region) rather than across the bus.
uint gdio_publish(uint slot, uint op, uint file, uint window, uint window_offset,
                  uint file_offset_lo, uint file_offset_hi, uint len, uint tag) {
    return gdio_publish_after(gdio_last_completed(slot), slot, op, file, window, window_offset,
                              file_offset_lo, file_offset_hi, len, tag);
}

// READ `len` bytes of `file` at byte offset (hi:lo) into `window` at `window_offset`.
uint gdio_publish_read(uint slot, uint file, uint window, uint window_offset,
                       uint file_offset_lo, uint file_offset_hi, uint len, uint tag) {
    return gdio_publish(slot, GDIO_OP_READ, file, window, window_offset, file_offset_lo,
                        file_offset_hi, len, tag);
}
// WRITE `len` bytes from `window` at `window_offset` into `file` at byte offset (hi:lo).
uint gdio_publish_write(uint slot, uint file, uint window, uint window_offset,
                        uint file_offset_lo, uint file_offset_hi, uint len, uint tag) {
    return gdio_publish(slot, GDIO_OP_WRITE, file, window, window_offset, file_offset_lo,
                        file_offset_hi, len, tag);
}
// FENCE: completes once every request of this queue published before it has completed.
uint gdio_publish_fence(uint slot, uint tag) {
    return gdio_publish(slot, GDIO_OP_FENCE, 0u, 0u, 0u, 0u, 0u, 0u, tag);
}
// FSYNC `file` (FDATASYNC when `data_only`).
uint gdio_publish_fsync(uint slot, uint file, bool data_only, uint tag) {
    return gdio_publish(slot, data_only ? GDIO_OP_FDATASYNC : GDIO_OP_FSYNC, file, 0u, 0u, 0u,
                        0u, 0u, tag);
}
// WRITE with a data check: `data_check` is gdio_data_check_finish() over exactly the `len` bytes
// written (as little-endian words, the last one zero-padded). The host writes only once the
// window holds bytes that match it, so data still on its way to host memory is never written
// stale (NVIDIA does not promise a running shader's writes reach the host in order).
uint gdio_publish_write_checked(uint slot, uint file, uint window, uint window_offset,
                                uint file_offset_lo, uint file_offset_hi, uint len, uint tag,
                                uint data_check) {
    atomicStore(gdio_req[gdio_desc_base + 16u * slot + 10u], data_check, gl_ScopeDevice,
                gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
    return gdio_publish(slot, GDIO_OP_WRITE | GDIO_FLAG_DATA_CHECK, file, window, window_offset,
                        file_offset_lo, file_offset_hi, len, tag);
}
// The data check, word by word: h = GDIO_DATA_CHECK_SEED; h = gdio_check_step(h, word) for each
// word (mask the last one's bytes past `len` to 0); then gdio_check_step(h, len).
uint gdio_data_check_finish(uint h, uint len) {
    return gdio_check_step(h, len);
}

// NOP: completes with 0 (round-trip measurement).
// It carries no data and promises no order, so it is published without the release fence.
uint gdio_publish_nop_after(uint last, uint slot, uint tag) {
    uint g = gdio_next(last);
    gdio_publish_unordered(slot, g, GDIO_OP_NOP, 0u, 0u, 0u, 0u, 0u, 0u, tag);
    return g;
}
uint gdio_publish_nop(uint slot, uint tag) {
    return gdio_publish_nop_after(gdio_last_completed(slot), slot, tag);
}

// The result word of `slot`. Meaningful only after gdio_poll returned GDIO_POLL_DONE for it.
int gdio_result(uint slot) {
    return gdio_entry_result(gdio_entry(slot));
}

// One poll of generation `g` of `slot`, exactly as DeviceQueue::poll:
// GDIO_POLL_DONE (read gdio_result), GDIO_POLL_PENDING, or GDIO_POLL_GONE (pump STOPPED or
// FAILED with the slot pending: do not reuse the slot).
uint gdio_poll(uint slot, uint g) {
    if (gdio_completed(slot) == g) {
        return GDIO_POLL_DONE;
    }
    uint s = gdio_pump_state();
    if (s == GDIO_PUMP_STOPPED || s == GDIO_PUMP_FAILED) {
        // The host writes every completion before STOPPED: look once more.
        return gdio_completed(slot) == g ? GDIO_POLL_DONE : GDIO_POLL_GONE;
    }
    return GDIO_POLL_PENDING;
}

// Relaxed check of the completion generation (no pump-state look, no acquire).
bool gdio_peek(uint slot, uint g) {
    return gdio_last_completed(slot) == g;
}

// One relaxed look at the entry, kept in `e` (the wait takes the result from the same load).
#define GDIO_PEEK_(slot, g, seen, e) if (!seen) { e = gdio_entry(slot); seen = gdio_entry_generation(e) == g; }

// Waits for generation `g` of `slot` for at most `budget` loop iterations, each one relaxed load
// of the completion entry (result and generation together; eight where loops are capped, see
// GDIO_LOOKS_PER_ITERATION). When the generation
// is seen, an acquire fence makes what the host wrote before completing (the window data)
// visible, and the result comes from the same load. Every GDIO_PUMP_LOOK_EVERY polls, and on
// its last iteration, it looks at the pump state (relaxed; a fence only if terminal), as
// gdio_poll does. Returns the result (>= 0 bytes or a negative code), GDIO_PUMP_GONE, or
// GDIO_TIMEOUT when the budget ran out (the request is still pending: wait again later,
// possibly in the next dispatch).
// Measured: on the H100 the rare relaxed look at the pump state took the NOP round trip from
// 2.5 us (an acquire load of it after every eight polls) to 2.2-2.3 us p50, and one look per
// iteration instead of eight took it from 2.22-2.31 to 2.12-2.19 us (five runs each, one
// machine; FENCE 2.57-2.66 to 2.45-2.53 us). On lavapipe eight looks per iteration keep its
// loop cap from ending waits early (a resident kernel's batch: 0.3-0.45 ms, against 0.9-3 ms
// with one). No `break` (lavapipe): the loop condition carries the exit.
int gdio_wait(uint slot, uint g, uint budget) {
    uint st = GDIO_POLL_PENDING;
    uint i = 0u;
    uint64_t e = 0ul;
    while (st == GDIO_POLL_PENDING && i < budget) {
        bool seen = false;
        GDIO_PEEK_(slot, g, seen, e)
        if (GDIO_SUBGROUP_ITERS) { // seven more: GDIO_LOOKS_PER_ITERATION in all
            GDIO_PEEK_(slot, g, seen, e) GDIO_PEEK_(slot, g, seen, e) GDIO_PEEK_(slot, g, seen, e)
            GDIO_PEEK_(slot, g, seen, e) GDIO_PEEK_(slot, g, seen, e) GDIO_PEEK_(slot, g, seen, e)
            GDIO_PEEK_(slot, g, seen, e)
        }
        if (seen) {
            memoryBarrier(gl_ScopeDevice, gl_StorageSemanticsBuffer,
                          gl_SemanticsAcquire | gl_SemanticsMakeVisible);
            st = GDIO_POLL_DONE;
        } else if (((i + 1u) * GDIO_LOOKS_PER_ITERATION) % GDIO_PUMP_LOOK_EVERY == 0u ||
                   i + 1u == budget) {
            // The pump state, relaxed: only a terminal state needs the acquire (a fence).
            uint s = atomicLoad(gdio_cmp[gdio_cmp_base + GDIO_CMP_PUMP_STATE], gl_ScopeDevice,
                                gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
            if (s == GDIO_PUMP_STOPPED || s == GDIO_PUMP_FAILED) {
                memoryBarrier(gl_ScopeDevice, gl_StorageSemanticsBuffer,
                              gl_SemanticsAcquire | gl_SemanticsMakeVisible);
                e = gdio_entry_acquire(slot);
                st = gdio_entry_generation(e) == g ? GDIO_POLL_DONE : GDIO_POLL_GONE;
            }
        }
        i += 1u;
    }
    gdio_iters += i;
    if (st == GDIO_POLL_DONE) {
        return gdio_entry_result(e);
    }
    return st == GDIO_POLL_GONE ? GDIO_PUMP_GONE : GDIO_TIMEOUT;
}

#endif // GDIO_GLSL
