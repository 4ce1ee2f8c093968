/* plot.c — the run figure: data series from the trials, axes and ticks, the layout of the four
 * panels as a list of primitives (plot_impl.h), and the SVG writer over that list. The PNG
 * rasteriser (png.c) draws the same list. Pure: no file I/O, no clock. */
#include "plot_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Colours. */
#define C_TEXT 0x222222u
#define C_AXIS 0x333333u
#define C_GRID 0xe4e4e4u
#define C_NOTE 0x888888u
#define C_BLUE 0x1f77b4u
#define C_RED 0xd62728u
#define C_ORANGE 0xff7f0eu
#define C_GREY 0x555555u
#define C_WHITE 0xffffffu

/* Text sizes (font scale) and the SVG font size per unit of scale. */
#define S_LABEL 2
#define S_TITLE 3
#define SVG_FONT_PX 8.6

/* Geometry, pixels. */
#define TITLE_BAND 72.0  /* figure title and subtitle above the panels */
#define PLOT_TOP 36.0    /* from the cell's top to the plot area */
#define PLOT_BOTTOM 56.0 /* from the plot area to the cell's bottom */
#define PLOT_RIGHT 26.0  /* from the plot area to the cell's right */
#define TICK 5.0         /* tick length */
#define LEGEND_H 28.0    /* legend row inside the top of a plot area */
#define FAIL_BAND 22.0   /* row of failure markers below the legend */

#define BIG 1e300 /* data are clamped to [-BIG, BIG] */

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- scene ---- */

static hb__prim *push(hb__scene *sc, hb__prim_kind kind)
{
    if (sc->failed) return NULL;
    if (sc->nprims == sc->capprims) {
        size_t cap = sc->capprims ? 2 * sc->capprims : 256;
        hb__prim *p = hb_realloc(sc->prims, cap * sizeof *p);
        if (p == NULL) {
            sc->failed = 1;
            return NULL;
        }
        sc->prims = p;
        sc->capprims = cap;
    }
    hb__prim *p = &sc->prims[sc->nprims++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->color = p->fill = HB__NONE;
    p->alpha = 1.0;
    p->width = 1.0;
    p->clip = -1;
    return p;
}

static void point(hb__scene *sc, double x, double y)
{
    if (sc->failed) return;
    if (sc->npts == sc->cappts) {
        size_t cap = sc->cappts ? 2 * sc->cappts : 1024;
        double *p = hb_realloc(sc->pts, 2 * cap * sizeof *p);
        if (p == NULL) {
            sc->failed = 1;
            return;
        }
        sc->pts = p;
        sc->cappts = cap;
    }
    sc->pts[2 * sc->npts] = isfinite(x) ? x : 0.0;
    sc->pts[2 * sc->npts + 1] = isfinite(y) ? y : 0.0;
    sc->npts++;
}

/* A polyline of the points added since 'first' (dropped if it has fewer than two). */
static void polyline(hb__scene *sc, size_t first, uint32_t color, double width, double dash,
                     int clip)
{
    if (sc->failed) return;
    if (sc->npts - first < 2) {
        sc->npts = first;
        return;
    }
    hb__prim *p = push(sc, HB__PRIM_LINE);
    if (p == NULL) return;
    p->color = color;
    p->width = width;
    p->dash = dash;
    p->clip = clip;
    p->first = first;
    p->count = sc->npts - first;
}

static void segment(hb__scene *sc, double x0, double y0, double x1, double y1, uint32_t color,
                    double width, double dash, int clip)
{
    size_t first = sc->npts;
    point(sc, x0, y0);
    point(sc, x1, y1);
    polyline(sc, first, color, width, dash, clip);
}

static void rect(hb__scene *sc, double x, double y, double w, double h, uint32_t fill,
                 uint32_t stroke)
{
    hb__prim *p = push(sc, HB__PRIM_RECT);
    if (p == NULL) return;
    p->x = x;
    p->y = y;
    p->w = w;
    p->h = h;
    p->fill = fill;
    p->color = stroke;
}

static void marker(hb__scene *sc, hb__shape shape, double x, double y, double r, uint32_t color,
                   double alpha, double width, int clip)
{
    if (!isfinite(x) || !isfinite(y)) return;
    hb__prim *p = push(sc, HB__PRIM_MARK);
    if (p == NULL) return;
    p->shape = shape;
    p->x = x;
    p->y = y;
    p->size = r;
    p->color = color;
    p->alpha = alpha;
    p->width = width;
    p->clip = clip;
}

/* Length of a valid UTF-8 sequence at 's' that XML accepts (no control characters), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c >= 0x20 && c < 0x7f) return 1;
    if (c < 0xc2 || c > 0xf4) return 0;
    size_t n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0;                   /* overlong */
    if (c == 0xed && s[1] >= 0xa0) return 0;                  /* surrogate */
    if (c == 0xef && s[1] == 0xbf && s[2] >= 0xbe) return 0;  /* U+FFFE, U+FFFF */
    if (c == 0xf0 && s[1] < 0x90) return 0;                   /* overlong */
    if (c == 0xf4 && s[1] >= 0x90) return 0;                  /* above U+10FFFF */
    if (c == 0xc2 && s[1] < 0xa0) return 0;                   /* C1 controls */
    return n;
}

double hb__plot_text_width(const char *s, int scale, int bold)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80) chars++;
    if (chars == 0) return 0;
    return (double)(chars * HB__FONT_ADVANCE - 1) * scale + (bold ? 1 : 0);
}

/* Add a text primitive. 's' is cleaned (invalid UTF-8 becomes '?', control characters
 * spaces) and, when 'maxw' > 0, shortened with "..." to fit 'maxw' pixels. */
static void text(hb__scene *sc, double x, double y, const char *s, int scale, int anchor,
                 int vertical, int bold, uint32_t color, double maxw)
{
    if (sc->failed || s == NULL) return;
    size_t off = sc->text.len;
    size_t chars = 0, keep_len = 0;
    double adv = (double)HB__FONT_ADVANCE * scale;
    double room = maxw > 0 ? maxw : INFINITY;
    size_t fit = room == INFINITY ? (size_t)-1 : (size_t)((room + scale) / adv);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = utf8_len(p);
        if (k == 0) {
            hb_buf_append(&sc->text, *p < 0x20 || *p == 0x7f ? " " : "?", 1);
            p++;
        } else {
            hb_buf_append(&sc->text, (const char *)p, k);
            p += k;
        }
        chars++;
        if (chars + 3 <= fit) keep_len = sc->text.len - off;
    }
    if (chars > fit) { /* too long: keep what fits, then dots */
        if (sc->text.len > off + keep_len) sc->text.len = off + keep_len;
        if (fit >= 3) hb_buf_append(&sc->text, "...", 3);
    }
    if (hb_buf_append(&sc->text, "", 1) != HB_OK) {
        sc->failed = 1;
        return;
    }
    hb__prim *p = push(sc, HB__PRIM_TEXT);
    if (p == NULL) return;
    p->x = x;
    p->y = y;
    p->first = off;
    p->scale = scale;
    p->anchor = anchor;
    p->vertical = vertical;
    p->bold = bold;
    p->color = color;
}

const char *hb__plot_text(const hb__scene *sc, const hb__prim *p)
{
    return sc->text.data + p->first;
}

void hb__plot_scene_fini(hb__scene *sc)
{
    hb_free(sc->prims);
    hb_free(sc->pts);
    hb_buf_fini(&sc->text);
    memset(sc, 0, sizeof *sc);
}

/* ---- numbers ---- */

/* Tidy printf's exponent: "1.50e+12" -> "1.5e12", "2e-05" -> "2e-5". */
static void tidy_exp(char *s)
{
    char *e = strchr(s, 'e');
    if (e == NULL) return;
    char exp[16];
    size_t n = 0;
    const char *q = e + 1;
    if (*q == '-') exp[n++] = *q;
    if (*q == '+' || *q == '-') q++;
    while (*q == '0' && q[1]) q++;
    while (*q && n < sizeof exp - 1) exp[n++] = *q++;
    exp[n] = '\0';
    char *m = e; /* trailing zeros of the mantissa */
    if (memchr(s, '.', (size_t)(e - s))) {
        while (m[-1] == '0') m--;
        if (m[-1] == '.') m--;
    }
    m[0] = 'e';
    memmove(m + 1, exp, n + 1);
}

/* 'v' with 'prec' significant digits (more for the integer part below 1e6), with an exponent
 * only outside [1e-4, 1e6). */
