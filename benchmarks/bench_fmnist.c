/* bench_fmnist.c — wall time of the fmnist_mlp kernel's eval at E epochs (initial weights, E
 * epochs, one validation pass), or of its float32 variant with --kernel fmnist_mlp32. The data is
 * loaded and checked before any timing. Two modes:
 *   bench_fmnist --hidden H --batch B [--epochs E] [--repeats R] ...   R timed evals, one JSON
 *   bench_fmnist --serve [--data DIR]   one timed eval per stdin line "H B E LR WD MU SEED",
 *                                       one JSON line each on stdout
 * fmnist_epoch.py uses --serve to alternate C and numpy evals in one pair of processes, so that
 * the load of a shared machine falls on both alike. A program, not a test. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_kernels.h"
#include "hb_space.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int usage(void)
{
    fputs("usage: bench_fmnist --hidden H --batch B [--epochs E] [--repeats R] [--lr LR]\n"
          "                    [--wd WD] [--momentum MU] [--seed S] [--data DIR] [--kernel K]\n"
          "       bench_fmnist --serve [--data DIR] [--kernel K]\n"
          "K: fmnist_mlp (float64, the default) or fmnist_mlp32 (float32)\n",
          stderr);
    return 2;
}

/* One timed eval of x = (lr, B, H, wd, mu) at 'epochs'. */
static int timed(const hb_kernel *k, const hb_space *sp, const double *x, long epochs,
                 unsigned long long seed, double *secs, double *loss)
{
    hb_error err = {0};
    double t0 = now_s();
    if (k->eval(sp, x, (double)epochs, seed, loss, &err) != HB_OK) {
        fprintf(stderr, "bench_fmnist: %s\n", err.msg);
        return 1;
    }
    *secs = now_s() - t0;
    return 0;
}

/* --serve: answer "H B E LR WD MU SEED" lines until end of input. */
static int serve(const hb_kernel *k, const hb_space *sp)
{
    char line[512];
    while (fgets(line, sizeof line, stdin) != NULL) {
        double x[5], secs, loss;
        long epochs;
        unsigned long long seed;
        if (sscanf(line, "%lf %lf %ld %lf %lf %lf %llu", &x[2], &x[1], &epochs, &x[0], &x[3],
                   &x[4], &seed) != 7 || epochs < 1) {
            fprintf(stderr, "bench_fmnist: bad request '%s'\n", line);
            return 2;
        }
        if (timed(k, sp, x, epochs, seed, &secs, &loss)) return 1;
        printf("{\"seconds\": %.6f, \"val_error\": %.17g}\n", secs, loss);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    double x[5] = {0.01, 0, 0, 1e-4, 0.9}; /* docs/kernels.md §4's first observed configuration */
    long epochs = 1, repeats = 3;
    unsigned long long seed = 0;
    const char *data = NULL, *kname = "fmnist_mlp";
    char args[4200];
    int serving = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--serve")) {
            serving = 1;
            continue;
        }
        if (v == NULL) return usage();
        if (!strcmp(o, "--hidden")) x[2] = atof(v);
        else if (!strcmp(o, "--batch")) x[1] = atof(v);
        else if (!strcmp(o, "--lr")) x[0] = atof(v);
        else if (!strcmp(o, "--wd")) x[3] = atof(v);
        else if (!strcmp(o, "--momentum")) x[4] = atof(v);
        else if (!strcmp(o, "--epochs")) epochs = atol(v);
        else if (!strcmp(o, "--repeats")) repeats = atol(v);
        else if (!strcmp(o, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(o, "--data")) data = v;
        else if (!strcmp(o, "--kernel")) kname = v;
        else return usage();
        i++;
    }
    if (!serving && (x[1] <= 0 || x[2] <= 0 || epochs < 1 || repeats < 1)) return usage();

    if (strcmp(kname, "fmnist_mlp") != 0 && strcmp(kname, "fmnist_mlp32") != 0) return usage();
    const hb_kernel *k = hb_kernels_find(kname);
    hb_space *sp = NULL;
    hb_error err = {0};
    if (data) snprintf(args, sizeof args, "data=%s", data);
    double t0 = now_s();
    if (k == NULL || k->space(data ? args : NULL, &sp, &err) != HB_OK) {
        fprintf(stderr, "bench_fmnist: %s\n", k ? err.msg : "no such kernel");
        return 1;
    }
    double load_s = now_s() - t0;
    if (serving) {
        int rc = serve(k, sp);
        hb_space_free(sp);
        return rc;
    }
    double *times = malloc((size_t)repeats * sizeof(double)), loss = 0, first = 0;
    if (times == NULL) return 1;
    for (long r = 0; r < repeats; r++) {
        if (timed(k, sp, x, epochs, seed, &times[r], &loss)) {
            free(times);
            hb_space_free(sp);
            return 1;
        }
        if (r == 0) first = loss;
        if (loss != first) { /* the kernel is deterministic for a seed */
            fprintf(stderr, "bench_fmnist: repeat %ld gave %.17g, the first %.17g\n", r, loss,
                    first);
            free(times);
            hb_space_free(sp);
            return 1;
        }
    }
    printf("{\"implementation\": \"c\", \"kernel\": \"%s\", \"n_hidden\": %g, \"batch_size\": %g, "
           "\"epochs\": %ld, \"learning_rate\": %g, \"weight_decay\": %g, \"momentum\": %g, "
           "\"seed\": %llu, \"load_s\": %.6f, \"val_error\": %.17g, \"times_s\": [",
           kname, x[2], x[1], epochs, x[0], x[3], x[4], seed, load_s, loss);
    for (long r = 0; r < repeats; r++) printf("%s%.6f", r ? ", " : "", times[r]);
    qsort(times, (size_t)repeats, sizeof(double), cmp_double);
    double median = repeats % 2 ? times[repeats / 2]
                                : 0.5 * (times[repeats / 2 - 1] + times[repeats / 2]);
    printf("], \"median_s\": %.6f}\n", median);
    free(times);
    hb_space_free(sp);
    return 0;
}
