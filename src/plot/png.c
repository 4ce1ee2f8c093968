/* png.c — the figure as a PNG: a small rasteriser for the primitives of plot_impl.h (lines,
 * markers, rectangles, text in a built-in 5x9 bitmap font; edges anti-aliased by coverage)
 * and a PNG encoder (8-bit RGB, filtered rows, IDAT through zlib's deflate, CRCs by zlib's
 * crc32). zlib allocates through hb_calloc/hb_free. Pure: bytes into an hb_buf, no file I/O. */
#include "plot_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Glyphs for ASCII 32..126: 9 rows (7 above the baseline, 2 below), bit 4 the leftmost of 5
 * columns. Drawn for hbmpi. */
static const unsigned char font[HB__FONT_LAST - HB__FONT_FIRST + 1][HB__FONT_ROWS] = {
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00}, /*   */
    {0x04,0x04,0x04,0x04,0x04,0x00,0x04,0x00,0x00}, /* ! */
    {0x0a,0x0a,0x0a,0x00,0x00,0x00,0x00,0x00,0x00}, /* " */
    {0x0a,0x0a,0x1f,0x0a,0x1f,0x0a,0x0a,0x00,0x00}, /* # */
    {0x04,0x0f,0x14,0x0e,0x05,0x1e,0x04,0x00,0x00}, /* $ */
    {0x18,0x19,0x02,0x04,0x08,0x13,0x03,0x00,0x00}, /* % */
    {0x0c,0x12,0x14,0x08,0x15,0x12,0x0d,0x00,0x00}, /* & */
    {0x04,0x04,0x04,0x00,0x00,0x00,0x00,0x00,0x00}, /* quote */
    {0x02,0x04,0x08,0x08,0x08,0x04,0x02,0x00,0x00}, /* ( */
    {0x08,0x04,0x02,0x02,0x02,0x04,0x08,0x00,0x00}, /* ) */
    {0x00,0x04,0x15,0x0e,0x15,0x04,0x00,0x00,0x00}, /* '*' */
    {0x00,0x04,0x04,0x1f,0x04,0x04,0x00,0x00,0x00}, /* + */
    {0x00,0x00,0x00,0x00,0x00,0x0c,0x0c,0x04,0x08}, /* , */
    {0x00,0x00,0x00,0x1f,0x00,0x00,0x00,0x00,0x00}, /* - */
    {0x00,0x00,0x00,0x00,0x00,0x0c,0x0c,0x00,0x00}, /* . */
    {0x00,0x01,0x02,0x04,0x08,0x10,0x00,0x00,0x00}, /* '/' */
    {0x0e,0x11,0x13,0x15,0x19,0x11,0x0e,0x00,0x00}, /* 0 */
    {0x04,0x0c,0x04,0x04,0x04,0x04,0x0e,0x00,0x00}, /* 1 */
    {0x0e,0x11,0x01,0x02,0x04,0x08,0x1f,0x00,0x00}, /* 2 */
    {0x1f,0x02,0x04,0x02,0x01,0x11,0x0e,0x00,0x00}, /* 3 */
    {0x02,0x06,0x0a,0x12,0x1f,0x02,0x02,0x00,0x00}, /* 4 */
    {0x1f,0x10,0x1e,0x01,0x01,0x11,0x0e,0x00,0x00}, /* 5 */
    {0x06,0x08,0x10,0x1e,0x11,0x11,0x0e,0x00,0x00}, /* 6 */
    {0x1f,0x01,0x02,0x04,0x08,0x08,0x08,0x00,0x00}, /* 7 */
    {0x0e,0x11,0x11,0x0e,0x11,0x11,0x0e,0x00,0x00}, /* 8 */
    {0x0e,0x11,0x11,0x0f,0x01,0x02,0x0c,0x00,0x00}, /* 9 */
    {0x00,0x0c,0x0c,0x00,0x0c,0x0c,0x00,0x00,0x00}, /* : */
    {0x00,0x0c,0x0c,0x00,0x0c,0x0c,0x04,0x08,0x00}, /* ; */
    {0x02,0x04,0x08,0x10,0x08,0x04,0x02,0x00,0x00}, /* < */
    {0x00,0x00,0x1f,0x00,0x1f,0x00,0x00,0x00,0x00}, /* = */
    {0x08,0x04,0x02,0x01,0x02,0x04,0x08,0x00,0x00}, /* > */
    {0x0e,0x11,0x01,0x02,0x04,0x00,0x04,0x00,0x00}, /* ? */
    {0x0e,0x11,0x17,0x15,0x17,0x10,0x0f,0x00,0x00}, /* @ */
    {0x0e,0x11,0x11,0x1f,0x11,0x11,0x11,0x00,0x00}, /* A */
    {0x1e,0x11,0x11,0x1e,0x11,0x11,0x1e,0x00,0x00}, /* B */
    {0x0e,0x11,0x10,0x10,0x10,0x11,0x0e,0x00,0x00}, /* C */
    {0x1c,0x12,0x11,0x11,0x11,0x12,0x1c,0x00,0x00}, /* D */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x1f,0x00,0x00}, /* E */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x10,0x00,0x00}, /* F */
    {0x0e,0x11,0x10,0x17,0x11,0x11,0x0f,0x00,0x00}, /* G */
    {0x11,0x11,0x11,0x1f,0x11,0x11,0x11,0x00,0x00}, /* H */
    {0x0e,0x04,0x04,0x04,0x04,0x04,0x0e,0x00,0x00}, /* I */
    {0x07,0x02,0x02,0x02,0x02,0x12,0x0c,0x00,0x00}, /* J */
    {0x11,0x12,0x14,0x18,0x14,0x12,0x11,0x00,0x00}, /* K */
    {0x10,0x10,0x10,0x10,0x10,0x10,0x1f,0x00,0x00}, /* L */
    {0x11,0x1b,0x15,0x15,0x11,0x11,0x11,0x00,0x00}, /* M */
    {0x11,0x11,0x19,0x15,0x13,0x11,0x11,0x00,0x00}, /* N */
    {0x0e,0x11,0x11,0x11,0x11,0x11,0x0e,0x00,0x00}, /* O */
    {0x1e,0x11,0x11,0x1e,0x10,0x10,0x10,0x00,0x00}, /* P */
    {0x0e,0x11,0x11,0x11,0x15,0x12,0x0d,0x00,0x00}, /* Q */
    {0x1e,0x11,0x11,0x1e,0x14,0x12,0x11,0x00,0x00}, /* R */
    {0x0f,0x10,0x10,0x0e,0x01,0x01,0x1e,0x00,0x00}, /* S */
    {0x1f,0x04,0x04,0x04,0x04,0x04,0x04,0x00,0x00}, /* T */
    {0x11,0x11,0x11,0x11,0x11,0x11,0x0e,0x00,0x00}, /* U */
    {0x11,0x11,0x11,0x11,0x11,0x0a,0x04,0x00,0x00}, /* V */
    {0x11,0x11,0x11,0x15,0x15,0x15,0x0a,0x00,0x00}, /* W */
    {0x11,0x11,0x0a,0x04,0x0a,0x11,0x11,0x00,0x00}, /* X */
    {0x11,0x11,0x0a,0x04,0x04,0x04,0x04,0x00,0x00}, /* Y */
    {0x1f,0x01,0x02,0x04,0x08,0x10,0x1f,0x00,0x00}, /* Z */
    {0x0e,0x08,0x08,0x08,0x08,0x08,0x0e,0x00,0x00}, /* [ */
    {0x00,0x10,0x08,0x04,0x02,0x01,0x00,0x00,0x00}, /* backslash */
    {0x0e,0x02,0x02,0x02,0x02,0x02,0x0e,0x00,0x00}, /* ] */
    {0x04,0x0a,0x11,0x00,0x00,0x00,0x00,0x00,0x00}, /* ^ */
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x1f,0x00}, /* _ */
    {0x08,0x04,0x02,0x00,0x00,0x00,0x00,0x00,0x00}, /* ` */
    {0x00,0x00,0x0e,0x01,0x0f,0x11,0x0f,0x00,0x00}, /* a */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x1e,0x00,0x00}, /* b */
    {0x00,0x00,0x0e,0x10,0x10,0x11,0x0e,0x00,0x00}, /* c */
    {0x01,0x01,0x0d,0x13,0x11,0x11,0x0f,0x00,0x00}, /* d */
    {0x00,0x00,0x0e,0x11,0x1f,0x10,0x0e,0x00,0x00}, /* e */
    {0x06,0x09,0x08,0x1c,0x08,0x08,0x08,0x00,0x00}, /* f */
    {0x00,0x00,0x0f,0x11,0x11,0x11,0x0f,0x01,0x0e}, /* g */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x11,0x00,0x00}, /* h */
    {0x04,0x00,0x0c,0x04,0x04,0x04,0x0e,0x00,0x00}, /* i */
    {0x02,0x00,0x06,0x02,0x02,0x02,0x02,0x12,0x0c}, /* j */
    {0x10,0x10,0x12,0x14,0x18,0x14,0x12,0x00,0x00}, /* k */
    {0x0c,0x04,0x04,0x04,0x04,0x04,0x0e,0x00,0x00}, /* l */
    {0x00,0x00,0x1a,0x15,0x15,0x15,0x15,0x00,0x00}, /* m */
    {0x00,0x00,0x16,0x19,0x11,0x11,0x11,0x00,0x00}, /* n */
    {0x00,0x00,0x0e,0x11,0x11,0x11,0x0e,0x00,0x00}, /* o */
    {0x00,0x00,0x1e,0x11,0x11,0x11,0x1e,0x10,0x10}, /* p */
    {0x00,0x00,0x0f,0x11,0x11,0x11,0x0f,0x01,0x01}, /* q */
    {0x00,0x00,0x16,0x19,0x10,0x10,0x10,0x00,0x00}, /* r */
    {0x00,0x00,0x0f,0x10,0x0e,0x01,0x1e,0x00,0x00}, /* s */
    {0x08,0x08,0x1c,0x08,0x08,0x09,0x06,0x00,0x00}, /* t */
    {0x00,0x00,0x11,0x11,0x11,0x13,0x0d,0x00,0x00}, /* u */
    {0x00,0x00,0x11,0x11,0x11,0x0a,0x04,0x00,0x00}, /* v */
    {0x00,0x00,0x11,0x11,0x15,0x15,0x0a,0x00,0x00}, /* w */
    {0x00,0x00,0x11,0x0a,0x04,0x0a,0x11,0x00,0x00}, /* x */
    {0x00,0x00,0x11,0x11,0x11,0x11,0x0f,0x01,0x0e}, /* y */
    {0x00,0x00,0x1f,0x02,0x04,0x08,0x1f,0x00,0x00}, /* z */
    {0x02,0x04,0x04,0x08,0x04,0x04,0x02,0x00,0x00}, /* { */
    {0x04,0x04,0x04,0x04,0x04,0x04,0x04,0x00,0x00}, /* | */
    {0x08,0x04,0x04,0x02,0x04,0x04,0x08,0x00,0x00}, /* } */
    {0x00,0x00,0x08,0x15,0x02,0x00,0x00,0x00,0x00}, /* ~ */
};

