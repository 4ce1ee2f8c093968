/* transport.c — the checked calls of the transport table (hb_transport.h): what the master loop
 * and the runtime use instead of reaching into t->ops. */
#include "hb_transport.h"

int hb_transport_idle(hb_transport *t) { return t ? t->ops->idle(t) : 0; }

int hb_transport_submit(hb_transport *t, const hb_eval_job *j, int prefer, hb_error *err)
{
    if (t == NULL || j == NULL) return hb_error_set(err, HB_EINVAL, NULL, "hb_transport_submit: NULL argument");
    return t->ops->submit(t, j, prefer, err);
}

int hb_transport_next(hb_transport *t, hb_done *d, hb_error *err)
{
    if (t == NULL || d == NULL) return hb_error_set(err, HB_EINVAL, NULL, "hb_transport_next: NULL argument");
    return t->ops->next(t, d, err);
}

double hb_transport_now(hb_transport *t) { return t ? t->ops->now(t) : 0; }

void hb_transport_abort(hb_transport *t, double grace)
{
    if (t) t->ops->abort(t, grace);
}

int hb_transport_running(hb_transport *t) { return t ? t->ops->running(t) : 0; }

void hb_transport_close(hb_transport *t)
{
    if (t) t->ops->close(t);
}
