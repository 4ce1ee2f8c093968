/* sampler_grid.c — grid search: every combination of K evenly spaced values per numeric
 * parameter and every choice of the others, in a fixed order (the LAST parameter varies
 * fastest), each distinct allowed configuration once, then HB_SAMPLER_EXHAUSTED. Deterministic:
 * it uses neither the random stream nor the history. Knows the space only through hb_space.h. */
#include <math.h>
#include <string.h>

#include "sampler_impl.h"

/* Largest grid (before conditions and forbiddens thin it) the sampler agrees to walk. */
#define GRID_MAX_POINTS 10000000u

/* The grid is walked with an odometer over per-parameter value indices; nothing is
 * materialised. Duplicates from conditions need no memory either: a grid point is proposed
 * only if every parameter that is inactive under it sits at index 0. Since an inactive
 * parameter decodes to NaN whatever its index, and activity depends only on the values of
 * active parents, every configuration has exactly one such point (given that the values of
 * one parameter are distinct, which init ensures). */
typedef struct grid_state {
    size_t dim;
    size_t *n_values; /* distinct grid values of each parameter */
    size_t *offset;   /* where each parameter's values start in 'unit' */
    double *unit;     /* unit-cube coordinates of all grid values, parameter after parameter */
    size_t *idx;      /* the odometer: current value index of each parameter */
    double *u;        /* scratch: the current point in the unit cube */
    double *x;        /* scratch: the current point decoded (native, conditions applied) */
    int done;         /* 1 once the odometer has gone past the last point */
} grid_state;

static int oom(hb_error *err) { return hb_error_set(err, HB_ENOMEM, NULL, "out of memory"); }

static int is_numeric(hb_param_type t) { return t == HB_PARAM_FLOAT || t == HB_PARAM_INT; }

/* A one-parameter copy of numeric parameter 'i' of 'sp', so that values can be decoded by the
 * space itself (log scale, integer rounding) without the conditions of the full space. */
static int scratch_space(const hb_space *sp, size_t i, hb_space **out, hb_error *err)
{
    hb_space *one = NULL;
    int rc;
    *out = NULL;
    if (hb_space_create(&one) != HB_OK) return oom(err);
    if (hb_space_type(sp, i) == HB_PARAM_INT)
        rc = hb_space_add_int(one, "p", hb_space_lower(sp, i), hb_space_upper(sp, i),
                              hb_space_scale(sp, i), NAN, err);
    else
        rc = hb_space_add_float(one, "p", hb_space_lower(sp, i), hb_space_upper(sp, i),
                                hb_space_scale(sp, i), NAN, err);
    if (rc == HB_OK) rc = hb_space_finalize(one, NULL, err);
    if (rc != HB_OK) {
        hb_space_free(one);
        return rc;
    }
    *out = one;
    return HB_OK;
}

/* Fill the unit coordinates of the grid values of numeric parameter 'i': u = k / (K - 1) for
 * k = 0 .. K-1, keeping only the first u of each decoded value (integers collapse). Decoding
 * is monotone in u, so equal values are neighbours. Sets *n to the number kept. */
static int numeric_values(const hb_space *sp, size_t i, int k_points, double *unit, size_t *n,
                          hb_error *err)
{
    hb_space *one = NULL;
    int rc = scratch_space(sp, i, &one, err);
    if (rc != HB_OK) return rc;
    double last = NAN;
    size_t kept = 0;
    for (int k = 0; k < k_points; k++) {
        double u = (double)k / (double)(k_points - 1), v;
        hb_space_from_unit(one, &u, &v);
        if (kept > 0 && v == last) continue;
        unit[kept++] = u;
        last = v;
    }
    hb_space_free(one);
    *n = kept;
    return HB_OK;
}

