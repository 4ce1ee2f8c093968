/* bench_raw_mpi.c — the ceiling for hbmpi's dispatch throughput: a bare MPI request/reply loop
 * with hbmpi's message sizes and none of its work (no optimiser, no evaluator, no report).
 *
 * Rank 0 sends a job (24 bytes + 8 * dim, as hbmpi's wire_job) to every idle worker rank; each
 * worker answers with a 792-byte result (hbmpi's wire_result) and at once gets its next job.
 * Two ways of waiting, both measured in the same mpirun job, one after the other:
 *   backoff   as hbmpi's transport (mpi/transport_mpi.c): MPI_Test / MPI_Testany, spinning for
 *             50 us, then nanosleep from 1 us doubling to 1 ms between polls;
 *   blocking  MPI_Waitany / MPI_Recv / MPI_Send (Open MPI busy-polls inside them).
 * Prints one JSON object on rank 0's stdout. Written for benchmarks/bench_dispatch.py.
 *
 *   mpirun -n 2 bench_raw_mpi [--jobs N] [--warmup N] [--dim D] [--result-bytes B]
 *                             [--wait backoff,blocking]
 */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_JOB = 11, TAG_STOP = 12, TAG_RESULT = 13 };
enum { WAIT_BACKOFF = 0, WAIT_BLOCKING = 1 };

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the backoff wait of hbmpi's transport, re-stated here ---- */

typedef struct backoff {
    double t0;
    long ns;
    long sleeps;
} backoff;

static void backoff_start(backoff *b)
{
    b->t0 = now_s();
    b->ns = 1000;
}

static void backoff_wait(backoff *b)
{
    if (now_s() - b->t0 < 50e-6) return;
    struct timespec s = {0, b->ns};
    nanosleep(&s, NULL);
    b->sleeps++;
    if ((b->ns *= 2) > 1000000) b->ns = 1000000;
}

static long g_sleeps; /* nanosleep calls of this rank in the current phase */

static void wait_one(MPI_Request *r, MPI_Status *st, int mode)
{
    if (mode == WAIT_BLOCKING) {
        MPI_Wait(r, st ? st : MPI_STATUS_IGNORE);
        return;
    }
    backoff b = {0, 0, 0};
    backoff_start(&b);
    for (;;) {
        int done = 0;
        MPI_Test(r, &done, st ? st : MPI_STATUS_IGNORE);
        if (done) break;
        backoff_wait(&b);
    }
    g_sleeps += b.sleeps;
}

static int wait_any(int n, MPI_Request *rs, int mode)
{
    int idx = MPI_UNDEFINED;
    if (mode == WAIT_BLOCKING) {
        MPI_Waitany(n, rs, &idx, MPI_STATUS_IGNORE);
        return idx;
    }
    backoff b = {0, 0, 0};
    backoff_start(&b);
    for (;;) {
        int flag = 0;
        MPI_Testany(n, rs, &idx, &flag, MPI_STATUS_IGNORE);
        if (flag && idx != MPI_UNDEFINED) break;
        backoff_wait(&b);
    }
    g_sleeps += b.sleeps;
    return idx;
}

/* ---- one phase: 'warmup' + 'jobs' round trips with one way of waiting ---- */

typedef struct phase_result {
    long jobs;
    double seconds;
    long master_sleeps;
    double checksum;
} phase_result;

typedef struct master_ctx {
    int nworkers, mode;
    size_t jobsize, ressize;
    char *jobbuf, *resbuf;
    MPI_Request *sends, *recvs;
    long issued;
} master_ctx;

/* Send job number 'issued' to worker i (rank i + 1), once its previous send has completed, and
 * post the receive of its result. */
static void send_to(master_ctx *c, int i)
{
    char *jb = c->jobbuf + (size_t)i * c->jobsize;
    if (c->sends[i] != MPI_REQUEST_NULL) wait_one(&c->sends[i], NULL, c->mode);
    uint64_t id = (uint64_t)c->issued, seed = id * 0x9E3779B97F4A7C15ull;
    double budget = 81.0;
    memcpy(jb, &id, 8);
    memcpy(jb + 8, &seed, 8);
    memcpy(jb + 16, &budget, 8);
    for (size_t k = 24; k + 8 <= c->jobsize; k += 8) {
        double x = (double)(c->issued % 1000) * 1e-3 + (double)k;
        memcpy(jb + k, &x, 8);
    }
    MPI_Isend(jb, (int)c->jobsize, MPI_BYTE, i + 1, TAG_JOB, MPI_COMM_WORLD, &c->sends[i]);
    MPI_Irecv(c->resbuf + (size_t)i * c->ressize, (int)c->ressize, MPI_BYTE, i + 1, TAG_RESULT,
              MPI_COMM_WORLD, &c->recvs[i]);
    c->issued++;
}

