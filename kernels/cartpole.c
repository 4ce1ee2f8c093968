/* cartpole.c — REINFORCE with a baseline on CartPole-v1 (docs/kernels.md §5): the budget is the
 * number of training episodes, the loss −(mean greedy return of 10 evaluation episodes)/500.
 * Every formula follows §5's operation order in IEEE double (the build turns FMA contraction
 * off), so runs reproduce the full-run vectors bit for bit. train() stops and resumes from a
 * flat byte state, which by the prefix property of §1.1 gives exactly what one long run gives.
 * Knows only the kernel interface: no optimisers, MPI or files. */
#include <math.h>
#include <string.h>

#include "cartpole_impl.h"
#include "kernels_impl.h"
#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "hb_rng.h"

#define KNAME "cartpole"
#define B_MIN 9.0
#define B_MAX 729.0

/* CartPole-v1 (gym/envs/classic_control/cartpole.py). Masses 0.1 + 1.0 round to the same double
 * as 1.1, and 0.1 · 0.5 to the same as 0.05, so the literals give the reference's values. */
#define GRAVITY 9.8
#define MASSPOLE 0.1
#define TOTAL_MASS 1.1
#define HALF_LENGTH 0.5
#define POLEMASS_LENGTH 0.05
#define FORCE_MAG 10.0
#define TAU 0.02
#define X_LIMIT 2.4
#define PI 3.14159265358979323846
#define THETA_LIMIT (12 * 2 * PI / 360) /* evaluated left to right, as gym writes it */
#define MAX_STEPS 500
#define N_EVAL 10

#define N_PARAM 5
#define N_FEAT 5 /* φ(s) = (x/2.4, ẋ/3, θ/θ_lim, θ̇/3, 1) */

/* SplitMix64 streams of the seed (docs/kernels.md §5). */
#define STREAM_INIT 1   /* initial policy weights */
#define STREAM_RESET 2  /* training start states */
#define STREAM_ACTION 3 /* sampled training actions */
#define STREAM_EVAL 4   /* evaluation start states: the seed's alone, so evaluations are paired */

enum { LR, GAMMA, BETA, LR_B, INIT }; /* indices into the configuration */

/* 'mut': the parameter may change between episodes (docs/kernels.md §5, "Changing hyperparameters at
 * a step boundary"): the four that the update of every episode reads. init_scale is read once,
 * by the initialisation, so a saved state has already used it up and it stays fixed. */
static const char *const pname[N_PARAM] = {"learning_rate", "gamma", "entropy_coef",
                                           "baseline_lr", "init_scale"};
static const double lower[N_PARAM] = {1e-3, 0.8, 1e-5, 1e-3, 1e-3};
static const double upper[N_PARAM] = {1.0, 0.999, 1e-1, 1.0, 1.0};
static const hb_scale scale[N_PARAM] = {HB_SCALE_LOG, HB_SCALE_LINEAR, HB_SCALE_LOG, HB_SCALE_LOG,
                                        HB_SCALE_LOG};
static const int mut[N_PARAM] = {1, 1, 1, 1, 0};

static const hb__box box = {KNAME, N_PARAM, pname, lower, upper, B_MAX, scale, mut, 1};

/* Everything training carries from one episode to the next; with the seed and the configuration
 * it is all a saved state holds (stream 1 is spent on the initial weights, stream 4 is read
 * afresh by every evaluation). */
typedef struct learner {
    double cfg[N_PARAM];    /* learning_rate, gamma, entropy_coef, baseline_lr, init_scale */
    double w[N_FEAT];       /* policy weights */
    double v[N_FEAT];       /* baseline weights */
    hb_splitmix reset_rng;  /* stream 2 */
    hb_splitmix action_rng; /* stream 3 */
    uint32_t episodes;      /* the budget covered so far, in episodes */
    int diverged;           /* a weight became non-finite; no more training happens */
} learner;

/* One training episode as the backward pass needs it. */
typedef struct episode {
    double phi[MAX_STEPS][N_FEAT]; /* features of the state each action was taken in */
    double z[MAX_STEPS];           /* w·φ */
    double p[MAX_STEPS];           /* P(a = 1) */
    int a[MAX_STEPS];              /* action taken */
} episode;

