// crc32c.glsl: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-4, with the
// tables in workgroup-shared memory. The standard CRC-32C of a byte string is
//     crc32c_final(crc32c_bytes(0xFFFFFFFF, ...))
// i.e. init 0xFFFFFFFF, final xor 0xFFFFFFFF: the value `rhash --crc32c`, Python's
// `crc32c.crc32c()` and iSCSI/ext4/btrfs use. Per-chunk CRCs combine into the CRC of the whole
// file on the host (gdio_workloads::patterns::crc32c_combine).
//
// The including shader declares, before including:
//   #define GDIO_CRC_TABLE_BINDING n   a readonly storage buffer of 1024 words: the four
//                                      slice-by-4 tables (gdio_workloads::patterns::crc32c_tables)
// and calls crc32c_load_tables() once at the start of main, in uniform control flow (it has a
// barrier), before any invocation returns.
#ifndef GDIO_CRC32C_GLSL
#define GDIO_CRC32C_GLSL

layout(set = 0, binding = GDIO_CRC_TABLE_BINDING, std430) readonly buffer CrcTables {
    uint crc_tables_src[];
};

shared uint crc_t[1024];

// Copies the tables into shared memory. Returns the loop iterations it ran (for lavapipe's
// iteration budget).
uint crc32c_load_tables() {
    uint n = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
    uint iters = 0u;
    for (uint i = gl_LocalInvocationIndex; i < 1024u; i += n) {
        crc_t[i] = crc_tables_src[i];
        iters += 1u;
    }
    barrier();
    return iters;
}

// Four bytes (a little-endian word) into the running (non-finalised) CRC.
uint crc32c_word(uint crc, uint w) {
    uint x = crc ^ w;
    return crc_t[768u + (x & 0xFFu)] ^ crc_t[512u + ((x >> 8) & 0xFFu)]
         ^ crc_t[256u + ((x >> 16) & 0xFFu)] ^ crc_t[x >> 24];
}

// One byte into the running CRC.
uint crc32c_byte(uint crc, uint b) {
    return crc_t[(crc ^ b) & 0xFFu] ^ (crc >> 8);
}

// The first `nbytes` (0..=3) bytes of little-endian word `w` into the running CRC.
uint crc32c_tail(uint crc, uint w, uint nbytes) {
    uint c = crc;
    for (uint i = 0u; i < 3u; i++) {
        if (i < nbytes) {
            c = crc32c_byte(c, (w >> (8u * i)) & 0xFFu);
        }
    }
    return c;
}

// Sixteen bytes (four little-endian words) into the running CRC.
uint crc32c_vec4(uint crc, uvec4 v) {
    return crc32c_word(crc32c_word(crc32c_word(crc32c_word(crc, v.x), v.y), v.z), v.w);
}

// The first `nbytes` (0..=15) bytes of `v` into the running CRC.
uint crc32c_vec4_head(uint crc, uvec4 v, uint nbytes) {
    uint c = crc;
    uint words = nbytes / 4u;
    for (uint i = 0u; i < 3u; i++) {
        if (i < words) {
            c = crc32c_word(c, v[i]);
        }
    }
    uint tail = nbytes & 3u;
    if (tail != 0u) {
        c = crc32c_tail(c, v[words], tail);
    }
    return c;
}

#endif
