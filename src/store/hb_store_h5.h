/* hb_store_h5.h — the run file (docs/runfile.md): an HDF5 file that always opens, with the
 * event log as a table, a trials table for pandas, the run's header (space, settings, ...), and a
 * journal: a region of the file, allocated by HDF5 and mapped into memory, where each new event
 * is appended as a self-checking record. A process kill keeps everything appended (the pages
 * belong to the kernel). A checkpoint writes a whole new file beside the old one (tmp, fsync,
 * rename), with the journal folded into the tables and an empty journal; it happens when the
 * journal is full, every so often, and at the end. Only rank 0 writes, with serial HDF5. */
#ifndef HB_STORE_H5_H
#define HB_STORE_H5_H

#include <stddef.h>

#include "hb_runlog.h"
#include "hb_space.h"

/* The HDF5 library's version, "1.10.8". */
void hb_store_h5_version(char *out, size_t n);

typedef struct hb_store hb_store;

/* Read a run file: its header JSON ('*header', hb_malloc'd) and every event (the tables, then the
 * journal's valid records) into 'log', which this initialises. Works while a run writes the file.
 * HB_ENOTFOUND if there is no such file, HB_ESYNTAX if it is not a run file, HB_EDAMAGED if it
 * is one but not as hbmpi wrote it (the message says what is wrong): see hb_store_salvage. */
int hb_store_read(const char *path, char **header, hb_runlog *log, hb_error *err);

/* Read what can be read of a run file that hb_store_read finds damaged (HB_EDAMAGED) or cannot
 * read (HB_ESYNTAX): HDF5 reads a zero-padded copy in a child process (it may crash or hang on a
 * damaged file; the child is killed after a minute or so), and the events are kept up to the
 * first that does not fit. '*damage' (hb_malloc'd) says what is wrong and how many events could
 * be read; NULL when the file is intact (then this is hb_store_read). HB_EDAMAGED when nothing
 * could be read (not even the header). */
int hb_store_salvage(const char *path, char **header, hb_runlog *log, char **damage, hb_error *err);

/* Create a new run file holding 'header' and the events of 'log' (usually none), atomically:
 * HB_EINVAL if 'path' exists. The file is locked against a second writer until closed. 'sp' (the
 * run's space, borrowed) names the trials table's columns. */
int hb_store_create(const char *path, const char *header, const hb_space *sp, const hb_runlog *log,
                    hb_store **out, hb_error *err);

/* Take an existing run file over for writing: lock it (HB_EINVAL if another process writes it),
 * then read it as hb_store_read does. Call hb_store_restart before appending. */
int hb_store_open(const char *path, char **header, hb_runlog *log, hb_store **out, hb_error *err);
/* Write a checkpoint of 'log' under 'header' (possibly updated) with 'sp' and map a fresh
 * journal: after a resume has read, checked and perhaps extended the log. */
int hb_store_restart(hb_store *s, const char *header, const hb_space *sp, const hb_runlog *log,
                     hb_error *err);

/* Append the events of 'log' not yet in the file (normally the last one). Checkpoints when the
 * journal is full, or every 30 s or so (20 times the last checkpoint's cost if more; the clock
 * is read every 256 appends). */
int hb_store_append(hb_store *s, const hb_runlog *log, hb_error *err);
/* Final checkpoint (when 'log' is not NULL), unlock, free. */
int hb_store_close(hb_store *s, const hb_runlog *log, hb_error *err);

/* Statistics for benchmarks and tests. */
typedef struct hb_store_stats {
    long checkpoints;
    double checkpoint_seconds;  /* total */
    size_t journal_capacity;    /* bytes of the current journal */
} hb_store_stats;
void hb_store_get_stats(const hb_store *s, hb_store_stats *st);

#endif
