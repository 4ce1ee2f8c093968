/* kde.c — helpers of the model-based samplers: modelled coordinates, the per-budget cache of
 * converted results, truncated-normal draws, a float exp and the Gaussian kernel sums that
 * dominate a proposal's cost. No randomness of its own (draws come from the caller's rng), no
 * I/O. The sums use GCC/Clang vector extensions when present (4 float lanes, the same
 * operations per term as the scalar fallback; only the order of additions differs). */
#include <math.h>
#include <string.h>

#include "kde_impl.h"

#if defined(__GNUC__)
#define USE_VEC 1
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));
#else
#define USE_VEC 0
#endif

/* ---------- modelled coordinates ---------- */

void hb__dims_fini(hb__dims *d)
{
    hb_free(d->param);
    hb_free(d->kind);
    hb_free(d->levels);
    memset(d, 0, sizeof *d);
}

/* The kind of parameter 'i', or -1 if it takes a single value and is not modelled. */
static int kind_of(const hb_space *sp, size_t i, unsigned *levels)
{
    *levels = 0;
    switch (hb_space_type(sp, i)) {
    case HB_PARAM_FLOAT: return hb_space_lower(sp, i) < hb_space_upper(sp, i) ? HB__KIND_CONT : -1;
    case HB_PARAM_INT: return hb_space_lower(sp, i) < hb_space_upper(sp, i) ? HB__KIND_ORDERED : -1;
    case HB_PARAM_ORDINAL:
    case HB_PARAM_CATEGORICAL: {
        size_t c = hb_space_n_choices(sp, i);
        if (c < 2) return -1;
        *levels = (unsigned)c;
        return hb_space_type(sp, i) == HB_PARAM_ORDINAL ? HB__KIND_ORDERED : HB__KIND_CAT;
    }
    default: return -1;
    }
}

