#version 460
// One level of a breadth-first search over an on-disk CSR graph (gdio_workloads::graph),
// every read through the page cache (gdio_cache.glsl). The host dispatches once per level, and
// again while lanes end a dispatch with work in hand (lavapipe's loop cap).
//
// Work comes in two kinds. A frontier item is a vertex v of the current frontier: the lane asks
// the cache for the page(s) holding rows[v] and rows[v+1], then owns the range of v's
// neighbours. A piece is the part of a range inside one cache page. The lane that owns a range
// pushes every piece but its first onto the piece queue (so that a vertex of a million
// neighbours is spread over many lanes) and expands the first itself: it asks for the page,
// and for every neighbour u swaps levels[u] from UNREACHED to level + 1; the winner appends u
// to the next frontier. A lane holds at most one page and releases it before the next ask.
// Lanes take frontier items first, then pieces; a lane with nothing to take waits (at most
// idle_polls iterations) while other lanes still own ranges they have not pushed, then ends.
//
// bindings: 0 request region, 1 completion region, 2 cache metadata, 3 cache pages,
//           4 levels (one word per vertex), 5 frontier (two halves: cur_base, next_base),
//           6 control words (CTL_*; u64 words through Ctl64), 7 the piece queue (4 words per
//           piece: vertex, first entry lo, hi, entries; then one ready word per piece, set to
//           level + 1 once the piece is written), 8 lane state (LS_WORDS per lane)
#extension GL_GOOGLE_include_directive : require
#include "gdio.glsl"
#include "gdio_cache.glsl"
#include "gdio_demo.glsl"

layout(local_size_x_id = 1) in;
layout(set = 0, binding = 4, std430) buffer Levels { uint levels[]; };
layout(set = 0, binding = 5, std430) buffer Frontier { uint frontier[]; };
layout(set = 0, binding = 6, std430) buffer Ctl { uint ctl[]; };
layout(set = 0, binding = 6, std430) buffer Ctl64 { uint64_t ctl64[]; };
layout(set = 0, binding = 7, std430) buffer Pieces { uint pieces[]; };
layout(set = 0, binding = 8, std430) buffer LaneState { uint ls[]; };
layout(push_constant) uniform Params {
    uint file;
    uint window;
    uint lanes;
    uint level;        // the current frontier's level
    uint frontier_len;
    uint cur_base;     // word index of the current frontier in `frontier`
    uint next_base;    // word index of the next one
    uint vertices;
    uint rows_lo;      // byte offset of the rows array
    uint rows_hi;
    uint adj_lo;       // byte offset of the adjacency array
    uint adj_hi;
    uint edges_lo;     // adjacency entries
    uint edges_hi;
    uint piece_cap;    // pieces the queue holds
    uint iter_budget;
    uint step_budget;
    uint idle_polls;   // iterations a lane with nothing to take waits for pieces to come
    uint queues;       // lane L uses queue L % queues and its slot L / queues
    uint req_stride;
    uint cmp_stride;
} pc;

// Control words (bfs.rs: Ctl).
const uint CTL_FHEAD = 0u;      // frontier items taken
const uint CTL_NCOUNT = 1u;     // vertices appended to the next frontier
const uint CTL_SHEAD = 2u;      // pieces taken
const uint CTL_STAIL = 3u;      // pieces reserved
const uint CTL_PRODUCERS = 4u;  // lanes owning a frontier item whose pieces are not all pushed
const uint CTL_BUSY = 5u;       // lanes that ended the dispatch with work in hand
const uint CTL_ERROR = 6u;      // 0, or the first failure (ERR_*)
const uint CTL_ERR_VERTEX = 7u;
const uint CTL_ERR_CODE = 8u;   // a failed READ's result, a short page's bytes
const uint CTL_ERR_PAGE = 9u;
const uint CTL64_EDGES = 6u;    // adjacency entries of the expanded vertices (words 12, 13)
const uint CTL64_ERR_A = 8u;    // words 16, 17
const uint CTL64_ERR_B = 9u;    // words 18, 19

const uint ERR_ROWS = 1u;       // rows[v] > rows[v+1] or rows[v+1] > E (ERR_A, ERR_B: them)
const uint ERR_NEIGHBOUR = 2u;  // a neighbour id >= V (ERR_A: it, ERR_B: its piece's start)
const uint ERR_READ = 3u;       // the cache answered a negative code (ERR_CODE, ERR_PAGE)
const uint ERR_SHORT = 4u;      // a page shorter than the entries it must hold
const uint ERR_QUEUE = 5u;      // the piece queue is full (ranges overlap: a corrupt rows array)
const uint ERR_FRONTIER = 6u;   // a frontier entry >= V, or the next frontier past V entries

