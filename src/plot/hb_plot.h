/* hb_plot.h — a run's trials as one figure of four panels (incumbent against cumulative budget,
 * incumbent against time, loss against budget, busy workers over time), and for population-based
 * training (pbt, pb2) two more (each member's loss against budget, the best model's schedule of
 * its mutable parameters), written as SVG text or PNG bytes into an hb_buf. Pure: no file I/O, no
 * clock; the caller writes the file. Also the regret figure of `hbmpi sweep report --plot`
 * (regret.c). */
#ifndef HB_PLOT_H
#define HB_PLOT_H

#include "hb_buf.h"
#include "hb_report.h"
#include "hb_sweep.h"

typedef struct hb_plot_info {
    const char *title;   /* figure title, e.g. "bohb on hartmann6, seed 1"; NULL: "hbmpi run" */
    int workers;         /* evaluating workers (dashed line of panel 4); <= 0: not drawn */
    double wall_seconds; /* run length; the time axes reach at least this far; <= 0: unknown */
    int pbt;             /* 1: a pbt/pb2 run (bracket = member, stage = step, prev = the checkpoint
                            a step continued): adds the population and schedule panels */
    const hb_space *space; /* the run's space, for the schedule panel's mutable parameters; with
                              pbt set, NULL draws that panel without parameters */
    const hb_session_span *sessions; /* a resumed run's sessions: the workers line follows each
                                        session's count and utilisation is weighted by session;
                                        NULL: one session of 'workers' */
    size_t n_sessions;
} hb_plot_info;

/* Width and height of the figure in pixels (both formats); a pbt/pb2 figure has a third row. */
#define HB_PLOT_WIDTH 1200
#define HB_PLOT_HEIGHT 900
#define HB_PLOT_HEIGHT_PBT 1314
/* The schedule panel draws at most this many mutable parameters (the first in the space). */
#define HB_PLOT_MAX_SCHEDULE 6

/* Append an SVG document (UTF-8 text) drawing the 'n' trials 't', in the order their results
 * reached the master. A trial's loss is read only when its status is HB_TRIAL_OK; other
 * statuses are drawn as failures. 't' and 'info' are borrowed and not kept. 'n' may be 0
 * ('t' may then be NULL): the panels are drawn empty with a note.
 * Returns HB_OK, HB_EINVAL ('info' or 'out' NULL, or 't' NULL with 'n' > 0) or HB_ENOMEM; on
 * error nothing is appended (out->len is unchanged). */
HB_API int hb_plot_svg(const hb_plot_info *info, const hb_trial *t, size_t n, hb_buf *out);

/* Append the same figure as a PNG file's bytes (8-bit RGB, HB_PLOT_WIDTH x HB_PLOT_HEIGHT):
 * out->data holds binary data, use out->len, not strlen. Arguments, ownership and errors as
 * for hb_plot_svg(). */
HB_API int hb_plot_png(const hb_plot_info *info, const hb_trial *t, size_t n, hb_buf *out);

/* One curve of a sweep's regret figure: the finished studies of one optimiser on one kernel. */
typedef struct hb_regret_curve {
    const char *label;                      /* the optimiser, shown with the number of studies */
    const hb_study_regret *const *studies;  /* borrowed */
    size_t n;                               /* 0: the curve is not drawn but keeps its colour */
} hb_regret_curve;

/* Append the SVG of `hbmpi sweep report --plot` for 'kernel' (its name in the title): each
 * curve's median (line) and q1..q3 (band) over its studies of the regret against cumulative
 * budget, both axes logarithmic, 760 x 480. Returns HB_OK, HB_ENOTFOUND when no study has a
 * point (nothing to draw), HB_EINVAL or HB_ENOMEM; on error nothing is appended. */
HB_API int hb_plot_regret_svg(const char *kernel, const hb_regret_curve *c, size_t n, hb_buf *out);

#endif