int hb__dims_init(hb__dims *d, const hb_space *sp, hb_error *err)
{
    memset(d, 0, sizeof *d);
    size_t dim = hb_space_dim(sp), n = 0, n_cont = 0;
    unsigned lv;
    for (size_t i = 0; i < dim; i++) {
        int k = kind_of(sp, i, &lv);
        n += k >= 0;
        n_cont += k == HB__KIND_CONT || k == HB__KIND_ORDERED;
    }
    d->dim = dim;
    size_t cap = n ? n : 1;
    d->param = hb_malloc(cap * sizeof *d->param);
    d->kind = hb_malloc(cap * sizeof *d->kind);
    d->levels = hb_malloc(cap * sizeof *d->levels);
    if (!d->param || !d->kind || !d->levels) {
        hb__dims_fini(d);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    size_t a = 0, b = n_cont; /* continuous-like first, categorical after, each in space order */
    for (size_t i = 0; i < dim; i++) {
        int k = kind_of(sp, i, &lv);
        if (k < 0) continue;
        size_t at = k == HB__KIND_CAT ? b++ : a++;
        d->param[at] = i;
        d->kind[at] = (hb__kind)k;
        d->levels[at] = lv;
    }
    d->n = n;
    d->n_cont = n_cont;
    return HB_OK;
}

void hb__dims_model(const hb__dims *d, const hb_space *sp, const double *x, double *u, double *out)
{
    hb_space_to_unit(sp, x, u);
    for (size_t k = 0; k < d->n; k++) {
        size_t p = d->param[k];
        out[k] = d->kind[k] == HB__KIND_CAT ? x[p] : u[p];
    }
}

/* ---------- per-budget cache of results ---------- */

static void group_fini(hb__group *g)
{
    hb_free(g->v);
    hb_free(g->key);
    hb_free(g->order);
    hb_free(g->byval);
    hb_free(g->n_active);
}

static void cache_clear(hb__cache *c)
{
    for (size_t i = 0; i < c->n_g; i++) group_fini(&c->g[i]);
    c->n_g = 0;
    c->n_seen = 0;
    c->last_id = 0;
}

void hb__cache_fini(hb__cache *c)
{
    cache_clear(c);
    hb_free(c->g);
    hb_free(c->xu);
    hb_free(c->xm);
    c->g = NULL;
    c->xu = c->xm = NULL;
    c->cap_g = 0;
}

const hb__group *hb__cache_find(const hb__cache *c, double budget)
{
    for (size_t i = 0; i < c->n_g; i++)
        if (c->g[i].budget == budget) return &c->g[i];
    return NULL;
}

/* Room for 'need' results; the coordinate-major arrays are laid out anew. */
static int group_grow(hb__group *g, const hb__dims *d, int sorted, size_t need)
{
    if (need <= g->cap) return HB_OK;
    size_t cap = g->cap ? 2 * g->cap : 16;
    while (cap < need) cap *= 2;
    size_t nd = d->n ? d->n : 1, nc = d->n_cont ? d->n_cont : 1;
    double *v = hb_malloc(cap * nd * sizeof *v);
    double *key = hb_malloc(cap * sizeof *key);
    size_t *order = hb_malloc(cap * sizeof *order);
    size_t *byval = sorted ? hb_malloc(cap * nc * sizeof *byval) : NULL;
    if (!v || !key || !order || (sorted && !byval)) {
        hb_free(v);
        hb_free(key);
        hb_free(order);
        hb_free(byval);
        return HB_ENOMEM;
    }
    if (g->n) {
        for (size_t k = 0; k < d->n; k++) memcpy(v + k * cap, g->v + k * g->cap, g->n * sizeof *v);
        memcpy(key, g->key, g->n * sizeof *key);
        memcpy(order, g->order, g->n * sizeof *order);
        if (sorted)
            for (size_t k = 0; k < d->n_cont; k++)
                memcpy(byval + k * cap, g->byval + k * g->cap, g->n_active[k] * sizeof *byval);
    }
    hb_free(g->v);
    hb_free(g->key);
    hb_free(g->order);
    hb_free(g->byval);
    g->v = v;
    g->key = key;
    g->order = order;
    g->byval = byval;
    g->cap = cap;
    return HB_OK;
}

static hb__group *group_for(hb__cache *c, const hb__dims *d, double budget)
{
    for (size_t i = 0; i < c->n_g; i++)
        if (c->g[i].budget == budget) return &c->g[i];
    if (c->n_g == c->cap_g) {
        size_t cap = c->cap_g ? 2 * c->cap_g : 4;
        hb__group *g = hb_realloc(c->g, cap * sizeof *g);
        if (g == NULL) return NULL;
        c->g = g;
        c->cap_g = cap;
    }
    hb__group *g = &c->g[c->n_g];
    memset(g, 0, sizeof *g);
    g->budget = budget;
    if (c->sorted && (g->n_active = hb_calloc(d->n_cont ? d->n_cont : 1, sizeof *g->n_active)) == NULL)
        return NULL;
    c->n_g++;
    return g;
}

/* Append result 'o' (model values in c->xm) to its group. */
static int cache_add(hb__cache *c, const hb__dims *d, const hb_space *sp, hb_obs o)
{
    hb__group *g = group_for(c, d, o.budget);
    if (g == NULL || group_grow(g, d, c->sorted, g->n + 1) != HB_OK) return HB_ENOMEM;
    hb__dims_model(d, sp, o.x, c->xu, c->xm);
    size_t i = g->n;
    for (size_t k = 0; k < d->n; k++) g->v[k * g->cap + i] = c->xm[k];
    double key = o.status == HB_TRIAL_OK && isfinite(o.loss) ? o.loss : INFINITY;
    g->key[i] = key;
    /* Insert after every result with a key <= this one: ties keep the order told. */
    size_t lo = 0, hi = i;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->key[g->order[mid]] <= key) lo = mid + 1;
        else hi = mid;
    }
    memmove(g->order + lo + 1, g->order + lo, (i - lo) * sizeof *g->order);
    g->order[lo] = i;
    if (c->sorted) {
        for (size_t k = 0; k < d->n_cont; k++) {
            double val = c->xm[k];
            if (isnan(val)) continue;
            size_t *bv = g->byval + k * g->cap, na = g->n_active[k];
            const double *col = g->v + k * g->cap;
            size_t a = 0, b = na;
            while (a < b) {
                size_t mid = a + (b - a) / 2;
                if (col[bv[mid]] <= val) a = mid + 1;
                else b = mid;
            }
            memmove(bv + a + 1, bv + a, (na - a) * sizeof *bv);
            bv[a] = i;
            g->n_active[k] = na + 1;
        }
    }
    g->n_ok += isfinite(key);
    g->n = i + 1;
    return HB_OK;
}

