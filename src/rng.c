/* rng.c — xoshiro256** for the optimiser, SplitMix64 for the kernels and for seeding.
 * Pure arithmetic: no global state, no clock. */
#include "hb_rng.h"

#include <math.h>

#define SM_GAMMA 0x9E3779B97F4A7C15ULL
#define SM_STREAM 0xD1B54A32D192ED03ULL

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void hb_splitmix_init(hb_splitmix *g, uint64_t seed, uint64_t stream)
{
    g->state = seed ^ (stream * SM_STREAM);
}

uint64_t hb_splitmix_next(hb_splitmix *g)
{
    g->state += SM_GAMMA;
    return mix64(g->state);
}

double hb_splitmix_double(hb_splitmix *g)
{
    return (double)(hb_splitmix_next(g) >> 11) * 0x1.0p-53;
}

uint64_t hb_hash2(uint64_t a, uint64_t b)
{
    return mix64(mix64(a + SM_GAMMA) ^ (b * SM_STREAM + 0x632BE59BD9B4E019ULL));
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void hb_rng_init(hb_rng *r, uint64_t seed, uint64_t stream)
{
    hb_splitmix g;
    g.state = hb_hash2(seed, stream);
    for (int i = 0; i < 4; i++) r->s[i] = hb_splitmix_next(&g);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = SM_GAMMA;
}

uint64_t hb_rng_next(hb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void hb_rng_split(hb_rng *parent, hb_rng *child)
{
    uint64_t a = hb_rng_next(parent);
    hb_rng_init(child, a, 0x5851F42D4C957F2DULL);
}

void hb_rng_save(const hb_rng *r, uint64_t out[HB_RNG_STATE_WORDS])
{
    for (int i = 0; i < 4; i++) out[i] = r->s[i];
}

int hb_rng_restore(hb_rng *r, const uint64_t in[HB_RNG_STATE_WORDS])
{
    if ((in[0] | in[1] | in[2] | in[3]) == 0) return HB_EINVAL;
    for (int i = 0; i < 4; i++) r->s[i] = in[i];
    return HB_OK;
}

double hb_rng_uniform(hb_rng *r) { return (double)(hb_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t hb_rng_below(hb_rng *r, uint64_t n)
{
    /* Rejection on the top of the range keeps every value equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = hb_rng_next(r);
    while (v >= limit);
    return v % n;
}

double hb_rng_normal(hb_rng *r)
{
    double u1 = 1.0 - hb_rng_uniform(r); /* (0, 1] */
    double u2 = hb_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