/* ---- raster ---- */

typedef struct canvas {
    int w, h;
    unsigned char *rgb;   /* w * h * 3, rows top down */
    unsigned char *mask;  /* coverage 0..255 of the shape being drawn */
    int cx0, cy0, cx1, cy1; /* clip: pixels [cx0, cx1) x [cy0, cy1) */
    int bx0, by0, bx1, by1; /* pixels the mask may cover (empty when bx0 >= bx1) */
} canvas;

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void set_clip(canvas *cv, const hb__scene *sc, int clip)
{
    cv->cx0 = 0;
    cv->cy0 = 0;
    cv->cx1 = cv->w;
    cv->cy1 = cv->h;
    if (clip >= 0 && clip < sc->nclips) {
        const hb__rect *r = &sc->clips[clip];
        cv->cx0 = (int)fmax(0, floor(r->x + 0.5));
        cv->cy0 = (int)fmax(0, floor(r->y + 0.5));
        cv->cx1 = (int)fmin(cv->w, floor(r->x + r->w + 0.5));
        cv->cy1 = (int)fmin(cv->h, floor(r->y + r->h + 0.5));
    }
}

/* Pixel bounds of [x0, x1] x [y0, y1] within the clip, in *b (x0, y0, x1, y1); 0 if empty. */
static int bounds(const canvas *cv, double x0, double y0, double x1, double y1, int b[4])
{
    if (!(x0 <= x1) || !(y0 <= y1)) return 0;
    b[0] = (int)fmax(cv->cx0, floor(x0));
    b[1] = (int)fmax(cv->cy0, floor(y0));
    b[2] = (int)fmin(cv->cx1, ceil(x1) + 1);
    b[3] = (int)fmin(cv->cy1, ceil(y1) + 1);
    return b[0] < b[2] && b[1] < b[3];
}

