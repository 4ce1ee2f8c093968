/* fuzz_config.c — libFuzzer target: any bytes as a configuration JSON (what `hbmpi eval --config`
 * reads, up to the first NUL as a command line would carry it) against fixed spaces read once
 * from tests/data: hbmpi's own format with every parameter kind, AND/OR conditions and a
 * forbidden clause, ConfigSpace's with the same kinds, and a real ConfigSpace file with 36
 * conditions. A configuration that reads must be valid, and the JSON hbmpi writes for it must read
 * back to the same values and write the same JSON; one that does not read must be refused with
 * HB_EINVAL and a message. Anything else is a finding (ASan/UBSan abort, or the abort() below). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_buf.h"
#include "hb_space.h"

#define FAIL(what)                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "fuzz_config: %s\n", what);                                                \
        abort();                                                                                   \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const space_files[] = {"good/native_all.json", "good/cs1_mixed.json",
                                          "spaces/yahpo-rbv2_super.json"};
#define N_SPACES (sizeof space_files / sizeof space_files[0])
static hb_space *spaces[N_SPACES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < N_SPACES; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", HB_TEST_DATA_DIR, space_files[i]);
        hb_error err;
        if (hb_space_load(path, &spaces[i], &err) != HB_OK) {
            fprintf(stderr, "fuzz_config: %s: %s: %s\n", path, err.where, err.msg);
            exit(1);
        }
    }
    return 0;
}

static int same(const double *x, const double *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] == y[i] || (isnan(x[i]) && isnan(y[i])))) return 0;
    return 1;
}

static void one_space(const hb_space *sp, const char *text)
{
    size_t dim = hb_space_dim(sp);
    double *x = calloc(dim, sizeof *x), *y = calloc(dim, sizeof *y);
    hb_buf a = HB_BUF_INIT, b = HB_BUF_INIT;
    hb_error err;
    hb_error_clear(&err);
    if (x == NULL || y == NULL) goto done;
    int rc = hb_space_config_parse(sp, text, x, &err);
    if (rc != HB_OK) {
        if (rc != HB_EINVAL && rc != HB_ENOMEM) FAIL("a configuration refused with neither HB_EINVAL nor HB_ENOMEM");
        if (err.status != rc || err.msg[0] == '\0') FAIL("a configuration refused without a message");
        if (memchr(err.msg, '\0', sizeof err.msg) == NULL) FAIL("an error message without its NUL");
        goto done;
    }
    if (hb_space_validate(sp, x, &err) != HB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        FAIL("a configuration that reads is not valid");
    }
    if (hb_space_config_json(sp, x, &a) != HB_OK || a.failed) goto done;
    if (hb_space_config_parse(sp, a.data, y, &err) != HB_OK) {
        fprintf(stderr, "%s\n%s\n", a.data, err.msg);
        FAIL("hbmpi cannot read the configuration JSON it wrote");
    }
    if (!same(x, y, dim)) FAIL("the configuration JSON changed a value");
    if (hb_space_config_json(sp, y, &b) != HB_OK || b.failed) goto done;
    if (strcmp(a.data, b.data) != 0) FAIL("the configuration JSON changed on a round trip");
done:
    hb_buf_fini(&a);
    hb_buf_fini(&b);
    free(x);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A command-line argument ends at its first NUL. */
    char *text = malloc(size + 1);
    if (text == NULL) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (size_t i = 0; i < N_SPACES; i++) one_space(spaces[i], text);
    free(text);
    return 0;
}
