/* transport_mpi.c — rank 0 sends jobs to worker ranks and collects their results, without ever
 * blocking in MPI (every wait polls with backoff, so no rank spins: DESIGN.md contract 6).
 * A worker gets its next job the moment its result arrives. With --ranks-per-eval k the worker
 * ranks form groups of k; rank 0 talks to each group's leader, which passes jobs on.
 * A worker rank whose process died is reported lost (HB_ELOST) as soon as its liveness
 * connection closes (liveness.c); a busy leader also sends a heartbeat now and then (from the
 * evaluator's poll hook), and one silent for the 'lost' time is reported lost too: its link was
 * cut or it froze, and MPI itself never says so (a cut link gives no TCP reset). */
#include <stdio.h>
#include <string.h>

#include "hb_clock.h"
#include "hb_jobqueue.h"
#include "hb_liveness.h"
#include "hb_signals.h"
#include "hb_transport.h"
#include "hb_wait.h"

/* TAG_ABORT: stop the running evaluation now (a signal reached the master). */
/* TAG_BEAT: a busy leader is alive (no payload that matters). */
enum { TAG_JOB = 11, TAG_STOP = 12, TAG_RESULT = 13, TAG_ABORT = 14, TAG_BEAT = 15 };
/* A result's status that is no trial status: the worker's evaluator cannot go on. */
#define RES_FATAL (-1)

/* A job on the wire: header then 'dim' doubles. */
typedef struct wire_job {
    uint64_t id, seed;
    double budget;
    uint64_t config, prev, config_seed;
    double prev_budget;
} wire_job;

typedef struct wire_result {
    uint64_t id;
    int32_t status;
    int32_t pad;
    double loss;
    double spent;
    char reason[256];
    char extras[512];
} wire_result;

/* ---------- master side ---------- */

typedef struct leader {
    int rank;
    int busy;
    int lost;           /* silent too long: never sent anything again */
    uint64_t id;
    double start;
    double heard;       /* hb_now() of the job's dispatch or the leader's last heartbeat */
    MPI_Request send, recv;
    char *jobbuf;
    wire_result res;
} leader;

typedef struct mpit {
    hb_transport base;
    MPI_Comm comm;
    size_t dim, jobsize;
    leader *l;
    int n;
    int n_busy;
    int n_lost;
    MPI_Request *recvs; /* one per leader, MPI_REQUEST_NULL when idle */
    hb_jobqueue q;      /* jobs waiting for a leader, in order; 'prefer' is a worker rank */
    double t0;
    double deadline;    /* after abort: when 'next' gives up; 0: not aborting */
    char abort_byte;
    int group_size;
    double lost_after;  /* seconds of silence from a busy leader that make it lost; 0: never */
    double checked;     /* hb_now() of the last look at heartbeats and liveness */
    hb_rank_info *ranks; /* host, pid and liveness connection by rank (borrowed), or NULL */
} mpit;

static int send_job(mpit *m, int i, const hb_queued *q, hb_error *err)
{
    leader *L = &m->l[i];
    if (L->send != MPI_REQUEST_NULL && hb_mpi_wait(&L->send, NULL) != HB_OK)
        return hb_error_set(err, HB_EMPI, NULL, "MPI send to rank %d failed", L->rank);
    const hb_eval_job *j = &q->j;
    wire_job h = {j->id, j->seed, j->budget, j->config, j->prev, j->config_seed, j->prev_budget};
    memcpy(L->jobbuf, &h, sizeof h);
    memcpy(L->jobbuf + sizeof h, q->x, m->dim * sizeof(double));
    if (MPI_Isend(L->jobbuf, (int)m->jobsize, MPI_BYTE, L->rank, TAG_JOB, m->comm, &L->send) != MPI_SUCCESS ||
        MPI_Irecv(&L->res, (int)sizeof L->res, MPI_BYTE, L->rank, TAG_RESULT, m->comm, &m->recvs[i]) !=
            MPI_SUCCESS)
        return hb_error_set(err, HB_EMPI, NULL, "MPI send to rank %d failed", L->rank);
    L->busy = 1;
    L->id = j->id;
    L->heard = hb_now();
    L->start = L->heard - m->t0;
    m->n_busy++;
    return HB_OK;
}