static void cover(canvas *cv, int x, int y, double c)
{
    int v = (int)(c * 255 + 0.5);
    unsigned char *m = &cv->mask[(size_t)y * cv->w + x];
    if (v > *m) *m = (unsigned char)v;
}

static void grow_box(canvas *cv, const int b[4])
{
    if (cv->bx0 >= cv->bx1) {
        memcpy(&cv->bx0, b, 4 * sizeof *b);
        return;
    }
    if (b[0] < cv->bx0) cv->bx0 = b[0];
    if (b[1] < cv->by0) cv->by0 = b[1];
    if (b[2] > cv->bx1) cv->bx1 = b[2];
    if (b[3] > cv->by1) cv->by1 = b[3];
}

/* A segment 'width' wide with round ends. */
static void mask_segment(canvas *cv, double x0, double y0, double x1, double y1, double width)
{
    double r = width / 2, e = r + 1;
    int b[4];
    if (!bounds(cv, fmin(x0, x1) - e, fmin(y0, y1) - e, fmax(x0, x1) + e, fmax(y0, y1) + e, b))
        return;
    grow_box(cv, b);
    double dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy;
    for (int y = b[1]; y < b[3]; y++)
        for (int x = b[0]; x < b[2]; x++) {
            double qx = x + 0.5 - x0, qy = y + 0.5 - y0;
            double s = l2 > 0 ? clamp01((qx * dx + qy * dy) / l2) : 0;
            double ex = qx - s * dx, ey = qy - s * dy;
            double c = clamp01(r + 0.5 - sqrt(ex * ex + ey * ey));
            if (c > 0) cover(cv, x, y, c);
        }
}

