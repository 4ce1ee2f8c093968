/* hb_runlog.h — a run's event log in memory (DESIGN.md contract 2) and the binary record that
 * carries one event in the run file's journal. Pure: no file, no clock. The store
 * (src/store/) moves these records to and from disk; the master appends to the log as it goes;
 * resume and `hbmpi report` rebuild everything from it. */
#ifndef HB_RUNLOG_H
#define HB_RUNLOG_H

#include "hb_common.h"
#include "hb_history.h"

typedef enum hb_event_kind {
    HB_EV_ISSUE = 1,       /* a job was issued: id, budget, bracket, stage, x */
    HB_EV_RESULT = 2,      /* a job's result: id, loss, status, worker, start, end, text=reason, extras */
    HB_EV_INTERRUPTED = 3, /* a job stopped by a signal; it is issued again on resume */
    HB_EV_SESSION = 4,     /* a session (start or resume): worker = workers, start = run time, text = JSON */
    HB_EV_END = 5,         /* the run finished: end = wall seconds, worker = workers, text = why */
    HB_EV_WARM = 6,        /* a warm-start observation: budget, loss, status, x */
    HB_EV_STOP = 7,        /* the session stopped on a signal: end = run time, text = signal name */
    HB_EV_HELD = 8         /* a result kept for later: --reproducible tells results in issue order,
                              so one that came early waits (as a result event when told) */
} hb_event_kind;

/* "issue", "result", ... */
HB_API const char *hb_event_kind_name(int kind);

typedef struct hb_event {
    uint64_t seq;          /* 0, 1, 2, ... over the whole run */
    int kind;              /* hb_event_kind */
    int session;           /* 0 for the first session, then 1, 2, ... */
    uint64_t id;           /* job id (issue, result, interrupted) */
    double budget;
    int bracket, stage;    /* -1: none */
    double loss;           /* result/warm: meaningful when status is ok */
    int status;            /* hb_trial_status */
    int worker;
    double start, end;     /* seconds since the run started (over all sessions) */
    const char *text;      /* NULL or a string owned by the log */
    const char *extras;    /* NULL or a JSON object owned by the log */
    const double *x;       /* issue/warm: 'dim' values owned by the log; else NULL */
    /* issue: the configuration's identity (its first job) and the same configuration's previous
     * job (HB_NO_JOB for a first evaluation); result/held: the budget actually spent (less than
     * 'budget' when a promoted job continued from the previous rung's checkpoint), NaN if the
     * objective did not say (the nominal budget was spent). */
    uint64_t config, prev;
    double spent;
} hb_event;

typedef struct hb_runlog {
    size_t dim;
    hb_event *ev;          /* x is NULL here: use hb_runlog_x */
    size_t *xoff;          /* where each event's x starts in xs; SIZE_MAX: none */
    size_t n, cap;
    /* configurations of issue and warm events, in event order */
    double *xs;
    size_t n_x, cap_x;
} hb_runlog;

HB_API void hb_runlog_init(hb_runlog *log, size_t dim);
HB_API void hb_runlog_fini(hb_runlog *log);
/* Append a copy of 'e' (its strings and x are copied; its seq is set to log->n). */
HB_API int hb_runlog_add(hb_runlog *log, const hb_event *e);
/* The configuration of event 'i' (views into the log move when it grows: use at once). */
HB_API const double *hb_runlog_x(const hb_runlog *log, size_t i);

/* The trials of the log: one per result event, in log order, with the configuration, bracket and
 * stage of the job's issue event. '*out' (hb_malloc'd; its x, reason and extras point into the
 * log) holds '*n' trials. HB_EINVAL if a result names a job that was never issued. */
struct hb_trial;
HB_API int hb_runlog_trials(const hb_runlog *log, struct hb_trial **out, size_t *n);

/* ---- journal records ----
 * One record per event: magic, size, seq, a 64-bit check over the rest, then the fields, x, the
 * strings, padding to 8, and a trailer with config, prev and spent (HB_REC_TRAILER bytes; records
 * written before it existed end at the padding and read as config = id, prev = HB_NO_JOB,
 * spent = NaN). Sizes are multiples of 8. A reader accepts records while magic, size, seq and check agree and
 * stops at the first that does not: a torn or never-written tail (zeros) ends the journal. */
#define HB_REC_MAGIC 0x56454248u /* "HBEV" */
#define HB_REC_HEADER 24
#define HB_REC_FIXED 96          /* header + fixed fields */
#define HB_REC_TRAILER 24        /* config, prev, spent */

/* Bytes the record of 'e' takes ('dim' values of x for issue and warm events). */
HB_API size_t hb_record_size(const hb_event *e, size_t dim);
/* Encode 'e' into 'out' (hb_record_size bytes). The magic is written last, so a record cut off
 * by a kill never reads as valid. */
HB_API void hb_record_encode(const hb_event *e, size_t dim, unsigned char *out);
/* Decode the record at 'p' (at most 'avail' bytes) that must carry sequence number 'seq'.
 * Returns its size, or 0 if there is no valid record there. The event's strings and x point
 * into 'p' (text and extras are NUL-terminated there; x may be unaligned: use hb_record_x). */
HB_API size_t hb_record_decode(const unsigned char *p, size_t avail, uint64_t seq, size_t dim,
                               hb_event *e, const unsigned char **x);
/* Copy the record's x (as returned by hb_record_decode) into 'out'. */
HB_API void hb_record_x(const unsigned char *x, size_t dim, double *out);

/* 64-bit check of 'n' bytes (n a multiple of 8) seeded with 'h'. */
HB_API uint64_t hb_check64(const void *p, size_t n, uint64_t h);

#endif