static void fmt_g(char *out, size_t size, double v, int prec)
{
    if (v == 0 || !isfinite(v)) v = 0; /* also turns -0 into 0 */
    double a = fabs(v);
    if (a >= 1 && a < 1e6) {
        int digits = (int)floor(log10(a)) + 1;
        if (digits > prec) prec = digits;
    }
    snprintf(out, size, "%.*g", prec, v);
    tidy_exp(out);
}

static void fmt_tick(char *out, size_t size, double v, double step, double maxabs, int extra)
{
    if (fabs(v) < step * 1e-6) v = 0; /* also turns -0 into 0 */
    if (maxabs < 1e6 && step >= 1e-4) { /* fixed, the same decimals on all */
        int dec = (int)ceil(-log10(step) - 1e-9) + extra;
        snprintf(out, size, "%.*f", dec < 0 ? 0 : dec > 12 ? 12 : dec, v);
    } else if (v == 0) {
        snprintf(out, size, "0");
    } else {
        int dec = (int)floor(log10(fabs(v))) - (int)floor(log10(step) + 1e-9) + extra;
        snprintf(out, size, "%.*e", dec < 0 ? 0 : dec > 15 ? 15 : dec, v);
        tidy_exp(out);
    }
}

/* ---- axes ---- */

static int labels_distinct(const hb__axis *ax)
{
    for (int i = 1; i < ax->nticks; i++)
        if (strcmp(ax->label[i], ax->label[i - 1]) == 0) return 0;
    return 1;
}

static void lin_ticks(hb__axis *ax, double lo, double hi, int target, int integer)
{
    double raw = (hi - lo) / (target > 1 ? target : 1);
    if (integer && raw < 1) raw = 1;
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    ax->nticks = 0;
    for (double k = k0; k <= k1 && ax->nticks < HB__MAX_TICKS; k++) {
        double v = k * step;
        if (fabs(v) < step * 1e-9) v = 0;
        ax->tick[ax->nticks++] = v;
    }
    if (ax->nticks == 0) return;
    double maxabs = fmax(fabs(ax->tick[0]), fabs(ax->tick[ax->nticks - 1]));
    for (int extra = 0; extra < 4; extra++) {
        for (int i = 0; i < ax->nticks; i++)
            fmt_tick(ax->label[i], sizeof ax->label[i], ax->tick[i], step, maxabs, extra);
        if (labels_distinct(ax)) break;
    }
}

static void log_ticks(hb__axis *ax, double lo, double hi, int target)
{
    static const double mant[3] = {1, 2, 5};
    static const double steps[] = {1, 2, 3, 4, 5, 6, 10, 20, 25, 50, 100, 200};
    ax->nticks = 0;
    if (hi - lo <= 2.5) { /* few decades: 1-2-5 */
        for (double k = floor(lo); k <= ceil(hi) && ax->nticks < HB__MAX_TICKS; k++)
            for (int m = 0; m < 3 && ax->nticks < HB__MAX_TICKS; m++) {
                double u = k + log10(mant[m]);
                if (u >= lo - 1e-9 && u <= hi + 1e-9) ax->tick[ax->nticks++] = u;
            }
        int decades = 0;
        for (int i = 0; i < ax->nticks; i++) decades += ax->tick[i] == floor(ax->tick[i]);
        if (ax->nticks > target + 2 && decades >= 2) { /* too many: keep the decades */
            int k = 0;
            for (int i = 0; i < ax->nticks; i++)
                if (ax->tick[i] == floor(ax->tick[i])) ax->tick[k++] = ax->tick[i];
            ax->nticks = k;
        }
    }
    if (ax->nticks < 2) { /* every 1, 2, 3, ... decades */
        double d0 = ceil(lo - 1e-9), d1 = floor(hi + 1e-9), step = 1;
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            step = steps[i];
            if (floor(d1 / step) - ceil(d0 / step) + 1 <= target + 1) break;
        }
        ax->nticks = 0;
        for (double k = ceil(d0 / step) * step; k <= d1 && ax->nticks < HB__MAX_TICKS; k += step)
            ax->tick[ax->nticks++] = k;
    }
    /* Plain numbers when all are between 1e-4 and 1e6, else powers of ten ("1" stays). */
    int plain = 1;
    for (int i = 0; i < ax->nticks; i++)
        if (ax->tick[i] < -4 - 1e-9 || ax->tick[i] >= 6 - 1e-9) plain = 0;
    for (int i = 0; i < ax->nticks; i++) {
        double v = pow(10, ax->tick[i]);
        if (plain || fabs(ax->tick[i]) < 1e-9)
            fmt_g(ax->label[i], sizeof ax->label[i], v, 6);
        else {
            snprintf(ax->label[i], sizeof ax->label[i], "%.0e", v);
            tidy_exp(ax->label[i]);
        }
    }
}

static double max_label_width(const hb__axis *ax, int scale)
{
    double w = 0;
    for (int i = 0; i < ax->nticks; i++) w = fmax(w, hb__plot_text_width(ax->label[i], scale, 0));
    return w;
}

/* 1 if the labels of horizontal axis 'ax' over 'length' pixels leave room between them. */
static int labels_fit(const hb__axis *ax, double length, int scale)
{
    double w = max_label_width(ax, scale) + 4.0 * HB__FONT_ADVANCE * scale / 3.0;
    for (int i = 1; i < ax->nticks; i++)
        if ((ax->tick[i] - ax->tick[i - 1]) / (ax->hi - ax->lo) * length < w) return 0;
    return 1;
}

void hb__plot_axis(hb__axis *ax, double dmin, double dmax, int log, int zero, int integer,
                   double length, double reserve, int horizontal, int scale)
{
    memset(ax, 0, sizeof *ax);
    if (!(dmin <= dmax) || !isfinite(dmin) || !isfinite(dmax)) { /* no data */
        dmin = 0;
        dmax = 1;
        log = 0;
    }
    dmin = clampd(dmin, -BIG, BIG);
    dmax = clampd(dmax, -BIG, BIG);
    if (log && !(dmin > 0 && dmax / dmin >= 10)) log = 0; /* a log axis wants a decade */
    int keep_zero = zero && dmin == 0 && !log;
    double lo = log ? log10(dmin) : dmin, hi = log ? log10(dmax) : dmax;
    double span = hi - lo, mid = 0.5 * lo + 0.5 * hi;
    if (!(span > fabs(mid) * 1e-9) || !(span > 1e-290)) { /* one value: a range around it */
        double pad = log ? 0.5 : mid != 0 && fabs(mid) > 1e-280 ? fabs(mid) * 0.1 : 1;
        if (integer && pad < 1) pad = 1;
        lo = keep_zero ? lo : lo - pad;
        hi = hi + pad;
    } else {
        double pad = span * 0.05;
        if (!keep_zero) lo -= pad;
        hi += pad;
    }
    double tick_hi = hi;
    if (reserve > 0 && length > reserve + 20) hi += (hi - lo) * reserve / (length - reserve);
    ax->lo = lo;
    ax->hi = hi;
    ax->log = log;
    double tick_len = length * (tick_hi - lo) / (hi - lo);
    int target = (int)(tick_len / (horizontal ? 60.0 : 55.0));
    if (target < 2) target = 2;
    if (target > 10) target = 10;
    for (;; target--) {
        if (log)
            log_ticks(ax, lo, tick_hi, target);
        else
            lin_ticks(ax, lo, tick_hi, target, integer);
        if (!horizontal || target <= 2 || labels_fit(ax, length, scale)) break;
    }
}

/* Use the values 'v' (ascending, distinct) as the ticks of 'ax' if they fit; else keep its
 * ticks. For the few budgets of a HyperBand run. */
static void axis_use_values(hb__axis *ax, const double *v, size_t n, double length, int scale)
{
    if (n < 2 || n > 8) return;
    hb__axis c = *ax;
    c.nticks = 0;
    for (size_t i = 0; i < n; i++) {
        double u = ax->log ? log10(v[i]) : v[i];
        if (!(u >= ax->lo && u <= ax->hi)) return;
        c.tick[c.nticks] = u;
        fmt_g(c.label[c.nticks], sizeof c.label[c.nticks], v[i], 4);
        c.nticks++;
    }
    if (labels_distinct(&c) && labels_fit(&c, length, scale)) *ax = c;
}

