#!/usr/bin/python3
"""The lecture's three experiments, run on hbmpi (benchmarks/README.md, "The lecture's figures").

  figures.py fig3   each successive-halving bracket alone against HyperBand (fmnist_mlp, R = 27):
                    validation error of the incumbent against epochs trained and wall time
  figures.py fig5   random search, HyperBand, TPE, GP and BOHB under `mpirun -n RANKS` on
                    fmnist_mlp: regret (against the best loss of any run) against wall time
  figures.py fig6   the same methods on the cartpole kernel through `hbmpi sweep`, and a BOHB run
                    of examples/ppo_cartpole beside them: regret against cumulative budget

Every study keeps its run file under --work (default benchmarks/out/figN): the same command
again resumes unfinished studies and reads finished ones back instead of running them again.
Each figure writes one JSON (--out) and its SVG plots (--svg-dir). Standard library only.

Exit codes: 0 done; 1 a study failed (or, with --check, a check); 2 bad usage; 3 stopped by
SIGTERM, SIGINT or SIGUSR1 (the running studies save their run files; the same command resumes).
"""

import argparse
import bisect
import concurrent.futures
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib as bl            # noqa: E402
import sample_efficiency as se   # noqa: E402

ROOT = bl.ROOT
FIG5_METHODS = "random,hyperband,tpe,gp,bohb"
PPO_DIR = os.path.join(ROOT, "examples", "ppo_cartpole")
# Figure 3's brackets, most aggressive first (hyperband keeps sample_efficiency.py's colour).
BRACKET_COLOURS = ["#8c564b", "#e377c2", "#2ca02c", "#ff7f0e", "#6b6b6b", "#9467bd"]


class StudyFailed(RuntimeError):
    pass


STOP = []   # the signal that stopped the figure, if one did


def on_signal(signum, frame):
    """SIGTERM, SIGINT or SIGUSR1 (Slurm before the time limit): start no further study and pass
    SIGTERM to the running ones, which save their run files and exit 3."""
    STOP.append(signum)
    with se._RUNNING_LOCK:
        procs = list(se._RUNNING)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass


# --------------------------------------------------------------------------------------
# running studies

def run_json(cmd, timeout, env=None):
    """Run one hbmpi command in its own process group; its stdout is the report JSON."""
    if STOP:
        raise StudyFailed("not started: stopped by signal %d" % STOP[0])
    t0 = time.monotonic()
    try:
        p = se.run_in_group(cmd, timeout, dict(os.environ, **(env or {})))
    except subprocess.TimeoutExpired:
        raise StudyFailed("timed out after %g s: %s" % (timeout, " ".join(cmd)))
    if p.returncode != 0:
        tail = " | ".join(p.stderr.strip().splitlines()[-3:]) or "(no stderr)"
        raise StudyFailed("exit %d: %s: %s" % (p.returncode, " ".join(cmd), tail))
    try:
        return json.loads(p.stdout), time.monotonic() - t0
    except ValueError as e:
        raise StudyFailed("no report JSON from %s: %s" % (" ".join(cmd), e))


def run_study(args, cmd, run_file, env=None):
    """One study: run (or resume) it, or with --collect only read its run file back."""
    if args.collect:
        if not os.path.exists(run_file):
            raise StudyFailed("missing: no run file %s" % run_file)
        return run_json([args.hbmpi, "report", run_file, "--json"], args.timeout)
    return run_json(cmd, args.timeout, env)


def run_pool(tasks, jobs, label):
    """tasks: [(name, thunk)]; runs them `jobs` at a time; returns {name: result} and failures."""
    results, failures = {}, []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(fn): name for name, fn in tasks}
        try:
            for fut in concurrent.futures.as_completed(futs):
                name = futs[fut]
                try:
                    results[name] = fut.result()
                    bl.log("  %s: %s done (%d/%d, %.0f s)"
                           % (label, name, len(results) + len(failures), len(tasks),
                              time.monotonic() - t0))
                except StudyFailed as e:
                    failures.append({"study": name, "error": str(e)})
                    if not STOP:
                        bl.log("  %s: %s FAILED: %s" % (label, name, e))
        except KeyboardInterrupt:
            for f in futs:
                f.cancel()
            se.kill_running()
            raise
    return results, failures


