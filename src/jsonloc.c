/* jsonloc.c — positions of the values of an already-parsed JSON text (see jsonloc.h). */
#include "jsonloc.h"

#include <stdio.h>
#include <string.h>

typedef struct rec {
    const json_t *node;   /* the value */
    const json_t *parent; /* containing object or array, NULL for the root */
    const char *key;      /* member name (jansson's copy), or NULL */
    size_t index;         /* element index in an array */
    size_t offset;        /* byte offset of the value's first character */
} rec;

struct hb_jsonloc {
    rec *recs;
    size_t n, cap;
};

typedef struct walker {
    const char *s;
    size_t len, pos;
    hb_jsonloc *loc;
    int failed;
} walker;

/* 1 if 'c' is JSON white space. Not strchr: it finds the terminating NUL of its set too. */
static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_ws(walker *w)
{
    while (w->pos < w->len && is_ws(w->s[w->pos])) w->pos++;
}

static void add(walker *w, const json_t *node, const json_t *parent, const char *key, size_t index,
                size_t offset)
{
    hb_jsonloc *l = w->loc;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        rec *r = hb_realloc(l->recs, cap * sizeof *r);
        if (r == NULL) {
            w->failed = 1;
            return;
        }
        l->recs = r;
        l->cap = cap;
    }
    l->recs[l->n++] = (rec){node, parent, key, index, offset};
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
}

static unsigned hex4(const char *p)
{
    return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode the string literal at w->pos (a '"') into a new buffer; advance past it. */
static char *read_string(walker *w)
{
    size_t start = ++w->pos, end = start;
    while (end < w->len && w->s[end] != '"') end += w->s[end] == '\\' ? 2 : 1;
    char *out = hb_malloc(end - start + 1), *o = out;
    if (out == NULL) {
        w->failed = 1;
        w->pos = end + 1;
        return NULL;
    }
    for (size_t i = start; i < end; i++) {
        if (w->s[i] != '\\') {
            *o++ = w->s[i];
            continue;
        }
        char c = w->s[++i];
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp = hex4(w->s + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < end && w->s[i + 1] == '\\') {
                unsigned lo = hex4(w->s + i + 3);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            o += put_utf8(o, cp);
            break;
        }
        default: *o++ = c; break; /* \" \\ \/ */
        }
    }
    *o = '\0';
    w->pos = end + 1;
    return out;
}

static void walk(walker *w, const json_t *node, const json_t *parent, const char *key, size_t index)
{
    skip_ws(w);
    if (w->failed || w->pos >= w->len || node == NULL) return;
    add(w, node, parent, key, index, w->pos);
    char c = w->s[w->pos];
    if (c == '{') {
        w->pos++;
        for (;;) {
            skip_ws(w);
            if (w->pos >= w->len || w->s[w->pos] == '}') break;
            if (w->s[w->pos] == ',') {
                w->pos++;
                continue;
            }
            char *k = read_string(w);
            if (k == NULL) return;
            skip_ws(w);
            w->pos++; /* ':' */
            /* Use jansson's own copy of the key, which lives as long as the tree. */
            void *it = json_object_iter_at((json_t *)node, k);
            hb_free(k);
            if (it == NULL) return;
            walk(w, json_object_iter_value(it), node, json_object_iter_key(it), 0);
            if (w->failed) return;
        }
        w->pos++;
    } else if (c == '[') {
        w->pos++;
        size_t i = 0;
        for (;;) {
            skip_ws(w);
            if (w->pos >= w->len || w->s[w->pos] == ']') break;
            if (w->s[w->pos] == ',') {
                w->pos++;
                continue;
            }
            /* Every turn must consume text: a text that disagrees with the tree ends the walk
             * (the positions after it stay unknown) instead of looping. */
            size_t before = w->pos;
            walk(w, json_array_get(node, i), node, NULL, i);
            i++;
            if (w->failed || w->pos == before) return;
        }
        w->pos++;
    } else if (c == '"') {
        hb_free(read_string(w));
    } else {
        while (w->pos < w->len && !is_ws(w->s[w->pos]) && !strchr(",]}", w->s[w->pos]) && w->s[w->pos])
            w->pos++;
    }
}

