/* test_plot.c — checks of the run figure (src/plot): a synthetic HyperBand run and edge cases
 * through hb_plot_svg() and hb_plot_png(), the incumbent curve against hb_report_best(), the
 * axis ticks, allocation failures. Standalone (no CUnit): exits non-zero on a failure.
 * Usage: test_plot DIR — writes NAME.svg and NAME.png per case into DIR for check_plot.py. */
#include "hb_plot.h"
#include "plot_impl.h"
#include "../hb_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



#define CHECK_CASE(c, name)                                                                        \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: [%s] check failed: %s\n", __FILE__, __LINE__, name, #c);      \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const char *out_dir = NULL;

/* ---- a synthetic run ---- */

static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct job {
    double q;      /* configuration quality: lower is better */
    double loss;
    int ok;
} job;

static int by_loss(const void *a, const void *b)
{
    const job *x = a, *y = b;
    if (x->ok != y->ok) return y->ok - x->ok;
    return x->loss < y->loss ? -1 : x->loss > y->loss;
}

static int by_end(const void *a, const void *b)
{
    const hb_trial *x = a, *y = b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* HyperBand with R = 81, eta = 3 on 'workers' workers (synchronous rungs): budgets 1..81,
 * losses that fall with budget and with the number of configurations tried, about 4% not ok.
 * Returns the trials in order of their end times. */
static size_t make_run(hb_trial *t, size_t cap, int workers, uint64_t seed, double *wall)
{
    uint64_t s = seed;
    double freew[64] = {0};
    size_t n = 0, tried = 0;
    job js[128];
    for (int iter = 0; n < cap; iter++) {
        for (int br = 4; br >= 0 && n < cap; br--) {
            int nc = (int)ceil(5.0 / (br + 1) * pow(3, br));
            for (int i = 0; i < nc; i++) js[i].q = pow(urand(&s), 1 + (double)tried++ / 80);
            double ready = 0;
            for (int st = 0; st <= br && nc > 0 && n < cap; st++) {
                double budget = 81 / pow(3, br - st), stage_end = ready;
                for (int i = 0; i < nc && n < cap; i++) {
                    int w = 0;
                    for (int k = 1; k < workers; k++)
                        if (freew[k] < freew[w]) w = k;
                    double start = fmax(freew[w], ready);
                    double dur = budget * 0.05 * (0.7 + 0.6 * urand(&s));
                    double u = urand(&s);
                    hb_trial *r = &t[n];
                    memset(r, 0, sizeof *r);
                    r->id = n;
                    r->budget = budget;
                    r->spent = budget;
                    r->bracket = br;
                    r->stage = st;
                    r->worker = w + 1;
                    r->start = start;
                    js[i].ok = 1;
                    double noise = 0.6 + 0.8 * urand(&s);
                    js[i].loss = -3.3 + 3.0 * js[i].q + 1.2 / sqrt(budget) * noise;
                    if (u < 0.03) {
                        r->status = HB_TRIAL_FAILED;
                        r->reason = "exit 1";
                        dur *= 0.3;
                        js[i].ok = 0;
                    } else if (u < 0.045) {
                        r->status = HB_TRIAL_TIMEOUT;
                        dur *= 1.5;
                        js[i].ok = 0;
                    } else {
                        r->status = HB_TRIAL_OK;
                        r->loss = js[i].loss;
                    }
                    r->end = start + dur;
                    freew[w] = r->end;
                    stage_end = fmax(stage_end, r->end);
                    n++;
                }
                ready = stage_end;
                qsort(js, (size_t)nc, sizeof *js, by_loss);
                nc /= 3;
            }
        }
        (void)iter;
    }
    qsort(t, n, sizeof *t, by_end);
    *wall = t[n - 1].end + 0.5;
    return n;
}

/* ---- helpers ---- */

static void write_file(const char *name, const hb_buf *b)
{
    if (out_dir == NULL) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "cannot write %s\n", path);
        failures++;
        return;
    }
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) failures++;
    if (fclose(f) != 0) failures++;
}

static int contains(const hb_buf *b, const char *s) { return b->len && strstr(b->data, s) != NULL; }

