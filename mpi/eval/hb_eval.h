/* hb_eval.h — evaluators: what runs one configuration at one budget and says how it went.
 * Built-in kernel (optionally sleeping budget-proportionally), a C shared library, or an
 * external command started with posix_spawn (never a shell), in its own process group, with
 * a timeout. Used by the worker side of every transport; blocking; no MPI calls except handing
 * a communicator to a library objective. */
#ifndef HB_EVAL_H
#define HB_EVAL_H

#include <mpi.h>

#include "hb_history.h"
#include "hb_kernel.h"
#include "hb_space.h"

typedef struct hb_evaluator hb_evaluator;

typedef struct hb_eval_job {
    uint64_t id;        /* trial id */
    double budget;
    uint64_t seed;      /* per-trial seed (hb_hash2(run seed, id)) */
    const double *x;    /* native encoding in the evaluator's space */
    uint64_t config;    /* the configuration's identity: the id of its first job */
    uint64_t prev;      /* the same configuration's job one rung lower, or HB_NO_JOB */
    double prev_budget; /* that job's budget (0 without one) */
    uint64_t config_seed; /* one seed for every rung of the configuration (hb_hash2(run seed,
                             config)): training kernels use it, so that a promoted trial trains
                             on exactly as from scratch */
} hb_eval_job;

typedef struct hb_eval_result {
    double spent;            /* budget actually spent: less than the job's when it continued from
                                the previous rung's checkpoint; NaN when not known (nominal) */
    double loss;             /* meaningful when status == HB_TRIAL_OK */
    hb_trial_status status;  /* ok, failed, timeout, crashed, nan */
    char reason[256];        /* why it is not ok ("" when ok) */
    char extras[512];        /* a JSON object of extra values the objective reported, or "" */
} hb_eval_result;

typedef struct hb_cmd_options {
    double timeout;          /* seconds; <= 0: none */
    double grace;            /* seconds between SIGTERM and SIGKILL (default 5) */
    const char *trial_root;  /* directory under which each trial gets its own directory */
    const char *hosts;       /* HB_HOSTS for the program (comma-separated), or NULL */
    int nranks;              /* HB_NRANKS */
} hb_cmd_options;

/* Where trials get their own directories (ROOT/trial-ID) without --trial-dir. */
#define HB_DEFAULT_TRIAL_ROOT "./hbmpi-trials"

/* The built-in kernel 'k' on space 'sp' (borrowed). 'delay' > 0: each evaluation also sleeps
 * delay * spent budget / k->max_budget seconds. 'state_root' not NULL (--continue-promoted): a
 * training kernel (k->train) keeps its state after each trial in ROOT/trial-ID/kernel.state and
 * a promoted trial continues from its previous job's state (training from scratch when that is
 * missing or does not fit); other kernels ignore it. */
int hb_eval_kernel_create(const hb_kernel *k, const hb_space *sp, double delay,
                          const char *state_root, hb_evaluator **out, hb_error *err);
/* "PATH:SYMBOL": dlopen PATH, check hbmpi_objective_abi() == HBMPI_OBJECTIVE_ABI, use SYMBOL.
 * 'trial_root' not NULL (--continue-promoted): each trial gets the directory ROOT/trial-ID, and a
 * promoted one the directory of its previous rung; NULL: no directories. */
int hb_eval_lib_create(const char *spec, const hb_space *sp, const char *trial_root, hb_evaluator **out,
                       hb_error *err);
/* argv[0..argc-1] is the program and its fixed arguments; each trial appends --name=value for
 * every active parameter and --budget=B. */
int hb_eval_cmd_create(int argc, char *const *argv, const hb_space *sp, const hb_cmd_options *o,
                       hb_evaluator **out, hb_error *err);
/* `--eval-server`: argv[0..argc-1] is started once (and again after it fails) and serves one job
 * at a time over its descriptors 3 (jobs) and 4 (answers), JSON lines (docs/runtime.md). */
int hb_eval_server_create(int argc, char *const *argv, const hb_space *sp, const hb_cmd_options *o,
                          hb_evaluator **out, hb_error *err);
/* Give the evaluator the communicator of the ranks that evaluate together (lib objectives get
 * it; size > 1 only with --ranks-per-eval). Borrowed. */
void hb_eval_set_comm(hb_evaluator *ev, MPI_Comm comm);
/* Run one evaluation to the end (or its timeout). Returns HB_OK whatever the trial's status;
 * an error only when the evaluator itself cannot work. */
int hb_eval_run(hb_evaluator *ev, const hb_eval_job *job, hb_eval_result *out, hb_error *err);
void hb_eval_free(hb_evaluator *ev);

/* Make every running and future evaluation of this process stop soon: a command's process group
 * gets SIGTERM, then SIGKILL after the grace time; a kernel's delay sleep ends. The trial ends
 * with status "lost" and reason "interrupted" (HB_EVAL_INTERRUPTED), which the master records
 * as interrupted, not as a result, so that a resumed run evaluates it again. Async-signal-safe:
 * the SIGTERM/SIGUSR1 handler calls it. Sticky: there is no way back. */
void hb_eval_interrupt(void);
/* While evaluations wait (sleeps, a child's exit), call 'fn(arg)' every so often (at most every
 * 50 ms to 250 ms); when it returns non-zero the process is interrupted as by
 * hb_eval_interrupt. The MPI worker uses it to hear the master's "stop now". NULL: none. */
void hb_eval_set_poll(int (*fn)(void *), void *arg);
#define HB_EVAL_INTERRUPTED "interrupted"

#endif
