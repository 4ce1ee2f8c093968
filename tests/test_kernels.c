/* test_kernels.c — the built-in kernels against the test vectors of docs/kernels.md §7
 * (tests/data/vectors.json), the SplitMix64 streams they draw from, the registry, and the
 * kernels' argument checks. Expected numbers come from the vectors, not from this file. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "hb_rng.h"
#include "hb_space.h"
#include "hb_test.h"

#define MAX_DIM 64 /* room for every configuration these tests build on the stack */


/* Record an assertion with a formatted message (CUnit copies the text). */
/* The entry kernels.<name> of vectors.json, or NULL. */
static json_t *kernel_entry(const char *name)
{
    json_t *root = hb_test_vectors();
    return root ? json_object_get(json_object_get(root, "kernels"), name) : NULL;
}

/* The first vector of kernels.<name> whose note is 'note', or NULL. */
static json_t *vector_noted(const char *name, const char *note)
{
    json_t *list = json_object_get(kernel_entry(name), "vectors"), *v;
    size_t idx;
    json_array_foreach(list, idx, v) {
        const char *s = json_string_value(json_object_get(v, "note"));
        if (s != NULL && strcmp(s, note) == 0) return v;
    }
    return NULL;
}

static double tolerance(double want)
{
    double t = 1e-12 * fabs(want);
    return t > 1e-12 ? t : 1e-12;
}

/* Fill 'x' (dim <= MAX_DIM) from a vector's config object, parameter by name: floats take the
 * value, categoricals the index of the numeric choice equal to it. 0 on success. */
static int config_from_json(const hb_space *sp, json_t *cfg, double *x, const char *what)
{
    size_t dim = hb_space_dim(sp);
    const char *key;
    json_t *val;
    for (size_t i = 0; i < dim; i++) x[i] = NAN;
    EXPECT(json_is_object(cfg), "%s: config is not an object", what);
    if (!json_is_object(cfg)) return -1;
    json_object_foreach(cfg, key, val) {
        int i = hb_space_find(sp, key);
        EXPECT(i >= 0, "%s: parameter '%s' is not in the kernel's space", what, key);
        EXPECT(json_is_number(val), "%s: value of '%s' is not a number", what, key);
        if (i < 0 || !json_is_number(val)) return -1;
        double v = json_number_value(val);
        if (hb_space_type(sp, (size_t)i) == HB_PARAM_CATEGORICAL) {
            size_t n = hb_space_n_choices(sp, (size_t)i), k;
            for (k = 0; k < n; k++) {
                hb_value c = hb_space_choice(sp, (size_t)i, k);
                if (!c.is_string && c.num == v) break;
            }
            EXPECT(k < n, "%s: %g is not a choice of '%s'", what, v, key);
            if (k == n) return -1;
            x[i] = (double)k;
        } else {
            x[i] = v;
        }
    }
    for (size_t i = 0; i < dim; i++) {
        EXPECT(!isnan(x[i]), "%s: parameter '%s' is missing", what, hb_space_name(sp, i));
        if (isnan(x[i])) return -1;
    }
    return 0;
}

/* Check every vector of kernels.<entry> against kernel 'kname' (its exact() if 'use_exact'). */
static void run_vectors(const char *kname, const char *entry, int use_exact)
{
    const hb_kernel *k = hb_kernels_find(kname);
    json_t *e = kernel_entry(entry);
    json_t *list = json_object_get(e, "vectors");
    hb_space *sp = NULL;
    hb_error err = {0};
    double x[MAX_DIM];
    size_t idx, checked = 0;
    json_t *v;

    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_FATAL(json_array_size(list) > 0);
    CU_ASSERT_FATAL(json_object_get(e, "tolerance") == NULL); /* no entry asks for another */
    if (use_exact) CU_ASSERT_PTR_NOT_NULL_FATAL(k->exact);
    CU_ASSERT_EQUAL_FATAL(k->space(NULL, &sp, &err), HB_OK);
    CU_ASSERT_FATAL(hb_space_dim(sp) <= MAX_DIM);

    json_array_foreach(list, idx, v) {
        char what[64];
        double want = json_number_value(json_object_get(v, "loss"));
        double got = NAN, budget = NAN;
        uint64_t seed = 0;
        int rc;
        snprintf(what, sizeof what, "%s[%zu]", entry, idx);
        if (config_from_json(sp, json_object_get(v, "config"), x, what) != 0) continue;
        EXPECT(json_is_number(json_object_get(v, "loss")), "%s: no loss", what);
        if (use_exact) {
            rc = k->exact(sp, x, &got, &err);
        } else {
            json_t *s = json_object_get(v, "seed");
            EXPECT(json_is_integer(s) && json_integer_value(s) >= 0, "%s: bad seed", what);
            budget = json_number_value(json_object_get(v, "budget"));
            seed = (uint64_t)json_integer_value(s);
            rc = k->eval(sp, x, budget, seed, &got, &err);
        }
        EXPECT(rc == HB_OK, "%s: status %d (%s)", what, rc, err.msg);
        EXPECT(fabs(got - want) <= tolerance(want),
               "%s: loss %.17g, expected %.17g (budget %g, seed %llu)", what, got, want, budget,
               (unsigned long long)seed);
        checked++;
    }
    CU_ASSERT_EQUAL(checked, json_array_size(list));
    hb_space_free(sp);
}

