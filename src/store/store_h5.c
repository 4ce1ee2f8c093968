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
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hb_buf.h"
#include "hb_clock.h"
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
/* ---------- the seal ----------
 * HDF5 1.10 is not hardened against damaged files (a changed byte can crash or hang it), and a
 * file cut short by a full disk or a copy cut off opens as "not an HDF5 file". So every file
 * starts with a 512-byte user block (HDF5 leaves it alone; h5py and h5dump read the file as
 * usual) that holds a seal: the file's length when written and a 64-bit check of every byte
 * after the seal except the journal (which changes as the run goes, and whose records check
 * themselves). A file is only handed to HDF5 when its seal holds; a damaged one is read, for
 * `report` and `repair`, by a child process (hb_store_salvage). Files written before the seal
 * existed start with HDF5's signature and are read as before. */
#define SEAL_SIZE 512
#define SEAL_MAGIC "hbmpi-run seal 1"  /* 16 bytes, no NUL */
#define SEAL_NOTE "\nThis is an hbmpi run file: HDF5 from byte 512 on (h5py, h5dump and hbmpi report read it).\n"
#define CHECK_BLOCK (1u << 20)

static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The check of bytes [SEAL_SIZE, len) of 'fd' without [joff, joff + jcap), read a block at a
 * time (each block's tail padded with zeros to 8 bytes). -1 on a read error. */
static int content_check(int fd, size_t len, size_t joff, size_t jcap, uint64_t *out)
{
    unsigned char *buf = hb_malloc(CHECK_BLOCK + 8);
    if (buf == NULL) return -1;
    uint64_t h = 0x6862736561ull; /* "hbsea" */
    size_t ranges[2][2] = {{SEAL_SIZE, joff < len ? joff : len}, {joff + jcap, len}};
    int rc = 0;
    for (int r = 0; r < 2 && rc == 0; r++) {
        for (size_t at = ranges[r][0]; at < ranges[r][1] && rc == 0;) {
            size_t n = ranges[r][1] - at > CHECK_BLOCK ? CHECK_BLOCK : ranges[r][1] - at;
            ssize_t got = pread(fd, buf, n, (off_t)at);
            if (got != (ssize_t)n) {
                rc = -1;
                break;
            }
            size_t padded = (n + 7) & ~(size_t)7;
            memset(buf + n, 0, padded - n);
            h = hb_check64(buf, padded, h ^ at);
            at += n;
        }
    }
    hb_free(buf);
    *out = h;
    return rc;
}

static int seal(int fd, size_t joff, size_t jcap)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    unsigned char b[SEAL_SIZE];
    memset(b, 0, sizeof b);
    uint64_t check = 0;
    if (content_check(fd, (size_t)st.st_size, joff, jcap, &check) != 0) return -1;
    memcpy(b, SEAL_MAGIC, 16);
    put_u64(b + 16, (uint64_t)st.st_size);
    put_u64(b + 24, joff);
    put_u64(b + 32, jcap);
    put_u64(b + 40, check);
    put_u64(b + 48, hb_check64(b, 48, 0x7365616c));
    memcpy(b + 64, SEAL_NOTE, sizeof SEAL_NOTE - 1);
    return pwrite(fd, b, sizeof b, 0) == (ssize_t)sizeof b ? 0 : -1;
}

/* What the first bytes of a file say it is. */
typedef struct seal_info {
    int sealed;               /* 1: a seal that holds */
    size_t len, joff, jcap;   /* as sealed */
} seal_info;

/* HB_OK with si->sealed = 1 (a seal that holds: the file is as hbmpi wrote it, its journal
 * apart), HB_OK with si->sealed = 0 (an HDF5 file without a seal: from an hbmpi before the seal,
 * or not a run file at all), HB_EDAMAGED (a seal that does not hold: what is wrong in 'err'),
 * HB_ESYNTAX (not an HDF5 file), HB_EIO. */
