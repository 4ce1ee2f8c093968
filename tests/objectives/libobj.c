/* libobj.c — a test objective library for the shared-library evaluator (tests/eval), built
 * against include/hbmpi.h with HBMPI_DECLARE_ABI. Its parameter "mode" picks the behaviour:
 * ok (loss x * n), fail (non-zero with a reason), silent (non-zero, no reason), nan, inf,
 * long_reason (fills the whole reason buffer), check (verifies every field of the trial that
 * tests/eval/test_eval.c passes and fails naming the first mismatch), nap (sleeps n seconds
 * whatever signals come, as a library that never looks at a stop request, then loss x).
 * With a trial directory (--continue-promoted) every mode first continues "training": it reads
 * the budget its previous rung saved in previous_trial_dir/done, stores what it trains in
 * *spent, and saves its own budget in trial_dir/done. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hbmpi.h"

HBMPI_DECLARE_ABI

int hbmpi_test_objective(const hbmpi_trial *t, double *loss, char *reason, size_t reason_len);

static long find(const hbmpi_trial *t, const char *name)
{
    for (size_t i = 0; i < t->n_params; i++)
        if (strcmp(t->names[i], name) == 0) return (long)i;
    return -1;
}

static const char *text(const hbmpi_trial *t, const char *name)
{
    long i = find(t, name);
    return i < 0 ? NULL : t->texts[i];
}

static double value(const hbmpi_trial *t, const char *name)
{
    long i = find(t, name);
    return i < 0 ? NAN : t->values[i];
}

static int same(const char *a, const char *b) { return a && b ? strcmp(a, b) == 0 : a == b; }

/* The first field that differs from what the "check" test passes, or NULL. */
static const char *mismatch(const hbmpi_trial *t)
{
    static const char *const names[] = {"mode", "x", "n", "c", "s", "off"};
    static const char *const texts[] = {"check", "0.25", "7", "32.5", "$(x)", NULL};
    if (t->abi != HBMPI_OBJECTIVE_ABI) return "abi";
    if (t->id != 42 || t->budget != 3 || t->seed != 99) return "id, budget or seed";
    if (t->n_params != 6) return "n_params";
    for (size_t i = 0; i < 6; i++) {
        if (!same(t->names[i], names[i])) return "names";
        if (!same(t->texts[i], texts[i])) return "texts";
    }
    if (!isnan(t->values[0]) || t->values[1] != 0.25 || t->values[2] != 7 ||
        t->values[3] != 32.5 || !isnan(t->values[4]) || !isnan(t->values[5]))
        return "values";
    if (!same(t->config_json, "{\"mode\": \"check\", \"x\": 0.25, \"n\": 7, \"c\": 32.5, "
                              "\"s\": \"$(x)\"}"))
        return "config_json";
    if (t->trial_dir != NULL) return "trial_dir";
    if (t->config_id != 0 || t->previous_id != UINT64_MAX || t->previous_budget != 0 ||
        t->previous_trial_dir != NULL || t->spent == NULL || !isnan(*t->spent))
        return "config_id, previous_id, previous_budget, previous_trial_dir or spent";
    if (t->comm != NULL || t->nranks != 1) return "comm or nranks";
    return NULL;
}

/* Continue from the previous rung's "checkpoint" (a file with its budget); 0 or an error. */
static int train(const hbmpi_trial *t, char *reason, size_t reason_len)
{
    char path[4200];
    double done = 0;
    if (t->previous_trial_dir) {
        snprintf(path, sizeof path, "%s/done", t->previous_trial_dir);
        FILE *f = fopen(path, "r");
        if (f == NULL || fscanf(f, "%lf", &done) != 1 || done != t->previous_budget) {
            snprintf(reason, reason_len, "no checkpoint of budget %g in %s", t->previous_budget, path);
            if (f) fclose(f);
            return 1;
        }
        fclose(f);
    }
    *t->spent = t->budget - done;
    snprintf(path, sizeof path, "%s/done", t->trial_dir);
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%.17g\n", t->budget) < 0 || fclose(f) != 0) {
        snprintf(reason, reason_len, "cannot write %s", path);
        return 1;
    }
    return 0;
}

int hbmpi_test_objective(const hbmpi_trial *t, double *loss, char *reason, size_t reason_len)
{
    const char *mode = text(t, "mode");
    if (t->trial_dir && train(t, reason, reason_len) != 0) return 3;
    if (mode == NULL) {
        snprintf(reason, reason_len, "no mode");
        return 2;
    }
    if (strcmp(mode, "fail") == 0) {
        snprintf(reason, reason_len, "asked to fail at x=%s", text(t, "x"));
        return 1;
    }
    if (strcmp(mode, "silent") == 0) return 7;
    if (strcmp(mode, "long_reason") == 0) {
        memset(reason, 'r', reason_len); /* no NUL: hbmpi must cope */
        return 1;
    }
    if (strcmp(mode, "check") == 0) {
        const char *m = mismatch(t);
        if (m != NULL) {
            snprintf(reason, reason_len, "unexpected %s (config %s)", m, t->config_json);
            return 1;
        }
    }
    if (strcmp(mode, "nap") == 0) {
        struct timespec left = {(time_t)value(t, "n"), 0};
        while (nanosleep(&left, &left) != 0 && errno == EINTR) {
        }
        *loss = value(t, "x");
        return 0;
    }
    if (strcmp(mode, "nan") == 0)
        *loss = NAN;
    else if (strcmp(mode, "inf") == 0)
        *loss = INFINITY;
    else
        *loss = value(t, "x") * value(t, "n");
    return 0;
}