/* Area coverage of the rectangle [x0, x1) x [y0, y1). */
static void mask_rect(canvas *cv, double x0, double y0, double x1, double y1)
{
    int b[4];
    if (!bounds(cv, x0, y0, x1, y1, b)) return;
    grow_box(cv, b);
    for (int y = b[1]; y < b[3]; y++) {
        double cy = fmin(y + 1, y1) - fmax(y, y0);
        if (cy <= 0) continue;
        for (int x = b[0]; x < b[2]; x++) {
            double cx = fmin(x + 1, x1) - fmax(x, x0);
            if (cx > 0) cover(cv, x, y, clamp01(cx * cy));
        }
    }
}

static void mask_marker(canvas *cv, const hb__prim *p)
{
    double x = p->x, y = p->y, r = p->size, e = r + p->width + 1;
    if (p->shape == HB__SHAPE_CROSS) {
        mask_segment(cv, x - r, y - r, x + r, y + r, p->width);
        mask_segment(cv, x - r, y + r, x + r, y - r, p->width);
        return;
    }
    int b[4];
    if (!bounds(cv, x - e, y - e, x + e, y + e, b)) return;
    grow_box(cv, b);
    for (int j = b[1]; j < b[3]; j++)
        for (int i = b[0]; i < b[2]; i++) {
            double dx = i + 0.5 - x, dy = j + 0.5 - y, c;
            if (p->shape == HB__SHAPE_CIRCLE)
                c = r + 0.5 - sqrt(dx * dx + dy * dy);
            else if (p->shape == HB__SHAPE_RING)
                c = p->width / 2 + 0.5 - fabs(sqrt(dx * dx + dy * dy) - r);
            else
                c = 0.5 - (fabs(dx) + fabs(dy) - r) / sqrt(2.0);
            c = clamp01(c);
            if (c > 0) cover(cv, i, j, c);
        }
}