def mpirun(args):
    """The command prefix that starts one study on args.ranks ranks."""
    if args.launcher:
        return [w.replace("{ranks}", str(args.ranks)) for w in shlex.split(args.launcher)]
    return [args.mpirun, "-n", str(args.ranks), "--oversubscribe"] if args.ranks > 1 else []


# --------------------------------------------------------------------------------------
# incumbent curves

def incumbent_curves(report, max_budget):
    """The best ok loss at the max budget so far, as step functions of the cumulative budget
    spent (`spent`, every status counts) and of the wall time at which each trial ended.
    Trials are taken in the order they ended. Returns {"budget": [[x, loss]...], "time": ...};
    each starts at the first result at the max budget."""
    trials = sorted(report["trials"], key=lambda t: (t["end"] if t["end"] is not None else math.inf,
                                                     t["id"]))
    cum, best = 0.0, math.inf
    by_budget, by_time = [], []
    for t in trials:
        spent = t.get("spent")
        cum += float(spent if spent is not None else t["budget"])
        if (t["status"] == "ok" and t["loss"] is not None
                and abs(t["budget"] - max_budget) <= 1e-6 * max_budget and t["loss"] < best):
            best = t["loss"]
            by_budget.append([cum, best])
            by_time.append([t["end"], best])
    end = max((t["end"] for t in trials if t["end"] is not None), default=0.0)
    if by_budget:
        by_budget.append([cum, best])
        by_time.append([end, best])
    return {"budget": by_budget, "time": by_time}


def value_at(curve, x):
    """A step function's value at x; +inf before its first point."""
    i = bisect.bisect_right([p[0] for p in curve], x * (1 + 1e-12)) - 1
    return math.inf if i < 0 else curve[i][1]


def band(curves, grid, shift=0.0):
    """Median, q1 and q3 over the curves (minus `shift`) at each grid point."""
    out = {"x": grid, "median": [], "q1": [], "q3": []}
    for g in grid:
        m, a, b = se.mqq([value_at(c, g) - shift for c in curves])
        out["median"].append(se.json_num(m))
        out["q1"].append(se.json_num(a))
        out["q3"].append(se.json_num(b))
    return out


def study_row(method, seed, report, wall, max_budget):
    curves = incumbent_curves(report, max_budget)
    tot = report["totals"]
    return {"method": method, "seed": seed, "evaluations": tot["evaluations"],
            "budget_nominal": tot["budget"], "budget_spent": tot.get("budget_spent", tot["budget"]),
            "wall_seconds": tot["wall_seconds"], "process_seconds": wall,
            # promoted trials that trained only the difference (a diverged training that
            # stopped early also spends less, but has no previous rung)
            "continued": sum(1 for t in report["trials"] if t.get("previous_id") is not None
                             and t.get("spent") is not None and t["spent"] < t["budget"]),
            "best_loss": curves["budget"][-1][1] if curves["budget"] else None,
            "best_config": report["best"]["config"] if report.get("best") else None,
            "curves": curves}


def curve_checks(rows):
    """Every incumbent curve only improves, over a budget and a time that only grow, and no
    study spent more than its nominal budget."""
    bad = []
    for r in rows:
        for key in ("budget", "time"):
            c = r["curves"][key]
            if any(b[0] < a[0] - 1e-9 or b[1] > a[1] for a, b in zip(c, c[1:])):
                bad.append("%s-%d: its %s curve is not monotone" % (r["method"], r["seed"], key))
        if r["budget_spent"] > r["budget_nominal"] + 1e-9:
            bad.append("%s-%d: spent %g > nominal %g" % (r["method"], r["seed"], r["budget_spent"],
                                                          r["budget_nominal"]))
    return bad


