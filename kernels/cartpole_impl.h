/* cartpole_impl.h — the parts of the cartpole kernel (cartpole.c) that its tests call directly:
 * one step of the CartPole-v1 physics and the reset, so the unit tests can check them against the
 * trajectory and reset vectors of docs/kernels.md §7 apart from the learner. Internal to hbmpi. */
#ifndef HB_CARTPOLE_IMPL_H
#define HB_CARTPOLE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "hb_rng.h"

/* One explicit Euler step of the cart-pole (docs/kernels.md §5) with action 'action' (1 pushes right,
 * 0 left) on 's' = (x, x_dot, theta, theta_dot), in place. Returns 1 if the new state is outside
 * the x or theta limits (the episode is over), 0 if not. */
int hb__cartpole_step(double s[4], int action);

/* Reset: each of x, x_dot, theta, theta_dot in that order is -0.05 + 0.1 * double() of 'g'. */
void hb__cartpole_reset(hb_splitmix *g, double s[4]);

/* The saved state of train(): flat little-endian bytes, the same on every machine. The tests use
 * the layout to build states the kernel must refuse, or one about to diverge. */
enum {
    HB__CP_OFF_MAGIC = 0,     /* "hbks": an hbmpi kernel state */
    HB__CP_OFF_VERSION = 4,   /* u32, the layout version (1) */
    HB__CP_OFF_KERNEL = 8,    /* "cartpole", NUL-padded to 16 bytes */
    HB__CP_OFF_SEED = 24,     /* u64 */
    HB__CP_OFF_CONFIG = 32,   /* 5 f64 (their IEEE bits), the configuration trained */
    HB__CP_OFF_EPISODES = 72, /* u32, the budget covered, in episodes */
    HB__CP_OFF_DIVERGED = 76, /* u32, 0 or 1 */
    HB__CP_OFF_W = 80,        /* 5 f64, policy weights */
    HB__CP_OFF_V = 120,       /* 5 f64, baseline weights */
    HB__CP_OFF_RESET = 160,   /* u64, the state of stream 2 (training start states) */
    HB__CP_OFF_ACTION = 168,  /* u64, the state of stream 3 (training actions) */
    HB__CP_OFF_CHECK = 176,   /* u64, hb__cartpole_state_check of bytes [0, 176) */
    HB__CP_STATE_LEN = 184
};

/* The check a state carries over its first 'n' bytes: FNV-1a, 64-bit. */
uint64_t hb__cartpole_state_check(const unsigned char *p, size_t n);

#endif