static void test_vectors_hartmann3(void) { run_vectors("hartmann3", "hartmann3", 0); }
static void test_vectors_hartmann6(void) { run_vectors("hartmann6", "hartmann6", 0); }
static void test_vectors_branin(void) { run_vectors("branin", "branin", 0); }
static void test_vectors_currin(void) { run_vectors("currin", "currin", 0); }
static void test_vectors_borehole(void) { run_vectors("borehole", "borehole", 0); }
static void test_vectors_counting_ones(void) { run_vectors("counting_ones", "counting_ones", 0); }
static void test_vectors_counting_ones_exact(void)
{
    run_vectors("counting_ones", "counting_ones_exact", 1);
}

static void test_splitmix64(void)
{
    json_t *root = hb_test_vectors();
    json_t *sm = json_object_get(root, "splitmix64");
    json_t *u64 = json_object_get(sm, "seed0_stream0_first5_u64");
    json_t *dbl = json_object_get(sm, "seed42_stream3_first5_double");
    hb_splitmix g;
    size_t i;
    json_t *v;

    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_EQUAL_FATAL(json_array_size(u64), 5);
    CU_ASSERT_EQUAL_FATAL(json_array_size(dbl), 5);

    hb_splitmix_init(&g, 0, 0);
    json_array_foreach(u64, i, v) {
        const char *s = json_string_value(v);
        char *end = NULL;
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        unsigned long long want = strtoull(s, &end, 10);
        CU_ASSERT(*s != '\0' && *end == '\0');
        uint64_t got = hb_splitmix_next(&g);
        EXPECT(got == (uint64_t)want, "seed 0 stream 0 output %zu: %llu, expected %s", i,
               (unsigned long long)got, s);
    }

    hb_splitmix_init(&g, 42, 3);
    json_array_foreach(dbl, i, v) {
        double want = json_number_value(v);
        double got = hb_splitmix_double(&g);
        /* printed to 15 significant digits; every value is in [0.1, 1) */
        EXPECT(fabs(got - want) <= 1e-15, "seed 42 stream 3 double %zu: %.17g, expected %.17g",
               i, got, want);
        EXPECT(got >= 0.0 && got < 1.0, "seed 42 stream 3 double %zu out of [0, 1)", i);
    }
}

/* Registry order and contents (docs/kernels.md §1.2). */
static const char *const kernel_names[] = {"hartmann3",  "hartmann6",    "branin",
                                           "currin",     "borehole",     "counting_ones",
                                           "fmnist_mlp", "fmnist_mlp32", "cartpole",
                                           "pbt_toy"};
#define N_KERNELS (sizeof kernel_names / sizeof kernel_names[0])
/* The first six are the synthetic ones of vectors.json's "kernels"; the training kernels
 * (fmnist_mlp, fmnist_mlp32, cartpole, pbt_toy) have their own suites (train_fmnist,
 * train_cartpole, pbt_toy). */
#define N_SYNTHETIC 6