/* Pixel of value 'v' on 'ax' drawn from p0 (at lo) over 'len' pixels (negative: upwards). */
static double axis_map(const hb__axis *ax, double v, double p0, double len)
{
    double u = ax->log ? (v > 0 ? log10(v) : -BIG) : clampd(v, -BIG, BIG);
    double f = (u - ax->lo) / (ax->hi - ax->lo);
    if (!(f >= -1)) f = -1; /* keeps far-off points finite; the clip hides them */
    if (f > 2) f = 2;
    return p0 + f * len;
}

/* ---- data ---- */

void hb__plot_incumbents(const hb_trial *t, size_t n, double *inc)
{
    double top = -INFINITY, best = NAN;
    int have = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].status == HB_TRIAL_OK) {
            if (t[i].budget > top || (!have && t[i].budget == top)) {
                top = t[i].budget;
                best = t[i].loss;
                have = 1;
            } else if (t[i].budget == top && t[i].loss < best) {
                best = t[i].loss;
            }
        }
        inc[i] = have ? best : NAN;
    }
}

typedef struct event {
    double t;
    int d; /* +1 a trial starts, -1 one ends */
} event;

static int event_cmp(const void *a, const void *b)
{
    const event *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->d - y->d; /* ends first: a trial runs while start <= t < end */
}

typedef struct series {
    size_t n, nok, nbad;
    double *inc;          /* incumbent after each trial, NaN before the first ok one */
    double *cum;          /* cumulative budget after each trial */
    double *cum_spent;    /* cumulative budget actually spent (continued trials spend less) */
    int saved;            /* some trial spent less than its budget */
    double *tend;         /* latest end time so far, NaN before the first */
    double inc_lo, inc_hi; /* range of the finite incumbents */
    double loss_lo, loss_hi; /* range of the finite ok losses */
    double b_lo, b_hi;    /* range of the finite budgets */
    double *budgets;      /* distinct finite budgets, ascending */
    size_t nbudgets;
    double t_lo, t_hi;    /* time axis: 0, the wall time and every finite start and end */
    event *ev;            /* trial starts and ends, sorted */
    size_t nev;
    int max_busy;
    double busy;          /* summed trial durations */
    long best;            /* hb_report_best() of all trials */
} series;

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void series_fini(series *s)
{
    hb_free(s->inc);
    hb_free(s->cum);
    hb_free(s->cum_spent);
    hb_free(s->tend);
    hb_free(s->budgets);
    hb_free(s->ev);
}

static int series_init(series *s, const hb_plot_info *info, const hb_trial *t, size_t n)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->inc_lo = s->loss_lo = s->b_lo = INFINITY;
    s->inc_hi = s->loss_hi = s->b_hi = -INFINITY;
    s->t_lo = 0;
    s->t_hi = info->wall_seconds > 0 && isfinite(info->wall_seconds) ? info->wall_seconds : 0;
    s->best = -1;
    if (n == 0) return HB_OK;
    s->inc = hb_malloc(n * sizeof *s->inc);
    s->cum = hb_malloc(n * sizeof *s->cum);
    s->cum_spent = hb_malloc(n * sizeof *s->cum_spent);
    s->tend = hb_malloc(n * sizeof *s->tend);
    s->budgets = hb_malloc(n * sizeof *s->budgets);
    s->ev = n <= ((size_t)-1) / (2 * sizeof *s->ev) ? hb_malloc(2 * n * sizeof *s->ev) : NULL;
    if (!s->inc || !s->cum || !s->cum_spent || !s->tend || !s->budgets || !s->ev) return HB_ENOMEM;

    hb__plot_incumbents(t, n, s->inc);
    s->best = hb_report_best(t, n);
    double cum = 0, cum_spent = 0, tend = NAN;
    for (size_t i = 0; i < n; i++) {
        const hb_trial *r = &t[i];
        double b = r->budget;
        if (isfinite(r->spent) && r->spent >= 0 && r->spent < b) {
            s->saved = 1;
            cum_spent = fmin(cum_spent + r->spent, BIG);
        } else if (isfinite(b) && b > 0) {
            cum_spent = fmin(cum_spent + clampd(b, -BIG, BIG), BIG);
        }
        s->cum_spent[i] = cum_spent;
        if (isfinite(b)) {
            b = clampd(b, -BIG, BIG);
            if (b > 0) cum = fmin(cum + b, BIG);
            s->b_lo = fmin(s->b_lo, b);
            s->b_hi = fmax(s->b_hi, b);
            s->budgets[s->nbudgets++] = b;
        }
        s->cum[i] = cum;
        if (r->status == HB_TRIAL_OK) {
            s->nok++;
            if (isfinite(r->loss)) {
                s->loss_lo = fmin(s->loss_lo, r->loss);
                s->loss_hi = fmax(s->loss_hi, r->loss);
            }
        } else {
            s->nbad++;
        }
        if (isfinite(s->inc[i])) {
            s->inc_lo = fmin(s->inc_lo, s->inc[i]);
            s->inc_hi = fmax(s->inc_hi, s->inc[i]);
        }
        double a = clampd(r->start, -BIG, BIG), e = clampd(r->end, -BIG, BIG);
        if (isfinite(r->end)) {
            tend = isnan(tend) ? e : fmax(tend, e);
            s->t_lo = fmin(s->t_lo, e);
            s->t_hi = fmax(s->t_hi, e);
        }
        s->tend[i] = tend;
        if (isfinite(r->start)) {
            s->t_lo = fmin(s->t_lo, a);
            s->t_hi = fmax(s->t_hi, a);
        }
        if (isfinite(r->start) && isfinite(r->end) && a <= e) {
            s->ev[s->nev++] = (event){a, 1};
            s->ev[s->nev++] = (event){e, -1};
            s->busy += e - a;
        }
    }
    qsort(s->budgets, s->nbudgets, sizeof *s->budgets, dcmp);
    size_t k = 0;
    for (size_t i = 0; i < s->nbudgets; i++)
        if (k == 0 || s->budgets[i] != s->budgets[k - 1]) s->budgets[k++] = s->budgets[i];
    s->nbudgets = k;
    qsort(s->ev, s->nev, sizeof *s->ev, event_cmp);
    int cur = 0;
    for (size_t i = 0; i < s->nev; i++) {
        cur += s->ev[i].d;
        if (cur > s->max_busy) s->max_busy = cur;
    }
    return HB_OK;
}

/* ---- panels ---- */

typedef struct panel {
    int idx;
    double cx, cy, cw, ch; /* cell */
    double x0, y0, x1, y1; /* plot area */
    hb__axis ax, ay;
} panel;

static double px(const panel *p, double v) { return axis_map(&p->ax, v, p->x0, p->x1 - p->x0); }
static double py(const panel *p, double v) { return axis_map(&p->ay, v, p->y1, p->y0 - p->y1); }

/* Grid lines at the ticks, behind the data. */
static void draw_grid(hb__scene *sc, const panel *p)
{
    for (int i = 0; i < p->ax.nticks; i++) {
        double x = floor(p->x0 + (p->ax.tick[i] - p->ax.lo) / (p->ax.hi - p->ax.lo) *
                                     (p->x1 - p->x0)) + 0.5;
        if (x > p->x0 + 1 && x < p->x1 - 1) segment(sc, x, p->y0, x, p->y1, C_GRID, 1, 0, -1);
    }
    for (int i = 0; i < p->ay.nticks; i++) {
        double y = floor(p->y1 - (p->ay.tick[i] - p->ay.lo) / (p->ay.hi - p->ay.lo) *
                                     (p->y1 - p->y0)) + 0.5;
        if (y > p->y0 + 1 && y < p->y1 - 1) segment(sc, p->x0, y, p->x1, y, C_GRID, 1, 0, -1);
    }
}

