/* sampler_impl.h — the sampler operations table, seen only by src/sampler*.c. */
#ifndef HB_SAMPLER_IMPL_H
#define HB_SAMPLER_IMPL_H

#include "hb_sampler.h"

typedef struct hb_sampler_ops {
    const char *name;
    size_t state_size; /* private bytes, zeroed before init */
    int (*init)(hb_sampler *s, hb_error *err); /* may be NULL; s->opts is set */
    int (*propose)(hb_sampler *s, const hb_history *h, const hb_pending *pending,
                   size_t n_pending, double budget, double *x, hb_error *err);
    void (*fini)(hb_sampler *s); /* may be NULL; frees what init and propose allocated */
    /* 1 if a proposal depends only on the history, the pending jobs and the proposal's own
     * random stream (its state is a cache of the history), so a replay may skip it */
    int replayable;
} hb_sampler_ops;

struct hb_sampler {
    const hb_sampler_ops *ops;
    const hb_space *space; /* borrowed */
    hb_sampler_opts opts;  /* copied at create */
    hb_rng rng;            /* the current proposal's stream: seed, stream 1 + its number */
    uint64_t seed;
    uint64_t n_proposed;   /* proposals made (or skipped) so far */
    void *state;           /* owned, ops->state_size bytes */
};

extern const hb_sampler_ops hb__sampler_random;
extern const hb_sampler_ops hb__sampler_grid;
extern const hb_sampler_ops hb__sampler_kde;
extern const hb_sampler_ops hb__sampler_tpe;
extern const hb_sampler_ops hb__sampler_gp;

/* Draw a uniformly random valid configuration (the random sampler's proposal), for samplers
 * that fall back to random search. */
int hb__sampler_random_config(hb_sampler *s, double *x, hb_error *err);

#endif