static void test_registry(void)
{
    hb_error err = {0};
    CU_ASSERT_EQUAL_FATAL(hb_kernels_count(), N_KERNELS);
    for (size_t i = 0; i < N_KERNELS; i++) {
        const hb_kernel *k = hb_kernels_at(i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        EXPECT(strcmp(k->name, kernel_names[i]) == 0, "kernel %zu is '%s', expected '%s'", i,
               k->name, kernel_names[i]);
        EXPECT(hb_kernels_find(kernel_names[i]) == k, "find('%s') is not kernel %zu",
               kernel_names[i], i);
        EXPECT(hb_kernel_check(k, &err) == HB_OK, "%s: check failed: %s", k->name, err.msg);
        EXPECT(k->summary != NULL && k->summary[0] != '\0', "%s: no summary", k->name);
        EXPECT((k->exact != NULL) == (strcmp(k->name, "counting_ones") == 0),
               "%s: exact() present where it should not be, or missing", k->name);
        EXPECT((k->train != NULL) == (i >= N_SYNTHETIC), "%s: train() present where it should not be, or missing",
               k->name);
    }
    CU_ASSERT_PTR_NULL(hb_kernels_at(N_KERNELS));
    CU_ASSERT_PTR_NULL(hb_kernels_find("nope"));
    CU_ASSERT_PTR_NULL(hb_kernels_find("hartmann"));
    CU_ASSERT_PTR_NULL(hb_kernels_find("Branin"));
    CU_ASSERT_PTR_NULL(hb_kernels_find("branin "));
    CU_ASSERT_PTR_NULL(hb_kernels_find(""));
    CU_ASSERT_PTR_NULL(hb_kernels_find(NULL));
}

/* Budget ranges, determinism and optima agree with the spec and with the vectors: a vector
 * noted as the minimiser or optimum at the maximum budget has loss == optimum. */
static void test_metadata(void)
{
    for (size_t i = 0; i < N_SYNTHETIC; i++) {
        const hb_kernel *k = hb_kernels_at(i);
        json_t *e = kernel_entry(k->name), *v;
        size_t idx, seen = 0;
        int co = strcmp(k->name, "counting_ones") == 0;
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        EXPECT(k->min_budget == (co ? 9.0 : 1.0) && k->max_budget == (co ? 729.0 : 81.0),
               "%s: budget range %g..%g", k->name, k->min_budget, k->max_budget);
        EXPECT(k->deterministic == json_is_true(json_object_get(e, "deterministic")),
               "%s: deterministic = %d disagrees with vectors.json", k->name, k->deterministic);
        CU_ASSERT_FALSE(isnan(k->optimum));
        json_array_foreach(json_object_get(e, "vectors"), idx, v) {
            const char *note = json_string_value(json_object_get(v, "note"));
            double b = json_number_value(json_object_get(v, "budget"));
            double loss = json_number_value(json_object_get(v, "loss"));
            if (note == NULL || b != k->max_budget) continue;
            if (strstr(note, "minimiser") == NULL && strstr(note, "optimum") == NULL) continue;
            EXPECT(fabs(loss - k->optimum) <= tolerance(loss),
                   "%s: optimum %.17g, but vector %zu ('%s') has loss %.17g", k->name,
                   k->optimum, idx, note, loss);
            seen++;
        }
        EXPECT(seen == 1, "%s: %zu optimum vectors at the maximum budget, expected 1", k->name,
               seen);
    }
}

/* The BOCA kernels' spaces: names, order and bounds per docs/kernels.md §2; no options. */
static void test_boca_spaces(void)
{
    static const struct {
        const char *kernel;
        size_t dim;
        const char *names[8];
        double lower[8], upper[8];
    } want[] = {
        {"hartmann3", 3, {"x0", "x1", "x2"}, {0, 0, 0}, {1, 1, 1}},
        {"hartmann6",
         6,
         {"x0", "x1", "x2", "x3", "x4", "x5"},
         {0, 0, 0, 0, 0, 0},
         {1, 1, 1, 1, 1, 1}},
        {"branin", 2, {"x0", "x1"}, {-5, 0}, {10, 15}},
        {"currin", 2, {"x0", "x1"}, {0, 0}, {1, 1}},
        {"borehole",
         8,
         {"rw", "r", "Tu", "Hu", "Tl", "Hl", "L", "Kw"},
         {0.05, 100, 63070, 990, 63.1, 700, 1120, 9855},
         {0.15, 50000, 115600, 1110, 116, 820, 1680, 12045}},
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        const hb_kernel *k = hb_kernels_find(want[w].kernel);
        hb_space *sp = NULL;
        hb_error err = {0};
        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        CU_ASSERT_EQUAL_FATAL(k->space(NULL, &sp, &err), HB_OK);
        CU_ASSERT_EQUAL_FATAL(hb_space_dim(sp), want[w].dim);
        for (size_t i = 0; i < want[w].dim; i++) {
            EXPECT(strcmp(hb_space_name(sp, i), want[w].names[i]) == 0, "%s: parameter %zu is '%s'",
                   k->name, i, hb_space_name(sp, i));
            EXPECT(hb_space_type(sp, i) == HB_PARAM_FLOAT &&
                       hb_space_scale(sp, i) == HB_SCALE_LINEAR &&
                       hb_space_lower(sp, i) == want[w].lower[i] &&
                       hb_space_upper(sp, i) == want[w].upper[i],
                   "%s: '%s' is not a linear float in [%g, %g]", k->name, want[w].names[i],
                   want[w].lower[i], want[w].upper[i]);
        }
        hb_space_free(sp);

        /* No options: any non-NULL argument text is refused. */
        static const char *const bad_args[] = {"", "4+4", "x"};
        for (size_t a = 0; a < sizeof bad_args / sizeof bad_args[0]; a++) {
            sp = (hb_space *)&err; /* must be reset to NULL */
            hb_error_clear(&err);
            EXPECT(k->space(bad_args[a], &sp, &err) == HB_EINVAL && sp == NULL &&
                       err.msg[0] != '\0',
                   "%s: options '%s' were not refused", k->name, bad_args[a]);
        }
    }
}

/* Build kernel 'name''s space with 'args'; fatal on failure. */
static hb_space *make_space(const hb_kernel *k, const char *args)
{
    hb_space *sp = NULL;
    hb_error err = {0};
    int rc = k->space(args, &sp, &err);
    EXPECT(rc == HB_OK, "%s: space('%s') failed: %s", k->name, args ? args : "(null)", err.msg);
    return rc == HB_OK ? sp : NULL;
}

/* Evaluate and expect 'status'; if it is an error, the message must contain 'needle'. */
static void expect_status(const hb_kernel *k, const hb_space *sp, const double *x, double budget,
                          int status, const char *needle, unsigned line)
{
    hb_error err = {0};
    double loss = 0.0;
    int rc = k->eval(sp, x, budget, 1, &loss, &err);
    hb_test_expect_(rc == status, __FILE__, line, "%s: eval gave status %d, expected %d (%s)", k->name, rc, status,
            err.msg);
    if (status != HB_OK && rc == status) {
        hb_test_expect_(isnan(loss), __FILE__, line, "%s: a failed eval left loss = %g", k->name, loss);
        hb_test_expect_(needle == NULL || strstr(err.msg, needle) != NULL, __FILE__, line,
                "%s: message '%s' does not name %s", k->name, err.msg, needle);
    }
}

/* Values outside a float's bounds, NaN, and bad budgets are errors, never clamped. */
static void test_boca_range(void)
{
    for (size_t n = 0; n < 5; n++) {
        const hb_kernel *k = hb_kernels_find(kernel_names[n]);
        hb_space *sp = make_space(k, NULL);
        double x[MAX_DIM];
        CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
        size_t dim = hb_space_dim(sp);
        for (size_t i = 0; i < dim; i++)
            x[i] = 0.5 * (hb_space_lower(sp, i) + hb_space_upper(sp, i));
        expect_status(k, sp, x, 27.0, HB_OK, NULL, __LINE__);
        for (size_t i = 0; i < dim; i++) {
            double lo = hb_space_lower(sp, i), hi = hb_space_upper(sp, i), keep = x[i];
            char needle[64];
            snprintf(needle, sizeof needle, "'%s'", hb_space_name(sp, i));
            x[i] = lo;
            expect_status(k, sp, x, 27.0, HB_OK, NULL, __LINE__);
            x[i] = hi;
            expect_status(k, sp, x, 27.0, HB_OK, NULL, __LINE__);
            x[i] = nextafter(hi, INFINITY);
            expect_status(k, sp, x, 27.0, HB_ERANGE, needle, __LINE__);
            x[i] = nextafter(lo, -INFINITY);
            expect_status(k, sp, x, 27.0, HB_ERANGE, needle, __LINE__);
            x[i] = NAN;
            expect_status(k, sp, x, 27.0, HB_ERANGE, needle, __LINE__);
            x[i] = INFINITY;
            expect_status(k, sp, x, 27.0, HB_ERANGE, needle, __LINE__);
            x[i] = keep;
        }
        expect_status(k, sp, x, 0.0, HB_EINVAL, "budget", __LINE__);
        expect_status(k, sp, x, -1.0, HB_EINVAL, "budget", __LINE__);
        expect_status(k, sp, x, NAN, HB_EINVAL, "budget", __LINE__);
        expect_status(k, sp, x, 0.01, HB_OK, NULL, __LINE__);
        hb_space_free(sp);
    }

    /* A space that is not the kernel's own is refused, not read past its end. */
    const hb_kernel *h3 = hb_kernels_find("hartmann3"), *h6 = hb_kernels_find("hartmann6");
    hb_space *sp3 = make_space(h3, NULL);
    double x[MAX_DIM] = {0.5, 0.5, 0.5};
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp3);
    expect_status(h6, sp3, x, 27.0, HB_EINVAL, NULL, __LINE__);
    expect_status(hb_kernels_find("counting_ones"), sp3, x, 27.0, HB_EINVAL, NULL, __LINE__);
    hb_space_free(sp3);
}

