// gdio_cache.glsl: a page cache in GPU-visible memory, shared by every lane of every dispatch
// (docs/cache.md). It runs, step for step, the state machine of gdio_protocol::cache::CacheView.
//
// A lane asks for (file, page) and gets the slot holding it, pinned: a hit never touches the
// host; on a miss exactly one lane publishes the READ (into the cache's pages window, through
// the lane's own queue slot) and every other lane that wants the page meanwhile waits for that
// READ; eviction (clock) takes only unpinned slots; a failed READ completes every waiter with
// its code and leaves the page uncached. Every loop is bounded; a cache whose header does not
// match its bound buffers answers every request GDIO_CACHE_BAD.
//
// Include after gdio.glsl. Bindings (define before including to move them):
//   GDIO_CACHE_SET             descriptor set of both cache buffers      (default GDIO_SET)
//   GDIO_CACHE_META_BINDING    the metadata (PageCache::meta)           (default 2)
//   GDIO_CACHE_PAGES_BINDING   the pages, a pump READ window            (default 3)
//
// Use:
//   gdio_cache_open(window);                       // once per invocation, after gdio_begin*
//   GdioCacheReq r = gdio_cache_request(file, page);
//   int s = gdio_cache_get(r, my_queue_slot, budget);   // or gdio_cache_step in your own loop
//   if (s >= 0) { ... read gdio_cache_pages[gdio_cache_page_word(uint(s)) + i] ...;
//                 gdio_cache_release(uint(s)); }
//   else if (s == GDIO_TIMEOUT) { save r (all six fields) and resume it later }
//   else { the READ failed (a negative code: -errno, a protocol code, GDIO_PAST_END) }
// A lane holds at most one page at a time: release it before asking for the next (a lane that
// holds a page while waiting for another can pin a whole set).
#ifndef GDIO_CACHE_GLSL
#define GDIO_CACHE_GLSL

#ifndef GDIO_GLSL
#error "include gdio.glsl before gdio_cache.glsl"
#endif
#ifndef GDIO_CACHE_SET
#define GDIO_CACHE_SET GDIO_SET
#endif
#ifndef GDIO_CACHE_META_BINDING
#define GDIO_CACHE_META_BINDING 2
#endif
#ifndef GDIO_CACHE_PAGES_BINDING
#define GDIO_CACHE_PAGES_BINDING 3
#endif

// Metadata: header, counters, set words, slot words, auxiliary words (docs/cache.md).
layout(set = GDIO_CACHE_SET, binding = GDIO_CACHE_META_BINDING, std430) buffer GdioCacheMeta {
    uint gdio_cache_meta[];
};
layout(set = GDIO_CACHE_SET, binding = GDIO_CACHE_META_BINDING, std430) buffer GdioCacheMeta64 {
    uint64_t gdio_cache_meta64[];
};
// The pages: slot s holds its page at word s << (page_shift - 2). The host writes them (READ);
// `coherent` so that a lane never reads a refilled slot's old bytes from a cache of its own.
layout(set = GDIO_CACHE_SET, binding = GDIO_CACHE_PAGES_BINDING, std430) coherent readonly buffer GdioCachePages {
    uint gdio_cache_pages[];
};

// ---- layout (gdio_protocol::cache) ----
const uint GDIO_CACHE_MAGIC = 0x43504447u;
const uint GDIO_CACHE_VERSION = 1u;
const uint GDIO_CACHE_STRIPES = 16u;
const uint GDIO_CACHE_COUNTERS = 8u;
const uint GDIO_CACHE_SET_BASE = 16u + 16u * 8u * 2u;
const uint GDIO_CACHE_HITS = 0u;
const uint GDIO_CACHE_MISSES = 1u;
const uint GDIO_CACHE_READS = 2u;
const uint GDIO_CACHE_COALESCED = 3u;
const uint GDIO_CACHE_EVICTIONS = 4u;
const uint GDIO_CACHE_FAILED = 5u;
const uint GDIO_CACHE_NO_VICTIM = 6u;
// Slot word: pins in bits 0..19, state in bits 20..22, tag (file << 32 | page) from bit 24.
const uint64_t GDIO_CACHE_PIN_MASK = 0xFFFFFul;
const uint GDIO_CACHE_EMPTY = 0u;
const uint GDIO_CACHE_FILLING = 1u;
const uint GDIO_CACHE_VALID = 2u;
const uint GDIO_CACHE_FAILED_STATE = 3u;

