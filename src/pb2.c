/* pb2.c — PB2's selection step: a time-varying GP over (time, hyperparameters) -> improvement,
 * and the UCB maximiser over the unit cube. Exports hb__pb2_select only; pure (no I/O, clock or
 * MPI), randomness only from the caller's rng, heap only through hb_malloc. The GP is gp.c's. */

/* The method. PB2 (Parker-Holder, Nguyen, Roberts, NeurIPS 2020) replaces PBT's random explore
 * step with a GP bandit: a member that has just copied a better one picks its new
 * hyperparameters by maximising an upper confidence bound on the improvement the next interval
 * will bring, under a GP whose input is (time, hyperparameters).
 *
 * Where this follows the paper and Ray Tune's PB2 (python/ray/tune/schedulers/pb2*.py):
 * - Data: one row per finished interval of any member: input (t, u), target the improvement y.
 *   Only a window of the most recent rows is used (HB__PB2_MAX_OBS by start time; Ray keeps
 *   the last 1000 and picks a length from 200 up by likelihood; we keep a fixed 150 so that a
 *   call costs milliseconds).
 * - Targets standardised to mean 0, sd 1, then clipped to [-2, 2], as Ray does, so one huge
 *   early improvement does not flatten the rest.
 * - Time-varying kernel: the paper's k((t,u),(t',u')) = k_u(u,u') (1 - eps)^(|t - t'| / 2)
 *   (Bogunovic et al.'s TV-GP-UCB). With a = -log(1 - eps) / 2 that factor is exactly
 *   exp(-a |t - t'|), an exponential kernel in time; we fit its length scale l_t = 1 / a
 *   instead of eps (time normalised to [0, 1] over the window and t_next), bounded to
 *   [0.1, 20], i.e. eps = 1 - exp(-2 / l_t) per window span in [0.095, 1). Ray caps eps at 0.5
 *   per unit of normalised time (l_t >= 2.9, weak forgetting) and lets it reach 0; we let the
 *   likelihood choose much stronger forgetting, but not none.
 * - UCB: mu + kappa sd with kappa = sqrt(beta), beta = c1 log(c2 n), c1 = 0.2, c2 = 0.4 and n
 *   the rows in the window: Ray's practical choice (the theory's beta grows with the horizon
 *   and the information gain, and is not usable as is); beta < 0 (n < 3) is taken as 0.
 * - Batch (other members' running intervals): as GP-BUCB and the paper, the variance is
 *   conditioned on the pending points while the mean is not. We add each pending (t, u) as a
 *   row whose target is the posterior mean there, which leaves the mean unchanged exactly and
 *   shrinks the variance around it: the same posterior as Ray's second GP, but with the first
 *   GP's hyperparameters (Ray refits them on zero targets).
 * Where it differs:
 * - k_u is gp.c's Matérn-5/2 with one length scale per hyperparameter (ARD), not the squared
 *   exponential with one shared length scale; hyperparameters (length scales, signal and noise
 *   variance) maximise the likelihood by gp.c's bounded BFGS from the defaults plus FIT_RANDOM
 *   random starts (Ray: GPy's L-BFGS), on at most FIT_POINTS rows spread evenly through the
 *   window (the posterior then uses every row): with the window this bounds a call to about
 *   10 ms (k = 3, 200 observations, one BLAS thread; tests/test_pb2.c measures it).
 * - Ray also gives the GP the reward at the interval's start as an input; this interface has
 *   no such value, so time alone stands for the member's progress.
 * - Ray adds kappa times the variance, not the sd; we use the sd, as the paper's UCB does.
 * - The maximiser: N_UNIFORM uniform candidates and N_LOCAL perturbations of the N_CENTRES
 *   window points with the best posterior mean at t_next, then a coordinate pattern search from
 *   the LS_STARTS best (Ray: L-BFGS-B from 10 random starts). Deterministic given the rng.
 * - Fallback: with fewer than 2 usable observations, or when the GP cannot be factored at any
 *   hyperparameters, the choice is uniform random (as PBT's resampling would be). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp_impl.h"
#include "pb2_impl.h"

#define KAPPA_C1 0.2     /* beta = KAPPA_C1 log(KAPPA_C2 n) */
#define KAPPA_C2 0.4
#define Y_CLIP 2.0       /* standardised targets are clipped to [-Y_CLIP, Y_CLIP] */
#define FIT_POINTS 48    /* rows the hyperparameters are fitted on at most */
#define FIT_RANDOM 1     /* random BFGS starts besides the defaults */
#define FIT_MAX_ITER 30  /* BFGS iterations per start */
#define N_UNIFORM 256    /* uniform candidates */
#define N_LOCAL 64       /* perturbations of the best points */
#define N_CENTRES 4      /* points perturbed */
#define LS_STARTS 3      /* pattern searches */
#define LS_MAX_ITER 40   /* moves plus step halvings per pattern search */
#define LS_STEP0 0.1     /* first step, unit-cube coordinates */
#define LS_STEP_MIN 1e-3 /* last step */