int hb__cartpole_step(double s[4], int action)
{
    double x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    double force = action == 1 ? FORCE_MAG : -FORCE_MAG;
    double costheta = cos(theta), sintheta = sin(theta);
    /* Squares are products, the correctly rounded ones: glibc's pow(c, 2) is now and then one ulp
     * away from c·c, and in this chaotic system that grows into a different run. */
    double temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
    double thetaacc = (GRAVITY * sintheta - costheta * temp) /
                      (HALF_LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS));
    double xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
    /* Explicit Euler: every right-hand side uses the old values. */
    s[0] = x + TAU * x_dot;
    s[1] = x_dot + TAU * xacc;
    s[2] = theta + TAU * theta_dot;
    s[3] = theta_dot + TAU * thetaacc;
    return s[0] < -X_LIMIT || s[0] > X_LIMIT || s[2] < -THETA_LIMIT || s[2] > THETA_LIMIT;
}

void hb__cartpole_reset(hb_splitmix *g, double s[4])
{
    for (int i = 0; i < 4; i++) s[i] = -0.05 + 0.1 * hb_splitmix_double(g);
}

static void features(const double s[4], double phi[N_FEAT])
{
    phi[0] = s[0] / X_LIMIT;
    phi[1] = s[1] / 3.0;
    phi[2] = s[2] / THETA_LIMIT;
    phi[3] = s[3] / 3.0;
    phi[4] = 1.0;
}

/* Summed k = 0..4 in order: §5 fixes the order, and a vectorised sum would change the bits. */
static double dot(const double a[N_FEAT], const double b[N_FEAT])
{
    double sum = 0.0;
    for (int k = 0; k < N_FEAT; k++) sum += a[k] * b[k];
    return sum;
}

