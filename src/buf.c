/* buf.c — growable buffer and JSON writing helpers. */
#include "hb_buf.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hb_buf_fini(hb_buf *b)
{
    hb_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void hb_buf_reset(hb_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data) b->data[0] = '\0';
}

static int reserve(hb_buf *b, size_t extra)
{
    if (b->failed) return HB_ENOMEM;
    if (b->len + extra + 1 <= b->cap) return HB_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = hb_realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return HB_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return HB_OK;
}

int hb_buf_append(hb_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) != HB_OK) return HB_ENOMEM;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return HB_OK;
}

int hb_buf_puts(hb_buf *b, const char *s) { return hb_buf_append(b, s, strlen(s)); }

int hb_buf_printf(hb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return HB_EINVAL;
    if (reserve(b, (size_t)n) != HB_OK) return HB_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return HB_OK;
}

size_t hb_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || n < len) return 0;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

int hb_buf_json_string(hb_buf *b, const char *s)
{
    int rc = hb_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == HB_OK; p++) {
        if (*p >= 0x80) { /* UTF-8 as it is; a byte that is not UTF-8 becomes U+FFFD */
            size_t avail = !p[1] ? 1 : !p[2] ? 2 : !p[3] ? 3 : 4; /* never past the NUL */
            size_t n = hb_utf8_len(p, avail);
            rc = n ? hb_buf_append(b, (const char *)p, n) : hb_buf_append(b, "\xEF\xBF\xBD", 3);
            p += n ? n - 1 : 0;
            continue;
        }
        switch (*p) {
        case '"': rc = hb_buf_append(b, "\\\"", 2); break;
        case '\\': rc = hb_buf_append(b, "\\\\", 2); break;
        case '\n': rc = hb_buf_append(b, "\\n", 2); break;
        case '\r': rc = hb_buf_append(b, "\\r", 2); break;
        case '\t': rc = hb_buf_append(b, "\\t", 2); break;
        case '\b': rc = hb_buf_append(b, "\\b", 2); break;
        case '\f': rc = hb_buf_append(b, "\\f", 2); break;
        default:
            if (*p < 0x20)
                rc = hb_buf_printf(b, "\\u%04x", *p);
            else
                rc = hb_buf_append(b, (const char *)p, 1);
        }
    }
    if (rc == HB_OK) rc = hb_buf_append(b, "\"", 1);
    return rc;
}

int hb_buf_json_object(hb_buf *b, const char *json)
{
    json_t *o = json_loads(json, 0, NULL);
    int rc = json_is_object(o) ? hb_buf_puts(b, json) : hb_buf_json_string(b, json);
    json_decref(o);
    return rc;
}

void hb_format_double(char *out, size_t n, double v)
{
    if (!isfinite(v)) {
        snprintf(out, n, "%s", isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
        return;
    }
    if (v == 0.0) {
        snprintf(out, n, "%s", signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* The fewest significant digits that read back as v. Whether p digits do is monotone in p
     * (the nearest (p+1)-digit decimal is at least as near as the nearest p-digit one), so a
     * binary search finds the same answer as trying 1, 2, ... in about 4 tries instead of 17. */
    int lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(out, n, "%.*g", mid, v);
        if (strtod(out, NULL) == v)
            hi = mid;
        else
            lo = mid + 1;
    }
    snprintf(out, n, "%.*g", lo, v);
    /* Keep a marker that this is a real number when it prints like an integer. */
    if (strpbrk(out, ".eEn") == NULL && strlen(out) + 3 <= n) strcat(out, ".0");
}

int hb_buf_json_number(hb_buf *b, double v)
{
    if (!isfinite(v)) return hb_buf_puts(b, "null");
    char tmp[40];
    hb_format_double(tmp, sizeof tmp, v);
    return hb_buf_puts(b, tmp);
}