typedef struct keyed {
    double t;
    size_t idx;
} keyed;

/* Most recent first: larger t, then later in the caller's array. */
static int recent_first(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->t != b->t) return a->t > b->t ? -1 : 1;
    return a->idx > b->idx ? -1 : (a->idx < b->idx);
}

static double clamp01(double v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

/* Fit the hyperparameters of 'gp' on its rows, or on FIT_POINTS of them evenly spaced through
 * the window (so spread over its time span) when there are more, then factor it on all rows. */
static int fit(hb__gp *gp, hb_rng *rng)
{
    hb__gp sub;
    size_t n = gp->n, m = gp->m, p = gp->n_ls + 2;
    if (n <= FIT_POINTS) return hb__gp_fit(gp, rng, FIT_RANDOM, FIT_MAX_ITER);
    int rc = hb__gp_init(&sub, FIT_POINTS, m, gp->n_ls, gp->owner);
    sub.time_ls = gp->time_ls;
    if (rc == HB_OK) {
        for (size_t i = 0; i < FIT_POINTS; i++) {
            size_t r = i * n / FIT_POINTS;
            memcpy(sub.X + i * m, gp->X + r * m, m * sizeof(double));
            sub.y[i] = gp->y[r];
        }
        sub.n = FIT_POINTS;
        memcpy(sub.theta, gp->theta, p * sizeof(double));
        rc = hb__gp_fit(&sub, rng, FIT_RANDOM, FIT_MAX_ITER);
    }
    if (rc == HB_OK) {
        memcpy(gp->theta, sub.theta, p * sizeof(double));
        rc = hb__gp_factor(gp);
    }
    hb__gp_fini(&sub);
    return rc;
}

/* The state of one call. */
typedef struct sel {
    hb__gp gp;
    size_t k, m;         /* hyperparameters; feature columns (time + k) */
    double s_next;       /* normalised time of the interval chosen for */
    double kappa;        /* UCB weight of the sd */
    size_t q_max;        /* rows of the candidate buffers */
    double *F;           /* q_max x m candidate features */
    double *mu, *sd;     /* q_max: their posterior */
    double *acq;         /* q_max: their UCB */
    double *best_u;      /* k: the best candidate so far */
    double best_acq;     /* its UCB */
    double *start;       /* LS_STARTS x k: pattern-search starts */
} sel;

/* Score the q candidates in P->F (rows: s_next, u) by UCB; keep the best. */
static void eval_batch(sel *P, size_t q)
{
    hb__gp_predict(&P->gp, q, P->F, P->mu, P->sd);
    for (size_t i = 0; i < q; i++) {
        double a = P->mu[i] + P->kappa * P->sd[i];
        P->acq[i] = isfinite(a) ? a : -INFINITY;
        if (P->acq[i] > P->best_acq) {
            P->best_acq = P->acq[i];
            memcpy(P->best_u, P->F + i * P->m + 1, P->k * sizeof(double));
        }
    }
}

static void set_row(sel *P, size_t i, const double *u)
{
    double *row = P->F + i * P->m;
    row[0] = P->s_next;
    memcpy(row + 1, u, P->k * sizeof(double));
}

/* Coordinate pattern search from 'u' (UCB 'a'): move to the best improving neighbour u +- step
 * e_j, else halve the step. 'u' is overwritten. */
static void pattern_search(sel *P, double *u, double a)
{
    size_t k = P->k, m = P->m;
    double step = LS_STEP0;
    for (int it = 0; it < LS_MAX_ITER && step >= LS_STEP_MIN; it++) {
        size_t q = 0;
        for (size_t j = 0; j < k; j++)
            for (int sign = -1; sign <= 1; sign += 2) {
                double v = clamp01(u[j] + sign * step);
                if (v == u[j]) continue;
                set_row(P, q, u);
                P->F[q * m + 1 + j] = v;
                q++;
            }
        if (q == 0) break;
        eval_batch(P, q);
        size_t bi = 0;
        for (size_t i = 1; i < q; i++)
            if (P->acq[i] > P->acq[bi]) bi = i;
        if (P->acq[bi] > a) {
            a = P->acq[bi];
            memcpy(u, P->F + bi * m + 1, k * sizeof(double));
        } else {
            step *= 0.5;
        }
    }
}

/* Candidates, then pattern searches from the best distinct ones. The GP holds the window's
 * n_obs observations in its first rows. */
static void maximise(sel *P, size_t n_obs, hb_rng *rng)
{
    size_t k = P->k, m = P->m;
    static const double scales[2] = {0.1, 0.03};
    /* Centres: the window points with the best posterior mean now (at s_next). */
    size_t centres[N_CENTRES], n_centres = 0;
    for (size_t i = 0; i < n_obs; i++) set_row(P, i, P->gp.X + i * m + 1);
    hb__gp_predict(&P->gp, n_obs, P->F, P->mu, P->sd);
    for (size_t i = 0; i < n_obs; i++) {
        size_t c = n_centres;
        if (c == N_CENTRES) {
            if (!(P->mu[i] > P->mu[centres[N_CENTRES - 1]])) continue;
            c = N_CENTRES - 1;
        } else {
            n_centres++;
        }
        for (; c > 0 && P->mu[i] > P->mu[centres[c - 1]]; c--) centres[c] = centres[c - 1];
        centres[c] = i;
    }
    size_t q = N_UNIFORM + N_LOCAL;
    for (size_t i = 0; i < N_UNIFORM; i++) {
        double *row = P->F + i * m;
        row[0] = P->s_next;
        for (size_t j = 0; j < k; j++) row[1 + j] = hb_rng_uniform(rng);
    }
    for (size_t i = 0; i < N_LOCAL; i++) {
        double *row = P->F + (N_UNIFORM + i) * m;
        const double *c = P->gp.X + centres[i % n_centres] * m + 1;
        double sc = scales[(i / n_centres) % 2];
        row[0] = P->s_next;
        for (size_t j = 0; j < k; j++) row[1 + j] = clamp01(c[j] + sc * hb_rng_normal(rng));
    }
    eval_batch(P, q);
    /* The LS_STARTS best distinct candidates. */
    double start_a[LS_STARTS];
    size_t n_starts = 0;
    for (size_t s = 0; s < LS_STARTS; s++) {
        size_t bi = q;
        for (size_t i = 0; i < q; i++) {
            if (P->acq[i] == -INFINITY || (bi < q && !(P->acq[i] > P->acq[bi]))) continue;
            int dup = 0;
            for (size_t r = 0; r < n_starts && !dup; r++)
                dup = memcmp(P->F + i * m + 1, P->start + r * k, k * sizeof(double)) == 0;
            if (!dup) bi = i;
        }
        if (bi == q) break;
        memcpy(P->start + n_starts * k, P->F + bi * m + 1, k * sizeof(double));
        start_a[n_starts++] = P->acq[bi];
    }
    for (size_t s = 0; s < n_starts; s++) pattern_search(P, P->start + s * k, start_a[s]);
}

int hb__pb2_select(size_t k, const hb__pb2_obs *obs, size_t n_obs, const hb__pb2_obs *pending,
                   size_t n_pending, double t_next, hb_rng *rng, double *u_out, hb_error *err)
{
    if (k == 0 || rng == NULL || u_out == NULL || (obs == NULL && n_obs > 0) ||
        (pending == NULL && n_pending > 0) || !isfinite(t_next))
        return hb_error_set(err, HB_EINVAL, NULL, "pb2: bad arguments");
    for (size_t i = 0; i < n_obs + n_pending; i++) {
        const hb__pb2_obs *o = i < n_obs ? &obs[i] : &pending[i - n_obs];
        const char *what = i < n_obs ? "observation" : "pending interval";
        size_t at = i < n_obs ? i : i - n_obs;
        if (o->u == NULL)
            return hb_error_set(err, HB_EINVAL, NULL, "pb2: %s %zu has no u", what, at);
        for (size_t j = 0; j < k; j++)
            if (isnan(o->u[j]))
                return hb_error_set(err, HB_EINVAL, NULL, "pb2: %s %zu has a NaN u", what, at);
    }

    size_t n_use = 0, n_pu = 0;
    for (size_t i = 0; i < n_obs; i++) n_use += isfinite(obs[i].t) && isfinite(obs[i].y);
    if (n_use < 2) { /* nothing to model: uniform random */
        for (size_t j = 0; j < k; j++) u_out[j] = hb_rng_uniform(rng);
        return HB_OK;
    }
    for (size_t i = 0; i < n_pending; i++) n_pu += isfinite(pending[i].t) != 0;

    sel P = {.k = k, .m = k + 1, .best_acq = -INFINITY};
    keyed *ko = hb_malloc(n_use * sizeof *ko), *kp = hb_malloc((n_pu ? n_pu : 1) * sizeof *kp);
    int *owner = hb_malloc((k + 1) * sizeof *owner);
    int rc = ko && kp && owner ? HB_OK : HB_ENOMEM;
    size_t n = 0, np = 0, m = k + 1;
    if (rc == HB_OK) {
        for (size_t i = 0; i < n_obs; i++)
            if (isfinite(obs[i].t) && isfinite(obs[i].y)) ko[n++] = (keyed){obs[i].t, i};
        for (size_t i = 0; i < n_pending; i++)
            if (isfinite(pending[i].t)) kp[np++] = (keyed){pending[i].t, i};
        qsort(ko, n, sizeof *ko, recent_first);
        qsort(kp, np, sizeof *kp, recent_first);
        n = n < HB__PB2_MAX_OBS ? n : HB__PB2_MAX_OBS;
        np = np < HB__PB2_MAX_PENDING ? np : HB__PB2_MAX_PENDING;
        for (size_t c = 0; c < m; c++) owner[c] = (int)c; /* column 0 is time */
        rc = hb__gp_init(&P.gp, n + np, m, m, owner);
        P.gp.time_ls = 0;
    }
    P.q_max = N_UNIFORM + N_LOCAL;
    P.q_max = P.q_max > n ? P.q_max : n;
    P.q_max = P.q_max > np ? P.q_max : np;
    P.q_max = P.q_max > 2 * k ? P.q_max : 2 * k;
    if (rc == HB_OK) {
        P.F = hb_malloc(P.q_max * m * sizeof(double));
        P.mu = hb_malloc(P.q_max * sizeof(double));
        P.sd = hb_malloc(P.q_max * sizeof(double));
        P.acq = hb_malloc(P.q_max * sizeof(double));
        P.best_u = hb_malloc(k * sizeof(double));
        P.start = hb_malloc(LS_STARTS * k * sizeof(double));
        if (!P.F || !P.mu || !P.sd || !P.acq || !P.best_u || !P.start) rc = HB_ENOMEM;
    }
    if (rc != HB_OK) goto done;

    /* Time normalised to [0, 1] from the window's oldest start to the latest of t_next and the
     * starts seen (a pending or older start may fall below 0: only differences matter). */
    double t_lo = INFINITY, t_hi = t_next, mean = 0, var = 0, sdev;
    for (size_t r = 0; r < n; r++) {
        double t = obs[ko[r].idx].t;
        t_lo = t < t_lo ? t : t_lo;
        t_hi = t > t_hi ? t : t_hi;
    }
    for (size_t r = 0; r < np; r++) {
        double t = pending[kp[r].idx].t;
        t_hi = t > t_hi ? t : t_hi;
    }
    double span = t_hi - t_lo;
    if (!(span > 0) || !isfinite(span)) span = 1;
    P.s_next = (t_next - t_lo) / span;
    for (size_t r = 0; r < n; r++) {
        const hb__pb2_obs *o = &obs[ko[r].idx];
        double *x = P.gp.X + r * m;
        x[0] = (o->t - t_lo) / span;
        for (size_t j = 0; j < k; j++) x[1 + j] = clamp01(o->u[j]);
        P.gp.y[r] = o->y;
        mean += o->y;
    }
    mean /= (double)n;
    for (size_t r = 0; r < n; r++) var += (P.gp.y[r] - mean) * (P.gp.y[r] - mean);
    sdev = sqrt(var / (double)n);
    if (!(sdev > 0) || !isfinite(sdev)) sdev = 1;
    for (size_t r = 0; r < n; r++) {
        double z = (P.gp.y[r] - mean) / sdev;
        P.gp.y[r] = z < -Y_CLIP ? -Y_CLIP : (z > Y_CLIP ? Y_CLIP : z);
    }
    P.gp.n = n;
    rc = fit(&P.gp, rng);
    if (rc == HB_OK && np > 0) {
        /* GP-BUCB: pending rows whose targets are the posterior mean there. */
        for (size_t r = 0; r < np; r++) {
            const hb__pb2_obs *o = &pending[kp[r].idx];
            double *x = P.gp.X + (n + r) * m;
            x[0] = (o->t - t_lo) / span;
            for (size_t j = 0; j < k; j++) x[1 + j] = clamp01(o->u[j]);
        }
        hb__gp_predict(&P.gp, np, P.gp.X + n * m, P.mu, P.sd);
        memcpy(P.gp.y + n, P.mu, np * sizeof(double));
        P.gp.n = n + np;
        rc = hb__gp_factor(&P.gp);
    }
    if (rc == HB_OK) {
        double beta = KAPPA_C1 * log(KAPPA_C2 * (double)n);
        P.kappa = beta > 0 ? sqrt(beta) : 0;
        maximise(&P, n, rng);
    }
done:
    if (rc == HB_OK && P.best_acq > -INFINITY) {
        for (size_t j = 0; j < k; j++) u_out[j] = clamp01(P.best_u[j]);
    } else if (rc == HB_ENOMEM) {
        hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    } else { /* the GP cannot be used (not positive definite at any hyperparameters) */
        rc = HB_OK;
        for (size_t j = 0; j < k; j++) u_out[j] = hb_rng_uniform(rng);
    }
    hb__gp_fini(&P.gp);
    hb_free(ko);
    hb_free(kp);
    hb_free(owner);
    hb_free(P.F);
    hb_free(P.mu);
    hb_free(P.sd);
    hb_free(P.acq);
    hb_free(P.best_u);
    hb_free(P.start);
    return rc;
}