// ---- request phases (gdio_protocol::cache::Phase) ----
const uint GDIO_CACHE_LOOKUP = 0u;
const uint GDIO_CACHE_MISS = 1u;
const uint GDIO_CACHE_FILL = 2u;
const uint GDIO_CACHE_READING = 3u;
const uint GDIO_CACHE_WAIT = 4u;
const uint GDIO_CACHE_DONE = 5u;

// One lane's request. Save every field to resume it in a later dispatch.
struct GdioCacheReq {
    uint file;   // pump file index (< 256)
    uint page;   // file offset >> page_shift
    uint phase;  // GDIO_CACHE_*
    uint slot;   // the slot held, filled or waited on
    int result;  // when DONE: the slot (pinned) or a negative code
    uint g;      // the fill's READ generation in the lane's queue slot
};

bool gdio_cache_ok = false;
// Set by a step whose victim search found every way of the set pinned or FILLING: only lanes
// that release pins can end that, so gdio_cache_get stops stepping (see there).
bool gdio_cache_starved = false;
uint gdio_cache_shift = 12u;
uint gdio_cache_sets = 1u;
uint gdio_cache_ways = 1u;
uint gdio_cache_slot_base64 = 0u;
uint gdio_cache_aux_base = 0u;
uint gdio_cache_window = 0u;
uint gdio_cache_stripe = 0u;

uint gdio_cache_header(uint i) {
    return atomicLoad(gdio_cache_meta[i], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                      gl_SemanticsRelaxed);
}

// Reads and checks the header against the bound buffers' sizes (CacheLayout::from_header);
// `window` is the pump window index of the pages buffer. Returns false (and every request
// then finishes GDIO_CACHE_BAD) when they do not match.
bool gdio_cache_open(uint window) {
    gdio_cache_window = window;
    gdio_cache_stripe = gl_GlobalInvocationID.x % GDIO_CACHE_STRIPES;
    uint shift = gdio_cache_header(2u);
    uint sets = gdio_cache_header(3u);
    uint ways = gdio_cache_header(4u);
    bool ok = gdio_cache_header(0u) == GDIO_CACHE_MAGIC && gdio_cache_header(1u) == GDIO_CACHE_VERSION
        && shift >= 12u && shift <= 16u && ways >= 1u && ways <= 16u && sets >= 1u
        && sets <= (1u << 20);
    uint slots = sets * ways;
    uint slot_base = (GDIO_CACHE_SET_BASE + sets + 1u) & ~1u;
    uint aux_base = slot_base + 2u * slots;
    uint total = aux_base + 2u * slots;
    ok = ok && gdio_cache_header(5u) == slots && gdio_cache_header(6u) == GDIO_CACHE_SET_BASE
        && gdio_cache_header(7u) == slot_base && gdio_cache_header(8u) == aux_base
        && gdio_cache_header(9u) == total
        && uint64_t(total) <= uint64_t(gdio_cache_meta.length())
        && (uint64_t(slots) << (shift - 2u)) <= uint64_t(gdio_cache_pages.length())
        && (uint64_t(slots) << shift) <= (1ul << 32); // a READ's window offset is 32 bits
    gdio_cache_ok = ok;
    gdio_cache_shift = ok ? shift : 12u;
    gdio_cache_sets = ok ? sets : 1u;
    gdio_cache_ways = ok ? ways : 1u;
    gdio_cache_slot_base64 = ok ? slot_base / 2u : 0u;
    gdio_cache_aux_base = ok ? aux_base : 0u;
    return ok;
}

// Bytes per page, and the word index of slot `s`'s first page word.
uint gdio_cache_page_bytes() { return 1u << gdio_cache_shift; }
uint gdio_cache_page_word(uint s) { return s << (gdio_cache_shift - 2u); }
// The page's bytes (a last page may be short) of a slot the lane holds.
int gdio_cache_len(uint s) {
    return int(atomicLoad(gdio_cache_meta[gdio_cache_aux_base + 2u * s + 1u], gl_ScopeDevice,
                          gl_StorageSemanticsBuffer, gl_SemanticsRelaxed));
}

