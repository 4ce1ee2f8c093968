/* master.c — the one master loop (DESIGN.md contract 4): match `ask` to free workers of any
 * transport, hand results to `tell`, keep the trials, report progress. With --reproducible W it
 * behaves as if W logical slots ran the jobs: at most W outstanding, results told strictly in
 * issue order, so the asks and tells depend on nothing but the seed, the settings and W.
 *
 * With a run file, every issued job and every result goes to the event log before anything
 * else happens to it (contract 2): an issue before the job is submitted, a result before the
 * optimiser is told. A result that reproducible order makes wait for an earlier job is logged
 * at once as "held", so that a kill does not lose it. A resumed run replays the log first. */
#include "hb_master.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hb_progress.h"
#include "hb_rng.h"
#include "hb_signals.h"
#include "hb_store_h5.h"

typedef struct slot {
    uint64_t id;
    double budget;
    int bracket, stage;
    uint64_t config, prev; /* the configuration's identity and previous job (hb_job) */
    double prev_budget;
    size_t x;          /* offset of its configuration in the side store */
    int finished;
    int held;          /* its result is in the log as held (not told yet) */
    hb_done d;
} slot;

typedef struct state {
    hb_run_result *res;
    const hb_master_opts *mo;
    hb_transport *t;
    size_t cap, dim;
    slot *out;         /* outstanding jobs, in issue order */
    size_t n_out, cap_out;
    int *worker_of;    /* by job id: the worker that ran it (-1: not told yet) */
    size_t cap_worker;
    double best, best_budget;
} state;

static double micro(double s) { return round(s * 1e6) / 1e6; }

/* Room for one more trial and its configuration. */
static int grow_trials(state *s)
{
    hb_run_result *r = s->res;
    if (r->n < s->cap) return HB_OK;
    size_t c = s->cap ? 2 * s->cap : 256;
    hb_trial *t = hb_realloc(r->trials, c * sizeof *t);
    if (t == NULL) return HB_ENOMEM;
    r->trials = t;
    double *xs = hb_realloc(r->xs, c * (s->dim ? s->dim : 1) * sizeof(double));
    if (xs == NULL) return HB_ENOMEM;
    r->xs = xs;
    s->cap = c;
    return HB_OK;
}

/* Configurations of outstanding jobs wait in a side store until their result is recorded. */
typedef struct xstore {
    double *xs;
    size_t n, cap, dim;
    size_t *free_list;
    size_t n_free;
} xstore;

static int xs_put(xstore *x, const double *v, size_t *at)
{
    size_t i;
    if (x->n_free) {
        i = x->free_list[--x->n_free];
    } else {
        if (x->n == x->cap) {
            size_t c = x->cap ? 2 * x->cap : 64;
            double *n = hb_realloc(x->xs, c * (x->dim ? x->dim : 1) * sizeof(double));
            size_t *f = hb_realloc(x->free_list, c * sizeof(size_t));
            if (n) x->xs = n;
            if (f) x->free_list = f;
            if (n == NULL || f == NULL) return HB_ENOMEM;
            x->cap = c;
        }
        i = x->n++;
    }
    memcpy(x->xs + i * x->dim, v, x->dim * sizeof(double));
    *at = i;
    return HB_OK;
}

