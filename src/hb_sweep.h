/* hb_sweep.h — a benchmark sweep: every combination of kernels x optimizers x seeds is one
 * study (one `hbmpi run` with its own run file). This part is pure: it reads SWEEP.json (every
 * error at FILE:LINE:COL), names the studies and their settings, and turns a study's trials into
 * its regret trajectory. Running the studies and reading their files is the runtime's (mpi/). */
#ifndef HB_SWEEP_H
#define HB_SWEEP_H

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_opt.h"
#include "hb_report.h"

typedef struct hb_sweep hb_sweep;

/* One study of a sweep. The strings belong to the sweep. */
typedef struct hb_sweep_study {
    const char *kernel;     /* as given: "name" or "name:options" */
    const char *optimizer;
    uint64_t seed;
} hb_sweep_study;

/* Finds a built-in kernel by name (without options), or NULL. */
typedef const hb_kernel *(*hb_kernel_lookup)(const char *name);

/* Read a sweep from 'text' ('len' bytes; 'name' is the file name the errors give). Kernels are
 * checked with 'find' and their option text with the kernel's own space(). HB_ESYNTAX with
 * err->where = "name:line:col" for anything wrong, HB_ENOMEM. */
HB_API int hb_sweep_parse(const char *text, size_t len, const char *name, hb_kernel_lookup find, hb_sweep **out,
                          hb_error *err);
HB_API void hb_sweep_free(hb_sweep *sw);

/* The sweep as one line of JSON with sorted keys: what DIR/sweep.json holds, and what a second
 * `hbmpi sweep` with the same DIR must agree with. */
HB_API const char *hb_sweep_canonical(const hb_sweep *sw);

/* Studies, numbered kernel-major: kernel, then optimizer, then seed, in the file's order. */
HB_API size_t hb_sweep_count(const hb_sweep *sw);
HB_API void hb_sweep_study_at(const hb_sweep *sw, size_t i, hb_sweep_study *out);

/* Study i's run file name: "KERNEL-OPTIMIZER-SEED.h5" with every character outside
 * [A-Za-z0-9._] of the kernel's text replaced by '_'. HB_ERANGE if 'n' is too small. */
HB_API int hb_sweep_file_name(const hb_sweep *sw, size_t i, char *out, size_t n);

/* The settings of study i with kernel 'k' (the one its name gives): optimizer and seed, the
 * kernel's budget range unless the sweep sets one, the total budget ("100x": 100 times the max
 * budget), then the sweep's "settings". The optimizer string belongs to the sweep. */
HB_API void hb_sweep_settings(const hb_sweep *sw, size_t i, const hb_kernel *k, hb_opt_settings *out);

/* Runtime options from "settings" (not optimiser settings): --reproducible W (0: none) and
 * --eval-delay S (0: none). */
HB_API int hb_sweep_reproducible(const hb_sweep *sw);
HB_API double hb_sweep_eval_delay(const hb_sweep *sw);

/* A study's regret against cumulative budget (docs/kernels.md §1): trials in the order they were
 * told; each ok trial at the max budget that beats the incumbent makes it the incumbent, whose
 * regret is max(0, loss - optimum), the loss being the kernel's exact (noise-free) loss where it
 * has one. 'traj' gets a point [cumulative budget, regret] where the regret changes and one at
 * the end; it stays empty (and 'final' NaN) until a trial at the max budget is ok, or if the
 * kernel's optimum is unknown. */
typedef struct hb_regret_point {
    double budget, regret;
} hb_regret_point;

typedef struct hb_study_regret {
    hb_regret_point *traj;  /* hb_malloc'd */
    size_t n;
    double final;           /* NaN: undefined */
    double total_budget;
    size_t evaluations;
} hb_study_regret;

HB_API int hb_study_regret_of(const hb_kernel *k, const hb_space *sp, double max_budget, const hb_trial *t,
                              size_t n, hb_study_regret *out, hb_error *err);
HB_API void hb_study_regret_fini(hb_study_regret *r);

/* The q-quantile (0 <= q <= 1) of 'n' values sorted ascending (+inf allowed), linear between
 * order statistics at position (n - 1) q, as numpy's default; NaN if n == 0. */
HB_API double hb_quantile_sorted(const double *v, size_t n, double q);

#endif
