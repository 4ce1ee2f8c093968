/* fuzz_runfile.c — libFuzzer target: the run-file reader (src/store/) on damaged copies of a real
 * run file (tests/data/runs/small.h5, written by hbmpi). The first byte picks what the rest is:
 *   0: the whole file. The seal and the length checks see it first: HDF5 1.10 is not hardened
 *      against damaged files, so hbmpi never hands it a file whose seal does not hold (inputs
 *      that start with HDF5's own signature, files from before the seal, are skipped here).
 *   1: the bytes of the journal of the real file (whose seal holds: the journal is outside it).
 *   2: events, encoded as journal records (so their checks hold) into the real file's journal:
 *      kind, ids, budgets, statuses, strings and configurations as the fuzzer likes.
 * A read must succeed or fail with HB_EDAMAGED / HB_ESYNTAX and a message; what it reads must be
 * the table's events followed by the journal's (in mode 2, every record given, identically), and
 * the report that `hbmpi report --json` makes of it must be made without a sanitizer finding. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb_buf.h"
#include "hb_history.h"
#include "hb_report.h"
#include "hb_runlog.h"
#include "hb_space.h"
#include "hb_store_h5.h"

#ifndef HB_TEST_DATA_DIR
#define HB_TEST_DATA_DIR "tests/data"
#endif

#define FAIL(what)                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "fuzz_runfile: %s\n", what);                                               \
        abort();                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *base;    /* the real file */
static size_t base_len, joff, jcap;
static size_t base_events;     /* events in its tables */
static size_t base_dim;
static char path[64];

static void load_base(void)
{
    if (base) return;
    FILE *f = fopen(HB_TEST_DATA_DIR "/runs/small.h5", "rb");
    if (f == NULL) FAIL("cannot open " HB_TEST_DATA_DIR "/runs/small.h5");
    fseek(f, 0, SEEK_END);
    base_len = (size_t)ftell(f);
    rewind(f);
    base = malloc(base_len);
    if (base == NULL || fread(base, 1, base_len, f) != base_len) FAIL("cannot read the base file");
    fclose(f);
    memcpy(&joff, base + 24, 8);
    memcpy(&jcap, base + 32, 8);
    if (memcmp(base, "hbmpi-run seal 1", 16) != 0 || joff + jcap > base_len) FAIL("the base file has no seal");
    snprintf(path, sizeof path, "/dev/shm/fuzz-runfile-%d.h5", (int)getpid());
    if (access("/dev/shm", W_OK) != 0) snprintf(path, sizeof path, "/tmp/fuzz-runfile-%d.h5", (int)getpid());
    char *header = NULL;
    hb_runlog log;
    hb_error err;
    FILE *w = fopen(path, "wb");
    if (w == NULL || fwrite(base, 1, base_len, w) != base_len || fclose(w) != 0) FAIL("cannot write the copy");
    if (hb_store_read(path, &header, &log, &err) != HB_OK) FAIL(err.msg);
    base_events = log.n;
    base_dim = log.dim;
    if (base_dim > 16) FAIL("the base file has more than 16 parameters");
    hb_free(header);
    hb_runlog_fini(&log);
}

static void write_file(const unsigned char *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) FAIL("cannot write the copy");
    for (size_t at = 0; at < n;) {
        ssize_t w = write(fd, p + at, n - at);
        if (w <= 0) FAIL("cannot write the copy");
        at += (size_t)w;
    }
    close(fd);
}

/* What `hbmpi report --json` does with a file that reads: the space from the header, the trials,
 * the report JSON. */
static void report(const char *header, const hb_runlog *log)
{
    json_t *h = json_loads(header, 0, NULL);
    char *st = h ? json_dumps(json_object_get(h, "space"), JSON_COMPACT) : NULL;
    hb_space *sp = NULL;
    hb_error err;
    if (st && hb_space_parse(st, strlen(st), "header", &sp, &err) == HB_OK && hb_space_dim(sp) == log->dim) {
        hb_trial *t = NULL;
        size_t n = 0;
        if (hb_runlog_trials(log, &t, &n) == HB_OK) {
            hb_opt_settings s;
            hb_opt_settings_init(&s);
            s.optimizer = "fuzz";
            const char *settings = NULL; /* the last session's, as `report` takes them */
            for (size_t i = 0; i < log->n; i++)
                if (log->ev[i].kind == HB_EV_SESSION) settings = log->ev[i].extras;
            hb_report_info info = {NULL, &s, settings, 1.0, 1, "damaged", NULL, 0};
            hb_buf b = HB_BUF_INIT;
            hb_report_json(sp, &info, t, n, &b);
            if (!b.failed) {
                json_t *back = json_loads(b.data, 0, NULL);
                json_error_t je;
                back = back ? back : json_loads(b.data, 0, &je);
                if (back == NULL) {
                    fprintf(stderr, "%s\n%d:%d: %s\n", b.data, je.line, je.column, je.text);
                    FAIL("the report JSON does not parse");
                }
                json_decref(back);
            }
            hb_buf_fini(&b);
            hb_free(t);
        }
    }
    hb_space_free(sp);
    free(st);
    json_decref(h);
}

/* Mode 2: events from the fuzzer's bytes. */
typedef struct cursor {
    const uint8_t *p;
    size_t n;
} cursor;