/* Frame, ticks and tick labels ('xlabels' 0: the horizontal axis's ticks without labels). */
static void draw_frame(hb__scene *sc, const panel *p, int xlabels)
{
    rect(sc, p->x0 - 0.5, p->y0 - 0.5, p->x1 - p->x0 + 1, p->y1 - p->y0 + 1, HB__NONE, C_AXIS);
    double lh = (double)HB__FONT_ASCENT * S_LABEL;
    for (int i = 0; i < p->ax.nticks; i++) {
        double x = floor(p->x0 + (p->ax.tick[i] - p->ax.lo) / (p->ax.hi - p->ax.lo) *
                                     (p->x1 - p->x0)) + 0.5;
        segment(sc, x, p->y1 + 0.5, x, p->y1 + TICK + 0.5, C_AXIS, 1, 0, -1);
        double w = hb__plot_text_width(p->ax.label[i], S_LABEL, 0);
        if (xlabels && x - w / 2 >= p->cx + 2 && x + w / 2 <= p->cx + p->cw - 2)
            text(sc, x, p->y1 + TICK + 4 + lh, p->ax.label[i], S_LABEL, 0, 0, 0, C_TEXT, 0);
    }
    for (int i = 0; i < p->ay.nticks; i++) {
        double y = floor(p->y1 - (p->ay.tick[i] - p->ay.lo) / (p->ay.hi - p->ay.lo) *
                                     (p->y1 - p->y0)) + 0.5;
        segment(sc, p->x0 - TICK - 0.5, y, p->x0 - 0.5, y, C_AXIS, 1, 0, -1);
        text(sc, p->x0 - TICK - 4, y + lh / 2, p->ay.label[i], S_LABEL, 1, 0, 0, C_TEXT, 0);
    }
}

/* The axis titles and the panel title of the cell of 'p'. */
static void draw_titles(hb__scene *sc, const panel *p, const char *title, const char *xtitle,
                        const char *ytitle)
{
    double lh = (double)HB__FONT_ASCENT * S_LABEL;
    double mx = 0.5 * (p->x0 + p->x1), my = 0.5 * (p->y0 + p->y1);
    text(sc, mx, p->cy + p->ch - 12, xtitle, S_LABEL, 0, 0, 0, C_TEXT, p->cw - 20);
    text(sc, p->cx + 16 + lh, my, ytitle, S_LABEL, 0, 1, 0, C_TEXT, p->ch - 20);
    double tw = hb__plot_text_width(title, S_LABEL, 1), room = p->cw - 20;
    double half = fmin(tw, room) / 2; /* centred on the plot, kept inside the cell */
    double tx = fmin(fmax(mx, p->cx + 10 + half), p->cx + p->cw - 10 - half);
    text(sc, tx, p->y0 - 12, title, S_LABEL, 0, 0, 1, C_TEXT, room);
}

/* Frame, ticks, tick labels, axis titles and the panel title. */
static void draw_axes(hb__scene *sc, const panel *p, const char *title, const char *xtitle,
                      const char *ytitle)
{
    draw_frame(sc, p, 1);
    draw_titles(sc, p, title, xtitle, ytitle);
}

static void note(hb__scene *sc, const panel *p, const char *msg)
{
    double lh = (double)HB__FONT_ASCENT * S_LABEL;
    text(sc, 0.5 * (p->x0 + p->x1), 0.5 * (p->y0 + p->y1) + lh / 2, msg, S_LABEL, 0, 0, 0, C_NOTE,
         p->x1 - p->x0 - 10);
}

/* A legend entry: a marker shape, or a line (dash > 0: dashed), then a label. */
typedef struct legend_item {
    int line;
    hb__shape shape;
    uint32_t color;
    double alpha, width, dash;
    const char *label;
} legend_item;

/* Width of a legend entry's sample (a line or a marker) and the gaps after it and its label. */
static double sample_width(const legend_item *it) { return it->line ? 24.0 : 14.0; }
#define LEGEND_GAP 10.0
#define LEGEND_SEP 20.0

static double legend_width(const legend_item *it, int n)
{
    double w = 0;
    for (int i = 0; i < n; i++)
        w += sample_width(&it[i]) + LEGEND_GAP + hb__plot_text_width(it[i].label, S_LABEL, 0);
    return w + LEGEND_SEP * (n - 1);
}

/* One row at the top right inside the plot area, on white; 'alt' (shorter labels) when 'it'
 * is too wide. */
static void draw_legend(hb__scene *sc, const panel *p, const legend_item *it,
                        const legend_item *alt, int n)
{
    if (n <= 0) return;
    double room = p->x1 - p->x0 - 16;
    if (legend_width(it, n) > room && alt) it = alt;
    double x = fmax(p->x1 - 8 - legend_width(it, n), p->x0 + 8);
    double yc = p->y0 + LEGEND_H / 2, lh = (double)HB__FONT_ASCENT * S_LABEL;
    rect(sc, x - 6, p->y0 + 1, p->x1 - 1 - (x - 6), LEGEND_H - 2, C_WHITE, HB__NONE);
    for (int i = 0; i < n; i++) {
        double sw = sample_width(&it[i]);
        if (it[i].line)
            segment(sc, x, yc, x + sw, yc, it[i].color, it[i].width, it[i].dash, -1);
        else
            marker(sc, it[i].shape, x + sw / 2, yc, it[i].shape == HB__SHAPE_RING ? 6 : 4,
                   it[i].color, it[i].alpha, it[i].width, -1);
        x += sw + LEGEND_GAP;
        text(sc, x, yc + lh / 2, it[i].label, S_LABEL, -1, 0, 0, C_TEXT, p->x1 - 4 - x);
        x += hb__plot_text_width(it[i].label, S_LABEL, 0) + LEGEND_SEP;
    }
}

/* The incumbent as a step line over x[i] (ascending), dots where it improves, held to 'xend'. */
static void draw_incumbent(hb__scene *sc, const panel *p, const double *x, const double *inc,
                           size_t n, double xend, uint32_t color)
{
    size_t first = sc->npts;
    double last = NAN, lastx = NAN;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        if (!isfinite(inc[i])) {
            if (isfinite(last)) { /* a NaN incumbent: break the line */
                point(sc, px(p, x[i]), py(p, last));
                polyline(sc, first, color, 2, 0, p->idx);
                first = sc->npts;
            }
            last = NAN;
            continue;
        }
        if (isfinite(last) && inc[i] == last) continue;
        if (isfinite(last)) point(sc, px(p, x[i]), py(p, last));
        point(sc, px(p, x[i]), py(p, inc[i]));
        last = inc[i];
        lastx = x[i];
    }
    if (isfinite(last)) point(sc, px(p, fmax(xend, lastx)), py(p, last));
    polyline(sc, first, color, 2, 0, p->idx);
    last = NAN;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(x[i]) && isfinite(inc[i]) && !(inc[i] == last))
            marker(sc, HB__SHAPE_CIRCLE, px(p, x[i]), py(p, inc[i]), 3, color, 1, 1, p->idx);
        last = inc[i];
    }
}

static void panel_budget(hb__scene *sc, const panel *p, const series *s)
{
    draw_grid(sc, p);
    if (s->n > 0) draw_incumbent(sc, p, s->cum, s->inc, s->n, s->cum[s->n - 1], C_BLUE);
    /* Promoted trials that continued from their checkpoint: the same incumbent against the
     * budget actually spent, beside the nominal. */
    if (s->n > 0 && s->saved) draw_incumbent(sc, p, s->cum_spent, s->inc, s->n, s->cum_spent[s->n - 1], C_ORANGE);
    draw_axes(sc, p, "Incumbent vs. cumulative budget", "cumulative budget",
              p->ay.log ? "incumbent loss (log scale)" : "incumbent loss");
    if (s->n > 0 && s->saved) {
        legend_item it[2] = {{1, HB__SHAPE_CIRCLE, C_BLUE, 1, 2, 0, "nominal budget"},
                             {1, HB__SHAPE_CIRCLE, C_ORANGE, 1, 2, 0, "budget spent"}};
        legend_item alt[2] = {{1, HB__SHAPE_CIRCLE, C_BLUE, 1, 2, 0, "nominal"},
                              {1, HB__SHAPE_CIRCLE, C_ORANGE, 1, 2, 0, "spent"}};
        draw_legend(sc, p, it, alt, 2);
    }
    if (s->n == 0)
        note(sc, p, "no trials");
    else if (!(s->inc_lo <= s->inc_hi))
        note(sc, p, "no ok trial");
}

static void panel_time(hb__scene *sc, const panel *p, const series *s)
{
    draw_grid(sc, p);
    if (s->n > 0) draw_incumbent(sc, p, s->tend, s->inc, s->n, s->t_hi, C_BLUE);
    draw_axes(sc, p, "Incumbent vs. time", "time (s)",
              p->ay.log ? "incumbent loss (log scale)" : "incumbent loss");
    if (s->n == 0)
        note(sc, p, "no trials");
    else if (!(s->inc_lo <= s->inc_hi))
        note(sc, p, "no ok trial");
}