// Lane state (LS_WORDS words per lane).
const uint LS_WORDS = 16u;
const uint LS_KIND = 0u;
const uint LS_V = 1u;
const uint LS_HAVE = 2u;        // K_ROWS: 1 once rows[v] is known
const uint LS_A = 3u;           // u64 (two words): range or piece start, or a claimed piece
const uint LS_B = 5u;           // u64: range or piece end
const uint LS_REQ = 8u;         // the cache request: phase, slot, generation, result

const uint K_NONE = 0u;
const uint K_ROWS = 1u;     // asking for rows[v] and rows[v+1]
const uint K_RANGE = 2u;    // owning [a, b): pushing its pieces after the first
const uint K_PIECE = 3u;    // expanding [a, b), inside one page
const uint K_CLAIMED = 4u;  // took piece a of the queue, waiting for it to be written

const uint PUSH_PER_STEP = 256u;

uint64_t u64of(uint lo, uint hi) { return (uint64_t(hi) << 32) | uint64_t(lo); }

uint ctl_load(uint i) {
    return atomicLoad(ctl[i], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                      gl_SemanticsAcquire | gl_SemanticsMakeVisible);
}
uint ctl_add(uint i, uint d) {
    return atomicAdd(ctl[i], d, gl_ScopeDevice, gl_StorageSemanticsBuffer,
                     gl_SemanticsAcquireRelease | gl_SemanticsMakeAvailable | gl_SemanticsMakeVisible);
}

// Records the first failure; the host reads it after the dispatch and every lane stops.
void fail(uint kind, uint v, int code, uint page, uint64_t a, uint64_t b) {
    if (atomicCompSwap(ctl[CTL_ERROR], 0u, kind) == 0u) {
        ctl[CTL_ERR_VERTEX] = v;
        ctl[CTL_ERR_CODE] = uint(code);
        ctl[CTL_ERR_PAGE] = page;
        ctl64[CTL64_ERR_A] = a;
        ctl64[CTL64_ERR_B] = b;
    }
}

// Byte offset of what the lane asks for next, for each kind that asks.
uint64_t ask_offset(uint kind, uint v, uint have, uint64_t a) {
    uint64_t rows = u64of(pc.rows_lo, pc.rows_hi);
    uint64_t adj = u64of(pc.adj_lo, pc.adj_hi);
    return kind == K_ROWS ? rows + 8ul * (uint64_t(v) + uint64_t(have)) : adj + 4ul * a;
}

GdioCacheReq ask(uint kind, uint v, uint have, uint64_t a) {
    return gdio_cache_request(pc.file, uint(ask_offset(kind, v, have, a) >> gdio_cache_shift));
}

