/* test_space_parse.c — space files: every tests/data/bad file gives exactly its .err line; the
 * real ConfigSpace files load and sample valid configurations; both ConfigSpace styles of one
 * space read the same; the native format round-trips. */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_buf.h"
#include "hb_space.h"
#include "hb_test.h"

static hb_space *parse_named(const char *rel, const char *name, hb_error *err, int *rc)
{
    size_t len;
    char *text = hb_test_read(hb_test_data(rel), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    hb_space *sp = NULL;
    *rc = hb_space_parse(text, len, name, &sp, err);
    hb_free(text);
    return sp;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_bad_files(void)
{
    DIR *d = opendir(hb_test_data("bad"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) names[n++] = hb_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    CU_ASSERT(n >= 25);
    for (size_t i = 0; i < n; i++) {
        char rel[512], errrel[512];
        snprintf(rel, sizeof rel, "bad/%s", names[i]);
        snprintf(errrel, sizeof errrel, "bad/%.*s.err", (int)(strlen(names[i]) - 5), names[i]);
        char *want = hb_test_read(hb_test_data(errrel), NULL);
        CU_ASSERT_PTR_NOT_NULL(want);
        hb_error err;
        hb_error_clear(&err);
        int rc;
        hb_space *sp = parse_named(rel, names[i], &err, &rc);
        CU_ASSERT_PTR_NULL(sp);
        CU_ASSERT_EQUAL(rc, HB_ESYNTAX);
        char got[1024];
        snprintf(got, sizeof got, "%s: error: %s\n", err.where, err.msg);
        if (want && strcmp(got, want) != 0) {
            fprintf(stderr, "\n%s: expected  %s          got       %s", names[i], want, got);
            CU_FAIL("error line differs from the .err file");
        }
        hb_space_free(sp);
        hb_free(want);
        hb_free(names[i]);
    }
}

static const struct {
    const char *file;
    size_t params, conditions;
} yahpo[] = {
    {"spaces/yahpo-lcbench.json", 9, 0},      {"spaces/yahpo-rbv2_svm.json", 9, 2},
    {"spaces/yahpo-iaml_xgboost.json", 15, 8}, {"spaces/yahpo-nb301.json", 35, 24},
    {"spaces/yahpo-rbv2_super.json", 41, 36},
};

static void test_real_spaces(void)
{
    for (size_t f = 0; f < sizeof yahpo / sizeof yahpo[0]; f++) {
        hb_error err;
        hb_space *sp = NULL;
        int rc = hb_space_load(hb_test_data(yahpo[f].file), &sp, &err);
        if (rc != HB_OK) fprintf(stderr, "\n%s: error: %s\n", err.where, err.msg);
        CU_ASSERT_EQUAL_FATAL(rc, HB_OK);
        CU_ASSERT_EQUAL(hb_space_dim(sp), yahpo[f].params);
        CU_ASSERT_EQUAL(hb_space_n_conditions(sp), yahpo[f].conditions);
        size_t dim = hb_space_dim(sp);
        double *x = hb_malloc(dim * sizeof(double)), *u = hb_malloc(dim * sizeof(double)),
               *y = hb_malloc(dim * sizeof(double));
        hb_rng rng;
        hb_rng_init(&rng, 17, f);
        size_t inactive = 0;
        for (int i = 0; i < 2000; i++) {
            CU_ASSERT_EQUAL_FATAL(hb_space_sample(sp, &rng, x, &err), HB_OK);
            CU_ASSERT_EQUAL(hb_space_validate(sp, x, &err), HB_OK);
            hb_space_to_unit(sp, x, u);
            hb_space_from_unit(sp, u, y);
            for (size_t d = 0; d < dim; d++) {
                inactive += isnan(x[d]);
                if (isnan(x[d])) {
                    CU_ASSERT(isnan(y[d]));
                } else if (hb_space_type(sp, d) == HB_PARAM_FLOAT) {
                    CU_ASSERT(fabs(y[d] - x[d]) <= 1e-9 * fabs(x[d]) + 1e-12);
                } else {
                    CU_ASSERT_EQUAL(y[d], x[d]);
                }
            }
        }
        if (yahpo[f].conditions) CU_ASSERT(inactive > 0);
        hb_free(x);
        hb_free(u);
        hb_free(y);
        hb_space_free(sp);
    }
}

static char *space_text(const char *rel)
{
    hb_space *sp = NULL;
    hb_error err;
    if (hb_space_load(hb_test_data(rel), &sp, &err) != HB_OK) {
        fprintf(stderr, "\n%s: error: %s\n", err.where, err.msg);
        return NULL;
    }
    hb_buf b = HB_BUF_INIT;
    hb_space_json(sp, &b);
    hb_space_free(sp);
    return b.data;
}

static void test_configspace_styles_agree(void)
{
    char *a = space_text("good/cs06_mixed.json"), *b = space_text("good/cs1_mixed.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* ConfigSpace 0.6 wrote the forbidden IN values as a set ([8, 4]); 1.x keeps the order
     * given ([4, 8]). Everything else must read identically. */
    char *swap = strstr(a, "\"values\": [8, 4]");
    CU_ASSERT_PTR_NOT_NULL_FATAL(swap);
    memcpy(swap, "\"values\": [4, 8]", 16);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"weights\": [0.5, 0.3, 0.2]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"type\": \"ordinal\", \"sequence\": [1, 2, 4, 8], \"default\": 2"));
    hb_free(a);
    hb_free(b);
}

static void test_native_round_trip(void)
{
    const char *files[] = {"good/cs1_mixed.json", "spaces/yahpo-rbv2_super.json",
                           "spaces/yahpo-iaml_xgboost.json", "good/native_all.json",
                           "fuzz/space/found_negative_zero.json"}; /* a choice -0.0 came back as 0 */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *once = space_text(files[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(once);
        hb_space *sp = NULL;
        hb_error err;
        CU_ASSERT_EQUAL_FATAL(hb_space_parse(once, strlen(once), "round-trip", &sp, &err), HB_OK);
        hb_buf b = HB_BUF_INIT;
        hb_space_json(sp, &b);
        CU_ASSERT_STRING_EQUAL(b.data, once);
        hb_buf_fini(&b);
        hb_space_free(sp);
        hb_free(once);
    }
}

int hb_test_add_space_parse(void)
{
    CU_pSuite s = CU_add_suite("space_parse", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "bad files give their .err line", test_bad_files);
    CU_add_test(s, "real ConfigSpace files load and sample", test_real_spaces);
    CU_add_test(s, "ConfigSpace 0.6 and 1.x styles agree", test_configspace_styles_agree);
    CU_add_test(s, "native format round-trips", test_native_round_trip);
    return 0;
}
