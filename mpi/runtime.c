/* runtime.c — the run loop. Rank 0 asks, evaluates the built-in kernel, tells, records the
 * trial with its times, and reports progress; the other ranks wait without spinning. (Worker
 * ranks that evaluate in parallel come with the MPI transport.) */
#define _POSIX_C_SOURCE 200809L
#include "hb_runtime.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "hb_progress.h"
#include "hb_rng.h"

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Times in the report are kept to the microsecond. */
static double micro(double s) { return round(s * 1e6) / 1e6; }

int hb_mpi_wait(MPI_Request *req)
{
    int done = 0;
    long ns = 1000;
    double t0 = now_seconds();
    for (;;) {
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return HB_EMPI;
        if (done) return HB_OK;
        if (now_seconds() - t0 < 50e-6) continue;
        struct timespec s = {0, ns};
        nanosleep(&s, NULL);
        if ((ns *= 2) > 1000000) ns = 1000000;
    }
}

void hb_run_result_fini(hb_run_result *res)
{
    hb_free(res->trials);
    hb_free(res->xs);
    memset(res, 0, sizeof *res);
}

static int grow(hb_run_result *res, size_t *cap, size_t dim)
{
    if (res->n < *cap) return HB_OK;
    size_t c = *cap ? 2 * *cap : 256;
    hb_trial *t = hb_realloc(res->trials, c * sizeof *t);
    if (t == NULL) return HB_ENOMEM;
    res->trials = t;
    double *xs = hb_realloc(res->xs, c * (dim ? dim : 1) * sizeof(double));
    if (xs == NULL) return HB_ENOMEM;
    res->xs = xs;
    *cap = c;
    return HB_OK;
}

static int run_master(const hb_run_spec *spec, hb_run_result *res, hb_error *err)
{
    hb_opt *opt = NULL;
    size_t dim = hb_space_dim(spec->space), cap = 0;
    int rc = hb_opt_create(spec->space, &spec->settings, &opt, err);
    if (rc != HB_OK) return rc;
    hb_progress prog;
    hb_progress_init(&prog, stderr, spec->quiet);
    double t0 = now_seconds(), best = INFINITY, best_budget = -INFINITY;
    res->settings = *hb_opt_settings_of(opt);
    res->settings.optimizer = spec->settings.optimizer; /* outlives the optimiser */
    long total = res->settings.max_evals > 0 && res->settings.iterations <= 0 &&
                         res->settings.max_total_budget <= 0
                     ? res->settings.max_evals
                     : -1;
    res->workers = 1;
    for (;;) {
        hb_job job;
        if (spec->time_limit > 0 && now_seconds() - t0 >= spec->time_limit) hb_opt_stop(opt);
        if ((rc = hb_opt_ask(opt, &job, err)) != HB_OK) break;
        if (job.kind == HB_ASK_DONE) break;
        if (job.kind == HB_ASK_WAIT) {
            rc = hb_error_set(err, HB_EINVAL, NULL, "optimizer waits with no job running");
            break;
        }
        if ((rc = grow(res, &cap, dim)) != HB_OK) {
            hb_error_set(err, rc, NULL, "out of memory");
            break;
        }
        hb_trial *t = &res->trials[res->n];
        double *x = res->xs + res->n * dim;
        memcpy(x, job.x, dim * sizeof(double));
        hb_error eerr;
        hb_error_clear(&eerr);
        double loss = NAN;
        double start = micro(now_seconds() - t0);
        int erc = spec->kernel->eval(spec->space, x, job.budget, hb_hash2(spec->settings.seed, job.id),
                                     &loss, &eerr);
        double end = micro(now_seconds() - t0);
        hb_trial_status st = erc != HB_OK ? HB_TRIAL_FAILED : (isfinite(loss) ? HB_TRIAL_OK : HB_TRIAL_NAN);
        *t = (hb_trial){job.id, NULL, job.budget, loss, st, job.bracket, job.stage, 0, start, end};
        res->n++;
        if ((rc = hb_opt_tell(opt, job.id, loss, st, err)) != HB_OK) break;
        if (st == HB_TRIAL_OK && (job.budget > best_budget || (job.budget == best_budget && loss < best))) {
            best = loss;
            best_budget = job.budget;
        }
        hb_progress_update(&prog, end, (long)res->n, total, best, 0);
    }
    /* Views into the storage are set once it stops moving. */
    for (size_t i = 0; i < res->n; i++) res->trials[i].x = res->xs + i * dim;
    res->wall_seconds = micro(now_seconds() - t0);
    hb_progress_update(&prog, res->wall_seconds, (long)res->n, total, best, 1);
    hb_progress_finish(&prog);
    hb_opt_free(opt);
    return rc;
}

int hb_runtime_run(const hb_run_spec *spec, MPI_Comm comm, hb_run_result *res, hb_error *err)
{
    int rank = 0, rc = HB_OK;
    memset(res, 0, sizeof *res);
    if (comm == MPI_COMM_NULL) return run_master(spec, res, err); /* started alone: no MPI */
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) rc = run_master(spec, res, err);
    /* Everyone leaves together and learns rank 0's status. */
    MPI_Request req;
    if (MPI_Ibcast(&rc, 1, MPI_INT, 0, comm, &req) != MPI_SUCCESS || hb_mpi_wait(&req) != HB_OK)
        return hb_error_set(err, HB_EMPI, NULL, "MPI broadcast of the run status failed");
    if (rc != HB_OK && rank != 0) hb_error_set(err, rc, NULL, "run failed on rank 0");
    return rc;
}
