// btree.glsl: searching one node of gdio's on-disk B-tree (the format `gdio gen btree`
// writes; the Rust side is in crates/cli/src/btree.rs). Nodes are 4096 bytes, little-endian:
//   word 0       kind: 1 leaf, 2 internal
//   word 1       n: keys in the node (leaf 1..=255, internal 1..=254)
//   words 2..3   reserved
//   words 4..    keys[255]: u64 (lo word, hi word), sorted ascending
//   words 514..  leaf: values[255] (u64); internal: children[255] (u64 file offsets);
//                child i holds the keys k with keys[i-1] <= k < keys[i].
// The including shader defines BTREE_QUAD(q), an expression for words 4q..4q+3 of the node as
// a uvec4 (through a uvec4 view of its buffer; nodes start 16-byte aligned).
#ifndef GDIO_BTREE_GLSL
#define GDIO_BTREE_GLSL

#extension GL_EXT_control_flow_attributes : require

const uint BTREE_LEAF = 1u;
const uint BTREE_INTERNAL = 2u;
const uint BTREE_KEYS = 4u;
const uint BTREE_VALUES = 514u;
// Results (4 words per key): status, value/offset lo, value/offset hi, nodes read.
const uint BT_ACTIVE = 0u;   // still walking: words 1..2 are the next node's offset
const uint BT_FOUND = 1u;    // words 1..2 are the value
const uint BT_ABSENT = 2u;   // the key is not in the tree
const uint BT_CORRUPT = 3u;  // a node was not a valid node
const uint BT_FAILED = 4u;   // a node's READ failed: word 1 is its result (btree_serve.comp)

// a <= b for u64 as (lo, hi).
bool btree_le(uvec2 a, uvec2 b) {
    return a.y < b.y || (a.y == b.y && a.x <= b.x);
}

// Keys per block of the search below; the last key of each block is a pivot.
const uint BTREE_BLOCK = 16u;
const uint BTREE_PIVOTS = BTREE_BLOCK - 1u;

// Loop iterations one btree_step runs: none. Its loops are unrolled at compile time
// ([[unroll]], carried out by glslc's optimizer in the SPIR-V itself), so lavapipe's cap of
// 65,535 iterations per invocation does not see them. Shaders add this per step all the same,
// so that a search written with a real loop only has to change the number.
const uint BTREE_STEP_ITERS = 1u;

// Values (a leaf's values, an internal node's children) are u64 at words 514 + 2x: value 2y-1
// is quad 128+y .xy and value 2y is quad 128+y .zw (value 0 is quad 128 .zw).
const uint BTREE_VALUE_QUAD0 = 128u;

// What one search of a node found: `i`, the number of keys <= t among its first n keys;
// `last`, the greatest key <= t (meaningful when i > 0); and values i and i-1 (a child to
// descend to, or the value of key i-1 on a leaf), taken from loads made in the search's own
// rounds, so that reading them adds no dependent round.
struct BtreeFound {
    uint i;
    uvec2 last;
    uvec2 value_i;
    uvec2 value_before;
};

// Value `base + m*2 - 1` (.xy) or `base + m*2` (.zw) from 9 quads loaded at 128 + base/2.
uvec2 btree_pick_value(uvec4 vq[9], uint m, bool odd) {
    uvec4 q = vq[0];
    [[unroll]] for (uint k = 1u; k < 9u; k++) {
        if (m == k) {
            q = vq[k];
        }
    }
    return odd ? q.xy : q.zw;
}

