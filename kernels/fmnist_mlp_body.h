/* fmnist_mlp_body.h — the 784-H-10 ReLU network on Fashion-MNIST (docs/kernels.md §4) in one
 * precision: included once by fmnist_mlp.c (float64, the kernel the vectors hold) and once by
 * fmnist_mlp32.c (float32, faster, not held to the vectors), each of which defines first:
 *   REAL         double or float: every array and every operation of the training
 *   GEMM, EXP    cblas_dgemm / cblas_sgemm, exp / expf
 *   KNAME, STATE_MAGIC, KERNEL_SYM, SUMMARY   the kernel's name, its state's 8-byte magic (so
 *                a state of one precision is refused by the other), the hb_kernel's symbol
 *                and its summary line.
 * SGD with heavy-ball momentum and weight decay, budget = epochs, loss = validation error. A
 * training can stop after any epoch and go on from its saved state bit for bit as if it had
 * never stopped (the prefix property of §1.1), which the train() entry of hb_kernel.h exposes.
 * Matrix products go through CBLAS (OpenBLAS, one thread); the data comes from fmnist_data.c.
 * Knows only the kernel interface: no optimisers, MPI or run files. Not a header of
 * declarations: it defines static functions and the kernel, so each file includes it once. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmnist_data.h"
#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "kernels_impl.h"
#include "hb_rng.h"
#include "hb_space.h"
#include "sha256.h"

#define B_MIN 1.0
#define B_MAX 27.0
#define NP HB__FMNIST_PIXELS
#define NC HB__FMNIST_CLASSES
#define NROWS HB__FMNIST_ROWS
#define VAL_CHUNK 1000   /* validation rows per forward pass: big for dgemm, 8 MB at H = 1024 */
#define MAX_HIDDEN 1024  /* the space's upper bound, also the test hook's */
#define N_PARAMS 5
#define STATE_VERSION 1u /* bump when the layout below changes */
#define R(v) ((REAL)(v)) /* a constant in the precision of REAL */

/* The space in the order of docs/kernels.md §4's table; x[] follows it. 'mut': the parameter may
 * change between epochs (§4, "Changing hyperparameters at a step boundary"): the three the SGD
 * update reads. n_hidden sets the shape of the network and of the state; batch_size stays fixed
 * too: it sets how many updates an epoch makes, so it would change what a budget unit is. */
enum { P_LR, P_BATCH, P_HIDDEN, P_WD, P_MOM };
static const struct {
    const char *name;
    hb_param_type type;
    double lower, upper;
    hb_scale scale;
    int mut;
} params[N_PARAMS] = {
    {"learning_rate", HB_PARAM_FLOAT, 1e-4, 1.0, HB_SCALE_LOG, 1},
    {"batch_size", HB_PARAM_INT, 16, 512, HB_SCALE_LOG, 0},
    {"n_hidden", HB_PARAM_INT, 16, MAX_HIDDEN, HB_SCALE_LOG, 0},
    {"weight_decay", HB_PARAM_FLOAT, 1e-6, 1e-2, HB_SCALE_LOG, 1},
    {"momentum", HB_PARAM_FLOAT, 0.0, 0.99, HB_SCALE_LINEAR, 1},
};

/* A checked configuration. */
typedef struct config {
    double v[N_PARAMS]; /* the values as trained: integers rounded (docs/kernels.md §1) */
    double lr, wd, mu;  /* learning rate, weight decay, momentum */
    size_t batch, h;    /* batch size, hidden units */
} config;

/* The saved state is one flat buffer: this header, then the REALs W1 (stored transposed,
 * H x 784, because OpenBLAS makes the gradient dH^T·X in that layout faster than X^T·dH in
 * 784 x H: 10-40 % on that product here), b1 (H), W2 (H x 10), b2 (10), their four momentum
 * buffers in the same order, then the uint32 permutation (10000), then the SHA-256 of all the
 * bytes before it. Native byte order: a state is read back by the same build on the same
 * machine (the magic fails on the other order). */
typedef struct state_header {
    char magic[8];           /* STATE_MAGIC */
    uint32_t version;        /* STATE_VERSION */
    uint32_t n_hidden;       /* H, which sets the length */
    char kernel[16];         /* KNAME, NUL-padded */
    uint64_t seed;           /* the seed of streams 1 and 2 */
    double config[N_PARAMS]; /* config.v of the last training call (mutable values may change) */
    uint64_t epochs;         /* epochs done */
    uint64_t diverged;       /* 1 if a parameter was non-finite after epoch 'epochs' */
    uint64_t stream2;        /* SplitMix64 state of stream 2 after the last shuffle */
} state_header;
_Static_assert(sizeof(state_header) == HB__FMNIST_STATE_HEADER &&
                   sizeof(state_header) % sizeof(double) == 0,
               "the header has no padding and keeps the doubles after it aligned");

