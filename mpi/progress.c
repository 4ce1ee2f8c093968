/* progress.c — status line or periodic plain lines on stderr. */
#define _POSIX_C_SOURCE 200809L
#include "hb_progress.h"

#include <math.h>
#include <unistd.h>

void hb_progress_init(hb_progress *p, FILE *out, int quiet)
{
    p->out = out;
    p->tty = isatty(fileno(out));
    p->quiet = quiet;
    p->interval = p->tty ? 0.2 : 5.0;
    p->last = -1;
    p->dirty = 0;
}

void hb_progress_update(hb_progress *p, double now, long done, long total, double best,
                        long brackets, double fraction, int force)
{
    if (p->quiet) return;
    if (!force && p->last >= 0 && now - p->last < p->interval) return;
    if (p->last < 0 && !force && now < p->interval && !p->tty) return;
    p->last = now;
    char eta[64] = "";
    if (total > 0 && done > 0 && done < total) fraction = (double)done / (double)total;
    if (fraction > 0 && fraction < 1)
        snprintf(eta, sizeof eta, ", about %.1f s left", now / fraction * (1 - fraction));
    char tot[32] = "";
    if (total > 0) snprintf(tot, sizeof tot, "/%ld", total);
    char bst[48] = "no result yet";
    if (isfinite(best)) snprintf(bst, sizeof bst, "best loss %.6g", best);
    char br[40] = "";
    if (brackets > 0) snprintf(br, sizeof br, ", %ld open bracket%s", brackets, brackets == 1 ? "" : "s");
    fprintf(p->out, "%shbmpi: %ld%s evaluations%s, %s, %.1f s elapsed%s%s", p->tty ? "\r\033[K" : "",
            done, tot, br, bst, now, eta, p->tty ? "" : "\n");
    p->dirty = p->tty;
    fflush(p->out);
}

void hb_progress_finish(hb_progress *p)
{
    if (p->dirty) fputc('\n', p->out);
    p->dirty = 0;
    fflush(p->out);
}
