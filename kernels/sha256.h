/* sha256.h — SHA-256 (FIPS 180-4), for checking data files and saved kernel states. Internal to
 * the kernels (hb__ names); streaming, no allocation, no I/O. */
#ifndef HB_SHA256_H
#define HB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define HB__SHA256_BYTES 32

typedef struct hb__sha256_ctx {
    uint32_t h[8];          /* chaining value */
    uint64_t bytes;         /* message length so far */
    unsigned char blk[64];  /* a partial block */
    size_t used;            /* bytes of 'blk' in use, < 64 */
} hb__sha256_ctx;

void hb__sha256_init(hb__sha256_ctx *c);
/* Append 'n' bytes of 'data' (may be NULL when n is 0). */
void hb__sha256_update(hb__sha256_ctx *c, const void *data, size_t n);
/* Finish: the 32-byte digest in 'out'. 'c' must be initialised again before reuse. */
void hb__sha256_final(hb__sha256_ctx *c, unsigned char out[HB__SHA256_BYTES]);
/* The digest of one buffer. */
void hb__sha256(const void *data, size_t n, unsigned char out[HB__SHA256_BYTES]);
/* 'out' gets the 64 lowercase hex digits of 'digest' and a NUL. */
void hb__sha256_hex(const unsigned char digest[HB__SHA256_BYTES], char out[2 * HB__SHA256_BYTES + 1]);

#endif
