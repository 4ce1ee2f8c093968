/* runtime.c — sets up a run: the evaluator on every rank that evaluates, the transport on the
 * master, groups of ranks for --ranks-per-eval; then the master loop on rank 0 and the worker
 * loop on the others. Errors during set-up are agreed on by all ranks, so none is left waiting. */
#include "hb_runtime.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hb_buf.h"
#include "hb_liveness.h"
#include "hb_master.h"
#include "hb_transport.h"
#include "hb_wait.h"

void hb_run_result_fini(hb_run_result *res)
{
    for (size_t i = 0; i < res->n; i++) {
        hb_free((char *)res->trials[i].reason);
        hb_free((char *)res->trials[i].extras);
    }
    hb_free(res->trials);
    hb_free(res->xs);
    memset(res, 0, sizeof *res);
}

static int make_evaluator(const hb_run_spec *spec, const hb_cmd_options *cmd, hb_evaluator **ev,
                          hb_error *err)
{
    /* With --continue-promoted, trials of a library or a training kernel get directories to
     * keep their state in (commands always have one). */
    const char *root = cmd->trial_root && cmd->trial_root[0] ? cmd->trial_root : HB_DEFAULT_TRIAL_ROOT;
    if (spec->eval_lib)
        return hb_eval_lib_create(spec->eval_lib, spec->space, spec->continue_promoted ? root : NULL, ev, err);
    if (spec->eval_argc > 0 && spec->eval_server)
        return hb_eval_server_create(spec->eval_argc, spec->eval_argv, spec->space, cmd, ev, err);
    if (spec->eval_argc > 0)
        return hb_eval_cmd_create(spec->eval_argc, spec->eval_argv, spec->space, cmd, ev, err);
    return hb_eval_kernel_create(spec->kernel, spec->space, spec->eval_delay,
                                 spec->continue_promoted ? root : NULL, ev, err);
}

/* Every rank's host name and pid, on rank 0 (collective over 'comm'). */
static int gather_ranks(MPI_Comm comm, hb_rank_info *ri)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    struct {
        char host[HB_HOST_MAX];
        long pid;
    } me, *all = NULL;
    memset(&me, 0, sizeof me);
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(name, &len);
    size_t hl = strlen(name);
    if (hl > sizeof me.host - 1) hl = sizeof me.host - 1; /* a longer host name is cut */
    memcpy(me.host, name, hl);
    me.pid = (long)getpid();
    int ok = 1;
    if (rank == 0) {
        all = hb_calloc((size_t)size, sizeof *all);
        ri->host = hb_calloc((size_t)size, HB_HOST_MAX);
        ri->pid = hb_calloc((size_t)size, sizeof *ri->pid);
        ri->fd = hb_calloc((size_t)size, sizeof *ri->fd);
        ok = all && ri->host && ri->pid && ri->fd;
    }
    /* every rank takes part even if rank 0 is out of memory: it then ignores the answer */
    static char dummy[sizeof me];
    MPI_Gather(&me, (int)sizeof me, MPI_BYTE, all ? (void *)all : (void *)dummy, (int)sizeof me, MPI_BYTE, 0,
               comm);
    if (rank != 0) return HB_OK;
    if (!ok) {
        hb_free(all);
        return HB_ENOMEM;
    }
    ri->n = size;
    for (int i = 0; i < size; i++) {
        memcpy(ri->host + (size_t)i * HB_HOST_MAX, all[i].host, HB_HOST_MAX);
        ri->host[(size_t)i * HB_HOST_MAX + HB_HOST_MAX - 1] = '\0';
        ri->pid[i] = all[i].pid;
    }
    hb_free(all);
    return HB_OK;
}

static void rank_info_fini(hb_rank_info *ri)
{
    hb_liveness_close(ri);
    hb_free(ri->fd);
    hb_free(ri->host);
    hb_free(ri->pid);
    memset(ri, 0, sizeof *ri);
}