/* A network in its state buffer: the pointers point into 'blob'. */
typedef struct net {
    unsigned char *blob;                /* state_len(h) bytes */
    size_t h;                           /* hidden units */
    state_header hd;                    /* written into 'blob' when the state is handed out */
    REAL *w1t, *b1, *w2, *b2;           /* w1t[j * 784 + i] is W1[i][j] */
    REAL *v_w1t, *v_b1, *v_w2, *v_b2;   /* momentum buffers */
    uint32_t *perm;                     /* the order of the training rows, carried over epochs */
} net;

/* Scratch for one call; one allocation. */
typedef struct work {
    REAL *mem;                        /* the one block the pointers below point into */
    REAL *x;                          /* rows x 784: a gathered batch or validation chunk */
    REAL *a;                          /* rows x H: hidden activations after the ReLU */
    REAL *s;                          /* rows x 10: logits, then their gradient */
    REAL *dh;                         /* batch x H: gradient at the pre-activations */
    REAL *g_w1t, *g_b1, *g_w2, *g_b2; /* the batch's gradients (W1's transposed too) */
} work;

static REAL pixel[256]; /* pixel[p] = p / 255 (docs/kernels.md §4, input), the division in REAL */

/* Once per process. OpenBLAS gets one thread: an hbmpi worker is one evaluation on one core, and
 * OpenBLAS's own threads would compete with the other ranks and spin between calls (DESIGN.md
 * contract 6). Calling openblas_set_num_threads (which hbmpi's main also does through dlsym)
 * overrides OPENBLAS_NUM_THREADS; the kernel links OpenBLAS itself, so the call is direct. */
static void setup(void)
{
    static int done;
    if (done) return;
    openblas_set_num_threads(1);
    for (int p = 0; p < 256; p++) pixel[p] = R(p) / R(255);
    done = 1;
}

static size_t n_weights(size_t h) { return (size_t)NP * h + h + h * NC + NC; }

static size_t state_len(size_t h)
{
    return sizeof(state_header) + 2 * n_weights(h) * sizeof(REAL) + NROWS * sizeof(uint32_t) +
           HB__SHA256_BYTES;
}

/* Point the arrays of 'n' into its blob. */
static void bind(net *n)
{
    REAL *p = (REAL *)(void *)(n->blob + sizeof(state_header));
    size_t h = n->h;
    n->w1t = p, p += NP * h;
    n->b1 = p, p += h;
    n->w2 = p, p += h * NC;
    n->b2 = p, p += NC;
    n->v_w1t = p, p += NP * h;
    n->v_b1 = p, p += h;
    n->v_w2 = p, p += h * NC;
    n->v_b2 = p, p += NC;
    n->perm = (uint32_t *)(void *)p;
}

/* Initial weights from stream 1 (docs/kernels.md §4): W1 drawn in row-major order (input outer,
 * hidden inner; stored transposed), then W2 (hidden outer, class inner), each (2u − 1)·a with
 * Glorot's a, computed in double and then rounded to REAL; biases and momenta 0; the identity
 * permutation; stream 2 at its start. */
static void init_net(net *n, const config *c, uint64_t seed)
{
    size_t h = n->h;
    hb_splitmix g;
    memset(&n->hd, 0, sizeof n->hd);
    memcpy(n->hd.magic, STATE_MAGIC, sizeof n->hd.magic);
    n->hd.version = STATE_VERSION;
    n->hd.n_hidden = (uint32_t)h;
    strcpy(n->hd.kernel, KNAME);
    n->hd.seed = seed;
    if (c != NULL) memcpy(n->hd.config, c->v, sizeof n->hd.config);
    hb_splitmix_init(&g, seed, 2);
    n->hd.stream2 = g.state;

    hb_splitmix_init(&g, seed, 1);
    double a1 = sqrt(6.0 / (double)(NP + h)), a2 = sqrt(6.0 / (double)(h + NC));
    for (size_t i = 0; i < NP; i++)
        for (size_t j = 0; j < h; j++)
            n->w1t[j * NP + i] = R((2.0 * hb_splitmix_double(&g) - 1.0) * a1);
    for (size_t i = 0; i < h * NC; i++) n->w2[i] = R((2.0 * hb_splitmix_double(&g) - 1.0) * a2);
    memset(n->b1, 0, h * sizeof(REAL));
    memset(n->b2, 0, NC * sizeof(REAL));
    memset(n->v_w1t, 0, n_weights(h) * sizeof(REAL)); /* the four momentum buffers, contiguous */
    for (uint32_t i = 0; i < NROWS; i++) n->perm[i] = i;
}

