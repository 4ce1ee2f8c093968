/* gp.c — Gaussian-process regression for the GP sampler and PB2: Matérn-5/2 ARD kernel (times an
 * optional exponential time factor), Cholesky factor and solves through LAPACKE (column-major, so
 * LAPACKE allocates nothing), log marginal likelihood with its analytic gradient, a bounded BFGS
 * hyperparameter fit, batch posteriors, and EI / PI. Deterministic; all heap through hb_malloc.
 * No spaces, histories or I/O here. */
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "gp_impl.h"
#include "normal_impl.h"

#define SQRT5 2.23606797749978969640
#define LOG_2PI 1.83787706640934548356

/* ---------- setup ---------- */

int hb__gp_init(hb__gp *gp, size_t cap, size_t m, size_t n_ls, const int *owner)
{
    memset(gp, 0, sizeof *gp);
    gp->time_ls = -1;
    gp->cap = cap;
    gp->m = m;
    gp->n_ls = n_ls;
    if (cap == 0 || m == 0 || n_ls == 0 || cap > (size_t)INT_MAX / HB__GP_BLOCK) return HB_EINVAL;
    gp->owner = hb_malloc(m * sizeof *gp->owner);
    gp->X = hb_malloc(cap * m * sizeof(double));
    gp->y = hb_malloc(cap * sizeof(double));
    gp->theta = hb_malloc((n_ls + 2) * sizeof(double));
    gp->L = hb_malloc(cap * cap * sizeof(double));
    gp->alpha = hb_malloc(cap * sizeof(double));
    gp->Xs = hb_malloc(cap * m * sizeof(double));
    gp->col_scale = hb_malloc(m * sizeof(double));
    gp->Kinv = hb_malloc(cap * cap * sizeof(double));
    gp->work = hb_malloc(cap * HB__GP_BLOCK * sizeof(double));
    gp->qs = hb_malloc(m * HB__GP_BLOCK * sizeof(double));
    gp->grp = hb_malloc(n_ls * sizeof(double));
    if (!gp->owner || !gp->X || !gp->y || !gp->theta || !gp->L || !gp->alpha || !gp->Xs ||
        !gp->col_scale || !gp->Kinv || !gp->work || !gp->qs || !gp->grp)
        return HB_ENOMEM;
    memcpy(gp->owner, owner, m * sizeof *owner);
    hb__gp_theta_default(gp);
    return HB_OK;
}

void hb__gp_fini(hb__gp *gp)
{
    hb_free(gp->owner);
    hb_free(gp->X);
    hb_free(gp->y);
    hb_free(gp->theta);
    hb_free(gp->L);
    hb_free(gp->alpha);
    hb_free(gp->Xs);
    hb_free(gp->col_scale);
    hb_free(gp->Kinv);
    hb_free(gp->work);
    hb_free(gp->qs);
    hb_free(gp->grp);
    memset(gp, 0, sizeof *gp);
    gp->time_ls = -1;
}

void hb__gp_bounds(const hb__gp *gp, size_t j, double *lo, double *hi)
{
    if ((int)j == gp->time_ls) {
        *lo = log(0.1);
        *hi = log(20.0);
    } else if (j < gp->n_ls) {
        *lo = log(0.01);
        *hi = log(10.0);
    } else if (j == gp->n_ls) {
        *lo = log(0.05);
        *hi = log(20.0);
    } else {
        *lo = log(1e-6);
        *hi = 0.0;
    }
}

void hb__gp_theta_default(hb__gp *gp)
{
    for (size_t j = 0; j < gp->n_ls; j++) gp->theta[j] = log(0.5);
    gp->theta[gp->n_ls] = 0.0;
    gp->theta[gp->n_ls + 1] = log(1e-3);
    gp->factored = 0;
}

/* ---------- kernel ---------- */

double hb__gp_matern52(double r, double sf2)
{
    double a = SQRT5 * r;
    return sf2 * (1.0 + a + a * a / 3.0) * exp(-a);
}

