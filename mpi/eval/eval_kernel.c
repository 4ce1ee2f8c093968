/* eval_kernel.c — the built-in kernel evaluator: calls the kernel in this process and, for demos
 * and tests, sleeps delay * budget / max_budget seconds to stand in for the cost of a real
 * evaluation. A training kernel under --continue-promoted keeps its state after each trial in
 * the trial's directory and a promoted trial continues from the state of the same
 * configuration's previous rung. Knows nothing of processes or libraries. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval_impl.h"

#define STATE_FILE "kernel.state"
#define STATE_MAX ((size_t)1 << 31) /* far above any kernel's state (fmnist at H=1024: 26 MB) */

typedef struct kernel_eval {
    hb_evaluator base;
    const hb_kernel *k;  /* borrowed (static data of the registry, or the caller's) */
    double delay;        /* seconds of sleep at max_budget; 0 for none */
    int trace;           /* HB_EVAL_TRACE: file that gets "done ID" per finished evaluation; -1 */
    char *root;          /* --continue-promoted with a training kernel: the trial root; else NULL */
    hb_buf path;
} kernel_eval;

/* One line per evaluation that ran to the end, in one write (O_APPEND: ranks may share the
 * file). The crash tests count evaluations with it; "continued" marks a promoted trial that
 * started from its previous rung's state. */
static void trace_done(const kernel_eval *ke, uint64_t id, int continued)
{
    if (ke->trace < 0) return;
    char line[64];
    int n = snprintf(line, sizeof line, "done %llu%s\n", (unsigned long long)id, continued ? " continued" : "");
    if (write(ke->trace, line, (size_t)n) < 0) { /* a diagnostic only */
    }
}

/* The whole file at 'path' into 'st' (hb_malloc'd): 1, or 0 when it is missing, unreadable or
 * implausibly large (then the trial trains from scratch). */
static int read_state(const char *path, hb_kernel_state *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat sb;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size < STATE_MAX &&
        (buf = hb_malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1)) != NULL) {
        while (len < (size_t)sb.st_size) {
            ssize_t r = read(fd, buf + len, (size_t)sb.st_size - len);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            len += (size_t)r;
        }
    }
    close(fd);
    if (buf == NULL || len != (size_t)sb.st_size) {
        hb_free(buf);
        return 0;
    }
    st->data = buf;
    st->len = len;
    return 1;
}

/* Write 'st' to 'path' whole or not at all: a temporary file, fsync, rename. A kill midway
 * leaves the old state or none, never a torn one (and the kernel's own check refuses a torn
 * one anyway). Returns 0 or an errno. */
