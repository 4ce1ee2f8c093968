/* store_h5.c — the run file (hb_store_h5.h, docs/runfile.md).
 *
 * Why this shape (ENVIRONMENT.md §6): an HDF5 file that is open for writing when the process is
 * killed can be left unopenable or lose a chunk, and rewriting the whole file per event costs
 * O(file). So HDF5 only ever writes whole new files (tmp, fsync, rename: a kill leaves the old
 * file or the new one, both complete), and events between two such checkpoints go to a journal
 * that lives inside the file: a contiguous dataset that HDF5 allocates but never fills, mapped
 * with mmap. Appending an event is a memcpy into that mapping (no system call); the pages are
 * the kernel's, so a kill -9 loses nothing that was appended. Records check themselves (magic
 * written last, 64-bit check), so a record cut off by a kill reads as the journal's end. */
#define _GNU_SOURCE
#include "hb_store_h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hb_buf.h"
#include "hb_report.h"

#define FORMAT_NAME "hbmpi-run"
#define FORMAT_VERSION 1
#define JOURNAL_MIN (64u << 20)    /* bytes of a running journal at least (a hole until written) */
#define JOURNAL_FINAL 4096         /* bytes of the journal of a file at rest */
#define CHECKPOINT_EVERY 30.0      /* seconds between timed checkpoints at least */

void hb_store_h5_version(char *out, size_t n)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(out, n, "%u.%u.%u", maj, min, rel);
}

struct hb_store {
    char *path, *tmp;
    char *header;             /* as last written */
    const hb_space *sp;
    int fd;                   /* the current file, locked */
    unsigned char *map;       /* mapping that holds the journal */
    size_t map_len, map_skip; /* the journal starts map_skip bytes into the mapping */
    size_t cap, used;         /* journal bytes: capacity, written */
    size_t populated;         /* journal bytes whose pages are already mapped for writing */
    unsigned appends;         /* counts appends between looks at the clock */
    size_t n_written;         /* events of the log in the file */
    double last_ckpt, last_cost;
    hb_store_stats stats;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void quiet_hdf5(void)
{
    static int done = 0;
    if (!done) H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported through hb_error */
    done = 1;
}

/* A lock that only a second writer sees: an open-file-description lock (not released when HDF5
 * opens and closes the same file in this process, and independent of HDF5's own flock, so
 * readers such as h5py can open the file while a run writes it). */
static int lock_fd(int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

static int fsync_dir_of(const char *path)
{
    char *copy = hb_strdup(path);
    if (copy == NULL) return -1;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    hb_free(copy);
    if (dfd < 0) return -1;
    int rc = fsync(dfd);
    close(dfd);
    return rc;
}

/* ---------- HDF5 types ---------- */

typedef struct ev_row {
    uint64_t seq;
    int8_t kind, status;
    int32_t session;
    uint64_t id;
    double budget;
    int32_t bracket, stage;
    double loss;
    int32_t worker;
    double start, end;
    int32_t text, extras;  /* row of /event_text, or -1 (strings apart: vlen rows are slow) */
    uint64_t config;       /* issue: the configuration's first job */
    int64_t prev;          /* issue: the configuration's previous job, -1 for none */
    double spent;          /* result/held: budget actually spent, NaN for the nominal */
} ev_row;

static hid_t vlen_str(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static hid_t kind_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    for (int8_t k = HB_EV_ISSUE; k <= HB_EV_HELD; k++) H5Tenum_insert(t, hb_event_kind_name(k), &k);
    return t;
}

static hid_t status_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    for (int8_t k = HB_TRIAL_OK; k <= HB_TRIAL_LOST; k++)
        H5Tenum_insert(t, hb_trial_status_name((hb_trial_status)k), &k);
    return t;
}

/* The events' compound type; without 'identity', the columns of files written before config,
 * prev and spent existed (a compound read takes the members it names). */
static hid_t event_type(int identity)
{
    hid_t s = vlen_str(), k = kind_type(), st = status_type();
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ev_row));
    H5Tinsert(t, "seq", HOFFSET(ev_row, seq), H5T_NATIVE_UINT64);
    H5Tinsert(t, "kind", HOFFSET(ev_row, kind), k);
    H5Tinsert(t, "session", HOFFSET(ev_row, session), H5T_NATIVE_INT32);
    H5Tinsert(t, "id", HOFFSET(ev_row, id), H5T_NATIVE_UINT64);
    H5Tinsert(t, "budget", HOFFSET(ev_row, budget), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "bracket", HOFFSET(ev_row, bracket), H5T_NATIVE_INT32);
    H5Tinsert(t, "stage", HOFFSET(ev_row, stage), H5T_NATIVE_INT32);
    H5Tinsert(t, "loss", HOFFSET(ev_row, loss), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "status", HOFFSET(ev_row, status), st);
    H5Tinsert(t, "worker", HOFFSET(ev_row, worker), H5T_NATIVE_INT32);
    H5Tinsert(t, "start", HOFFSET(ev_row, start), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "end", HOFFSET(ev_row, end), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "text", HOFFSET(ev_row, text), H5T_NATIVE_INT32);
    H5Tinsert(t, "extras", HOFFSET(ev_row, extras), H5T_NATIVE_INT32);
    if (identity) {
        H5Tinsert(t, "config", HOFFSET(ev_row, config), H5T_NATIVE_UINT64);
        H5Tinsert(t, "prev", HOFFSET(ev_row, prev), H5T_NATIVE_INT64);
        H5Tinsert(t, "spent", HOFFSET(ev_row, spent), H5T_NATIVE_DOUBLE);
    }
    H5Tclose(s);
    H5Tclose(k);
    H5Tclose(st);
    return t;
}