/* The session's JSON object with "ranks": [{"rank", "host", "pid"}, ...] added (hb_malloc'd),
 * or NULL (out of memory, or 'info' is not an object). */
static char *session_with_ranks(const char *info, const hb_rank_info *ri)
{
    size_t n = info ? strlen(info) : 0;
    while (n > 0 && info[n - 1] != '}') n--;
    if (n == 0) return NULL;
    hb_buf b = HB_BUF_INIT;
    hb_buf_printf(&b, "%.*s%s\"ranks\": [", (int)(n - 1), info, n > 2 ? ", " : "");
    for (int i = 0; i < ri->n; i++) {
        hb_buf_printf(&b, "%s{\"rank\": %d, \"host\": ", i ? ", " : "", i);
        hb_buf_json_string(&b, hb_rank_host(ri, i));
        hb_buf_printf(&b, ", \"pid\": %ld}", hb_rank_pid(ri, i));
    }
    hb_buf_puts(&b, "]}");
    if (b.failed) {
        hb_buf_fini(&b);
        return NULL;
    }
    return b.data;
}

/* The master: the optimiser over transport 't'. */
static int master(const hb_run_spec *spec, hb_transport *t, int slots, hb_run_result *res,
                  hb_error *err)
{
    hb_opt_settings set = spec->settings;
    /* Enough brackets may run at once to keep every (logical) worker busy. */
    if (set.max_open_brackets == 0) {
        hb_schedule sch;
        int smax = hb_schedule_init(&sch, set.min_budget, set.max_budget, set.eta, set.bracket_rule, NULL) == HB_OK
                       ? sch.s_max
                       : 0;
        set.max_open_brackets = slots > smax + 1 ? slots : smax + 1;
    }
    hb_opt *opt = NULL;
    int rc = hb_opt_create(spec->space, &set, &opt, err);
    if (rc != HB_OK) return rc;
    hb_master_opts mo = {spec->space,  spec->reproducible, spec->time_limit,  spec->quiet,
                         spec->log,    spec->store,        spec->session,     spec->time_offset,
                         (spec->cmd.grace > 0 ? spec->cmd.grace : 0) + 2, spec->session_info,
                         spec->deadline};
    rc = hb_master_run(opt, t, &mo, res, err);
    res->settings.optimizer = spec->settings.optimizer; /* outlives the optimiser */
    hb_opt_free(opt);
    return rc;
}

/* All ranks learn the worst status; 'err' of a rank that was fine says where it failed. */
static int agree(MPI_Comm comm, int rc, hb_error *err)
{
    int all = rc;
    MPI_Request r;
    if (MPI_Iallreduce(&rc, &all, 1, MPI_INT, MPI_MIN, comm, &r) != MPI_SUCCESS || hb_mpi_wait(&r, NULL) != HB_OK)
        return hb_error_set(err, HB_EMPI, NULL, "MPI reduction failed");
    if (all != HB_OK && rc == HB_OK) hb_error_set(err, all, NULL, "another rank failed to set up the run");
    return all;
}

/* HB_HOSTS: the host names of the group's ranks, comma-separated. */
static int group_hosts(MPI_Comm group, char *out, size_t n)
{
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0, size;
    MPI_Get_processor_name(name, &len);
    MPI_Comm_size(group, &size);
    char *all = hb_calloc((size_t)size, MPI_MAX_PROCESSOR_NAME);
    if (all == NULL) return HB_ENOMEM;
    MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, group);
    out[0] = '\0';
    for (int i = 0; i < size; i++) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%s", i ? "," : "", all + (size_t)i * MPI_MAX_PROCESSOR_NAME);
    }
    hb_free(all);
    return HB_OK;
}

