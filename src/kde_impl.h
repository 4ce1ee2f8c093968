/* kde_impl.h — what the model-based samplers (sampler_kde.c, sampler_tpe.c) share: which
 * coordinates are modelled and how, a per-budget cache of results converted to the unit cube,
 * the truncated-normal draw, and Gaussian kernel sums (float, 4 lanes where the compiler has
 * vector extensions). Seen only by src/sampler_kde.c, src/sampler_tpe.c, src/kde.c and tests. */
#ifndef HB_KDE_IMPL_H
#define HB_KDE_IMPL_H

#include "sampler_impl.h"

/* How a modelled coordinate is treated. */
typedef enum hb__kind {
    HB__KIND_CONT,    /* float: continuous, unit-cube value */
    HB__KIND_ORDERED, /* int, ordinal: continuous unit-cube value, snapped to its slice centre */
    HB__KIND_CAT      /* categorical: level index 0 .. levels-1 */
} hb__kind;

/* The modelled coordinates of a space: every parameter that can take more than one value
 * (constants, one-choice parameters and ints with lower == upper are left out). Continuous
 * and ordered coordinates come first (space order), then the categorical ones. */
typedef struct hb__dims {
    size_t dim;       /* parameters in the space */
    size_t n;         /* modelled coordinates */
    size_t n_cont;    /* of which the first n_cont are CONT or ORDERED */
    size_t *param;    /* n: space index of modelled coordinate k */
    hb__kind *kind;   /* n */
    unsigned *levels; /* n: declared number of choices (categorical, ordinal), else 0 */
} hb__dims;

int hb__dims_init(hb__dims *d, const hb_space *sp, hb_error *err);
void hb__dims_fini(hb__dims *d);
/* Model coordinates of native configuration 'x' ('u' is dim scratch for the unit cube):
 * unit values for CONT/ORDERED, the level for CAT, NaN where inactive. */
void hb__dims_model(const hb__dims *d, const hb_space *sp, const double *x, double *u, double *out);

/* The results of one budget, in the order told. */
typedef struct hb__group {
    double budget;
    size_t n, cap;
    double *v;         /* cap * d->n: model coordinate k of result i at v[k * cap + i] */
    double *key;       /* cap: ranking loss; +INFINITY unless status OK with a finite loss */
    size_t *order;     /* n: result indices by (key, index) */
    size_t n_ok;       /* results with a finite key */
    size_t *byval;     /* sorted caches only: cap * n_cont, indices of active results by value */
    size_t *n_active;  /* sorted caches only: n_cont, active results per coordinate */
} hb__group;

/* History converted incrementally; the history is append-only, so each call converts only
 * what was added since the last. A history that shrank or changed is converted anew. */
typedef struct hb__cache {
    int sorted;           /* keep byval (TPE) */
    size_t n_seen;        /* history entries converted */
    uint64_t last_id;     /* id of entry n_seen - 1, to notice a different history */
    hb__group *g;         /* groups, in order of first appearance */
    size_t n_g, cap_g;
    double *xu, *xm;      /* scratch: dim unit values, d->n model values */
} hb__cache;

int hb__cache_sync(hb__cache *c, const hb__dims *d, const hb_space *sp, const hb_history *h,
                   hb_error *err);
void hb__cache_fini(hb__cache *c);
/* The group of 'budget' (exact match), or NULL. */
const hb__group *hb__cache_find(const hb__cache *c, double budget);

/* Draw from a normal of mean 'm' in [0, 1] and deviation 's' > 0, truncated to [0, 1]
 * (rejection from the normal for s <= 0.4, from the uniform above: acceptance >= 0.49). */
double hb__truncnorm01(hb_rng *r, double m, double s);

/* exp(-q / 2) for q >= 0 in float (relative error < 2e-7); 0 for q > 170. */
float hb__expnh(float q);

/* Sum over i < n of coef[i] * exp(-((x - mu[i]) * is[i])^2 / 2). */
double hb__gauss_sum(const float *mu, const float *is, const float *coef, size_t n, float x);

/* A product-kernel density estimate over n points with the normal-reference bandwidths of
 * statsmodels' KDEMultivariate (the BOHB reference): Gaussian kernels for CONT/ORDERED
 * coordinates, Aitchison-Aitken kernels with the DECLARED number of levels for categorical. */
typedef struct hb__kde {
    size_t d, n_cont;   /* coordinates (as in hb__dims) */
    size_t n, stride;   /* points; stride >= n, a multiple of 4 */
    float *data;        /* d * stride, point i of coordinate k at data[k * stride + i] */
    double *bw;         /* d: bandwidth (CONT/ORDERED) or lambda (CAT), after the floors */
    float *ih;          /* n_cont: 1 / bandwidth */
    float *qsame, *qdiff; /* d - n_cont: -2 log(1 - lambda), -2 log(lambda / (levels - 1)) */
    double log_norm;    /* -log n - sum over CONT/ORDERED of log(bw sqrt(2 pi)) */
    float *vf;          /* d: scratch, the evaluation point in float */
    size_t cap_data, cap_d; /* floats allocated in data; coordinates in the others */
} hb__kde;

/* Make room for 'n' points of 'd' coordinates (n_cont continuous); sets k->n = n. */
int hb__kde_reserve(hb__kde *k, size_t d, size_t n_cont, size_t n);
void hb__kde_fini(hb__kde *k);
/* Bandwidths from the data (n >= 1 points filled in by the caller, NaN-free):
 * 1.06 * sd * n^(-1/(4+d)) per coordinate (population sd, d = k->d), floored
 * at 'min_bw'; a categorical lambda is also capped at (levels-1)/levels, where its kernel is
 * flat (above, the same level would weigh less than another one). */
void hb__kde_fit(hb__kde *k, const hb__dims *d, double min_bw);
/* Natural log of the density at model point 'v' (d values, no NaN). */
double hb__kde_logpdf(hb__kde *k, const double *v);
/* The same in parts, for callers that stop early: set the point, add up the terms of points
 * [i0, i1) (i0 a multiple of 64), and turn the sum over all points into the log density.
 * Partial sums only grow as parts are added, so log(part) + k->log_norm bounds it below. */
void hb__kde_point(hb__kde *k, const double *v);
double hb__kde_part(const hb__kde *k, size_t i0, size_t i1);
double hb__kde_log(const hb__kde *k, double sum);

#endif