/* Paint the mask in 'color' at 'alpha' and clear it. */
static void mask_paint(canvas *cv, uint32_t color, double alpha)
{
    if (cv->bx0 >= cv->bx1) return;
    int rgb[3] = {(int)(color >> 16) & 255, (int)(color >> 8) & 255, (int)color & 255};
    for (int y = cv->by0; y < cv->by1; y++) {
        unsigned char *m = &cv->mask[(size_t)y * cv->w];
        unsigned char *d = &cv->rgb[((size_t)y * cv->w) * 3];
        for (int x = cv->bx0; x < cv->bx1; x++) {
            if (m[x] == 0) continue;
            int a = (int)(m[x] * alpha + 0.5);
            for (int k = 0; k < 3; k++) {
                int v = d[3 * x + k];
                d[3 * x + k] = (unsigned char)((v * (255 - a) + rgb[k] * a + 127) / 255);
            }
            m[x] = 0;
        }
    }
    cv->bx0 = cv->bx1 = 0;
}

/* A polyline, dashed when p->dash > 0 ('dash' on, 0.6 'dash' off, as the SVG). */
static void mask_polyline(canvas *cv, const hb__scene *sc, const hb__prim *p)
{
    const double *q = sc->pts + 2 * p->first;
    double on = p->dash, off = p->dash * 0.6, phase = 0; /* distance into the current period */
    for (size_t i = 1; i < p->count; i++) {
        double x0 = q[2 * i - 2], y0 = q[2 * i - 1], x1 = q[2 * i], y1 = q[2 * i + 1];
        if (on < 0.5) { /* solid (or a dash too fine to draw) */
            mask_segment(cv, x0, y0, x1, y1, p->width);
            continue;
        }
        double len = hypot(x1 - x0, y1 - y0), at = 0;
        while (at < len) {
            double left = phase < on ? on - phase : on + off - phase;
            double step = fmin(left, len - at);
            if (phase < on) {
                double a = at / len, c = (at + step) / len;
                mask_segment(cv, x0 + a * (x1 - x0), y0 + a * (y1 - y0), x0 + c * (x1 - x0),
                             y0 + c * (y1 - y0), p->width);
            }
            at += step;
            phase += step;
            if (phase >= on + off) phase = 0;
        }
    }
}

static void mask_text(canvas *cv, const hb__scene *sc, const hb__prim *p)
{
    const unsigned char *s = (const unsigned char *)hb__plot_text(sc, p);
    double s1 = p->scale;
    double w = hb__plot_text_width((const char *)s, p->scale, p->bold);
    double pen = p->anchor < 0 ? 0 : p->anchor == 0 ? -w / 2 : -w; /* along the text */
    double ox = floor(p->x + 0.5), oy = floor(p->y + 0.5);
    pen = floor(pen + 0.5);
    for (; *s; s++) {
        if ((*s & 0xc0) == 0x80) continue; /* inside a UTF-8 sequence */
        int c = *s >= HB__FONT_FIRST && *s <= HB__FONT_LAST ? *s : '?';
        const unsigned char *g = font[c - HB__FONT_FIRST];
        for (int row = 0; row < HB__FONT_ROWS; row++)
            for (int col = 0; col < 5; col++) {
                if (!(g[row] >> (4 - col) & 1)) continue;
                double u = pen + col * s1, v = (row - HB__FONT_ASCENT) * s1;
                double uw = s1 + (p->bold ? 1 : 0);
                if (p->vertical)
                    mask_rect(cv, ox + v, oy - u - uw, ox + v + s1, oy - u);
                else
                    mask_rect(cv, ox + u, oy + v, ox + u + uw, oy + v + s1);
            }
        pen += HB__FONT_ADVANCE * s1;
    }
}