static const char *panel_titles[4] = {"Incumbent vs. cumulative budget", "Incumbent vs. time",
                                      "Loss vs. budget", "Busy workers"};

/* Draw 't' both ways, check the outputs, write NAME.svg and NAME.png. */
static void plot_case(const char *name, const hb_plot_info *info, const hb_trial *t, size_t n)
{
    hb_buf svg = HB_BUF_INIT, png = HB_BUF_INIT, again = HB_BUF_INIT;
    CHECK_CASE(hb_plot_svg(info, t, n, &svg) == HB_OK, name);
    CHECK_CASE(svg.len > 1000, name);
    CHECK_CASE(contains(&svg, "<svg") && contains(&svg, "</svg>\n"), name);
    for (int i = 0; i < 4; i++) CHECK_CASE(contains(&svg, panel_titles[i]), name);
    CHECK_CASE(!contains(&svg, "nan") && !contains(&svg, "inf"), name);
    CHECK_CASE(!contains(&svg, "NaN") && !contains(&svg, "Inf"), name);
    CHECK_CASE(svg.len == strlen(svg.data), name);
    CHECK_CASE(hb_plot_svg(info, t, n, &again) == HB_OK, name);
    CHECK_CASE(again.len == svg.len && memcmp(again.data, svg.data, svg.len) == 0, name);

    CHECK_CASE(hb_plot_png(info, t, n, &png) == HB_OK, name);
    CHECK_CASE(png.len > 1000, name);
    CHECK_CASE(png.len >= 8 && memcmp(png.data, "\x89PNG\r\n\x1a\n", 8) == 0, name);
    CHECK_CASE(png.len >= 24 && memcmp(png.data + 12, "IHDR", 4) == 0, name);
    CHECK_CASE(png.len >= 12 && memcmp(png.data + png.len - 8, "IEND", 4) == 0, name);
    hb_buf_reset(&again);
    CHECK_CASE(hb_plot_png(info, t, n, &again) == HB_OK, name);
    CHECK_CASE(again.len == png.len && memcmp(again.data, png.data, png.len) == 0, name);

    char file[256];
    snprintf(file, sizeof file, "%s.svg", name);
    write_file(file, &svg);
    snprintf(file, sizeof file, "%s.png", name);
    write_file(file, &png);
    hb_buf_fini(&svg);
    hb_buf_fini(&png);
    hb_buf_fini(&again);
}

static hb_trial ok_trial(uint64_t id, double budget, double loss, double start, double end)
{
    hb_trial r;
    memset(&r, 0, sizeof r);
    r.id = id;
    r.budget = budget;
    r.loss = loss;
    r.status = HB_TRIAL_OK;
    r.bracket = r.stage = -1;
    r.worker = 1;
    r.start = start;
    r.end = end;
    return r;
}

static hb_trial bad_trial(uint64_t id, double budget, hb_trial_status st, double start, double end)
{
    hb_trial r = ok_trial(id, budget, NAN, start, end);
    r.status = st;
    r.reason = "failed";
    return r;
}

/* ---- cases ---- */

static void test_arguments(void)
{
    hb_plot_info info = {"args", 2, 10, 0, NULL, NULL, 0};
    hb_trial one = ok_trial(0, 1, 0.5, 0, 1);
    hb_buf b = HB_BUF_INIT;
    CHECK(hb_plot_svg(NULL, &one, 1, &b) == HB_EINVAL);
    CHECK(hb_plot_svg(&info, NULL, 1, &b) == HB_EINVAL);
    CHECK(hb_plot_svg(&info, &one, 1, NULL) == HB_EINVAL);
    CHECK(hb_plot_png(NULL, &one, 1, &b) == HB_EINVAL);
    CHECK(hb_plot_png(&info, NULL, 1, &b) == HB_EINVAL);
    CHECK(hb_plot_png(&info, &one, 1, NULL) == HB_EINVAL);
    CHECK(b.len == 0);
    /* Output is appended. */
    hb_buf_puts(&b, "prefix");
    CHECK(hb_plot_svg(&info, NULL, 0, &b) == HB_OK);
    CHECK(strncmp(b.data, "prefix<?xml", 11) == 0);
    size_t len = b.len;
    CHECK(hb_plot_png(&info, &one, 1, &b) == HB_OK);
    CHECK(b.len > len + 8 && memcmp(b.data + len, "\x89PNG", 4) == 0);
    hb_buf_fini(&b);
}