static uint64_t take(cursor *c, size_t k)
{
    uint64_t v = 0;
    for (size_t i = 0; i < k && c->n; i++, c->p++, c->n--) v |= (uint64_t)*c->p << (8 * i);
    return v;
}

static double take_double(cursor *c)
{
    uint64_t v = take(c, 8);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static size_t encode_events(cursor *c, size_t dim, unsigned char *j, size_t cap, hb_event *ev, double *xs,
                            char (*texts)[64], char (*extras)[64], size_t max_ev)
{
    size_t used = 0, k = 0;
    while (c->n > 0 && k < max_ev) {
        hb_event *e = &ev[k];
        memset(e, 0, sizeof *e);
        e->seq = base_events + k;
        e->kind = 1 + (int)(take(c, 1) % 8);
        e->id = take(c, 1) & 0x80 ? take(c, 8) : take(c, 1);
        e->budget = take_double(c);
        e->bracket = (int)(int8_t)take(c, 1);
        e->stage = (int)(int8_t)take(c, 1);
        e->loss = take_double(c);
        e->status = (int)(int8_t)take(c, 1);
        e->worker = (int)(int8_t)take(c, 1);
        e->session = (int)take(c, 1);
        e->start = take_double(c);
        e->end = take_double(c);
        e->config = take(c, 1);
        e->prev = take(c, 1) & 1 ? HB_NO_JOB : take(c, 1);
        e->spent = take(c, 1) & 1 ? NAN : take_double(c);
        size_t tl = take(c, 1) % 64;
        for (size_t i = 0; i < tl; i++) texts[k][i] = (char)(take(c, 1) | 1); /* no NUL inside */
        texts[k][tl] = '\0';
        e->text = tl ? texts[k] : NULL;
        size_t xl = take(c, 1) % 64; /* extras: often an object's opening, then anything */
        for (size_t i = 0; i < xl; i++) extras[k][i] = (char)(take(c, 1) | 1);
        if (xl) extras[k][0] = '{';
        extras[k][xl] = '\0';
        e->extras = xl ? extras[k] : NULL;
        if (e->kind == HB_EV_ISSUE || e->kind == HB_EV_WARM) {
            for (size_t i = 0; i < dim; i++) xs[k * dim + i] = take_double(c);
            e->x = xs + k * dim;
        }
        size_t sz = hb_record_size(e, dim);
        if (used + sz > cap) break;
        hb_record_encode(e, dim, j + used);
        used += sz;
        k++;
    }
    return k;
}

static int same_double(double a, double b) { return memcmp(&a, &b, 8) == 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_base();
    if (size == 0) return 0;
    int mode = data[0] % 3;
    data++;
    size--;
    enum { MAX_EV = 64 };
    static hb_event ev[MAX_EV];
    static double xs[MAX_EV * 16];
    static char texts[MAX_EV][64], extras[MAX_EV][64];
    size_t given = 0, dim = 0;
    if (mode == 0) {
        static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
        if (size >= 8 && memcmp(data, sig, 8) == 0) return 0; /* a file from before the seal: HDF5's */
        write_file(data, size);
    } else {
        unsigned char *copy = malloc(base_len);
        if (copy == NULL) return 0;
        memcpy(copy, base, base_len);
        memset(copy + joff, 0, jcap);
        if (mode == 1) {
            memcpy(copy + joff, data, size < jcap ? size : jcap);
        } else {
            dim = base_dim;
            cursor c = {data, size};
            given = encode_events(&c, dim, copy + joff, jcap, ev, xs, texts, extras, MAX_EV);
        }
        write_file(copy, base_len);
        free(copy);
    }
    char *header = NULL;
    hb_runlog log;
    hb_error err;
    int rc = hb_store_read(path, &header, &log, &err);
    if (rc != HB_OK) {
        if (header != NULL) FAIL("a failed read left a header");
        if (rc != HB_EDAMAGED && rc != HB_ESYNTAX && rc != HB_ENOMEM) FAIL("an unexpected status");
        if (err.msg[0] == '\0') FAIL("an error without a message");
        if (mode == 2) FAIL("records whose checks hold did not read");
        return 0;
    }
    if (log.n < base_events) FAIL("the table's events went missing");
    if (mode == 2) {
        if (log.n != base_events + given) FAIL("not every record given was read");
        for (size_t k = 0; k < given; k++) {
            const hb_event *a = &ev[k], *b = &log.ev[base_events + k];
            if (a->kind != b->kind || a->id != b->id || !same_double(a->budget, b->budget) ||
                a->status != b->status || a->worker != b->worker || !same_double(a->loss, b->loss) ||
                a->config != b->config || a->prev != b->prev || !same_double(a->spent, b->spent) ||
                (a->text == NULL) != (b->text == NULL) || (a->text && strcmp(a->text, b->text)) ||
                (a->extras == NULL) != (b->extras == NULL) || (a->extras && strcmp(a->extras, b->extras)))
                FAIL("an event changed between its record and the log");
            const double *x = hb_runlog_x(&log, base_events + k);
            for (size_t i = 0; a->x && i < dim; i++)
                if (!same_double(a->x[i], x[i])) FAIL("a configuration changed between its record and the log");
        }
    }
    report(header, &log);
    hb_free(header);
    hb_runlog_fini(&log);
    return 0;
}
