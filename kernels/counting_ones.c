/* counting_ones.c — BOHB's counting-ones benchmark (docs/kernels.md §3): Nc categorical {0, 1} and
 * Nf float [0, 1] parameters; each float is estimated from n = round(budget) Bernoulli draws
 * taken from SplitMix64 stream 1 + j of the seed, so a run at budget n uses a prefix of the
 * draws of any larger budget. Knows only the kernel interface: no optimisers, MPI or files. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "hb_rng.h"
#include "kernels_impl.h"

#define KNAME "counting_ones"
#define B_MIN 9.0
#define B_MAX 729.0
#define DEFAULT_N 8    /* Nc = Nf = 8 without options */
#define MAX_N 1024     /* largest Nc or Nf an option may ask for */
#define NAME_LEN 32    /* room for "float_1023" and any size_t index */

/* Read a count 1..MAX_N of decimal digits at '*p' and advance '*p' past it. */
static int parse_count(const char **p, size_t *out)
{
    const char *s = *p;
    size_t v = 0;
    if (*s < '0' || *s > '9') return 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (size_t)(*s - '0');
        if (v > MAX_N) return 0;
        s++;
    }
    if (v < 1) return 0;
    *p = s;
    *out = v;
    return 1;
}

/* Options: NULL for 8+8, or "Nc+Nf" with each count in 1..MAX_N and nothing else. */
static int parse_args(const char *args, size_t *nc, size_t *nf, hb_error *err)
{
    const char *s = args;
    *nc = *nf = DEFAULT_N;
    if (args == NULL) return HB_OK;
    if (parse_count(&s, nc) && *s == '+') {
        s++;
        if (parse_count(&s, nf) && *s == '\0') return HB_OK;
    }
    return hb_error_set(err, HB_EINVAL, NULL,
                        "%s: options must be 'Nc+Nf' with each count in 1..%d, got '%s'", KNAME,
                        MAX_N, args);
}

static int co_space(const char *args, hb_space **out, hb_error *err)
{
    static const hb_value choices[2] = {{0, 0.0, NULL}, {0, 1.0, NULL}};
    hb_space *sp = NULL;
    size_t nc, nf;
    char name[NAME_LEN];
    int rc;
    if (out == NULL) return hb_error_set(err, HB_EINVAL, NULL, "%s: 'out' is NULL", KNAME);
    *out = NULL;
    if ((rc = parse_args(args, &nc, &nf, err)) != HB_OK) return rc;
    if ((rc = hb_space_create(&sp)) != HB_OK)
        return hb_error_set(err, rc, NULL, "%s: cannot create the space", KNAME);
    for (size_t i = 0; i < nc; i++) {
        snprintf(name, sizeof name, "cat_%zu", i);
        if ((rc = hb_space_add_categorical(sp, name, choices, 2, NULL, -1, err)) != HB_OK)
            goto fail;
    }
    for (size_t j = 0; j < nf; j++) {
        snprintf(name, sizeof name, "float_%zu", j);
        if ((rc = hb_space_add_float(sp, name, 0.0, 1.0, HB_SCALE_LINEAR, NAN, err)) != HB_OK)
            goto fail;
    }
    if ((rc = hb_space_finalize(sp, NULL, err)) != HB_OK) goto fail;
    *out = sp;
    return HB_OK;
fail:
    hb_space_free(sp);
    return rc;
}

/* 1 if parameter 'i' of 'sp' is the categorical cat_<k> with the numeric choices 0 and 1 (in
 * that order, so a choice's index is its value). */
static int is_cat(const hb_space *sp, size_t i, size_t k)
{
    char name[NAME_LEN];
    snprintf(name, sizeof name, "cat_%zu", k);
    if (hb_space_type(sp, i) != HB_PARAM_CATEGORICAL || strcmp(hb_space_name(sp, i), name) != 0 ||
        hb_space_n_choices(sp, i) != 2)
        return 0;
    hb_value c0 = hb_space_choice(sp, i, 0), c1 = hb_space_choice(sp, i, 1);
    return !c0.is_string && c0.num == 0.0 && !c1.is_string && c1.num == 1.0;
}

/* 1 if parameter 'i' of 'sp' is the float float_<k>. */
static int is_float(const hb_space *sp, size_t i, size_t k)
{
    char name[NAME_LEN];
    snprintf(name, sizeof name, "float_%zu", k);
    return hb_space_type(sp, i) == HB_PARAM_FLOAT && strcmp(hb_space_name(sp, i), name) == 0;
}