/* A budget above the maximum is the maximum (z = 1); deterministic kernels ignore the seed. */
static void test_boca_budget(void)
{
    for (size_t n = 0; n < 5; n++) {
        const hb_kernel *k = hb_kernels_find(kernel_names[n]);
        json_t *v = vector_noted(k->name, "centre");
        hb_space *sp = make_space(k, NULL);
        hb_error err = {0};
        double x[MAX_DIM], at_max, above, inf, other_seed, low;
        CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
        CU_ASSERT_PTR_NOT_NULL_FATAL(v);
        CU_ASSERT_FATAL(config_from_json(sp, json_object_get(v, "config"), x, k->name) == 0);
        CU_ASSERT_EQUAL(k->eval(sp, x, k->max_budget, 0, &at_max, &err), HB_OK);
        CU_ASSERT_EQUAL(k->eval(sp, x, 1.5 * k->max_budget, 0, &above, &err), HB_OK);
        CU_ASSERT_EQUAL(k->eval(sp, x, INFINITY, 0, &inf, &err), HB_OK);
        CU_ASSERT_EQUAL(k->eval(sp, x, k->max_budget, 12345, &other_seed, &err), HB_OK);
        CU_ASSERT_EQUAL(k->eval(sp, x, k->min_budget, 0, &low, &err), HB_OK);
        EXPECT(above == at_max && inf == at_max, "%s: budget above max gives %.17g / %.17g, "
               "at max %.17g", k->name, above, inf, at_max);
        EXPECT(other_seed == at_max, "%s: the seed changed a deterministic loss", k->name);
        EXPECT(low != at_max, "%s: the budget has no effect at the centre", k->name);
        hb_space_free(sp);
    }
}

