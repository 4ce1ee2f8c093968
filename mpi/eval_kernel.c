/* eval_kernel.c — the built-in kernel evaluator: calls the kernel in this process and, for demos
 * and tests, sleeps delay * budget / max_budget seconds to stand in for the cost of a real
 * evaluation. Knows nothing of processes or libraries. */
#include <math.h>

#include "eval_impl.h"

typedef struct kernel_eval {
    hb_evaluator base;
    const hb_kernel *k;  /* borrowed (static data of the registry, or the caller's) */
    double delay;        /* seconds of sleep at max_budget; 0 for none */
} kernel_eval;

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
    return HB_OK;
}

static const hb__eval_ops kernel_ops = {"kernel", kernel_run, NULL};

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
    *out = &ke->base;
    return HB_OK;
}