def missing_studies(rows, methods, seeds):
    have = {(r["method"], r["seed"]) for r in rows}
    return ["%s-%d: missing" % (m, s) for m in methods for s in seeds if (m, s) not in have]


def seeds_of(args):
    return range(args.first_seed, args.first_seed + args.seeds)


def kernel_info(binary, name):
    table = se.hbmpi_kernels(binary)
    if name.split(":", 1)[0] not in table:
        raise SystemExit("figures.py: unknown kernel '%s'" % name)
    return table[name.split(":", 1)[0]]


def series_for(rows, methods, key, grid, labels, shift=0.0, colours=None):
    others = dict(colours or {})
    out = []
    for m in methods:
        curves = [r["curves"][key] for r in rows if r["method"] == m]
        if not curves:
            continue
        b = band(curves, grid, shift)
        base = m.split("-")[0]
        out.append({"label": labels.get(m, m), "colour": se.colour_for(m, others),
                    "dash": se.DASHES.get(base), "x": b["x"], "median": b["median"],
                    "q1": b["q1"], "q3": b["q3"], "method": m})
    return out


def summary_rows(rows, methods, shift=0.0):
    out = []
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        if not rs:
            continue
        finals = [(r["best_loss"] if r["best_loss"] is not None else math.inf) - shift for r in rs]
        med, q1, q3 = se.mqq(finals)
        out.append({"method": m, "n": len(rs), "final_median": se.json_num(med),
                    "final_q1": se.json_num(q1), "final_q3": se.json_num(q3),
                    "budget_spent_median": se.quantile([r["budget_spent"] for r in rs], 0.5),
                    "wall_seconds_median": se.quantile([r["wall_seconds"] for r in rs], 0.5),
                    "evaluations_median": se.quantile([r["evaluations"] for r in rs], 0.5)})
    return out


def print_table(title, summary, fmt):
    bl.log(title)
    for s in summary:
        bl.log("  %-22s %s   spent %s, %s s, %s evaluations (median of %d)"
               % (s["method"], fmt(s["final_median"], s["final_q1"], s["final_q3"]),
                  se.fmt_g(s["budget_spent_median"]), "%.0f" % s["wall_seconds_median"],
                  se.fmt_g(s["evaluations_median"]), s["n"]))


def fmt_mqq(m, a, b):
    f = lambda v: "n/a" if v is None else "%.4f" % v   # noqa: E731
    return "%s [%s, %s]" % (f(m), f(a), f(b))


def settings_json(args, extra):
    d = {k: v for k, v in vars(args).items() if k not in ("func",)}
    d.update(extra)
    d["hbmpi_version"] = bl.hbmpi_version(args.hbmpi)
    d["git_commit"] = bl.git_commit()
    d["cpus"] = os.cpu_count()
    d["load_average_start"] = os.getloadavg()
    return d


# --------------------------------------------------------------------------------------
# Figure 3: each bracket alone against HyperBand

