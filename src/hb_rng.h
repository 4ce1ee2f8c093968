/* hb_rng.h — the optimiser's seeded random numbers (xoshiro256**), and SplitMix64 streams
 * exactly as docs/kernels.md §1.1 defines them for the kernels. Never rand(), never a clock seed. */
#ifndef HB_RNG_H
#define HB_RNG_H

#include "hb_common.h"

/* A caller-placed generator. Copying the struct copies the stream. */
typedef struct hb_rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero */
} hb_rng;

/* Number of 64-bit words in a saved state. */
#define HB_RNG_STATE_WORDS 4

/* Seed stream 'stream' of 'seed'. Different (seed, stream) pairs give independent streams. */
HB_API void hb_rng_init(hb_rng *r, uint64_t seed, uint64_t stream);

/* Derive an independent child stream from 'parent' (advances the parent by one draw). */
HB_API void hb_rng_split(hb_rng *parent, hb_rng *child);

/* Save and restore the exact state (resume needs it). */
HB_API void hb_rng_save(const hb_rng *r, uint64_t out[HB_RNG_STATE_WORDS]);
HB_API int hb_rng_restore(hb_rng *r, const uint64_t in[HB_RNG_STATE_WORDS]);

HB_API uint64_t hb_rng_next(hb_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
HB_API double hb_rng_uniform(hb_rng *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
HB_API uint64_t hb_rng_below(hb_rng *r, uint64_t n);
/* Standard normal (Box-Muller, no cached second value so the state alone defines the stream). */
HB_API double hb_rng_normal(hb_rng *r);

/* SplitMix64 (docs/kernels.md §1.1). Stream k of seed s starts at s ^ (k * 0xD1B54A32D192ED03). */
typedef struct hb_splitmix {
    uint64_t state;
} hb_splitmix;

HB_API void hb_splitmix_init(hb_splitmix *g, uint64_t seed, uint64_t stream);
HB_API uint64_t hb_splitmix_next(hb_splitmix *g);
/* (next() >> 11) * 2^-53, in [0, 1). */
HB_API double hb_splitmix_double(hb_splitmix *g);

/* A well-mixed 64-bit hash of two words (used to derive per-trial seeds). */
HB_API uint64_t hb_hash2(uint64_t a, uint64_t b);

#endif