/* counting_ones: every categorical index other than 0/1, or float outside [0, 1], is refused
 * by eval and exact with the parameter's name; bad budgets are refused. */
static void test_counting_ones_range(void)
{
    const hb_kernel *k = hb_kernels_find("counting_ones");
    hb_space *sp = make_space(k, NULL);
    double x[MAX_DIM], loss;
    hb_error err = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(hb_space_dim(sp), 16);
    for (size_t i = 0; i < 16; i++) {
        char name[32];
        snprintf(name, sizeof name, i < 8 ? "cat_%zu" : "float_%zu", i < 8 ? i : i - 8);
        EXPECT(strcmp(hb_space_name(sp, i), name) == 0, "parameter %zu is '%s', expected '%s'",
               i, hb_space_name(sp, i), name);
        if (i < 8) {
            hb_value c0 = hb_space_choice(sp, i, 0), c1 = hb_space_choice(sp, i, 1);
            EXPECT(hb_space_type(sp, i) == HB_PARAM_CATEGORICAL &&
                       hb_space_n_choices(sp, i) == 2 && !c0.is_string && c0.num == 0.0 &&
                       !c1.is_string && c1.num == 1.0,
                   "'%s' is not categorical {0, 1}", name);
        } else {
            EXPECT(hb_space_type(sp, i) == HB_PARAM_FLOAT && hb_space_lower(sp, i) == 0.0 &&
                       hb_space_upper(sp, i) == 1.0 && hb_space_scale(sp, i) == HB_SCALE_LINEAR,
                   "'%s' is not a linear float in [0, 1]", name);
        }
        x[i] = 1.0;
    }
    static const double bad_cat[] = {2.0, -1.0, 0.5, NAN};
    static const double bad_float[] = {1.0000000000000002, -1e-300, NAN, INFINITY};
    for (size_t b = 0; b < 4; b++) {
        x[3] = bad_cat[b];
        expect_status(k, sp, x, 27.0, HB_ERANGE, "'cat_3'", __LINE__);
        hb_error_clear(&err);
        EXPECT(k->exact(sp, x, &loss, &err) == HB_ERANGE && strstr(err.msg, "'cat_3'"),
               "exact accepted cat_3 = %g", bad_cat[b]);
        x[3] = 1.0;
        x[13] = bad_float[b];
        expect_status(k, sp, x, 27.0, HB_ERANGE, "'float_5'", __LINE__);
        hb_error_clear(&err);
        EXPECT(k->exact(sp, x, &loss, &err) == HB_ERANGE && strstr(err.msg, "'float_5'"),
               "exact accepted float_5 = %g", bad_float[b]);
        x[13] = 1.0;
    }
    expect_status(k, sp, x, 0.0, HB_EINVAL, "budget", __LINE__);
    expect_status(k, sp, x, -9.0, HB_EINVAL, "budget", __LINE__);
    expect_status(k, sp, x, NAN, HB_EINVAL, "budget", __LINE__);
    expect_status(k, sp, x, 27.0, HB_OK, NULL, __LINE__);
    hb_space_free(sp);
}

