/* util.c — helpers shared by the CUnit suites. */
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
#include "hb_space.h"
#include "hb_test.h"

const char *hb_test_data(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("HB_TEST_DATA");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : HB_TEST_DATA_DIR, rel);
    return path;
}

char *hb_test_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    rewind(f);
    char *buf = n >= 0 ? hb_malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        hb_free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

/* lr (log float), units (log int), opt (weighted categorical), depth (ordinal), const,
 * mom active iff opt == sgd and lr > 1e-4, nesterov active iff mom > 0.5 or depth < 2;
 * forbidden: opt == rms and depth in {4, 8}. */
hb_space *hb_test_rich_space(void)
{
    hb_space *sp = NULL;
    hb_error err;
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    hb_value opts[] = {{1, 0, "adam"}, {1, 0, "sgd"}, {1, 0, "rms"}};
    double w[] = {0.5, 0.3, 0.2};
    hb_value depth[] = {{0, 1, NULL}, {0, 2, NULL}, {0, 4, NULL}, {0, 8, NULL}};
    hb_value onoff[] = {{1, 0, "on"}, {1, 0, "off"}};
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "lr", 1e-5, 1e-1, HB_SCALE_LOG, 1e-3, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_int(sp, "units", 16, 512, HB_SCALE_LOG, NAN, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "opt", opts, 3, w, 0, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_ordinal(sp, "depth", depth, 4, 1, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_constant(sp, "const", (hb_value){1, 0, "x"}, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "mom", 0, 0.99, HB_SCALE_LINEAR, 0.9, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "nesterov", onoff, 2, NULL, -1, &err), HB_OK);
    hb_value sgd = {1, 0, "sgd"}, lo = {0, 1e-4, NULL}, half = {0, 0.5, NULL}, two = {0, 2, NULL};
    hb_cond_spec mom_kids[] = {{HB_COND_EQ, "opt", &sgd, 1, NULL, 0}, {HB_COND_GT, "lr", &lo, 1, NULL, 0}};
    hb_cond_spec mom_cond = {HB_COND_AND, NULL, NULL, 0, mom_kids, 2};
    hb_cond_spec nest_kids[] = {{HB_COND_GT, "mom", &half, 1, NULL, 0}, {HB_COND_LT, "depth", &two, 1, NULL, 0}};
    hb_cond_spec nest_cond = {HB_COND_OR, NULL, NULL, 0, nest_kids, 2};
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "mom", &mom_cond, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "nesterov", &nest_cond, &err), HB_OK);
    hb_value rms = {1, 0, "rms"}, big[] = {{0, 4, NULL}, {0, 8, NULL}};
    hb_forbid_spec fk[] = {{HB_FORBID_EQUALS, "opt", &rms, 1, NULL, 0}, {HB_FORBID_IN, "depth", big, 2, NULL, 0}};
    hb_forbid_spec fb = {HB_FORBID_AND, NULL, NULL, 0, fk, 2};
    CU_ASSERT_EQUAL(hb_space_add_forbidden(sp, &fb, &err), HB_OK);
    CU_ASSERT_EQUAL_FATAL(hb_space_finalize(sp, NULL, &err), HB_OK);
    return sp;
}

void hb_test_expect_(int ok, const char *file, unsigned line, const char *fmt, ...)
{
    char msg[1024];
    if (ok) {
        CU_assertImplementation(CU_TRUE, line, "", file, "", CU_FALSE);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    CU_assertImplementation(CU_FALSE, line, msg, file, "", CU_FALSE);
}

static json_t *vectors; /* vectors.json, loaded on first use */

json_t *hb_test_vectors(void)
{
    if (vectors == NULL) {
        size_t len = 0;
        json_error_t jerr;
        char *buf = hb_test_read(hb_test_data("vectors.json"), &len);
        if (buf == NULL) return NULL;
        vectors = json_loadb(buf, len, 0, &jerr);
        hb_free(buf);
    }
    return vectors;
}

int hb_test_vectors_free(void)
{
    json_decref(vectors);
    vectors = NULL;
    return 0;
}

hb_space *hb_test_kernel_space(const char *kernel, const char *args)
{
    hb_space *sp = NULL;
    hb_error err = {0};
    int rc = hb_kernels_find(kernel)->space(args, &sp, &err);
    hb_test_expect_(rc == HB_OK, __FILE__, __LINE__, "%s: space(%s): status %d (%s)", kernel,
                    args ? args : "NULL", rc, err.msg);
    return rc == HB_OK ? sp : NULL;
}

double hb_test_train_ok(const char *kernel, const hb_space *sp, const double *x, double budget,
                        uint64_t seed, const hb_kernel_state *from, hb_kernel_state *to,
                        double *trained, unsigned line)
{
    hb_error err = {0};
    double loss = NAN, t = NAN;
    int rc = hb_kernels_find(kernel)->train(sp, x, budget, seed, from, to, &t, &loss, &err);
    hb_test_expect_(rc == HB_OK, __FILE__, line, "%s: train(budget %g, seed %llu) gave %d (%s)",
                    kernel, budget, (unsigned long long)seed, rc, err.msg);
    if (trained != NULL) *trained = t;
    return loss;
}

int hb_test_same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

int hb_test_same_state(const hb_kernel_state *a, const hb_kernel_state *b)
{
    return a->len == b->len && a->data != NULL && b->data != NULL &&
           memcmp(a->data, b->data, a->len) == 0;
}

double hb_test_state_f64(const hb_kernel_state *st, size_t off)
{
    const unsigned char *b = st->data;
    uint64_t v = 0;
    double d;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[off + (size_t)i] << (8 * i);
    memcpy(&d, &v, sizeof d);
    return d;
}

void hb_test_state_free(hb_kernel_state *st)
{
    hb_free(st->data);
    st->data = NULL;
    st->len = 0;
}