static int work_alloc(work *w, size_t h, size_t batch)
{
    size_t rows = batch > VAL_CHUNK ? batch : VAL_CHUNK;
    size_t total = rows * NP + rows * h + rows * NC + batch * h + NP * h + h + h * NC + NC;
    w->mem = hb_malloc(total * sizeof(REAL));
    if (w->mem == NULL) return HB_ENOMEM;
    REAL *p = w->mem;
    w->x = p, p += rows * NP;
    w->a = p, p += rows * h;
    w->s = p, p += rows * NC;
    w->dh = p, p += batch * h;
    w->g_w1t = p, p += NP * h;
    w->g_b1 = p, p += h;
    w->g_w2 = p, p += h * NC;
    w->g_b2 = p;
    return HB_OK;
}

/* The forward pass of 'm' rows of w->x: w->a = max(x·W1 + b1, 0), w->s = a·W2 + b2. */
static void forward(const net *n, work *w, size_t m)
{
    int h = (int)n->h;
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, h, NP, R(1), w->x, NP, n->w1t, NP, R(0),
         w->a, h);
    for (size_t r = 0; r < m; r++) {
        REAL *a = w->a + r * n->h;
        for (size_t j = 0; j < n->h; j++) {
            REAL v = a[j] + n->b1[j];
            a[j] = v < R(0) ? R(0) : v; /* max(a, 0); a NaN stays NaN, as numpy's maximum does */
        }
    }
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, NC, h, R(1), w->a, h, n->w2, NC, R(0),
         w->s, NC);
    for (size_t r = 0; r < m; r++)
        for (size_t k = 0; k < NC; k++) w->s[r * NC + k] += n->b2[k];
}

/* v ← μ·v + g (+ wd·θ for the weights), θ ← θ − lr·v: PyTorch's SGD with dampening 0, the
 * gradient first, in one pass over each array. */
static void sgd_decay(REAL *restrict p, REAL *restrict v, const REAL *restrict g, size_t len,
                      const config *c)
{
    REAL lr = R(c->lr), mu = R(c->mu), wd = R(c->wd);
    for (size_t i = 0; i < len; i++) {
        REAL gi = g[i] + wd * p[i];
        v[i] = mu * v[i] + gi;
        p[i] -= lr * v[i];
    }
}

static void sgd_plain(REAL *restrict p, REAL *restrict v, const REAL *restrict g, size_t len,
                      const config *c)
{
    REAL lr = R(c->lr), mu = R(c->mu);
    for (size_t i = 0; i < len; i++) {
        v[i] = mu * v[i] + g[i];
        p[i] -= lr * v[i];
    }
}