/* The trials table: fixed columns, then one per parameter (numbers as float64, choices as
 * strings; NaN or "" where a parameter is inactive). */
#define TR_FIXED 104
static const char *const tr_fixed_names[] = {"id",     "budget", "loss",   "status",    "bracket",
                                             "stage",  "worker", "start",  "end",       "reason",
                                             "extras", "config_id", "previous_id", "spent", NULL};

static int is_string_param(const hb_space *sp, size_t i)
{
    hb_param_type t = hb_space_type(sp, i);
    return t == HB_PARAM_CATEGORICAL || t == HB_PARAM_ORDINAL || t == HB_PARAM_CONSTANT;
}

static int attr_str(hid_t loc, const char *name, const char *value)
{
    hid_t t = vlen_str(), s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, t, &value) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

static int attr_i64(hid_t loc, const char *name, long long v)
{
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_NATIVE_LLONG, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &v) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

/* A contiguous dataset of 'rank' dims written from 'buf' in one go. */
static int write_ds(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims, const void *buf)
{
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    int rc = d >= 0 && (total == 0 || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) ? 0 : -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    return rc;
}

static int write_events(hid_t f, const hb_runlog *log)
{
    size_t n = log->n, nx = 0, nt = 0;
    ev_row *rows = hb_calloc(n ? n : 1, sizeof *rows);
    double *xs = hb_malloc((log->n_x ? log->n_x : 1) * sizeof(double));
    const char **texts = hb_malloc((n > 0 ? 2 * n : 1) * sizeof *texts);
    if (rows == NULL || xs == NULL || texts == NULL) {
        hb_free(rows);
        hb_free(xs);
        hb_free(texts);
        return HB_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const hb_event *e = &log->ev[i];
        int32_t ti = -1, ei = -1;
        if (e->text) texts[ti = (int32_t)nt++] = e->text;
        if (e->extras) texts[ei = (int32_t)nt++] = e->extras;
        rows[i] = (ev_row){e->seq,     (int8_t)e->kind, (int8_t)e->status, e->session, e->id,
                           e->budget,  e->bracket,      e->stage,          e->loss,    e->worker,
                           e->start,   e->end,          ti,                ei,
                           e->config,  e->prev == HB_NO_JOB ? -1 : (int64_t)e->prev, e->spent};
        const double *x = hb_runlog_x(log, i);
        if (x && log->dim) memcpy(xs + nx, x, log->dim * sizeof(double));
        if (x) nx += log->dim;
    }
    hid_t t = event_type(1), vs = vlen_str();
    hsize_t d1 = n, d2[2] = {log->dim ? nx / log->dim : 0, log->dim}, dt = nt;
    int rc = write_ds(f, "events", t, 1, &d1, rows);
    if (rc == 0) rc = write_ds(f, "event_x", H5T_NATIVE_DOUBLE, 2, d2, xs);
    if (rc == 0) rc = write_ds(f, "event_text", vs, 1, &dt, texts);
    H5Tclose(t);
    H5Tclose(vs);
    hb_free(rows);
    hb_free(xs);
    hb_free(texts);
    return rc == 0 ? HB_OK : HB_EIO;
}

