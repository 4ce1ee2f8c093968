/* fuzz_sweep.c — libFuzzer target: any bytes as a sweep file (SWEEP.json of `hbmpi sweep`). An
 * error must carry FILE:LINE:COL; a sweep that reads must name its studies (count, order, file
 * names, settings), and its canonical text (DIR/sweep.json) must read back as the same sweep.
 * Anything else is a finding (ASan/UBSan abort, or the abort() below). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_kernels.h"
#include "hb_sweep.h"

#define FAIL(what)                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "fuzz_sweep: %s\n", what);                                                 \
        abort();                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 if 'where' is "NAME:LINE:COL" with LINE and COL positive integers. */
static int is_position(const char *where, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(where, name, n) != 0 || where[n] != ':') return 0;
    char *end;
    long line = strtol(where + n + 1, &end, 10);
    if (line < 1 || *end != ':') return 0;
    long col = strtol(end + 1, &end, 10);
    return col >= 1 && *end == '\0';
}

/* The built-in kernel that study 'st' names (its text before any ':'). */
static const hb_kernel *kernel_of(const hb_sweep_study *st)
{
    char name[128];
    size_t n = strcspn(st->kernel, ":");
    if (n >= sizeof name) FAIL("a sweep read a kernel name too long to be one");
    memcpy(name, st->kernel, n);
    name[n] = '\0';
    const hb_kernel *k = hb_kernels_find(name);
    if (k == NULL) FAIL("a sweep read an unknown kernel");
    return k;
}

static void check_study(const hb_sweep *sw, size_t i)
{
    hb_sweep_study st;
    hb_sweep_study_at(sw, i, &st);
    if (st.kernel == NULL || st.optimizer == NULL) FAIL("a study without kernel or optimizer");
    size_t need = strlen(st.kernel) + strlen(st.optimizer) + 32;
    char *name = malloc(need);
    if (name == NULL) return;
    if (hb_sweep_file_name(sw, i, name, need) != HB_OK) FAIL("a run file name does not fit its length");
    for (size_t j = 0, n = strlen(st.kernel); j < n; j++) {
        char c = name[j];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'))
            FAIL("a run file name keeps a character outside [A-Za-z0-9._] of the kernel's text");
    }
    if (strcmp(name + strlen(name) - 3, ".h5") != 0) FAIL("a run file name does not end in .h5");
    free(name);
    const hb_kernel *k = kernel_of(&st);
    hb_opt_settings s;
    hb_sweep_settings(sw, i, k, &s);
    if (strcmp(s.optimizer, st.optimizer) != 0 || s.seed != st.seed) FAIL("settings of another study");
    if (!(s.min_budget > 0 && s.min_budget <= s.max_budget)) FAIL("settings with a budget range that is empty");
    if (s.max_total_budget < 0) FAIL("settings with a negative total budget");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_sweep *sw = NULL;
    hb_error err;
    hb_error_clear(&err);
    int rc = hb_sweep_parse((const char *)data, size, "fuzz.json", hb_kernels_find, &sw, &err);
    if (rc != HB_OK) {
        if (sw != NULL) FAIL("a failed parse left a sweep");
        if (rc != HB_ENOMEM && (rc != HB_ESYNTAX || !is_position(err.where, "fuzz.json"))) {
            fprintf(stderr, "%d %s: %s\n", rc, err.where, err.msg);
            FAIL("an error without FILE:LINE:COL");
        }
        return 0;
    }
    size_t n = hb_sweep_count(sw);
    if (n == 0 || n > 1000000) FAIL("a sweep with no studies or more than a million");
    /* the first, the last and a few between (a million studies would be too slow to walk) */
    for (size_t i = 0; i < n; i += n / 7 + 1) check_study(sw, i);
    check_study(sw, n - 1);
    if (hb_sweep_reproducible(sw) < 0 || hb_sweep_eval_delay(sw) < 0) FAIL("negative runtime options");

    /* DIR/sweep.json reads back as the same sweep */
    const char *c = hb_sweep_canonical(sw);
    if (c == NULL || strchr(c, '\n') != NULL) FAIL("the canonical text is missing or not one line");
    hb_sweep *again = NULL;
    if (hb_sweep_parse(c, strlen(c), "sweep.json", hb_kernels_find, &again, &err) != HB_OK) {
        fprintf(stderr, "%s\n%s: %s\n", c, err.where, err.msg);
        FAIL("hbmpi cannot read the sweep.json it wrote");
    }
    if (strcmp(hb_sweep_canonical(again), c) != 0) FAIL("the canonical text changed on a round trip");
    if (hb_sweep_count(again) != n) FAIL("the number of studies changed on a round trip");
    for (size_t i = 0; i < n; i += n / 7 + 1) {
        hb_sweep_study a, b;
        hb_sweep_study_at(sw, i, &a);
        hb_sweep_study_at(again, i, &b);
        if (strcmp(a.kernel, b.kernel) || strcmp(a.optimizer, b.optimizer) || a.seed != b.seed)
            FAIL("a study changed on a round trip");
        hb_opt_settings sa, sb;
        const hb_kernel *k = kernel_of(&a);
        hb_sweep_settings(sw, i, k, &sa);
        hb_sweep_settings(again, i, k, &sb);
        const hb_sampler_opts *oa = &sa.sampler, *ob = &sb.sampler;
        if (oa->random_fraction != ob->random_fraction || oa->top_n_percent != ob->top_n_percent ||
            oa->num_samples != ob->num_samples || oa->bandwidth_factor != ob->bandwidth_factor ||
            oa->min_bandwidth != ob->min_bandwidth || oa->min_points_in_model != ob->min_points_in_model ||
            oa->acquisition != ob->acquisition || oa->grid_points != ob->grid_points || sa.min_budget != sb.min_budget ||
            sa.max_budget != sb.max_budget || sa.max_total_budget != sb.max_total_budget || sa.eta != sb.eta ||
            sa.bracket_rule != sb.bracket_rule || sa.max_open_brackets != sb.max_open_brackets)
            FAIL("a study's settings changed on a round trip");
    }
    if (hb_sweep_reproducible(again) != hb_sweep_reproducible(sw) ||
        hb_sweep_eval_delay(again) != hb_sweep_eval_delay(sw))
        FAIL("the runtime options changed on a round trip");
    hb_sweep_free(again);
    hb_sweep_free(sw);
    return 0;
}