static void panel_scatter(hb__scene *sc, const panel *p, const series *s, const hb_trial *t)
{
    draw_grid(sc, p);
    double fy = p->y0 + LEGEND_H + FAIL_BAND / 2;
    for (size_t i = 0; i < s->n; i++) {
        double b = t[i].budget;
        if (!isfinite(b) || (p->ax.log && !(b > 0))) continue;
        if (t[i].status == HB_TRIAL_OK) {
            if (isfinite(t[i].loss))
                marker(sc, HB__SHAPE_CIRCLE, px(p, b), py(p, t[i].loss), 3.5, C_BLUE, 0.45, 1,
                       p->idx);
        } else {
            marker(sc, HB__SHAPE_CROSS, px(p, b), fy, 4, C_RED, 1, 1.5, p->idx);
        }
    }
    if (s->best >= 0 && isfinite(t[s->best].loss) && isfinite(t[s->best].budget))
        marker(sc, HB__SHAPE_RING, px(p, t[s->best].budget), py(p, t[s->best].loss), 7, C_ORANGE, 1,
               2, p->idx);
    draw_axes(sc, p, "Loss vs. budget", p->ax.log ? "budget (log scale)" : "budget",
              p->ay.log ? "loss (log scale)" : "loss");
    char ok[48], bad[48];
    snprintf(ok, sizeof ok, "ok (%zu)", s->nok);
    snprintf(bad, sizeof bad, "not ok (%zu)", s->nbad);
    legend_item it[3], alt[3];
    int k = 0;
    if (s->nok) it[k++] = (legend_item){0, HB__SHAPE_CIRCLE, C_BLUE, 0.6, 1, 0, ok};
    if (s->nbad) it[k++] = (legend_item){0, HB__SHAPE_CROSS, C_RED, 1, 1.5, 0, bad};
    if (s->best >= 0) it[k++] = (legend_item){0, HB__SHAPE_RING, C_ORANGE, 1, 2, 0, "incumbent"};
    for (int i = 0; i < k; i++) {
        alt[i] = it[i];
        alt[i].label = it[i].label == ok ? "ok" : it[i].label == bad ? "not ok" : it[i].label;
    }
    draw_legend(sc, p, it, alt, k);
    if (s->n == 0)
        note(sc, p, "no trials");
    else if (!(s->loss_lo <= s->loss_hi))
        note(sc, p, "no ok trial");
}

/* The sessions of 'info' (a single one of info->workers when none is given). */
static const hb_session_span *sessions_of(const hb_plot_info *info, hb_session_span *one, size_t *n)
{
    if (info->sessions && info->n_sessions > 0) {
        *n = info->n_sessions;
        return info->sessions;
    }
    *one = (hb_session_span){0, info->workers};
    *n = info->workers > 0;
    return one;
}

/* The most workers of any session (0: unknown). */
static int most_workers(const hb_plot_info *info)
{
    hb_session_span one;
    size_t n;
    const hb_session_span *ss = sessions_of(info, &one, &n);
    int w = 0;
    for (size_t i = 0; i < n; i++)
        if (ss[i].workers > w) w = ss[i].workers;
    return w;
}

/* The dashed line of the workers each session had, a step at each resume. */
static void workers_line(hb__scene *sc, const panel *p, const series *s, const hb_session_span *ss, size_t n)
{
    size_t first = sc->npts;
    double a = p->x0;
    for (size_t i = 0; i < n; i++) {
        double b = i + 1 < n ? fmin(p->x1, fmax(a, px(p, fmax(s->t_lo, ss[i + 1].start)))) : p->x1;
        point(sc, a, py(p, ss[i].workers));
        point(sc, b, py(p, ss[i].workers));
        a = b;
    }
    polyline(sc, first, C_GREY, 1.5, 6, p->idx);
}

static void panel_workers(hb__scene *sc, const panel *p, const series *s, const hb_plot_info *info)
{
    draw_grid(sc, p);
    if (s->nev > 0) {
        size_t first = sc->npts;
        int cur = 0;
        point(sc, px(p, s->t_lo), py(p, 0));
        for (size_t i = 0; i < s->nev;) {
            double at = s->ev[i].t;
            point(sc, px(p, at), py(p, cur));
            for (; i < s->nev && s->ev[i].t == at; i++) cur += s->ev[i].d;
            point(sc, px(p, at), py(p, cur));
        }
        point(sc, px(p, s->t_hi), py(p, cur));
        polyline(sc, first, C_BLUE, 1.5, 0, p->idx);
    }
    hb_session_span one;
    size_t ns;
    const hb_session_span *ss = sessions_of(info, &one, &ns);
    int workers = most_workers(info);
    if (workers > 0) workers_line(sc, p, s, ss, ns);
    char title[64] = "Busy workers";
    double cap = hb_report_capacity(ss, ns, info->wall_seconds);
    if (s->n > 0 && workers > 0 && cap > 0 && isfinite(cap))
        snprintf(title, sizeof title, "Busy workers (utilisation %.0f%%)", 100 * fmin(1, s->busy / cap));
    draw_axes(sc, p, title, "time (s)", "running trials");
    char label[40], w[56];
    hb_report_workers_label(ss, ns, info->workers, label, sizeof label);
    snprintf(w, sizeof w, "workers (%s)", label);
    legend_item it[2] = {
        {1, HB__SHAPE_CIRCLE, C_BLUE, 1, 1.5, 0, "running trials"},
        {1, HB__SHAPE_CIRCLE, C_GREY, 1, 1.5, 6, w},
    };
    legend_item alt[2];
    memcpy(alt, it, sizeof alt);
    alt[0].label = "running";
    alt[1].label = "workers";
    draw_legend(sc, p, it, alt, workers > 0 ? 2 : 1);
    if (s->n == 0) note(sc, p, "no trials");
}

/* ---- population-based training (pbt, pb2) ---- */

static const uint32_t palette[10] = {0x1f77b4u, 0xff7f0eu, 0x2ca02cu, 0xd62728u, 0x9467bdu,
                                     0x8c564bu, 0xe377c2u, 0x7f7f7fu, 0xbcbd22u, 0x17becfu};

typedef struct idpos {
    uint64_t id;
    size_t i;
} idpos;

typedef struct okey {
    int m, st;
    uint64_t id;
    size_t i;
} okey;

typedef struct pbt_data {
    const hb_trial *t;
    okey *order;             /* ok trials of a member with a finite budget and loss, by member,
                                step, id */
    size_t norder;
    idpos *ids;              /* the same trials by id */
    hb_schedule_step *sched; /* the best model's steps */
    size_t nsched;
    double b_hi;             /* largest budget drawn (0 if none) */
    double loss_lo, loss_hi; /* range of the losses drawn */
    size_t param[HB_PLOT_MAX_SCHEDULE]; /* mutable numeric parameters drawn in the schedule */
    int nparam;
    size_t nmutable;         /* mutable parameters in the space */
} pbt_data;

static int member_cmp(const void *a, const void *b)
{
    const okey *x = a, *y = b;
    if (x->m != y->m) return x->m < y->m ? -1 : 1;
    if (x->st != y->st) return x->st < y->st ? -1 : 1;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int idpos_cmp(const void *a, const void *b)
{
    const idpos *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void pbt_fini(pbt_data *d)
{
    hb_free(d->order);
    hb_free(d->ids);
    hb_free(d->sched);
}

static int pbt_drawn(const hb_trial *r)
{
    return r->status == HB_TRIAL_OK && r->bracket >= 0 && isfinite(r->budget) && isfinite(r->loss);
}

static int pbt_init(pbt_data *d, const hb_plot_info *info, const hb_trial *t, size_t n, long best)
{
    memset(d, 0, sizeof *d);
    d->t = t;
    d->loss_lo = INFINITY;
    d->loss_hi = -INFINITY;
    const hb_space *sp = info->space;
    for (size_t i = 0; sp && i < hb_space_dim(sp); i++) {
        if (!hb_space_is_mutable(sp, i)) continue;
        if (d->nmutable++ < HB_PLOT_MAX_SCHEDULE) d->param[d->nparam++] = i;
    }
    if (n == 0) return HB_OK;
    d->order = hb_malloc(n * sizeof *d->order);
    d->ids = hb_malloc(n * sizeof *d->ids);
    d->sched = best >= 0 ? hb_malloc(n * sizeof *d->sched) : NULL;
    if (!d->order || !d->ids || (best >= 0 && !d->sched)) return HB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!pbt_drawn(&t[i])) continue;
        d->order[d->norder] = (okey){t[i].bracket, t[i].stage, t[i].id, i};
        d->ids[d->norder++] = (idpos){t[i].id, i};
        double b = clampd(t[i].budget, -BIG, BIG), l = clampd(t[i].loss, -BIG, BIG);
        d->b_hi = fmax(d->b_hi, b);
        d->loss_lo = fmin(d->loss_lo, l);
        d->loss_hi = fmax(d->loss_hi, l);
    }
    qsort(d->order, d->norder, sizeof *d->order, member_cmp);
    qsort(d->ids, d->norder, sizeof *d->ids, idpos_cmp);
    if (best >= 0) {
        d->nsched = hb_report_schedule(t, n, (size_t)best, d->sched);
        for (size_t q = 0; q < d->nsched; q++)
            if (isfinite(t[d->sched[q].trial].budget))
                d->b_hi = fmax(d->b_hi, clampd(t[d->sched[q].trial].budget, -BIG, BIG));
    }
    return HB_OK;
}