static int write_trials(hid_t f, const hb_runlog *log, const hb_space *sp)
{
    hb_trial *t = NULL;
    size_t n = 0, dim = hb_space_dim(sp);
    int rc = hb_runlog_trials(log, &t, &n);
    if (rc != HB_OK) return rc;
    size_t row = TR_FIXED + 8 * dim;
    unsigned char *buf = hb_calloc(n ? n : 1, row);
    /* text of string parameters: one pool, offsets patched to pointers after it stops moving */
    hb_buf pool = HB_BUF_INIT;
    hb_buf_puts(&pool, "");
    size_t *offs = hb_calloc((n ? n : 1) * (dim ? dim : 1), sizeof *offs);
    if (buf == NULL || offs == NULL) {
        rc = HB_ENOMEM;
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        unsigned char *p = buf + r * row;
        double loss = t[r].status == HB_TRIAL_OK ? t[r].loss : NAN;
        char status[8] = {0};
        strncpy(status, hb_trial_status_name(t[r].status), sizeof status - 1);
        int32_t ints[3] = {t[r].bracket, t[r].stage, t[r].worker};
        memcpy(p, &t[r].id, 8);
        memcpy(p + 8, &t[r].budget, 8);
        memcpy(p + 16, &loss, 8);
        memcpy(p + 24, status, 8);
        memcpy(p + 32, ints, 12);
        memcpy(p + 48, &t[r].start, 8);
        memcpy(p + 56, &t[r].end, 8);
        int64_t prev = t[r].prev == HB_NO_JOB ? -1 : (int64_t)t[r].prev;
        memcpy(p + 80, &t[r].config, 8);
        memcpy(p + 88, &prev, 8);
        memcpy(p + 96, &t[r].spent, 8);
        for (size_t i = 0; i < dim; i++) {
            double v = t[r].x[i];
            if (!is_string_param(sp, i)) {
                memcpy(p + TR_FIXED + 8 * i, &v, 8);
                continue;
            }
            if (isnan(v)) continue; /* offset 0: "" */
            offs[r * dim + i] = pool.len + 1;
            hb_space_value_text(sp, i, v, &pool, NULL); /* a string choice verbatim, a number as in JSON */
            hb_buf_append(&pool, "", 1);
        }
    }
    if (pool.failed) {
        rc = HB_ENOMEM;
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        unsigned char *p = buf + r * row;
        const char *reason = t[r].reason, *extras = t[r].extras; /* NULL costs no heap object */
        memcpy(p + 64, &reason, sizeof reason);
        memcpy(p + 72, &extras, sizeof extras);
        for (size_t i = 0; i < dim; i++) {
            if (!is_string_param(sp, i)) continue;
            const char *s = offs[r * dim + i] ? pool.data + offs[r * dim + i] - 1 : NULL;
            memcpy(p + TR_FIXED + 8 * i, &s, sizeof s);
        }
    }
    hid_t vs = vlen_str(), s8 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s8, 8);
    hid_t ty = H5Tcreate(H5T_COMPOUND, row);
    H5Tinsert(ty, "id", 0, H5T_NATIVE_UINT64);
    H5Tinsert(ty, "budget", 8, H5T_NATIVE_DOUBLE);
    H5Tinsert(ty, "loss", 16, H5T_NATIVE_DOUBLE);
    H5Tinsert(ty, "status", 24, s8);
    H5Tinsert(ty, "bracket", 32, H5T_NATIVE_INT32);
    H5Tinsert(ty, "stage", 36, H5T_NATIVE_INT32);
    H5Tinsert(ty, "worker", 40, H5T_NATIVE_INT32);
    H5Tinsert(ty, "start", 48, H5T_NATIVE_DOUBLE);
    H5Tinsert(ty, "end", 56, H5T_NATIVE_DOUBLE);
    H5Tinsert(ty, "reason", 64, vs);
    H5Tinsert(ty, "extras", 72, vs);
    H5Tinsert(ty, "config_id", 80, H5T_NATIVE_UINT64);
    H5Tinsert(ty, "previous_id", 88, H5T_NATIVE_INT64);
    H5Tinsert(ty, "spent", 96, H5T_NATIVE_DOUBLE);
    for (size_t i = 0; i < dim && rc == HB_OK; i++) {
        const char *name = hb_space_name(sp, i);
        char alt[512];
        int clash = 0;
        for (int k = 0; tr_fixed_names[k]; k++) clash |= !strcmp(name, tr_fixed_names[k]);
        if (clash) { /* a parameter called "loss" gets the column "param:loss" */
            snprintf(alt, sizeof alt, "param:%s", name);
            name = alt;
        }
        if (H5Tinsert(ty, name, TR_FIXED + 8 * i, is_string_param(sp, i) ? vs : H5T_NATIVE_DOUBLE) < 0)
            rc = HB_EIO;
    }
    hsize_t d1 = n;
    if (rc == HB_OK && write_ds(f, "trials", ty, 1, &d1, buf) != 0) rc = HB_EIO;
    H5Tclose(ty);
    H5Tclose(vs);
    H5Tclose(s8);
