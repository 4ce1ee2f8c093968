/* runlog.c — the event log in memory and its journal records (hb_runlog.h). */
#include "hb_runlog.h"

#include <math.h>
#include <string.h>

#include "hb_report.h"

const char *hb_event_kind_name(int kind)
{
    static const char *const names[] = {"?", "issue", "result", "interrupted", "session", "end", "warm", "stop", "held"};
    return kind >= 1 && kind <= HB_EV_HELD ? names[kind] : names[0];
}

void hb_runlog_init(hb_runlog *log, size_t dim)
{
    memset(log, 0, sizeof *log);
    log->dim = dim;
}

static void free_strings(hb_event *e)
{
    hb_free((char *)e->text);
    hb_free((char *)e->extras);
}

void hb_runlog_fini(hb_runlog *log)
{
    for (size_t i = 0; i < log->n; i++) free_strings(&log->ev[i]);
    hb_free(log->ev);
    hb_free(log->xoff);
    hb_free(log->xs);
    memset(log, 0, sizeof *log);
}

static int has_x(int kind) { return kind == HB_EV_ISSUE || kind == HB_EV_WARM; }

int hb_runlog_add(hb_runlog *log, const hb_event *e)
{
    if (log->n == log->cap) {
        size_t c = log->cap ? 2 * log->cap : 1024;
        hb_event *ev = hb_realloc(log->ev, c * sizeof *ev);
        if (ev != NULL) log->ev = ev;
        size_t *xo = hb_realloc(log->xoff, c * sizeof *xo);
        if (xo != NULL) log->xoff = xo;
        if (ev == NULL || xo == NULL) return HB_ENOMEM;
        log->cap = c;
    }
    size_t d = log->dim;
    if (has_x(e->kind) && log->n_x + d > log->cap_x) {
        size_t c = log->cap_x ? 2 * log->cap_x : 1024 * (d ? d : 1);
        while (c < log->n_x + d) c *= 2;
        double *xs = hb_realloc(log->xs, c * sizeof *xs);
        if (xs == NULL) return HB_ENOMEM;
        log->xs = xs;
        log->cap_x = c;
    }
    hb_event c = *e;
    c.seq = log->n;
    c.text = c.extras = NULL;
    if ((e->text && (c.text = hb_strdup(e->text)) == NULL) ||
        (e->extras && (c.extras = hb_strdup(e->extras)) == NULL)) {
        free_strings(&c);
        return HB_ENOMEM;
    }
    c.x = NULL; /* kept as an offset into the pool, which may move */
    log->xoff[log->n] = SIZE_MAX;
    if (has_x(e->kind)) {
        if (d) memcpy(log->xs + log->n_x, e->x, d * sizeof(double));
        log->xoff[log->n] = log->n_x;
        log->n_x += d;
    }
    log->ev[log->n++] = c;
    return HB_OK;
}

const double *hb_runlog_x(const hb_runlog *log, size_t i)
{
    return log->xoff[i] == SIZE_MAX ? NULL : log->xs + log->xoff[i];
}

/* ---- records ---- */

uint64_t hb_check64(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 32;
    }
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

static size_t str_bytes(const char *s)
{
    if (s == NULL) return 0;
    size_t n = strlen(s) + 1;
    return n > 65535 ? 65535 : n;
}