static int check_seal(int fd, const char *path, seal_info *si, hb_error *err)
{
    memset(si, 0, sizeof *si);
    struct stat st;
    if (fstat(fd, &st) != 0) return hb_error_set(err, HB_EIO, NULL, "cannot read %s: %s", path, strerror(errno));
    size_t size = (size_t)st.st_size;
    unsigned char b[SEAL_SIZE + 8];
    memset(b, 0, sizeof b);
    ssize_t got = pread(fd, b, sizeof b, 0);
    if (got < 0) return hb_error_set(err, HB_EIO, NULL, "cannot read %s: %s", path, strerror(errno));
    if (size == 0) return hb_error_set(err, HB_ESYNTAX, NULL, "%s: an empty file, not a run file", path);
    if (memcmp(b, hdf5_signature, 8) == 0) return HB_OK; /* no seal */
    if (memcmp(b, SEAL_MAGIC, 16) != 0) {
        if (memcmp(b + SEAL_SIZE, hdf5_signature, 8) == 0)
            return hb_error_set(err, HB_EDAMAGED, NULL, "%s: damaged: its first 512 bytes (the seal) were overwritten",
                                path);
        return hb_error_set(err, HB_ESYNTAX, NULL, "%s: not an HDF5 file, so not an hbmpi run file", path);
    }
    if (got < SEAL_SIZE)
        return hb_error_set(err, HB_EDAMAGED, NULL, "%s: damaged: cut short at %zu bytes", path, size);
    si->len = (size_t)get_u64(b + 16);
    si->joff = (size_t)get_u64(b + 24);
    si->jcap = (size_t)get_u64(b + 32);
    if (get_u64(b + 48) != hb_check64(b, 48, 0x7365616c) || si->len < SEAL_SIZE || si->joff < SEAL_SIZE)
        return hb_error_set(err, HB_EDAMAGED, NULL, "%s: damaged: its seal (the first 512 bytes) does not check", path);
    if (size < si->len)
        return hb_error_set(err, HB_EDAMAGED, NULL,
                            "%s: damaged: cut short: %zu of its %zu bytes are there (a full disk, or a copy "
                            "that did not finish?)", path, size, si->len);
    uint64_t check = 0;
    if (content_check(fd, si->len, si->joff, si->jcap, &check) != 0)
        return hb_error_set(err, HB_EIO, NULL, "cannot read %s: %s", path, strerror(errno));
    if (check != get_u64(b + 40))
        return hb_error_set(err, HB_EDAMAGED, NULL,
                            "%s: damaged: bytes changed since hbmpi wrote it (its check does not match)", path);
    si->sealed = 1;
    return HB_OK;
}

static int write_file(const char *tmp, const char *header, const hb_space *sp, const hb_runlog *log,
                      size_t jcap, size_t *joff, hb_error *err)
{
    quiet_hdf5();
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, SEAL_SIZE); /* HDF5 starts after it; the seal goes there */
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
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
    if (rc == HB_OK) {
        int fd = open(tmp, O_RDWR | O_CLOEXEC);
        if (fd < 0 || seal(fd, *joff, jcap) != 0) rc = HB_EIO;
        if (fd >= 0) close(fd);
    }
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
    double t0 = hb_now();
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
    s->last_cost = hb_now() - t0;
    s->stats.checkpoint_seconds += s->last_cost;
    s->stats.journal_capacity = jcap;
    s->last_ckpt = hb_now();
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
    s->last_ckpt = hb_now();
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

/* Rows a dataset may claim: no more than its storage and the file hold ('size' bytes a row). */
static int rows_fit(hid_t d, hsize_t rows, size_t size, size_t file_size)
{
    if (rows == 0) return 1;
    if (size == 0 || rows > (hsize_t)(file_size / size)) return 0;
    hsize_t stored = H5Dget_storage_size(d);
    return stored >= rows * size;
}