/* Options "Nc+Nf": accepted sizes give cat_0.., float_0..; anything else is refused. */
static void test_counting_ones_options(void)
{
    const hb_kernel *k = hb_kernels_find("counting_ones");
    static const struct {
        const char *args;
        size_t nc, nf;
    } good[] = {{"4+4", 4, 4}, {"16+16", 16, 16}, {"1+1", 1, 1}, {"2+5", 2, 5},
                {"1024+1024", 1024, 1024}};
    for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
        hb_space *sp = make_space(k, good[g].args);
        CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
        size_t d = good[g].nc + good[g].nf;
        EXPECT(hb_space_dim(sp) == d, "'%s' gave %zu parameters", good[g].args, hb_space_dim(sp));
        char last_cat[32], last_float[32];
        snprintf(last_cat, sizeof last_cat, "cat_%zu", good[g].nc - 1);
        snprintf(last_float, sizeof last_float, "float_%zu", good[g].nf - 1);
        EXPECT(hb_space_find(sp, last_cat) == (int)good[g].nc - 1 &&
                   hb_space_find(sp, last_float) == (int)d - 1,
               "'%s': %s or %s misplaced", good[g].args, last_cat, last_float);
        double *x = calloc(d, sizeof *x), loss = NAN;
        hb_error err = {0};
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        for (size_t i = 0; i < d; i++) x[i] = 1.0;
        EXPECT(k->eval(sp, x, 81.0, 7, &loss, &err) == HB_OK && loss == 0.0,
               "'%s': all ones gave %g (%s)", good[g].args, loss, err.msg);
        for (size_t i = 0; i < d; i++) x[i] = 0.0;
        EXPECT(k->eval(sp, x, 81.0, 7, &loss, &err) == HB_OK && loss == 1.0,
               "'%s': all zeros gave %g (%s)", good[g].args, loss, err.msg);
        free(x);
        hb_space_free(sp);
    }

    static const char *const bad[] = {"0+4",  "4+0",  "abc",  "",      "4",   "4+",
                                      "+4",   "4+4x", " 4+4", "4 +4",  "-4+4", "4+-4",
                                      "1025+1", "1+1025", "4+4+4", "99999999999999999999999+1"};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        hb_space *sp = (hb_space *)&b; /* must be reset to NULL */
        hb_error err = {0};
        EXPECT(k->space(bad[b], &sp, &err) == HB_EINVAL && sp == NULL && err.msg[0] != '\0',
               "options '%s' were not refused", bad[b]);
    }
}

