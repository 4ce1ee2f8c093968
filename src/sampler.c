/* sampler.c — the sampler registry and the public calls that check arguments and dispatch. */
#include <string.h>

#include "sampler_impl.h"

static const hb_sampler_ops *const registry[] = {&hb__sampler_random, &hb__sampler_grid,
                                                  &hb__sampler_kde, &hb__sampler_tpe,
                                                  &hb__sampler_gp};

void hb_sampler_opts_init(hb_sampler_opts *o)
{
    o->random_fraction = 1.0 / 3.0;
    o->top_n_percent = 15;
    o->num_samples = 64;
    o->bandwidth_factor = 3;
    o->min_bandwidth = 1e-3;
    o->min_points_in_model = 0;
    o->acquisition = HB_ACQ_EI;
    o->grid_points = 5;
}

static int check_opts(const hb_sampler_opts *o, hb_error *err)
{
    if (!(o->random_fraction >= 0 && o->random_fraction <= 1))
        return hb_error_set(err, HB_EINVAL, NULL, "random_fraction must be in [0, 1], got %g",
                            o->random_fraction);
    if (!(o->top_n_percent > 0 && o->top_n_percent < 100))
        return hb_error_set(err, HB_EINVAL, NULL, "top_n_percent must be in (0, 100), got %g",
                            o->top_n_percent);
    if (o->num_samples < 1)
        return hb_error_set(err, HB_EINVAL, NULL, "num_samples must be at least 1, got %d", o->num_samples);
    if (!(o->bandwidth_factor > 0))
        return hb_error_set(err, HB_EINVAL, NULL, "bandwidth_factor must be > 0, got %g", o->bandwidth_factor);
    if (!(o->min_bandwidth > 0))
        return hb_error_set(err, HB_EINVAL, NULL, "min_bandwidth must be > 0, got %g", o->min_bandwidth);
    if (o->min_points_in_model < 0)
        return hb_error_set(err, HB_EINVAL, NULL, "min_points_in_model must be >= 0, got %d",
                            o->min_points_in_model);
    if (o->acquisition != HB_ACQ_EI && o->acquisition != HB_ACQ_PI)
        return hb_error_set(err, HB_EINVAL, NULL, "unknown acquisition function");
    if (o->grid_points < 2)
        return hb_error_set(err, HB_EINVAL, NULL, "grid_points must be at least 2, got %d", o->grid_points);
    return HB_OK;
}

static const hb_sampler_ops *find(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, kind) == 0) return registry[i];
    return NULL;
}

int hb_sampler_exists(const char *kind) { return find(kind) != NULL; }

int hb_sampler_create(const char *kind, const hb_space *space, uint64_t seed,
                      const hb_sampler_opts *opts, hb_sampler **out, hb_error *err)
{
    *out = NULL;
    if (space == NULL) return hb_error_set(err, HB_EINVAL, NULL, "sampler needs a space");
    hb_sampler_opts o;
    if (opts)
        o = *opts;
    else
        hb_sampler_opts_init(&o);
    int rc = check_opts(&o, err);
    if (rc != HB_OK) return rc;
    const hb_sampler_ops *ops = find(kind);
    if (ops == NULL) return hb_error_set(err, HB_ENOTFOUND, NULL, "unknown sampler '%s'", kind ? kind : "");
    hb_sampler *s = hb_calloc(1, sizeof *s);
    if (s == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    s->ops = ops;
    s->space = space;
    s->opts = o;
    s->seed = seed;
    hb_rng_init(&s->rng, seed, 1);
    if (ops->state_size && (s->state = hb_calloc(1, ops->state_size)) == NULL) {
        hb_free(s);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    rc = ops->init ? ops->init(s, err) : HB_OK;
    if (rc != HB_OK) {
        hb_sampler_free(s);
        return rc;
    }
    *out = s;
    return HB_OK;
}

void hb_sampler_free(hb_sampler *s)
{
    if (s == NULL) return;
    if (s->ops->fini) s->ops->fini(s);
    hb_free(s->state);
    hb_free(s);
}

int hb_sampler_propose(hb_sampler *s, const hb_history *h, const hb_pending *pending,
                       size_t n_pending, double budget, double *x, hb_error *err)
{
    if (s == NULL || h == NULL || x == NULL || (n_pending && pending == NULL))
        return hb_error_set(err, HB_EINVAL, NULL, "bad arguments");
    /* each proposal draws from a stream of its own, so that a replay can skip proposals */
    hb_rng_init(&s->rng, s->seed, 1 + s->n_proposed++);
    return s->ops->propose(s, h, pending, n_pending, budget, x, err);
}

int hb_sampler_skip(hb_sampler *s)
{
    if (s == NULL || !s->ops->replayable) return HB_EINVAL;
    s->n_proposed++;
    return HB_OK;
}

