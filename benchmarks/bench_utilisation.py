#!/usr/bin/python3
"""Worker utilisation of hbmpi's bracket optimisers at cluster scale, in simulated time.

Runs `hbmpi run --kernel hartmann6 --optimizer O --simulate-workers W --sim-cost budget
--iterations N --json --quiet` for O in hyperband, bohb, asha and W in 16, 256, 1024, with the
run length scaled with the worker count (N = iterations per worker x W), so that start-up and
the tail at the end are a small part of the run. Reports totals.utilisation (the share of
worker time spent evaluating, in virtual time), and from the trials' start/end times:

  steady_utilisation   utilisation over [0, t_drain], t_drain = the last instant at which all
                       W workers were busy (1.0: no worker ever waited before the drain);
  drain_seconds        virtual time from t_drain to the end (the tail, where work runs out);
  work_per_worker_R    total budget / (W x max budget): how many max-budget evaluations each
                       worker does; the tail costs about 1.5 max-budget evaluations, so this
                       sets the best possible utilisation.

Also the real (process) wall time of every run, and a sweep for hyperband at the largest W:
--max-open-brackets and the run length. Draws busy workers over virtual time for the
largest-W runs as an SVG. Target (printed, not fatal): utilisation >= 95 % at 1024 workers.

Standard library only. Output: one JSON object (stdout or --out), a table on stderr.
Exit status: 0 all runs worked; 1 a run failed; 2 bad usage.
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape

from benchlib import HERE, ROOT, git_commit, log, write_result

TARGET = 0.95
TARGET_WORKERS = 1024
COLOURS = {"hyperband": "#1f77b4", "bohb": "#d62728", "asha": "#2ca02c"}


def busy_steps(trials):
    """The busy-worker count as a step function: [(time, busy from then on)], sorted."""
    ev = []
    for t in trials:
        ev.append((t["start"], 1))
        ev.append((t["end"], -1))
    ev.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
    steps, busy = [], 0
    i = 0
    while i < len(ev):
        tm = ev[i][0]
        while i < len(ev) and ev[i][0] == tm:
            busy += ev[i][1]
            i += 1
        steps.append((tm, busy))
    return steps


def analyse(trials, workers, wall):
    """Utilisation measures from the trials (see the module docstring)."""
    steps = busy_steps(trials)
    busy_total = sum(t["end"] - t["start"] for t in trials)
    t_drain, area, area_at_drain, peak = 0.0, 0.0, 0.0, 0
    for k, (tm, b) in enumerate(steps):
        if k:
            area += steps[k - 1][1] * (tm - steps[k - 1][0])
        peak = max(peak, b)
        if b >= workers:
            t_drain, area_at_drain = tm, area
    # all workers stay busy from t_drain until the next step
    if t_drain > 0 or (steps and steps[0][1] >= workers):
        nxt = [tm for tm, _ in steps if tm > t_drain]
        if nxt:
            area_at_drain += workers * (nxt[0] - t_drain)
            t_drain = nxt[0]
    return {
        "utilisation_recomputed": busy_total / (workers * wall) if wall > 0 else None,
        "steady_utilisation": area_at_drain / (workers * t_drain) if t_drain > 0 else None,
        "t_drain": t_drain,
        "drain_seconds": wall - t_drain,
        "drain_fraction": (wall - t_drain) / wall if wall > 0 else None,
        "peak_busy": peak,
    }, steps


def binned(steps, t_end, nbins):
    """Time-weighted mean busy count in nbins equal bins over [0, t_end]."""
    if t_end <= 0:
        return []
    w = t_end / nbins
    acc = [0.0] * nbins
    for k, (t0, b) in enumerate(steps):
        t1 = steps[k + 1][0] if k + 1 < len(steps) else t_end
        if b == 0 or t1 <= t0:
            continue
        i = min(nbins - 1, int(t0 / w))
        while i < nbins and i * w < t1:
            lo, hi = max(t0, i * w), min(t1, (i + 1) * w)
            if hi > lo:
                acc[i] += b * (hi - lo)
            i += 1
    return [a / w for a in acc]


def run_case(args, optimizer, workers, iterations, extra, tmpdir):
    cmd = [args.hbmpi, "run", "--kernel", args.kernel, "--optimizer", optimizer, "--simulate-workers",
           str(workers), "--sim-cost", "budget", "--iterations", str(iterations)] + extra + ["--json", "--quiet"]
    rec = {"optimizer": optimizer, "workers": workers, "iterations": iterations, "extra": " ".join(extra)}
    out_path = os.path.join(tmpdir, "report.json")
    t0 = time.monotonic()
    try:
        with open(out_path, "wb") as out, open(os.devnull, "rb") as devnull:
            p = subprocess.run(cmd, stdin=devnull, stdout=out, stderr=subprocess.PIPE, timeout=args.timeout)
        rec["process_wall_seconds"] = round(time.monotonic() - t0, 3)
        if p.returncode != 0:
            rec["error"] = "exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[-500:])
            return rec, None
        with open(out_path) as f:
            d = json.load(f)
    except subprocess.TimeoutExpired:
        rec["error"] = "timed out after %s s" % args.timeout
        return rec, None
    except (OSError, ValueError) as e:
        rec["error"] = str(e)
        return rec, None
    finally:
        if os.path.exists(out_path):
            os.unlink(out_path)
    tot, st = d["totals"], d["settings"]
    wall = tot["wall_seconds"]
    m, steps = analyse(d["trials"], workers, wall)
    rec.update({
        "evaluations": tot["evaluations"],
        "budget": tot["budget"],
        "virtual_seconds": wall,
        "utilisation": tot["utilisation"],
        "max_open_brackets": st.get("max_open_brackets"),
        "work_per_worker_R": tot["budget"] / (workers * st["max_budget"]),
        "evals_per_process_second": round(tot["evaluations"] / rec["process_wall_seconds"], 1),
    })
    rec.update({k: (round(v, 6) if isinstance(v, float) else v) for k, v in m.items()})
    return rec, steps


def fmt(v, spec="%.4f"):
    return "-" if v is None else spec % v


def nice_ticks(hi, n=6):
    """Round tick values 0, step, 2 step, ... up to 'hi' (step 1, 2 or 5 times a power of 10)."""
    if hi <= 0:
        return [0]
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return [k * step for k in range(int(hi / step + 1e-9) + 1)]


def svg_busy(curves, path, title):
    """One panel per run: mean busy workers per time bin against virtual time."""
    width, panel_h, left, right, top, gap = 820, 170, 70, 20, 40, 60
    height = top + len(curves) * (panel_h + gap)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="sans-serif" font-size="12">' % (width, height, width, height),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (left, escape(title))]
    pw = width - left - right
    for k, c in enumerate(curves):
        y0 = top + k * (panel_h + gap) + 10
        rec, ys, t_end = c["rec"], c["bins"], c["rec"]["virtual_seconds"]
        W = rec["workers"]
        colour = COLOURS.get(rec["optimizer"], "#333333")

        def X(t):
            return left + pw * (t / t_end if t_end > 0 else 0)

        def Y(b):
            return y0 + panel_h - panel_h * (b / W)

        o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (left, y0, pw, panel_h))
        for frac in (0, 0.25, 0.5, 0.75, 1.0):
            y = Y(frac * W)
            o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (left, left + pw, y, y))
            o.append('<text x="%d" y="%.1f" text-anchor="end">%d</text>' % (left - 6, y + 4, round(frac * W)))
        for t in nice_ticks(t_end):
            o.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>' % (X(t), X(t), y0 + panel_h, y0 + panel_h + 4))
            o.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (X(t), y0 + panel_h + 16, t))
        if ys:
            n = len(ys)
            pts = ["%.1f,%.1f" % (X(0), Y(0))]
            for i, b in enumerate(ys):
                pts.append("%.1f,%.1f" % (X(t_end * i / n), Y(b)))
                pts.append("%.1f,%.1f" % (X(t_end * (i + 1) / n), Y(b)))
            pts.append("%.1f,%.1f" % (X(t_end), Y(0)))
            o.append('<polygon points="%s" fill="%s" fill-opacity="0.25" stroke="%s" stroke-width="1"/>'
                     % (" ".join(pts), colour, colour))
        if rec.get("t_drain"):
            x = X(rec["t_drain"])
            o.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#444" stroke-dasharray="4 3"/>'
                     % (x, x, y0, y0 + panel_h))
            o.append('<text x="%.1f" y="%d" text-anchor="end" fill="#444">drain</text>' % (x - 3, y0 + 14))
        label = "%s, %d workers, %d iterations%s: utilisation %.1f %%, steady %s, %d evaluations" % (
            rec["optimizer"], W, rec["iterations"], (", " + rec["extra"]) if rec["extra"] else "",
            100 * rec["utilisation"], fmt(rec["steady_utilisation"] and 100 * rec["steady_utilisation"], "%.1f %%"),
            rec["evaluations"]) + (" (run length capped)" if rec.get("capped") else "")
        o.append('<text x="%d" y="%d">%s</text>' % (left, y0 - 6, escape(label)))
        o.append('<text x="%d" y="%d" text-anchor="middle">virtual seconds</text>' % (left + pw // 2, y0 + panel_h + 32))
        o.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">busy workers</text>'
                 % (y0 + panel_h // 2, y0 + panel_h // 2))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hbmpi", default=os.path.join(ROOT, "build", "hbmpi"))
    ap.add_argument("--kernel", default="hartmann6")
    ap.add_argument("--workers", default=None, help="comma-separated (default 16,256,1024; quick 16,256)")
    ap.add_argument("--optimizers", default="hyperband,bohb,asha")
    ap.add_argument("--iterations-per-worker", type=float, default=None,
                    help="run length: iterations = this x workers (default 1; quick 0.05)")
    ap.add_argument("--min-iterations", type=int, default=2)
    ap.add_argument("--asha-max-iterations", type=int, default=None,
                    help="cap on asha's iterations (default: none; quick 4)")
    ap.add_argument("--noise", type=float, default=None,
                    help="also run the largest worker count with --sim-noise S (default 0.2; quick: none)")
    ap.add_argument("--no-sweep", action="store_true", help="skip the hyperband settings sweep")
    ap.add_argument("--quick", action="store_true", help="small runs, for a smoke test")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--svg-dir", default=os.path.join(HERE, "out"))
    ap.add_argument("--no-svg", action="store_true")
    ap.add_argument("--out", help="write the JSON here (else stdout)")
    args = ap.parse_args()
    workers = [int(w) for w in (args.workers or ("16,256" if args.quick else "16,256,1024")).split(",")]
    optimizers = [o for o in args.optimizers.split(",") if o]
    ipw = args.iterations_per_worker if args.iterations_per_worker is not None else (0.05 if args.quick else 1.0)
    asha_cap = args.asha_max_iterations if args.asha_max_iterations is not None else (4 if args.quick else 100000)
    noise = args.noise if args.noise is not None else (None if args.quick else 0.2)
    sweep = not args.no_sweep and not args.quick
    if any(w < 1 for w in workers) or ipw <= 0:
        ap.error("--workers and --iterations-per-worker must be positive")
    if not os.access(args.hbmpi, os.X_OK):
        ap.error("%s is not an executable (build the project first)" % args.hbmpi)

    t_start = time.monotonic()
    runs, sweep_runs, curves, failed = [], [], [], 0
    wmax = max(workers)

    def length(opt, w):
        it = max(args.min_iterations, int(math.ceil(ipw * w)))
        if opt == "asha" and it > asha_cap:
            return asha_cap, True
        return it, False

    def show(rec):
        if "error" in rec:
            log("   %s W=%d: FAILED %s" % (rec["optimizer"], rec["workers"], rec["error"]))
            return
        log("   %-9s W=%-5d it=%-5d %-28s util %6.2f %%  steady %8s  drain %8.1f s  R/worker %6.1f  "
            "%7d evals  %6.2f s real" % (
                rec["optimizer"], rec["workers"], rec["iterations"], rec["extra"], 100 * rec["utilisation"],
                fmt(rec["steady_utilisation"] and 100 * rec["steady_utilisation"], "%.2f %%"),
                rec["drain_seconds"], rec["work_per_worker_R"], rec["evaluations"], rec["process_wall_seconds"]))

    with tempfile.TemporaryDirectory(prefix="bench_utilisation.") as tmpdir:
        log("-- utilisation, %s, iterations = max(%d, %g x workers), asha at most %d" % (
            args.kernel, args.min_iterations, ipw, asha_cap))
        for w in workers:
            variants = [[]]
            if noise and w == wmax:
                variants.append(["--sim-noise", "%g" % noise])
            for extra in variants:
                for opt in optimizers:
                    it, capped = length(opt, w)
                    rec, steps = run_case(args, opt, w, it, extra, tmpdir)
                    rec["capped"] = capped
                    failed += "error" in rec
                    show(rec)
                    runs.append(rec)
                    if steps is not None and w == wmax and not extra:
                        curves.append({"rec": rec, "bins": binned(steps, rec["virtual_seconds"], 600)})
        if sweep:
            w = wmax
            base_it = max(args.min_iterations, int(math.ceil(ipw * w)))
            half = max(args.min_iterations, base_it // 2)
            log("-- sweep: hyperband at %d workers" % w)
            cases = [("max_open_brackets", half, ["--max-open-brackets", str(b)]) for b in (5, 64, 256, 512, 4096)]
            cases += [("run_length", max(args.min_iterations, int(math.ceil(f * w))), [])
                      for f in (0.125, 0.25, 0.5, 2.0)]
            for what, it, extra in cases:
                rec, _ = run_case(args, "hyperband", w, it, extra, tmpdir)
                rec["sweep"] = what
                failed += "error" in rec
                show(rec)
                sweep_runs.append(rec)
            if "asha" in optimizers:
                log("-- sweep: asha's real time against run length at %d workers" % w)
                for it in (5, 10, 20):
                    rec, _ = run_case(args, "asha", w, it, [], tmpdir)
                    rec["sweep"] = "asha_run_length"
                    failed += "error" in rec
                    show(rec)
                    sweep_runs.append(rec)

    checks = []
    for r in runs:
        if r["workers"] == TARGET_WORKERS and "error" not in r:
            checks.append({"check": "utilisation_%s_%d%s" % (r["optimizer"], r["workers"],
                                                             "_noise" if r["extra"] else ""),
                           "value": r["utilisation"], "target": ">= %.2f" % TARGET,
                           "pass": r["utilisation"] >= TARGET, "capped_run_length": r["capped"]})
    svg = []
    if curves and not args.no_svg:
        os.makedirs(args.svg_dir, exist_ok=True)
        path = os.path.join(args.svg_dir, "utilisation_%d.svg" % wmax)
        svg_busy(curves, path, "Busy workers over virtual time, %s, %d simulated workers, --sim-cost budget"
                 % (args.kernel, wmax))
        svg.append(path)

    result = {
        "benchmark": "utilisation",
        "settings": {"hbmpi": args.hbmpi, "git_commit": git_commit(), "kernel": args.kernel,
                     "workers": workers, "optimizers": optimizers, "iterations_per_worker": ipw,
                     "min_iterations": args.min_iterations, "asha_max_iterations": asha_cap, "noise": noise,
                     "quick": args.quick, "cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
        "sweep": sweep_runs,
        "checks": checks,
        "svg": svg,
        "failed_runs": failed,
        "wall_seconds": round(time.monotonic() - t_start, 2),
    }
    for c in checks:
        log("check %-32s %.4f %s %s%s" % (c["check"], c["value"], c["target"], "PASS" if c["pass"] else "MISS",
                                         " (run length capped)" if c["capped_run_length"] else ""))
    log("total wall time %.1f s" % result["wall_seconds"])
    write_result(result, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