/* Start queued jobs, in order, on idle leaders: the job's preferred one when it is idle, else
 * the first idle one. */
static int dispatch(mpit *m, hb_error *err)
{
    while (hb_jobqueue_len(&m->q) > 0 && m->n_busy < m->n - m->n_lost) {
        const hb_queued *q = hb_jobqueue_pop(&m->q);
        int pick = -1;
        for (int i = 0; i < m->n; i++) {
            if (m->l[i].busy || m->l[i].lost) continue;
            if (pick < 0) pick = i;
            if (m->l[i].rank == q->prefer) {
                pick = i;
                break;
            }
        }
        int rc = send_job(m, pick, q, err);
        if (rc != HB_OK) return rc;
    }
    return HB_OK;
}

static int p_idle(hb_transport *t)
{
    mpit *m = (mpit *)t;
    long free_now = (long)(m->n - m->n_lost - m->n_busy) - (long)hb_jobqueue_len(&m->q);
    return free_now > 0 ? (int)free_now : 0;
}

static int p_submit(hb_transport *t, const hb_eval_job *j, int prefer, hb_error *err)
{
    mpit *m = (mpit *)t;
    int rc = hb_jobqueue_push(&m->q, j, prefer, err);
    return rc == HB_OK ? dispatch(m, err) : rc;
}

/* Heartbeats that have arrived: note when each leader was last heard of. */
static void drain_beats(mpit *m)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_BEAT, m->comm, &flag, &st) != MPI_SUCCESS || !flag) return;
        char b;
        MPI_Recv(&b, 1, MPI_BYTE, st.MPI_SOURCE, TAG_BEAT, m->comm, MPI_STATUS_IGNORE);
        int i = (st.MPI_SOURCE - 1) / m->group_size;
        if (st.MPI_SOURCE >= 1 && i < m->n) m->l[i].heard = hb_now();
    }
}

/* The first busy leader silent for longer than the lost time, or -1. */
static int find_lost(const mpit *m)
{
    double now = hb_now();
    for (int i = 0; i < m->n; i++)
        if (m->l[i].busy && !m->l[i].lost && now - m->l[i].heard > m->lost_after) return i;
    return -1;
}