int hb__cache_sync(hb__cache *c, const hb__dims *d, const hb_space *sp, const hb_history *h,
                   hb_error *err)
{
    if (hb_history_dim(h) != d->dim)
        return hb_error_set(err, HB_EINVAL, NULL, "history has %zu parameters, the space %zu",
                            hb_history_dim(h), d->dim);
    size_t size = hb_history_size(h);
    if (c->n_seen > size || (c->n_seen && hb_history_at(h, c->n_seen - 1).id != c->last_id))
        cache_clear(c);
    if (c->xu == NULL) {
        c->xu = hb_malloc((d->dim ? d->dim : 1) * sizeof *c->xu);
        c->xm = hb_malloc((d->n ? d->n : 1) * sizeof *c->xm);
        if (!c->xu || !c->xm) {
            hb_free(c->xu);
            hb_free(c->xm);
            c->xu = c->xm = NULL;
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        }
    }
    for (size_t i = c->n_seen; i < size; i++) {
        hb_obs o = hb_history_at(h, i);
        if (cache_add(c, d, sp, o) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        c->n_seen = i + 1;
        c->last_id = o.id;
    }
    return HB_OK;
}

/* ---------- truncated normal ---------- */

double hb__truncnorm01(hb_rng *r, double m, double s)
{
    for (int t = 0; t < 1000; t++) {
        if (s > 0.4) {
            double x = hb_rng_uniform(r), z = (x - m) / s;
            if (hb_rng_uniform(r) < exp(-0.5 * z * z)) return x;
        } else {
            double x = m + s * hb_rng_normal(r);
            if (x >= 0 && x <= 1) return x;
        }
    }
    return m < 0 ? 0 : (m > 1 ? 1 : m); /* not reached: each try succeeds with p >= 0.49 */
}

/* ---------- exp(-q/2) in float ---------- */

/* Cody-Waite reduction x = k ln2 + r (ln2 split so that k * LN2_HI is exact), then the
 * degree-7 Taylor polynomial of exp(r) on |r| <= ln2/2 (error 5e-9), then 2^k by adding k
 * to the exponent bits. q is clamped to 170 so that 2^k stays a normal number. */
#define QMAX_BITS 0x432A0000 /* 170.0f */
#define SHIFTER 12582912.0f  /* 1.5 * 2^23: adding it rounds to an integer in the low bits */
#define SHIFTER_BITS 0x4B400000u
#define LOG2E 1.44269504f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f

float hb__expnh(float q)
{
    int32_t qb;
    memcpy(&qb, &q, sizeof qb);
    int32_t keep = -(int32_t)(qb <= QMAX_BITS);
    qb = (qb & keep) | (QMAX_BITS & ~keep);
    memcpy(&q, &qb, sizeof q);
    float x = q * -0.5f;
    float t = x * LOG2E + SHIFTER;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    float kf = t - SHIFTER;
    float r = (x - kf * LN2_HI) - kf * LN2_LO;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t pb;
    memcpy(&pb, &p, sizeof pb);
    pb += (tb - SHIFTER_BITS) << 23;
    pb &= (uint32_t)keep;
    memcpy(&p, &pb, sizeof p);
    return p;
}

#if USE_VEC
static inline v4f splat(float x) { return (v4f){x, x, x, x}; }

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* hb__expnh on four lanes, the same operations in the same order. */
static inline v4f expnh4(v4f q)
{
    v4i qb = (v4i)q;
    v4i keep = qb <= QMAX_BITS;
    qb = (qb & keep) | ((v4i){QMAX_BITS, QMAX_BITS, QMAX_BITS, QMAX_BITS} & ~keep);
    q = (v4f)qb;
    v4f x = q * splat(-0.5f);
    v4f t = x * splat(LOG2E) + splat(SHIFTER);
    v4u tb = (v4u)t;
    v4f kf = t - splat(SHIFTER);
    v4f r = (x - kf * splat(LN2_HI)) - kf * splat(LN2_LO);
    v4f p = splat(1.0f / 5040.0f);
    p = p * r + splat(1.0f / 720.0f);
    p = p * r + splat(1.0f / 120.0f);
    p = p * r + splat(1.0f / 24.0f);
    p = p * r + splat(1.0f / 6.0f);
    p = p * r + splat(0.5f);
    p = p * r + splat(1.0f);
    p = p * r + splat(1.0f);
    v4u pb = (v4u)p;
    pb += (tb - SHIFTER_BITS) << 23;
    pb &= (v4u)keep;
    return (v4f)pb;
}

static inline double hsum(v4f a)
{
    return ((double)a[0] + (double)a[1]) + ((double)a[2] + (double)a[3]);
}
#endif

/* ---------- kernel sums ---------- */

double hb__gauss_sum(const float *mu, const float *is, const float *coef, size_t n, float x)
{
    double total = 0;
    size_t i = 0;
#if USE_VEC
    v4f xv = splat(x);
    while (n - i >= 4) {
        /* Flush the float lanes into the double total every 64 terms. */
        size_t end = n - i >= 64 ? i + 64 : n - (n - i) % 4;
        v4f acc = splat(0.0f);
        for (; i < end; i += 4) {
            v4f z = (xv - load4(mu + i)) * load4(is + i);
            acc += load4(coef + i) * expnh4(z * z);
        }
        total += hsum(acc);
    }
    if (i < n) { /* the last 1-3 terms as one block, padded with weight 0 */
        float m[4] = {0, 0, 0, 0}, w[4] = {0, 0, 0, 0}, sc[4] = {0, 0, 0, 0};
        memcpy(m, mu + i, (n - i) * sizeof *m);
        memcpy(sc, is + i, (n - i) * sizeof *sc);
        memcpy(w, coef + i, (n - i) * sizeof *w);
        v4f z = (xv - load4(m)) * load4(sc);
        total += hsum(load4(w) * expnh4(z * z));
    }
#else
    for (; i < n; i++) {
        float z = (x - mu[i]) * is[i];
        total += (double)(coef[i] * hb__expnh(z * z));
    }
#endif
    return total;
}

/* ---------- product-kernel KDE ---------- */

#define LOG_SQRT_2PI 0.91893853320467274178 /* log(sqrt(2 pi)) */

void hb__kde_fini(hb__kde *k)
{
    hb_free(k->data);
    hb_free(k->bw);
    hb_free(k->ih);
    hb_free(k->qsame);
    hb_free(k->vf);
    memset(k, 0, sizeof *k);
}

int hb__kde_reserve(hb__kde *k, size_t d, size_t n_cont, size_t n)
{
    size_t stride = n < 4 ? 4 : (n + 3) / 4 * 4, nd = d ? d : 1;
    if (nd > k->cap_d) {
        double *bw = hb_malloc(nd * sizeof *bw);
        float *ih = hb_malloc(nd * sizeof *ih), *qs = hb_malloc(2 * nd * sizeof *qs);
        float *vf = hb_malloc(nd * sizeof *vf);
        if (!bw || !ih || !qs || !vf) {
            hb_free(bw);
            hb_free(ih);
            hb_free(qs);
            hb_free(vf);
            return HB_ENOMEM;
        }
        hb_free(k->bw);
        hb_free(k->ih);
        hb_free(k->qsame);
        hb_free(k->vf);
        k->bw = bw;
        k->ih = ih;
        k->qsame = qs;
        k->qdiff = qs + nd;
        k->vf = vf;
        k->cap_d = nd;
    }
    if (stride * nd > k->cap_data) {
        size_t cap = k->cap_data + k->cap_data / 2;
        if (cap < stride * nd) cap = stride * nd;
        float *data = hb_malloc(cap * sizeof *data); /* old points are not kept */
        if (data == NULL) return HB_ENOMEM;
        hb_free(k->data);
        k->data = data;
        k->cap_data = cap;
    }
    k->d = d;
    k->n_cont = n_cont;
    k->n = n;
    k->stride = stride;
    return HB_OK;
}

void hb__kde_fit(hb__kde *k, const hb__dims *d, double min_bw)
{
    size_t n = k->n;
    double f = pow((double)n, -1.0 / (4.0 + (double)k->d));
    k->log_norm = -log((double)n);
    for (size_t c = 0; c < k->d; c++) {
        float *col = k->data + c * k->stride;
        for (size_t i = n; i < k->stride; i++) col[i] = 0; /* padding lanes: finite, masked */
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++) mean += col[i];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) var += ((double)col[i] - mean) * ((double)col[i] - mean);
        double bw = 1.06 * sqrt(var / (double)n) * f;
        if (!(bw >= min_bw)) bw = min_bw;
        if (c < k->n_cont) {
            k->bw[c] = bw;
            k->ih[c] = (float)(1.0 / bw);
            k->log_norm -= log(bw) + LOG_SQRT_2PI;
        } else {
            double levels = d->levels[c], top = (levels - 1) / levels;
            if (bw > top) bw = top;
            k->bw[c] = bw;
            k->qsame[c - k->n_cont] = (float)(-2 * log(1 - bw));
            k->qdiff[c - k->n_cont] = (float)(-2 * log(bw / (levels - 1)));
        }
    }
}