/* Read the 1-D string dataset 'name' ('*n' strings, each hb_malloc'd... in one array). */
static int read_strings(hid_t f, const char *name, size_t file_size, char ***out, hsize_t *n)
{
    *out = NULL;
    *n = 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return HB_ESYNTAX;
    hid_t s = H5Dget_space(d), t = vlen_str();
    if (H5Sget_simple_extent_ndims(s) != 1) *n = 0, H5Sclose(s), s = -1;
    else H5Sget_simple_extent_dims(s, n, NULL);
    int rc = s >= 0 && rows_fit(d, *n, 16, file_size) ? HB_OK : HB_EDAMAGED; /* a vlen reference is 16 bytes */
    char **v = rc == HB_OK ? hb_calloc(*n ? *n : 1, sizeof *v) : NULL;
    if (rc == HB_OK && v == NULL) rc = HB_ENOMEM;
    if (rc == HB_OK && *n && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) rc = HB_EDAMAGED;
    for (hsize_t i = 0; rc == HB_OK && i < *n; i++) { /* HDF5's strings into ours */
        char *c = v[i] ? hb_strdup(v[i]) : NULL;
        if (v[i]) H5free_memory(v[i]);
        v[i] = c;
    }
    H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    if (rc != HB_OK) {
        hb_free(v);
        *n = 0;
        return rc;
    }
    *out = v;
    return HB_OK;
}

/* The events table into 'log'. Strict: any inconsistency is HB_EDAMAGED. Lenient (salvage):
 * the rows up to the first that does not fit, texts that cannot be read as none; '*whole' says
 * whether every row was taken. */
