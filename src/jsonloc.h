/* jsonloc.h — where each value of a jansson document sits in its source text, so that errors
 * about meaning (not syntax) can say FILE:LINE:COL. It does not parse JSON: jansson has already
 * accepted the text, and this only walks it alongside the tree jansson built. */
#ifndef HB_JSONLOC_H
#define HB_JSONLOC_H

#include <jansson.h>
#include <stdarg.h>

#include "hb_common.h"

typedef struct hb_jsonloc hb_jsonloc;

/* Parse 'text' as one JSON document (duplicate keys refused) into '*root'. A NUL byte anywhere or
 * a syntax error: HB_ESYNTAX with where = "name:line:col"; HB_ENOMEM when out of memory. */
int hb__jsonloc_load(const char *text, size_t len, const char *name, json_t **root, hb_error *err);

/* Record the position of every value of 'root', which jansson parsed from 'text'. */
int hb__jsonloc_build(const char *text, size_t len, const json_t *root, hb_jsonloc **out);
void hb__jsonloc_free(hb_jsonloc *loc);

/* Byte offset of the value 'node' (not for true/false/null, which jansson shares), or of member
 * 'key' of object 'obj' (any value), or of element 'i' of array 'arr'; (size_t)-1 if unknown. */
size_t hb__jsonloc_of(const hb_jsonloc *loc, const json_t *node);
size_t hb__jsonloc_member(const hb_jsonloc *loc, const json_t *obj, const char *key);
size_t hb__jsonloc_element(const hb_jsonloc *loc, const json_t *arr, size_t i);

/* The same, falling back on the position of 'obj' or 'arr' itself when the member's is unknown. */
size_t hb__jsonloc_member_or_obj(const hb_jsonloc *loc, const json_t *obj, const char *key);
size_t hb__jsonloc_element_or_arr(const hb_jsonloc *loc, const json_t *arr, size_t i);

/* 1-based line and column (in characters) of byte 'offset' of 'text'. */
void hb__jsonloc_linecol(const char *text, size_t len, size_t offset, int *line, int *col);

/* Set 'err' (if not NULL) to HB_ESYNTAX with where = "name:line:col" of byte 'offset' of 'text'
 * ((size_t)-1: the start) and the message 'fmt'; returns HB_ESYNTAX. */
int hb__jsonloc_fail(hb_error *err, const char *text, size_t len, const char *name, size_t offset, const char *fmt,
                     va_list ap);

#endif