def fig3(args):
    k = kernel_info(args.hbmpi, args.kernel)
    R, r, eta = float(k["max_budget"]), float(k["min_budget"]), args.eta
    s_max = int(math.floor(math.log(R / r) / math.log(eta) + 1e-9))
    methods = ["s%d" % s for s in range(s_max, -1, -1)] + ["hyperband"]
    labels = {"s%d" % s: "bracket s=%d alone (sh, r=%s)" % (s, se.fmt_g(R / eta ** s))
              for s in range(s_max + 1)}
    colours = {m: BRACKET_COLOURS[i % len(BRACKET_COLOURS)] for i, m in enumerate(methods[:-1])}
    os.makedirs(args.work, exist_ok=True)
    tasks = []
    for m in methods:
        for seed in seeds_of(args):
            name = "%s-%d" % (m, seed)
            cmd = [args.hbmpi, "run", "--kernel", args.kernel, "--seed", str(seed),
                   "--eta", se.fmt_g(eta), "--max-total-budget", se.fmt_g(args.budget_multiple * R),
                   "--continue-promoted", "--trial-dir", os.path.join(args.work, "trials", name),
                   "--out", os.path.join(args.work, name + ".h5"), "--json", "--quiet"]
            if m == "hyperband":
                cmd += ["--optimizer", "hyperband"]
            else:
                cmd += ["--optimizer", "sh", "--min-budget", se.fmt_g(R / eta ** int(m[1:]))]

            def thunk(cmd=cmd, m=m, seed=seed):
                report, wall = run_study(args, cmd, cmd[cmd.index("--out") + 1])
                return dict(study_row(m, seed, report, wall, R), command=" ".join(cmd))
            tasks.append((name, thunk))
    bl.log("fig3: %d studies on %s, %d at a time" % (len(tasks), args.kernel, args.jobs))
    t0 = time.monotonic()
    res, failures = run_pool(tasks, args.jobs, "fig3")
    rows = [res[n] for n, _ in tasks if n in res]
    budget_grid = se.log_grid(R, args.budget_multiple * R, args.grid_points)   # no max-budget result before R
    t_hi = max([r_["wall_seconds"] for r_ in rows] + [1.0])
    time_grid = se.log_grid(min(1.0, t_hi), t_hi, args.grid_points)
    out = {"figure": 3, "benchmark": "figures", "settings": settings_json(args, {
               "max_budget": R, "min_budget": r, "s_max": s_max, "methods": methods,
               "labels": labels}),
           "studies": rows, "failures": failures,
           "summary": summary_rows(rows, methods),
           "curves": {"budget": series_for(rows, methods, "budget", budget_grid, labels, 0.0, colours),
                      "time": series_for(rows, methods, "time", time_grid, labels, 0.0, colours)},
           "study_seconds_total": sum(r_["wall_seconds"] for r_ in rows),
           "wall_seconds": time.monotonic() - t0}
    bad = missing_studies(rows, methods, seeds_of(args)) + curve_checks(rows)
    for r_ in rows:   # a bracket with promotions continues them; bracket s = 0 has none
        if r_["method"] == "s0" and r_["continued"]:
            bad.append("s0-%d: %d trials continued in a bracket without promotions"
                       % (r_["seed"], r_["continued"]))
        if r_["method"] != "s0" and r_["budget_spent"] >= r_["budget_nominal"]:
            bad.append("%s-%d: promoted trials did not continue (spent %g of %g)"
                       % (r_["method"], r_["seed"], r_["budget_spent"], r_["budget_nominal"]))
    out["checks"] = bad
    print_table("fig3: %s, validation error of the incumbent at R = %s, median [q1, q3] over %d seeds"
                % (args.kernel, se.fmt_g(R), args.seeds), out["summary"], fmt_mqq)
    sub = "%d seeds; %s x R = %s nominal budget per study; promoted trials continue" % (
        args.seeds, se.fmt_g(args.budget_multiple), se.fmt_g(args.budget_multiple * R))
    what = "validation error" if args.kernel.startswith("fmnist") else "loss"
    paths = []
    if not args.no_svg:
        os.makedirs(args.svg_dir, exist_ok=True)
        for key, xl, grid in (("budget", "budget trained (%s), log scale" % (
                                  "epochs" if args.kernel.startswith("fmnist") else "units"), budget_grid),
                              ("time", "wall time of the study (s), log scale", time_grid)):
            p = os.path.join(args.svg_dir, "fig3_%s_%s.svg" % (se.safe_name(args.kernel), key))
            se.svg_plot(p, "Figure 3 on %s: brackets alone and HyperBand" % args.kernel, sub, xl,
                        out["curves"][key], [], True, (grid[0], grid[-1]),
                        y_label="%s of the incumbent at R" % what,
                        legend_title="median, q1\u2013q3 over seeds", y_log=False)
            paths.append(p)
    out["svg"] = paths
    return out


# --------------------------------------------------------------------------------------
# Figure 5: regret against wall time under mpirun

