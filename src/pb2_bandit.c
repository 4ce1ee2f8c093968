/* pb2_bandit.c — PB2's observations and running steps, and the call to its GP-UCB choice
 * (pb2.c), which uses a window of the most recent observations. */
#include "pb2_bandit.h"
#include "pb2_impl.h"

struct hb__pb2_bandit {
    size_t k;
    double *t, *u, *y;       /* observations: n times, n x k values, n gains */
    size_t n, cap;
    double *pt, *pu;         /* running steps */
    size_t np, cap_p;
};

static int grow(double **a, size_t need, size_t per)
{
    double *q = hb_realloc(*a, need * per * sizeof(double));
    if (q == NULL) return HB_ENOMEM;
    *a = q;
    return HB_OK;
}

int hb__pb2_bandit_create(hb__pb2_bandit **out, size_t k, hb_error *err)
{
    *out = hb_calloc(1, sizeof **out);
    if (*out == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    (*out)->k = k;
    return HB_OK;
}

void hb__pb2_bandit_free(hb__pb2_bandit *b)
{
    if (b == NULL) return;
    hb_free(b->t);
    hb_free(b->u);
    hb_free(b->y);
    hb_free(b->pt);
    hb_free(b->pu);
    hb_free(b);
}

int hb__pb2_bandit_observe(hb__pb2_bandit *b, double t, const double *u, double y, hb_error *err)
{
    if (b->n == b->cap) {
        size_t c = b->cap ? 2 * b->cap : 64;
        if (grow(&b->t, c, 1) || grow(&b->u, c, b->k) || grow(&b->y, c, 1))
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        b->cap = c;
    }
    b->t[b->n] = t;
    for (size_t j = 0; j < b->k; j++) b->u[b->n * b->k + j] = u[j];
    b->y[b->n++] = y;
    return HB_OK;
}

void hb__pb2_bandit_clear_pending(hb__pb2_bandit *b) { b->np = 0; }

int hb__pb2_bandit_add_pending(hb__pb2_bandit *b, double t, const double *u, hb_error *err)
{
    if (b->np == b->cap_p) {
        size_t c = b->cap_p ? 2 * b->cap_p : 16;
        if (grow(&b->pt, c, 1) || grow(&b->pu, c, b->k))
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        b->cap_p = c;
    }
    b->pt[b->np] = t;
    for (size_t j = 0; j < b->k; j++) b->pu[b->np * b->k + j] = u[j];
    b->np++;
    return HB_OK;
}

int hb__pb2_bandit_select(hb__pb2_bandit *b, double t, hb_rng *rng, double *u, hb_error *err)
{
    hb__pb2_obs *obs = hb_malloc((b->n + b->np + 1) * sizeof *obs);
    if (obs == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < b->n; i++) obs[i] = (hb__pb2_obs){b->t[i], b->u + i * b->k, b->y[i]};
    hb__pb2_obs *pend = obs + b->n;
    for (size_t i = 0; i < b->np; i++) pend[i] = (hb__pb2_obs){b->pt[i], b->pu + i * b->k, 0};
    int rc = hb__pb2_select(b->k, obs, b->n, pend, b->np, t, rng, u, err);
    hb_free(obs);
    return rc;
}
