/* common.c — status texts, error records, allocation hooks with failure injection, panic hook.
 * Library code never prints; the default panic hook is the one exception (a bug, not input). */
#include "hb_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hb_strerror(int status)
{
#define HB_STATUS_CASE_(name, code, text)                                                          \
    case code: return text;
    switch (status) {
        HB_STATUS_MAP(HB_STATUS_CASE_)
    default: return "unknown error";
    }
#undef HB_STATUS_CASE_
}

int hb_error_set(hb_error *err, int status, const char *where, const char *fmt, ...)
{
    if (err == NULL) return status;
    err->status = status;
    snprintf(err->where, sizeof err->where, "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

void hb_error_clear(hb_error *err)
{
    if (err == NULL) return;
    err->status = HB_OK;
    err->where[0] = '\0';
    err->msg[0] = '\0';
}

static long fail_countdown = -1; /* allocations left before one fails; -1 = never */
static long alloc_count = 0;     /* allocations since the last hb_alloc_fail_after() */
static long live_blocks = 0;     /* blocks allocated and not yet freed */

long hb_alloc_live(void) { return live_blocks; }

long hb_alloc_fail_after(long n)
{
    long c = alloc_count;
    fail_countdown = n;
    alloc_count = 0;
    return c;
}

static int should_fail(void)
{
    alloc_count++;
    if (fail_countdown < 0) return 0;
    if (fail_countdown == 0) {
        fail_countdown = -1;
        return 1;
    }
    fail_countdown--;
    return 0;
}

void *hb_malloc(size_t n)
{
    if (should_fail()) return NULL;
    void *p = malloc(n ? n : 1);
    live_blocks += p != NULL;
    return p;
}

void *hb_malloc_counted(size_t n)
{
    void *p = malloc(n ? n : 1);
    live_blocks += p != NULL;
    return p;
}

void *hb_calloc(size_t n, size_t size)
{
    if (should_fail()) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    live_blocks += p != NULL;
    return p;
}

void *hb_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    void *q = realloc(p, n ? n : 1);
    live_blocks += q != NULL && p == NULL;
    return q;
}

void hb_free(void *p)
{
    live_blocks -= p != NULL;
    free(p);
}

char *hb_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hb_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void default_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "hbmpi: internal error at %s:%d: %s\n", file, line, what);
    abort();
}

static hb_panic_fn panic_fn = default_panic;

void hb_set_panic(hb_panic_fn fn) { panic_fn = fn ? fn : default_panic; }

void hb__panic(const char *file, int line, const char *what)
{
    panic_fn(file, line, what);
    abort(); /* a hook must not return */
}

int hb_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
