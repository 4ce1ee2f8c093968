/* pbt_toy_impl.h — the layout of the pbt_toy kernel's saved state (pbt_toy.c, docs/kernels.md §8), so
 * that its tests can build states the kernel must refuse. Internal to hbmpi. */
#ifndef HB_PBT_TOY_IMPL_H
#define HB_PBT_TOY_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* The gradient-ascent step size η and the initial θ of docs/kernels.md §8. */
#define HB__TOY_ETA 0.01
#define HB__TOY_THETA0 0.9

/* Flat little-endian bytes, the same on every machine; doubles as their IEEE bits. */
enum {
    HB__TOY_OFF_MAGIC = 0,   /* "hbks": an hbmpi kernel state */
    HB__TOY_OFF_VERSION = 4, /* u32, the layout version (1) */
    HB__TOY_OFF_KERNEL = 8,  /* "pbt_toy", NUL-padded to 16 bytes */
    HB__TOY_OFF_H = 24,      /* 2 f64, h0 and h1 of the last training call (information only) */
    HB__TOY_OFF_STEPS = 40,  /* u64, the gradient steps done, at least 1 */
    HB__TOY_OFF_THETA = 48,  /* 2 f64, θ0 and θ1 after them */
    HB__TOY_OFF_CHECK = 64,  /* u64, hb__pbt_toy_state_check of bytes [0, 64) */
    HB__TOY_STATE_LEN = 72
};

/* The check a state carries over its first 'n' bytes: FNV-1a, 64-bit. */
uint64_t hb__pbt_toy_state_check(const unsigned char *p, size_t n);

#endif
