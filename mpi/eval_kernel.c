/* eval_kernel.c — the built-in kernel evaluator: calls the kernel in this process and, for demos
 * and tests, sleeps delay * budget / max_budget seconds to stand in for the cost of a real
 * evaluation. Knows nothing of processes or libraries. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "eval_impl.h"

typedef struct kernel_eval {
    hb_evaluator base;
    const hb_kernel *k;  /* borrowed (static data of the registry, or the caller's) */
    double delay;        /* seconds of sleep at max_budget; 0 for none */
    int trace;           /* HB_EVAL_TRACE: file that gets "done ID" per finished evaluation; -1 */
} kernel_eval;

/* One line per evaluation that ran to the end, in one write (O_APPEND: ranks may share the
 * file). The crash tests count evaluations with it. */
static void trace_done(const kernel_eval *ke, uint64_t id)
{
    if (ke->trace < 0) return;
    char line[48];
    int n = snprintf(line, sizeof line, "done %llu\n", (unsigned long long)id);
    if (write(ke->trace, line, (size_t)n) < 0) { /* a diagnostic only */
    }
}

static int kernel_run(hb_evaluator *ev, const hb_eval_job *job, hb_eval_result *out,
                      hb_error *err)
{
    kernel_eval *ke = (kernel_eval *)ev;
    (void)err;
    if (ke->delay > 0 && hb__eval_sleep(ke->delay * job->budget / ke->k->max_budget)) {
        hb__eval_result_fail(out, HB_TRIAL_LOST, "interrupted");
        return HB_OK;
    }
    hb_error kerr;
    hb_error_clear(&kerr);
    double loss = NAN;
    int rc = ke->k->eval(ev->space, job->x, job->budget, job->seed, &loss, &kerr);
    if (rc != HB_OK)
        hb__eval_result_fail(out, HB_TRIAL_FAILED, "%s", kerr.msg[0] ? kerr.msg : hb_strerror(rc));
    else
        hb__eval_result_loss(out, loss);
    trace_done(ke, job->id);
    return HB_OK;
}

static void kernel_fini(hb_evaluator *ev)
{
    kernel_eval *ke = (kernel_eval *)ev;
    if (ke->trace >= 0) close(ke->trace);
}

static const hb__eval_ops kernel_ops = {"kernel", kernel_run, kernel_fini};

int hb_eval_kernel_create(const hb_kernel *k, const hb_space *sp, double delay,
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
    const char *trace = getenv("HB_EVAL_TRACE");
    ke->trace = trace && trace[0] ? open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    *out = &ke->base;
    return HB_OK;
}