/* The same seed's draws serve every size: with cat_i = 0 and float_j = 0 for j >= 4, the 8+8
 * kernel counts exactly what the 4+4 kernel counts for float_0..float_3 (streams 1..4). */
static void test_counting_ones_sizes(void)
{
    const hb_kernel *k = hb_kernels_find("counting_ones");
    hb_space *s8 = make_space(k, NULL), *s4 = make_space(k, "4+4");
    static const double p[4] = {0.3, 0.9, 0.5, 0.05};
    double x8[16] = {0}, x4[8] = {0}, l8, l4, e4;
    hb_error err = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(s8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s4);
    for (size_t j = 0; j < 4; j++) x8[8 + j] = x4[4 + j] = p[j];
    for (uint64_t seed = 0; seed < 5; seed++) {
        CU_ASSERT_EQUAL(k->eval(s8, x8, 81.0, seed, &l8, &err), HB_OK);
        CU_ASSERT_EQUAL(k->eval(s4, x4, 81.0, seed, &l4, &err), HB_OK);
        /* Σ k_j / n = 16·(1 − l8) = 8·(1 − l4) */
        EXPECT(fabs(16.0 * (1.0 - l8) - 8.0 * (1.0 - l4)) <= 1e-12,
               "seed %llu: 8+8 loss %.17g and 4+4 loss %.17g disagree", (unsigned long long)seed,
               l8, l4);
    }
    x4[0] = x4[2] = 1.0; /* exact: 1 − (2 + 1.75) / 8 */
    CU_ASSERT_EQUAL(k->exact(s4, x4, &e4, &err), HB_OK);
    CU_ASSERT_DOUBLE_EQUAL(e4, 1.0 - 3.75 / 8.0, 1e-15);
    hb_space_free(s8);
    hb_space_free(s4);
}

/* Prefix property and budget rounding: n = floor(b + 0.5), at least 1, at most 729, and the
 * count at n + 1 is the count at n plus 0 or 1. */
static void test_counting_ones_prefix(void)
{
    const hb_kernel *k = hb_kernels_find("counting_ones");
    json_t *list = json_object_get(kernel_entry("counting_ones"), "vectors");
    hb_space *sp = make_space(k, NULL);
    hb_error err = {0};
    double x[MAX_DIM];
    size_t idx, used = 0;
    json_t *v;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_FATAL(json_array_size(list) > 0);

    json_array_foreach(list, idx, v) {
        double b = json_number_value(json_object_get(v, "budget"));
        double want = json_number_value(json_object_get(v, "loss"));
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(v, "seed"));
        double l_lo, l_hi, l_round;
        if (b != 27.0 && b != 729.0) continue;
        if (config_from_json(sp, json_object_get(v, "config"), x, "prefix") != 0) continue;
        CU_ASSERT_EQUAL(k->eval(sp, x, b - 1e-6, seed, &l_lo, &err), HB_OK);
        CU_ASSERT_EQUAL(k->eval(sp, x, b + 0.49, seed, &l_hi, &err), HB_OK);
        CU_ASSERT_EQUAL(k->eval(sp, x, b - 0.5, seed, &l_round, &err), HB_OK);
        EXPECT(fabs(l_lo - want) <= tolerance(want) && l_lo == l_hi && l_lo == l_round,
               "vector %zu: budgets %g-1e-6, %g+0.49, %g-0.5 give %.17g, %.17g, %.17g; "
               "expected %.17g", idx, b, b, b, l_lo, l_hi, l_round, want);
        if (b == 729.0) {
            double above, inf;
            CU_ASSERT_EQUAL(k->eval(sp, x, 2000.0, seed, &above, &err), HB_OK);
            CU_ASSERT_EQUAL(k->eval(sp, x, INFINITY, seed, &inf, &err), HB_OK);
            EXPECT(above == l_lo && inf == l_lo, "vector %zu: budget above 729 is not 729", idx);
        }
        used++;
    }
    CU_ASSERT(used > 0);
    hb_space_free(sp);

    /* One float, no categorical weight: loss = 1 − (0 + k/n)/2, so k = 2n(1 − loss). */
    sp = make_space(k, "1+1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    for (uint64_t seed = 0; seed < 3; seed++) {
        double xs[2] = {0.0, 0.37}, prev_k = 0.0, loss;
        for (int n = 1; n <= 300; n++) {
            CU_ASSERT_EQUAL_FATAL(k->eval(sp, xs, (double)n, seed, &loss, &err), HB_OK);
            double kn = 2.0 * n * (1.0 - loss), kr = floor(kn + 0.5);
            EXPECT(fabs(kn - kr) <= 1e-9 && (kr == prev_k || kr == prev_k + 1.0),
                   "seed %llu: count %.17g at n = %d after %g at n - 1", (unsigned long long)seed,
                   kn, n, prev_k);
            prev_k = kr;
        }
        EXPECT(prev_k > 0.2 * 300 && prev_k < 0.55 * 300,
               "seed %llu: %g of 300 draws below 0.37", (unsigned long long)seed, prev_k);
    }
    /* Budgets that round below 1 use one draw. */
    double xs[2] = {0.0, 0.5}, l_small, l_one;
    CU_ASSERT_EQUAL(k->eval(sp, xs, 0.2, 9, &l_small, &err), HB_OK);
    CU_ASSERT_EQUAL(k->eval(sp, xs, 1.0, 9, &l_one, &err), HB_OK);
    CU_ASSERT_EQUAL(l_small, l_one);
    hb_space_free(sp);
}