static int read_events(hid_t f, size_t file_size, int lenient, hb_runlog *log, int *whole)
{
    *whole = 0;
    hid_t d = H5Dopen2(f, "events", H5P_DEFAULT), dx = H5Dopen2(f, "event_x", H5P_DEFAULT);
    if (d < 0 || dx < 0) {
        if (d >= 0) H5Dclose(d);
        if (dx >= 0) H5Dclose(dx);
        return HB_EDAMAGED;
    }
    hid_t s = H5Dget_space(d), sx = H5Dget_space(dx);
    hsize_t n = 0, dims[2] = {0, 0}, nt = 0;
    int r = H5Sget_simple_extent_ndims(s), rx = H5Sget_simple_extent_ndims(sx);
    if (r == 1) H5Sget_simple_extent_dims(s, &n, NULL);
    if (rx == 2) H5Sget_simple_extent_dims(sx, dims, NULL);
    hid_t ft = H5Dget_type(d);
    int identity = ft >= 0 && H5Tget_member_index(ft, "spent") >= 0;
    size_t row_size = ft >= 0 ? H5Tget_size(ft) : 0;
    if (ft >= 0) H5Tclose(ft);
    int rc = r == 1 && rx == 2 && dims[1] == log->dim ? HB_OK : HB_EDAMAGED;
    /* a table that claims more rows than its storage (or the file) holds is damaged: never
     * allocate what a damaged file claims */
    if (rc == HB_OK && !rows_fit(d, n, row_size, file_size)) {
        if (!lenient) rc = HB_EDAMAGED;
        n = row_size && H5Dget_storage_size(d) / row_size < n ? H5Dget_storage_size(d) / row_size : n;
        if (n > file_size / (row_size ? row_size : 1)) n = 0;
    }
    if (rc == HB_OK && dims[1] && !rows_fit(dx, dims[0], dims[1] * 8, file_size)) {
        if (!lenient) rc = HB_EDAMAGED;
        dims[0] = 0;
    }
    char **texts = NULL;
    if (rc == HB_OK && read_strings(f, "event_text", file_size, &texts, &nt) != HB_OK && !lenient) rc = HB_EDAMAGED;
    ev_row *rows = rc == HB_OK ? hb_calloc(n ? n : 1, sizeof *rows) : NULL;
    hsize_t nxs = dims[0] * dims[1];
    double *xs = rc == HB_OK ? hb_malloc((nxs > 0 ? nxs : 1) * sizeof(double)) : NULL;
    if (rc == HB_OK && (rows == NULL || xs == NULL)) rc = HB_ENOMEM;
    hid_t t = event_type(identity);
    hid_t mem = H5S_ALL, file = H5S_ALL;
    if (rc == HB_OK && n) { /* the rows that fit (all of them, unless salvaging) */
        file = H5Scopy(s);
        hsize_t zero = 0;
        H5Sselect_hyperslab(file, H5S_SELECT_SET, &zero, NULL, &n, NULL);
        mem = H5Screate_simple(1, &n, NULL);
        if (H5Dread(d, t, mem, file, H5P_DEFAULT, rows) < 0) rc = lenient ? (n = 0, HB_OK) : HB_EDAMAGED;
    }
    if (rc == HB_OK && nxs > 0 && H5Dread(dx, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, xs) < 0) {
        if (!lenient) rc = HB_EDAMAGED;
        dims[0] = 0;
    }
    size_t k = 0;
    hsize_t i = 0;
    for (; rc == HB_OK && i < n; i++) {
        const ev_row *w = &rows[i];
        int bad = w->seq != i || w->kind < HB_EV_ISSUE || w->kind > HB_EV_HELD || w->text < -1 || w->extras < -1 ||
                  (texts && (w->text >= (int32_t)nt || w->extras >= (int32_t)nt)) ||
                  (!texts && !lenient && (w->text >= 0 || w->extras >= 0));
        int with_x = w->kind == HB_EV_ISSUE || w->kind == HB_EV_WARM;
        if (bad || (with_x && k >= dims[0])) {
            if (!lenient) rc = HB_EDAMAGED;
            break;
        }
        hb_event e = {w->seq,  w->kind,   w->session, w->id,    w->budget, w->bracket, w->stage, w->loss,
                      w->status, w->worker, w->start,   w->end,
                      texts && w->text >= 0 ? texts[w->text] : NULL, texts && w->extras >= 0 ? texts[w->extras] : NULL,
                      NULL, identity ? w->config : w->id, identity && w->prev >= 0 ? (uint64_t)w->prev : HB_NO_JOB,
                      identity ? w->spent : NAN};
        if (with_x) e.x = xs + k++ * log->dim;
        rc = hb_runlog_add(log, &e);
    }
    if (rc == HB_OK) {
        hsize_t claimed = 0;
        if (r == 1) H5Sget_simple_extent_dims(s, &claimed, NULL);
        *whole = i == claimed;
    }
    for (hsize_t j = 0; texts && j < nt; j++) hb_free(texts[j]);
    hb_free(texts);
    H5Tclose(t);
    if (mem != H5S_ALL) H5Sclose(mem);
    if (file != H5S_ALL) H5Sclose(file);
    hb_free(rows);
    hb_free(xs);
    H5Sclose(s);
    H5Sclose(sx);
    H5Dclose(d);
    H5Dclose(dx);
    return rc;
}

/* The largest record the journal of a 'dim'-parameter run can hold. */
static size_t max_record(size_t dim) { return HB_REC_FIXED + dim * 8 + 2 * 65536 + 8 + HB_REC_TRAILER; }

/* Append the valid records of the journal at 'p' ('jcap' bytes) to 'log'. A journal ends at the
 * first record that does not check. A kill can leave one record half written there (its magic,
 * written last, missing) but nothing after it: a record whose magic is there but which does not
 * check, or any byte written beyond the longest record, means damage ('*damaged' = 1). */
static int read_journal(const unsigned char *p, size_t jcap, hb_runlog *log, size_t *used, int *damaged)
{
    *used = 0;
    *damaged = 0;
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
    *used = at;
    if (rc == HB_OK && at < jcap) {
        uint32_t magic = 0;
        if (jcap - at >= 4) memcpy(&magic, p + at, 4);
        size_t from = at + max_record(log->dim);
        if (magic == HB_REC_MAGIC) *damaged = 1;
        for (size_t i = (from + 7) & ~(size_t)7; !*damaged && i + 8 <= jcap; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w) *damaged = 1;
        }
    }
    return rc;
}