/* Index of the drawn trial with id 'id', or (size_t)-1. */
static size_t pbt_find(const pbt_data *d, uint64_t id)
{
    size_t lo = 0, hi = d->norder;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->ids[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->norder && d->ids[lo].id == id ? d->ids[lo].i : (size_t)-1;
}

/* Each member's loss after each step against budget, one line per member; a step that continued
 * another member's checkpoint (an exploit) jumps to that checkpoint's point first (a diamond);
 * the best model's steps underneath as a wide grey line. */
static void panel_population(hb__scene *sc, const panel *p, const pbt_data *d)
{
    const hb_trial *t = d->t;
    draw_grid(sc, p);
    size_t first = sc->npts;
    for (size_t q = 0; q < d->nsched; q++) {
        const hb_trial *r = &t[d->sched[q].trial];
        if (!pbt_drawn(r)) continue;
        size_t j = q == 0 && r->prev != HB_NO_JOB ? pbt_find(d, r->prev) : (size_t)-1;
        if (j != (size_t)-1) point(sc, px(p, t[j].budget), py(p, t[j].loss));
        point(sc, px(p, r->budget), py(p, r->loss));
    }
    polyline(sc, first, 0xc8c8c8u, 7, 0, p->idx);
    size_t exploits = 0;
    for (size_t a = 0; a < d->norder;) {
        int m = t[d->order[a].i].bracket;
        size_t b = a, last = (size_t)-1;
        first = sc->npts;
        for (; b < d->norder && t[d->order[b].i].bracket == m; b++) {
            const hb_trial *r = &t[d->order[b].i];
            size_t j = r->prev == HB_NO_JOB ? (size_t)-1 : pbt_find(d, r->prev);
            if (j != (size_t)-1 && j != last) point(sc, px(p, t[j].budget), py(p, t[j].loss));
            point(sc, px(p, r->budget), py(p, r->loss));
            last = d->order[b].i;
        }
        polyline(sc, first, palette[m % 10], 1.5, 0, p->idx);
        for (size_t k = a; k < b; k++) {
            const hb_trial *r = &t[d->order[k].i];
            marker(sc, HB__SHAPE_CIRCLE, px(p, r->budget), py(p, r->loss), 2.5, palette[m % 10], 1, 1, p->idx);
        }
        a = b;
    }
    for (size_t k = 0; k < d->norder; k++) {
        const hb_trial *r = &t[d->order[k].i];
        size_t j = r->prev == HB_NO_JOB ? (size_t)-1 : pbt_find(d, r->prev);
        if (j == (size_t)-1 || t[j].bracket == r->bracket) continue;
        marker(sc, HB__SHAPE_DIAMOND, px(p, t[j].budget), py(p, t[j].loss), 4.5, C_TEXT, 0.8, 1, p->idx);
        exploits++;
    }
    draw_axes(sc, p, "Population: loss vs. budget", "budget",
              p->ay.log ? "loss after the step (log scale)" : "loss after the step");
    char cp[48];
    snprintf(cp, sizeof cp, "copied checkpoint (%zu)", exploits);
    legend_item it[3], alt[3];
    int k = 0;
    if (d->norder) it[k++] = (legend_item){1, HB__SHAPE_CIRCLE, palette[0], 1, 1.5, 0, "a member"};
    if (d->nsched) it[k++] = (legend_item){1, HB__SHAPE_CIRCLE, 0xc8c8c8u, 1, 7, 0, "best model"};
    if (exploits) it[k++] = (legend_item){0, HB__SHAPE_DIAMOND, C_TEXT, 0.8, 1, 0, cp};
    for (int i = 0; i < k; i++) {
        alt[i] = it[i];
        alt[i].label = it[i].label == cp ? "copied" : it[i].label[0] == 'a' ? "member" : "best";
    }
    draw_legend(sc, p, it, alt, k);
    if (d->norder == 0) note(sc, p, "no ok trial");
}

/* The value axis of mutable parameter 'i' over 'len' pixels: its range (log10 for a log-scale
 * parameter), or the choice index of a categorical or ordinal one. */
static void schedule_axis(hb__axis *ay, const hb_space *sp, size_t i, double len)
{
    hb_param_type ty = hb_space_type(sp, i);
    if (ty == HB_PARAM_CATEGORICAL || ty == HB_PARAM_ORDINAL || ty == HB_PARAM_CONSTANT) {
        size_t k = hb_space_n_choices(sp, i);
        hb__plot_axis(ay, 0, k > 1 ? (double)(k - 1) : 0, 0, 1, 1, len, 0, 0, S_LABEL);
    } else {
        hb__plot_axis(ay, hb_space_lower(sp, i), hb_space_upper(sp, i),
                      hb_space_scale(sp, i) == HB_SCALE_LOG, 0, ty == HB_PARAM_INT, len, 0, 0, S_LABEL);
    }
}

/* The best model's mutable parameters against budget, one strip each: the value a step trained
 * with holds from the budget it started at to the budget it reached. */
static void panel_schedule(hb__scene *sc, const panel *cell, const panel *strip, int nstrip,
                           const pbt_data *d, const hb_plot_info *info)
{
    const hb_trial *t = d->t;
    double lh = (double)HB__FONT_ASCENT * S_LABEL;
    for (int j = 0; j < nstrip; j++) {
        const panel *p = &strip[j];
        draw_grid(sc, p);
        if (j >= d->nparam) break;
        size_t i = d->param[j];
        size_t first = sc->npts;
        for (size_t q = 0; q < d->nsched; q++) {
            const hb_trial *r = &t[d->sched[q].trial];
            double v = r->x[i];
            if (isnan(v) || !isfinite(r->budget)) { /* not active: break the line */
                polyline(sc, first, palette[j % 10], 2, 0, p->idx);
                first = sc->npts;
                continue;
            }
            point(sc, px(p, d->sched[q].from_budget), py(p, v));
            point(sc, px(p, r->budget), py(p, v));
        }
        polyline(sc, first, palette[j % 10], 2, 0, p->idx);
        for (size_t q = 0; q < d->nsched; q++) /* where the model copied a checkpoint */
            if (d->sched[q].copied_from >= 0 && !isnan(t[d->sched[q].trial].x[i]))
                marker(sc, HB__SHAPE_DIAMOND, px(p, d->sched[q].from_budget), py(p, t[d->sched[q].trial].x[i]),
                       4.5, C_TEXT, 0.8, 1, p->idx);
    }
    for (int j = 0; j < nstrip; j++) {
        const panel *p = &strip[j];
        draw_frame(sc, p, j == nstrip - 1);
        if (j >= d->nparam) continue;
        size_t i = d->param[j];
        hb_param_type ty = hb_space_type(info->space, i);
        char name[96];
        snprintf(name, sizeof name, "%s%s", hb_space_name(info->space, i),
                 ty == HB_PARAM_CATEGORICAL || ty == HB_PARAM_ORDINAL ? " (choice index)"
                 : hb_space_scale(info->space, i) == HB_SCALE_LOG && p->ay.log ? " (log scale)" : "");
        double w = fmin(hb__plot_text_width(name, S_LABEL, 0), p->x1 - p->x0 - 12);
        rect(sc, p->x0 + 1, p->y0 + 1, w + 8, lh + 6, C_WHITE, HB__NONE);
        text(sc, p->x0 + 5, p->y0 + 3 + lh, name, S_LABEL, -1, 0, 0, palette[j % 10], p->x1 - p->x0 - 12);
    }
    /* "(trial 38)", "(trial 38, 6 of 9)" when some mutable parameters are not drawn */
    char title[128] = "Schedule of the best model", more[48] = "";
    if (d->nmutable > (size_t)d->nparam) snprintf(more, sizeof more, "%d of %zu", d->nparam, d->nmutable);
    if (d->nsched)
        snprintf(title, sizeof title, "Schedule of the best model (trial %llu%s%s)",
                 (unsigned long long)t[d->sched[d->nsched - 1].trial].id, more[0] ? ", " : "", more);
    else if (more[0])
        snprintf(title, sizeof title, "Schedule of the best model (%s)", more);
    draw_titles(sc, cell, title, "budget", NULL);
    if (d->nparam == 0)
        note(sc, &strip[0], "no mutable parameter");
    else if (d->nsched == 0)
        note(sc, &strip[0], "no ok trial");
}

/* ---- the figure ---- */

int hb__plot_scene_build(const hb_plot_info *info, const hb_trial *t, size_t n, hb__scene *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->width = HB_PLOT_WIDTH;
    sc->height = info->pbt ? HB_PLOT_HEIGHT_PBT : HB_PLOT_HEIGHT;
    sc->nclips = 4;
    series s;
    pbt_data d;
    memset(&d, 0, sizeof d);
    int rc = series_init(&s, info, t, n);
    if (rc == HB_OK && info->pbt) rc = pbt_init(&d, info, t, n, s.best);
    if (rc != HB_OK) {
        series_fini(&s);
        pbt_fini(&d);
        return rc;
    }
    const double W = HB_PLOT_WIDTH, H = sc->height;
    /* panels 0-3; for pbt/pb2 the population (4), and the schedule's cell (5) split into strips */
    panel pn[6], strip[HB_PLOT_MAX_SCHEDULE];
    int npanels = info->pbt ? 6 : 4, nstrip = info->pbt ? (d.nparam > 0 ? d.nparam : 1) : 0;
    double cw = W / 2, ch = floor((HB_PLOT_HEIGHT - TITLE_BAND) / 2);
    for (int i = 0; i < npanels; i++) {
        panel *p = &pn[i];
        memset(p, 0, sizeof *p);
        p->idx = i;
        p->cx = (i % 2) * cw;
        p->cy = TITLE_BAND + (i / 2) * ch;
        p->cw = cw;
        p->ch = ch;
        p->y0 = p->cy + PLOT_TOP;
        p->y1 = p->cy + ch - PLOT_BOTTOM;
    }
    /* Vertical axes first: their labels set the left margins (one per column). */
    double len = pn[0].y1 - pn[0].y0;
    int inc_log = s.inc_lo > 0 && s.inc_hi / s.inc_lo >= 1000;
    hb__plot_axis(&pn[0].ay, s.inc_lo, s.inc_hi, inc_log, 0, 0, len, 0, 0, S_LABEL);
    pn[1].ay = pn[0].ay;
    int loss_log = s.loss_lo > 0 && s.loss_hi / s.loss_lo >= 1000;
    hb__plot_axis(&pn[2].ay, s.loss_lo, s.loss_hi, loss_log, 0, 0, len,
                  LEGEND_H + (s.nbad ? FAIL_BAND : 0) + 4, 0, S_LABEL);
    double top = fmax(s.max_busy, most_workers(info));
    hb__plot_axis(&pn[3].ay, 0, top > 0 ? top : 1, 0, 1, 1, len, LEGEND_H + 4, 0, S_LABEL);
    double strip_lw = 0;
    if (info->pbt) {
        int plog = d.loss_lo > 0 && d.loss_hi / d.loss_lo >= 1000;
        hb__plot_axis(&pn[4].ay, d.loss_lo, d.loss_hi, plog, 0, 0, len, LEGEND_H + 4, 0, S_LABEL);
        /* strips of the schedule's plot area, 'gap' apart */
        double gap = 10, sh = (len - gap * (nstrip - 1)) / nstrip;
        for (int j = 0; j < nstrip; j++) {
            panel *p = &strip[j];
            *p = pn[5];
            p->idx = 5 + j;
            p->y0 = floor(pn[5].y0 + j * (sh + gap));
            p->y1 = floor(pn[5].y0 + j * (sh + gap) + sh);
            if (j < d.nparam)
                schedule_axis(&p->ay, info->space, d.param[j], p->y1 - p->y0);
            else
                hb__plot_axis(&p->ay, 0, 1, 0, 1, 0, p->y1 - p->y0, 0, 0, S_LABEL);
            strip_lw = fmax(strip_lw, max_label_width(&p->ay, S_LABEL));
        }
        sc->nclips = 5 + nstrip;
    }
    for (int c = 0; c < 2; c++) {
        double lw = fmax(max_label_width(&pn[c].ay, S_LABEL),
                         max_label_width(&pn[c + 2].ay, S_LABEL));
        if (info->pbt) lw = fmax(lw, c == 0 ? max_label_width(&pn[4].ay, S_LABEL) : strip_lw);
        for (int r = 0; r < npanels / 2; r++) {
            panel *p = &pn[c + 2 * r];
            p->x0 = floor(p->cx + 56 + lw);
            p->x1 = p->cx + cw - PLOT_RIGHT;
            if (p->x1 - p->x0 < 100) p->x0 = p->x1 - 100;
            if (p->idx < 5) sc->clips[p->idx] = (hb__rect){p->x0, p->y0, p->x1 - p->x0, p->y1 - p->y0};
        }
    }
    double total = n ? s.cum[n - 1] : 0;
    hb__plot_axis(&pn[0].ax, 0, total > 0 ? total : 1, 0, 1, 0, pn[0].x1 - pn[0].x0, 0, 1, S_LABEL);
    hb__plot_axis(&pn[1].ax, s.t_lo, s.t_hi > s.t_lo ? s.t_hi : s.t_lo + 1, 0, 1, 0,
                  pn[1].x1 - pn[1].x0, 0, 1, S_LABEL);
    pn[3].ax = pn[1].ax; /* same column, same width */
    int b_log = s.b_lo > 0 && s.b_hi / s.b_lo >= 10;
    hb__plot_axis(&pn[2].ax, s.b_lo, s.b_hi, b_log, 0, 0, pn[2].x1 - pn[2].x0, 0, 1, S_LABEL);
    axis_use_values(&pn[2].ax, s.budgets, s.nbudgets, pn[2].x1 - pn[2].x0, S_LABEL);
    if (info->pbt) {
        /* budget from 0: a model starts from scratch */
        hb__plot_axis(&pn[4].ax, 0, d.b_hi > 0 ? d.b_hi : 1, 0, 1, 0, pn[4].x1 - pn[4].x0, 0, 1, S_LABEL);
        hb__plot_axis(&pn[5].ax, 0, d.b_hi > 0 ? d.b_hi : 1, 0, 1, 0, pn[5].x1 - pn[5].x0, 0, 1, S_LABEL);
        for (int j = 0; j < nstrip; j++) {
            strip[j].x0 = pn[5].x0;
            strip[j].x1 = pn[5].x1;
            strip[j].ax = pn[5].ax;
            sc->clips[strip[j].idx] = (hb__rect){strip[j].x0, strip[j].y0, strip[j].x1 - strip[j].x0,
                                                 strip[j].y1 - strip[j].y0};
        }
    }

    rect(sc, 0, 0, W, H, C_WHITE, HB__NONE);
    text(sc, W / 2, 36, info->title ? info->title : "hbmpi run", S_TITLE, 0, 0, 1, C_TEXT, W - 40);
    char sub[200], wall[40];
    int k = snprintf(sub, sizeof sub, "%zu trial%s (%zu not ok)", n, n == 1 ? "" : "s", s.nbad);
    if (most_workers(info) > 0 && k > 0 && (size_t)k < sizeof sub) {
        hb_session_span one;
        size_t ns;
        const hb_session_span *ss = sessions_of(info, &one, &ns);
        char label[40];
        hb_report_workers_label(ss, ns, info->workers, label, sizeof label);
        if (strchr(label, ' '))
            k += snprintf(sub + k, sizeof sub - (size_t)k, ", workers %s", label);
        else
            k += snprintf(sub + k, sizeof sub - (size_t)k, ", %s worker%s", label, !strcmp(label, "1") ? "" : "s");
    }
    if (info->wall_seconds > 0 && k > 0 && (size_t)k < sizeof sub) {
        fmt_g(wall, sizeof wall, info->wall_seconds, 4);
        snprintf(sub + k, sizeof sub - (size_t)k, ", %s s wall time", wall);
    }
    if (s.saved && k > 0 && (size_t)k < sizeof sub) {
        char nom[40], sp[40];
        fmt_g(nom, sizeof nom, s.cum[n - 1], 6);
        fmt_g(sp, sizeof sp, s.cum_spent[n - 1], 6);
        k = (int)strlen(sub);
        snprintf(sub + k, sizeof sub - (size_t)k, ", budget %s (%s spent)", nom, sp);
    }
    text(sc, W / 2, 62, sub, S_LABEL, 0, 0, 0, C_GREY, W - 40);
    panel_budget(sc, &pn[0], &s);
    panel_time(sc, &pn[1], &s);
    panel_scatter(sc, &pn[2], &s, t);
    panel_workers(sc, &pn[3], &s, info);
    if (info->pbt) {
        panel_population(sc, &pn[4], &d);
        panel_schedule(sc, &pn[5], strip, nstrip, &d, info);
    }
    series_fini(&s);
    pbt_fini(&d);
    return sc->failed ? HB_ENOMEM : HB_OK;
}

/* ---- SVG ---- */

static void put_num(hb_buf *b, double v)
{
    char s[40];
    if (!isfinite(v)) v = 0;
    snprintf(s, sizeof s, "%.2f", v);
    char *e = s + strlen(s);
    while (e[-1] == '0') e--;
    if (e[-1] == '.') e--;
    *e = '\0';
    hb_buf_puts(b, strcmp(s, "-0") == 0 ? "0" : s);
}

/* attr="number" with a leading space. */
static void put_attr(hb_buf *b, const char *name, double v)
{
    hb_buf_printf(b, " %s=\"", name);
    put_num(b, v);
    hb_buf_puts(b, "\"");
}

static void put_escaped(hb_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': hb_buf_puts(b, "&amp;"); break;
        case '<': hb_buf_puts(b, "&lt;"); break;
        case '>': hb_buf_puts(b, "&gt;"); break;
        case '"': hb_buf_puts(b, "&quot;"); break;
        default: hb_buf_append(b, s, 1);
        }
    }
}