out:
    hb_buf_fini(&pool);
    hb_free(offs);
    hb_free(buf);
    hb_free(t);
    return rc;
}

/* Write a complete run file at 'tmp' with an empty journal of 'jcap' bytes at '*joff'. */
static int write_file(const char *tmp, const char *header, const hb_space *sp, const hb_runlog *log,
                      size_t jcap, size_t *joff, hb_error *err)
{
    quiet_hdf5();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return hb_error_set(err, HB_EIO, NULL, "cannot create %s: %s", tmp, strerror(errno));
    int rc = HB_OK;
    if (attr_str(f, "format", FORMAT_NAME) || attr_i64(f, "format_version", FORMAT_VERSION) ||
        attr_str(f, "hbmpi_version", HB_VERSION_STRING) || attr_str(f, "header", header) ||
        attr_i64(f, "dim", (long long)log->dim))
        rc = HB_EIO;
    if (rc == HB_OK) rc = write_events(f, log);
    if (rc == HB_OK) rc = write_trials(f, log, sp);
    if (rc == HB_OK) {
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_layout(dcpl, H5D_CONTIGUOUS);
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER); /* a hole in the file: reads as zeros */
        hsize_t d1 = jcap;
        hid_t s = H5Screate_simple(1, &d1, NULL);
        hid_t d = H5Dcreate2(f, "journal", H5T_NATIVE_UINT8, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        haddr_t a = d >= 0 ? H5Dget_offset(d) : HADDR_UNDEF;
        if (a == HADDR_UNDEF) rc = HB_EIO;
        *joff = (size_t)a;
        if (d >= 0) H5Dclose(d);
        H5Sclose(s);
        H5Pclose(dcpl);
    }
    if (H5Fclose(f) < 0 && rc == HB_OK) rc = HB_EIO;
    if (rc == HB_ENOMEM) return hb_error_set(err, rc, NULL, "out of memory writing %s", tmp);
    if (rc != HB_OK) return hb_error_set(err, rc, NULL, "cannot write %s", tmp);
    return HB_OK;
}

static void unmap(hb_store *s)
{
    if (s->map) munmap(s->map, s->map_len);
    s->map = NULL;
}

static int map_journal(hb_store *s, size_t joff, size_t jcap, hb_error *err)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t base = joff / (size_t)pg * (size_t)pg;
    struct stat st;
    /* the file must reach the journal's end (HDF5 leaves the unwritten tail as a hole) */
    if (fstat(s->fd, &st) != 0 || ((size_t)st.st_size < joff + jcap && ftruncate(s->fd, (off_t)(joff + jcap)) != 0))
        return hb_error_set(err, HB_EIO, NULL, "cannot size %s: %s", s->path, strerror(errno));
    void *m = mmap(NULL, joff - base + jcap, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, (off_t)base);
    if (m == MAP_FAILED) return hb_error_set(err, HB_EIO, NULL, "cannot map %s: %s", s->path, strerror(errno));
    s->map = m;
    s->map_len = joff - base + jcap;
    s->map_skip = joff - base;
    s->cap = jcap;
    s->used = 0;
    s->populated = 0;
    return HB_OK;
}

/* Map the journal's pages ahead of the writes, a megabyte at a time: one system call instead of
 * a page fault every 30 records (kernels before 5.14 say EINVAL, and fault as before). */
#define POPULATE_STEP (1u << 20)
static void populate_ahead(hb_store *s)
{
#ifdef MADV_POPULATE_WRITE
    if (s->populated >= s->cap) return;
    long pg = sysconf(_SC_PAGESIZE);
    size_t from = (s->map_skip + s->populated) / (size_t)pg * (size_t)pg;
    size_t to = s->map_skip + s->populated + POPULATE_STEP;
    if (to > s->map_len) to = s->map_len;
    if (madvise(s->map + from, to - from, MADV_POPULATE_WRITE) != 0) {
        s->populated = s->cap; /* not supported here: stop trying */
        return;
    }
    s->populated = to - s->map_skip;
#else
    s->populated = s->cap;
#endif
}

/* Bytes the journal should hold: room for about three times as many events again as the log
 * has, so that the checkpoints of a long run rewrite about half its final size in all. */
static size_t journal_size(const hb_runlog *log)
{
    size_t est = log->n * 128 + log->n_x * 8, c = JOURNAL_MIN;
    while (c < 3 * est) c *= 2;
    return c;
}