// The search of a node's first n keys (n <= 255) for t.
//
// Two rounds of independent loads, not a binary search's eight dependent probes: a node has
// just arrived from the host, and on the H100 each dependent read of it costs ~150 ns (measured:
// eight chained reads of a fresh 4 KiB READ window add 1.25 µs to its round trip; sixteen
// independent ones, 0.2 µs). Round 1 loads the quads holding each 16-key block's last key (15
// pivots) and counts those <= t; round 2 loads the 8 quads of the one block that can hold the
// answer and, beside them, the 9 quads holding the values that block can lead to (values base-1
// to base+16), so that the child or value needs no third round. Measured in the resident lookup
// kernel on the H100 against the binary search: device turnaround per level 5.16-5.28 to
// 4.70-4.82 µs on one machine, 4.51-4.66 to 4.39-4.47 µs on another (three runs each). Taking
// the value in round 2 instead of a third round of its own measured the same (4.38-4.52 against
// 4.36-4.44 µs, three runs each, one machine); on GPUs btree_step_coop below is faster still.
// Loads are not bounded by n, which arrives in round 1 too: quads stay below 256, inside the
// 4096-byte node (the 9th value quad of the last block is clamped; it would hold values 255 and
// 256, and value 255 is picked only as value i of a full leaf, which leaves do not use), and
// keys at or past n are masked off. Key i is in quad 1 + i/2, .xy for
// even i, .zw for odd i.
BtreeFound btree_find(uint n, uvec2 t) {
    uvec4 pq[BTREE_PIVOTS];
    [[unroll]] for (uint j = 0u; j < BTREE_PIVOTS; j++) {
        pq[j] = BTREE_QUAD((BTREE_BLOCK / 2u) * j + BTREE_BLOCK / 2u); // .zw: key 16j+15
    }
    BtreeFound f;
    f.last = uvec2(0u);
    uint blocks = 0u;
    [[unroll]] for (uint j = 0u; j < BTREE_PIVOTS; j++) {
        if (BTREE_BLOCK * j + (BTREE_BLOCK - 1u) < n && btree_le(pq[j].zw, t)) {
            blocks++;
            f.last = pq[j].zw;
        }
    }
    uint base = BTREE_BLOCK * blocks;
    uvec4 bq[BTREE_BLOCK / 2u];
    uvec4 vq[9];
    [[unroll]] for (uint m = 0u; m < BTREE_BLOCK / 2u; m++) {
        bq[m] = BTREE_QUAD(1u + base / 2u + m);
    }
    [[unroll]] for (uint m = 0u; m < 9u; m++) {
        vq[m] = BTREE_QUAD(min(BTREE_VALUE_QUAD0 + base / 2u + m, 255u));
    }
    uint within = 0u;
    [[unroll]] for (uint m = 0u; m < BTREE_BLOCK / 2u; m++) {
        if (base + 2u * m < n && btree_le(bq[m].xy, t)) {
            within++;
            f.last = bq[m].xy;
        }
        if (base + 2u * m + 1u < n && btree_le(bq[m].zw, t)) {
            within++;
            f.last = bq[m].zw;
        }
    }
    f.i = base + within;
    // Value base+w: quad (w+1)/2, .xy when w is odd; value base+w-1: quad w/2, .xy when w is even.
    f.value_i = btree_pick_value(vq, (within + 1u) / 2u, (within & 1u) == 1u);
    f.value_before = btree_pick_value(vq, within / 2u, (within & 1u) == 0u);
    return f;
}

// What a node says of key t, once its search found `f`: (status, lo, hi) as in the results.
uvec3 btree_answer(uint kind, uint n, uvec2 t, uint i, uvec2 last, uvec2 value_i,
                   uvec2 value_before) {
    if (kind == BTREE_INTERNAL && n >= 1u && n <= 254u) {
        return uvec3(BT_ACTIVE, value_i);
    }
    if (kind == BTREE_LEAF && n <= 255u) {
        // The last key <= t is at i-1: found if it equals t. (On a leaf whose keys are out of
        // order, a damaged index, `last` is the last key <= t in scan order: the answer is some
        // key's value, always from inside the node, as with any search of unsorted keys.)
        if (i > 0u && last == t) {
            return uvec3(BT_FOUND, value_before);
        }
        return uvec3(BT_ABSENT, 0u, 0u);
    }
    return uvec3(BT_CORRUPT, kind, n);
}

// One step of a lookup of key t in the node: returns (status, lo, hi) as in the results.
uvec3 btree_step(uvec2 t) {
    uvec4 head = BTREE_QUAD(0u);
    // Searched before the header is checked, so that the header's load shares round 1; a bad
    // header still ends as BT_CORRUPT.
    BtreeFound f = btree_find(min(head.y, 255u), t);
    return btree_answer(head.x, head.y, t, f.i, f.last, f.value_i, f.value_before);
}

#ifdef BTREE_COOP
// ---- The cooperative search: one walker is a whole subgroup -------------------------------
// The including shader defines BTREE_COOP and, as a constant (a specialization constant will
// do), BTREE_COOP_LANES: the lanes of the walker, which must be one whole subgroup (a power of
// two, 1..128; check with btree_coop_fits()). It needs GL_KHR_shader_subgroup_arithmetic,
// _ballot and _shuffle.
//
// Every lane loads its share of the node's keys and values in one round (128 / lanes quads of
// each: 4 + 4 for a warp of 32), counts its keys <= t, and a subgroup sum gives the rank; the
// value and the key the answer needs come from the lanes that loaded them by shuffle. One round
// of loads of the fresh node instead of btree_find's two, and no lane walks 33 quads alone.
// Every lane returns the same answer. Measured on the H100 in the resident lookup kernel, one
// key per batch, against one invocation per lane (three runs each, one machine): device
// turnaround per level 4.36-4.52 to 3.66-3.76 µs.

