/* sampler_random.c — uniform random configurations (weights of categoricals respected). */
#include "sampler_impl.h"

static int random_propose(hb_sampler *s, const hb_history *h, double budget, double *x,
                          hb_error *err)
{
    (void)h;
    (void)budget;
    return hb_space_sample(s->space, &s->rng, x, err);
}

const hb_sampler_ops hb__sampler_random = {
    .name = "random", .state_size = 0, .init = NULL, .propose = random_propose, .fini = NULL};