/* One SGD step on the 'm' training rows perm[first .. first + m). */
static void step(net *n, work *w, const config *c, const hb__fmnist *d, size_t first, size_t m)
{
    size_t h = n->h;
    /* Gather the batch's rows into one contiguous block so that one dgemm does each product. */
    for (size_t r = 0; r < m; r++) {
        const unsigned char *src = d->train_x + (size_t)n->perm[first + r] * NP;
        REAL *dst = w->x + r * NP;
        for (size_t k = 0; k < NP; k++) dst[k] = pixel[src[k]];
    }
    forward(n, w, m);
    /* Softmax cross-entropy, averaged over the batch: ds = (softmax(s) − onehot(y)) / m. */
    for (size_t r = 0; r < m; r++) {
        REAL *s = w->s + r * NC, mx = s[0], sum = R(0);
        unsigned y = d->train_y[n->perm[first + r]];
        for (size_t k = 1; k < NC; k++)
            if (s[k] > mx) mx = s[k];
        for (size_t k = 0; k < NC; k++) sum += (s[k] = EXP(s[k] - mx));
        for (size_t k = 0; k < NC; k++) s[k] = (s[k] / sum - (k == y ? R(1) : R(0))) / R(m);
    }
    /* Every gradient from the parameters before this step's update. */
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)h, NC, (int)m, R(1), w->a, (int)h, w->s, NC,
         R(0), w->g_w2, NC);
    memset(w->g_b2, 0, NC * sizeof(REAL));
    for (size_t r = 0; r < m; r++)
        for (size_t k = 0; k < NC; k++) w->g_b2[k] += w->s[r * NC + k];
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)h, NC, R(1), w->s, NC, n->w2, NC,
         R(0), w->dh, (int)h);
    for (size_t i = 0; i < m * h; i++)
        if (!(w->a[i] > R(0))) w->dh[i] = R(0); /* ReLU derivative [a > 0]; h > 0 iff a > 0 */
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)h, NP, (int)m, R(1), w->dh, (int)h, w->x, NP,
         R(0), w->g_w1t, NP);
    memset(w->g_b1, 0, h * sizeof(REAL));
    for (size_t r = 0; r < m; r++)
        for (size_t j = 0; j < h; j++) w->g_b1[j] += w->dh[r * h + j];
    /* docs/kernels.md §4: W1, b1, W2, b2 in that order; biases get no weight decay. */
    sgd_decay(n->w1t, n->v_w1t, w->g_w1t, NP * h, c);
    sgd_plain(n->b1, n->v_b1, w->g_b1, h, c);
    sgd_decay(n->w2, n->v_w2, w->g_w2, h * NC, c);
    sgd_plain(n->b2, n->v_b2, w->g_b2, NC, c);
}

/* One epoch: shuffle the permutation in place with stream 2 (Fisher–Yates of §1.1, one draw per
 * i, the full 64-bit output mod i + 1), then consecutive batches, the last one the remainder. */
static void epoch(net *n, work *w, const config *c, const hb__fmnist *d)
{
    hb_splitmix g = {n->hd.stream2};
    for (uint32_t i = NROWS - 1; i >= 1; i--) {
        uint32_t j = (uint32_t)(hb_splitmix_next(&g) % ((uint64_t)i + 1));
        uint32_t t = n->perm[i];
        n->perm[i] = n->perm[j];
        n->perm[j] = t;
    }
    n->hd.stream2 = g.state;
    for (size_t first = 0; first < NROWS; first += c->batch)
        step(n, w, c, d, first, NROWS - first < c->batch ? NROWS - first : c->batch);
}

static int params_finite(const net *n)
{
    /* W1, b1, W2, b2 are contiguous at the start of the blob's arrays. */
    size_t len = n_weights(n->h);
    for (size_t i = 0; i < len; i++)
        if (!isfinite(n->w1t[i])) return 0;
    return 1;
}

/* Validation error: the share of the 10000 validation images whose argmax logit (the lowest
 * index on a tie) is not the label; 1.0 if any logit is non-finite (docs/kernels.md §4). */
static double val_error(const net *n, work *w, const hb__fmnist *d)
{
    size_t wrong = 0;
    for (size_t first = 0; first < NROWS; first += VAL_CHUNK) {
        size_t m = NROWS - first < VAL_CHUNK ? NROWS - first : VAL_CHUNK;
        const unsigned char *src = d->val_x + first * NP;
        for (size_t i = 0; i < m * NP; i++) w->x[i] = pixel[src[i]];
        forward(n, w, m);
        for (size_t r = 0; r < m; r++) {
            const REAL *s = w->s + r * NC;
            size_t best = 0;
            for (size_t k = 0; k < NC; k++) {
                if (!isfinite(s[k])) return 1.0;
                if (s[k] > s[best]) best = k;
            }
            wrong += best != d->val_y[first + r];
        }
    }
    return (double)wrong / (double)NROWS;
}

/* Options: NULL for the Debian package's directory, or "data=DIR". */
static int parse_args(const char *args, const char **dir, hb_error *err)
{
    *dir = NULL;
    if (args == NULL) return HB_OK;
    if (strncmp(args, "data=", 5) == 0 && args[5] != '\0') {
        *dir = args + 5;
        return HB_OK;
    }
    return hb_error_set(err, HB_EINVAL, NULL,
                        "%s: unknown option '%s'; the one option is data=DIR (the directory "
                        "of the Fashion-MNIST .gz files, default %s)",
                        KNAME, args, HB__FMNIST_DEFAULT_DIR);
}

/* The space, after checking the data: a missing, truncated or damaged data set is reported when
 * the run starts, not as a failed trial. The data stays in fmnist_data.c for eval, which gets no
 * options. */