static void test_incumbents(void)
{
    /* Random trials with ties, failures, NaN losses and budgets that go up and down. */
    enum { N = 400 };
    hb_trial t[N];
    double inc[N];
    uint64_t s = 7;
    static const double budgets[4] = {1, 3, 9, 27};
    for (int i = 0; i < N; i++) {
        double u = urand(&s);
        double b = budgets[(int)(urand(&s) * 4) % 4];
        if (i < 200 && b > 3) b = 3; /* larger budgets appear later: the incumbent jumps up */
        t[i] = ok_trial((uint64_t)i, b, floor(urand(&s) * 20) / 4, i, i + 1);
        if (u < 0.1) t[i] = bad_trial((uint64_t)i, b, HB_TRIAL_CRASHED, i, i + 1);
        if (u > 0.995) t[i].loss = NAN;
    }
    t[0].status = HB_TRIAL_LOST;
    hb__plot_incumbents(t, N, inc);
    int jumped_up = 0;
    for (size_t i = 0; i < N; i++) {
        long b = hb_report_best(t, i + 1);
        if (b < 0) {
            CHECK(isnan(inc[i]));
        } else {
            double want = t[b].loss;
            CHECK((isnan(want) && isnan(inc[i])) || want == inc[i]);
        }
        if (i > 0 && inc[i] > inc[i - 1]) jumped_up = 1;
    }
    CHECK(jumped_up);
    CHECK(isnan(inc[0]));
    /* Budgets of -inf and NaN: the same answers as hb_report_best(). */
    hb_trial e[3] = {ok_trial(0, -INFINITY, 2, 0, 1), ok_trial(1, NAN, 1, 0, 1),
                     ok_trial(2, -INFINITY, 1.5, 0, 1)};
    hb__plot_incumbents(e, 3, inc);
    for (size_t i = 0; i < 3; i++) {
        long b = hb_report_best(e, i + 1);
        CHECK(b >= 0 ? inc[i] == e[b].loss : isnan(inc[i]));
    }
}

static int is_125(double step)
{
    double m = step / pow(10, floor(log10(step) + 1e-9));
    return fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6 || fabs(m - 10) < 1e-6;
}

static void check_axis(const hb__axis *ax, const char *what)
{
    CHECK_CASE(isfinite(ax->lo) && isfinite(ax->hi) && ax->lo < ax->hi, what);
    CHECK_CASE(ax->nticks >= 2 && ax->nticks <= HB__MAX_TICKS, what);
    for (int i = 0; i < ax->nticks; i++) {
        CHECK_CASE(isfinite(ax->tick[i]), what);
        double tol = (ax->hi - ax->lo) * 1e-6;
        CHECK_CASE(ax->tick[i] >= ax->lo - tol && ax->tick[i] <= ax->hi + tol, what);
        CHECK_CASE(ax->label[i][0] != '\0', what);
        CHECK_CASE(!strstr(ax->label[i], "nan") && !strstr(ax->label[i], "inf"), what);
        if (i > 0) {
            CHECK_CASE(ax->tick[i] > ax->tick[i - 1], what);
            CHECK_CASE(strcmp(ax->label[i], ax->label[i - 1]) != 0, what);
        }
    }
    if (!ax->log && ax->nticks >= 2) {
        double step = ax->tick[1] - ax->tick[0];
        CHECK_CASE(is_125(step), what);
        for (int i = 2; i < ax->nticks; i++)
            CHECK_CASE(fabs(ax->tick[i] - ax->tick[i - 1] - step) <= step * 1e-6, what);
    }
}