/* Write 'log' to path.tmp, then put it in place of 'path', holding the lock throughout. */
static int checkpoint(hb_store *s, const hb_runlog *log, size_t jcap, hb_error *err)
{
    double t0 = mono();
    size_t joff = 0;
    unlink(s->tmp);
    int rc = write_file(s->tmp, s->header, s->sp, log, jcap, &joff, err);
    int fd = rc == HB_OK ? open(s->tmp, O_RDWR | O_CLOEXEC) : -1;
    if (rc == HB_OK && fd < 0) rc = hb_error_set(err, HB_EIO, NULL, "cannot open %s: %s", s->tmp, strerror(errno));
    if (rc == HB_OK && lock_fd(fd) != 0)
        rc = hb_error_set(err, HB_EIO, NULL, "cannot lock %s: %s", s->tmp, strerror(errno));
    if (rc == HB_OK) {
        int old = s->fd;
        s->fd = fd;
        if (map_journal(s, joff, jcap, err) != HB_OK) {
            s->fd = old;
            rc = HB_EIO;
        } else if (fsync(fd) != 0 || rename(s->tmp, s->path) != 0) {
            rc = hb_error_set(err, HB_EIO, NULL, "cannot replace %s: %s", s->path, strerror(errno));
            unmap(s); /* the caller maps the old journal again */
            s->fd = old;
        } else {
            fsync_dir_of(s->path);
            fd = -1;
            if (old >= 0) close(old); /* its lock goes with it */
        }
    }
    if (rc != HB_OK) {
        if (fd >= 0) close(fd);
        unlink(s->tmp);
        return rc;
    }
    s->n_written = log->n;
    s->stats.checkpoints++;
    s->last_cost = mono() - t0;
    s->stats.checkpoint_seconds += s->last_cost;
    s->stats.journal_capacity = jcap;
    s->last_ckpt = mono();
    return HB_OK;
}

static int checkpoint_swap(hb_store *s, const hb_runlog *log, size_t jcap, hb_error *err)
{
    unsigned char *m = s->map;
    size_t len = s->map_len, skip = s->map_skip, cap = s->cap, used = s->used, populated = s->populated;
    s->map = NULL;
    int rc = checkpoint(s, log, jcap, err);
    if (rc != HB_OK) { /* keep appending to the old journal */
        s->map = m;
        s->map_len = len;
        s->map_skip = skip;
        s->cap = cap;
        s->used = used;
        s->populated = populated;
    } else if (m) {
        munmap(m, len);
    }
    return rc;
}

