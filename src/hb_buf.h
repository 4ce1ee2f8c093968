/* hb_buf.h — a growable byte buffer and the JSON writing helpers built on it (strings with
 * escapes, numbers in their shortest round-trip form). Writing only: reading JSON is jansson's. */
#ifndef HB_BUF_H
#define HB_BUF_H

#include "hb_common.h"

typedef struct hb_buf {
    char *data; /* NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    int failed; /* an allocation failed: later appends do nothing */
} hb_buf;

#define HB_BUF_INIT {NULL, 0, 0, 0}

HB_API void hb_buf_fini(hb_buf *b);
HB_API void hb_buf_reset(hb_buf *b);
/* Each append returns HB_OK or HB_ENOMEM (and then sets b->failed). */
HB_API int hb_buf_append(hb_buf *b, const char *s, size_t n);
HB_API int hb_buf_puts(hb_buf *b, const char *s);
HB_API int hb_buf_printf(hb_buf *b, const char *fmt, ...) HB_PRINTF(2, 3);
/* The length of the UTF-8 character at s[0..n) (1 to 4), or 0 if the bytes there are not one:
 * a stray continuation byte, a truncated or overlong sequence, a surrogate, beyond U+10FFFF. */
HB_API size_t hb_utf8_len(const unsigned char *s, size_t n);
/* A JSON string literal with quotes and escapes; bytes that are not UTF-8 become U+FFFD. */
HB_API int hb_buf_json_string(hb_buf *b, const char *s);
/* 'json' as it is when it is one JSON object, else as a JSON string: text that a run file holds
 * as JSON (settings, extras, session information) may be damaged, and the output stays JSON. */
HB_API int hb_buf_json_object(hb_buf *b, const char *json);
/* A JSON number: shortest text that reads back as the same double; non-finite -> null. */
HB_API int hb_buf_json_number(hb_buf *b, double v);
/* Write the shortest round-trip text of 'v' into 'out' (at least 32 bytes). */
HB_API void hb_format_double(char *out, size_t n, double v);

#endif