int hb_runtime_run(const hb_run_spec *spec, MPI_Comm comm, hb_run_result *res, hb_error *err)
{
    memset(res, 0, sizeof *res);
    int rank = 0, size = 1, rc;
    if (comm != MPI_COMM_NULL) {
        MPI_Comm_rank(comm, &rank);
        MPI_Comm_size(comm, &size);
    }
    hb_evaluator *ev = NULL;
    hb_transport *t = NULL;
    int slots = spec->reproducible;
    /* A simulation, a lone process or -n 1: everything happens on rank 0. */
    if (spec->simulate_workers > 0 || size == 1) {
        if (rank == 0) {
            rc = make_evaluator(spec, &spec->cmd, &ev, err);
            if (rc == HB_OK)
                rc = spec->simulate_workers > 0
                         ? hb_transport_sim(ev, spec->space, spec->simulate_workers, spec->sim_cost,
                                            spec->sim_noise, &t, err)
                         : hb_transport_serial(ev, spec->space, &t, err);
            if (rc == HB_OK) rc = master(spec, t, slots ? slots : t->workers, res, err);
            hb_transport_close(t);
            hb_eval_free(ev);
        } else {
            rc = HB_OK;
        }
        return comm == MPI_COMM_NULL ? rc : agree(comm, rc, err);
    }
    /* MPI: workers in groups of k; rank 0 is the master. */
    int k = spec->ranks_per_eval > 0 ? spec->ranks_per_eval : 1;
    if ((size - 1) % k != 0)
        return hb_error_set(err, HB_EINVAL, NULL, "--ranks-per-eval %d does not divide the %d worker ranks",
                            k, size - 1);
    MPI_Comm group = MPI_COMM_NULL;
    MPI_Comm_split(comm, rank == 0 ? MPI_UNDEFINED : (rank - 1) / k, rank, &group);
    hb_cmd_options cmd = spec->cmd;
    char hosts[4096];
    hb_rank_info ri = {0, NULL, NULL, NULL, -1};
    rc = gather_ranks(comm, &ri);
    if (hb_liveness_open(comm, &ri) != HB_OK && rc == HB_OK) rc = HB_ENOMEM;
    char *info = NULL;
    hb_run_spec spec2 = *spec;
    if (rank == 0 && rc == HB_OK && spec->session_info) {
        if ((info = session_with_ranks(spec->session_info, &ri)) != NULL) spec2.session_info = info;
    }
    spec = &spec2;
    /* a busy leader beats several times per lost time, so one late beat is no alarm */
    double lost_after = spec->worker_timeout > 0 ? spec->worker_timeout : 0;
    if (rank != 0) {
        if (spec->eval_argc > 0 && group_hosts(group, hosts, sizeof hosts) == HB_OK) {
            cmd.hosts = hosts;
            cmd.nranks = k;
        }
        rc = make_evaluator(spec, &cmd, &ev, err);
        if (rc == HB_OK) hb_eval_set_comm(ev, group);
    } else {
        if (rc == HB_OK) rc = hb_transport_mpi(comm, k, spec->space, lost_after, &ri, &t, err);
        else hb_error_set(err, rc, NULL, "out of memory");
    }
    rc = agree(comm, rc, err);
    if (rc == HB_OK) {
        if (rank == 0) {
            rc = master(spec, t, slots ? slots : t->workers, res, err);
            if (res->stuck > 0 || rc == HB_ELOST) { /* workers that will not answer: the caller aborts */
                if (res->stuck == 0) res->stuck = 1;
                hb_transport_close(t);
                if (group != MPI_COMM_NULL) MPI_Comm_free(&group);
                hb_free(info);
                rank_info_fini(&ri);
                return rc;
            }
        } else
            rc = hb_worker_loop(comm, group, spec->eval_lib != NULL, lost_after / 6, ev, spec->space, err);
    } else if (rank == 0 && t) {
        hb_transport_close(t); /* the workers are waiting for a stop */
        t = NULL;
    }
    hb_transport_close(t);
    hb_eval_free(ev);
    if (group != MPI_COMM_NULL) MPI_Comm_free(&group);
    hb_free(info);
    rank_info_fini(&ri);
    return agree(comm, rc, err);
}
