/* plot_impl.h — seen only by the plot sources and tests/plot: the figure as a list of drawing
 * primitives in pixel coordinates. plot.c computes the layout (axes, ticks, panels) once and
 * emits primitives; the SVG writer (plot.c) and the rasteriser (png.c) both draw that list, so
 * the two pictures match. */
#ifndef HB_PLOT_IMPL_H
#define HB_PLOT_IMPL_H

#include "hb_plot.h"

/* The bitmap font, in font pixels: glyphs are 5 wide and 9 high (7 above the baseline, 2
 * below), advancing 6. Text is drawn at an integer 'scale' (screen pixels per font pixel). */
#define HB__FONT_FIRST 32
#define HB__FONT_LAST 126
#define HB__FONT_ROWS 9
#define HB__FONT_ASCENT 7
#define HB__FONT_ADVANCE 6

typedef enum hb__prim_kind {
    HB__PRIM_RECT, /* x, y, w, h: filled with 'fill' (unless HB__NONE), outlined with 'color' */
    HB__PRIM_LINE, /* polyline: 'count' points from scene->pts[2 * first] */
    HB__PRIM_MARK, /* marker 'shape' centred on x, y with radius 'size' */
    HB__PRIM_TEXT  /* text at baseline point x, y */
} hb__prim_kind;

typedef enum hb__shape {
    HB__SHAPE_CIRCLE, /* filled disc */
    HB__SHAPE_RING,   /* circle outline, 'width' wide */
    HB__SHAPE_CROSS,  /* diagonal cross, strokes 'width' wide */
    HB__SHAPE_DIAMOND /* filled square on its corner */
} hb__shape;

#define HB__NONE 0xFFFFFFFFu /* no colour (an unfilled or unstroked rectangle) */

typedef struct hb__prim {
    hb__prim_kind kind;
    uint32_t color;    /* stroke, marker or text colour, 0xRRGGBB, or HB__NONE */
    uint32_t fill;     /* rectangle fill, or HB__NONE */
    double alpha;      /* opacity in (0, 1] */
    double width;      /* stroke width in pixels */
    double dash;       /* dash and gap length in pixels for a dashed line; 0: solid */
    int clip;          /* index of the panel whose plot area clips it, or -1 */
    double x, y, w, h; /* rectangle; marker centre; text anchor on the baseline */
    double size;       /* marker radius */
    hb__shape shape;   /* marker shape */
    size_t first;      /* polyline: first point; text: offset in scene->text */
    size_t count;      /* polyline: number of points */
    int anchor;        /* text: -1 start, 0 middle, 1 end */
    int vertical;      /* text: 1 reads bottom to top (turned 90 degrees anticlockwise) */
    int scale;         /* text: screen pixels per font pixel */
    int bold;          /* text: heavier strokes */
} hb__prim;

#define HB__MAX_CLIPS (5 + HB_PLOT_MAX_SCHEDULE)

typedef struct hb__rect {
    double x, y, w, h;
} hb__rect;

typedef struct hb__scene {
    int width, height;  /* pixels */
    hb__prim *prims;    /* in drawing order */
    size_t nprims, capprims;
    double *pts;        /* x, y pairs of the polylines */
    size_t npts, cappts;
    hb_buf text;        /* NUL-separated strings of the text primitives: printable ASCII or
                         * valid UTF-8 without control characters */
    hb__rect clips[HB__MAX_CLIPS]; /* plot area of each panel (and schedule strip) */
    int nclips;         /* 4, or more for a pbt/pb2 figure */
    int failed;         /* an allocation failed */
} hb__scene;

/* Build the figure of 'n' trials into 'sc' (zeroed by the call). HB_OK or HB_ENOMEM; either way
 * hb__plot_scene_fini() releases it. */
int hb__plot_scene_build(const hb_plot_info *info, const hb_trial *t, size_t n, hb__scene *sc);
void hb__plot_scene_fini(hb__scene *sc);

/* The string of text primitive 'p'. */
const char *hb__plot_text(const hb__scene *sc, const hb__prim *p);

/* Width in pixels of 's' drawn at 'scale' (one advance per UTF-8 code point, bold adds one
 * pixel). */
double hb__plot_text_width(const char *s, int scale, int bold);

/* inc[i] = the loss of hb_report_best(t, i + 1) (the incumbent once trial i is in), or NaN
 * while there is no ok trial. One pass, same rule and ties as hb_report_best(). */
void hb__plot_incumbents(const hb_trial *t, size_t n, double *inc);

/* An axis: the visible range and its labelled ticks, in axis units (log10 of the value on a
 * log axis). */
#define HB__MAX_TICKS 24
typedef struct hb__axis {
    double lo, hi;                  /* visible range, lo < hi, both finite */
    int log;                        /* 1: log10 scale */
    int nticks;                     /* labelled ticks, ascending, within [lo, hi] */
    double tick[HB__MAX_TICKS];     /* positions in axis units */
    char label[HB__MAX_TICKS][24];  /* printable ASCII */
} hb__axis;

/* Choose an axis for data in [dmin, dmax] (values, not log10; dmin > dmax: no data) drawn over
 * 'length' pixels. 'log' asks for a log scale, granted when dmin > 0 and dmax >= 10 dmin.
 * 'zero' keeps 0 as the lower end when dmin == 0; 'integer' keeps ticks on whole numbers;
 * 'reserve' pixels at the top end are kept free of data and ticks; 'horizontal' spaces the
 * ticks so that their labels (drawn at 'scale') do not overlap. Ticks step 1-2-5 on a linear
 * axis, and by decades (or 1-2-5 within few decades) on a log axis. */
void hb__plot_axis(hb__axis *ax, double dmin, double dmax, int log, int zero, int integer,
                   double length, double reserve, int horizontal, int scale);

/* Raster the scene as 8-bit RGB, 'sc->width * sc->height * 3' bytes, rows top down (png.c). */
int hb__plot_raster(const hb__scene *sc, unsigned char **rgb);

#endif