static int fm_space(const char *args, hb_space **out, hb_error *err)
{
    hb_space *sp = NULL;
    const char *dir;
    int rc;
    if (out == NULL) return hb_error_set(err, HB_EINVAL, NULL, "%s: 'out' is NULL", KNAME);
    *out = NULL;
    if ((rc = parse_args(args, &dir, err)) != HB_OK) return rc;
    if ((rc = hb__fmnist_check(dir, err)) != HB_OK) return rc;
    if ((rc = hb_space_create(&sp)) != HB_OK)
        return hb_error_set(err, rc, NULL, "%s: cannot create the space", KNAME);
    for (size_t i = 0; i < N_PARAMS; i++) {
        rc = params[i].type == HB_PARAM_INT
                 ? hb_space_add_int(sp, params[i].name, params[i].lower, params[i].upper,
                                    params[i].scale, NAN, err)
                 : hb_space_add_float(sp, params[i].name, params[i].lower, params[i].upper,
                                      params[i].scale, NAN, err);
        if (rc == HB_OK && params[i].mut) rc = hb_space_set_mutable(sp, params[i].name, 1, err);
        if (rc != HB_OK) goto fail;
    }
    if ((rc = hb_space_finalize(sp, NULL, err)) != HB_OK) goto fail;
    *out = sp;
    return HB_OK;
fail:
    hb_space_free(sp);
    return rc;
}

/* Check the space's layout and every value (HB_ERANGE naming the parameter, never clamped), and
 * round the integers half up (docs/kernels.md §1). */
static int check_config(const hb_space *sp, const double *x, config *c, hb_error *err)
{
    if (hb_space_dim(sp) != N_PARAMS)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: the space has %zu parameters, expected %d",
                            KNAME, hb_space_dim(sp), N_PARAMS);
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (strcmp(hb_space_name(sp, i), params[i].name) != 0 ||
            hb_space_type(sp, i) != params[i].type)
            return hb_error_set(err, HB_EINVAL, NULL,
                                "%s: parameter %zu is '%s', expected the %s '%s'", KNAME, i,
                                hb_space_name(sp, i),
                                params[i].type == HB_PARAM_INT ? "int" : "float", params[i].name);
        if (!(x[i] >= params[i].lower && x[i] <= params[i].upper))
            return hb_error_set(err, HB_ERANGE, NULL,
                                "%s: parameter '%s' = %.17g is outside [%g, %g]", KNAME,
                                params[i].name, x[i], params[i].lower, params[i].upper);
        c->v[i] = params[i].type == HB_PARAM_INT ? floor(x[i] + 0.5) : x[i];
    }
    c->lr = c->v[P_LR];
    c->wd = c->v[P_WD];
    c->mu = c->v[P_MOM];
    c->batch = (size_t)c->v[P_BATCH];
    c->h = (size_t)c->v[P_HIDDEN];
    return HB_OK;
}

static int refuse(hb_error *err, const char *why)
{
    return hb_error_set(err, HB_EINVAL, NULL, "%s: the saved state does not fit: %s", KNAME, why);
}

/* A saved state 'st' fits when it is this kernel's, of this layout, undamaged, for this seed and
 * the fixed parameters of this configuration, with at most 'epochs' epochs done. The mutable
 * parameters may differ: training goes on with the new values. Reads only. */
static int check_state(const hb_kernel_state *st, const config *c, uint64_t seed,
                       uint64_t epochs, hb_error *err)
{
    state_header hd;
    unsigned char digest[HB__SHA256_BYTES];
    if (st->data == NULL || st->len < sizeof hd) return refuse(err, "too short");
    memcpy(&hd, st->data, sizeof hd);
    if (memcmp(hd.magic, STATE_MAGIC, sizeof hd.magic) != 0 || hd.version != STATE_VERSION ||
        memchr(hd.kernel, '\0', sizeof hd.kernel) == NULL || strcmp(hd.kernel, KNAME) != 0)
        return refuse(err, "not a state of this version of " KNAME);
    if (hd.n_hidden != c->h) return refuse(err, "another n_hidden");
    if (st->len != state_len(c->h)) return refuse(err, "wrong length");
    const unsigned char *bytes = st->data;
    hb__sha256(bytes, st->len - HB__SHA256_BYTES, digest);
    if (memcmp(digest, bytes + st->len - HB__SHA256_BYTES, HB__SHA256_BYTES) != 0)
        return refuse(err, "damaged (SHA-256 checksum mismatch)");
    if (hd.seed != seed) return refuse(err, "another seed");
    for (size_t i = 0; i < N_PARAMS; i++)
        if (!params[i].mut && !(hd.config[i] == c->v[i]))
            return refuse(err, "another value of a fixed parameter (batch_size, n_hidden)");
    if (hd.epochs < 1 || hd.epochs > epochs) return refuse(err, "more epochs than the budget");
    if (hd.diverged > 1) return refuse(err, "a bad divergence flag");
    /* The permutation indexes the data: a state must not make the kernel read out of bounds,
     * whatever bytes it carries. Each index once, each below 10000. */
    unsigned char seen[NROWS / 8 + 1] = {0};
    const unsigned char *pp = bytes + st->len - HB__SHA256_BYTES - NROWS * sizeof(uint32_t);
    for (size_t i = 0; i < NROWS; i++) {
        uint32_t v;
        memcpy(&v, pp + i * sizeof v, sizeof v);
        if (v >= NROWS || (seen[v / 8] >> (v % 8) & 1)) return refuse(err, "a bad permutation");
        seen[v / 8] |= (unsigned char)(1u << (v % 8));
    }
    return HB_OK;
}