static void test_axes(void)
{
    static const double ranges[][2] = {
        {0, 1},         {0, 81},       {-3.32, -0.1}, {0.5, 0.5},     {0, 0},      {-1, -1},
        {1e-12, 1e12},  {1e12, 1e12},  {1e-12, 2e-12}, {-1e12, 1e12}, {1e300, 1e300},
        {-1e300, 1e300}, {5e-324, 5e-324}, {123456.7, 123456.8}, {0.001, 0.0011}, {3, 2},
        {NAN, 1},       {0, INFINITY}, {1, 10},       {1, 81},        {1e-6, 1e6}, {7, 9},
    };
    char what[96];
    hb__axis ax;
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        for (int log = 0; log < 2; log++)
            for (int horiz = 0; horiz < 2; horiz++)
                for (int zero = 0; zero < 2; zero++) {
                    snprintf(what, sizeof what, "axis %g..%g log %d horizontal %d zero %d",
                             ranges[i][0], ranges[i][1], log, horiz, zero);
                    hb__plot_axis(&ax, ranges[i][0], ranges[i][1], log, zero, 0, 480,
                                  horiz ? 0 : 40, horiz, 2);
                    check_axis(&ax, what);
                    /* The data fit inside the visible range. */
                    double lo = ranges[i][0], hi = ranges[i][1];
                    if (lo <= hi && isfinite(lo) && isfinite(hi) && fabs(hi) < 1e299 &&
                        fabs(lo) < 1e299) {
                        double ulo = ax.log ? log10(lo) : lo, uhi = ax.log ? log10(hi) : hi;
                        CHECK_CASE(ulo >= ax.lo && uhi <= ax.hi, what);
                    }
                }
    hb__plot_axis(&ax, 0, 4, 0, 1, 1, 300, 0, 0, 2);
    check_axis(&ax, "integer");
    CHECK(ax.lo == 0);
    for (int i = 0; i < ax.nticks; i++) CHECK(ax.tick[i] == floor(ax.tick[i]));
    hb__plot_axis(&ax, 1, 81, 1, 0, 0, 480, 0, 1, 2);
    CHECK(ax.log == 1);
    check_axis(&ax, "log 1..81");
    CHECK(strcmp(ax.label[0], "1") == 0 && strcmp(ax.label[1], "2") == 0);
    hb__plot_axis(&ax, 0, 1e12, 0, 1, 0, 480, 0, 1, 2);
    check_axis(&ax, "0..1e12");
    CHECK(strcmp(ax.label[0], "0") == 0 && strchr(ax.label[1], 'e') != NULL);
    hb__plot_axis(&ax, 0.5, 0.5, 0, 0, 0, 300, 0, 0, 2);
    CHECK(ax.lo < 0.5 && ax.hi > 0.5);
    hb__plot_axis(&ax, 0, 1, 0, 1, 0, 300, 0, 0, 2);
    CHECK(strcmp(ax.label[0], "0.0") == 0 && strcmp(ax.label[ax.nticks - 1], "1.0") == 0);
    CHECK(hb__plot_text_width("abc", 2, 0) == 34);
    CHECK(hb__plot_text_width("\xc3\xa9t\xc3\xa9", 1, 0) == 17);
    CHECK(hb__plot_text_width("", 3, 1) == 0);
}

static void test_run(void)
{
    enum { N = 300 };
    static hb_trial t[N];
    double wall = 0;
    size_t n = make_run(t, N, 4, 1, &wall);
    CHECK(n == N);
    hb_plot_info info = {"bohb on hartmann6, seed 1", 4, wall, 0, NULL, NULL, 0};
    plot_case("normal", &info, t, n);

    /* The same run, all at budget 1 with equal losses: flat lines, no log axis. */
    static hb_trial e[N];
    memcpy(e, t, sizeof e);
    for (size_t i = 0; i < n; i++) {
        e[i].budget = 1;
        e[i].loss = 0.25;
    }
    hb_plot_info einfo = {"equal budgets and losses", 4, wall, 0, NULL, NULL, 0};
    plot_case("equal", &einfo, e, n);

    /* Many trials: 20000 on 64 workers. */
    size_t m = 20000;
    hb_trial *big = hb_malloc(m * sizeof *big);
    CHECK(big != NULL);
    if (big) {
        double bw = 0;
        m = make_run(big, m, 64, 3, &bw);
        hb_plot_info binfo = {"hyperband, 64 workers", 64, bw, 0, NULL, NULL, 0};
        plot_case("many", &binfo, big, m);
        hb_free(big);
    }
}