/* Read an open HDF5 run file: the header, the events table, and where its journal is. */
static int read_hdf5(hid_t f, const char *path, size_t file_size, int lenient, char **header, hb_runlog *log,
                     size_t *joff, size_t *jcap, int *whole, hb_error *err)
{
    *joff = *jcap = 0;
    *whole = 0;
    char *format = NULL;
    int rc = read_attr_str(f, "format", &format);
    if (rc == HB_OK && strcmp(format, FORMAT_NAME) != 0) rc = HB_ESYNTAX;
    hb_free(format);
    long long version = read_attr_i64(f, "format_version"), dim = read_attr_i64(f, "dim");
    if (rc != HB_OK || dim < 0 || dim > (1 << 20))
        return hb_error_set(err, HB_ESYNTAX, NULL, "%s: an HDF5 file, but not an hbmpi run file", path);
    if (version != FORMAT_VERSION)
        return hb_error_set(err, HB_ESYNTAX, NULL, "%s: run-file format %lld; this hbmpi reads format %d", path,
                            version, FORMAT_VERSION);
    hb_runlog_init(log, (size_t)dim);
    rc = read_attr_str(f, "header", header);
    if (rc == HB_ESYNTAX) return hb_error_set(err, HB_EDAMAGED, NULL, "%s: damaged: its header cannot be read", path);
    if (rc == HB_OK) rc = read_events(f, file_size, lenient, log, whole);
    if (rc == HB_OK) {
        hid_t d = H5Dopen2(f, "journal", H5P_DEFAULT);
        haddr_t a = d >= 0 ? H5Dget_offset(d) : HADDR_UNDEF;
        hsize_t n = 0;
        if (d >= 0) {
            hid_t s = H5Dget_space(d);
            if (H5Sget_simple_extent_ndims(s) == 1) H5Sget_simple_extent_dims(s, &n, NULL);
            H5Sclose(s);
            H5Dclose(d);
        }
        if (a == HADDR_UNDEF && !lenient) rc = HB_EDAMAGED;
        *joff = a == HADDR_UNDEF ? 0 : (size_t)a;
        *jcap = a == HADDR_UNDEF ? 0 : (size_t)n;
    }
    if (rc == HB_ENOMEM) return hb_error_set(err, rc, NULL, "out of memory reading %s", path);
    if (rc != HB_OK) return hb_error_set(err, HB_EDAMAGED, NULL, "%s: damaged: its event table cannot be read", path);
    return HB_OK;
}

/* Read the file open at 'fd' (named 'path' in messages), strictly: a file that is not exactly
 * as hbmpi wrote it (its journal's tail apart) is HB_EDAMAGED, and HDF5 never sees a sealed
 * file whose seal does not hold. */
