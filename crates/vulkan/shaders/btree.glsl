// btree.glsl: searching one node of gdio's on-disk B-tree (the format `gdio gen btree`
// writes; the Rust side is in crates/cli/src/btree.rs). Nodes are 4096 bytes, little-endian:
//   word 0       kind: 1 leaf, 2 internal
//   word 1       n: keys in the node (leaf 1..=255, internal 1..=254)
//   words 2..3   reserved
//   words 4..    keys[255]: u64 (lo word, hi word), sorted ascending
//   words 514..  leaf: values[255] (u64); internal: children[255] (u64 file offsets);
//                child i holds the keys k with keys[i-1] <= k < keys[i].
// The including shader defines BTREE_NODE(i), an expression for word i of the node, and
// BTREE_QUAD(q), one for words 4q..4q+3 as a uvec4 (a uvec4 view of the same buffer; nodes
// start 16-byte aligned).
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

// Number of keys <= t among the node's first n keys (n <= 255), and in `last` the greatest
// key <= t (meaningful when the count is > 0).
//
// Two rounds of independent loads, not a binary search's eight dependent probes: a node has
// just arrived from the host, and on the H100 each dependent read of it costs ~150 ns (measured:
// eight chained reads of a fresh 4 KiB READ window add 1.25 µs to its round trip; sixteen
// independent ones, 0.2 µs). Round 1 loads the quads holding each 16-key block's last key (15
// pivots) and counts those <= t; round 2 loads the 8 quads of the one block that can hold the
// answer. Measured on the H100 in the resident lookup kernel, against the binary search: the
// device turnaround per level went from 5.16-5.28 to 4.70-4.82 µs on one machine and from
// 4.51-4.66 to 4.39-4.47 µs on another (three runs each). Loads are not bounded by
// n, which arrives in round 1 too: quads stay below 129, inside the 4096-byte node, and keys at
// or past n are masked off. Key i is in quad 1 + i/2, .xy for even i, .zw for odd i.
uint btree_upper_bound(uint n, uvec2 t, out uvec2 last) {
    uvec4 pq[BTREE_PIVOTS];
    [[unroll]] for (uint j = 0u; j < BTREE_PIVOTS; j++) {
        pq[j] = BTREE_QUAD((BTREE_BLOCK / 2u) * j + BTREE_BLOCK / 2u); // .zw: key 16j+15
    }
    last = uvec2(0u);
    uint blocks = 0u;
    [[unroll]] for (uint j = 0u; j < BTREE_PIVOTS; j++) {
        if (BTREE_BLOCK * j + (BTREE_BLOCK - 1u) < n && btree_le(pq[j].zw, t)) {
            blocks++;
            last = pq[j].zw;
        }
    }
    uint base = BTREE_BLOCK * blocks;
    uvec4 bq[BTREE_BLOCK / 2u];
    [[unroll]] for (uint m = 0u; m < BTREE_BLOCK / 2u; m++) {
        bq[m] = BTREE_QUAD(1u + base / 2u + m);
    }
    uint within = 0u;
    [[unroll]] for (uint m = 0u; m < BTREE_BLOCK / 2u; m++) {
        if (base + 2u * m < n && btree_le(bq[m].xy, t)) {
            within++;
            last = bq[m].xy;
        }
        if (base + 2u * m + 1u < n && btree_le(bq[m].zw, t)) {
            within++;
            last = bq[m].zw;
        }
    }
    return base + within;
}

// One step of a lookup of key t in the node: returns (status, lo, hi) as in the results.
uvec3 btree_step(uvec2 t) {
    uint kind = BTREE_NODE(0u);
    uint n = BTREE_NODE(1u);
    // Searched before the header is checked, so that the header's loads share round 1; a bad
    // header still ends as BT_CORRUPT below.
    uvec2 last;
    uint i = btree_upper_bound(min(n, 255u), t, last);
    if (kind == BTREE_INTERNAL && n >= 1u && n <= 254u) {
        return uvec3(BT_ACTIVE, BTREE_NODE(BTREE_VALUES + 2u * i),
                     BTREE_NODE(BTREE_VALUES + 2u * i + 1u));
    }
    if (kind == BTREE_LEAF && n <= 255u) {
        // The last key <= t is at i-1: found if it equals t. (On a leaf whose keys are out of
        // order, a damaged index, `last` is the last key <= t in scan order: the answer is some
        // key's value, always from inside the node, as with any search of unsorted keys.)
        if (i > 0u && last == t) {
            return uvec3(BT_FOUND, BTREE_NODE(BTREE_VALUES + 2u * (i - 1u)),
                         BTREE_NODE(BTREE_VALUES + 2u * (i - 1u) + 1u));
        }
        return uvec3(BT_ABSENT, 0u, 0u);
    }
    return uvec3(BT_CORRUPT, kind, n);
}

#endif