/* Append 'e' to the log and the run file (when there is one). */
static int log_event(state *s, hb_event *e, hb_error *err)
{
    const hb_master_opts *mo = s->mo;
    if (mo->store == NULL) return HB_OK;
    e->session = mo->session;
    if (hb_runlog_add(mo->log, e) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    return hb_store_append(mo->store, mo->log, err);
}

/* A result whose evaluation a signal cut short: not a result at all. */
static int was_interrupted(const hb_done *d)
{
    return d->r.status == HB_TRIAL_LOST && !strcmp(d->r.reason, HB_EVAL_INTERRUPTED);
}

/* The trial of finished slot 'o': reason and extras as the report shows them. */
static void trial_texts(const slot *o, const char **reason, const char **extras)
{
    const hb_eval_result *e = &o->d.r;
    *reason = e->status != HB_TRIAL_OK && e->reason[0] ? e->reason : NULL;
    *extras = e->extras[0] == '{' ? e->extras : NULL;
}

/* The events the master logs, one constructor per kind; a field not named is 0 (NULL).
 * About a job (slot 'o'): issued with configuration 'x'; its result, told or held; cut short
 * by a stop at run time 'end' (interrupted: issued again on resume). */
static hb_event ev_issue(const slot *o, const double *x)
{
    return (hb_event){.kind = HB_EV_ISSUE, .id = o->id, .budget = o->budget, .bracket = o->bracket,
                      .stage = o->stage, .loss = NAN, .x = x, .config = o->config, .prev = o->prev, .spent = NAN};
}

static hb_event ev_result(const slot *o, int held)
{
    const char *reason, *extras;
    trial_texts(o, &reason, &extras);
    return (hb_event){.kind = held ? HB_EV_HELD : HB_EV_RESULT, .id = o->id, .budget = o->budget,
                      .bracket = o->bracket, .stage = o->stage, .loss = o->d.r.loss, .status = (int)o->d.r.status,
                      .worker = o->d.worker, .start = o->d.start, .end = o->d.end, .text = reason,
                      .extras = extras, .config = o->config, .prev = o->prev, .spent = o->d.r.spent};
}

static hb_event ev_interrupted(const slot *o, double end)
{
    return (hb_event){.kind = HB_EV_INTERRUPTED, .id = o->id, .budget = o->budget, .bracket = o->bracket,
                      .stage = o->stage, .loss = NAN, .end = end, .config = o->config, .prev = o->prev,
                      .spent = NAN};
}

/* About the run, with its 'workers': a session begins at run time 'start' ('info': its JSON,
 * 'settings': the settings' JSON); it stops ('why': the signal, the lost worker, the allocation's
 * end) or ends ("done") at run time 'end'. */
static hb_event ev_session(int workers, double start, const char *info, const char *settings)
{
    return (hb_event){.kind = HB_EV_SESSION, .bracket = -1, .stage = -1, .loss = NAN, .worker = workers,
                      .start = start, .text = info, .extras = settings, .prev = HB_NO_JOB, .spent = NAN};
}

static hb_event ev_stop(int workers, double end, const char *why)
{
    return (hb_event){.kind = HB_EV_STOP, .bracket = -1, .stage = -1, .loss = NAN, .worker = workers, .end = end,
                      .text = why, .prev = HB_NO_JOB, .spent = NAN};
}

static hb_event ev_end(int workers, double end, const char *why)
{
    return (hb_event){.kind = HB_EV_END, .bracket = -1, .stage = -1, .loss = NAN, .worker = workers, .end = end,
                      .text = why, .prev = HB_NO_JOB, .spent = NAN};
}

/* Log a finished slot's result, as told ('held' = 0) or kept for its turn ('held' = 1). */
static int log_result(state *s, const slot *o, int held, hb_error *err)
{
    hb_event e = ev_result(o, held);
    return log_event(s, &e, err);
}

static int record(state *s, xstore *xs, const slot *o, hb_error *err)
{
    if (grow_trials(s) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    hb_run_result *r = s->res;
    hb_trial *t = &r->trials[r->n];
    memcpy(r->xs + r->n * s->dim, xs->xs + o->x * s->dim, s->dim * sizeof(double));
    xs->free_list[xs->n_free++] = o->x;
    const hb_eval_result *e = &o->d.r;
    const char *rs, *ex;
    trial_texts(o, &rs, &ex);
    char *reason = NULL, *extras = NULL;
    if (rs && (reason = hb_strdup(rs)) == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (ex && (extras = hb_strdup(ex)) == NULL) {
        hb_free(reason);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    *t = (hb_trial){.id = o->id, .budget = o->budget, .loss = e->loss, .status = e->status, .bracket = o->bracket,
                    .stage = o->stage, .worker = o->d.worker, .start = o->d.start, .end = o->d.end,
                    .reason = reason, .extras = extras, .config = o->config, .prev = o->prev,
                    .spent = isnan(e->spent) ? o->budget : e->spent}; /* x: set at the end (the store moves) */
    r->n++;
    if (o->id >= s->cap_worker) { /* ids are dense: 0, 1, 2, ... */
        size_t c = s->cap_worker ? 2 * s->cap_worker : 256;
        while (c <= o->id) c *= 2;
        int *w = hb_realloc(s->worker_of, c * sizeof *w);
        if (w == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        for (size_t k = s->cap_worker; k < c; k++) w[k] = -1;
        s->worker_of = w;
        s->cap_worker = c;
    }
    s->worker_of[o->id] = o->d.worker;
    if (e->status == HB_TRIAL_OK &&
        (o->budget > s->best_budget || (o->budget == s->best_budget && e->loss < s->best))) {
        s->best = e->loss;
        s->best_budget = o->budget;
    }
    return HB_OK;
}

/* Tell the optimiser slot 'o' (taken out of the outstanding list), log it unless replaying,
 * and keep its trial. */
static int tell(state *s, hb_opt *opt, xstore *xs, slot *o, int replaying, hb_error *err)
{
    int rc = HB_OK;
    if (!replaying) rc = log_result(s, o, 0, err);
    if (rc == HB_OK) rc = hb_opt_tell(opt, o->id, o->d.r.loss, o->d.r.status, err);
    if (rc == HB_OK) rc = record(s, xs, o, err);
    return rc;
}

static int grow_out(state *s, hb_error *err)
{
    if (s->n_out < s->cap_out) return HB_OK;
    size_t c = s->cap_out ? 2 * s->cap_out : 64;
    slot *o = hb_realloc(s->out, c * sizeof *o);
    if (o == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    s->out = o;
    s->cap_out = c;
    return HB_OK;
}

static int same_x(const double *a, const double *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof(double)) == 0;
}

/* Replay the log into the fresh optimiser: warm observations, then each issue (the ask must
 * give exactly the logged job) and each result (told, and kept as a trial). Jobs issued and not
 * told end up in the outstanding list, in issue order, with a held result when there is one. */
static int replay(state *s, hb_opt *opt, xstore *xs, hb_error *err)
{
    hb_runlog *log = s->mo->log;
    int rc = HB_OK;
    /* Proposals are recomputed and compared for the first and last VERIFY_ENDS issues, every
     * VERIFY_EVERY-th in between, and all of them in a short log; the others take the logged
     * configuration (samplers that allow it), so that resuming a long run costs little more than
     * reading it. The schedule (id, budget, bracket, stage) is checked for every issue. */
    enum { VERIFY_ENDS = 64, VERIFY_EVERY = 512, VERIFY_ALL = 4096 };
    size_t n_issue = 0, k_issue = 0;
    for (size_t i = 0; i < log->n; i++) n_issue += log->ev[i].kind == HB_EV_ISSUE;
    for (size_t i = 0; i < log->n && rc == HB_OK; i++) {
        /* A stop while replaying: nothing of this session is in the file yet, so it stays as it
         * was and resumes as before (a model-based ask can take a while, so every event). */
        if (hb_stop_signal()) {
            s->res->stop_signal = hb_stop_signal();
            char name[32];
            return hb_error_set(err, HB_EINTR, NULL, "stopped by %s while replaying the run file",
                                hb_signal_name(hb_stop_signal(), name, sizeof name));
        }
        const hb_event *e = &log->ev[i];
        const double *x = hb_runlog_x(log, i);
        if (e->kind == HB_EV_WARM) {
            rc = hb_opt_observe(opt, x, e->budget, e->loss, (hb_trial_status)e->status, err);
        } else if (e->kind == HB_EV_ISSUE) {
            hb_job job;
            int verify = n_issue <= VERIFY_ALL || k_issue < VERIFY_ENDS || k_issue + VERIFY_ENDS >= n_issue ||
                         k_issue % VERIFY_EVERY == 0;
            k_issue++;
            if ((rc = hb_opt_ask_replay(opt, x, verify, &job, err)) != HB_OK) break;
            if (job.kind != HB_ASK_JOB || job.id != e->id || job.budget != e->budget ||
                job.bracket != e->bracket || job.stage != e->stage || !same_x(job.x, x, s->dim)) {
                const char *what = job.kind != HB_ASK_JOB ? "no job"
                                   : job.id != e->id       ? "another job id"
                                   : job.budget != e->budget ? "another budget"
                                   : job.bracket != e->bracket || job.stage != e->stage ? "another bracket or stage"
                                                                                         : "another configuration";
                return hb_error_set(err, HB_EINVAL, NULL,
                                    "the run file does not replay: at event %llu the optimiser gives %s than "
                                    "the logged job %llu (the settings, the space or hbmpi's version differ "
                                    "from the run that wrote it)",
                                    (unsigned long long)e->seq, what, (unsigned long long)e->id);
            }
            if ((rc = grow_out(s, err)) != HB_OK) break;
            slot *o = &s->out[s->n_out];
            memset(o, 0, sizeof *o);
            o->id = e->id;
            o->budget = e->budget;
            o->bracket = e->bracket;
            o->stage = e->stage;
            o->config = job.config; /* the optimiser's word: files from before identities have none */
            o->prev = job.prev;
            o->prev_budget = job.prev_budget;
            if (xs_put(xs, x, &o->x) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
            s->n_out++;
        } else if (e->kind == HB_EV_RESULT || e->kind == HB_EV_HELD) {
            size_t k = 0;
            while (k < s->n_out && s->out[k].id != e->id) k++;
            if (k == s->n_out || (s->out[k].finished && !s->out[k].held))
                return hb_error_set(err, HB_EINVAL, NULL, "the run file is inconsistent: event %llu is a result "
                                    "for job %llu, which is not running", (unsigned long long)e->seq,
                                    (unsigned long long)e->id);
            slot *o = &s->out[k];
            o->finished = 1;
            o->d.id = e->id;
            o->d.worker = e->worker;
            o->d.start = e->start;
            o->d.end = e->end;
            o->d.r.loss = e->loss;
            o->d.r.spent = e->spent;
            o->d.r.status = (hb_trial_status)e->status;
            snprintf(o->d.r.reason, sizeof o->d.r.reason, "%s", e->text ? e->text : "");
            snprintf(o->d.r.extras, sizeof o->d.r.extras, "%s", e->extras ? e->extras : "");
            if (e->kind == HB_EV_HELD) { /* told when its turn comes */
                o->held = 1;
                continue;
            }
            slot done = *o;
            memmove(&s->out[k], &s->out[k + 1], (s->n_out - k - 1) * sizeof *s->out);
            s->n_out--;
            rc = tell(s, opt, xs, &done, 1, err);
        }
    }
    return rc;
}

/* A stop signal (lost == NULL), or a lost worker (lost: the transport's error, which names it):
 * stop issuing, let running jobs report for up to the grace time, tell what finished (hold it
 * when reproducible), log the rest as interrupted. */
static int stop(state *s, hb_opt *opt, xstore *xs, const hb_error *lost, hb_error *err)
{
    hb_transport *t = s->t;
    const hb_master_opts *mo = s->mo;
    hb_transport_abort(t, mo->grace);
    int rc = HB_OK;
    while (hb_transport_running(t) > 0) {
        hb_done d;
        hb_error e2;
        if (hb_transport_next(t, &d, &e2) != HB_OK) break; /* deadline passed, or MPI failed: give up */
        size_t i = 0;
        while (i < s->n_out && s->out[i].id != d.id) i++;
        if (i == s->n_out || was_interrupted(&d)) continue;
        d.start = micro(mo->time_offset + d.start);
        d.end = micro(mo->time_offset + d.end);
        s->out[i].d = d;
        s->out[i].finished = 1;
    }
    s->res->stuck = hb_transport_running(t);
    /* Tell what finished; reproducibly, nothing: a reproducible run tells one result and then
     * asks, so telling two in a row here would change the jobs after the resume. Those results
     * are held instead, and told in their turn when the run resumes. */
    for (size_t i = 0; i < s->n_out && rc == HB_OK;) {
        slot *o = &s->out[i];
        if (o->finished && mo->reproducible == 0) {
            slot done = *o;
            memmove(&s->out[i], &s->out[i + 1], (s->n_out - i - 1) * sizeof *s->out);
            s->n_out--;
            rc = tell(s, opt, xs, &done, 0, err);
            continue;
        }
        if (o->finished && !o->held) {
            rc = log_result(s, o, 1, err);
            o->held = 1;
        } else if (!o->finished) {
            hb_event e = ev_interrupted(o, micro(mo->time_offset + hb_transport_now(t)));
            rc = log_event(s, &e, err);
        }
        i++;
    }
    char name[32];
    hb_event e = ev_stop(t->workers, micro(mo->time_offset + hb_transport_now(t)),
                         lost ? lost->msg : hb_signal_name(hb_stop_signal(), name, sizeof name));
    if (rc == HB_OK) rc = log_event(s, &e, err);
    if (lost) { /* a lost worker (HB_ELOST), or one whose evaluator cannot go on */
        if (rc == HB_OK) *err = *lost;
        return rc == HB_OK ? lost->status : rc;
    }
    s->res->stop_signal = hb_stop_signal();
    return rc == HB_OK ? hb_error_set(err, HB_EINTR, NULL, "stopped by %s", name) : rc;
}

/* Hand slot 'o' (configuration 'x') to the transport, preferring the worker that ran the same
 * configuration's previous rung. */
static int submit(state *s, const slot *o, const double *x, hb_error *err)
{
    uint64_t seed = s->res->settings.seed;
    hb_eval_job j = {.id = o->id, .budget = o->budget, .seed = hb_hash2(seed, o->id), .x = x, .config = o->config,
                     .prev = o->prev, .prev_budget = o->prev_budget, .config_seed = hb_hash2(seed, o->config)};
    int prefer = o->prev != HB_NO_JOB && o->prev < s->cap_worker ? s->worker_of[o->prev] : -1;
    return hb_transport_submit(s->t, &j, prefer, err);
}

int hb_master_run(hb_opt *opt, hb_transport *t, const hb_master_opts *mo, hb_run_result *res,
                  hb_error *err)
{
    state s;
    memset(&s, 0, sizeof s);
    s.res = res;
    s.mo = mo;
    s.t = t;
    s.dim = hb_space_dim(mo->space);
    s.best = INFINITY;
    s.best_budget = -INFINITY;
    xstore xs = {NULL, 0, 0, s.dim, NULL, 0};
    const hb_opt_settings *set = hb_opt_settings_of(opt);
    res->settings = *set;
    res->workers = t->workers;
    /* The progress line counts up to the planned jobs when their number is known; where the
     * run is bounded by budget, the share of it told so far tells what is left. */
    hb_opt_plan_info plan;
    hb_opt_plan(opt, &plan);
    long total = plan.evals;
    double budget_total = plan.budget, budget_done = 0;
    hb_progress prog;
    hb_progress_init(&prog, stderr, mo->quiet);
    int rc = HB_OK, done = 0, draining = 0;
    /* A resumed run: the earlier sessions first, then what was in flight goes out again. */
    if (mo->log && mo->log->n > 0) {
        rc = replay(&s, opt, &xs, err);
        for (size_t i = 0; i < res->n; i++) budget_done += res->trials[i].budget;
    }
    if (rc == HB_OK && mo->store) {
        hb_buf sj = HB_BUF_INIT;
        hb_report_settings_json(set, &sj);
        hb_event e = ev_session(t->workers, micro(mo->time_offset), mo->session_info, sj.data);
        rc = sj.failed ? hb_error_set(err, HB_ENOMEM, NULL, "out of memory") : log_event(&s, &e, err);
        hb_buf_fini(&sj);
    }
    for (size_t i = 0; i < s.n_out && rc == HB_OK; i++) {
        if (s.out[i].held) continue; /* finished before the stop: nothing to run */
        rc = submit(&s, &s.out[i], xs.xs + s.out[i].x * s.dim, err);
    }
    while (rc == HB_OK) {
        if (hb_stop_signal()) {
            rc = stop(&s, opt, &xs, NULL, err);
            break;
        }
        /* Near the allocation's end: start nothing more, let the running jobs finish. */
        if (mo->deadline > 0 && !draining && hb_transport_now(t) >= mo->deadline) draining = 1;
        if (draining && s.n_out == 0) {
            hb_event e = ev_stop(t->workers, micro(mo->time_offset + hb_transport_now(t)), "allocation end");
            if ((rc = log_event(&s, &e, err)) == HB_OK)
                rc = hb_error_set(err, HB_EINTR, NULL, "stopped before the allocation's end");
            break;
        }
        /* Ask while a job could start now (or, reproducibly, while fewer than W are out). */
        while (!done && !draining) {
            if (mo->reproducible > 0 ? s.n_out >= (size_t)mo->reproducible
                                     : (s.n_out > 0 && hb_transport_idle(t) <= 0))
                break;
            if (mo->time_limit > 0 && hb_transport_now(t) >= mo->time_limit) hb_opt_stop(opt);
            hb_job job;
            if ((rc = hb_opt_ask(opt, &job, err)) != HB_OK) break;
            if (job.kind == HB_ASK_DONE) done = 1;
            if (job.kind != HB_ASK_JOB) break;
            if ((rc = grow_out(&s, err)) != HB_OK) break;
            slot *o = &s.out[s.n_out];
            memset(o, 0, sizeof *o);
            *o = (slot){.id = job.id, .budget = job.budget, .bracket = job.bracket, .stage = job.stage,
                        .config = job.config, .prev = job.prev, .prev_budget = job.prev_budget};
            if (xs_put(&xs, job.x, &o->x) != HB_OK) {
                rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
                break;
            }
            s.n_out++;
            hb_event e = ev_issue(o, job.x);
            if ((rc = log_event(&s, &e, err)) != HB_OK) break;
            if ((rc = submit(&s, o, job.x, err)) != HB_OK) break;
        }
        if (rc != HB_OK) break;
        if (s.n_out == 0) {
            if (!done) rc = hb_error_set(err, HB_EINVAL, NULL, "the optimiser waits with no job running");
            break;
        }
        /* Reproducibly, tell one result per pass (the oldest, once it is in) and then ask
         * again, exactly as a run with W slots that each report in turn would. */
        size_t i = 0;
        if (!(mo->reproducible > 0 && s.out[0].finished)) {
            hb_done d;
            rc = hb_transport_next(t, &d, err);
            if (rc == HB_EINTR) {
                rc = stop(&s, opt, &xs, NULL, err);
                break;
            }
            if (rc == HB_ELOST) { /* end resumably: a requeued job goes on without that host */
                hb_error lost = *err;
                rc = stop(&s, opt, &xs, &lost, err);
                break;
            }
            if (rc == HB_EKERNEL) { /* a worker's evaluator cannot go on: end resumably, exit 2 */
                hb_error bad = *err;
                bad.status = HB_EINVAL;
                rc = stop(&s, opt, &xs, &bad, err);
                break;
            }
            if (rc != HB_OK) break;
            while (i < s.n_out && s.out[i].id != d.id) i++;
            if (i == s.n_out) {
                rc = hb_error_set(err, HB_EINVAL, NULL, "a result for job %llu, which is not running",
                                  (unsigned long long)d.id);
                break;
            }
            if (was_interrupted(&d)) { /* a worker got the signal: the whole job is stopping */
                hb_stop_request(SIGTERM);
                rc = stop(&s, opt, &xs, NULL, err);
                break;
            }
            d.start = micro(mo->time_offset + d.start);
            d.end = micro(mo->time_offset + d.end);
            s.out[i].d = d;
            s.out[i].finished = 1;
            if (mo->reproducible > 0 && i > 0) { /* waits for older jobs: keep it safe meanwhile */
                if ((rc = log_result(&s, &s.out[i], 1, err)) != HB_OK) break;
                s.out[i].held = 1;
            }
            if (mo->reproducible > 0) i = 0;
        }
        if (s.out[i].finished) {
            slot o = s.out[i];
            memmove(&s.out[i], &s.out[i + 1], (s.n_out - i - 1) * sizeof *s.out);
            s.n_out--;
            rc = tell(&s, opt, &xs, &o, 0, err);
            budget_done += o.budget;
        }
        hb_progress_update(&prog, hb_transport_now(t), (long)res->n, total, s.best,
                           (long)hb_opt_open_brackets(opt), budget_total > 0 ? budget_done / budget_total : -1, 0);
    }
    for (size_t i = 0; i < res->n; i++) res->trials[i].x = res->xs + i * s.dim;
    res->wall_seconds = micro(mo->time_offset + hb_transport_now(t));
    if (rc == HB_OK) {
        hb_event e = ev_end(t->workers, res->wall_seconds, "done");
        rc = log_event(&s, &e, err);
    }
    hb_progress_update(&prog, res->wall_seconds, (long)res->n, total, s.best, (long)hb_opt_open_brackets(opt), 1, 1);
    hb_progress_finish(&prog);
    hb_free(s.out);
    hb_free(s.worker_of);
    hb_free(xs.xs);
    hb_free(xs.free_list);
    return rc;
}
