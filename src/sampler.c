/* sampler.c — the sampler registry and the public calls that check arguments and dispatch. */
#include <string.h>

#include "sampler_impl.h"

static const hb_sampler_ops *const registry[] = {&hb__sampler_random};

static const hb_sampler_ops *find(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, kind) == 0) return registry[i];
    return NULL;
}

int hb_sampler_exists(const char *kind) { return find(kind) != NULL; }

int hb_sampler_create(const char *kind, const hb_space *space, uint64_t seed, hb_sampler **out,
                      hb_error *err)
{
    *out = NULL;
    if (space == NULL) return hb_error_set(err, HB_EINVAL, NULL, "sampler needs a space");
    const hb_sampler_ops *ops = find(kind);
    if (ops == NULL) return hb_error_set(err, HB_ENOTFOUND, NULL, "unknown sampler '%s'", kind ? kind : "");
    hb_sampler *s = hb_calloc(1, sizeof *s);
    if (s == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    s->ops = ops;
    s->space = space;
    hb_rng_init(&s->rng, seed, 1);
    if (ops->state_size && (s->state = hb_calloc(1, ops->state_size)) == NULL) {
        hb_free(s);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    int rc = ops->init ? ops->init(s, err) : HB_OK;
    if (rc != HB_OK) {
        hb_free(s->state);
        hb_free(s);
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

int hb_sampler_propose(hb_sampler *s, const hb_history *h, double budget, double *x, hb_error *err)
{
    if (s == NULL || x == NULL) return hb_error_set(err, HB_EINVAL, NULL, "bad arguments");
    return s->ops->propose(s, h, budget, x, err);
}

const char *hb_sampler_name(const hb_sampler *s) { return s->ops->name; }
