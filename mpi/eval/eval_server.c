/* eval_server.c — the server evaluator (`--eval-server PROGRAM ARGS...`, docs/runtime.md): the
 * program is started once (fork and exec, never a shell, its own process group) and serves one
 * job at a time: a JSON line on its descriptor 3 (HB_JOBS_FD), one JSON line back on its
 * descriptor 4 (HB_ANSWERS_FD). Its stdout and stderr are read through pipes into the current
 * trial's log files, so a stray print never reaches the protocol. Whatever goes wrong with the
 * program (it exits, crashes, hangs past --eval-timeout, answers garbage) is that trial's status;
 * the next job starts a fresh program, which dies with the rank that started it (even by SIGKILL). A program that dies before its first answer
 * SERVER_START_TRIES times in a row is an error of the evaluator: the run ends. Knows nothing of
 * MPI, optimisers or the run file. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eval_impl.h"

#define DEFAULT_GRACE 5.0
#define SERVER_START_TRIES 3       /* deaths before a first answer, in a row, that end the run */
#define MAX_ANSWER (1u << 20)      /* bytes of an answer line at most */
#define TAIL_BYTES 4096            /* of the trial's stderr kept for a reason */
#define POLL_MS 50                 /* how often a wait looks at the interrupt flag */
#define JOBS_FD 3
#define ANSWERS_FD 4

/* Inherited variables of these names are dropped: the protocol's, and --eval-cmd's per trial
 * (a server gets each trial's values in its job line, not in its environment). */
static const char *const own_vars[] = {"HB_EVAL_SERVER", "HB_JOBS_FD", "HB_ANSWERS_FD", "HB_HOSTS",
                                       "HB_NRANKS", "HB_CONFIG", "HB_BUDGET", "HB_TRIAL_ID", "HB_SEED",
                                       "HB_TRIAL_DIR", "HB_CONFIG_ID", "HB_CONFIG_SEED",
                                       "HB_PREVIOUS_BUDGET", "HB_PREVIOUS_TRIAL_DIR"};
#define N_OWN_VARS (sizeof own_vars / sizeof own_vars[0])

typedef struct server_eval {
    hb_evaluator base;
    char **argv;            /* the program and its arguments, NULL-terminated */
    hb_buf envs;            /* the protocol's variables, NUL-separated */
    int nenvs;
    int search_path;
    double timeout, grace;
    char *root;             /* absolute trial root */
    hb__cpus cpus;
    /* the running program, if any */
    pid_t pid;              /* -1: none */
    int jobs, answers;      /* our ends: a socket we send jobs on, a pipe we read answers from */
    int out, err;           /* its stdout and stderr (pipes), -1 once at EOF */
    int answered;           /* jobs this program has answered */
    int start_failures;     /* programs in a row that died before their first answer */
    hb_buf line;            /* answer bytes read so far */
    size_t line_len;        /* when a whole answer is there: its length (its '\n' is a NUL now) */
    hb_buf tail;            /* the end of this trial's stderr */
    hb_buf job;             /* the job line */
} server_eval;

/* ---- the program ---- */

extern char **environ;