def fig5(args):
    k = kernel_info(args.hbmpi, args.kernel)
    R = float(k["max_budget"])
    methods = args.methods.split(",")
    os.makedirs(args.work, exist_ok=True)
    tasks = []
    for seed in seeds_of(args):
        for m in methods:
            name = "%s-%d" % (m, seed)
            cmd = mpirun(args) + [
                args.hbmpi, "run", "--kernel", args.kernel, "--optimizer", m, "--seed", str(seed),
                "--time-limit", se.fmt_g(args.time_limit), "--max-evals", "1000000",
                "--continue-promoted", "--trial-dir", os.path.join(args.work, "trials", name),
                "--out", os.path.join(args.work, name + ".h5"), "--json", "--quiet"]

            def thunk(cmd=cmd, m=m, seed=seed):
                report, wall = run_study(args, cmd, cmd[cmd.index("--out") + 1], bl.MPI_ENV)
                return dict(study_row(m, seed, report, wall, R), command=" ".join(cmd))
            tasks.append((name, thunk))
    bl.log("fig5: %d studies on %s, each under mpirun -n %d for %g s"
           % (len(tasks), args.kernel, args.ranks, args.time_limit))
    t0 = time.monotonic()
    res, failures = run_pool(tasks, 1, "fig5")
    rows = [res[n] for n, _ in tasks if n in res]
    seen = [r_["best_loss"] for r_ in rows if r_["best_loss"] is not None]
    best = min(seen) if seen else 0.0
    t_hi = max([r_["wall_seconds"] for r_ in rows] + [1.0])
    time_grid = se.log_grid(1.0, t_hi, args.grid_points)
    budget_grid = se.log_grid(float(k["min_budget"]), max([r_["budget_spent"] for r_ in rows] + [R]),
                              args.grid_points)
    out = {"figure": 5, "benchmark": "figures", "settings": settings_json(args, {"max_budget": R}),
           "best_loss_seen": best, "studies": rows, "failures": failures,
           "summary": summary_rows(rows, methods, best),
           "curves": {"time": series_for(rows, methods, "time", time_grid, {}, best),
                      "budget": series_for(rows, methods, "budget", budget_grid, {}, best)},
           "study_seconds_total": sum(r_["wall_seconds"] for r_ in rows),
           "wall_seconds": time.monotonic() - t0}
    bad = missing_studies(rows, methods, seeds_of(args)) + curve_checks(rows)
    for r_ in rows:   # --time-limit: jobs start until the limit, so a study lasts at least that
        if r_["wall_seconds"] < 0.95 * args.time_limit:
            bad.append("%s-%d: ended after %.1f s, before its time limit"
                       % (r_["method"], r_["seed"], r_["wall_seconds"]))
    finals = [s_["final_median"] for s_ in out["summary"]]
    if any(f is None or f < 0 for f in finals):
        bad.append("a median final regret is undefined or negative: %s" % finals)
    out["checks"] = bad
    print_table("fig5: %s, regret against the best loss seen (%.4f), median [q1, q3] over %d seeds"
                % (args.kernel, best, args.seeds), out["summary"], fmt_mqq)
    paths = []
    if not args.no_svg:
        os.makedirs(args.svg_dir, exist_ok=True)
        sub = "%d seeds; mpirun -n %d (%d workers), %g s each; regret against the best loss seen, %.4f" % (
            args.seeds, args.ranks, max(1, args.ranks - 1), args.time_limit, best)
        for key, xl, grid in (("time", "wall time (s), log scale", time_grid),
                              ("budget", "budget trained, log scale", budget_grid)):
            p = os.path.join(args.svg_dir, "fig5_%s_%s.svg" % (se.safe_name(args.kernel), key))
            se.svg_plot(p, "Figure 5 on %s: regret against %s" % (
                            args.kernel, "wall time" if key == "time" else "budget"),
                        sub, xl, out["curves"][key], [], True, (grid[0], grid[-1]),
                        legend_title="median, q1\u2013q3 over seeds")
            paths.append(p)
    out["svg"] = paths
    return out


# --------------------------------------------------------------------------------------
# Figure 6: the cartpole kernel through hbmpi sweep, and the PPO example