static void test_edges(void)
{
    hb_plot_info info = {"an empty run", 4, 0, 0, NULL, NULL, 0};
    plot_case("empty", &info, NULL, 0);

    hb_trial bad[5];
    for (int i = 0; i < 5; i++)
        bad[i] = bad_trial((uint64_t)i, 1 + i, (hb_trial_status)(1 + i), i * 2.0, i * 2.0 + 1.5);
    hb_plot_info binfo = {"every trial failed", 2, 11, 0, NULL, NULL, 0};
    plot_case("no_ok", &binfo, bad, 5);

    hb_trial one = ok_trial(0, 9, 0.75, 0.5, 3.5);
    hb_plot_info oinfo = {"a single trial", 1, 4, 0, NULL, NULL, 0};
    plot_case("single_ok", &oinfo, &one, 1);
    hb_trial onebad = bad_trial(0, 9, HB_TRIAL_TIMEOUT, 0, 60);
    plot_case("single_failed", &oinfo, &onebad, 1);

    /* Negative losses spanning orders of magnitude; the incumbent improves. */
    hb_trial neg[40];
    for (int i = 0; i < 40; i++)
        neg[i] = ok_trial((uint64_t)i, i < 20 ? 2 : 4, -pow(10, i / 8.0) + 0.3 * (i % 3), i, i + 2);
    hb_plot_info ninfo = {"negative losses", 2, 0, 0, NULL, NULL, 0};
    plot_case("negative", &ninfo, neg, 40);

    /* Values from 1e-12 to 1e12: losses, budgets and times. */
    hb_trial ext[30];
    for (int i = 0; i < 30; i++) {
        double v = pow(10, -12 + 24.0 * i / 29);
        ext[i] = ok_trial((uint64_t)i, v, (i % 2 ? v : 1 / v), v * 0.5, v);
        if (i % 7 == 3) ext[i].status = HB_TRIAL_NAN;
    }
    hb_plot_info xinfo = {"extreme values 1e-12 .. 1e12", 3, 1e12, 0, NULL, NULL, 0};
    plot_case("extreme", &xinfo, ext, 30);
    /* Huge losses on a linear scale (mixed signs). */
    hb_trial mix[4] = {ok_trial(0, 1, -1e12, 0, 1), ok_trial(1, 1, 1e12, 1, 2),
                       ok_trial(2, 3, 5e11, 2, 3), ok_trial(3, 3, -2.5e11, 3, 4)};
    plot_case("huge_linear", &xinfo, mix, 4);

    /* No time at all: wall 0, every start and end 0, no workers. */
    hb_trial zt[6];
    for (int i = 0; i < 6; i++) zt[i] = ok_trial((uint64_t)i, 3, 1.0 / (i + 1), 0, 0);
    hb_plot_info zinfo = {"zero times", 0, 0, 0, NULL, NULL, 0};
    plot_case("zero_time", &zinfo, zt, 6);

    /* Bad data: NaN and infinite numbers, start after end, negative times; a title with XML
     * specials, UTF-8, invalid bytes and control characters, and too long to fit. */
    hb_trial msg[8] = {
        ok_trial(0, 1, NAN, 0, 1),           ok_trial(1, NAN, 0.5, 1, 2),
        ok_trial(2, 3, INFINITY, 2, NAN),    ok_trial(3, 3, 0.25, INFINITY, 4),
        ok_trial(4, 9, -INFINITY, 5, 4),     ok_trial(5, 9, 0.125, -2, 6),
        bad_trial(6, -1, HB_TRIAL_LOST, 7, 8), ok_trial(7, INFINITY, 0.1, 8, 9),
    };
    hb_plot_info minfo = {"<b>&amp; \"q\" caf\xc3\xa9 \xff\xfe bad\x01\x7f bytes, and a title "
                          "far too long to fit on one line of the figure, so it is cut ... end",
                          -3, NAN, 0, NULL, NULL, 0};
    plot_case("messy", &minfo, msg, 8);
    hb_plot_info ninf = {NULL, 2, INFINITY, 0, NULL, NULL, 0};
    plot_case("no_title", &ninf, msg, 8);
}

