/* gp_impl.h — Gaussian-process regression behind the GP sampler and PB2: a Matérn-5/2 kernel
 * with one length scale per group of feature columns (optionally times a time factor), the
 * Cholesky factor (LAPACKE), the log marginal likelihood and its gradient, a bounded BFGS fit of
 * the hyperparameters, batch posteriors, and the EI / PI acquisitions. Seen only by src/gp.c,
 * src/sampler_gp.c, src/pb2.c and the tests; it knows nothing of spaces, histories or samplers. */
#ifndef HB_GP_IMPL_H
#define HB_GP_IMPL_H

#include "hb_common.h"
#include "hb_rng.h"

/* Queries per block of hb__gp_predict (size of the posterior workspace). */
#define HB__GP_BLOCK 64

/* A GP over points of 'm' feature columns. Column c belongs to length scale owner[c], so a
 * parameter encoded by several columns (one-hot, an "inactive" flag) has one length scale.
 * Optionally one length scale, 'time_ls', is a time axis: its columns leave the Matérn distance
 * and multiply the kernel by exp(-r_t) instead, r_t their scaled distance (PB2's time-varying
 * kernel, src/pb2.c), so k = matern52(r_rest) exp(-|t - t'| / l_t) for one time column.
 * Hyperparameters, all logarithms: theta[0 .. n_ls-1] the length scales, theta[n_ls] the signal
 * variance sigma_f^2, theta[n_ls + 1] the noise variance sigma_n^2. The targets 'y' are used as
 * given (zero prior mean): the caller standardises them. */
typedef struct hb__gp {
    size_t cap;        /* rows allocated */
    size_t m;          /* feature columns per point */
    size_t n_ls;       /* number of length scales */
    int *owner;        /* m: length scale of each column (owned copy) */
    int time_ls;       /* -1 (hb__gp_init), or the length scale of the time columns */
    size_t n;          /* rows in use: the caller fills X and y, then sets n */
    double *X;         /* cap x m features, row-major */
    double *y;         /* cap targets */
    double *theta;     /* n_ls + 2 log-hyperparameters */
    /* Set by hb__gp_factor: */
    double *L;         /* lower Cholesky factor of K, column-major, leading dimension n */
    double *alpha;     /* K^-1 y */
    double *Xs;        /* X with every column divided by its length scale */
    double *col_scale; /* m: 1 / length scale of each column */
    double jitter;     /* diagonal added beyond sigma_n^2 to make K positive definite (usually 0) */
    double lml;        /* log marginal likelihood at theta */
    int factored;      /* 1 once L, alpha and lml match theta, X and y */
    /* Workspace: */
    double *Kinv;      /* cap x cap: K^-1 for the gradient */
    double *work;      /* cap x HB__GP_BLOCK: k(X, queries), then L^-1 k(X, queries) */
    double *qs;        /* m x HB__GP_BLOCK: scaled queries */
    double *grp;       /* n_ls: squared scaled distance per length scale */
} hb__gp;

/* Allocate a GP for up to 'cap' points; 'owner' (m entries, each < n_ls) is copied. theta is
 * set to hb__gp_theta_default. HB_ENOMEM on failure, after which hb__gp_fini is still safe. */
int hb__gp_init(hb__gp *gp, size_t cap, size_t m, size_t n_ls, const int *owner);
/* Free what init allocated; safe on a zeroed or failed struct. */
void hb__gp_fini(hb__gp *gp);

/* Bounds of theta[j] (logarithms): length scales [0.01, 10], signal variance [0.05, 20], noise
 * variance [1e-6, 1] (targets standardised, inputs in the unit cube); the time length scale
 * [0.1, 20] (time normalised to [0, 1]: from forgetting all but the last tenth to barely
 * forgetting). */
void hb__gp_bounds(const hb__gp *gp, size_t j, double *lo, double *hi);
/* Starting point: every length scale 0.5, signal variance 1, noise variance 1e-3. */
void hb__gp_theta_default(hb__gp *gp);

/* The Matérn-5/2 kernel at scaled distance 'r': sf2 (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r). */
double hb__gp_matern52(double r, double sf2);
/* k(a, b) at gp->theta for two feature vectors (no noise term), with the time factor when
 * gp->time_ls >= 0. */
double hb__gp_kernel(const hb__gp *gp, const double *a, const double *b);

/* Build K = k(X, X) + sigma_n^2 I at gp->theta for the first n rows, factor it and solve for
 * alpha. When K is not numerically positive definite a jitter of 1e-8 .. 1e-2 times the prior
 * variance is added to the diagonal. HB_ERANGE if even that fails, HB_EINVAL if n == 0. */
int hb__gp_factor(hb__gp *gp);
/* Factor at gp->theta and return the log marginal likelihood; with 'grad' (n_ls + 2 entries)
 * also its gradient with respect to theta. Errors as hb__gp_factor. */
int hb__gp_lml_grad(hb__gp *gp, double *lml, double *grad);

/* Maximise the log marginal likelihood over theta within the bounds: BFGS on a logistic
 * reparameterisation of the box, from gp->theta and from 'n_random' starts drawn from 'rng',
 * at most 'max_iter' iterations each. Leaves gp->theta at the best point found and the GP
 * factored there. HB_ERANGE if no start could be factored, HB_ENOMEM. */
int hb__gp_fit(hb__gp *gp, hb_rng *rng, int n_random, int max_iter);

/* Posterior of the latent function at 'q' feature rows 'F' (row-major, m columns): mean 'mu'
 * and standard deviation 'sd' (no noise term; 0 where rounding makes the variance negative).
 * The GP must be factored. */
void hb__gp_predict(hb__gp *gp, size_t q, const double *F, double *mu, double *sd);

/* Acquisitions for minimisation, given the posterior 'mu', 'sd' of the loss, the best observed
 * loss 'fbest' and the margin 'xi'. With z = (fbest - xi - mu) / sd:
 * EI = (fbest - xi - mu) Phi(z) + sd phi(z), PI = Phi(z); for sd = 0 (or not > 0)
 * EI = max(fbest - xi - mu, 0) and PI = 1 if fbest - xi - mu > 0, else 0. */
double hb__gp_ei(double mu, double sd, double fbest, double xi);
double hb__gp_pi(double mu, double sd, double fbest, double xi);

#endif