int hb__plot_raster(const hb__scene *sc, unsigned char **out)
{
    canvas cv;
    memset(&cv, 0, sizeof cv);
    *out = NULL;
    cv.w = sc->width;
    cv.h = sc->height;
    size_t npix = (size_t)cv.w * (size_t)cv.h;
    cv.rgb = hb_malloc(npix * 3);
    cv.mask = hb_calloc(npix, 1);
    if (cv.rgb == NULL || cv.mask == NULL) {
        hb_free(cv.rgb);
        hb_free(cv.mask);
        return HB_ENOMEM;
    }
    memset(cv.rgb, 255, npix * 3);
    for (size_t i = 0; i < sc->nprims; i++) {
        const hb__prim *p = &sc->prims[i];
        set_clip(&cv, sc, p->clip);
        switch (p->kind) {
        case HB__PRIM_RECT:
            if (p->fill != HB__NONE) {
                mask_rect(&cv, p->x, p->y, p->x + p->w, p->y + p->h);
                mask_paint(&cv, p->fill, p->alpha);
            }
            if (p->color != HB__NONE) {
                double x0 = p->x, y0 = p->y, x1 = p->x + p->w, y1 = p->y + p->h;
                mask_segment(&cv, x0, y0, x1, y0, p->width);
                mask_segment(&cv, x1, y0, x1, y1, p->width);
                mask_segment(&cv, x1, y1, x0, y1, p->width);
                mask_segment(&cv, x0, y1, x0, y0, p->width);
                mask_paint(&cv, p->color, p->alpha);
            }
            break;
        case HB__PRIM_LINE:
            mask_polyline(&cv, sc, p);
            mask_paint(&cv, p->color, p->alpha);
            break;
        case HB__PRIM_MARK:
            mask_marker(&cv, p);
            mask_paint(&cv, p->color, p->alpha);
            break;
        case HB__PRIM_TEXT:
            mask_text(&cv, sc, p);
            mask_paint(&cv, p->color, p->alpha);
            break;
        }
    }
    hb_free(cv.mask);
    *out = cv.rgb;
    return HB_OK;
}