/* Sum over points of exp(-q/2), q the kernel exponent at 'v' (categorical factors folded in
 * as -2 log(weight)). */
static double kde_sum(const hb__kde *k, const float *v, size_t i, size_t n)
{
    size_t s = k->stride, nc = k->n_cont, d = k->d;
    double total = 0;
#if USE_VEC
    while (i < n) {
        size_t end = n - i > 64 ? i + 64 : n;
        v4f acc = splat(0.0f);
        for (; i < end; i += 4) {
            v4f q = splat(0.0f);
            for (size_t c = 0; c < nc; c++) {
                v4f z = (splat(v[c]) - load4(k->data + c * s + i)) * splat(k->ih[c]);
                q += z * z;
            }
            for (size_t c = nc; c < d; c++) {
                v4i eq = load4(k->data + c * s + i) == splat(v[c]);
                v4i a = (v4i)splat(k->qsame[c - nc]), b = (v4i)splat(k->qdiff[c - nc]);
                q += (v4f)((eq & a) | (~eq & b));
            }
            v4f e = expnh4(q);
            if (i + 4 > n) { /* zero the padding lanes */
                v4i m = {-1, -(int32_t)(i + 1 < n), -(int32_t)(i + 2 < n), 0};
                e = (v4f)((v4i)e & m);
            }
            acc += e;
        }
        total += hsum(acc);
    }
#else
    for (; i < n; i++) {
        float q = 0;
        for (size_t c = 0; c < nc; c++) {
            float z = (v[c] - k->data[c * s + i]) * k->ih[c];
            q += z * z;
        }
        for (size_t c = nc; c < d; c++)
            q += k->data[c * s + i] == v[c] ? k->qsame[c - nc] : k->qdiff[c - nc];
        total += hb__expnh(q);
    }
#endif
    return total;
}