static int p_next(hb_transport *t, hb_done *d, hb_error *err)
{
    mpit *m = (mpit *)t;
    if (m->n_busy == 0) return hb_error_set(err, HB_EINVAL, NULL, "no job is running");
    hb_backoff b;
    hb_backoff_start(&b);
    int idx = MPI_UNDEFINED, flag = 0;
    for (;;) {
        if (MPI_Testany(m->n, m->recvs, &idx, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return hb_error_set(err, HB_EMPI, NULL, "MPI receive failed");
        if (flag && idx != MPI_UNDEFINED) break;
        /* heartbeats and dead ranks: every 20 ms is soon enough, and costs nothing per result */
        double now = hb_now();
        int look = now - m->checked >= 0.02;
        if (look) {
            m->checked = now;
            drain_beats(m);
        }
        if (look && m->deadline == 0) {
            int dead = hb_liveness_dead(m->ranks);
            int lost = dead >= 1 ? (dead - 1) / m->group_size : m->lost_after > 0 ? find_lost(m) : -1;
            if (lost >= 0 && lost < m->n && !m->l[lost].lost) {
                /* written off: a stop then waits only for the others, and no message goes to it */
                leader *L = &m->l[lost];
                int r = dead >= 1 ? dead : L->rank;
                double silent = hb_now() - L->heard;
                L->lost = 1;
                m->n_lost++;
                if (L->busy) {
                    L->busy = 0;
                    m->n_busy--;
                    MPI_Cancel(&m->recvs[lost]);
                    MPI_Request_free(&m->recvs[lost]);
                }
                if (dead >= 1)
                    return hb_error_set(err, HB_ELOST, NULL,
                                        "worker rank %d on host %s (pid %ld) died: its connection to rank 0 "
                                        "closed (killed, or its host went down)",
                                        r, hb_rank_host(m->ranks, r), hb_rank_pid(m->ranks, r));
                return hb_error_set(err, HB_ELOST, NULL,
                                    "worker rank %d on host %s (pid %ld) was lost: nothing heard from it for %.0f s "
                                    "while it ran job %llu (its host died, its link was cut or it was frozen)",
                                    r, hb_rank_host(m->ranks, r), hb_rank_pid(m->ranks, r), silent,
                                    (unsigned long long)L->id);
            }
        }
        /* a stop signal ends the wait (the master then aborts), and an abort has a deadline */
        if (m->deadline == 0 && hb_stop_signal()) return hb_error_set(err, HB_EINTR, NULL, "interrupted");
        if (m->deadline > 0 && hb_now() > m->deadline)
            return hb_error_set(err, HB_EINTR, NULL, "%d evaluations did not stop in time", m->n_busy);
        hb_backoff_wait(&b);
    }
    leader *L = &m->l[idx];
    memset(d, 0, sizeof *d);
    d->id = L->res.id;
    d->worker = L->rank;
    d->start = L->start;
    d->end = hb_now() - m->t0;
    d->r.loss = L->res.loss;
    d->r.spent = L->res.spent;
    d->r.status = (hb_trial_status)L->res.status;
    memcpy(d->r.reason, L->res.reason, sizeof d->r.reason);
    memcpy(d->r.extras, L->res.extras, sizeof d->r.extras);
    d->r.reason[sizeof d->r.reason - 1] = d->r.extras[sizeof d->r.extras - 1] = '\0';
    if (L->res.id != L->id)
        return hb_error_set(err, HB_EMPI, NULL, "rank %d answered job %llu, expected %llu", L->rank,
                            (unsigned long long)L->res.id, (unsigned long long)L->id);
    if (L->res.status == RES_FATAL) { /* the master stops the run with this error */
        L->busy = 0;
        m->n_busy--;
        return hb_error_set(err, HB_EKERNEL, NULL, "%s", d->r.reason);
    }
    L->busy = 0;
    m->n_busy--;
    return dispatch(m, err); /* its next job goes out before the optimiser even hears */
}

static double p_now(hb_transport *t) { return hb_now() - ((mpit *)t)->t0; }

static void p_abort(hb_transport *t, double grace)
{
    mpit *m = (mpit *)t;
    hb_jobqueue_clear(&m->q);
    m->deadline = hb_now() + grace;
    for (int i = 0; i < m->n; i++) {
        if (!m->l[i].busy) continue;
        MPI_Request r;
        if (MPI_Isend(&m->abort_byte, 1, MPI_BYTE, m->l[i].rank, TAG_ABORT, m->comm, &r) == MPI_SUCCESS)
            MPI_Request_free(&r); /* a 1-byte eager send; nothing to wait for */
    }
}

static int p_running(hb_transport *t) { return ((mpit *)t)->n_busy; }

static void p_close(hb_transport *t)
{
    mpit *m = (mpit *)t;
    /* Stop every leader; a running job (after an error) is abandoned. A lost one gets nothing: a
     * send to a host that is gone could wait for ever (the job is ended by MPI_Abort then). */
    for (int i = 0; i < m->n; i++) {
        leader *L = &m->l[i];
        if (L->lost) {
            hb_free(L->jobbuf);
            continue;
        }
        if (L->send != MPI_REQUEST_NULL) hb_mpi_wait(&L->send, NULL);
        if (m->recvs[i] != MPI_REQUEST_NULL) {
            MPI_Cancel(&m->recvs[i]);
            MPI_Request_free(&m->recvs[i]);
        }
        MPI_Request r;
        MPI_Isend(NULL, 0, MPI_BYTE, L->rank, TAG_STOP, m->comm, &r);
        hb_mpi_wait(&r, NULL);
        hb_free(L->jobbuf);
    }
    drain_beats(m);
    hb_jobqueue_fini(&m->q);
    hb_free(m->recvs);
    hb_free(m->l);
    hb_free(m);
}

static const hb_transport_ops mpi_ops = {"mpi", p_idle, p_submit, p_next, p_now, p_abort, p_running, p_close};

const char *hb_rank_host(const hb_rank_info *ri, int rank)
{
    return ri && rank >= 0 && rank < ri->n ? ri->host + (size_t)rank * HB_HOST_MAX : "?";
}

long hb_rank_pid(const hb_rank_info *ri, int rank)
{
    return ri && rank >= 0 && rank < ri->n ? ri->pid[rank] : -1;
}

int hb_transport_mpi(MPI_Comm comm, int group_size, const hb_space *sp, double lost_after,
                     hb_rank_info *ranks, hb_transport **out, hb_error *err)
{
    int size;
    MPI_Comm_size(comm, &size);
    if (group_size < 1 || size < 2 || (size - 1) % group_size != 0)
        return hb_error_set(err, HB_EINVAL, NULL, "%d worker ranks do not split into groups of %d",
                            size - 1, group_size);
    mpit *m = hb_calloc(1, sizeof *m);
    if (m == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    m->comm = comm;
    m->group_size = group_size;
    m->lost_after = lost_after > 0 ? lost_after : 0;
    m->ranks = ranks;
    m->dim = hb_space_dim(sp);
    hb_jobqueue_init(&m->q, m->dim);
    m->jobsize = sizeof(wire_job) + m->dim * sizeof(double);
    m->n = (size - 1) / group_size;
    m->base = (hb_transport){&mpi_ops, m->n, "mpi"};
    m->t0 = hb_now();
    m->l = hb_calloc((size_t)m->n, sizeof *m->l);
    m->recvs = hb_malloc((size_t)m->n * sizeof *m->recvs);
    if (m->l == NULL || m->recvs == NULL) {
        hb_free(m->l);
        hb_free(m->recvs);
        hb_free(m);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    for (int i = 0; i < m->n; i++) {
        m->l[i].rank = 1 + i * group_size;
        m->l[i].send = MPI_REQUEST_NULL;
        m->recvs[i] = MPI_REQUEST_NULL;
        if ((m->l[i].jobbuf = hb_malloc(m->jobsize)) == NULL) {
            m->n = i; /* free what was made */
            p_close(&m->base);
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        }
    }
    *out = &m->base;
    return HB_OK;
}

/* ---------- worker side ---------- */

/* What the poll hook of a group leader needs. */
typedef struct leader_poll {
    MPI_Comm comm;
    double beat_every, last_beat;
    char beat_byte;
} leader_poll;

/* The evaluator's poll hook on a group leader: a heartbeat to the master when one is due, and
 * has the master sent "stop now"? (That message stays queued; the loop below receives it as a
 * job message with TAG_ABORT and drops it.) */
static int abort_sent(void *arg)
{
    leader_poll *lp = arg;
    if (lp->beat_every > 0) {
        double now = hb_now();
        if (now - lp->last_beat >= lp->beat_every) {
            MPI_Request r;
            if (MPI_Isend(&lp->beat_byte, 1, MPI_BYTE, 0, TAG_BEAT, lp->comm, &r) == MPI_SUCCESS)
                MPI_Request_free(&r); /* eager and tiny: nothing to wait for */
            lp->last_beat = now;
        }
    }
    int flag = 0;
    MPI_Iprobe(0, TAG_ABORT, lp->comm, &flag, MPI_STATUS_IGNORE);
    return flag;
}

int hb_worker_loop(MPI_Comm comm, MPI_Comm group, int members_evaluate, double beat_every,
                   hb_evaluator *ev, const hb_space *sp, hb_error *err)
{
    int rank, grank = 0, gsize = 1;
    MPI_Comm_rank(comm, &rank);
    if (group != MPI_COMM_NULL) {
        MPI_Comm_rank(group, &grank);
        MPI_Comm_size(group, &gsize);
    }
    size_t dim = hb_space_dim(sp), jobsize = sizeof(wire_job) + dim * sizeof(double);
    /* One extra byte in front carries "stop" (1) or "job" (0) to the group's other ranks. */
    char *buf = hb_malloc(jobsize + 1);
    double *x = hb_malloc((dim ? dim : 1) * sizeof(double));
    if (buf == NULL || x == NULL) {
        hb_free(buf);
        hb_free(x);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    int lead = grank == 0, rc = HB_OK;
    leader_poll lp = {comm, beat_every, 0, 1};
    if (lead) hb_eval_set_poll(abort_sent, &lp);
    for (;;) {
        MPI_Request r;
        MPI_Status st;
        if (lead) {
            if (MPI_Irecv(buf + 1, (int)jobsize, MPI_BYTE, 0, MPI_ANY_TAG, comm, &r) != MPI_SUCCESS ||
                hb_mpi_wait(&r, &st) != HB_OK) {
                rc = hb_error_set(err, HB_EMPI, NULL, "MPI receive on rank %d failed", rank);
                break;
            }
            if (st.MPI_TAG == TAG_ABORT) { /* stop now: this and every later evaluation */
                hb_eval_interrupt();
                continue;
            }
            buf[0] = st.MPI_TAG == TAG_STOP;
        }
        if (gsize > 1 && (MPI_Ibcast(buf, (int)jobsize + 1, MPI_BYTE, 0, group, &r) != MPI_SUCCESS ||
                          hb_mpi_wait(&r, NULL) != HB_OK)) {
            rc = hb_error_set(err, HB_EMPI, NULL, "MPI broadcast in the group of rank %d failed", rank);
            break;
        }
        if (buf[0]) break;
        if (!lead && !members_evaluate) continue;
        wire_job h;
        lp.last_beat = hb_now(); /* the master starts counting at the dispatch */
        memcpy(&h, buf + 1, sizeof h);
        memcpy(x, buf + 1 + sizeof h, dim * sizeof(double));
        hb_eval_job job = {h.id, h.budget, h.seed, x, h.config, h.prev, h.prev_budget, h.config_seed};
        wire_result res;
        memset(&res, 0, sizeof res);
        hb_eval_result out;
        memset(&out, 0, sizeof out);
        if (hb_eval_run(ev, &job, &out, err) != HB_OK) {
            /* an evaluator that cannot go on (a server that never starts) ends the run; any
             * other error is this trial's */
            out.status = err->status == HB_EINVAL ? RES_FATAL : HB_TRIAL_FAILED;
            snprintf(out.reason, sizeof out.reason, "evaluator error on rank %d: %.200s", rank, err->msg);
        }
        if (!lead) continue;
        res.id = h.id;
        res.status = (int32_t)out.status;
        res.loss = out.loss;
        res.spent = out.spent;
        memcpy(res.reason, out.reason, sizeof res.reason);
        memcpy(res.extras, out.extras, sizeof res.extras);
        if (MPI_Isend(&res, (int)sizeof res, MPI_BYTE, 0, TAG_RESULT, comm, &r) != MPI_SUCCESS ||
            hb_mpi_wait(&r, NULL) != HB_OK) {
            rc = hb_error_set(err, HB_EMPI, NULL, "MPI send on rank %d failed", rank);
            break;
        }
    }
    hb_eval_set_poll(NULL, NULL);
    hb_free(buf);
    hb_free(x);
    return rc;
}