void main() {
    uint lane = gl_GlobalInvocationID.x;
    if (lane >= pc.lanes) {
        return;
    }
    uint q = lane % pc.queues;
    gdio_begin_queue(q * pc.req_stride, q * pc.cmp_stride);
    uint qslot = lane / pc.queues;
    gdio_cache_open(pc.window);
    uint s = lane * LS_WORDS;
    uint kind = ls[s + LS_KIND];
    uint v = ls[s + LS_V];
    uint have = ls[s + LS_HAVE];
    uint64_t a = u64of(ls[s + LS_A], ls[s + LS_A + 1u]);
    uint64_t b = u64of(ls[s + LS_B], ls[s + LS_B + 1u]);
    GdioCacheReq r = ask(kind, v, have, a);
    r.phase = ls[s + LS_REQ];
    r.slot = ls[s + LS_REQ + 1u];
    r.g = ls[s + LS_REQ + 2u];
    r.result = int(ls[s + LS_REQ + 3u]);

    uint64_t edges = u64of(pc.edges_lo, pc.edges_hi);
    uint64_t adj = u64of(pc.adj_lo, pc.adj_hi);
    uint page_bytes = gdio_cache_page_bytes();
    uint epoch = pc.level + 1u;
    uint64_t expanded = 0ul;
    uint idle = 0u;
    bool go = true;
    while (go) {
        if (atomicLoad(ctl[CTL_ERROR], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                       gl_SemanticsRelaxed) != 0u) {
            go = false;
        } else if (kind == K_NONE) {
            bool took = false;
            if (ctl_load(CTL_FHEAD) < pc.frontier_len) {
                // Counted as a producer before taking the item, so that a lane that sees
                // every item taken and no producer knows no piece is still to come.
                ctl_add(CTL_PRODUCERS, 1u);
                uint i = ctl_add(CTL_FHEAD, 1u);
                if (i < pc.frontier_len) {
                    v = frontier[pc.cur_base + i];
                    if (v >= pc.vertices) {
                        fail(ERR_FRONTIER, v, 0, 0u, uint64_t(i), 0ul);
                    }
                    kind = K_ROWS;
                    have = 0u;
                    r = ask(kind, v, have, 0ul);
                    took = true;
                    idle = 0u;
                } else {
                    ctl_add(CTL_PRODUCERS, 0xFFFFFFFFu);
                }
            }
            if (!took) {
                uint head = ctl_load(CTL_SHEAD);
                if (head < ctl_load(CTL_STAIL)) {
                    if (atomicCompSwap(ctl[CTL_SHEAD], head, head + 1u, gl_ScopeDevice,
                                       gl_StorageSemanticsBuffer,
                                       gl_SemanticsAcquire | gl_SemanticsMakeVisible,
                                       gl_StorageSemanticsBuffer, gl_SemanticsRelaxed) == head) {
                        kind = K_CLAIMED;
                        a = uint64_t(head);
                        idle = 0u;
                    }
                } else if (ctl_load(CTL_FHEAD) >= pc.frontier_len && ctl_load(CTL_PRODUCERS) == 0u
                           && ctl_load(CTL_SHEAD) >= ctl_load(CTL_STAIL)) {
                    // Nothing left of this level. The order of the loads matters: a lane that
                    // took an item counted itself a producer first, and one that stops being a
                    // producer has reserved its pieces first.
                    go = false;
                } else {
                    idle += 1u;
                    go = idle <= pc.idle_polls;
                }
            }
        } else if (kind == K_CLAIMED) {
            uint j = uint(a);
            uint ready = atomicLoad(pieces[4u * pc.piece_cap + j], gl_ScopeDevice,
                                    gl_StorageSemanticsBuffer,
                                    gl_SemanticsAcquire | gl_SemanticsMakeVisible);
            if (ready == epoch) {
                v = atomicLoad(pieces[4u * j], gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                a = u64of(atomicLoad(pieces[4u * j + 1u], gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed),
                          atomicLoad(pieces[4u * j + 2u], gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed));
                b = a + uint64_t(atomicLoad(pieces[4u * j + 3u], gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed));
                kind = K_PIECE;
                r = ask(kind, v, 0u, a);
            } else {
                // Its pusher reserved it and writes it without waiting for anything.
                idle += 1u;
                go = idle <= pc.idle_polls;
            }
        } else if (kind == K_RANGE) {
            // [a, first) is the part of the range in a's page; the pages after it become pieces,
            // pushed from the end, at most PUSH_PER_STEP per iteration.
            uint64_t next_page = ((adj + 4ul * a) | uint64_t(page_bytes - 1u)) + 1ul;
            uint64_t first = min(b, (next_page - adj) / 4ul);
            if (b > first) {
                uint64_t per = uint64_t(page_bytes / 4u);
                uint n = uint((b - first + per - 1ul) / per);
                uint m = min(n, PUSH_PER_STEP);
                uint at = ctl_add(CTL_STAIL, m);
                if (uint64_t(at) + uint64_t(m) > uint64_t(pc.piece_cap)) {
                    fail(ERR_QUEUE, v, 0, 0u, a, b);
                } else {
                    for (uint k = 0u; k < m; k++) {
                        uint64_t p0 = first + uint64_t(n - m + k) * per;
                        uint64_t p1 = min(b, p0 + per);
                        uint j = at + k;
                        atomicStore(pieces[4u * j], v, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                        atomicStore(pieces[4u * j + 1u], uint(p0), gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                        atomicStore(pieces[4u * j + 2u], uint(p0 >> 32), gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                        atomicStore(pieces[4u * j + 3u], uint(p1 - p0), gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                        atomicStore(pieces[4u * pc.piece_cap + j], epoch, gl_ScopeDevice,
                                    gl_StorageSemanticsBuffer, gl_SemanticsRelease | gl_SemanticsMakeAvailable);
                    }
                    gdio_iters += m;
                    b = first + uint64_t(n - m) * per;
                }
            } else {
                // Every piece pushed (release: before anyone sees one producer fewer).
                ctl_add(CTL_PRODUCERS, 0xFFFFFFFFu);
                kind = a < b ? K_PIECE : K_NONE;
                r = ask(kind, v, 0u, a);
            }
        } else {
            // K_ROWS or K_PIECE: one page through the cache.
            int got = gdio_cache_get(r, qslot, pc.step_budget);
            if (got == GDIO_TIMEOUT) {
                // Still in progress (a READ in flight, or every way of the page's set held):
                // ask again next iteration, letting this subgroup's other lanes on, or end the
                // dispatch after idle_polls tries (at once on lavapipe, whose workgroups run
                // in turn: the pins' holders may not run until this one ends).
                idle += 1u;
                go = idle <= pc.idle_polls;
            } else if (got < 0) {
                fail(ERR_READ, v, got, r.page, 0ul, 0ul);
            } else {
                idle = 0u;
                uint slot = uint(got);
                int len = gdio_cache_len(slot);
                uint base = gdio_cache_page_word(slot);
                uint64_t off = ask_offset(kind, v, have, a);
                uint in_page = uint(off) & (page_bytes - 1u);
                if (kind == K_ROWS) {
                    // rows[v] (have == 0) or rows[v+1] (have == 1) is at `off`; with rows[v] in
                    // hand, rows[v+1] is the next word pair when it lies in the same page.
                    bool both = have == 0u && in_page + 16u <= page_bytes;
                    uint need = in_page + (both ? 16u : 8u);
                    if (len < int(need)) {
                        fail(ERR_SHORT, v, len, r.page, 0ul, 0ul);
                    } else {
                        uint w = base + in_page / 4u;
                        uint64_t x = u64of(gdio_cache_pages[w], gdio_cache_pages[w + 1u]);
                        if (have == 0u) {
                            a = x;
                            have = 1u;
                            if (both) {
                                b = u64of(gdio_cache_pages[w + 2u], gdio_cache_pages[w + 3u]);
                                have = 2u;
                            }
                        } else {
                            b = x;
                            have = 2u;
                        }
                    }
                    gdio_cache_release(slot);
                    if (have == 2u) {
                        if (a > b || b > edges) {
                            fail(ERR_ROWS, v, 0, 0u, a, b);
                        } else {
                            expanded += b - a;
                            kind = K_RANGE;
                        }
                    } else {
                        r = ask(kind, v, have, a);
                    }
                } else {
                    uint count = uint(b - a);
                    if (len < int(in_page + 4u * count)) {
                        fail(ERR_SHORT, v, len, r.page, a, b);
                        count = 0u;
                    }
                    uint w = base + in_page / 4u;
                    uint nv = pc.vertices;
                    uint next_level = pc.level + 1u;
                    bool bad = false;
                    bool over = false;
                    uint bad_u = 0u;
                    for (uint i = 0u; i < count; i++) {
                        uint u = gdio_cache_pages[w + i];
                        if (u >= nv) {
                            bad = true;
                            bad_u = u;
                        } else if (atomicLoad(levels[u], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                                              gl_SemanticsRelaxed) == 0xFFFFFFFFu
                                   && atomicCompSwap(levels[u], 0xFFFFFFFFu, next_level) == 0xFFFFFFFFu) {
                            uint at = atomicAdd(ctl[CTL_NCOUNT], 1u);
                            if (at < nv) {
                                frontier[pc.next_base + at] = u;
                            } else {
                                over = true;
                            }
                        }
                    }
                    gdio_iters += count;
                    gdio_cache_release(slot);
                    if (bad) {
                        fail(ERR_NEIGHBOUR, v, 0, r.page, uint64_t(bad_u), a);
                    } else if (over) {
                        fail(ERR_FRONTIER, v, 0, r.page, a, b);
                    }
                    kind = K_NONE;
                }
            }
        }
        gdio_iters += 2u;
        gdio_sync_iters();
        // A cache ask runs up to ~60 iterations a step, a page of 64 KiB 16,384 entries, a push
        // PUSH_PER_STEP pieces: room for one more of any.
        go = go && gdio_budget_left(gdio_iters, pc.step_budget * 60u + 16400u + PUSH_PER_STEP,
                                    pc.iter_budget);
    }
    ls[s + LS_KIND] = kind;
    ls[s + LS_V] = v;
    ls[s + LS_HAVE] = have;
    ls[s + LS_A] = uint(a);
    ls[s + LS_A + 1u] = uint(a >> 32);
    ls[s + LS_B] = uint(b);
    ls[s + LS_B + 1u] = uint(b >> 32);
    ls[s + LS_REQ] = r.phase;
    ls[s + LS_REQ + 1u] = r.slot;
    ls[s + LS_REQ + 2u] = r.g;
    ls[s + LS_REQ + 3u] = uint(r.result);
    if (kind != K_NONE) {
        atomicAdd(ctl[CTL_BUSY], 1u);
    }
    if (expanded != 0ul) {
        atomicAdd(ctl64[CTL64_EDGES], expanded);
    }
}