/* Allocation-failure sweep over space(): fail the n-th allocation for n = 0, 1, ... until the
 * call succeeds; every failure must be HB_ENOMEM with no space handed out. */
static void test_space_nomem(void)
{
    static const struct {
        const char *kernel, *args;
    } cases[] = {{"hartmann3", NULL}, {"hartmann6", NULL},     {"branin", NULL},
                 {"currin", NULL},    {"borehole", NULL},      {"counting_ones", NULL},
                 {"counting_ones", "2+3"}};
    for (size_t a = 0; a < sizeof cases / sizeof cases[0]; a++) {
        const hb_kernel *k = hb_kernels_find(cases[a].kernel);
        int rc = HB_ENOMEM;
        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        long n;
        for (n = 0; n < 10000 && rc != HB_OK; n++) {
            hb_space *sp = (hb_space *)&rc; /* must be reset to NULL */
            hb_error err = {0};
            hb_alloc_fail_after(n);
            rc = k->space(cases[a].args, &sp, &err);
            hb_alloc_fail_after(-1);
            EXPECT(rc == HB_OK || (rc == HB_ENOMEM && sp == NULL),
                   "%s: allocation %ld failing gave status %d (%s)", k->name, n, rc, err.msg);
            if (rc == HB_OK) hb_space_free(sp);
        }
        EXPECT(rc == HB_OK && n > 1, "%s: space() never succeeded or never allocated", k->name);
    }
}

int hb_test_add_kernels(void)
{
    CU_pSuite s = CU_add_suite("kernels", NULL, hb_test_vectors_free);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "splitmix64 vectors", test_splitmix64) ||
        !CU_add_test(s, "hartmann3 vectors", test_vectors_hartmann3) ||
        !CU_add_test(s, "hartmann6 vectors", test_vectors_hartmann6) ||
        !CU_add_test(s, "branin vectors", test_vectors_branin) ||
        !CU_add_test(s, "currin vectors", test_vectors_currin) ||
        !CU_add_test(s, "borehole vectors", test_vectors_borehole) ||
        !CU_add_test(s, "counting_ones vectors", test_vectors_counting_ones) ||
        !CU_add_test(s, "counting_ones_exact vectors", test_vectors_counting_ones_exact) ||
        !CU_add_test(s, "registry", test_registry) ||
        !CU_add_test(s, "metadata and optima", test_metadata) ||
        !CU_add_test(s, "BOCA spaces and options", test_boca_spaces) ||
        !CU_add_test(s, "space() allocation failures", test_space_nomem) ||
        !CU_add_test(s, "BOCA out-of-range input", test_boca_range) ||
        !CU_add_test(s, "BOCA budget clamp and seed", test_boca_budget) ||
        !CU_add_test(s, "counting_ones out-of-range input", test_counting_ones_range) ||
        !CU_add_test(s, "counting_ones options", test_counting_ones_options) ||
        !CU_add_test(s, "counting_ones sizes share streams", test_counting_ones_sizes) ||
        !CU_add_test(s, "counting_ones prefix and rounding", test_counting_ones_prefix))
        return -1;
    return 0;
}
