/* hb_runtime.h — running an optimisation: picks the evaluator (built-in kernel, C library or
 * external command) and the transport (serial, MPI, simulated), runs the master loop on rank 0
 * and the worker loop on the other ranks, and produces the trials. */
#ifndef HB_RUNTIME_H
#define HB_RUNTIME_H

#include <mpi.h>

#include "hb_buf.h"
#include "hb_eval.h"
#include "hb_kernel.h"
#include "hb_opt.h"
#include "hb_report.h"
#include "hb_runlog.h"

struct hb_store;

typedef struct hb_run_spec {
    const hb_kernel *kernel;    /* built-in objective, or NULL with eval_lib / eval_argv */
    const char *kernel_label;   /* name as the user gave it (with options), for the report */
    const hb_space *space;      /* the kernel's space or the --space file's */
    hb_opt_settings settings;
    double time_limit;          /* seconds; stop issuing jobs after this (<= 0: none) */
    int quiet;                  /* no progress */
    double eval_delay;          /* kernel: sleep this * budget / max budget per evaluation */
    int continue_promoted;      /* training kernels keep their state in the trial directories and
                                   promoted trials continue from it (--continue-promoted) */
    const char *eval_lib;       /* "PATH:SYMBOL", or NULL */
    int eval_argc;              /* > 0: the command evaluator's argv */
    char *const *eval_argv;
    int eval_server;            /* 1: eval_argv is a server (--eval-server), started once */
    hb_cmd_options cmd;         /* command evaluator: timeout, grace, trial root */
    int reproducible;           /* W; 0: results told as they arrive */
    int simulate_workers;       /* > 0: virtual workers in virtual time */
    double sim_cost;            /* virtual seconds per unit of budget */
    double sim_noise;           /* log-normal noise of the simulated cost */
    int ranks_per_eval;         /* ranks evaluating one job together (MPI) */
    double worker_timeout;      /* MPI: a busy worker silent this long is lost (<= 0: never) */
    /* The run file and the event log (rank 0 only; see hb_master.h) */
    hb_runlog *log;             /* NULL: none (no --out, no --warm-start) */
    struct hb_store *store;
    int session;
    double time_offset;
    const char *session_info;
    double deadline;            /* --stop-before-end: seconds from the start; <= 0: none */
} hb_run_spec;

typedef struct hb_run_result {
    hb_trial *trials;           /* in the order results were told */
    size_t n;
    double *xs;                 /* storage of the trials' configurations */
    double wall_seconds;
    int workers;
    hb_opt_settings settings;   /* as the optimiser resolved them (defaults filled in) */
    int stop_signal;            /* the signal that stopped the run (HB_EINTR), else 0 */
    int stuck;                  /* jobs that did not stop within the grace after a signal */
} hb_run_result;

/* Run to completion. Collective over 'comm' (MPI_COMM_NULL: started alone, MPI not
 * initialised). Every rank returns the same status; 'res' is filled on rank 0. */
int hb_runtime_run(const hb_run_spec *spec, MPI_Comm comm, hb_run_result *res, hb_error *err);
void hb_run_result_fini(hb_run_result *res);

#endif
