/* bench_ask.c — the cost of one sampler proposal (hb_sampler_propose) at a fixed number of
 * finished results, for the model-based samplers, in a 6-d continuous space (hartmann6) and
 * an 8-d mixed space. Prints one JSON object on stdout (progress on stderr) with the median
 * and quartiles per cell and the speedup over published costs of HpBandSter and Optuna.
 * A program, not a test: the numbers depend on the machine; CTest only smoke-tests it. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_history.h"
#include "hb_kernels.h"
#include "hb_rng.h"
#include "hb_sampler.h"
#include "hb_space.h"

#define MAX_N 2000        /* the most finished results of any cell */
#define MAX_DIM 8         /* the widest space */
#define BUDGET 81.0       /* every result and every proposal is at hartmann6's full budget */
#define DATA_SEED 20240611u /* configurations of the results */
#define SAMPLER_SEED 1u

/* Peer costs per proposal at 2000 results, in ms (measured elsewhere; see README.md). */
#define PEER_BOHB_6D_LO 48.0
#define PEER_BOHB_6D_HI 50.0
#define PEER_TPE_6D 94.0
#define PEER_BOHB_MIXED 70.0
#define PEER_TPE_MIXED 132.0

typedef struct bench_space {
    const char *name; /* "hartmann6" | "mixed8" */
    hb_space *sp;     /* owned */
    size_t dim;
    double *x;        /* MAX_N configurations, native encoding */
    double *loss;     /* their losses at BUDGET */
} bench_space;

typedef struct cell {
    const char *sampler;
    const char *space;
    size_t dim;
    size_t n_results;
    double median_us, q1_us, q3_us;
    size_t reps;
} cell;

typedef struct settings {
    int quick;           /* --quick: a short smoke run */
    double target_s;     /* timed seconds per cell (roughly) */
    size_t min_reps;     /* at least this many timed proposals per cell */
    size_t max_reps;     /* at most this many */
    size_t warmup;       /* untimed proposals before the timed ones */
    int use[3];          /* kde, tpe, gp selected */
} settings;

static const char *const sampler_names[3] = {"kde", "tpe", "gp"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what, const hb_error *err)
{
    fprintf(stderr, "bench_ask: %s: %s\n", what, err->msg[0] ? err->msg : hb_strerror(err->status));
    return 1;
}

/* ---------- the two spaces and their results ---------- */

/* An 8-d mixed space: 3 floats (lr log), 2 ints (units log), 2 categoricals (3 and 4 choices)
 * and an ordinal of 5 levels. */
static int mixed_space(hb_space **out, hb_error *err)
{
    hb_space *sp = NULL;
    hb_value opts[] = {{1, 0, "adam"}, {1, 0, "sgd"}, {1, 0, "rmsprop"}};
    hb_value acts[] = {{1, 0, "relu"}, {1, 0, "tanh"}, {1, 0, "gelu"}, {1, 0, "elu"}};
    hb_value batch[] = {
        {0, 16, NULL}, {0, 32, NULL}, {0, 64, NULL}, {0, 128, NULL}, {0, 256, NULL}};
    int rc = hb_space_create(&sp);
    if (rc != HB_OK) return hb_error_set(err, rc, NULL, "cannot create the space");
    if ((rc = hb_space_add_float(sp, "lr", 1e-5, 1e-1, HB_SCALE_LOG, NAN, err)) != HB_OK ||
        (rc = hb_space_add_float(sp, "momentum", 0, 0.99, HB_SCALE_LINEAR, NAN, err)) != HB_OK ||
        (rc = hb_space_add_float(sp, "dropout", 0, 0.5, HB_SCALE_LINEAR, NAN, err)) != HB_OK ||
        (rc = hb_space_add_int(sp, "layers", 1, 8, HB_SCALE_LINEAR, NAN, err)) != HB_OK ||
        (rc = hb_space_add_int(sp, "units", 16, 1024, HB_SCALE_LOG, NAN, err)) != HB_OK ||
        (rc = hb_space_add_categorical(sp, "optimizer", opts, 3, NULL, -1, err)) != HB_OK ||
        (rc = hb_space_add_categorical(sp, "activation", acts, 4, NULL, -1, err)) != HB_OK ||
        (rc = hb_space_add_ordinal(sp, "batch", batch, 5, -1, err)) != HB_OK ||
        (rc = hb_space_finalize(sp, NULL, err)) != HB_OK) {
        hb_space_free(sp);
        return rc;
    }
    *out = sp;
    return HB_OK;
}

