/* sampler_impl.h — the sampler operations table, seen only by src/sampler*.c. */
#ifndef HB_SAMPLER_IMPL_H
#define HB_SAMPLER_IMPL_H

#include "hb_sampler.h"

typedef struct hb_sampler_ops {
    const char *name;
    size_t state_size; /* private bytes, zeroed before init */
    int (*init)(hb_sampler *s, hb_error *err);
    int (*propose)(hb_sampler *s, const hb_history *h, double budget, double *x, hb_error *err);
    void (*fini)(hb_sampler *s); /* may be NULL */
} hb_sampler_ops;

struct hb_sampler {
    const hb_sampler_ops *ops;
    const hb_space *space; /* borrowed */
    hb_rng rng;            /* own stream */
    void *state;           /* owned, ops->state_size bytes */
};

extern const hb_sampler_ops hb__sampler_random;

#endif