/* The same exponent in double, for the rare case where every term is below float range. */
static double kde_q(const hb__kde *k, const float *v, size_t i)
{
    double q = 0;
    size_t s = k->stride, nc = k->n_cont;
    for (size_t c = 0; c < nc; c++) {
        double z = ((double)v[c] - k->data[c * s + i]) * k->ih[c];
        q += z * z;
    }
    for (size_t c = nc; c < k->d; c++)
        q += k->data[c * s + i] == v[c] ? k->qsame[c - nc] : k->qdiff[c - nc];
    return q;
}

void hb__kde_point(hb__kde *k, const double *v)
{
    for (size_t c = 0; c < k->d; c++) k->vf[c] = (float)v[c];
}

double hb__kde_part(const hb__kde *k, size_t i0, size_t i1)
{
    return kde_sum(k, k->vf, i0, i1 < k->n ? i1 : k->n);
}

double hb__kde_log(const hb__kde *k, double sum)
{
    /* Float terms below ~1e-37 are 0; a sum this large is exact to float precision. */
    if (sum > 1e-25) return log(sum) + k->log_norm;
    double qmin = INFINITY, t = 0; /* every term tiny: log-sum-exp around the largest one */
    for (size_t i = 0; i < k->n; i++) {
        double q = kde_q(k, k->vf, i);
        if (q < qmin) qmin = q;
    }
    for (size_t i = 0; i < k->n; i++) t += exp(-0.5 * (kde_q(k, k->vf, i) - qmin));
    return log(t) - 0.5 * qmin + k->log_norm;
}

double hb__kde_logpdf(hb__kde *k, const double *v)
{
    hb__kde_point(k, v);
    return hb__kde_log(k, hb__kde_part(k, 0, k->n));
}