/* Read Nc and Nf from the space, which must be laid out as co_space() builds it:
 * cat_0..cat_{Nc-1}, then float_0..float_{Nf-1}. */
static int layout(const hb_space *sp, size_t *nc, size_t *nf, hb_error *err)
{
    size_t dim = hb_space_dim(sp), c = 0;
    if (dim == 0) return hb_error_set(err, HB_EINVAL, NULL, "%s: the space is empty", KNAME);
    while (c < dim && is_cat(sp, c, c)) c++;
    for (size_t j = 0; c + j < dim; j++)
        if (!is_float(sp, c + j, j))
            return hb_error_set(err, HB_EINVAL, NULL,
                                "%s: parameter %zu ('%s') is not cat_<i> {0, 1} or float_<j> "
                                "in the kernel's order",
                                KNAME, c + j, hb_space_name(sp, c + j));
    *nc = c;
    *nf = dim - c;
    return HB_OK;
}

/* Check the arguments shared by eval and exact: the space's layout and every value. */
static int check_config(const hb_space *sp, const double *x, double *loss, size_t *nc,
                        size_t *nf, hb_error *err)
{
    int rc;
    if (loss != NULL) *loss = NAN;
    if (sp == NULL || x == NULL || loss == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: NULL space, config or loss", KNAME);
    if ((rc = layout(sp, nc, nf, err)) != HB_OK) return rc;
    for (size_t i = 0; i < *nc; i++)
        if (!(x[i] == 0.0 || x[i] == 1.0))
            return hb_error_set(err, HB_ERANGE, NULL,
                                "%s: parameter '%s' has choice index %.17g, expected 0 or 1",
                                KNAME, hb_space_name(sp, i), x[i]);
    for (size_t j = *nc; j < *nc + *nf; j++)
        if (!(x[j] >= 0.0 && x[j] <= 1.0))
            return hb_error_set(err, HB_ERANGE, NULL,
                                "%s: parameter '%s' = %.17g is outside [0, 1]", KNAME,
                                hb_space_name(sp, j), x[j]);
    return HB_OK;
}

/* loss = 1 − (Σ_i cat_i + Σ_j k_j / n) / d, summed in exactly that order (docs/kernels.md §3). */
static int co_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                   double *loss, hb_error *err)
{
    size_t nc, nf;
    int rc = check_config(sp, x, loss, &nc, &nf, err);
    if (rc != HB_OK) return rc;
    if (!(budget > 0.0))
        return hb_error_set(err, HB_EINVAL, NULL, "%s: budget must be > 0, got %g", KNAME,
                            budget);
    uint64_t n = hb__budget_steps(budget, B_MAX);

    double sum = 0.0;
    for (size_t i = 0; i < nc; i++) sum += x[i]; /* a choice's index is its value */
    for (size_t j = 0; j < nf; j++) {
        double p = x[nc + j];
        hb_splitmix g;
        uint64_t k = 0;
        hb_splitmix_init(&g, seed, (uint64_t)1 + j);
        for (uint64_t t = 0; t < n; t++)
            if (hb_splitmix_double(&g) < p) k++;
        sum += (double)k / (double)n;
    }
    *loss = 1.0 - sum / (double)(nc + nf);
    return HB_OK;
}

/* counting_ones_exact: the expectation 1 − (Σ cat + Σ float) / d; budget and seed unused. */
static int co_exact(const hb_space *sp, const double *x, double *loss, hb_error *err)
{
    size_t nc, nf;
    int rc = check_config(sp, x, loss, &nc, &nf, err);
    if (rc != HB_OK) return rc;
    double sum = 0.0;
    for (size_t i = 0; i < nc + nf; i++) sum += x[i];
    *loss = 1.0 - sum / (double)(nc + nf);
    return HB_OK;
}

const hb_kernel hb__kernel_counting_ones = {
    .abi = HB_KERNEL_ABI,
    .name = KNAME,
    .summary = "BOHB counting ones, 8 categorical {0,1} + 8 floats (option Nc+Nf), "
               "budget 9..729 draws",
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = 0.0,
    .deterministic = 0,
    .space = co_space,
    .eval = co_eval,
    .exact = co_exact,
};