static int read_fd(int fd, const char *path, char **header, hb_runlog *log, hb_error *err)
{
    quiet_hdf5();
    seal_info si;
    int rc = check_seal(fd, path, &si, err);
    if (rc != HB_OK) return rc;
    struct stat st;
    if (fstat(fd, &st) != 0) return hb_error_set(err, HB_EIO, NULL, "cannot read %s: %s", path, strerror(errno));
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd); /* the very file 'fd' holds, even if renamed */
    hid_t f = H5Fopen(proc, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return si.sealed ? hb_error_set(err, HB_EDAMAGED, NULL, "%s: damaged: HDF5 cannot open it", path)
                         : hb_error_set(err, HB_ESYNTAX, NULL, "%s: not an HDF5 file, or one cut short or damaged", path);
    size_t joff = 0, jcap = 0;
    int whole = 0;
    rc = read_hdf5(f, path, (size_t)st.st_size, 0, header, log, &joff, &jcap, &whole, err);
    H5Fclose(f);
    if (rc == HB_OK && si.sealed && (joff != si.joff || jcap != si.jcap))
        rc = hb_error_set(err, HB_EDAMAGED, NULL, "%s: damaged: its journal is not where its seal says", path);
    /* the journal, through a private read-only mapping, up to the end of the file */
    if (rc == HB_OK && jcap > 0 && (size_t)st.st_size > joff) {
        if ((size_t)st.st_size < joff + jcap) jcap = (size_t)st.st_size - joff;
        long pg = sysconf(_SC_PAGESIZE);
        size_t base = joff / (size_t)pg * (size_t)pg;
        unsigned char *m = mmap(NULL, joff - base + jcap, PROT_READ, MAP_SHARED, fd, (off_t)base);
        if (m == MAP_FAILED) {
            rc = hb_error_set(err, HB_EIO, NULL, "cannot map %s: %s", path, strerror(errno));
        } else {
            size_t used = 0;
            int damaged = 0;
            rc = read_journal(m + (joff - base), jcap, log, &used, &damaged);
            munmap(m, joff - base + jcap);
            if (rc == HB_ENOMEM) rc = hb_error_set(err, rc, NULL, "out of memory reading %s", path);
            else if (damaged)
                rc = hb_error_set(err, HB_EDAMAGED, NULL,
                                  "%s: damaged: its journal does not end cleanly after event %zu (bytes were "
                                  "written beyond its last record that checks, which no kill leaves)",
                                  path, log->n);
        }
    }
    if (rc != HB_OK) {
        hb_free(*header);
        *header = NULL;
        hb_runlog_fini(log);
    }
    return rc;
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
    double now = hb_now(), every = s->last_cost * 20 > CHECKPOINT_EVERY ? s->last_cost * 20 : CHECKPOINT_EVERY;
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

/* ---------- salvage: what can be read of a damaged file ---------- */

/* The length HDF5 expects the file to have: its seal's, or the end-of-file address of a version 0
 * superblock; 'size' when neither says. */
static size_t expected_length(const unsigned char *b, size_t size)
{
    size_t want = size;
    if (size >= 64 && memcmp(b, SEAL_MAGIC, 16) == 0 && get_u64(b + 48) == hb_check64(b, 48, 0x7365616c))
        want = (size_t)get_u64(b + 16);
    for (size_t at = 0; at <= SEAL_SIZE; at += SEAL_SIZE) /* superblock at 0 or after the seal */
        if (size >= at + 48 && memcmp(b + at, hdf5_signature, 8) == 0 && b[at + 8] == 0 && b[at + 13] == 8) {
            size_t eof = (size_t)get_u64(b + at + 40) + at;
            if (eof > want) want = eof;
        }
    /* never more than a bounded amount of zeros on top of what is there */
    return want > size && want - size > ((size_t)1 << 30) + size ? size : want;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The child: read 'path' leniently from a zero-padded copy in memory and write to 'out' either
 * 'E' and a message, or 'K', the header, the dimension and the events as journal records. */
static int salvage_child(const char *path, int out)
{
    quiet_hdf5();
    hb_error err;
    hb_error_clear(&err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return 1;
    size_t size = (size_t)st.st_size;
    unsigned char first[SEAL_SIZE + 64];
    memset(first, 0, sizeof first);
    if (pread(fd, first, sizeof first, 0) < 0) return 1;
    size_t len = expected_length(first, size);
    unsigned char *img = hb_calloc(len ? len : 1, 1);
    if (img == NULL) return 1;
    for (size_t at = 0; at < size && at < len;) {
        ssize_t got = pread(fd, img + at, len - at, (off_t)at);
        if (got <= 0) break;
        at += (size_t)got;
    }
    close(fd);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    H5Pset_file_image(fapl, img, len);
    hid_t f = H5Fopen("salvage.h5", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    char *header = NULL;
    hb_runlog log;
    memset(&log, 0, sizeof log);
    size_t joff = 0, jcap = 0;
    int whole = 0, rc = f < 0 ? hb_error_set(&err, HB_EDAMAGED, NULL, "HDF5 cannot open what is left of it")
                              : read_hdf5(f, path, len, 1, &header, &log, &joff, &jcap, &whole, &err);
    if (f >= 0) H5Fclose(f);
    if (rc == HB_OK && whole && joff < len) { /* the journal continues a whole table */
        size_t used = 0;
        int damaged = 0;
        rc = read_journal(img + joff, len - joff < jcap ? len - joff : jcap, &log, &used, &damaged);
    }
    hb_free(img);
    hb_buf b = HB_BUF_INIT;
    if (rc != HB_OK) {
        hb_buf_printf(&b, "E%s", err.msg);
    } else {
        uint64_t hl = strlen(header), dim = log.dim, n = log.n;
        hb_buf_append(&b, "K", 1);
        hb_buf_append(&b, (const char *)&hl, 8);
        hb_buf_append(&b, header, hl);
        hb_buf_append(&b, (const char *)&dim, 8);
        hb_buf_append(&b, (const char *)&n, 8);
        for (size_t i = 0; i < log.n && !b.failed; i++) {
            hb_event e = log.ev[i];
            e.x = hb_runlog_x(&log, i);
            size_t sz = hb_record_size(&e, log.dim);
            unsigned char *rec = hb_malloc(sz);
            if (rec == NULL) return 1;
            hb_record_encode(&e, log.dim, rec);
            hb_buf_append(&b, (const char *)rec, sz);
            hb_free(rec);
        }
    }
    int ok = !b.failed && write_all(out, b.data, b.len) == 0;
    hb_buf_fini(&b);
    hb_free(header);
    hb_runlog_fini(&log);
    return ok ? 0 : 1;
}

/* Run salvage_child in a child process (HDF5 may crash or hang on a damaged file) and collect
 * what it sends, within 'seconds'. */
static int salvage_collect(const char *path, double seconds, hb_buf *got, hb_error *err)
{
    int p[2];
    if (pipe(p) != 0) return hb_error_set(err, HB_EIO, NULL, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return hb_error_set(err, HB_EIO, NULL, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        _exit(salvage_child(path, p[1]));
    }
    close(p[1]);
    double end = hb_now() + seconds;
    char chunk[65536];
    int timed_out = 0;
    for (;;) {
        struct pollfd pf = {p[0], POLLIN, 0};
        double left = end - hb_now();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t n = read(p[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        hb_buf_append(got, chunk, (size_t)n);
    }
    close(p[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
        return hb_error_set(err, HB_EDAMAGED, NULL, "%s: reading what is left of it took more than %.0f s", path,
                            seconds);
    if (WIFSIGNALED(status))
        return hb_error_set(err, HB_EDAMAGED, NULL, "%s: HDF5 crashed reading what is left of it (signal %d)", path,
                            WTERMSIG(status));
    if (got->failed) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory reading %s", path);
    if (got->len == 0 || (got->data[0] != 'K' && got->data[0] != 'E'))
        return hb_error_set(err, HB_EDAMAGED, NULL, "%s: nothing could be read from it", path);
    if (got->data[0] == 'E') return hb_error_set(err, HB_EDAMAGED, NULL, "%.*s", (int)got->len - 1, got->data + 1);
    return HB_OK;
}

/* The longest prefix of 'log' whose results all name an issued job (a prefix that does not
 * check cannot be extended into one that does). */
static size_t consistent_prefix(hb_runlog *log)
{
    size_t n = log->n, lo = 0, hi = n;
    hb_trial *t = NULL;
    size_t k = 0;
    if (hb_runlog_trials(log, &t, &k) == HB_OK) {
        hb_free(t);
        return n;
    }
    while (lo < hi) { /* lo checks, hi + 1 does not */
        size_t mid = lo + (hi - lo + 1) / 2;
        log->n = mid;
        int ok = hb_runlog_trials(log, &t, &k) == HB_OK;
        hb_free(t);
        t = NULL;
        if (ok) lo = mid;
        else hi = mid - 1;
    }
    log->n = n;
    return lo;
}

int hb_store_salvage(const char *path, char **header, hb_runlog *log, char **damage, hb_error *err)
{
    *damage = NULL;
    hb_error why;
    int rc = hb_store_read(path, header, log, &why);
    unsigned char sig[8] = {0};
    int fd = rc == HB_ESYNTAX ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) { /* an HDF5 file without a seal that HDF5 cannot open may be one cut short */
        if (pread(fd, sig, 8, 0) != 8) memset(sig, 0, 8);
        close(fd);
    }
    if (rc == HB_OK || (rc != HB_EDAMAGED && !(rc == HB_ESYNTAX && memcmp(sig, hdf5_signature, 8) == 0))) {
        if (rc != HB_OK && err) *err = why;
        return rc;
    }
    struct stat st;
    double seconds = 60 + (stat(path, &st) == 0 ? (double)st.st_size / 20e6 : 0);
    hb_buf got = HB_BUF_INIT;
    rc = salvage_collect(path, seconds, &got, err);
    if (rc != HB_OK) {
        hb_buf_fini(&got);
        if (rc == HB_EDAMAGED && err) { /* say first what is wrong with the file */
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            hb_error_set(err, HB_EDAMAGED, NULL, "%s; nothing could be read from it (%s)", why.msg, msg);
        }
        return rc;
    }
    const unsigned char *p = (const unsigned char *)got.data + 1, *end = (const unsigned char *)got.data + got.len;
    uint64_t hl = 0, dim = 0, n = 0;
    if (end - p >= 8) memcpy(&hl, p, 8);
    p += 8;
    rc = (size_t)(end - p) >= hl + 16 ? HB_OK : HB_EDAMAGED;
    if (rc == HB_OK) {
        *header = hb_malloc(hl + 1);
        if (*header) {
            memcpy(*header, p, hl);
            (*header)[hl] = '\0';
        }
        p += hl;
        memcpy(&dim, p, 8);
        memcpy(&n, p + 8, 8);
        p += 16;
        rc = *header ? HB_OK : HB_ENOMEM;
    }
    hb_runlog_init(log, (size_t)dim);
    if (rc == HB_OK) { /* the child sent the events as journal records */
        size_t used = 0;
        int damaged = 0;
        rc = read_journal(p, (size_t)(end - p), log, &used, &damaged);
    }
    hb_buf_fini(&got);
    size_t keep = rc == HB_OK ? consistent_prefix(log) : 0;
    if (rc == HB_OK && keep == 0) rc = HB_EDAMAGED; /* a header alone: nothing to report or resume */
    if (rc == HB_OK && keep < log->n) { /* drop the events after the first that does not fit */
        hb_runlog cut;
        hb_runlog_init(&cut, log->dim);
        for (size_t i = 0; i < keep && rc == HB_OK; i++) {
            hb_event e = log->ev[i];
            e.x = hb_runlog_x(log, i);
            rc = hb_runlog_add(&cut, &e);
        }
        hb_runlog_fini(log);
        *log = cut;
    }
    if (rc == HB_OK) {
        size_t m = strlen(why.msg) + 128;
        *damage = hb_malloc(m);
        if (*damage)
            snprintf(*damage, m, "%s; %zu event%s could be read", why.msg, log->n, log->n == 1 ? "" : "s");
        else rc = HB_ENOMEM;
    }
    if (rc != HB_OK) {
        hb_free(*header);
        *header = NULL;
        hb_runlog_fini(log);
        return rc == HB_ENOMEM ? hb_error_set(err, rc, NULL, "out of memory reading %s", path)
                               : hb_error_set(err, rc, NULL, "%s; nothing could be read from it", why.msg);
    }
    return HB_OK;
}