/* ---- population-based training ---- */

/* A space with 'nmut' mutable parameters (lr on a log scale, a float, an int, a categorical, then
 * floats) and one fixed float. */
static hb_space *pbt_space(int nmut)
{
    hb_space *sp = NULL;
    CHECK(hb_space_create(&sp) == HB_OK);
    hb_value acts[3] = {{1, 0, "relu"}, {1, 0, "tanh"}, {1, 0, "gelu"}};
    hb_space_add_float(sp, "lr", 1e-4, 1, HB_SCALE_LOG, NAN, NULL);
    hb_space_add_float(sp, "momentum", 0, 0.99, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_add_int(sp, "batch", 8, 64, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_add_categorical(sp, "act", acts, 3, NULL, -1, NULL);
    hb_space_add_float(sp, "fixed", 0, 1, HB_SCALE_LINEAR, NAN, NULL);
    char name[16];
    for (int i = 4; i < nmut; i++) {
        snprintf(name, sizeof name, "extra%d", i);
        hb_space_add_float(sp, name, -1, 1, HB_SCALE_LINEAR, NAN, NULL);
    }
    const char *mut[] = {"lr", "momentum", "batch", "act"};
    for (int i = 0; i < nmut && i < 4; i++) hb_space_set_mutable(sp, mut[i], 1, NULL);
    for (int i = 4; i < nmut; i++) {
        snprintf(name, sizeof name, "extra%d", i);
        hb_space_set_mutable(sp, name, 1, NULL);
    }
    CHECK(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    return sp;
}

/* 'pop' members, 'steps' steps of 5: the worst member copies the best's checkpoint at each step
 * after the first (a jump) and perturbs its mutable values. 'xs' holds 'dim' values a trial. */
static size_t make_pbt_run(hb_trial *t, double *xs, size_t dim, const hb_space *sp, int pop, int steps,
                           uint64_t seed)
{
    uint64_t s = seed;
    double q[16], last_loss[16];
    uint64_t last_id[16];
    size_t n = 0;
    for (int m = 0; m < pop; m++) q[m] = 0.2 + urand(&s);
    for (int st = 0; st < steps; st++) {
        int worst = 0, best = 0;
        for (int m = 0; st > 0 && m < pop; m++) {
            if (last_loss[m] > last_loss[worst]) worst = m;
            if (last_loss[m] < last_loss[best]) best = m;
        }
        for (int m = 0; m < pop; m++) {
            hb_trial *r = &t[n];
            double *x = xs + n * dim;
            memset(r, 0, sizeof *r);
            int exploit = st > 0 && m == worst && worst != best;
            uint64_t prev = st == 0 ? HB_NO_JOB : last_id[exploit ? best : m];
            if (exploit) q[m] = q[best] * (0.8 + 0.4 * urand(&s));
            double from = st == 0 ? 0 : 5.0 * st;
            r->id = n;
            r->x = x;
            r->budget = 5.0 * (st + 1);
            r->spent = r->budget - from;
            r->bracket = m;
            r->stage = st;
            r->worker = 1 + m % 2;
            r->start = n;
            r->end = n + 0.9;
            r->prev = prev;
            r->config = st == 0 ? r->id : t[prev].config;
            r->status = HB_TRIAL_OK;
            double base = st == 0 ? 2.0 : last_loss[exploit ? best : m];
            r->loss = base * (0.7 + 0.25 * q[m]);
            for (size_t i = 0; i < dim; i++) {
                double u = fmin(1, fmax(0, 0.5 * q[m] + 0.1 * st / steps + 0.05 * urand(&s)));
                if (hb_space_type(sp, i) == HB_PARAM_CATEGORICAL)
                    x[i] = floor(u * 2.999);
                else if (hb_space_scale(sp, i) == HB_SCALE_LOG)
                    x[i] = pow(10, -4 + 4 * u);
                else if (hb_space_type(sp, i) == HB_PARAM_INT)
                    x[i] = floor(8 + u * 56);
                else
                    x[i] = hb_space_lower(sp, i) + u * (hb_space_upper(sp, i) - hb_space_lower(sp, i));
            }
            n++;
        }
        for (int m = 0; m < pop; m++) {
            last_id[m] = t[n - (size_t)pop + (size_t)m].id;
            last_loss[m] = t[n - (size_t)pop + (size_t)m].loss;
        }
    }
    return n;
}

static void test_pbt(void)
{
    enum { POP = 4, STEPS = 10, N = POP * STEPS, DIM = 12 };
    static hb_trial t[N];
    static double xs[N * DIM];
    hb_space *sp = pbt_space(4);
    size_t n = make_pbt_run(t, xs, hb_space_dim(sp), sp, POP, STEPS, 11);
    CHECK(n == N);
    hb_plot_info info = {"pbt on a toy, seed 11", 2, n + 1.0, 1, sp, NULL, 0};
    plot_case("pbt", &info, t, n);
    /* The scene: six panels and a clip per schedule strip; a line per member (width 1.5) in the
     * population panel, one line per mutable parameter in its strip, every point inside its clip. */
    hb__scene sc;
    CHECK(hb__plot_scene_build(&info, t, n, &sc) == HB_OK);
    CHECK(sc.height == HB_PLOT_HEIGHT_PBT && sc.nclips == 5 + 4);
    int members = 0, strips[4] = {0};
    for (size_t i = 0; i < sc.nprims; i++) {
        const hb__prim *p = &sc.prims[i];
        if (p->kind != HB__PRIM_LINE || p->clip < 4) continue;
        if (p->clip == 4 && p->width == 1.5) members++;
        if (p->clip >= 5) strips[p->clip - 5]++;
        const hb__rect *r = &sc.clips[p->clip];
        for (size_t k = 0; k < p->count; k++) {
            const double *q = sc.pts + 2 * (p->first + k);
            CHECK(q[0] >= r->x - 0.01 && q[0] <= r->x + r->w + 0.01 && q[1] >= r->y - 0.01 &&
                  q[1] <= r->y + r->h + 0.01);
        }
    }
    CHECK(members == POP);
    for (int j = 0; j < 4; j++) CHECK(strips[j] == 1);
    hb__plot_scene_fini(&sc);
    hb_space_free(sp);

    /* More mutable parameters than strips; no space; no ok trial. */
    sp = pbt_space(9);
    n = make_pbt_run(t, xs, hb_space_dim(sp), sp, 3, 5, 12);
    hb_plot_info minfo = {"pbt, nine mutable parameters", 2, n + 1.0, 1, sp, NULL, 0};
    plot_case("pbt_many", &minfo, t, n);
    CHECK(hb__plot_scene_build(&minfo, t, n, &sc) == HB_OK);
    CHECK(sc.nclips == 5 + HB_PLOT_MAX_SCHEDULE);
    hb__plot_scene_fini(&sc);
    hb_plot_info ninfo = {"pbt without a space", 2, n + 1.0, 1, NULL, NULL, 0};
    plot_case("pbt_nospace", &ninfo, t, n);
    for (size_t i = 0; i < n; i++) t[i].status = HB_TRIAL_CRASHED;
    plot_case("pbt_no_ok", &minfo, t, n);
    plot_case("pbt_empty", &minfo, NULL, 0);
    hb_space_free(sp);
}

/* Every allocation failure gives HB_ENOMEM, appends nothing and leaks nothing. */
static void test_alloc_failures(void)
{
    enum { N = 60 };
    static hb_trial t[N];
    double wall = 0;
    size_t n = make_run(t, N, 3, 5, &wall);
    hb_plot_info info = {"allocation failures", 3, wall, 0, NULL, NULL, 0};
    static hb_trial pt[24];
    static double xs[24 * 5];
    hb_space *sp = pbt_space(3);
    size_t pn = make_pbt_run(pt, xs, hb_space_dim(sp), sp, 4, 6, 3);
    hb_plot_info pinfo = {"allocation failures, pbt", 2, 30, 1, sp, NULL, 0};
    for (int png = 0; png < 4; png++) {
        if (png == 2) { /* the pbt figure, both ways */
            info = pinfo;
            memcpy(t, pt, pn * sizeof *pt);
            n = pn;
        }
        long base = hb_alloc_live(), k;
        int rc = HB_ENOMEM;
        for (k = 0; k < 10000 && rc != HB_OK; k++) {
            hb_buf b = HB_BUF_INIT;
            hb_alloc_fail_after(k);
            rc = png % 2 ? hb_plot_png(&info, t, n, &b) : hb_plot_svg(&info, t, n, &b);
            hb_alloc_fail_after(-1);
            CHECK(rc == HB_OK || rc == HB_ENOMEM);
            if (rc != HB_OK) CHECK(b.len == 0);
            hb_buf_fini(&b);
            CHECK(hb_alloc_live() == base);
        }
        CHECK(rc == HB_OK);
        CHECK(k > 3);
    }
    hb_space_free(sp);
}

/* The sweep's regret figure: bad arguments, nothing to draw, one line and legend entry per curve
 * that has studies (a curve without keeps its colour), the kernel's text escaped, and every
 * allocation failure HB_ENOMEM with nothing appended. */
static void test_regret(void)
{
    hb_regret_point pa[] = {{1, 10}, {9, 1}, {81, 0.01}}, pb[] = {{3, 5}, {27, 0.5}}, pc[] = {{2, 2}, {50, 0}};
    hb_study_regret ra = {pa, 3, 0.01, 81, 3}, rb = {pb, 2, 0.5, 27, 2}, rc_ = {pc, 2, 0, 50, 2};
    const hb_study_regret *s1[] = {&ra, &rb}, *s3[] = {&rc_};
    hb_regret_curve c[] = {{"random", s1, 2}, {"hyperband", NULL, 0}, {"bohb", s3, 1}};
    hb_buf b = HB_BUF_INIT;
    CHECK(hb_plot_regret_svg(NULL, c, 3, &b) == HB_EINVAL);
    CHECK(hb_plot_regret_svg("k", NULL, 1, &b) == HB_EINVAL);
    CHECK(hb_plot_regret_svg("k", c + 1, 1, &b) == HB_ENOTFOUND && b.len == 0);
    CHECK(hb_plot_regret_svg("a<b>&c", c, 3, &b) == HB_OK);
    const char *svg = b.data ? b.data : "";
    CHECK(strstr(svg, "regret of a&lt;b&gt;&amp;c: median") != NULL);
    CHECK(strstr(svg, ">random (2)</text>") && strstr(svg, ">bohb (1)</text>") && !strstr(svg, "hyperband"));
    CHECK(strstr(svg, "stroke=\"#2ca02c\"") != NULL); /* bohb keeps the third colour */
    CHECK(strstr(svg, "stroke=\"#d62728\"") == NULL);
    size_t lines = 0;
    for (const char *q = svg; (q = strstr(q, "<polyline")) != NULL; q++) lines++;
    CHECK(lines == 2);
    CHECK(strstr(svg, ">1e-2</text>") && strstr(svg, ">1e1</text>") && strstr(svg, ">1e0</text>"));
    if (out_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/regret.svg", out_dir);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(b.data, 1, b.len, f);
            fclose(f);
        }
    }
    hb_buf_fini(&b);
    long base = hb_alloc_live(), k;
    int rc = HB_ENOMEM;
    for (k = 0; k < 1000 && rc != HB_OK; k++) {
        hb_buf e = HB_BUF_INIT;
        hb_alloc_fail_after(k);
        rc = hb_plot_regret_svg("k", c, 3, &e);
        hb_alloc_fail_after(-1);
        CHECK(rc == HB_OK || (rc == HB_ENOMEM && e.len == 0));
        hb_buf_fini(&e);
        CHECK(hb_alloc_live() == base);
    }
    CHECK(rc == HB_OK && k > 1);
}

int main(int argc, char **argv)
{
    out_dir = argc > 1 ? argv[1] : NULL;
    test_arguments();
    test_incumbents();
    test_axes();
    test_run();
    test_edges();
    test_pbt();
    test_alloc_failures();
    test_regret();
    if (failures) {
        fprintf(stderr, "test_plot: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_plot: all checks passed%s%s\n", out_dir ? ", files in " : "",
           out_dir ? out_dir : "");
    return 0;
}