static void put_paint(hb_buf *b, const char *what, uint32_t c)
{
    if (c == HB__NONE)
        hb_buf_printf(b, " %s=\"none\"", what);
    else
        hb_buf_printf(b, " %s=\"#%06x\"", what, (unsigned)c);
}

static void put_alpha(hb_buf *b, const char *what, double a)
{
    if (a < 1) put_attr(b, what, a);
}

/* 'cmd' then "x y" (path data) or "x,y" (cmd ","), at most 2 decimals. */
static void put_pt(hb_buf *b, const char *cmd, double x, double y)
{
    int comma = cmd[0] == ',';
    hb_buf_puts(b, comma ? "" : cmd);
    put_num(b, x);
    hb_buf_puts(b, comma ? "," : " ");
    put_num(b, y);
}

static void put_stroke(hb_buf *b, const hb__prim *p)
{
    put_paint(b, "stroke", p->color);
    put_attr(b, "stroke-width", p->width);
    put_alpha(b, "stroke-opacity", p->alpha);
}

static void svg_prim(const hb__scene *sc, const hb__prim *p, hb_buf *b)
{
    double x = p->x, y = p->y, r = p->size;
    switch (p->kind) {
    case HB__PRIM_RECT:
        hb_buf_puts(b, "<rect");
        put_attr(b, "x", x);
        put_attr(b, "y", y);
        put_attr(b, "width", p->w);
        put_attr(b, "height", p->h);
        put_paint(b, "fill", p->fill);
        if (p->color != HB__NONE) put_stroke(b, p);
        hb_buf_puts(b, "/>\n");
        break;
    case HB__PRIM_LINE:
        hb_buf_puts(b, "<polyline points=\"");
        for (size_t i = 0; i < p->count; i++) {
            const double *q = sc->pts + 2 * (p->first + i);
            if (i) hb_buf_puts(b, " ");
            put_pt(b, ",", q[0], q[1]);
        }
        hb_buf_puts(b, "\" fill=\"none\"");
        put_stroke(b, p);
        if (p->dash > 0) {
            hb_buf_puts(b, " stroke-dasharray=\"");
            put_pt(b, "", p->dash, p->dash * 0.6);
            hb_buf_puts(b, "\"");
        }
        hb_buf_puts(b, " stroke-linejoin=\"round\"/>\n");
        break;
    case HB__PRIM_MARK:
        if (p->shape == HB__SHAPE_CIRCLE || p->shape == HB__SHAPE_RING) {
            hb_buf_puts(b, "<circle");
            put_attr(b, "cx", x);
            put_attr(b, "cy", y);
            put_attr(b, "r", r);
            if (p->shape == HB__SHAPE_CIRCLE) {
                put_paint(b, "fill", p->color);
                put_alpha(b, "fill-opacity", p->alpha);
            } else {
                put_paint(b, "fill", HB__NONE);
                put_stroke(b, p);
            }
        } else if (p->shape == HB__SHAPE_CROSS) {
            hb_buf_puts(b, "<path d=\"");
            put_pt(b, "M", x - r, y - r);
            put_pt(b, "L", x + r, y + r);
            put_pt(b, "M", x - r, y + r);
            put_pt(b, "L", x + r, y - r);
            hb_buf_puts(b, "\" fill=\"none\"");
            put_stroke(b, p);
        } else {
            hb_buf_puts(b, "<path d=\"");
            put_pt(b, "M", x, y - r);
            put_pt(b, "L", x + r, y);
            put_pt(b, "L", x, y + r);
            put_pt(b, "L", x - r, y);
            hb_buf_puts(b, "Z\"");
            put_paint(b, "fill", p->color);
            put_alpha(b, "fill-opacity", p->alpha);
        }
        hb_buf_puts(b, "/>\n");
        break;
    case HB__PRIM_TEXT:
        hb_buf_puts(b, "<text");
        put_attr(b, "x", x);
        put_attr(b, "y", y);
        put_attr(b, "font-size", SVG_FONT_PX * p->scale);
        hb_buf_printf(b, " text-anchor=\"%s\"",
                      p->anchor < 0 ? "start" : p->anchor > 0 ? "end" : "middle");
        if (p->bold) hb_buf_puts(b, " font-weight=\"bold\"");
        put_paint(b, "fill", p->color);
        if (p->vertical) {
            hb_buf_puts(b, " transform=\"rotate(-90 ");
            put_pt(b, "", x, y);
            hb_buf_puts(b, ")\"");
        }
        hb_buf_puts(b, ">");
        put_escaped(b, hb__plot_text(sc, p));
        hb_buf_puts(b, "</text>\n");
        break;
    }
}