static int fm_train(const hb_space *sp, const double *x, double budget, uint64_t seed,
                    const hb_kernel_state *from, hb_kernel_state *to, double *trained,
                    double *loss, hb_error *err)
{
    config c;
    hb__fmnist d;
    net n = {0};
    work w = {0};
    int rc;
    memset(&c, 0, sizeof c); /* check_config sets it; GCC cannot tell in every inlining */
    if (loss != NULL) *loss = NAN;
    if (trained != NULL) *trained = 0.0;
    if (sp == NULL || x == NULL || loss == NULL || trained == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: NULL space, config, loss or trained",
                            KNAME);
    if ((rc = check_config(sp, x, &c, err)) != HB_OK) return rc;
    if (!(budget > 0.0))
        return hb_error_set(err, HB_EINVAL, NULL, "%s: budget must be > 0, got %g", KNAME,
                            budget);
    uint64_t epochs = hb__budget_steps(budget, B_MAX);
    if ((rc = hb__fmnist_get(&d, err)) != HB_OK) return rc;
    if (from != NULL && (rc = check_state(from, &c, seed, epochs, err)) != HB_OK) return rc;
    setup();

    if (work_alloc(&w, c.h, c.batch) != HB_OK)
        return hb_error_set(err, HB_ENOMEM, NULL, "%s: out of memory", KNAME);
    n.h = c.h;
    /* Continuing into the same record trains in place; otherwise the state gets its own copy. */
    n.blob = to != NULL && to == from ? to->data : hb_malloc(state_len(c.h));
    if (n.blob == NULL) {
        hb_free(w.mem);
        return hb_error_set(err, HB_ENOMEM, NULL, "%s: out of memory", KNAME);
    }
    bind(&n);
    if (from == NULL) {
        init_net(&n, &c, seed);
    } else {
        if (n.blob != from->data) memcpy(n.blob, from->data, from->len);
        memcpy(&n.hd, n.blob, sizeof n.hd);
        memcpy(n.hd.config, c.v, sizeof n.hd.config); /* the values trained from here on */
    }

    uint64_t start = n.hd.epochs;
    while (!n.hd.diverged && n.hd.epochs < epochs) {
        epoch(&n, &w, &c, &d);
        n.hd.epochs++;
        if (!params_finite(&n)) n.hd.diverged = 1; /* docs/kernels.md §4: stop, the loss is 1.0 */
    }
    *trained = (double)(n.hd.epochs - start);
    *loss = n.hd.diverged ? 1.0 : val_error(&n, &w, &d);
    hb_free(w.mem);

    if (to == NULL) {
        hb_free(n.blob);
        return HB_OK;
    }
    size_t len = state_len(c.h);
    memcpy(n.blob, &n.hd, sizeof n.hd);
    hb__sha256(n.blob, len - HB__SHA256_BYTES, n.blob + len - HB__SHA256_BYTES);
    to->data = n.blob;
    to->len = len;
    return HB_OK;
}

static int fm_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                   double *loss, hb_error *err)
{
    double trained;
    return fm_train(sp, x, budget, seed, NULL, NULL, &trained, loss, err);
}

const hb_kernel KERNEL_SYM = {
    .abi = HB_KERNEL_ABI,
    .name = KNAME,
    .summary = SUMMARY,
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = NAN,
    .deterministic = 0,
    .space = fm_space,
    .eval = fm_eval,
    .train = fm_train,
};
