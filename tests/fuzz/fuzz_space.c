/* fuzz_space.c — libFuzzer target: any bytes as a search-space file (hbmpi's JSON or
 * ConfigSpace's). A space that reads must sample valid configurations, whose JSON reads back to
 * the same configuration, and whose own JSON (`space check --json`) reads back to a space that
 * writes the same JSON. Anything else is a finding (ASan/UBSan abort, or the abort() below). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_buf.h"
#include "hb_rng.h"
#include "hb_space.h"

#define FAIL(what)                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "fuzz_space: %s\n", what);                                                 \
        abort();                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_space *sp = NULL;
    hb_error err;
    if (hb_space_parse((const char *)data, size, "fuzz.json", &sp, &err) != HB_OK) {
        if (sp != NULL) FAIL("a failed parse left a space");
        if (strncmp(err.where, "fuzz.json:", 10) != 0 && err.status != HB_ENOMEM)
            FAIL("an error without FILE:LINE:COL");
        return 0;
    }
    size_t dim = hb_space_dim(sp);
    double *x = malloc((dim ? dim : 1) * sizeof *x), *y = malloc((dim ? dim : 1) * sizeof *y);
    hb_buf a = HB_BUF_INIT, b = HB_BUF_INIT;
    hb_rng rng;
    hb_rng_init(&rng, 1, 0);
    for (int k = 0; k < 4 && x && y; k++) {
        if (hb_space_sample(sp, &rng, x, &err) != HB_OK) break; /* e.g. everything forbidden */
        if (hb_space_validate(sp, x, &err) != HB_OK) FAIL("a sampled configuration is not valid");
        hb_buf_reset(&a);
        if (hb_space_config_json(sp, x, &a) != HB_OK || a.failed) break;
        if (hb_space_config_parse(sp, a.data, y, &err) != HB_OK) {
            fprintf(stderr, "%s\n%s: %s\n", a.data, err.where, err.msg);
            FAIL("hbmpi cannot read the configuration JSON it wrote");
        }
        for (size_t i = 0; i < dim; i++)
            if (!(x[i] == y[i] || (isnan(x[i]) && isnan(y[i])))) FAIL("the configuration JSON changed a value");
    }
    /* the space's own JSON reads back and writes the same JSON */
    hb_buf_reset(&a);
    if (hb_space_json(sp, &a) == HB_OK && !a.failed) {
        hb_space *sp2 = NULL;
        if (hb_space_parse(a.data, a.len, "again.json", &sp2, &err) != HB_OK) {
            fprintf(stderr, "%s\n%s: %s\n", a.data, err.where, err.msg);
            FAIL("hbmpi cannot read the space JSON it wrote");
        }
        if (hb_space_json(sp2, &b) == HB_OK && !b.failed && strcmp(a.data, b.data) != 0)
            FAIL("the space JSON changed on a round trip");
        hb_space_free(sp2);
    }
    hb_buf_fini(&a);
    hb_buf_fini(&b);
    free(x);
    free(y);
    hb_space_free(sp);
    return 0;
}