/* A smooth deterministic loss over the mixed space with its optimum near lr = 1e-3,
 * momentum 0.9, dropout 0.2, 3 layers, 256 units, adam, gelu, batch 64. */
static double mixed_loss(const double *x)
{
    static const double opt_pen[3] = {0.0, 0.4, 0.2}, act_pen[4] = {0.1, 0.5, 0.0, 0.2};
    double a = log10(x[0]) + 3.0, b = x[1] - 0.9, c = x[2] - 0.2, d = x[3] - 3.0;
    double e = log2(x[4]) - 8.0, f = x[7] - 2.0;
    return a * a + 4.0 * b * b + 2.0 * c * c + 0.1 * d * d + 0.125 * e * e +
           opt_pen[(int)x[5]] + act_pen[(int)x[6]] + 0.2 * f * f;
}

/* Build space 'which' (0: hartmann6, 1: mixed8) and MAX_N random configurations with their
 * losses at BUDGET; cell N uses the first N of them. */
static int space_setup(int which, bench_space *b, hb_error *err)
{
    const hb_kernel *k = NULL;
    int rc;
    memset(b, 0, sizeof *b);
    if (which == 0) {
        b->name = "hartmann6";
        if ((k = hb_kernels_find("hartmann6")) == NULL)
            return hb_error_set(err, HB_ENOTFOUND, NULL, "no kernel hartmann6");
        rc = k->space(NULL, &b->sp, err);
    } else {
        b->name = "mixed8";
        rc = mixed_space(&b->sp, err);
    }
    if (rc != HB_OK) return rc;
    b->dim = hb_space_dim(b->sp);
    b->x = hb_malloc(MAX_N * b->dim * sizeof *b->x);
    b->loss = hb_malloc(MAX_N * sizeof *b->loss);
    if (b->x == NULL || b->loss == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    hb_rng rng;
    hb_rng_init(&rng, DATA_SEED, (uint64_t)which);
    for (size_t i = 0; i < MAX_N; i++) {
        double *x = b->x + i * b->dim;
        if ((rc = hb_space_sample(b->sp, &rng, x, err)) != HB_OK) return rc;
        if (k)
            rc = k->eval(b->sp, x, BUDGET, hb_hash2(DATA_SEED, i), &b->loss[i], err);
        else
            b->loss[i] = mixed_loss(x);
        if (rc != HB_OK) return rc;
    }
    return HB_OK;
}

static void space_teardown(bench_space *b)
{
    hb_space_free(b->sp);
    hb_free(b->x);
    hb_free(b->loss);
}

/* ---------- timing ---------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile 'q' of sorted 't[0..n-1]' with linear interpolation between order statistics. */
static double quantile(const double *t, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return t[lo] + (pos - (double)lo) * (t[hi] - t[lo]);
}

/* Time proposals of sampler 'kind' given the first 'n' results of 'b'. The proposals are not
 * added to the history, so every one sees the same n results. */
static int run_cell(const settings *st, const char *kind, const bench_space *b, size_t n,
                    cell *c, hb_error *err)
{
    hb_history *h = NULL;
    hb_sampler *s = NULL;
    double *times = NULL, x[MAX_DIM];
    int rc = hb_history_create(b->dim, &h);
    if (rc != HB_OK) return hb_error_set(err, rc, NULL, "cannot create the history");
    for (size_t i = 0; i < n && rc == HB_OK; i++)
        rc = hb_history_add(h, i, b->x + i * b->dim, BUDGET, b->loss[i], HB_TRIAL_OK);
    if (rc != HB_OK) {
        hb_error_set(err, rc, NULL, "cannot fill the history");
        goto done;
    }
    /* Every timed proposal goes through the model: no share of plain random draws. */
    hb_sampler_opts o;
    hb_sampler_opts_init(&o);
    o.random_fraction = 0.0;
    if ((rc = hb_sampler_create(kind, b->sp, SAMPLER_SEED, &o, &s, err)) != HB_OK) goto done;

    /* Warm up (caches, lazily built models); the fastest warm-up proposal sets the count. */
    double per = HUGE_VAL;
    for (size_t r = 0; r < st->warmup; r++) {
        double a = now_s();
        if ((rc = hb_sampler_propose(s, h, NULL, 0, BUDGET, x, err)) != HB_OK) goto done;
        double t = now_s() - a;
        if (t < per) per = t;
    }
    double want = per > 0 ? ceil(st->target_s / per) : (double)st->max_reps;
    size_t reps = want < (double)st->min_reps   ? st->min_reps
                  : want > (double)st->max_reps ? st->max_reps
                                                : (size_t)want;
    if ((times = hb_malloc(reps * sizeof *times)) == NULL) {
        rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < reps; r++) {
        double a = now_s();
        rc = hb_sampler_propose(s, h, NULL, 0, BUDGET, x, err);
        times[r] = now_s() - a;
        if (rc != HB_OK) goto done;
    }
    qsort(times, reps, sizeof *times, cmp_double);
    c->sampler = kind;
    c->space = b->name;
    c->dim = b->dim;
    c->n_results = n;
    c->median_us = 1e6 * quantile(times, reps, 0.5);
    c->q1_us = 1e6 * quantile(times, reps, 0.25);
    c->q3_us = 1e6 * quantile(times, reps, 0.75);
    c->reps = reps;
done:
    if (rc == HB_SAMPLER_EXHAUSTED) rc = hb_error_set(err, HB_EINVAL, NULL, "sampler exhausted");
    hb_free(times);
    hb_sampler_free(s);
    hb_history_free(h);
    return rc;
}

/* ---------- output ---------- */

static void print_ratio(const cell *c, const char *peer, double peer_ms, int *first)
{
    printf("%s\n    {\"sampler\": \"%s\", \"space\": \"%s\", \"n_results\": %zu, \"peer\": \"%s\", "
           "\"peer_ms\": %g, \"speedup\": %.4g}",
           *first ? "" : ",", c->sampler, c->space, c->n_results, peer, peer_ms,
           peer_ms / (c->median_us / 1000.0));
    *first = 0;
}

static void print_json(const settings *st, const cell *cells, size_t n_cells)
{
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    printf("{\n  \"benchmark\": \"ask_cost\",\n  \"unit\": \"us\",\n");
    printf("  \"machine\": {\"nproc\": %ld},\n", nproc);
    printf("  \"settings\": {\"quick\": %s, \"budget\": %g, \"random_fraction\": 0, "
           "\"data_seed\": %u, \"sampler_seed\": %u, \"target_s_per_cell\": %g, "
           "\"min_reps\": %zu, \"warmup\": %zu},\n",
           st->quick ? "true" : "false", BUDGET, DATA_SEED, SAMPLER_SEED, st->target_s,
           st->min_reps, st->warmup);
    printf("  \"cells\": [");
    for (size_t i = 0; i < n_cells; i++) {
        const cell *c = &cells[i];
        printf("%s\n    {\"sampler\": \"%s\", \"space\": \"%s\", \"dim\": %zu, \"n_results\": %zu, "
               "\"median_us\": %.6g, \"q1_us\": %.6g, \"q3_us\": %.6g, \"reps\": %zu}",
               i ? "," : "", c->sampler, c->space, c->dim, c->n_results, c->median_us, c->q1_us,
               c->q3_us, c->reps);
    }
    printf("\n  ],\n");
    printf("  \"reference\": {\"hpbandster_bohb_2000_6d_ms\": [%g, %g], "
           "\"optuna_tpe_2000_6d_ms\": %g, \"hpbandster_bohb_2000_mixed8_ms\": %g, "
           "\"optuna_tpe_2000_mixed8_ms\": %g},\n",
           PEER_BOHB_6D_LO, PEER_BOHB_6D_HI, PEER_TPE_6D, PEER_BOHB_MIXED, PEER_TPE_MIXED);
    printf("  \"ratios\": [");
    int first = 1;
    for (size_t i = 0; i < n_cells; i++) {
        const cell *c = &cells[i];
        if (c->n_results != 2000) continue;
        int six = strcmp(c->space, "hartmann6") == 0;
        if (strcmp(c->sampler, "kde") == 0)
            print_ratio(c, "hpbandster_bohb",
                        six ? 0.5 * (PEER_BOHB_6D_LO + PEER_BOHB_6D_HI) : PEER_BOHB_MIXED, &first);
        else if (strcmp(c->sampler, "tpe") == 0)
            print_ratio(c, "optuna_tpe", six ? PEER_TPE_6D : PEER_TPE_MIXED, &first);
    }
    printf("\n  ]\n}\n");
}

/* ---------- main ---------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_ask [--quick] [--samplers kde,tpe,gp]\n"
               "Times one hb_sampler_propose at 20..2000 finished results; prints JSON.\n");
}

/* Parse "kde,tpe,gp" into st->use. Returns 0, or -1 on an unknown name. */
static int parse_samplers(const char *list, settings *st)
{
    memset(st->use, 0, sizeof st->use);
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int k = 0; k < 3; k++)
            if (len == strlen(sampler_names[k]) && strncmp(p, sampler_names[k], len) == 0)
                st->use[k] = found = 1;
        if (!found) {
            fprintf(stderr, "bench_ask: unknown sampler '%.*s' (kde, tpe, gp)\n", (int)len, p);
            return -1;
        }
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    settings st = {0, 0.4, 5, 100000, 3, {1, 1, 1}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            st.quick = 1;
        } else if (strcmp(argv[i], "--samplers") == 0 && i + 1 < argc) {
            if (parse_samplers(argv[++i], &st) != 0) return 2;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (st.quick) {
        st.target_s = 0.01;
        st.max_reps = 200;
        st.warmup = 1;
    }

    static const size_t n_model[] = {20, 100, 500, 2000}, n_gp[] = {20, 100, 200, 500};
    cell cells[3 * 2 * 4];
    size_t n_cells = 0;
    bench_space spaces[2];
    hb_error err;
    hb_error_clear(&err);
    int status = 0;
    memset(spaces, 0, sizeof spaces);
    for (int w = 0; w < 2 && status == 0; w++)
        if (space_setup(w, &spaces[w], &err) != HB_OK) status = fail("setting up the spaces", &err);
    for (int k = 0; k < 3 && status == 0; k++) {
        if (!st.use[k]) continue;
        int is_gp = k == 2;
        for (int w = 0; w < (is_gp ? 1 : 2) && status == 0; w++) {
            for (int j = 0; j < 4 && status == 0; j++) {
                size_t n = is_gp ? n_gp[j] : n_model[j];
                cell *c = &cells[n_cells];
                if (run_cell(&st, sampler_names[k], &spaces[w], n, c, &err) != HB_OK) {
                    char what[96];
                    snprintf(what, sizeof what, "%s on %s at %zu results", sampler_names[k],
                             spaces[w].name, n);
                    status = fail(what, &err);
                    break;
                }
                n_cells++;
                fprintf(stderr,
                        "bench_ask: %s %s N=%zu: median %.4g us (q1 %.4g, q3 %.4g, %zu reps)\n",
                        c->sampler, c->space, n, c->median_us, c->q1_us, c->q3_us, c->reps);
            }
        }
    }
    if (status == 0) print_json(&st, cells, n_cells);
    for (int w = 0; w < 2; w++) space_teardown(&spaces[w]);
    return status;
}