def fig6(args):
    k = kernel_info(args.hbmpi, args.kernel)
    R, opt = float(k["max_budget"]), float(k["optimum"])
    methods = args.methods.split(",")
    os.makedirs(args.work, exist_ok=True)
    sweep = {"kernels": [args.kernel], "optimizers": methods,
             "seeds": {"from": 0, "count": args.seeds},
             "max_total_budget": "%sx" % se.fmt_g(args.budget_multiple),
             "settings": {"reproducible": args.reproducible}}
    sweep_file = os.path.join(args.work, "sweep-in.json")
    with open(sweep_file, "w") as f:
        json.dump(sweep, f)
    t0 = time.monotonic()
    cmd = mpirun(args) + [args.hbmpi, "sweep", sweep_file, "--out",
                                os.path.join(args.work, "sweep"), "--json", "--quiet"]
    bl.log("fig6: %s" % " ".join(cmd))
    failures = []
    if args.collect:
        rep, _ = run_json([args.hbmpi, "sweep", "report", os.path.join(args.work, "sweep"), "--json"],
                          args.timeout)
    else:
        rep, _ = run_json(cmd, args.timeout, bl.MPI_ENV)
    grid = se.log_grid(R, args.budget_multiple * R, args.grid_points)
    others = {}
    series = []
    for m in methods:
        studies = [s for s in rep["studies"] if s["optimizer"] == m]
        trajs = [s["trajectory"] for s in studies]
        b = band(trajs, grid)
        series.append({"label": "%s (%s kernel)" % (m, args.kernel), "colour": se.colour_for(m, others),
                       "dash": se.DASHES.get(m), "x": [g / R for g in grid], "median": b["median"],
                       "q1": b["q1"], "q3": b["q3"], "method": m})
    summary = []
    for row in rep["summary"]:
        # the budget (in R) at which a study's regret first reached 0: the kernel was solved
        solved = [next((p[0] / R for p in st["trajectory"] if p[1] == 0), math.inf)
                  for st in rep["studies"] if st["optimizer"] == row["optimizer"]]
        m_, a_, b_ = se.mqq(solved)
        summary.append(dict(row, method=row["optimizer"], solved_at_R_median=se.json_num(m_),
                            solved_at_R_q1=se.json_num(a_), solved_at_R_q3=se.json_num(b_),
                            solved=sum(1 for x in solved if math.isfinite(x))))
    ppo = None
    if args.ppo_iterations > 0:
        name = "ppo-bohb-%d" % args.ppo_seed
        pcmd = mpirun(args) + [
            args.hbmpi, "run", "--space", os.path.join(PPO_DIR, "space.json"), "--optimizer", "bohb",
            "--min-budget", "1", "--max-budget", se.fmt_g(args.ppo_max_budget), "--eta", "3",
            "--iterations", str(args.ppo_iterations), "--seed", str(args.ppo_seed),
            "--continue-promoted", "--trial-dir", os.path.join(args.work, "trials", name),
            "--out", os.path.join(args.work, name + ".h5"), "--eval-timeout", "900", "--json",
            "--quiet", "--eval-cmd", "/usr/bin/python3", os.path.join(PPO_DIR, "ppo.py")]
        bl.log("fig6: %s" % " ".join(pcmd))
        try:
            report, wall = run_study(args, pcmd, pcmd[pcmd.index("--out") + 1],
                                     dict(bl.MPI_ENV, OMP_NUM_THREADS="1"))
            ppo = dict(study_row("ppo-bohb", args.ppo_seed, report, wall, args.ppo_max_budget),
                       command=" ".join(pcmd))
            # loss = 1 - return / 500 = regret: the best possible loss is 0
            c = ppo["curves"]["budget"]
            series.append({"label": "PPO example, bohb (1 run, R = %s iterations)"
                                    % se.fmt_g(args.ppo_max_budget),
                           "colour": "#000000", "dash": "5 3",
                           "x": [p[0] / args.ppo_max_budget for p in c],
                           "median": [p[1] for p in c], "q1": [p[1] for p in c],
                           "q3": [p[1] for p in c], "method": "ppo-bohb"})
        except StudyFailed as e:
            failures.append({"study": name, "error": str(e)})
            bl.log("  fig6: %s FAILED: %s" % (name, e))
    out = {"figure": 6, "benchmark": "figures",
           "settings": settings_json(args, {"max_budget": R, "optimum": opt, "sweep": sweep}),
           "sweep": rep, "summary": summary, "ppo": ppo, "failures": failures,
           "curves": {"budget_over_max": series}, "wall_seconds": time.monotonic() - t0}
    bad = []
    for m in methods:
        fin = [s_ for s_ in rep["studies"] if s_["optimizer"] == m and s_["state"] == "finished"]
        if len(fin) != args.seeds:
            bad.append("%s: %d of %d studies finished" % (m, len(fin), args.seeds))
        regrets = [s_["final_regret"] for s_ in fin if s_["final_regret"] is not None]
        if not regrets or any(not 0 <= x <= 2 for x in regrets):
            bad.append("%s: no final regret, or one outside [0, 2]: %s" % (m, regrets))
    if ppo:
        bad += curve_checks([ppo])
        if not ppo["continued"]:
            bad.append("ppo-bohb: no promoted trial continued from its checkpoint")
    out["checks"] = bad
    bl.log("fig6: %s, final regret (1 - normalised return), median [q1, q3] over %d seeds"
           % (args.kernel, args.seeds))
    for s in summary:
        bl.log("  %-10s %s; regret 0 reached by %d of %d seeds, at %s R"
               % (s["method"], fmt_mqq(s["median"], s["q1"], s["q3"]), s["solved"], args.seeds,
                  fmt_mqq(s["solved_at_R_median"], s["solved_at_R_q1"], s["solved_at_R_q3"])))
    if ppo:
        bl.log("  PPO example, bohb: best loss %s after %s iterations spent (%s nominal), %d trials, "
               "%d continued, %.0f s" % (ppo["best_loss"], se.fmt_g(ppo["budget_spent"]),
                                          se.fmt_g(ppo["budget_nominal"]), ppo["evaluations"],
                                          ppo["continued"], ppo["wall_seconds"]))
    paths = []
    if not args.no_svg:
        os.makedirs(args.svg_dir, exist_ok=True)
        x_hi = max([float(args.budget_multiple)] + [x for sr in series for x in sr["x"]])
        p = os.path.join(args.svg_dir, "fig6_%s.svg" % se.safe_name(args.kernel))
        se.svg_plot(p, "Figure 6: %s kernel and the PPO example" % args.kernel,
                    "%d seeds of each method (hbmpi sweep, --reproducible %d); regret = 1 - normalised "
                    "return" % (args.seeds, args.reproducible),
                    "cumulative budget / max budget R (episodes for the kernel, PPO iterations)",
                    series, [], True, (1.0, x_hi), y_label="regret",
                    legend_title="median, q1\u2013q3 over seeds", y_log=False)
        paths.append(p)
    out["svg"] = paths
    return out


