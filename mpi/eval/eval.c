/* eval.c — what every evaluator shares: argument checks and dispatch of hb_eval_run, freeing,
 * the communicator for library objectives, result helpers, parameter values as text, and an
 * interruptible sleep. The three kinds live in eval_kernel.c, eval_lib.c and eval_cmd.c. */
#define _XOPEN_SOURCE 700 /* realpath */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "eval_impl.h"

static volatile sig_atomic_t interrupted = 0; /* set by hb_eval_interrupt, never cleared */

static int (*poll_fn)(void *);                /* hb_eval_set_poll */
static void *poll_arg;

void hb_eval_interrupt(void) { interrupted = 1; }

void hb_eval_set_poll(int (*fn)(void *), void *arg)
{
    poll_fn = fn;
    poll_arg = arg;
}

int hb__eval_interrupted(void)
{
    if (!interrupted && poll_fn && poll_fn(poll_arg)) interrupted = 1;
    return interrupted != 0;
}

void hb__eval_init(hb_evaluator *ev, const hb__eval_ops *ops, const hb_space *sp)
{
    ev->ops = ops;
    ev->space = sp;
    ev->dim = hb_space_dim(sp);
    ev->comm = MPI_COMM_NULL;
    ev->has_comm = 0;
}

void hb_eval_set_comm(hb_evaluator *ev, MPI_Comm comm)
{
    if (ev == NULL) return;
    ev->comm = comm;
    ev->has_comm = 1;
}

int hb_eval_run(hb_evaluator *ev, const hb_eval_job *job, hb_eval_result *out, hb_error *err)
{
    if (out != NULL) hb__eval_result_init(out);
    if (ev == NULL || job == NULL || out == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "hb_eval_run: NULL argument");
    if (job->x == NULL && ev->dim > 0)
        return hb_error_set(err, HB_EINVAL, NULL, "hb_eval_run: job %llu has no configuration",
                            (unsigned long long)job->id);
    if (!(job->budget > 0) || !isfinite(job->budget))
        return hb_error_set(err, HB_EINVAL, NULL, "hb_eval_run: job %llu has budget %g",
                            (unsigned long long)job->id, job->budget);
    return ev->ops->run(ev, job, out, err);
}

void hb_eval_free(hb_evaluator *ev)
{
    if (ev == NULL) return;
    if (ev->ops->fini) ev->ops->fini(ev);
    hb_free(ev);
}

void hb__eval_result_init(hb_eval_result *r)
{
    r->spent = NAN;
    r->loss = NAN;
    r->status = HB_TRIAL_FAILED;
    r->reason[0] = '\0';
    r->extras[0] = '\0';
}

void hb__eval_result_loss(hb_eval_result *r, double loss)
{
    r->loss = loss;
    if (isfinite(loss)) {
        r->status = HB_TRIAL_OK;
        r->reason[0] = '\0';
    } else {
        r->status = HB_TRIAL_NAN;
        snprintf(r->reason, sizeof r->reason, "the loss is %s",
                 isnan(loss) ? "NaN" : (loss > 0 ? "+inf" : "-inf"));
    }
}

void hb__eval_result_fail(hb_eval_result *r, hb_trial_status st, const char *fmt, ...)
{
    va_list ap;
    r->status = st;
    r->loss = NAN;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}


double hb__eval_value_number(const hb_space *sp, size_t i, double v)
{
    if (isnan(v)) return NAN;
    hb_param_type t = hb_space_type(sp, i);
    if (t == HB_PARAM_FLOAT || t == HB_PARAM_INT) return v;
    if (!(v >= 0) || v >= (double)hb_space_n_choices(sp, i)) return NAN;
    hb_value c = hb_space_choice(sp, i, (size_t)v);
    return c.is_string ? NAN : c.num;
}

int hb__eval_sleep(double seconds)
{
    if (!(seconds > 0)) return hb__eval_interrupted();
    if (seconds > 1e9) seconds = 1e9;
    double end = hb_now() + seconds;
    for (;;) {
        if (hb__eval_interrupted()) return 1;
        double left = end - hb_now();
        if (left <= 0) return 0;
        /* Sleep in slices of at most 0.25 s, so that an interrupt raised on another thread
         * (where the signal landed) is seen soon; a signal here ends the slice early. */
        if (left > 0.25) left = 0.25;
        struct timespec ts;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        if (ts.tv_nsec > 999999999L) ts.tv_nsec = 999999999L;
        if (nanosleep(&ts, NULL) != 0 && errno != EINTR) return 0;
    }
}

int hb__eval_mkdir_p(const char *path)
{
    size_t n = strlen(path);
    char *p = hb_malloc(n + 1);
    if (p == NULL) return ENOMEM;
    memcpy(p, path, n + 1);
    int e = 0;
    for (size_t i = 1; i <= n && e == 0; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) e = errno;
        p[i] = c;
    }
    struct stat st;
    if (e == 0 && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) e = errno ? errno : ENOTDIR;
    hb_free(p);
    return e;
}

int hb__eval_root(const char *root, char **abs, hb_error *err)
{
    *abs = NULL;
    if (root == NULL || root[0] == '\0') root = HB_DEFAULT_TRIAL_ROOT;
    int e = hb__eval_mkdir_p(root);
    if (e != 0)
        return hb_error_set(err, e == ENOMEM ? HB_ENOMEM : HB_EIO, NULL,
                            "cannot create the trial directory root %s: %s", root, strerror(e));
    char *r = realpath(root, NULL);
    if (r == NULL) return hb_error_set(err, HB_EIO, NULL, "cannot resolve %s: %s", root, strerror(errno));
    *abs = hb_strdup(r);
    free(r); /* realpath's own allocation */
    return *abs ? HB_OK : hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
}

void hb__eval_trial_dir(hb_buf *b, const char *root, uint64_t id)
{
    hb_buf_printf(b, "%s/trial-%llu", root, (unsigned long long)id);
}