/* σ(z) in the form that cannot overflow: exp of a non-positive number only. */
static double sigmoid(double z)
{
    if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

static void learner_init(learner *L, const double *x, uint64_t seed)
{
    hb_splitmix init;
    memcpy(L->cfg, x, sizeof L->cfg);
    hb_splitmix_init(&init, seed, STREAM_INIT);
    for (int k = 0; k < N_FEAT; k++) {
        L->w[k] = L->cfg[INIT] * (2.0 * hb_splitmix_double(&init) - 1.0);
        L->v[k] = 0.0;
    }
    hb_splitmix_init(&L->reset_rng, seed, STREAM_RESET);
    hb_splitmix_init(&L->action_rng, seed, STREAM_ACTION);
    L->episodes = 0;
    L->diverged = 0;
}

/* One episode of REINFORCE with the baseline, then the update. Returns 0 if a weight became
 * non-finite (the run diverged), 1 if not. */
static int train_episode(learner *L, episode *ep)
{
    const double gamma = L->cfg[GAMMA], beta = L->cfg[BETA];
    double s[4], gw[N_FEAT] = {0}, gv[N_FEAT] = {0}, G = 0.0;
    int T = 0, done = 0;

    hb__cartpole_reset(&L->reset_rng, s);
    while (!done && T < MAX_STEPS) {
        features(s, ep->phi[T]);
        ep->z[T] = dot(L->w, ep->phi[T]);
        ep->p[T] = sigmoid(ep->z[T]);
        ep->a[T] = hb_splitmix_double(&L->action_rng) < ep->p[T];
        done = hb__cartpole_step(s, ep->a[T]);
        T++;
    }
    /* Truncation at MAX_STEPS is treated like termination: G_T = 0 either way. */
    for (int t = T - 1; t >= 0; t--) {
        const double *phi = ep->phi[t], p = ep->p[t], z = ep->z[t];
        G = 1.0 + gamma * G;
        double A = G - dot(L->v, phi);
        /* The β term is the entropy's gradient: dH/dz = −z·p(1 − p). */
        double c = A * ((double)ep->a[t] - p) - beta * p * (1.0 - p) * z;
        for (int k = 0; k < N_FEAT; k++) {
            gw[k] += c * phi[k];
            gv[k] += A * phi[k];
        }
    }
    int finite = 1;
    for (int k = 0; k < N_FEAT; k++) {
        L->w[k] += (L->cfg[LR] * gw[k]) / (double)T;
        L->v[k] += (L->cfg[LR_B] * gv[k]) / (double)T;
        finite = finite && isfinite(L->w[k]) && isfinite(L->v[k]);
    }
    return finite;
}

/* Mean greedy return of N_EVAL episodes from stream 4, as the loss −mean/500. */
static double evaluate(const learner *L, uint64_t seed)
{
    hb_splitmix g;
    long total = 0;
    hb_splitmix_init(&g, seed, STREAM_EVAL);
    for (int e = 0; e < N_EVAL; e++) {
        double s[4], phi[N_FEAT];
        int steps = 0, done = 0;
        hb__cartpole_reset(&g, s);
        while (!done && steps < MAX_STEPS) {
            features(s, phi);
            done = hb__cartpole_step(s, dot(L->w, phi) > 0.0);
            steps++;
        }
        total += steps;
    }
    double mean = (double)total / N_EVAL;
    return -mean / MAX_STEPS;
}

/* ---- The saved state (layout in cartpole_impl.h). ---- */

#define STATE_MAGIC "hbks"
#define STATE_VERSION 1
#define KERNEL_LEN 16

/* FNV-1a over the first 'n' bytes (kernels_impl.h). */
uint64_t hb__cartpole_state_check(const unsigned char *p, size_t n) { return hb__fnv1a64(p, n); }

static void state_write(const learner *L, uint64_t seed, unsigned char *out)
{
    memset(out, 0, HB__CP_STATE_LEN);
    memcpy(out + HB__CP_OFF_MAGIC, STATE_MAGIC, 4);
    hb__put_u32(out + HB__CP_OFF_VERSION, STATE_VERSION);
    memcpy(out + HB__CP_OFF_KERNEL, KNAME, sizeof KNAME); /* the rest stays NUL */
    hb__put_u64(out + HB__CP_OFF_SEED, seed);
    for (int i = 0; i < N_PARAM; i++) hb__put_f64(out + HB__CP_OFF_CONFIG + 8 * i, L->cfg[i]);
    hb__put_u32(out + HB__CP_OFF_EPISODES, L->episodes);
    hb__put_u32(out + HB__CP_OFF_DIVERGED, (uint32_t)L->diverged);
    for (int k = 0; k < N_FEAT; k++) {
        hb__put_f64(out + HB__CP_OFF_W + 8 * k, L->w[k]);
        hb__put_f64(out + HB__CP_OFF_V + 8 * k, L->v[k]);
    }
    hb__put_u64(out + HB__CP_OFF_RESET, L->reset_rng.state);
    hb__put_u64(out + HB__CP_OFF_ACTION, L->action_rng.state);
    hb__put_u64(out + HB__CP_OFF_CHECK, hb__cartpole_state_check(out, HB__CP_OFF_CHECK));
}

/* Restore 'L' from 'st' if it is a cartpole state for this seed, with this configuration's fixed
 * parameters, covering at most 'n' episodes; HB_EINVAL saying what does not fit otherwise. The
 * mutable parameters may differ: training goes on with the values of 'x', which the next state
 * records. */
static int state_read(const hb_kernel_state *st, const double *x, uint64_t seed, uint32_t n,
                      learner *L, hb_error *err)
{
    static const char kernel[KERNEL_LEN] = KNAME;
    const unsigned char *b = st->data;
    if (b == NULL || st->len != HB__CP_STATE_LEN)
        return hb_error_set(err, HB_EINVAL, NULL,
                            "%s: the saved state has %zu bytes, a cartpole state has %d", KNAME,
                            b == NULL ? (size_t)0 : st->len, HB__CP_STATE_LEN);
    if (memcmp(b + HB__CP_OFF_MAGIC, STATE_MAGIC, 4) != 0 ||
        memcmp(b + HB__CP_OFF_KERNEL, kernel, KERNEL_LEN) != 0)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: the saved state is not a cartpole state",
                            KNAME);
    if (hb__get_u32(b + HB__CP_OFF_VERSION) != STATE_VERSION)
        return hb_error_set(err, HB_EINVAL, NULL,
                            "%s: the saved state has layout version %lu, this kernel reads %d",
                            KNAME, (unsigned long)hb__get_u32(b + HB__CP_OFF_VERSION), STATE_VERSION);
    if (hb__get_u64(b + HB__CP_OFF_CHECK) != hb__cartpole_state_check(b, HB__CP_OFF_CHECK))
        return hb_error_set(err, HB_EINVAL, NULL, "%s: the saved state is damaged (bad check)",
                            KNAME);
    if (hb__get_u64(b + HB__CP_OFF_SEED) != seed)
        return hb_error_set(err, HB_EINVAL, NULL,
                            "%s: the saved state is for seed %llu, not %llu", KNAME,
                            (unsigned long long)hb__get_u64(b + HB__CP_OFF_SEED),
                            (unsigned long long)seed);
    /* Compare bits, not values: the same configuration is the same bytes. */
    for (int i = 0; i < N_PARAM; i++)
        if (!mut[i] && hb__get_u64(b + HB__CP_OFF_CONFIG + 8 * i) != hb__f64_bits(x[i]))
            return hb_error_set(err, HB_EINVAL, NULL,
                                "%s: the saved state is for %s = %.17g, not %.17g (a fixed "
                                "parameter)",
                                KNAME, pname[i], hb__get_f64(b + HB__CP_OFF_CONFIG + 8 * i),
                                x[i]);
    uint32_t episodes = hb__get_u32(b + HB__CP_OFF_EPISODES);
    uint32_t diverged = hb__get_u32(b + HB__CP_OFF_DIVERGED);
    if (episodes > n)
        return hb_error_set(err, HB_EINVAL, NULL,
                            "%s: the saved state has trained %lu episodes, more than the %lu asked",
                            KNAME, (unsigned long)episodes, (unsigned long)n);
    if (diverged > 1)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: the saved state has a bad divergence flag",
                            KNAME);
    memcpy(L->cfg, x, sizeof L->cfg);
    for (int k = 0; k < N_FEAT; k++) {
        L->w[k] = hb__get_f64(b + HB__CP_OFF_W + 8 * k);
        L->v[k] = hb__get_f64(b + HB__CP_OFF_V + 8 * k);
    }
    L->reset_rng.state = hb__get_u64(b + HB__CP_OFF_RESET);
    L->action_rng.state = hb__get_u64(b + HB__CP_OFF_ACTION);
    L->episodes = episodes;
    L->diverged = (int)diverged;
    return HB_OK;
}

