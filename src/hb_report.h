/* hb_report.h — the report JSON of CLI.md from a run's trials: settings, every trial in the order
 * its result reached the master, the incumbent, and totals. Pure: the caller gives the times. */
#ifndef HB_REPORT_H
#define HB_REPORT_H

#include "hb_buf.h"
#include "hb_history.h"
#include "hb_opt.h"
#include "hb_runlog.h"
#include "hb_space.h"

typedef struct hb_trial {
    uint64_t id;
    const double *x;        /* native encoding */
    double budget;
    double loss;            /* used only when status == HB_TRIAL_OK */
    hb_trial_status status;
    int bracket, stage;     /* -1: none (printed as null) */
    int worker;             /* rank that evaluated it (0 when serial) */
    double start, end;      /* seconds since the run started */
    const char *reason;     /* why it is not ok, or NULL */
    const char *extras;     /* a JSON object the objective reported beside the loss, or NULL */
    uint64_t config;        /* the configuration's identity: the id of its first job */
    uint64_t prev;          /* the same configuration's previous job (a lower rung), or HB_NO_JOB */
    double spent;           /* budget actually spent: 'budget', or less when the trial continued
                               from the previous rung's checkpoint */
} hb_trial;

/* One session of a run (a start or a resume): when it started, in run time, and how many workers
 * evaluated in it. A resumed run may have another worker count in each session. */
typedef struct hb_session_span {
    double start;
    int workers;
} hb_session_span;

/* The sessions of 'log' (its SESSION events, in order) into '*out' (hb_malloc'd, NULL when there
 * is none) and '*n'. HB_OK or HB_ENOMEM. */
HB_API int hb_report_sessions(const hb_runlog *log, hb_session_span **out, size_t *n);

/* Worker-seconds the 'n' sessions offered by run time 'end': each session's workers (at least 1)
 * times the time from its start to the next session's start, the last one's to 'end'. */
HB_API double hb_report_capacity(const hb_session_span *s, size_t n, double end);

/* The worker counts of the sessions for people: "2" when every session had 2, "2, then 1" when
 * they changed (at most three counts are listed; more: "1 to 4"). Always NUL-terminated. */
HB_API void hb_report_workers_label(const hb_session_span *s, size_t n, int workers, char *buf, size_t size);

typedef struct hb_report_info {
    const char *kernel;     /* NULL for a user space (printed as null) */
    const hb_opt_settings *settings;
    const char *settings_json;  /* if not NULL, printed as "settings" instead of 'settings' (a run
                                   file's copy); optimizer and seed still come from 'settings' */
    double wall_seconds;
    int workers;            /* evaluating workers, for utilisation */
    const char *damaged;    /* if not NULL, printed as "damaged": what is wrong with the run file */
    const hb_session_span *sessions; /* the run's sessions, for utilisation (busy time over the
                                        capacity of each session); NULL: one session of
                                        'workers' for 'wall_seconds' */
    size_t n_sessions;
} hb_report_info;

/* Index of the incumbent: the lowest ok loss among trials at the largest budget that has an ok
 * trial; -1 if there is none. Ties go to the earlier trial. */
HB_API long hb_report_best(const hb_trial *t, size_t n);

/* Whether 'optimizer' is population-based training ("pbt" or "pb2"): its trials are steps of
 * members (bracket = member, stage = step) and 'prev' names the checkpoint a step continued. */
HB_API int hb_report_is_pbt(const char *optimizer);

/* One step of a model's schedule (pbt/pb2). */
typedef struct hb_schedule_step {
    size_t trial;        /* index into the trials */
    double from_budget;  /* budget of the checkpoint the step continued; 0 from scratch */
    int copied_from;     /* member (bracket) whose checkpoint it continued when that is not the
                            step's own member (an exploit), else -1 */
} hb_schedule_step;

/* The schedule of the model trained by trial 'last': its steps from the one that started from
 * scratch to 'last', oldest first, following 'prev' (looked up by id among the 'n' trials; an ok
 * trial is preferred when an id appears twice). 'out' has room for 'n' steps (a lineage visits a
 * trial at most once). Returns the number of steps, 0 if 'last' >= n. A 'prev' that is not among
 * the trials ends the walk, and that step's from_budget is then budget - spent; a lineage that
 * loops (a damaged file) is cut before it repeats. */
HB_API size_t hb_report_schedule(const hb_trial *t, size_t n, size_t last, hb_schedule_step *out);

/* Append the settings as one JSON object (stop rules that are off are null). */
HB_API int hb_report_settings_json(const hb_opt_settings *s, hb_buf *out);

/* Append the report JSON (one object, newline-terminated). */
HB_API int hb_report_json(const hb_space *sp, const hb_report_info *info, const hb_trial *t,
                          size_t n, hb_buf *out);

#endif