size_t hb_record_size(const hb_event *e, size_t dim)
{
    size_t n = HB_REC_FIXED + (has_x(e->kind) ? dim * 8 : 0) + str_bytes(e->text) + str_bytes(e->extras);
    return ((n + 7) & ~(size_t)7) + HB_REC_TRAILER;
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static void putd(unsigned char *p, double v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static double getd(const unsigned char *p) { double v; memcpy(&v, p, 8); return v; }

static void put_str(unsigned char **q, const char *s, size_t n)
{
    if (n == 0) return;
    memcpy(*q, s, n - 1);
    (*q)[n - 1] = '\0';
    *q += n;
}

static uint64_t record_check(const unsigned char *p, uint32_t size)
{
    uint64_t h = hb_check64(p + 4, 12, 0x6862726563ull); /* size and seq (a 12-byte word run) */
    return hb_check64(p + HB_REC_HEADER, size - HB_REC_HEADER, h);
}

void hb_record_encode(const hb_event *e, size_t dim, unsigned char *out)
{
    size_t size = hb_record_size(e, dim);
    memset(out + 4, 0, size - 4);
    size_t nx = has_x(e->kind) ? dim : 0, nt = str_bytes(e->text), ne = str_bytes(e->extras);
    put32(out + 4, (uint32_t)size);
    put64(out + 8, e->seq);
    out[24] = (unsigned char)e->kind;
    put32(out + 28, (uint32_t)e->session);
    put64(out + 32, e->id);
    putd(out + 40, e->budget);
    put32(out + 48, (uint32_t)e->bracket);
    put32(out + 52, (uint32_t)e->stage);
    putd(out + 56, e->loss);
    put32(out + 64, (uint32_t)e->status);
    put32(out + 68, (uint32_t)e->worker);
    putd(out + 72, e->start);
    putd(out + 80, e->end);
    put32(out + 88, (uint32_t)nx);
    out[92] = (unsigned char)(nt & 0xff);
    out[93] = (unsigned char)(nt >> 8);
    out[94] = (unsigned char)(ne & 0xff);
    out[95] = (unsigned char)(ne >> 8);
    unsigned char *q = out + HB_REC_FIXED;
    if (nx) memcpy(q, e->x, nx * 8);
    q += nx * 8;
    put_str(&q, e->text, nt);
    put_str(&q, e->extras, ne);
    unsigned char *tr = out + size - HB_REC_TRAILER;
    put64(tr, e->config);
    put64(tr + 8, e->prev);
    putd(tr + 16, e->spent);
    put64(out + 16, record_check(out, (uint32_t)size));
    /* the magic last: until it is there, the record does not exist */
    __atomic_store_n((uint32_t *)(void *)out, HB_REC_MAGIC, __ATOMIC_RELEASE);
}

size_t hb_record_decode(const unsigned char *p, size_t avail, uint64_t seq, size_t dim, hb_event *e,
                        const unsigned char **x)
{
    if (avail < HB_REC_FIXED || get32(p) != HB_REC_MAGIC) return 0;
    uint32_t size = get32(p + 4);
    if (size < HB_REC_FIXED || size > avail || (size & 7) || get64(p + 8) != seq) return 0;
    if (get64(p + 16) != record_check(p, size)) return 0;
    uint32_t nx = get32(p + 88);
    size_t nt = p[92] | (size_t)p[93] << 8, ne = p[94] | (size_t)p[95] << 8;
    int kind = p[24];
    if (kind < HB_EV_ISSUE || kind > HB_EV_HELD || (has_x(kind) ? nx != dim : nx != 0) ||
        HB_REC_FIXED + (size_t)nx * 8 + nt + ne > size)
        return 0;
    const unsigned char *q = p + HB_REC_FIXED + (size_t)nx * 8;
    if ((nt && q[nt - 1] != '\0') || (ne && q[nt + ne - 1] != '\0')) return 0;
    memset(e, 0, sizeof *e);
    e->seq = seq;
    e->kind = kind;
    e->session = (int)get32(p + 28);
    e->id = get64(p + 32);
    e->budget = getd(p + 40);
    e->bracket = (int)get32(p + 48);
    e->stage = (int)get32(p + 52);
    e->loss = getd(p + 56);
    e->status = (int)get32(p + 64);
    e->worker = (int)get32(p + 68);
    e->start = getd(p + 72);
    e->end = getd(p + 80);
    e->text = nt ? (const char *)q : NULL;
    e->extras = ne ? (const char *)q + nt : NULL;
    size_t body = (HB_REC_FIXED + (size_t)nx * 8 + nt + ne + 7) & ~(size_t)7;
    if (size >= body + HB_REC_TRAILER) {
        const unsigned char *tr = p + body;
        e->config = get64(tr);
        e->prev = get64(tr + 8);
        e->spent = getd(tr + 16);
    } else { /* a record from before the trailer: every job its own configuration */
        e->config = e->id;
        e->prev = HB_NO_JOB;
        e->spent = NAN;
    }
    *x = has_x(kind) ? p + HB_REC_FIXED : NULL;
    return size;
}

void hb_record_x(const unsigned char *x, size_t dim, double *out)
{
    if (dim) memcpy(out, x, dim * 8);
}

/* ---- trials ---- */

/* The latest issue event of each job id so far, in an open-addressing table: ids are whatever
 * the file says (a damaged one may say 2^64 - 1), so never an array indexed by id. */
typedef struct issue_map {
    uint64_t *id;
    size_t *at, mask;
} issue_map;

static size_t *issue_slot(issue_map *m, uint64_t id)
{
    size_t h = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & m->mask;
    while (m->at[h] != SIZE_MAX && m->id[h] != id) h = (h + 1) & m->mask;
    m->id[h] = id;
    return &m->at[h];
}

int hb_runlog_trials(const hb_runlog *log, hb_trial **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t n_issue = 0, n_res = 0;
    for (size_t i = 0; i < log->n; i++) {
        if (log->ev[i].kind == HB_EV_ISSUE) n_issue++;
        if (log->ev[i].kind == HB_EV_RESULT) n_res++;
    }
    size_t slots = 16;
    while (slots < 2 * n_issue) slots *= 2;
    issue_map m = {hb_malloc(slots * sizeof *m.id), hb_malloc(slots * sizeof *m.at), slots - 1};
    hb_trial *t = hb_malloc((n_res ? n_res : 1) * sizeof *t);
    if (m.id == NULL || m.at == NULL || t == NULL) {
        hb_free(m.id);
        hb_free(m.at);
        hb_free(t);
        return HB_ENOMEM;
    }
    for (size_t k = 0; k < slots; k++) m.at[k] = SIZE_MAX;
    size_t k = 0;
    int rc = HB_OK;
    for (size_t i = 0; i < log->n && rc == HB_OK; i++) {
        const hb_event *e = &log->ev[i];
        if (e->kind == HB_EV_ISSUE) *issue_slot(&m, e->id) = i;
        if (e->kind != HB_EV_RESULT) continue;
        size_t at = *issue_slot(&m, e->id);
        if (at == SIZE_MAX) {
            rc = HB_EINVAL;
            break;
        }
        const hb_event *is = &log->ev[at];
        t[k++] = (hb_trial){e->id,      hb_runlog_x(log, at), is->budget, e->loss,
                            (hb_trial_status)e->status, is->bracket, is->stage, e->worker,
                            e->start,   e->end,     e->text,    e->extras,
                            is->config, is->prev,   isnan(e->spent) ? is->budget : e->spent};
    }
    hb_free(m.id);
    hb_free(m.at);
    if (rc != HB_OK) {
        hb_free(t);
        return rc;
    }
    *out = t;
    *n = k;
    return HB_OK;
}
