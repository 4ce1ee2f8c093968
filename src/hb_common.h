/* hb_common.h — status codes, the error record, allocation hooks and the panic hook.
 * Everything in libhb reports failure through these; nothing here prints or exits. */
#ifndef HB_COMMON_H
#define HB_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define HB_API __attribute__((visibility("default")))
#define HB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define HB_API
#define HB_PRINTF(f, a)
#endif

#define HB_VERSION_MAJOR 0
#define HB_VERSION_MINOR 1
#define HB_VERSION_PATCH 0
#define HB_VERSION_STRING "0.1.0"

/* No job: what a configuration's first evaluation names as its previous job. */
#define HB_NO_JOB UINT64_MAX

/* Status codes: 0 is success, errors are negative (libuv). */
#define HB_STATUS_MAP(X)                                                                          \
    X(OK, 0, "success")                                                                            \
    X(ENOMEM, -1, "out of memory")                                                                 \
    X(EINVAL, -2, "invalid argument")                                                              \
    X(ESYNTAX, -3, "malformed input")                                                              \
    X(EKERNEL, -4, "kernel evaluation failed")                                                     \
    X(EMPI, -5, "MPI call failed")                                                                 \
    X(EIO, -6, "I/O failed")                                                                       \
    X(ENOTFOUND, -7, "not found")                                                                  \
    X(ERANGE, -8, "value out of range")                                                            \
    X(EINTR, -9, "interrupted by a signal")                                                        \
    X(ELOST, -10, "a worker was lost")                                                             \
    X(EDAMAGED, -11, "damaged file")

#define HB_STATUS_ENUM_(name, code, text) HB_##name = code,
enum hb_status { HB_STATUS_MAP(HB_STATUS_ENUM_) };
#undef HB_STATUS_ENUM_

/* An error record. 'where' holds "FILE:LINE:COL" when a file position is known, else "".
 * Every function that takes an 'err' accepts NULL. */
typedef struct hb_error {
    int status;      /* one of enum hb_status */
    char where[256]; /* "file:line:col" or "" */
    char msg[512];   /* what is wrong, one line, no trailing newline */
} hb_error;

/* Text for a status code; never NULL. */
HB_API const char *hb_strerror(int status);

/* Fill 'err' (if not NULL) and return 'status'. 'where' may be NULL. */
HB_API int hb_error_set(hb_error *err, int status, const char *where, const char *fmt, ...)
    HB_PRINTF(4, 5);

/* Clear an error record. */
HB_API void hb_error_clear(hb_error *err);

/* Allocation: all heap memory of libhb goes through these. hb_free(NULL) is a no-op. */
HB_API void *hb_malloc(size_t n);
HB_API void *hb_calloc(size_t n, size_t size);
HB_API void *hb_realloc(void *p, size_t n);
HB_API void hb_free(void *p);
/* Like hb_malloc, counted in hb_alloc_live(), but never made to fail by the test hook: for
 * third-party libraries (jansson) whose out-of-memory reports cannot be told from bad input. */
HB_API void *hb_malloc_counted(size_t n);
HB_API char *hb_strdup(const char *s);

/* Number of blocks allocated through these functions and not yet freed (leak checks). */
HB_API long hb_alloc_live(void);

/* Test hook: make the 'n'-th allocation from now fail (0 = the next one); -1 turns it off.
 * Returns how many allocations happened since the last call. */
HB_API long hb_alloc_fail_after(long n);

/* qsort comparator of doubles, ascending (NaN compares equal to everything: keep it out). */
HB_API int hb_cmp_double(const void *a, const void *b);

/* Panic hook: called by HB_ASSERT on a bug in hbmpi itself. The default prints and aborts. */
typedef void (*hb_panic_fn)(const char *file, int line, const char *what);
HB_API void hb_set_panic(hb_panic_fn fn);
HB_API void hb__panic(const char *file, int line, const char *what);

#define HB_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c)) hb__panic(__FILE__, __LINE__, #c);                                               \
    } while (0)

#endif