double hb__gp_kernel(const hb__gp *gp, const double *a, const double *b)
{
    double r2 = 0, t2 = 0;
    for (size_t c = 0; c < gp->m; c++) {
        double d = (a[c] - b[c]) * exp(-gp->theta[gp->owner[c]]);
        if (gp->owner[c] == gp->time_ls)
            t2 += d * d;
        else
            r2 += d * d;
    }
    return hb__gp_matern52(sqrt(r2), exp(gp->theta[gp->n_ls])) * exp(-sqrt(t2));
}

static double sqdist(const double *a, const double *b, size_t m)
{
    double r2 = 0;
    for (size_t c = 0; c < m; c++) {
        double d = a[c] - b[c];
        r2 += d * d;
    }
    return r2;
}

/* k of two scaled rows: Matérn-5/2 over the columns other than the time ones, times exp(-r_t)
 * over the time ones (gp->time_ls >= 0), or plain Matérn-5/2. */
static double kscaled(const hb__gp *gp, const double *a, const double *b, double sf2)
{
    if (gp->time_ls < 0) return hb__gp_matern52(sqrt(sqdist(a, b, gp->m)), sf2);
    double r2 = 0, t2 = 0;
    for (size_t c = 0; c < gp->m; c++) {
        double d = a[c] - b[c];
        if (gp->owner[c] == gp->time_ls)
            t2 += d * d;
        else
            r2 += d * d;
    }
    return hb__gp_matern52(sqrt(r2), sf2) * exp(-sqrt(t2));
}

/* ---------- factor and likelihood ---------- */

/* Lower triangle of k(X, X) + (sigma_n^2 + jitter) I into L (column-major, leading dim n). */
static void fill_k(hb__gp *gp, double sf2, double diag)
{
    size_t n = gp->n, m = gp->m;
    for (size_t b = 0; b < n; b++) {
        const double *xb = gp->Xs + b * m;
        gp->L[b + b * n] = sf2 + diag;
        for (size_t a = b + 1; a < n; a++) gp->L[a + b * n] = kscaled(gp, gp->Xs + a * m, xb, sf2);
    }
}

