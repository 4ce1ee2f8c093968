/* sampler_random.c — uniform random configurations (weights of categoricals respected). */
#include "sampler_impl.h"

int hb__sampler_random_config(hb_sampler *s, double *x, hb_error *err)
{
    return hb_space_sample(s->space, &s->rng, x, err);
}

static int random_propose(hb_sampler *s, const hb_history *h, const hb_pending *pending,
                          size_t n_pending, double budget, double *x, hb_error *err)
{
    (void)h;
    (void)pending;
    (void)n_pending;
    (void)budget;
    return hb__sampler_random_config(s, x, err);
}

const hb_sampler_ops hb__sampler_random = {
    .name = "random", .state_size = 0, .init = NULL, .propose = random_propose, .fini = NULL, .replayable = 1};