# --------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="figure", required=True)

    def common(sp, fig, kernel):
        sp.add_argument("--hbmpi", default=os.path.join(ROOT, "build", "hbmpi"),
                        help="the hbmpi binary (default build/hbmpi)")
        sp.add_argument("--mpirun", default="mpirun", help="fig5, fig6: the mpirun to use")
        sp.add_argument("--launcher", default=None,
                        help="fig5, fig6: the command that starts a study's ranks, {ranks} "
                             "replaced (e.g. 'srun --mpi=pmix -n {ranks}'; default mpirun)")
        sp.add_argument("--kernel", default=kernel, help="the kernel (default %s)" % kernel)
        sp.add_argument("--work", default=os.path.join(HERE, "out", fig),
                        help="run files (kept; the same command resumes them)")
        sp.add_argument("--out", default=None, help="the JSON (default: stdout)")
        sp.add_argument("--svg-dir", default=os.path.join(HERE, "out"),
                        help="where the plots go (default benchmarks/out)")
        sp.add_argument("--no-svg", action="store_true", help="draw no plot")
        sp.add_argument("--timeout", type=float, default=7200, help="per hbmpi command (s)")
        sp.add_argument("--grid-points", type=int, default=60,
                        help="points of the curves' common grid (default 60)")
        sp.add_argument("--collect", action="store_true",
                        help="run nothing: read the studies' run files back (hbmpi report), as "
                             "after a Slurm job array; a study without one is missing")
        sp.add_argument("--check", action="store_true",
                        help="exit 1 if a check fails (they are always run, printed and stored)")

    a = sub.add_parser("fig3", help="each bracket alone against HyperBand")
    common(a, "fig3", "fmnist_mlp")
    a.add_argument("--seeds", type=int, default=3, help="how many seeds (default 3)")
    a.add_argument("--first-seed", type=int, default=0,
                   help="seeds FIRST..FIRST+N-1 (default 0; a job array runs one seed a task)")
    a.add_argument("--budget-multiple", type=float, default=16,
                   help="nominal budget per study in units of R (default 16: one HyperBand "
                        "iteration at R = 27 is 15.7 R)")
    a.add_argument("--eta", type=float, default=3, help="reduction factor (default 3)")
    a.add_argument("--jobs", type=int, default=2, help="studies at once (default 2)")
    a.set_defaults(func=fig3)

    b = sub.add_parser("fig5", help="regret against wall time under mpirun")
    common(b, "fig5", "fmnist_mlp")
    b.add_argument("--seeds", type=int, default=3, help="how many seeds (default 3)")
    b.add_argument("--first-seed", type=int, default=0, help="seeds FIRST..FIRST+N-1 (default 0)")
    b.add_argument("--methods", default=FIG5_METHODS, help="default " + FIG5_METHODS)
    b.add_argument("--ranks", type=int, default=3, help="mpirun -n (default 3: two workers)")
    b.add_argument("--time-limit", type=float, default=100, help="--time-limit of each study (s)")
    b.set_defaults(func=fig5)

    c = sub.add_parser("fig6", help="cartpole kernel by hbmpi sweep, and the PPO example")
    common(c, "fig6", "cartpole")
    c.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 of the sweep (default 20)")
    c.add_argument("--methods", default=FIG5_METHODS, help="default " + FIG5_METHODS)
    c.add_argument("--budget-multiple", type=float, default=30,
                   help="the sweep's max_total_budget in units of R (default 30)")
    c.add_argument("--reproducible", type=int, default=4,
                   help="the sweep's reproducible setting (default 4 workers)")
    c.add_argument("--ranks", type=int, default=3, help="mpirun -n of the sweep and the PPO run")
    c.add_argument("--ppo-iterations", type=int, default=3,
                   help="HyperBand iterations of the PPO run (default 3; 0: none)")
    c.add_argument("--ppo-max-budget", type=float, default=27,
                   help="max budget of the PPO run in PPO iterations (default 27; min 1, eta 3)")
    c.add_argument("--ppo-seed", type=int, default=0, help="seed of the PPO run (default 0)")
    c.set_defaults(func=fig6)
    args = p.parse_args(argv)
    for name in ("seeds", "jobs", "ranks", "grid_points"):
        if getattr(args, name, 1) < 1:
            p.error("--%s must be at least 1" % name.replace("_", "-"))
    if not os.access(args.hbmpi, os.X_OK):
        p.error("no hbmpi binary at %s (build it, or pass --hbmpi)" % args.hbmpi)
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        out = args.func(args)
    except StudyFailed as e:
        bl.log("figures.py: %s" % e)
        return 1
    if STOP:
        bl.log("figures.py: stopped by signal %d; the same command resumes the studies" % STOP[0])
        return 3
    bl.write_result(out, args.out)
    for c in out.get("checks", []):
        bl.log("figures.py: check failed: %s" % c)
    if out.get("failures") or (args.check and out.get("checks")):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