int hb__gp_factor(hb__gp *gp)
{
    size_t n = gp->n, m = gp->m;
    gp->factored = 0;
    if (n == 0 || n > gp->cap) return HB_EINVAL;
    double sf2 = exp(gp->theta[gp->n_ls]), sn2 = exp(gp->theta[gp->n_ls + 1]);
    for (size_t c = 0; c < m; c++) gp->col_scale[c] = exp(-gp->theta[gp->owner[c]]);
    for (size_t a = 0; a < n; a++)
        for (size_t c = 0; c < m; c++) gp->Xs[a * m + c] = gp->X[a * m + c] * gp->col_scale[c];
    lapack_int ni = (lapack_int)n, info = 1;
    double jitter = 0;
    for (int attempt = 0; attempt < 8 && info != 0; attempt++) {
        if (attempt > 0) jitter = attempt == 1 ? 1e-8 * (sf2 + sn2) : jitter * 10;
        fill_k(gp, sf2, sn2 + jitter);
        info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', ni, gp->L, ni);
    }
    if (info != 0) return HB_ERANGE;
    memcpy(gp->alpha, gp->y, n * sizeof(double));
    if (LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', ni, 1, gp->L, ni, gp->alpha, ni) != 0) return HB_ERANGE;
    double quad = 0, logdet = 0;
    for (size_t a = 0; a < n; a++) {
        quad += gp->y[a] * gp->alpha[a];
        logdet += log(gp->L[a + a * n]);
    }
    gp->lml = -0.5 * quad - logdet - 0.5 * (double)n * LOG_2PI;
    if (!isfinite(gp->lml)) return HB_ERANGE;
    gp->jitter = jitter;
    gp->factored = 1;
    return HB_OK;
}

int hb__gp_lml_grad(hb__gp *gp, double *lml, double *grad)
{
    int rc = hb__gp_factor(gp);
    if (rc != HB_OK) return rc;
    *lml = gp->lml;
    if (grad == NULL) return HB_OK;
    size_t n = gp->n, m = gp->m, nl = gp->n_ls;
    int tl = gp->time_ls;
    lapack_int ni = (lapack_int)n;
    memcpy(gp->Kinv, gp->L, n * n * sizeof(double));
    if (LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', ni, gp->Kinv, ni) != 0) return HB_ERANGE;
    double sf2 = exp(gp->theta[nl]), sn2 = exp(gp->theta[nl + 1]);
    double g_sf = 0, g_sn = 0;
    for (size_t j = 0; j < nl; j++) grad[j] = 0;
    /* d lml / d theta_j = 1/2 tr((alpha alpha' - K^-1) dK/dtheta_j), W = alpha alpha' - K^-1. */
    for (size_t b = 0; b < n; b++) {
        const double *xb = gp->Xs + b * m;
        double wbb = gp->alpha[b] * gp->alpha[b] - gp->Kinv[b + b * n];
        g_sf += 0.5 * wbb * sf2;
        g_sn += 0.5 * wbb * sn2;
        for (size_t a = b + 1; a < n; a++) {
            const double *xa = gp->Xs + a * m;
            double w = gp->alpha[a] * gp->alpha[b] - gp->Kinv[a + b * n];
            for (size_t j = 0; j < nl; j++) gp->grp[j] = 0;
            double r2 = 0;
            for (size_t c = 0; c < m; c++) {
                double d = xa[c] - xb[c];
                gp->grp[gp->owner[c]] += d * d;
                if (gp->owner[c] != tl) r2 += d * d;
            }
            /* With a time axis, K = matern52(r) exp(-r_t), r over the other columns. */
            double rt = 0, kt = 1;
            if (tl >= 0) {
                rt = sqrt(gp->grp[tl]);
                kt = exp(-rt);
            }
            double r = sqrt(r2), e = exp(-SQRT5 * r);
            g_sf += w * sf2 * (1.0 + SQRT5 * r + 5.0 * r2 / 3.0) * e * kt;
            /* dK/d log l_j = sf2 (5/3) (1 + sqrt5 r) exp(-sqrt5 r) * grp_j (scaled squared
             * distance along length scale j), times the time factor; dK/d log l_t = K r_t. */
            double t = w * sf2 * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e * kt;
            for (size_t j = 0; j < nl; j++)
                if ((int)j != tl) grad[j] += t * gp->grp[j];
            if (tl >= 0) grad[tl] += w * sf2 * (1.0 + SQRT5 * r + 5.0 * r2 / 3.0) * e * kt * rt;
        }
    }
    grad[nl] = g_sf;
    grad[nl + 1] = g_sn;
    return HB_OK;
}

/* ---------- hyperparameter fit ---------- */

/* The box is mapped to the real line by theta = lo + (hi - lo) / (1 + exp(-z)), so the
 * optimiser is unconstrained and every point it visits is inside the bounds. */
typedef struct fit_ctx {
    hb__gp *gp;
    size_t p;         /* number of hyperparameters */
    double *lo, *hi;  /* bounds */
    double *gtheta;   /* gradient in theta */
} fit_ctx;

/* -lml at z and its gradient in z; INFINITY where K cannot be factored. */
static double objective(fit_ctx *f, const double *z, double *gz)
{
    for (size_t j = 0; j < f->p; j++)
        f->gp->theta[j] = f->lo[j] + (f->hi[j] - f->lo[j]) / (1.0 + exp(-z[j]));
    double lml;
    if (hb__gp_lml_grad(f->gp, &lml, f->gtheta) != HB_OK) return INFINITY;
    for (size_t j = 0; j < f->p; j++) {
        double s = 1.0 / (1.0 + exp(-z[j]));
        gz[j] = -f->gtheta[j] * (f->hi[j] - f->lo[j]) * s * (1.0 - s);
    }
    return -lml;
}

static double to_z(double theta, double lo, double hi)
{
    double t = (theta - lo) / (hi - lo);
    t = t < 1e-4 ? 1e-4 : (t > 1 - 1e-4 ? 1 - 1e-4 : t);
    return log(t / (1 - t));
}

/* BFGS with backtracking (Armijo) from z; returns the final -lml (INFINITY if the start fails)
 * with z moved to the final point. 'buf' holds 5p + p^2 doubles. */
static double bfgs(fit_ctx *f, double *z, int max_iter, double *buf)
{
    size_t p = f->p;
    double *g = buf, *zn = g + p, *gn = zn + p, *dir = gn + p, *hy = dir + p, *H = hy + p;
    double fz = objective(f, z, g);
    if (!isfinite(fz)) return INFINITY;
    for (size_t i = 0; i < p * p; i++) H[i] = 0;
    for (size_t i = 0; i < p; i++) H[i * p + i] = 1;
    for (int it = 0; it < max_iter; it++) {
        double slope = 0, big = 0;
        for (size_t i = 0; i < p; i++) {
            double s = 0;
            for (size_t k = 0; k < p; k++) s -= H[i * p + k] * g[k];
            dir[i] = s;
            slope += s * g[i];
        }
        if (!(slope < 0)) { /* not a descent direction: restart from steepest descent */
            for (size_t i = 0; i < p * p; i++) H[i] = 0;
            slope = 0;
            for (size_t i = 0; i < p; i++) {
                H[i * p + i] = 1;
                dir[i] = -g[i];
                slope -= g[i] * g[i];
            }
            if (!(slope < 0)) break;
        }
        for (size_t i = 0; i < p; i++) big = fabs(dir[i]) > big ? fabs(dir[i]) : big;
        if (big > 3) { /* at most 3 logistic units per step */
            for (size_t i = 0; i < p; i++) dir[i] *= 3 / big;
            slope *= 3 / big;
        }
        double t = 1, fn = INFINITY;
        int ok = 0;
        for (int ls = 0; ls < 20 && !ok; ls++, t *= 0.5) {
            for (size_t i = 0; i < p; i++) zn[i] = z[i] + t * dir[i];
            fn = objective(f, zn, gn);
            ok = isfinite(fn) && fn <= fz + 1e-4 * t * slope;
        }
        if (!ok) break;
        /* BFGS update of the inverse Hessian with s = zn - z, yv = gn - g. */
        double sy = 0, yy = 0, yhy = 0;
        for (size_t i = 0; i < p; i++) {
            double s = zn[i] - z[i], yv = gn[i] - g[i];
            sy += s * yv;
            yy += yv * yv;
        }
        if (sy > 1e-12) {
            if (it == 0)
                for (size_t i = 0; i < p; i++) H[i * p + i] = sy / yy;
            for (size_t i = 0; i < p; i++) {
                double s = 0;
                for (size_t k = 0; k < p; k++) s += H[i * p + k] * (gn[k] - g[k]);
                hy[i] = s;
                yhy += (gn[i] - g[i]) * s;
            }
            double rho = 1 / sy, c = rho + rho * rho * yhy;
            for (size_t i = 0; i < p; i++) {
                double si = zn[i] - z[i];
                for (size_t k = 0; k < p; k++) {
                    double sk = zn[k] - z[k];
                    H[i * p + k] += c * si * sk - rho * (hy[i] * sk + si * hy[k]);
                }
            }
        }
        double gmax = 0, drop = fz - fn;
        for (size_t i = 0; i < p; i++) {
            z[i] = zn[i];
            g[i] = gn[i];
            gmax = fabs(g[i]) > gmax ? fabs(g[i]) : gmax;
        }
        fz = fn;
        if (gmax < 1e-5 || drop < 1e-7 * (1 + fabs(fz))) break;
    }
    return fz;
}

int hb__gp_fit(hb__gp *gp, hb_rng *rng, int n_random, int max_iter)
{
    size_t p = gp->n_ls + 2;
    double *mem = hb_malloc((10 * p + p * p) * sizeof(double));
    if (mem == NULL) return HB_ENOMEM;
    fit_ctx f = {gp, p, mem, mem + p, mem + 2 * p};
    double *z = mem + 3 * p, *best = mem + 4 * p, *buf = mem + 5 * p;
    for (size_t j = 0; j < p; j++) hb__gp_bounds(gp, j, &f.lo[j], &f.hi[j]);
    memcpy(best, gp->theta, p * sizeof(double)); /* the caller's start (warm or default) */
    double fbest = INFINITY;
    for (int start = 0; start <= n_random; start++) {
        for (size_t j = 0; j < p; j++) {
            double th;
            if (start == 0) {
                th = best[j];
            } else if (j < gp->n_ls) {
                th = log(0.05) + hb_rng_uniform(rng) * (log(2.0) - log(0.05));
            } else if (j == gp->n_ls) {
                th = 0;
            } else {
                th = log(1e-5) + hb_rng_uniform(rng) * (log(1e-1) - log(1e-5));
            }
            z[j] = to_z(th, f.lo[j], f.hi[j]);
        }
        double fz = bfgs(&f, z, max_iter, buf);
        if (fz < fbest) {
            fbest = fz;
            for (size_t j = 0; j < p; j++) best[j] = f.lo[j] + (f.hi[j] - f.lo[j]) / (1.0 + exp(-z[j]));
        }
    }
    memcpy(gp->theta, best, p * sizeof(double));
    hb_free(mem);
    if (!isfinite(fbest)) return HB_ERANGE;
    return hb__gp_factor(gp);
}

/* ---------- posterior and acquisitions ---------- */

void hb__gp_predict(hb__gp *gp, size_t q, const double *F, double *mu, double *sd)
{
    size_t n = gp->n, m = gp->m;
    lapack_int ni = (lapack_int)n;
    double sf2 = exp(gp->theta[gp->n_ls]);
    for (size_t start = 0; start < q; start += HB__GP_BLOCK) {
        size_t qb = q - start < HB__GP_BLOCK ? q - start : HB__GP_BLOCK;
        for (size_t j = 0; j < qb; j++) {
            double *qj = gp->qs + j * m, *kj = gp->work + j * n, s = 0;
            for (size_t c = 0; c < m; c++) qj[c] = F[(start + j) * m + c] * gp->col_scale[c];
            for (size_t a = 0; a < n; a++) {
                kj[a] = kscaled(gp, gp->Xs + a * m, qj, sf2);
                s += kj[a] * gp->alpha[a];
            }
            mu[start + j] = s;
        }
        /* work <- L^-1 k(X, q); the latent variance is sf2 - |L^-1 k|^2. */
        lapack_int info = LAPACKE_dtrtrs(LAPACK_COL_MAJOR, 'L', 'N', 'N', ni, (lapack_int)qb,
                                         gp->L, ni, gp->work, ni);
        for (size_t j = 0; j < qb; j++) {
            double v = sf2;
            if (info == 0)
                for (size_t a = 0; a < n; a++) v -= gp->work[j * n + a] * gp->work[j * n + a];
            sd[start + j] = v > 0 ? sqrt(v) : 0;
        }
    }
}

static double norm_pdf(double z) { return 0.39894228040143267794 * exp(-0.5 * z * z); }

double hb__gp_ei(double mu, double sd, double fbest, double xi)
{
    double imp = fbest - xi - mu;
    if (!(sd > 0)) return imp > 0 ? imp : 0;
    double z = imp / sd, ei = imp * hb__norm_cdf(z) + sd * norm_pdf(z);
    return ei > 0 ? ei : 0;
}

double hb__gp_pi(double mu, double sd, double fbest, double xi)
{
    double imp = fbest - xi - mu;
    if (!(sd > 0)) return imp > 0 ? 1.0 : 0.0;
    return hb__norm_cdf(imp / sd);
}
