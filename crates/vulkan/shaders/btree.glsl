// btree.glsl: searching one node of gdio's on-disk B-tree (the format `gdio gen btree`
// writes; the Rust side is in crates/cli/src/btree.rs). Nodes are 4096 bytes, little-endian:
//   word 0       kind: 1 leaf, 2 internal
//   word 1       n: keys in the node (leaf 1..=255, internal 1..=254)
//   words 2..3   reserved
//   words 4..    keys[255]: u64 (lo word, hi word), sorted ascending
//   words 514..  leaf: values[255] (u64); internal: children[255] (u64 file offsets);
//                child i holds the keys k with keys[i-1] <= k < keys[i].
// The including shader defines BTREE_NODE(i), an expression for word i of the node.
#ifndef GDIO_BTREE_GLSL
#define GDIO_BTREE_GLSL

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

uvec2 btree_key(uint i) {
    return uvec2(BTREE_NODE(BTREE_KEYS + 2u * i), BTREE_NODE(BTREE_KEYS + 2u * i + 1u));
}

// Loop iterations one btree_step runs (the search's fixed steps): shaders that count their
// iterations (lavapipe's cap of 65,535 per invocation) add this per step.
const uint BTREE_STEP_ITERS = 9u;

// Number of keys <= t among the node's first n keys (n <= 255): 9 fixed steps, no loop exit.
uint btree_upper_bound(uint n, uvec2 t) {
    uint lo = 0u;
    uint hi = n;
    for (uint it = 0u; it < BTREE_STEP_ITERS; it++) {
        if (lo < hi) {
            uint mid = (lo + hi) >> 1;
            if (btree_le(btree_key(mid), t)) {
                lo = mid + 1u;
            } else {
                hi = mid;
            }
        }
    }
    return lo;
}

// One step of a lookup of key t in the node: returns (status, lo, hi) as in the results.
uvec3 btree_step(uvec2 t) {
    uint kind = BTREE_NODE(0u);
    uint n = BTREE_NODE(1u);
    if (kind == BTREE_INTERNAL && n >= 1u && n <= 254u) {
        uint i = btree_upper_bound(n, t);
        return uvec3(BT_ACTIVE, BTREE_NODE(BTREE_VALUES + 2u * i),
                     BTREE_NODE(BTREE_VALUES + 2u * i + 1u));
    }
    if (kind == BTREE_LEAF && n <= 255u) {
        uint i = btree_upper_bound(n, t);
        // The last key <= t is at i-1: found if it equals t.
        if (i > 0u && btree_key(i - 1u) == t) {
            return uvec3(BT_FOUND, BTREE_NODE(BTREE_VALUES + 2u * (i - 1u)),
                         BTREE_NODE(BTREE_VALUES + 2u * (i - 1u) + 1u));
        }
        return uvec3(BT_ABSENT, 0u, 0u);
    }
    return uvec3(BT_CORRUPT, kind, n);
}

#endif
