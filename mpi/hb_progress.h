/* hb_progress.h — progress on stderr: a live status line on a terminal, a plain line every few
 * seconds otherwise (Slurm logs), nothing with --quiet. */
#ifndef HB_PROGRESS_H
#define HB_PROGRESS_H

#include <stdio.h>

typedef struct hb_progress {
    FILE *out;
    int tty;          /* rewrite one line in place */
    int quiet;
    double interval;  /* seconds between updates */
    double last;      /* time of the last update, -1 before the first */
    int dirty;        /* a live line is on screen */
} hb_progress;

void hb_progress_init(hb_progress *p, FILE *out, int quiet);
/* Report state at time 'now' (seconds since start); prints only when the interval has passed,
 * or always when 'force'. 'total' < 0 means unknown; 'brackets' < 1 is not shown; 'fraction'
 * in (0, 1) is the share of the run done (for the estimate of what is left), else unknown. */
void hb_progress_update(hb_progress *p, double now, long done, long total, double best,
                        long brackets, double fraction, int force);
/* End the live line (if any). */
void hb_progress_finish(hb_progress *p);

#endif