/* A descriptor moved to 10 or above (the child's 0..4 are set by dup2 from these), close-on-exec. */
static int high_fd(int fd)
{
    if (fd < 0 || fd >= 10) return fd;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return h;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Wait for the program to end, up to 'seconds', then SIGTERM its group, then SIGKILL after the
 * grace time; reap it; kill what is left in its group. '*ws' gets its wait status. */
static void stop_program(server_eval *se, double seconds, int *ws)
{
    *ws = 0;
    if (se->pid < 0) return;
    double t0 = hb_now();
    int phase = 0; /* 0: waiting, 1: terminated, 2: killed */
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)se->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
            if (errno == EINTR) continue;
            break; /* ECHILD: nothing to reap */
        }
        if (si.si_pid == se->pid) {
            kill(-se->pid, SIGKILL); /* orphans left in its group (the zombie holds the id) */
            while (waitpid(se->pid, ws, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        double now = hb_now();
        if (phase == 0 && now - t0 >= seconds) {
            kill(-se->pid, SIGTERM);
            kill(-se->pid, SIGCONT);
            phase = 1;
            t0 = now;
        } else if (phase == 1 && now - t0 >= se->grace) {
            kill(-se->pid, SIGKILL);
            phase = 2;
        }
        struct timespec ts = {0, 2000000L};
        nanosleep(&ts, NULL);
    }
    se->pid = -1;
    close_fd(&se->jobs);
    close_fd(&se->answers);
    close_fd(&se->out);
    close_fd(&se->err);
    hb_buf_reset(&se->line);
}

/* In the child, between fork and exec: only async-signal-safe calls. Never returns. */
static void child(server_eval *se, char **envp, const int *fds, pid_t parent, int report)
{
    /* Die with the rank that started it: a SIGKILL of hbmpi (or of the whole job) must not leave
     * a server running a long job. The flag survives exec. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127); /* the parent died before prctl */
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (se->cpus.all) sched_setaffinity(0, se->cpus.size, (cpu_set_t *)se->cpus.all);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(fds[5], 1) < 0 || dup2(fds[7], 2) < 0 ||
        dup2(fds[1], JOBS_FD) < 0 || dup2(fds[3], ANSWERS_FD) < 0)
        goto fail;
    /* nothing else of hbmpi's (MPI's sockets, the run file) goes to the program, but 'report' */
    for (int fd = ANSWERS_FD + 1; fd < 1024; fd++)
        if (fd != report) close(fd);
    if (se->search_path)
        execvpe(se->argv[0], se->argv, envp);
    else
        execve(se->argv[0], se->argv, envp);
fail:;
    int e = errno;
    if (write(report, &e, sizeof e) < 0) { /* the parent then sees EOF: a generic failure */
    }
    _exit(127);
}

/* Start the program: 0, or an errno value. fork, not posix_spawn: the child must ask to die
 * with its parent (prctl) before it execs, which posix_spawn cannot do; the server starts once
 * per worker, so fork's cost does not matter. */
static int start_program(server_eval *se)
{
    int sv[2] = {-1, -1}, ans[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1}, rep[2] = {-1, -1};
    /* jobs: a socket, so that writing to a program that died is EPIPE (MSG_NOSIGNAL), not SIGPIPE */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || pipe2(ans, O_CLOEXEC) != 0 ||
        pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
        int e = errno;
        int all[] = {sv[0], sv[1], ans[0], ans[1], po[0], po[1], pe[0], pe[1], rep[0], rep[1]};
        for (int i = 0; i < 10; i++)
            if (all[i] >= 0) close(all[i]);
        return e;
    }
    int fds[10] = {sv[0], sv[1], ans[0], ans[1], po[0], po[1], pe[0], pe[1], rep[0], rep[1]};
    for (int i = 0; i < 10; i++) fds[i] = high_fd(fds[i]);
    /* the environment: ours as it is now, without the protocol's names, then the protocol's */
    size_t nenv = 0, w = 0;
    for (char **v = environ; v && *v; v++) nenv++;
    char **envp = hb_calloc(nenv + (size_t)se->nenvs + 1, sizeof *envp);
    int e = envp ? 0 : ENOMEM;
    pid_t pid = -1;
    if (e == 0) {
        for (char **v = environ; v && *v; v++)
            if (!hb__eval_env_named(*v, own_vars, N_OWN_VARS)) envp[w++] = *v;
        const char *s = se->envs.data;
        for (int i = 0; i < se->nenvs; i++, s += strlen(s) + 1) envp[w++] = (char *)s;
        pid_t parent = getpid();
        fflush(NULL);
        pid = fork();
        if (pid == 0) child(se, envp, fds, parent, fds[9]);
        if (pid < 0) e = errno;
    }
    hb_free(envp);
    close(fds[1]); /* the child's ends */
    close(fds[3]);
    close(fds[5]);
    close(fds[7]);
    close(fds[9]);
    if (e == 0) { /* exec worked when the report pipe closes without a word */
        int ce = 0;
        ssize_t n;
        while ((n = read(fds[8], &ce, sizeof ce)) < 0 && errno == EINTR) {
        }
        if (n == (ssize_t)sizeof ce) {
            e = ce ? ce : ENOEXEC;
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
            }
        }
    }
    close(fds[8]);
    if (e != 0) {
        close(fds[0]);
        close(fds[2]);
        close(fds[4]);
        close(fds[6]);
        return e;
    }
    se->pid = pid;
    se->jobs = fds[0];
    se->answers = fds[2];
    se->out = fds[4];
    se->err = fds[6];
    for (int i = 2; i <= 6; i += 2) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    se->answered = 0;
    hb_buf_reset(&se->line);
    return 0;
}