int hb__jsonloc_load(const char *text, size_t len, const char *name, json_t **root, hb_error *err)
{
    *root = NULL;
    /* jansson reads a NUL byte outside a string as the end of the text, and the rest would be
     * silently ignored: refuse it where it is. */
    const char *nul = memchr(text, '\0', len);
    if (nul != NULL) {
        int line, col;
        hb__jsonloc_linecol(text, len, (size_t)(nul - text), &line, &col);
        char where[256];
        snprintf(where, sizeof where, "%s:%d:%d", name, line, col);
        return hb_error_set(err, HB_ESYNTAX, where, "a NUL byte (the file is binary or damaged)");
    }
    json_error_t je;
    *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    /* jansson leaves the text empty when its very first allocation fails. */
    if (*root == NULL && (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0'))
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (*root == NULL) {
        char where[256];
        snprintf(where, sizeof where, "%s:%d:%d", name, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1);
        return hb_error_set(err, HB_ESYNTAX, where, "%s", je.text);
    }
    return HB_OK;
}

int hb__jsonloc_build(const char *text, size_t len, const json_t *root, hb_jsonloc **out)
{
    *out = NULL;
    hb_jsonloc *loc = hb_calloc(1, sizeof *loc);
    if (loc == NULL) return HB_ENOMEM;
    walker w = {text, len, 0, loc, 0};
    walk(&w, root, NULL, NULL, 0);
    if (w.failed) {
        hb__jsonloc_free(loc);
        return HB_ENOMEM;
    }
    *out = loc;
    return HB_OK;
}

void hb__jsonloc_free(hb_jsonloc *loc)
{
    if (loc == NULL) return;
    hb_free(loc->recs);
    hb_free(loc);
}

size_t hb__jsonloc_of(const hb_jsonloc *loc, const json_t *node)
{
    for (size_t i = 0; loc && i < loc->n; i++)
        if (loc->recs[i].node == node) return loc->recs[i].offset;
    return (size_t)-1;
}

size_t hb__jsonloc_member(const hb_jsonloc *loc, const json_t *obj, const char *key)
{
    for (size_t i = 0; loc && i < loc->n; i++)
        if (loc->recs[i].parent == obj && loc->recs[i].key && strcmp(loc->recs[i].key, key) == 0)
            return loc->recs[i].offset;
    return (size_t)-1;
}

size_t hb__jsonloc_element(const hb_jsonloc *loc, const json_t *arr, size_t i)
{
    for (size_t k = 0; loc && k < loc->n; k++)
        if (loc->recs[k].parent == arr && loc->recs[k].key == NULL && loc->recs[k].index == i)
            return loc->recs[k].offset;
    return (size_t)-1;
}

void hb__jsonloc_linecol(const char *text, size_t len, size_t offset, int *line, int *col)
{
    int l = 1, c = 1;
    if (offset > len) offset = len;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

int hb__jsonloc_fail(hb_error *err, const char *text, size_t len, const char *name, size_t offset, const char *fmt,
                     va_list ap)
{
    int line = 1, col = 1;
    if (offset != (size_t)-1) hb__jsonloc_linecol(text, len, offset, &line, &col);
    if (err) {
        err->status = HB_ESYNTAX;
        snprintf(err->where, sizeof err->where, "%s:%d:%d", name, line, col);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return HB_ESYNTAX;
}

size_t hb__jsonloc_member_or_obj(const hb_jsonloc *loc, const json_t *obj, const char *key)
{
    size_t o = hb__jsonloc_member(loc, obj, key);
    return o != (size_t)-1 ? o : hb__jsonloc_of(loc, obj);
}

size_t hb__jsonloc_element_or_arr(const hb_jsonloc *loc, const json_t *arr, size_t i)
{
    size_t o = hb__jsonloc_element(loc, arr, i);
    return o != (size_t)-1 ? o : hb__jsonloc_of(loc, arr);
}