/* ---- The kernel interface. ---- */

static int cp_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&box, args, out, err);
}


/* Train from 'from' (or from scratch) up to the budget's episode count, then evaluate. After a
 * divergence nothing is trained any more, but the episode count still advances to the budget,
 * so a resumed run and a run from scratch end in the same state bytes; the loss is then 0.0, the
 * worst, at this and every larger budget. On any error 'to' is untouched, '*loss' is NaN and
 * '*trained' (which may be NULL) is 0. 'to' may be 'from': 'from' is read before 'to' is set,
 * and its old data is left to the caller to free. */
static int cp_train(const hb_space *sp, const double *x, double budget, uint64_t seed,
                    const hb_kernel_state *from, hb_kernel_state *to, double *trained,
                    double *loss, hb_error *err)
{
    learner L;
    episode ep;
    unsigned char *out = NULL;
    double z;
    int rc;

    if (trained != NULL) *trained = 0.0;
    /* the space laid out as cp_space() builds it (the kernel reads x by position), the budget
     * positive, every value inside the kernel's own bounds (HB_ERANGE, never clamped) */
    if ((rc = hb__box_check(&box, sp, x, budget, loss, &z, err)) != HB_OK) return rc;
    uint32_t n = (uint32_t)hb__budget_steps(budget, B_MAX);
    if (from == NULL)
        learner_init(&L, x, seed);
    else if ((rc = state_read(from, x, seed, n, &L, err)) != HB_OK)
        return rc;
    /* Allocate before training, so running out of memory wastes no work and changes nothing. */
    if (to != NULL && (out = hb_malloc(HB__CP_STATE_LEN)) == NULL)
        return hb_error_set(err, HB_ENOMEM, NULL, "%s: no memory for the saved state", KNAME);

    uint32_t start = L.episodes;
    for (; L.episodes < n && !L.diverged; L.episodes++) L.diverged = !train_episode(&L, &ep);
    if (L.diverged) L.episodes = n;
    *loss = L.diverged ? 0.0 : evaluate(&L, seed);
    if (trained != NULL) *trained = (double)(n - start);
    if (to != NULL) {
        state_write(&L, seed, out);
        to->data = out;
        to->len = HB__CP_STATE_LEN;
    }
    return HB_OK;
}

static int cp_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                   double *loss, hb_error *err)
{
    return cp_train(sp, x, budget, seed, NULL, NULL, NULL, loss, err);
}

const hb_kernel hb__kernel_cartpole = {
    .abi = HB_KERNEL_ABI,
    .name = KNAME,
    .summary = "REINFORCE with a baseline on CartPole-v1, 5 floats, budget 9..729 episodes",
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = -1.0,
    .deterministic = 0,
    .space = cp_space,
    .eval = cp_eval,
    .train = cp_train,
};
