/* hb_runtime.h — running an optimisation: the loop that matches `ask` to evaluations, times them,
 * reports progress, and produces the trials and the report JSON. Rank 0 only; the other ranks of
 * the communicator wait without spinning until rank 0 is done. */
#ifndef HB_RUNTIME_H
#define HB_RUNTIME_H

#include <mpi.h>

#include "hb_buf.h"
#include "hb_kernel.h"
#include "hb_opt.h"
#include "hb_report.h"

typedef struct hb_run_spec {
    const hb_kernel *kernel;    /* the objective */
    const char *kernel_label;   /* name as the user gave it (with options), for the report */
    const hb_space *space;      /* the kernel's space */
    hb_opt_settings settings;
    double time_limit;          /* seconds; stop issuing jobs after this (<= 0: none) */
    int quiet;                  /* no progress */
} hb_run_spec;

typedef struct hb_run_result {
    hb_trial *trials;           /* in the order results reached the master */
    size_t n;
    double *xs;                 /* storage of the trials' configurations */
    double wall_seconds;
    int workers;
    hb_opt_settings settings;   /* as the optimiser resolved them (defaults filled in) */
} hb_run_result;

/* Run to completion. Collective over 'comm': rank 0 runs the optimiser and evaluates; the
 * others wait. Every rank returns the same status. 'res' is filled on rank 0. With
 * MPI_COMM_NULL (started alone, MPI not initialised) it runs in this process only. */
int hb_runtime_run(const hb_run_spec *spec, MPI_Comm comm, hb_run_result *res, hb_error *err);
void hb_run_result_fini(hb_run_result *res);

/* Wait for 'req' by polling with exponential backoff (1 us .. 1 ms) after a 50 us spin, so an
 * idle rank costs about 1 % of a core (ENVIRONMENT.md §5). */
int hb_mpi_wait(MPI_Request *req);

#endif