static int grid_init(hb_sampler *s, hb_error *err)
{
    grid_state *g = s->state;
    const hb_space *sp = s->space;
    size_t dim = hb_space_dim(sp), total_slots = 0, n_numeric = 0;
    int k_points = s->opts.grid_points; /* >= 2: hb_sampler_create checks it */
    for (size_t i = 0; i < dim; i++) {
        if (is_numeric(hb_space_type(sp, i)))
            n_numeric++;
        else
            total_slots += hb_space_n_choices(sp, i);
    }
    /* One numeric parameter alone would already give more points than allowed. */
    if (n_numeric > 0 && (unsigned)k_points > GRID_MAX_POINTS)
        return hb_error_set(err, HB_EINVAL, NULL,
                            "grid_points = %d gives a grid of more than %u points; lower it",
                            k_points, GRID_MAX_POINTS);
    total_slots += n_numeric * (size_t)k_points;
    g->dim = dim;
    g->n_values = hb_malloc(dim * sizeof *g->n_values);
    g->offset = hb_malloc(dim * sizeof *g->offset);
    g->idx = hb_calloc(dim, sizeof *g->idx);
    g->unit = hb_malloc(total_slots * sizeof *g->unit);
    g->u = hb_malloc(dim * sizeof *g->u);
    g->x = hb_malloc(dim * sizeof *g->x);
    if (!g->n_values || !g->offset || !g->idx || !g->unit || !g->u || !g->x) return oom(err);

    size_t at = 0;
    uint64_t total = 1; /* the grid size so far, at most GRID_MAX_POINTS */
    for (size_t i = 0; i < dim; i++) {
        size_t n;
        g->offset[i] = at;
        if (is_numeric(hb_space_type(sp, i))) {
            int rc = numeric_values(sp, i, k_points, g->unit + at, &n, err);
            if (rc != HB_OK) return rc;
        } else {
            /* The middle of each choice's slice of [0, 1] decodes to that choice. */
            n = hb_space_n_choices(sp, i);
            for (size_t k = 0; k < n; k++) g->unit[at + k] = ((double)k + 0.5) / (double)n;
        }
        g->n_values[i] = n;
        at += n;
        if ((uint64_t)n > GRID_MAX_POINTS / total) /* total * n > limit, without overflow */
            return hb_error_set(err, HB_EINVAL, NULL,
                                "the grid has more than %u points (grid_points = %d, %zu "
                                "parameters); lower grid_points or narrow the space",
                                GRID_MAX_POINTS, k_points, dim);
        total *= (uint64_t)n;
    }
    return HB_OK;
}

static void grid_fini(hb_sampler *s)
{
    grid_state *g = s->state;
    hb_free(g->n_values);
    hb_free(g->offset);
    hb_free(g->idx);
    hb_free(g->unit);
    hb_free(g->u);
    hb_free(g->x);
}

/* 1 if every parameter inactive under the decoded point sits at value index 0. */
static int is_canonical(const grid_state *g)
{
    for (size_t i = 0; i < g->dim; i++)
        if (isnan(g->x[i]) && g->idx[i] != 0) return 0;
    return 1;
}

/* Step the odometer, last parameter fastest; past the last point, set 'done'. */
static void advance(grid_state *g)
{
    for (size_t i = g->dim; i-- > 0;) {
        if (++g->idx[i] < g->n_values[i]) return;
        g->idx[i] = 0;
    }
    g->done = 1;
}

static int grid_propose(hb_sampler *s, const hb_history *h, const hb_pending *pending,
                        size_t n_pending, double budget, double *x, hb_error *err)
{
    grid_state *g = s->state;
    (void)h;
    (void)pending;
    (void)n_pending;
    (void)budget;
    (void)err;
    while (!g->done) {
        for (size_t i = 0; i < g->dim; i++) g->u[i] = g->unit[g->offset[i] + g->idx[i]];
        hb_space_from_unit(s->space, g->u, g->x);
        int keep = is_canonical(g) && !hb_space_is_forbidden(s->space, g->x);
        advance(g);
        if (keep) {
            memcpy(x, g->x, g->dim * sizeof *x);
            return HB_OK;
        }
    }
    return HB_SAMPLER_EXHAUSTED;
}

const hb_sampler_ops hb__sampler_grid = {.name = "grid",
                                         .state_size = sizeof(grid_state),
                                         .init = grid_init,
                                         .propose = grid_propose,
                                         .fini = grid_fini};