/* ---- PNG ---- */

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Append one chunk: length, type, data, CRC of type and data. */
static int put_chunk(hb_buf *out, const char *type, const unsigned char *data, size_t len)
{
    static const unsigned char none[1] = {0};
    unsigned char word[4];
    if (data == NULL) data = none; /* crc32() with a NULL buffer would restart the CRC */
    be32(word, (uint32_t)len);
    hb_buf_append(out, (const char *)word, 4);
    hb_buf_append(out, type, 4);
    hb_buf_append(out, (const char *)data, len);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    crc = crc32(crc, data, (uInt)len);
    be32(word, (uint32_t)crc);
    return hb_buf_append(out, (const char *)word, 4);
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Filter row 'cur' (previous row 'prev', NULL for the first) with the PNG filter that gives the
 * smallest sum of absolute values (the usual heuristic); 'dst' gets 1 + 'n' bytes. 'tmp' holds
 * 5 * (1 + n) bytes. */
static void filter_row(const unsigned char *cur, const unsigned char *prev, size_t n,
                       unsigned char *tmp, unsigned char *dst)
{
    const int bpp = 3;
    size_t best = 0;
    unsigned long best_sum = (unsigned long)-1;
    for (int f = 0; f < 5; f++) {
        unsigned char *o = tmp + (size_t)f * (n + 1);
        unsigned long sum = 0;
        o[0] = (unsigned char)f;
        for (size_t i = 0; i < n; i++) {
            int a = i >= (size_t)bpp ? cur[i - bpp] : 0;
            int b = prev ? prev[i] : 0;
            int c = prev && i >= (size_t)bpp ? prev[i - bpp] : 0;
            int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : paeth(a, b, c);
            unsigned char v = (unsigned char)(cur[i] - pred);
            o[i + 1] = v;
            sum += v < 128 ? v : 256 - v;
        }
        if (sum < best_sum) {
            best_sum = sum;
            best = (size_t)f;
        }
    }
    memcpy(dst, tmp + best * (n + 1), n + 1);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return hb_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    hb_free(p);
}

#define IDAT_MAX 65536 /* bytes of compressed data per IDAT chunk */

/* Append the PNG of 'rgb' (w x h, 8-bit RGB) to 'out'. */
static int encode_png(const unsigned char *rgb, int w, int h, hb_buf *out)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const char software[] = "Software\0hbmpi " HB_VERSION_STRING;
    size_t n = (size_t)w * 3;
    unsigned char ihdr[13];
    be32(ihdr, (uint32_t)w);
    be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: RGB */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* no interlace */
    hb_buf_append(out, (const char *)sig, sizeof sig);
    put_chunk(out, "IHDR", ihdr, sizeof ihdr);
    put_chunk(out, "tEXt", (const unsigned char *)software, sizeof software - 1);

    unsigned char *tmp = hb_malloc(6 * (n + 1));
    unsigned char *zout = hb_malloc(IDAT_MAX);
    if (tmp == NULL || zout == NULL) {
        hb_free(tmp);
        hb_free(zout);
        return HB_ENOMEM;
    }
    unsigned char *row = tmp + 5 * (n + 1);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    int zrc = deflateInit(&zs, 6);
    int rc = zrc == Z_OK ? HB_OK : zrc == Z_MEM_ERROR ? HB_ENOMEM : HB_EIO;
    if (rc == HB_OK) {
        zs.next_out = zout;
        zs.avail_out = IDAT_MAX;
        for (int y = 0; y <= h && rc == HB_OK; y++) {
            int flush = y == h ? Z_FINISH : Z_NO_FLUSH;
            if (y < h) {
                filter_row(rgb + (size_t)y * n, y ? rgb + (size_t)(y - 1) * n : NULL, n, tmp, row);
                zs.next_in = row;
                zs.avail_in = (uInt)(n + 1);
            }
            for (;;) {
                zrc = deflate(&zs, flush);
                if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
                    rc = HB_EIO;
                    break;
                }
                if (zs.avail_out == 0 || (zrc == Z_STREAM_END && zs.avail_out < IDAT_MAX)) {
                    put_chunk(out, "IDAT", zout, IDAT_MAX - zs.avail_out);
                    zs.next_out = zout;
                    zs.avail_out = IDAT_MAX;
                }
                if (flush == Z_FINISH ? zrc == Z_STREAM_END : zs.avail_in == 0) break;
            }
        }
        deflateEnd(&zs);
    }
    hb_free(tmp);
    hb_free(zout);
    if (rc != HB_OK) return rc;
    return put_chunk(out, "IEND", NULL, 0);
}

int hb_plot_png(const hb_plot_info *info, const hb_trial *t, size_t n, hb_buf *out)
{
    if (info == NULL || out == NULL || (t == NULL && n > 0)) return HB_EINVAL;
    size_t len0 = out->len;
    hb__scene sc;
    unsigned char *rgb = NULL;
    int rc = hb__plot_scene_build(info, t, n, &sc);
    if (rc == HB_OK) rc = hb__plot_raster(&sc, &rgb);
    if (rc == HB_OK) rc = encode_png(rgb, sc.width, sc.height, out);
    if (rc == HB_OK && out->failed) rc = HB_ENOMEM;
    hb_free(rgb);
    hb__plot_scene_fini(&sc);
    if (rc != HB_OK && out->data) {
        out->len = len0;
        out->data[len0] = '\0';
    }
    return rc;
}
