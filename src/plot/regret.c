/* regret.c — the figure of `hbmpi sweep report --plot`: for one kernel, the median and quartile
 * band of each optimiser's regret against cumulative budget, both axes logarithmic, as SVG text.
 * Pure, like plot.c: the caller writes the file. */
#include "hb_plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { W = 760, H = 480, L = 80, R = 180, T = 40, B = 60, NX = 120 };

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

/* The decades the axes span: x = log10 of the budget, y = log10 of the regret (from 'floor_y',
 * where regrets of 0 are drawn). */
typedef struct frame {
    double xlo, xhi, ylo, yhi, floor_y;
} frame;

static double fx(const frame *f, double x) { return L + (log10(x) - f->xlo) / (f->xhi - f->xlo) * (W - L - R); }
static double fy(const frame *f, double y)
{
    return T + (f->yhi - log10(y > f->floor_y ? y : f->floor_y)) / (f->yhi - f->ylo) * (H - T - B);
}

/* The frame around every point of every curve; 0 when there is none. */
static int frame_of(const hb_regret_curve *c, size_t n, frame *f)
{
    double xmin = INFINITY, xmax = 0, ymin = INFINITY, ymax = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < c[i].n; s++)
            for (size_t j = 0; j < c[i].studies[s]->n; j++) {
                const hb_regret_point *p = &c[i].studies[s]->traj[j];
                if (p->budget < xmin) xmin = p->budget;
                if (p->budget > xmax) xmax = p->budget;
                if (p->regret > 0 && p->regret < ymin) ymin = p->regret;
                if (p->regret > ymax) ymax = p->regret;
            }
    if (!(xmax > 0)) return 0;
    if (!(xmin < xmax)) xmax = xmin * 10;
    if (!isfinite(ymin)) ymin = ymax > 0 ? ymax / 10 : 1e-3;
    if (!(ymax > ymin)) ymax = ymin * 10;
    f->ylo = floor(log10(ymin));
    f->yhi = ceil(log10(ymax));
    f->xlo = log10(xmin);
    f->xhi = log10(xmax);
    if (f->yhi <= f->ylo) f->yhi = f->ylo + 1;
    f->floor_y = pow(10, f->ylo);
    return 1;
}

/* Title, frame, the grid of decades and the axis names. */
static void axes(hb_buf *b, const frame *f, const char *kernel)
{
    hb_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
                     "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    hb_buf_puts(b, "<text x=\"80\" y=\"24\" font-size=\"15\">regret of ");
    for (const char *c = kernel; *c; c++) /* the kernel's options are the user's text */
        hb_buf_puts(b, *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : *c == '&' ? "&amp;" : (char[2]){*c, 0});
    hb_buf_puts(b, ": median over seeds, band q1..q3</text>\n");
    hb_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", L, T,
                  W - L - R, H - T - B);
    for (double e = f->ylo; e <= f->yhi + 1e-9; e += 1) {
        double y = fy(f, pow(10, e));
        hb_buf_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
                         "text-anchor=\"end\">1e%d</text>\n", L, W - R, y, y, L - 6, y + 4, (int)e);
    }
    for (double e = ceil(f->xlo); e <= f->xhi + 1e-9; e += 1) {
        double x = fx(f, pow(10, e));
        hb_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%d\" "
                         "text-anchor=\"middle\">1e%d</text>\n", x, x, T, H - B, x, H - B + 16, (int)e);
    }
    hb_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">cumulative budget</text>\n", (L + W - R) / 2,
                  H - 20);
    hb_buf_printf(b, "<text x=\"18\" y=\"%d\" transform=\"rotate(-90 18 %d)\" text-anchor=\"middle\">regret "
                     "(log)</text>\n", (T + H - B) / 2, (T + H - B) / 2);
}

/* The regret of trajectory 'r' at cumulative budget x (a step function): +inf before its first
 * point. */
static double regret_at(const hb_study_regret *r, double x)
{
    double v = INFINITY;
    for (size_t j = 0; j < r->n && r->traj[j].budget <= x; j++) v = r->traj[j].regret;
    return v;
}

/* Median and quartiles of curve 'c' at NX budgets 'xs' evenly spaced in log; 'v' has room for
 * c->n values. */
static void quartiles(const frame *f, const hb_regret_curve *c, double *v, double *xs, double *q1, double *med,
                      double *q3)
{
    for (int g = 0; g < NX; g++) {
        xs[g] = pow(10, f->xlo + (f->xhi - f->xlo) * g / (NX - 1));
        for (size_t i = 0; i < c->n; i++) v[i] = regret_at(c->studies[i], xs[g]);
        qsort(v, c->n, sizeof *v, hb_cmp_double);
        med[g] = hb_quantile_sorted(v, c->n, 0.5);
        q1[g] = hb_quantile_sorted(v, c->n, 0.25);
        q3[g] = hb_quantile_sorted(v, c->n, 0.75);
    }
}

/* Curve 'c' in 'color', its legend entry in row 'row'. */
static void curve(hb_buf *b, const frame *f, const hb_regret_curve *c, const char *color, int row, double *v)
{
    double med[NX], q1[NX], q3[NX], xs[NX];
    quartiles(f, c, v, xs, q1, med, q3);
    /* the band: q3 forwards, q1 back, where both are defined */
    hb_buf_printf(b, "<path fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" d=\"", color);
    int started = 0;
    for (int g = 0; g < NX; g++)
        if (isfinite(q3[g])) {
            hb_buf_printf(b, "%s%.1f %.1f ", started ? "L" : "M", fx(f, xs[g]), fy(f, q3[g]));
            started = 1;
        }
    for (int g = NX - 1; g >= 0 && started; g--)
        if (isfinite(q3[g])) hb_buf_printf(b, "L%.1f %.1f ", fx(f, xs[g]), fy(f, q1[g]));
    hb_buf_puts(b, "Z\"/>\n");
    hb_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (int g = 0; g < NX; g++)
        if (isfinite(med[g])) hb_buf_printf(b, "%.1f,%.1f ", fx(f, xs[g]), fy(f, med[g]));
    hb_buf_puts(b, "\"/>\n");
    double ly = T + 10 + 20.0 * row;
    hb_buf_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>"
                     "<text x=\"%d\" y=\"%.1f\">%s (%zu)</text>\n", W - R + 12, W - R + 36, ly, ly, color,
                  W - R + 42, ly + 4, c->label, c->n);
}

int hb_plot_regret_svg(const char *kernel, const hb_regret_curve *c, size_t n, hb_buf *out)
{
    if (kernel == NULL || out == NULL || (c == NULL && n > 0)) return HB_EINVAL;
    frame f;
    if (!frame_of(c, n, &f)) return HB_ENOTFOUND;
    size_t most = 1;
    for (size_t i = 0; i < n; i++)
        if (c[i].n > most) most = c[i].n;
    double *v = hb_malloc(most * sizeof *v);
    if (v == NULL) return HB_ENOMEM;
    hb_buf b = HB_BUF_INIT;
    axes(&b, &f, kernel);
    for (size_t i = 0; i < n; i++) /* a curve without studies keeps its colour and legend row */
        if (c[i].n > 0) curve(&b, &f, &c[i], colors[i % (sizeof colors / sizeof *colors)], (int)i, v);
    hb_buf_puts(&b, "</svg>\n");
    hb_free(v);
    int rc = b.failed ? HB_ENOMEM : HB_OK;
    if (rc == HB_OK) hb_buf_append(out, b.data, b.len);
    if (out->failed) rc = HB_ENOMEM;
    hb_buf_fini(&b);
    return rc;
}