uint64_t gdio_cache_tag(uint file, uint page) { return (uint64_t(file & 0xFFu) << 32) | uint64_t(page); }
uint gdio_cache_word_state(uint64_t w) { return uint(w >> 20) & 7u; }
uint64_t gdio_cache_word_tag(uint64_t w) { return w >> 24; }

uint gdio_cache_set_of(uint file, uint page) {
    uint h = page ^ (file * 0x9E3779B9u);
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h % gdio_cache_sets;
}

void gdio_cache_count(uint c) {
    atomicAdd(gdio_cache_meta64[8u + gdio_cache_stripe * GDIO_CACHE_COUNTERS + c], 1ul,
              gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
}

uint64_t gdio_cache_slot_load(uint s) {
    return atomicLoad(gdio_cache_meta64[gdio_cache_slot_base64 + s], gl_ScopeDevice,
                      gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
}

// Releases the pin a finished request holds on slot `s` (release: this lane's reads of the page
// happen before any refill of the slot).
void gdio_cache_release(uint s) {
    atomicAdd(gdio_cache_meta64[gdio_cache_slot_base64 + s], 0xFFFFFFFFFFFFFFFFul, gl_ScopeDevice,
              gl_StorageSemanticsBuffer, gl_SemanticsRelease | gl_SemanticsMakeAvailable);
}

// The slot of the set holding a live (VALID or FILLING) slot with the tag, or 0xFFFFFFFF.
uint gdio_cache_find(uint set, uint64_t want) {
    uint found = 0xFFFFFFFFu;
    for (uint w = 0u; w < gdio_cache_ways; w++) {
        uint s = set * gdio_cache_ways + w;
        uint64_t v = gdio_cache_slot_load(s);
        uint st = gdio_cache_word_state(v);
        if (found == 0xFFFFFFFFu && gdio_cache_word_tag(v) == want
            && (st == GDIO_CACHE_VALID || st == GDIO_CACHE_FILLING)) {
            found = s;
        }
    }
    gdio_iters += gdio_cache_ways;
    return found;
}

// Pins slot `s` and returns the phase: DONE on a hit, WAIT when its READ is in flight, or MISS
// (pin undone) when it no longer holds the page.
uint gdio_cache_pin(inout GdioCacheReq r, uint s) {
    uint64_t old = atomicAdd(gdio_cache_meta64[gdio_cache_slot_base64 + s], 1ul, gl_ScopeDevice,
                             gl_StorageSemanticsBuffer,
                             gl_SemanticsAcquire | gl_SemanticsMakeVisible);
    r.slot = s;
    uint st = gdio_cache_word_state(old);
    bool mine = gdio_cache_word_tag(old) == gdio_cache_tag(r.file, r.page);
    if (mine && st == GDIO_CACHE_VALID) {
        gdio_cache_count(GDIO_CACHE_HITS);
        r.result = int(s);
        // The clock's reference word: a store the lane does not wait for (loading it first to
        // skip the store would put one more round trip on every hit).
        atomicStore(gdio_cache_meta[gdio_cache_aux_base + 2u * s], 1u, gl_ScopeDevice,
                    gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
        return GDIO_CACHE_DONE;
    }
    if (mine && st == GDIO_CACHE_FILLING) {
        gdio_cache_count(GDIO_CACHE_COALESCED);
        return GDIO_CACHE_WAIT;
    }
    gdio_cache_release(s);
    return GDIO_CACHE_MISS;
}

// Under the set's lock: the clock hand's next unpinned slot (a second chance for one whose
// reference word is set), moved to FILLING with the tag and one pin. 0xFFFFFFFF if none.
uint gdio_cache_victim(uint set, uint64_t want, inout uint hand) {
    uint found = 0xFFFFFFFFu;
    uint ways = gdio_cache_ways;
    for (uint i = 0u; i < 2u * ways; i++) {
        if (found == 0xFFFFFFFFu) {
            uint s = set * ways + (hand % ways);
            hand = (hand + 1u) % ways;
            uint64_t v = gdio_cache_slot_load(s);
            uint st = gdio_cache_word_state(v);
            uint ref_word = gdio_cache_aux_base + 2u * s;
            bool free_slot = (v & GDIO_CACHE_PIN_MASK) == 0ul && st != GDIO_CACHE_FILLING;
            if (free_slot && st == GDIO_CACHE_VALID
                && atomicLoad(gdio_cache_meta[ref_word], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                              gl_SemanticsRelaxed) != 0u) {
                atomicStore(gdio_cache_meta[ref_word], 0u, gl_ScopeDevice,
                            gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                free_slot = false;
            }
            if (free_slot) {
                uint64_t nw = (want << 24) | (uint64_t(GDIO_CACHE_FILLING) << 20) | 1ul;
                uint64_t seen = atomicCompSwap(gdio_cache_meta64[gdio_cache_slot_base64 + s], v, nw,
                                               gl_ScopeDevice, gl_StorageSemanticsBuffer,
                                               gl_SemanticsAcquire | gl_SemanticsMakeVisible,
                                               gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                if (seen == v) {
                    found = s;
                    if (st == GDIO_CACHE_VALID) {
                        gdio_cache_count(GDIO_CACHE_EVICTIONS);
                    }
                }
            }
        }
    }
    gdio_iters += 2u * ways;
    return found;
}

GdioCacheReq gdio_cache_request(uint file, uint page) {
    GdioCacheReq r;
    r.file = file;
    r.page = page;
    r.phase = GDIO_CACHE_LOOKUP;
    r.slot = 0u;
    r.result = 0;
    r.g = 0u;
    return r;
}

// One bounded step of request `r` (CacheView::step); `qslot` is the lane's own slot of its
// queue, used when this lane fills the page. Returns true once r.phase is DONE (r.result: the
// slot, pinned, or a negative code).
bool gdio_cache_step(inout GdioCacheReq r, uint qslot) {
    uint64_t want = gdio_cache_tag(r.file, r.page);
    uint set = gdio_cache_set_of(r.file, r.page);
    if (r.phase == GDIO_CACHE_DONE) {
        // Nothing: finished.
    } else if (!gdio_cache_ok) {
        r.result = GDIO_CACHE_BAD;
        r.phase = GDIO_CACHE_DONE;
    } else if (r.phase == GDIO_CACHE_LOOKUP) {
        if (r.file >= 256u) {
            r.result = GDIO_BAD_FILE;
            r.phase = GDIO_CACHE_DONE;
        } else {
            uint s = gdio_cache_find(set, want);
            r.phase = s == 0xFFFFFFFFu ? GDIO_CACHE_MISS : gdio_cache_pin(r, s);
        }
    } else if (r.phase == GDIO_CACHE_MISS) {
        uint lock = GDIO_CACHE_SET_BASE + set;
        uint w = atomicLoad(gdio_cache_meta[lock], gl_ScopeDevice, gl_StorageSemanticsBuffer,
                            gl_SemanticsRelaxed) & ~1u;
        uint seen = atomicCompSwap(gdio_cache_meta[lock], w, w | 1u, gl_ScopeDevice,
                                   gl_StorageSemanticsBuffer,
                                   gl_SemanticsAcquire | gl_SemanticsMakeVisible,
                                   gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
        if (seen == w) {
            // The set is ours until the store below; the critical section runs inside this
            // step, so a lane that lost the lock in the same subgroup never waits on it here.
            uint hand = (w >> 8) & 0xFFu;
            uint s = gdio_cache_find(set, want);
            if (s != 0xFFFFFFFFu) {
                r.phase = gdio_cache_pin(r, s);
            } else {
                s = gdio_cache_victim(set, want, hand);
                if (s != 0xFFFFFFFFu) {
                    gdio_cache_count(GDIO_CACHE_MISSES);
                    r.slot = s;
                    r.phase = GDIO_CACHE_FILL;
                } else {
                    gdio_cache_count(GDIO_CACHE_NO_VICTIM);
                    gdio_cache_starved = true;
                }
            }
            atomicStore(gdio_cache_meta[lock], (hand & 0xFFu) << 8, gl_ScopeDevice,
                        gl_StorageSemanticsBuffer, gl_SemanticsRelease | gl_SemanticsMakeAvailable);
        }
    } else if (r.phase == GDIO_CACHE_FILL || r.phase == GDIO_CACHE_READING) {
        if (r.phase == GDIO_CACHE_FILL) {
            gdio_cache_count(GDIO_CACHE_READS);
            uint64_t off = uint64_t(r.page) << gdio_cache_shift;
            r.g = gdio_publish_read(qslot, r.file, gdio_cache_window, r.slot << gdio_cache_shift,
                                    uint(off), uint(off >> 32), 1u << gdio_cache_shift, r.page);
            r.phase = GDIO_CACHE_READING;
        }
        int res = gdio_wait(qslot, r.g, 1u);
        if (res != GDIO_TIMEOUT) {
            uint s = r.slot;
            uint len_word = gdio_cache_aux_base + 2u * s + 1u;
            if (res > 0) {
                atomicStore(gdio_cache_meta[len_word], uint(res), gl_ScopeDevice,
                            gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                atomicStore(gdio_cache_meta[len_word - 1u], 1u, gl_ScopeDevice,
                            gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                atomicAdd(gdio_cache_meta64[gdio_cache_slot_base64 + s],
                          uint64_t(GDIO_CACHE_VALID - GDIO_CACHE_FILLING) << 20, gl_ScopeDevice,
                          gl_StorageSemanticsBuffer, gl_SemanticsRelease | gl_SemanticsMakeAvailable);
                r.result = int(s);
            } else {
                int code = res == 0 ? GDIO_PAST_END : res;
                atomicStore(gdio_cache_meta[len_word], uint(code), gl_ScopeDevice,
                            gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                gdio_cache_count(GDIO_CACHE_FAILED);
                // FAILED and this lane's pin dropped, in one add.
                atomicAdd(gdio_cache_meta64[gdio_cache_slot_base64 + s],
                          (uint64_t(GDIO_CACHE_FAILED_STATE - GDIO_CACHE_FILLING) << 20) - 1ul,
                          gl_ScopeDevice, gl_StorageSemanticsBuffer,
                          gl_SemanticsRelease | gl_SemanticsMakeAvailable);
                r.result = code;
            }
            r.phase = GDIO_CACHE_DONE;
        }
    } else if (r.phase == GDIO_CACHE_WAIT) {
        uint64_t v = atomicLoad(gdio_cache_meta64[gdio_cache_slot_base64 + r.slot], gl_ScopeDevice,
                                gl_StorageSemanticsBuffer,
                                gl_SemanticsAcquire | gl_SemanticsMakeVisible);
        uint st = gdio_cache_word_state(v);
        bool mine = gdio_cache_word_tag(v) == want;
        if (st == GDIO_CACHE_FILLING) {
            // Still in flight.
        } else if (st == GDIO_CACHE_VALID && mine) {
            r.result = int(r.slot);
            r.phase = GDIO_CACHE_DONE;
        } else if (st == GDIO_CACHE_FAILED_STATE && mine) {
            // The filler stores a negative code; anything else is a damaged word, and
            // must never reach the caller as a number that reads like a length or slot.
            int code = gdio_cache_len(r.slot);
            r.result = code < 0 ? code : GDIO_CACHE_BAD;
            gdio_cache_release(r.slot);
            r.phase = GDIO_CACHE_DONE;
        } else {
            // Only garbage written over the slot word gets here.
            gdio_cache_release(r.slot);
            r.result = GDIO_CACHE_BAD;
            r.phase = GDIO_CACHE_DONE;
        }
    } else {
        // A phase no step writes (a garbled saved request).
        r.result = GDIO_CACHE_BAD;
        r.phase = GDIO_CACHE_DONE;
    }
    gdio_iters += 1u;
    return r.phase == GDIO_CACHE_DONE;
}

// Steps `r` until it is done or `budget` steps have run: the slot (pinned: read its page, then
// gdio_cache_release it), a negative code, or GDIO_TIMEOUT (still in progress: call again,
// possibly in a later dispatch with the saved request).
//
// It also returns GDIO_TIMEOUT at once when every way of the page's set is pinned or FILLING.
// Spinning there would wait on pins that other lanes release only after their own
// gdio_cache_get returns, and lanes of one subgroup that left this loop wait at its end for
// the lanes still in it: on a GPU the pins of a whole subgroup would stay held for the
// spinner's full budget. The caller goes on with its loop (releasing what it holds) and calls
// again.
int gdio_cache_get(inout GdioCacheReq r, uint qslot, uint budget) {
    uint i = 0u;
    bool done = r.phase == GDIO_CACHE_DONE;
    gdio_cache_starved = false;
    while (!done && !gdio_cache_starved && i < budget) {
        done = gdio_cache_step(r, qslot);
        i += 1u;
    }
    return done ? r.result : GDIO_TIMEOUT;
}

#endif // GDIO_CACHE_GLSL