static int write_state(kernel_eval *ke, const char *dir, const hb_kernel_state *st)
{
    hb_buf *p = &ke->path;
    hb_buf_reset(p);
    hb_buf_printf(p, "%s/" STATE_FILE ".tmp", dir);
    hb_buf_append(p, "", 1);
    size_t final = p->len;
    hb_buf_printf(p, "%s/" STATE_FILE, dir);
    hb_buf_append(p, "", 1);
    if (p->failed) return ENOMEM;
    int e = hb__eval_mkdir_p(dir);
    if (e != 0) return e;
    int fd = open(p->data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    size_t off = 0;
    while (off < st->len && e == 0) {
        ssize_t w = write(fd, (const char *)st->data + off, st->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) e = errno;
        else off += (size_t)w;
    }
    if (e == 0 && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && e == 0) e = errno;
    if (e == 0 && rename(p->data, p->data + final) != 0) e = errno;
    if (e != 0) unlink(p->data);
    return e;
}

static int kernel_run(hb_evaluator *ev, const hb_eval_job *job, hb_eval_result *out,
                      hb_error *err)
{
    kernel_eval *ke = (kernel_eval *)ev;
    const hb_kernel *k = ke->k;
    if (hb__eval_interrupted()) { /* hbmpi is stopping: train nothing more (an epoch can take s) */
        hb__eval_result_fail(out, HB_TRIAL_LOST, "interrupted");
        return HB_OK;
    }
    hb_error kerr;
    hb_error_clear(&kerr);
    double loss = NAN, trained = job->budget;
    int rc, continued = 0;
    if (k->train == NULL) {
        rc = k->eval(ev->space, job->x, job->budget, job->seed, &loss, &kerr);
    } else {
        /* Every rung of a configuration trains with the configuration's seed: continuing from
         * the previous rung then gives exactly what training from scratch would. */
        hb_kernel_state from = {NULL, 0}, to = {NULL, 0};
        int have = 0;
        if (ke->root && job->prev != HB_NO_JOB) {
            hb_buf_reset(&ke->path);
            hb__eval_trial_dir(&ke->path, ke->root, job->prev);
            hb_buf_puts(&ke->path, "/" STATE_FILE);
            hb_buf_append(&ke->path, "", 1);
            if (ke->path.failed) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
            have = read_state(ke->path.data, &from);
        }
        rc = k->train(ev->space, job->x, job->budget, job->config_seed, have ? &from : NULL,
                      ke->root ? &to : NULL, &trained, &loss, &kerr);
        if (rc == HB_EINVAL && have) { /* a state that does not fit: from scratch */
            hb_error_clear(&kerr);
            rc = k->train(ev->space, job->x, job->budget, job->config_seed, NULL, ke->root ? &to : NULL,
                          &trained, &loss, &kerr);
        } else {
            continued = have && rc == HB_OK;
        }
        hb_free(from.data);
        if (rc == HB_OK && to.data) {
            hb_buf dir = HB_BUF_INIT;
            hb__eval_trial_dir(&dir, ke->root, job->id);
            hb_buf_append(&dir, "", 1);
            int e = dir.failed ? ENOMEM : write_state(ke, dir.data, &to);
            if (e != 0) /* the trial is fine; only its continuation is lost (a note on stderr) */
                fprintf(stderr, "hbmpi: warning: cannot save the state of trial %llu in %s: %s\n",
                        (unsigned long long)job->id, dir.failed ? "?" : dir.data, strerror(e));
            hb_buf_fini(&dir);
        }
        hb_free(to.data);
        out->spent = trained;
    }
    /* the stand-in cost is that of the budget actually trained */
    if (ke->delay > 0 && hb__eval_sleep(ke->delay * trained / k->max_budget)) {
        hb__eval_result_fail(out, HB_TRIAL_LOST, "interrupted");
        return HB_OK;
    }
    if (rc != HB_OK)
        hb__eval_result_fail(out, HB_TRIAL_FAILED, "%s", kerr.msg[0] ? kerr.msg : hb_strerror(rc));
    else
        hb__eval_result_loss(out, loss);
    trace_done(ke, job->id, continued);
    return HB_OK;
}

static void kernel_fini(hb_evaluator *ev)
{
    kernel_eval *ke = (kernel_eval *)ev;
    if (ke->trace >= 0) close(ke->trace);
    hb_free(ke->root);
    hb_buf_fini(&ke->path);
}

static const hb__eval_ops kernel_ops = {"kernel", kernel_run, kernel_fini};

int hb_eval_kernel_create(const hb_kernel *k, const hb_space *sp, double delay, const char *state_root,
                          hb_evaluator **out, hb_error *err)
{
    if (out == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "hb_eval_kernel_create: out is NULL");
    *out = NULL;
    int rc = hb_kernel_check(k, err);
    if (rc != HB_OK) return rc;
    if (sp == NULL) return hb_error_set(err, HB_EINVAL, NULL, "hb_eval_kernel_create: no space");
    if (!(delay >= 0) || !isfinite(delay))
        return hb_error_set(err, HB_EINVAL, NULL, "the evaluation delay must be >= 0, got %g",
                            delay);
    kernel_eval *ke = hb_calloc(1, sizeof *ke);
    if (ke == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    hb__eval_init(&ke->base, &kernel_ops, sp);
    ke->k = k;
    ke->delay = delay;
    ke->path = (hb_buf)HB_BUF_INIT;
    const char *trace = getenv("HB_EVAL_TRACE");
    ke->trace = trace && trace[0] ? open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (state_root && k->train && (rc = hb__eval_root(state_root, &ke->root, err)) != HB_OK) {
        hb_eval_free(&ke->base);
        return rc;
    }
    *out = &ke->base;
    return HB_OK;
}