static int write_svg(const hb__scene *sc, hb_buf *b)
{
    hb_buf_printf(b,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n"
                  "<defs>\n",
                  sc->width, sc->height, sc->width, sc->height);
    for (int i = 0; i < sc->nclips; i++) {
        const hb__rect *r = &sc->clips[i];
        hb_buf_printf(b, "<clipPath id=\"plot%d\"><rect", i);
        put_attr(b, "x", r->x);
        put_attr(b, "y", r->y);
        put_attr(b, "width", r->w);
        put_attr(b, "height", r->h);
        hb_buf_puts(b, "/></clipPath>\n");
    }
    hb_buf_puts(b, "</defs>\n");
    int clip = -1;
    for (size_t i = 0; i < sc->nprims; i++) {
        const hb__prim *p = &sc->prims[i];
        if (p->clip != clip) {
            if (clip >= 0) hb_buf_puts(b, "</g>\n");
            if (p->clip >= 0) hb_buf_printf(b, "<g clip-path=\"url(#plot%d)\">\n", p->clip);
            clip = p->clip;
        }
        svg_prim(sc, p, b);
    }
    if (clip >= 0) hb_buf_puts(b, "</g>\n");
    return hb_buf_puts(b, "</svg>\n");
}

int hb_plot_svg(const hb_plot_info *info, const hb_trial *t, size_t n, hb_buf *out)
{
    if (info == NULL || out == NULL || (t == NULL && n > 0)) return HB_EINVAL;
    size_t len0 = out->len;
    hb__scene sc;
    int rc = hb__plot_scene_build(info, t, n, &sc);
    if (rc == HB_OK) rc = write_svg(&sc, out);
    hb__plot_scene_fini(&sc);
    if (rc != HB_OK && out->data) {
        out->len = len0;
        out->data[len0] = '\0';
    }
    return rc;
}