static void master_phase(int nworkers, long warmup, long jobs, size_t jobsize, size_t ressize,
                         int mode, phase_result *out)
{
    master_ctx c = {nworkers, mode, jobsize, ressize, calloc((size_t)nworkers, jobsize),
                    calloc((size_t)nworkers, ressize), malloc((size_t)nworkers * sizeof(MPI_Request)),
                    malloc((size_t)nworkers * sizeof(MPI_Request)), 0};
    if (c.jobbuf == NULL || c.resbuf == NULL || c.sends == NULL || c.recvs == NULL)
        MPI_Abort(MPI_COMM_WORLD, 2);
    for (int i = 0; i < nworkers; i++) c.sends[i] = c.recvs[i] = MPI_REQUEST_NULL;
    long total = warmup + jobs, finished = 0;
    double t_start = 0, sum = 0;
    g_sleeps = 0;
    for (int i = 0; i < nworkers && c.issued < total; i++) send_to(&c, i);
    if (warmup == 0) t_start = now_s();
    while (finished < total) {
        int i = wait_any(nworkers, c.recvs, mode);
        double loss;
        memcpy(&loss, c.resbuf + (size_t)i * ressize + 16, 8);
        sum += loss;
        finished++;
        if (finished == warmup) {
            t_start = now_s();
            g_sleeps = 0;
        }
        if (c.issued < total) send_to(&c, i);
    }
    double t_end = now_s();
    for (int i = 0; i < nworkers; i++) {
        if (c.sends[i] != MPI_REQUEST_NULL) wait_one(&c.sends[i], NULL, mode);
        MPI_Send(NULL, 0, MPI_BYTE, i + 1, TAG_STOP, MPI_COMM_WORLD);
    }
    out->jobs = jobs;
    out->seconds = t_end - t_start;
    out->master_sleeps = g_sleeps;
    out->checksum = sum;
    free(c.jobbuf);
    free(c.resbuf);
    free(c.sends);
    free(c.recvs);
}

static void worker_phase(size_t jobsize, size_t ressize, int mode)
{
    char *jb = malloc(jobsize);
    char *rb = calloc(1, ressize);
    if (jb == NULL || rb == NULL) MPI_Abort(MPI_COMM_WORLD, 2);
    for (;;) {
        MPI_Request r;
        MPI_Status st;
        MPI_Irecv(jb, (int)jobsize, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &r);
        wait_one(&r, &st, mode);
        if (st.MPI_TAG == TAG_STOP) break;
        /* "Evaluate": the id back, a status, and a loss from the configuration. */
        uint64_t id;
        double loss = 0, x;
        memcpy(&id, jb, 8);
        for (size_t k = 24; k + 8 <= jobsize; k += 8) {
            memcpy(&x, jb + k, 8);
            loss += x * x;
        }
        memset(rb, 0, ressize);
        memcpy(rb, &id, 8);
        memcpy(rb + 16, &loss, 8);
        if (mode == WAIT_BLOCKING) {
            MPI_Send(rb, (int)ressize, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        } else {
            MPI_Isend(rb, (int)ressize, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD, &r);
            wait_one(&r, NULL, mode);
        }
    }
    free(jb);
    free(rb);
}

static long arg_long(int argc, char **argv, const char *name, long def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return strtol(argv[i + 1], NULL, 10);
    return def;
}

static const char *arg_str(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long jobs = arg_long(argc, argv, "--jobs", 500000);
    long warmup = arg_long(argc, argv, "--warmup", 2000);
    long dim = arg_long(argc, argv, "--dim", 2);
    long ressize = arg_long(argc, argv, "--result-bytes", 792);
    const char *waits = arg_str(argc, argv, "--wait", "backoff,blocking");
    if (size < 2 || jobs < 1 || warmup < 0 || dim < 0 || ressize < 24) {
        if (rank == 0)
            fprintf(stderr, "bench_raw_mpi: needs mpirun -n >= 2, --jobs >= 1, --dim >= 0, "
                            "--result-bytes >= 24\n");
        MPI_Finalize();
        return 2;
    }
    size_t jobsize = 24 + 8 * (size_t)dim;
    int modes[2], n_modes = 0;
    if (strstr(waits, "backoff")) modes[n_modes++] = WAIT_BACKOFF;
    if (strstr(waits, "blocking")) modes[n_modes++] = WAIT_BLOCKING;
    static const char *const mode_name[] = {"backoff", "blocking"};
    if (rank == 0) {
        printf("{\"benchmark\": \"raw_mpi\", \"ranks\": %d, \"workers\": %d, \"job_bytes\": %zu, "
               "\"result_bytes\": %ld, \"jobs\": %ld, \"warmup\": %ld, \"modes\": [",
               size, size - 1, jobsize, ressize, jobs, warmup);
    }
    for (int m = 0; m < n_modes; m++) {
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) {
            phase_result pr;
            master_phase(size - 1, warmup, jobs, jobsize, (size_t)ressize, modes[m], &pr);
            printf("%s\n  {\"wait\": \"%s\", \"jobs\": %ld, \"seconds\": %.6f, \"jobs_per_s\": %.1f, "
                   "\"us_per_job\": %.4f, \"master_sleeps\": %ld, \"checksum\": %.6g}",
                   m ? "," : "", mode_name[modes[m]], pr.jobs, pr.seconds,
                   pr.seconds > 0 ? (double)pr.jobs / pr.seconds : 0.0,
                   1e6 * pr.seconds / (double)pr.jobs, pr.master_sleeps, pr.checksum);
        } else {
            worker_phase(jobsize, (size_t)ressize, modes[m]);
        }
    }
    if (rank == 0) {
        printf("\n]}\n");
        fflush(stdout);
    }
    MPI_Finalize();
    return 0;
}