const uint BTREE_COOP_QUADS = 128u / BTREE_COOP_LANES;

// True when this subgroup is exactly the walker (its size is BTREE_COOP_LANES, and the
// workgroup holds one subgroup): otherwise use btree_step in every lane. The one-subgroup
// workgroup is also what lets a walker run subgroup operations right after a block only its
// leader entered: Vulkan promises that control flow reconverges there across the workgroup.
bool btree_coop_fits() {
    return gl_SubgroupSize == BTREE_COOP_LANES && gl_NumSubgroups == 1u;
}

// Quad register r (the same r in every lane) of each lane: kq or vq, picked without indexing
// the arrays dynamically (which would put them in local memory).
uvec4 btree_coop_pick(uvec4 a[BTREE_COOP_QUADS], uint r) {
    uvec4 q = a[0];
    [[unroll]] for (uint k = 1u; k < BTREE_COOP_QUADS; k++) {
        if (k == r) {
            q = a[k];
        }
    }
    return q;
}

// Value x (< 255) from the lanes that loaded it: value 0 is key quad 127's .zw; value x >= 1
// is value quad (x-1)/2, .xy when x is odd.
uvec2 btree_coop_value(uvec4 kq[BTREE_COOP_QUADS], uvec4 vq[BTREE_COOP_QUADS], uint x) {
    uint m = x == 0u ? 127u : (x - 1u) / 2u;
    uvec4 q = x == 0u ? btree_coop_pick(kq, m / BTREE_COOP_LANES)
                      : btree_coop_pick(vq, m / BTREE_COOP_LANES);
    uvec2 v = (x & 1u) == 1u ? q.xy : q.zw;
    return subgroupShuffle(v, m % BTREE_COOP_LANES);
}

// Key x (< 255): key quad x/2, .zw when x is odd.
uvec2 btree_coop_key(uvec4 kq[BTREE_COOP_QUADS], uint x) {
    uint m = x / 2u;
    uvec4 q = btree_coop_pick(kq, m / BTREE_COOP_LANES);
    uvec2 k = (x & 1u) == 1u ? q.zw : q.xy;
    return subgroupShuffle(k, m % BTREE_COOP_LANES);
}

// btree_step by the whole subgroup (call it in every lane, converged, with the same t).
uvec3 btree_step_coop(uvec2 t) {
    uint me = gl_SubgroupInvocationID;
    uvec4 head = BTREE_QUAD(0u);
    // Lane me loads key quads me + lanes*r (keys 2m, 2m+1, in quad 1+m) and value quads
    // 129 + m (values 2m+1, 2m+2); the last one, 256, is past the node and clamped (unused).
    uvec4 kq[BTREE_COOP_QUADS];
    uvec4 vq[BTREE_COOP_QUADS];
    [[unroll]] for (uint r = 0u; r < BTREE_COOP_QUADS; r++) {
        uint m = me + BTREE_COOP_LANES * r;
        kq[r] = BTREE_QUAD(1u + m);
        vq[r] = BTREE_QUAD(min(BTREE_VALUE_QUAD0 + 1u + m, 255u));
    }
    uint n = min(head.y, 255u);
    uint c = 0u;
    [[unroll]] for (uint r = 0u; r < BTREE_COOP_QUADS; r++) {
        uint m = me + BTREE_COOP_LANES * r;
        if (2u * m < n && btree_le(kq[r].xy, t)) {
            c++;
        }
        if (2u * m + 1u < n && btree_le(kq[r].zw, t)) {
            c++;
        }
    }
    uint i = subgroupAdd(c);
    uint before = i > 0u ? i - 1u : 0u;
    uvec2 value_i = btree_coop_value(kq, vq, min(i, 254u));
    uvec2 value_before = btree_coop_value(kq, vq, before);
    uvec2 key_before = btree_coop_key(kq, before);
    return btree_answer(head.x, head.y, t, i, key_before, value_i, value_before);
}

// Loop iterations one btree_step_coop runs where loops are not unrolled (its loops' trip counts
// are specialization constants): for lavapipe's cap.
const uint BTREE_COOP_STEP_ITERS = 5u * BTREE_COOP_QUADS;
#endif

#endif
