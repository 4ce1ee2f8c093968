/* history.c — append-only list of observations with configurations stored contiguously. */
#include "hb_history.h"

#include <string.h>

typedef struct rec {
    uint64_t id;
    double budget, loss;
    hb_trial_status status;
} rec;

struct hb_history {
    size_t dim, n, cap;
    rec *recs;
    double *xs; /* n * dim */
};

const char *hb_trial_status_name(hb_trial_status s)
{
    static const char *names[] = {"ok", "failed", "timeout", "crashed", "nan", "lost"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "failed";
}

int hb_history_create(size_t dim, hb_history **out)
{
    *out = hb_calloc(1, sizeof(hb_history));
    if (*out == NULL) return HB_ENOMEM;
    (*out)->dim = dim;
    return HB_OK;
}

void hb_history_free(hb_history *h)
{
    if (h == NULL) return;
    hb_free(h->recs);
    hb_free(h->xs);
    hb_free(h);
}

int hb_history_add(hb_history *h, uint64_t id, const double *x, double budget, double loss,
                   hb_trial_status status)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        rec *r = hb_realloc(h->recs, cap * sizeof *r);
        if (r == NULL) return HB_ENOMEM;
        h->recs = r;
        double *xs = hb_realloc(h->xs, cap * (h->dim ? h->dim : 1) * sizeof(double));
        if (xs == NULL) return HB_ENOMEM;
        h->xs = xs;
        h->cap = cap;
    }
    h->recs[h->n] = (rec){id, budget, loss, status};
    memcpy(h->xs + h->n * h->dim, x, h->dim * sizeof(double));
    h->n++;
    return HB_OK;
}

size_t hb_history_size(const hb_history *h) { return h->n; }
size_t hb_history_dim(const hb_history *h) { return h->dim; }

hb_obs hb_history_at(const hb_history *h, size_t i)
{
    const rec *r = &h->recs[i];
    return (hb_obs){r->id, h->xs + i * h->dim, r->budget, r->loss, r->status};
}