static hb_store *store_new(const char *path, hb_error *err)
{
    hb_store *s = hb_calloc(1, sizeof *s);
    size_t n = strlen(path);
    if (s) s->path = hb_strdup(path);
    if (s) s->tmp = hb_malloc(n + 5);
    if (s == NULL || s->path == NULL || s->tmp == NULL) {
        if (s) {
            hb_free(s->path);
            hb_free(s->tmp);
        }
        hb_free(s);
        hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    memcpy(s->tmp, path, n);
    memcpy(s->tmp + n, ".tmp", 5);
    s->fd = -1;
    s->last_ckpt = mono();
    return s;
}

static void store_free(hb_store *s)
{
    unmap(s);
    if (s->fd >= 0) close(s->fd);
    hb_free(s->header);
    hb_free(s->path);
    hb_free(s->tmp);
    hb_free(s);
}

int hb_store_create(const char *path, const char *header, const hb_space *sp, const hb_runlog *log,
                    hb_store **out, hb_error *err)
{
    *out = NULL;
    hb_store *s = store_new(path, err);
    if (s == NULL) return HB_ENOMEM;
    s->sp = sp;
    if ((s->header = hb_strdup(header)) == NULL) {
        store_free(s);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    char *dir = hb_strdup(path);
    int dir_ok = dir && access(dirname(dir), W_OK | X_OK) == 0;
    int dir_errno = errno;
    hb_free(dir);
    if (!dir_ok) {
        store_free(s);
        return hb_error_set(err, HB_EINVAL, NULL, "cannot create %s: its directory %s", path,
                            dir_errno == ENOENT ? "does not exist" : "is not writable");
    }
    /* written under a name of its own, then linked in place: two runs that create the same file
     * at once cannot both succeed, and a kill leaves no half-made file under 'path' */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    size_t joff = 0, jcap = journal_size(log);
    int rc = write_file(tmp, header, sp, log, jcap, &joff, err);
    if (rc == HB_OK && (s->fd = open(tmp, O_RDWR | O_CLOEXEC)) < 0)
        rc = hb_error_set(err, HB_EIO, NULL, "cannot open %s: %s", tmp, strerror(errno));
    if (rc == HB_OK && (lock_fd(s->fd) != 0 || fsync(s->fd) != 0))
        rc = hb_error_set(err, HB_EIO, NULL, "cannot lock %s: %s", tmp, strerror(errno));
    if (rc == HB_OK && link(tmp, path) != 0)
        rc = errno == EEXIST ? hb_error_set(err, HB_EINVAL, NULL, "%s already exists", path)
                             : hb_error_set(err, HB_EIO, NULL, "cannot create %s: %s", path, strerror(errno));
    unlink(tmp);
    if (rc == HB_OK) {
        fsync_dir_of(path);
        rc = map_journal(s, joff, jcap, err);
    }
    if (rc != HB_OK) {
        store_free(s);
        return rc;
    }
    s->n_written = log->n;
    *out = s;
    return HB_OK;
}

/* ---------- reading ---------- */

static int read_attr_str(hid_t f, const char *name, char **out)
{
    *out = NULL;
    if (H5Aexists(f, name) <= 0) return HB_ESYNTAX;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t t = vlen_str();
    char *v = NULL;
    int rc = a >= 0 && H5Aread(a, t, &v) >= 0 && v ? HB_OK : HB_ESYNTAX;
    if (rc == HB_OK && (*out = hb_strdup(v)) == NULL) rc = HB_ENOMEM;
    if (v) H5free_memory(v);
    H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

static long long read_attr_i64(hid_t f, const char *name)
{
    long long v = -1;
    if (H5Aexists(f, name) <= 0) return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_LLONG, &v) < 0) v = -1;
    if (a >= 0) H5Aclose(a);
    return v;
}

/* Read the 1-D string dataset 'name' ('*n' strings, each hb_malloc'd... in one array). */
static int read_strings(hid_t f, const char *name, char ***out, hsize_t *n)
{
    *out = NULL;
    *n = 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return HB_ESYNTAX;
    hid_t s = H5Dget_space(d), t = vlen_str();
    H5Sget_simple_extent_dims(s, n, NULL);
    char **v = hb_calloc(*n ? *n : 1, sizeof *v);
    int rc = v ? HB_OK : HB_ENOMEM;
    if (rc == HB_OK && *n && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) rc = HB_ESYNTAX;
    for (hsize_t i = 0; rc == HB_OK && i < *n; i++) { /* HDF5's strings into ours */
        char *c = v[i] ? hb_strdup(v[i]) : NULL;
        if (v[i]) H5free_memory(v[i]);
        v[i] = c;
    }
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    if (rc != HB_OK) {
        hb_free(v);
        return rc;
    }
    *out = v;
    return HB_OK;
}

static int read_events(hid_t f, hb_runlog *log)
{
    hid_t d = H5Dopen2(f, "events", H5P_DEFAULT), dx = H5Dopen2(f, "event_x", H5P_DEFAULT);
    if (d < 0 || dx < 0) {
        if (d >= 0) H5Dclose(d);
        if (dx >= 0) H5Dclose(dx);
        return HB_ESYNTAX;
    }
    hid_t s = H5Dget_space(d), sx = H5Dget_space(dx);
    hsize_t n = 0, dims[2] = {0, 0}, nt = 0;
    H5Sget_simple_extent_dims(s, &n, NULL);
    int rx = H5Sget_simple_extent_ndims(sx);
    if (rx == 2) H5Sget_simple_extent_dims(sx, dims, NULL);
    int rc = rx == 2 && dims[1] == log->dim ? HB_OK : HB_ESYNTAX;
    char **texts = NULL;
    if (rc == HB_OK) rc = read_strings(f, "event_text", &texts, &nt);
    ev_row *rows = hb_calloc(n ? n : 1, sizeof *rows);
    hsize_t nxs = dims[0] * dims[1];
    double *xs = hb_malloc((nxs > 0 ? nxs : 1) * sizeof(double));
    if (rc == HB_OK && (rows == NULL || xs == NULL)) rc = HB_ENOMEM;
    hid_t ft = H5Dget_type(d);
    int identity = ft >= 0 && H5Tget_member_index(ft, "spent") >= 0;
    if (ft >= 0) H5Tclose(ft);
    hid_t t = event_type(identity);
    if (rc == HB_OK && n && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0) rc = HB_ESYNTAX;
    if (rc == HB_OK && nxs > 0 && H5Dread(dx, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, xs) < 0)
        rc = HB_ESYNTAX;
    size_t k = 0;
    for (hsize_t i = 0; rc == HB_OK && i < n; i++) {
        const ev_row *r = &rows[i];
        if (r->text >= (int32_t)nt || r->extras >= (int32_t)nt || r->seq != i) {
            rc = HB_ESYNTAX;
            break;
        }
        hb_event e = {r->seq,  r->kind,   r->session, r->id,    r->budget, r->bracket, r->stage, r->loss,
                      r->status, r->worker, r->start,   r->end,
                      r->text >= 0 ? texts[r->text] : NULL, r->extras >= 0 ? texts[r->extras] : NULL, NULL,
                      identity ? r->config : r->id, identity && r->prev >= 0 ? (uint64_t)r->prev : HB_NO_JOB,
                      identity ? r->spent : NAN};
        if (e.kind == HB_EV_ISSUE || e.kind == HB_EV_WARM) {
            if (k >= dims[0]) {
                rc = HB_ESYNTAX;
                break;
            }
            e.x = xs + k++ * log->dim;
        }
        rc = hb_runlog_add(log, &e);
    }
    for (hsize_t i = 0; texts && i < nt; i++) hb_free(texts[i]);
    hb_free(texts);
    H5Tclose(t);
    hb_free(rows);
    hb_free(xs);
    H5Sclose(s);
    H5Sclose(sx);
    H5Dclose(d);
    H5Dclose(dx);
    return rc;
}

/* Append the journal's valid records (read through a private read-only mapping) to 'log'. */
static int read_journal(int fd, size_t joff, size_t jcap, hb_runlog *log, size_t *used)
{
    *used = 0;
    if (jcap == 0) return HB_OK;
    struct stat st;
    if (fstat(fd, &st) != 0) return HB_EIO;
    if ((size_t)st.st_size < joff + jcap) jcap = (size_t)st.st_size > joff ? (size_t)st.st_size - joff : 0;
    long pg = sysconf(_SC_PAGESIZE);
    size_t base = joff / (size_t)pg * (size_t)pg;
    if (jcap == 0) return HB_OK;
    unsigned char *m = mmap(NULL, joff - base + jcap, PROT_READ, MAP_SHARED, fd, (off_t)base);
    if (m == MAP_FAILED) return HB_EIO;
    const unsigned char *p = m + (joff - base);
    double *x = hb_malloc((log->dim ? log->dim : 1) * sizeof(double));
    int rc = x ? HB_OK : HB_ENOMEM;
    size_t at = 0;
    while (rc == HB_OK) {
        hb_event e;
        const unsigned char *xr = NULL;
        size_t sz = hb_record_decode(p + at, jcap - at, log->n, log->dim, &e, &xr);
        if (sz == 0) break;
        if (xr) {
            hb_record_x(xr, log->dim, x);
            e.x = x;
        }
        rc = hb_runlog_add(log, &e);
        at += sz;
    }
    hb_free(x);
    munmap(m, joff - base + jcap);
    *used = at;
    return rc;
}

/* Read the file open at 'fd' (named 'path' in messages). */
static int read_fd(int fd, const char *path, char **header, hb_runlog *log, hb_error *err)
{
    quiet_hdf5();
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd); /* the very file 'fd' holds, even if renamed */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = H5Fopen(proc, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return hb_error_set(err, HB_ESYNTAX, NULL, "%s: not an HDF5 file", path);
    char *format = NULL;
    int rc = read_attr_str(f, "format", &format);
    if (rc == HB_OK && strcmp(format, FORMAT_NAME) != 0) rc = HB_ESYNTAX;
    hb_free(format);
    long long version = read_attr_i64(f, "format_version"), dim = read_attr_i64(f, "dim");
    if (rc != HB_OK || dim < 0) {
        H5Fclose(f);
        return hb_error_set(err, HB_ESYNTAX, NULL, "%s: an HDF5 file, but not an hbmpi run file", path);
    }
    if (version != FORMAT_VERSION) {
        H5Fclose(f);
        return hb_error_set(err, HB_ESYNTAX, NULL, "%s: run-file format %lld; this hbmpi reads format %d", path,
                            version, FORMAT_VERSION);
    }
    hb_runlog_init(log, (size_t)dim);
    rc = read_attr_str(f, "header", header);
    if (rc == HB_OK) rc = read_events(f, log);
    size_t joff = 0, jcap = 0;
    if (rc == HB_OK) {
        hid_t d = H5Dopen2(f, "journal", H5P_DEFAULT);
        haddr_t a = d >= 0 ? H5Dget_offset(d) : HADDR_UNDEF;
        hsize_t n = 0;
        if (d >= 0) {
            hid_t s = H5Dget_space(d);
            H5Sget_simple_extent_dims(s, &n, NULL);
            H5Sclose(s);
            H5Dclose(d);
        }
        if (a == HADDR_UNDEF) rc = HB_ESYNTAX;
        joff = (size_t)a;
        jcap = (size_t)n;
    }
    H5Fclose(f);
    size_t used = 0;
    if (rc == HB_OK) rc = read_journal(fd, joff, jcap, log, &used);
    if (rc != HB_OK) {
        hb_free(*header);
        *header = NULL;
        hb_runlog_fini(log);
        return rc == HB_ENOMEM ? hb_error_set(err, rc, NULL, "out of memory reading %s", path)
                               : hb_error_set(err, rc, NULL, "%s: damaged run file (%s)", path, hb_strerror(rc));
    }
    return HB_OK;
}

int hb_store_read(const char *path, char **header, hb_runlog *log, hb_error *err)
{
    *header = NULL;
    memset(log, 0, sizeof *log);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hb_error_set(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, NULL, "cannot open %s: %s", path,
                            strerror(errno));
    int rc = read_fd(fd, path, header, log, err);
    close(fd);
    return rc;
}

int hb_store_open(const char *path, char **header, hb_runlog *log, hb_store **out, hb_error *err)
{
    *out = NULL;
    *header = NULL;
    memset(log, 0, sizeof *log);
    hb_store *s = store_new(path, err);
    if (s == NULL) return HB_ENOMEM;
    for (int tries = 0;; tries++) {
        s->fd = open(path, O_RDWR | O_CLOEXEC);
        if (s->fd < 0) {
            int e = errno;
            store_free(s);
            return hb_error_set(err, e == ENOENT ? HB_ENOTFOUND : HB_EIO, NULL, "cannot open %s: %s", path,
                                strerror(e));
        }
        if (lock_fd(s->fd) != 0) {
            store_free(s);
            return hb_error_set(err, HB_EINVAL, NULL,
                                "%s is being written by another hbmpi run (it holds the file's lock)", path);
        }
        /* locked, but is it still the file under that name? (a writer may have just replaced it) */
        struct stat a, b;
        if (fstat(s->fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) break;
        close(s->fd);
        s->fd = -1;
        if (tries == 3) {
            store_free(s);
            return hb_error_set(err, HB_EINVAL, NULL, "%s is being written by another hbmpi run", path);
        }
    }
    unlink(s->tmp); /* a checkpoint cut off by a kill */
    int rc = read_fd(s->fd, path, header, log, err);
    if (rc != HB_OK) {
        store_free(s);
        return rc;
    }
    s->n_written = log->n;
    *out = s;
    return HB_OK;
}

int hb_store_restart(hb_store *s, const char *header, const hb_space *sp, const hb_runlog *log, hb_error *err)
{
    char *h = hb_strdup(header);
    if (h == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    hb_free(s->header);
    s->header = h;
    s->sp = sp;
    return checkpoint_swap(s, log, journal_size(log), err);
}

int hb_store_append(hb_store *s, const hb_runlog *log, hb_error *err)
{
    while (s->n_written < log->n) {
        hb_event e = log->ev[s->n_written];
        e.x = hb_runlog_x(log, s->n_written);
        size_t need = hb_record_size(&e, log->dim);
        if (s->map == NULL || s->used + need > s->cap) return checkpoint_swap(s, log, journal_size(log), err);
        if (s->used + need > s->populated) populate_ahead(s);
        hb_record_encode(&e, log->dim, s->map + s->map_skip + s->used);
        s->used += need;
        s->n_written++;
    }
    /* a checkpoint every so often keeps the tables fresh for readers (h5py sees only those) */
    if (++s->appends % 256 != 0) return HB_OK;
    double now = mono(), every = s->last_cost * 20 > CHECKPOINT_EVERY ? s->last_cost * 20 : CHECKPOINT_EVERY;
    if (s->used > 0 && now - s->last_ckpt > every) return checkpoint_swap(s, log, journal_size(log), err);
    return HB_OK;
}

int hb_store_close(hb_store *s, const hb_runlog *log, hb_error *err)
{
    if (s == NULL) return HB_OK;
    int rc = log ? checkpoint_swap(s, log, JOURNAL_FINAL, err) : HB_OK;
    store_free(s);
    return rc;
}

void hb_store_get_stats(const hb_store *s, hb_store_stats *st) { *st = s->stats; }