/* ---- one job ---- */

/* Copy what is waiting on the program's stdout or stderr ('*fd') to the log 'log' (may be -1);
 * stderr's bytes also go to the tail. At EOF '*fd' becomes -1. */
static void drain(server_eval *se, int *fd, int log, int is_err)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) close_fd(fd);
        if (n <= 0) return;
        if (log >= 0 && write(log, chunk, (size_t)n) < 0) { /* a full disk: the log is cut short */
        }
        if (is_err) {
            hb_buf_append(&se->tail, chunk, (size_t)n);
            if (se->tail.len > 2 * TAIL_BYTES) { /* keep the last TAIL_BYTES */
                memmove(se->tail.data, se->tail.data + se->tail.len - TAIL_BYTES, TAIL_BYTES);
                se->tail.len = TAIL_BYTES;
                se->tail.data[TAIL_BYTES] = '\0';
            }
        }
    }
}

/* Read answer bytes; 1 when a whole line is at the start of se->line (se->line_len bytes), -1
 * at EOF or a line too long, else 0. */
static int read_answer(server_eval *se)
{
    char chunk[4096];
    for (;;) {
        char *nl = se->line.data ? memchr(se->line.data, '\n', se->line.len) : NULL;
        if (nl) {
            se->line_len = (size_t)(nl - se->line.data);
            *nl = '\0';
            return 1;
        }
        if (se->line.len > MAX_ANSWER) return -1;
        ssize_t n = read(se->answers, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 0; /* EAGAIN */
        if (n == 0) return -1;
        if (hb_buf_append(&se->line, chunk, (size_t)n) != HB_OK) return -1;
    }
}

/* The job line of docs/runtime.md. */
static int job_line(server_eval *se, const hb_eval_job *job, const char *dir, const char *prev_dir)
{
    hb_buf *b = &se->job;
    hb_buf_reset(b);
    hb_buf_printf(b, "{\"id\": %llu, \"config\": ", (unsigned long long)job->id);
    hb_space_config_json(se->base.space, job->x, b);
    hb_buf_puts(b, ", \"budget\": ");
    hb_buf_json_number(b, job->budget);
    hb_buf_printf(b, ", \"seed\": %llu, \"config_id\": %llu, \"config_seed\": %llu, \"trial_dir\": ",
                  (unsigned long long)job->seed, (unsigned long long)job->config,
                  (unsigned long long)job->config_seed);
    hb_buf_json_string(b, dir);
    if (prev_dir) {
        hb_buf_puts(b, ", \"previous_budget\": ");
        hb_buf_json_number(b, job->prev_budget);
        hb_buf_puts(b, ", \"previous_trial_dir\": ");
        hb_buf_json_string(b, prev_dir);
    }
    hb_buf_puts(b, "}\n");
    return b->failed ? HB_ENOMEM : HB_OK;
}

/* Send the job line; 0, or an errno value (EPIPE: the program is gone). */
static int send_job(server_eval *se)
{
    size_t at = 0;
    while (at < se->job.len) {
        ssize_t n = send(se->jobs, se->job.data + at, se->job.len - at, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        at += (size_t)n;
    }
    return 0;
}

/* The answer line into 'out': a JSON object with "loss" (a number or null), optional "status"
 * ("ok", "failed", "nan") and "reason"; "id" must be the job's; the rest are extras. 0, or -1
 * when the line breaks the protocol (the program is then replaced). */
static int take_answer(server_eval *se, uint64_t id, hb_eval_result *out)
{
    const char *line = se->line.data;
    size_t len = se->line_len;
    json_t *o = json_loadb(line, len, 0, NULL);
    json_t *jid = json_object_get(o, "id"), *st = json_object_get(o, "status");
    json_t *loss = json_object_get(o, "loss"), *reason = json_object_get(o, "reason");
    const char *status = json_string_value(st);
    /* a failure the objective reports needs no loss */
    int failed = status && strcmp(status, "ok") != 0;
    int ok = json_is_object(o) && (jid == NULL || (json_is_integer(jid) && (uint64_t)json_integer_value(jid) == id)) &&
             (json_is_number(loss) || json_is_null(loss) || (loss == NULL && failed)) && (st == NULL || status != NULL);
    if (!ok) {
        hb__eval_result_fail(out, HB_TRIAL_FAILED, "%s", jid && json_is_integer(jid) && json_is_object(o)
                                                              ? "the server answered another job: "
                                                              : "the server's answer is not a JSON object with a "
                                                                "numeric \"loss\": ");
        hb__eval_reason_quote(out->reason, sizeof out->reason, "", line, len, 120);
        json_decref(o);
        return -1;
    }
    char *why = reason && json_is_string(reason) ? hb_strdup(json_string_value(reason)) : NULL;
    char said[16] = ""; /* the status the objective gave (the object's copy goes with "status") */
    if (status) snprintf(said, sizeof said, "%s", status);
    json_object_del(o, "id");
    json_object_del(o, "status");
    json_object_del(o, "reason");
    if (loss == NULL) json_object_set_new(o, "loss", json_null());
    char *rest = json_dumps(o, JSON_COMPACT);
    if (rest) hb__eval_cmd_read_loss(rest, strlen(rest), "", 0, out); /* loss, extras, spent */
    hb_free(rest); /* jansson allocates through hb_malloc_counted in hbmpi */
    if (said[0] && strcmp(said, "ok") != 0) { /* the objective says it failed */
        hb_trial_status s = !strcmp(said, "nan") ? HB_TRIAL_NAN : HB_TRIAL_FAILED;
        hb__eval_result_fail(out, s, "%s", why ? why : s == HB_TRIAL_NAN ? "the loss is NaN" : said);
    } else if (why && out->status != HB_TRIAL_OK && out->status != HB_TRIAL_NAN) {
        hb__eval_result_fail(out, out->status, "%s", why);
    }
    hb_free(why);
    json_decref(o);
    return 0;
}

/* The program ended while it had our job: say how in 'out'. */
static void ended(server_eval *se, int ws, hb_eval_result *out)
{
    const char *line;
    size_t len;
    hb__eval_last_line(se->tail.data ? se->tail.data : "", se->tail.len, &line, &len);
    if (WIFSIGNALED(ws)) {
        const char *name = hb__eval_signal_name(WTERMSIG(ws));
        hb__eval_result_fail(out, HB_TRIAL_CRASHED, "the server was killed by signal %d (%s)%s", WTERMSIG(ws),
                             name ? name : "unknown", WCOREDUMP(ws) ? ", core dumped" : "");
    } else {
        hb__eval_result_fail(out, HB_TRIAL_FAILED, "the server exited (status %d) before it answered",
                             WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    }
    if (len) hb__eval_reason_quote(out->reason, sizeof out->reason, "; stderr: ", line, len, 160);
}

typedef enum wait_end { W_ANSWER, W_BROKEN, W_GONE, W_TIMEOUT, W_INTERRUPTED } wait_end;

/* Wait for the answer, copying the program's output to the logs. */
static wait_end await(server_eval *se, int lo, int le)
{
    double t0 = hb_now();
    for (;;) {
        int r = read_answer(se);
        if (r == 1) return W_ANSWER;
        if (r < 0) return se->line.len > MAX_ANSWER ? W_BROKEN : W_GONE;
        if (hb__eval_interrupted()) return W_INTERRUPTED;
        double left = se->timeout > 0 ? se->timeout - (hb_now() - t0) : INFINITY;
        if (left <= 0) return W_TIMEOUT;
        struct pollfd pf[3] = {{se->answers, POLLIN, 0}, {se->out, POLLIN, 0}, {se->err, POLLIN, 0}};
        int ms = left < POLL_MS / 1000.0 ? (int)(left * 1000) + 1 : POLL_MS;
        int n = poll(pf, 3, ms);
        if (n < 0 && errno != EINTR) return W_GONE;
        if (se->out >= 0 && (pf[1].revents & (POLLIN | POLLHUP))) drain(se, &se->out, lo, 0);
        if (se->err >= 0 && (pf[2].revents & (POLLIN | POLLHUP))) drain(se, &se->err, le, 1);
    }
}

static int server_run(hb_evaluator *ev, const hb_eval_job *job, hb_eval_result *out, hb_error *err)
{
    server_eval *se = (server_eval *)ev;
    if (hb__eval_interrupted()) {
        hb__eval_result_fail(out, HB_TRIAL_LOST, HB_EVAL_INTERRUPTED);
        return HB_OK;
    }
    /* the trial directory, its logs, and the previous rung's directory */
    hb_buf p = HB_BUF_INIT;
    hb__eval_trial_dir(&p, se->root, job->id);
    hb_buf_append(&p, "", 1);
    size_t out_off = p.len;
    hb__eval_trial_dir(&p, se->root, job->id);
    hb_buf_puts(&p, "/stdout");
    hb_buf_append(&p, "", 1);
    size_t err_off = p.len;
    hb__eval_trial_dir(&p, se->root, job->id);
    hb_buf_puts(&p, "/stderr");
    hb_buf_append(&p, "", 1);
    size_t prev_off = p.len;
    if (job->prev != HB_NO_JOB) hb__eval_trial_dir(&p, se->root, job->prev);
    hb_buf_append(&p, "", 1);
    if (p.failed) {
        hb_buf_fini(&p);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    int e = hb__eval_mkdir_p(p.data);
    if (e != 0) {
        int rc = hb_error_set(err, e == ENOMEM ? HB_ENOMEM : HB_EIO, NULL, "cannot create the trial directory %s: %s",
                              p.data, strerror(e));
        hb_buf_fini(&p);
        return rc;
    }
    if (job_line(se, job, p.data, job->prev != HB_NO_JOB ? p.data + prev_off : NULL) != HB_OK) {
        hb_buf_fini(&p);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    int lo = hb__eval_open_log(p.data + out_off), le = hb__eval_open_log(p.data + err_off);
    hb_buf_fini(&p);
    hb_buf_reset(&se->tail);
    int rc = HB_OK;
    if (se->pid < 0 && (e = start_program(se)) != 0) {
        hb__eval_result_fail(out, HB_TRIAL_FAILED, "cannot start %s: %s", se->argv[0], strerror(e));
        se->start_failures++;
    } else {
        /* output the program wrote between jobs belongs to this trial's logs */
        if (se->out >= 0) drain(se, &se->out, lo, 0);
        if (se->err >= 0) drain(se, &se->err, le, 1);
        wait_end how = send_job(se) != 0 ? W_GONE : await(se, lo, le);
        int ws = 0;
        switch (how) {
        case W_ANSWER: {
            int bad = take_answer(se, job->id, out);
            size_t rest = se->line.len - se->line_len - 1; /* bytes after the answer: not ours to drop */
            memmove(se->line.data, se->line.data + se->line_len + 1, rest);
            se->line.len = rest;
            se->line.data[rest] = '\0';
            if (bad) stop_program(se, 0, &ws);
            else se->answered++;
            break;
        }
        case W_BROKEN:
            hb__eval_result_fail(out, HB_TRIAL_FAILED, "the server's answer is longer than %u bytes", MAX_ANSWER);
            stop_program(se, 0, &ws);
            break;
        case W_GONE:
            stop_program(se, se->grace, &ws); /* it closed its answers: it is ending */
            if (se->out >= 0) drain(se, &se->out, lo, 0);
            ended(se, ws, out);
            if (se->answered == 0) se->start_failures++;
            break;
        case W_TIMEOUT:
            stop_program(se, 0, &ws);
            hb__eval_result_fail(out, HB_TRIAL_TIMEOUT, "timed out after %g s", se->timeout);
            break;
        case W_INTERRUPTED:
            stop_program(se, 0, &ws);
            hb__eval_result_fail(out, HB_TRIAL_LOST, HB_EVAL_INTERRUPTED);
            break;
        }
        if (se->answered > 0) se->start_failures = 0;
    }
    if (se->pid >= 0) { /* what it printed with its answer */
        if (se->out >= 0) drain(se, &se->out, lo, 0);
        if (se->err >= 0) drain(se, &se->err, le, 1);
    }
    if (lo >= 0) close(lo);
    if (le >= 0) close(le);
    if (se->start_failures >= SERVER_START_TRIES)
        rc = hb_error_set(err, HB_EINVAL, NULL, "--eval-server: %s ended before answering its first job %d times in a "
                                                 "row (last: %s)", se->argv[0], SERVER_START_TRIES, out->reason);
    return rc;
}

static void server_fini(hb_evaluator *ev)
{
    server_eval *se = (server_eval *)ev;
    int ws;
    if (se->pid >= 0) {
        close_fd(&se->jobs); /* end of jobs: the program exits */
        stop_program(se, se->grace, &ws);
    }
    for (size_t i = 0; se->argv && se->argv[i]; i++) hb_free(se->argv[i]);
    hb_free(se->argv);
    hb_buf_fini(&se->envs);
    hb_free(se->root);
    hb__cpus_fini(&se->cpus);
    hb_buf_fini(&se->line);
    hb_buf_fini(&se->tail);
    hb_buf_fini(&se->job);
}

static const hb__eval_ops server_ops = {"server", server_run, server_fini};

int hb_eval_server_create(int argc, char *const *argv, const hb_space *sp, const hb_cmd_options *o,
                          hb_evaluator **out, hb_error *err)
{
    *out = NULL;
    if (sp == NULL || argc < 1 || argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
        return hb_error_set(err, HB_EINVAL, NULL, "--eval-server needs a program");
    int rc = hb__eval_check_program("--eval-server", argv[0], err);
    if (rc != HB_OK) return rc;
    server_eval *se = hb_calloc(1, sizeof *se);
    if (se == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    hb__eval_init(&se->base, &server_ops, sp);
    se->pid = -1;
    se->jobs = se->answers = se->out = se->err = -1;
    se->envs = (hb_buf)HB_BUF_INIT;
    se->line = (hb_buf)HB_BUF_INIT;
    se->tail = (hb_buf)HB_BUF_INIT;
    se->job = (hb_buf)HB_BUF_INIT;
    se->search_path = strchr(argv[0], '/') == NULL;
    se->timeout = o && o->timeout > 0 && isfinite(o->timeout) ? o->timeout : 0;
    se->grace = o && o->grace > 0 ? (o->grace > 1e6 ? 1e6 : o->grace) : DEFAULT_GRACE;
    if ((se->argv = hb_calloc((size_t)argc + 1, sizeof *se->argv)) == NULL) goto nomem;
    for (int i = 0; i < argc; i++)
        if ((se->argv[i] = hb_strdup(argv[i])) == NULL) goto nomem;
    /* the protocol's variables (each followed by its NUL) */
    hb_buf_printf(&se->envs, "HB_EVAL_SERVER=1");
    hb_buf_append(&se->envs, "", 1);
    hb_buf_printf(&se->envs, "HB_JOBS_FD=%d", JOBS_FD);
    hb_buf_append(&se->envs, "", 1);
    hb_buf_printf(&se->envs, "HB_ANSWERS_FD=%d", ANSWERS_FD);
    hb_buf_append(&se->envs, "", 1);
    se->nenvs = 3;
    if (o && o->hosts) {
        hb_buf_printf(&se->envs, "HB_HOSTS=%s", o->hosts);
        hb_buf_append(&se->envs, "", 1);
        se->nenvs++;
    }
    if (o && o->nranks > 0) {
        hb_buf_printf(&se->envs, "HB_NRANKS=%d", o->nranks);
        hb_buf_append(&se->envs, "", 1);
        se->nenvs++;
    }
    if (se->envs.failed) goto nomem;
    if ((rc = hb__eval_root(o ? o->trial_root : NULL, &se->root, err)) != HB_OK) goto fail;
    hb__cpus_setup(&se->cpus);
    *out = &se->base;
    return HB_OK;
nomem:
    rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
fail:
    hb_eval_free(&se->base);
    return rc;
}
