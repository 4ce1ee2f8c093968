#!/usr/bin/python3
"""Sample efficiency of hbmpi's optimisers: regret against cumulative budget.

Runs the real binary (`hbmpi run --kernel K --optimizer M --seed S --json --quiet`) for
every kernel x method x seed, computes each study's regret trajectory, summarises the
final regret (median, q1, q3 over seeds) beside the peer optimisers' results on the same
protocol (results/peers.json, from benchmarks/peers/run.py), and draws one SVG per kernel.

Standard library only. See benchmarks/README.md ("Sample efficiency") for the method.

Exit codes: 0 all studies ran; 1 a study failed (or, with --strict, a check failed);
2 bad usage; 130 interrupted.
"""

import argparse
import bisect
import concurrent.futures
import datetime
import json
import math
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Stop rule per optimiser. Bracket optimisers evaluate at several budgets, so they get a
# total-budget limit; the others evaluate every configuration at the max budget, so the
# same total budget is `multiple` evaluations.
BRACKET_METHODS = ("sh", "hyperband", "bohb", "asha")
FULL_BUDGET_METHODS = ("random", "grid", "tpe", "gp")

# A trial counts as "at the max budget" if its budget is within this relative tolerance
# of the kernel's max budget (HyperBand's float arithmetic can give 80.99999...).
MAX_BUDGET_RTOL = 1e-6

# Reference results: the peer optimisers on the same protocol, same kernels (docs/kernels.md),
# total budget 100 x max budget, counting_ones 8+8 with independent noise per evaluation,
# measured by benchmarks/peers/run.py (README.md, "peers/"). They are read from
# results/peers.json when it is there (load_peer_reference); the table below is a copy of that
# file's final regrets for a checkout without it. Final regret median [q1, q3] and seeds.
# "counterpart" is hbmpi's optimiser that implements the same algorithm (None: no direct
# counterpart).
PEERS_JSON = os.path.join(HERE, "results", "peers.json")
PEER_COUNTERPARTS = {"hpbandster_bohb": "bohb", "hpbandster_hyperband": "hyperband"}
PEER_DISTRIBUTIONS = {"optuna": "optuna", "hpbandster_bohb": "hpbandster",
                      "hpbandster_hyperband": "hpbandster", "dehb": "dehb", "smac": "smac"}
REFERENCE_CONDITIONS = {"seeds": 10, "budget_multiple": 100,
                        "source": "benchmarks/peers/run.py (copy in sample_efficiency.py)"}
REFERENCE = [  # results/peers.json of commit 1d57149 + SMAC3 seeds 2-4 (--resume), 2026-12-04
    ("hartmann6", "Optuna TPE + HyperbandPruner (optuna 5.1.0)", None, 0.047, 0.033, 0.101, 10),
    ("hartmann6", "HpBandSter BOHB (hpbandster 0.7.4)", "bohb", 0.130, 0.040, 0.197, 10),
    ("hartmann6", "HpBandSter HyperBand (hpbandster 0.7.4)", "hyperband", 0.740, 0.537, 1.036,
     10),
    ("hartmann6", "DEHB (dehb 0.1.2)", None, 0.565, 0.467, 0.667, 10),
    ("hartmann6", "SMAC3 MultiFidelityFacade (Hyperband) (smac 2.4.1)", None, 0.181, 0.131,
     0.269, 5),
    ("counting_ones", "Optuna TPE + HyperbandPruner (optuna 5.1.0)", None, 0.150, 0.109, 0.178,
     10),
    ("counting_ones", "HpBandSter BOHB (hpbandster 0.7.4)", "bohb", 0.053, 0.041, 0.061, 10),
    ("counting_ones", "HpBandSter HyperBand (hpbandster 0.7.4)", "hyperband", 0.227, 0.193,
     0.238, 10),
    ("counting_ones", "DEHB (dehb 0.1.2)", None, 0.174, 0.161, 0.185, 10),
    ("counting_ones", "SMAC3 MultiFidelityFacade (Hyperband) (smac 2.4.1)", None, 0.113, 0.103,
     0.147, 5),
]


def load_peer_reference(path=PEERS_JSON):
    """(rows, conditions) from a full run of benchmarks/peers/run.py, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError):
        return None
    st = d.get("settings") or {}
    if st.get("smoke") or not d.get("summary"):
        return None
    versions = {}
    for name, v in (st.get("venvs") or {}).items():
        for line in v.get("pip_freeze") or []:
            if line.lower().startswith(name + "=="):
                versions[name] = line.split("==", 1)[1]
    rows = []
    for r in d["summary"]:
        if r.get("side") != "peer" or r.get("median") is None:
            continue
        dist = PEER_DISTRIBUTIONS.get(r["optimizer"])
        label = r.get("label", r["optimizer"])
        if versions.get(dist):
            label = "%s (%s %s)" % (label, dist, versions[dist])
        rows.append((r["kernel"], label, PEER_COUNTERPARTS.get(r["optimizer"]), r["median"],
                     r["q1"], r["q3"], r["n"]))
    if not rows:
        return None
    cond = {"seeds": max(row[6] for row in rows), "budget_multiple": st.get("budget_multiple"),
            "source": os.path.relpath(path, ROOT) + " (commit %s)" % st.get("git_commit")}
    return rows, cond


_PEER_REFERENCE = load_peer_reference()
if _PEER_REFERENCE is not None:
    REFERENCE, REFERENCE_CONDITIONS = _PEER_REFERENCE

# Kernel specs under which the reference numbers apply (same kernel, same options).
REFERENCE_KERNEL_ALIASES = {
    "hartmann6": "hartmann6",
    "counting_ones": "counting_ones",
    "counting_ones:8+8": "counting_ones",
}

COLOURS = {
    "random": "#6b6b6b",
    "hyperband": "#1f77b4",
    "bohb": "#d62728",
    "asha": "#2ca02c",
    "tpe": "#9467bd",
    "gp": "#ff7f0e",
    "sh": "#8c564b",
    "grid": "#e377c2",
}
# Dash patterns, so that lines lying on top of each other stay visible.
DASHES = {
    "random": None,
    "hyperband": "9 4",
    "bohb": None,
    "asha": "4 3",
    "tpe": "9 3 2 3",
    "gp": "2 3",
    "sh": "6 2",
    "grid": "1 3",
}
OTHER_COLOURS = ["#17becf", "#bcbd22", "#000000", "#aec7e8"]

PLOT_REGRET_FLOOR = 1e-4


# --------------------------------------------------------------------------------------
# small helpers

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def json_num(x):
    """A float for JSON: None for missing, infinite or NaN values."""
    if x is None or not finite(x):
        return None
    return float(x)


def fmt_g(x):
    """A number for a command line: shortest round-trip repr, no exponent surprises."""
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def fmt_regret(x):
    if x is None:
        return "n/a"
    if math.isinf(x):
        return "inf"
    if x == 0 or abs(x) >= 1e-3:
        return "%.3f" % x
    return "%.1e" % x


def fmt_mqq(m, q1, q3):
    return "%s [%s, %s]" % (fmt_regret(m), fmt_regret(q1), fmt_regret(q3))


def quantile(values, q):
    """Quantile with linear interpolation between order statistics, like numpy's default
    (method 'linear': position (n-1)q). +inf is allowed (an undefined regret counts as
    infinitely bad) and propagates; returns None for an empty list."""
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return None
    h = (n - 1) * q
    lo = int(math.floor(h))
    t = h - lo
    if lo >= n - 1 or t == 0:
        return xs[min(lo, n - 1)]
    a, b = xs[lo], xs[lo + 1]
    if math.isinf(a) or math.isinf(b):
        return math.inf
    d = b - a
    # numpy's _lerp: computed from the nearer end point
    if t >= 0.5:
        return b - d * (1 - t)
    return a + d * t


def mqq(values):
    return quantile(values, 0.5), quantile(values, 0.25), quantile(values, 0.75)


def safe_name(s):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)


# --------------------------------------------------------------------------------------
# hbmpi

def hbmpi_kernels(binary):
    p = subprocess.run([binary, "kernels", "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("'%s kernels --json' exited %d: %s"
                           % (binary, p.returncode, p.stderr.strip()))
    data = json.loads(p.stdout)
    return {k["name"]: k for k in data["kernels"]}


def hbmpi_version(binary):
    try:
        p = subprocess.run([binary, "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        return p.stdout.strip().splitlines()[0] if p.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit():
    try:
        p = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=10)
        if p.returncode != 0:
            return None
        commit = p.stdout.strip()
        d = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=10)
        if d.returncode == 0 and d.stdout.strip():
            commit += "-dirty"
        return commit
    except (OSError, subprocess.SubprocessError):
        return None


class KernelInfo:
    """What the benchmark needs to know about one kernel spec (NAME or NAME:ARGS)."""

    def __init__(self, spec, table):
        self.spec = spec
        self.base = spec.split(":", 1)[0]
        if self.base not in table:
            raise ValueError("unknown kernel '%s' (hbmpi kernels: %s)"
                             % (self.base, ", ".join(sorted(table))))
        k = table[self.base]
        self.max_budget = float(k["max_budget"])
        self.min_budget = float(k["min_budget"])
        self.optimum = k.get("optimum")
        if not finite(self.optimum):
            raise ValueError("kernel '%s' has no known optimum; regret is undefined" % spec)
        self.optimum = float(self.optimum)
        self.deterministic = bool(k.get("deterministic", False))
        # How the noise-free loss of a configuration is obtained:
        #   "loss"    deterministic kernel: the reported loss itself
        #   "python"  counting_ones: docs/kernels.md's counting_ones_exact, computed here
        #   "hbmpi"   other stochastic kernels: `hbmpi eval --exact`
        if self.deterministic:
            self.exact_mode = "loss"
        elif self.base == "counting_ones":
            self.exact_mode = "python"
        else:
            self.exact_mode = "hbmpi"

    def as_json(self):
        return {"kernel": self.spec, "max_budget": self.max_budget,
                "min_budget": self.min_budget, "optimum": self.optimum,
                "deterministic": self.deterministic, "exact": self.exact_mode}


def counting_ones_exact(config):
    """docs/kernels.md section 3: E[loss] = 1 - (sum cat + sum float) / d, d = Nc + Nf, with the
    dimensions read from the config keys. Categoricals first, then floats, then one
    division, as the kernel's summation order."""
    cats, floats = {}, {}
    for key, value in config.items():
        if key.startswith("cat_"):
            cats[int(key[4:])] = float(value)
        elif key.startswith("float_"):
            floats[int(key[6:])] = float(value)
        else:
            raise ValueError("counting_ones: unexpected parameter '%s'" % key)
    if sorted(cats) != list(range(len(cats))) or sorted(floats) != list(range(len(floats))):
        raise ValueError("counting_ones: parameter indices are not contiguous")
    d = len(cats) + len(floats)
    if d == 0:
        raise ValueError("counting_ones: empty configuration")
    s = 0.0
    for i in range(len(cats)):
        s += cats[i]
    for j in range(len(floats)):
        s += floats[j]
    return 1.0 - s / d


def hbmpi_exact(binary, kinfo, config, timeout):
    p = subprocess.run([binary, "eval", "--kernel", kinfo.spec, "--budget",
                        fmt_g(kinfo.max_budget), "--config",
                        json.dumps(config, separators=(",", ":")), "--exact"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("hbmpi eval --exact exited %d: %s"
                           % (p.returncode, p.stderr.strip()[-300:]))
    return float(p.stdout.strip())


# --------------------------------------------------------------------------------------
# one study

def study_command(binary, kinfo, method, seed, multiple):
    cmd = [binary, "run", "--kernel", kinfo.spec, "--optimizer", method,
           "--seed", str(seed), "--json", "--quiet"]
    if method in BRACKET_METHODS:
        cmd += ["--max-total-budget", fmt_g(multiple * kinfo.max_budget)]
    else:
        cmd += ["--max-evals", str(int(multiple))]
    return cmd


def analyse_report(report, kinfo, binary, timeout, limit_budget, cost_key=None):
    """Regret trajectory of one report. Returns a dict (see the module doc / README).
    A trial's cost is its budget, or its `cost_key` entry when given (benchmarks/peers/: an
    Optuna trial continued from rung to rung costs only the difference)."""
    trials = report.get("trials")
    if not isinstance(trials, list):
        raise ValueError("report has no 'trials' list")
    R = kinfo.max_budget
    at_max = R * (1 - MAX_BUDGET_RTOL)
    warnings = []
    exact_cache = {}

    def exact_of(config, loss):
        if kinfo.exact_mode == "loss":
            return loss
        key = json.dumps(config, sort_keys=True)
        if key not in exact_cache:
            if kinfo.exact_mode == "python":
                exact_cache[key] = counting_ones_exact(config)
            else:
                exact_cache[key] = hbmpi_exact(binary, kinfo, config, timeout)
        return exact_cache[key]

    cum = 0.0
    inc = None            # (loss, trial)
    regret = None
    trajectory = []       # step function: [cum_budget, regret] where the regret changes
    first_defined = None
    statuses = {}
    for t in trials:
        b = t.get("budget")
        if not finite(b):
            raise ValueError("trial %s has no numeric budget" % t.get("id"))
        cum += float(b) if cost_key is None else float(t[cost_key])
        st = t.get("status")
        statuses[st] = statuses.get(st, 0) + 1
        loss = t.get("loss")
        if st == "ok" and finite(loss) and b >= at_max:
            if inc is None or loss < inc[0]:          # ties: the earlier trial stays
                inc = (float(loss), t)
                regret = max(0.0, exact_of(t.get("config") or {}, float(loss)) - kinfo.optimum)
        if regret is not None:
            if first_defined is None:
                first_defined = cum
            if not trajectory or trajectory[-1][1] != regret:
                trajectory.append([cum, regret])
    if trajectory and trajectory[-1][0] != cum:
        trajectory.append([cum, regret])

    # consistency with the report's own totals and incumbent
    totals = report.get("totals") or {}
    if totals.get("evaluations") is not None and totals["evaluations"] != len(trials):
        warnings.append("totals.evaluations %s != %d trials" % (totals["evaluations"], len(trials)))
    if finite(totals.get("budget")) and abs(totals["budget"] - cum) > 1e-9 * max(1.0, cum):
        warnings.append("totals.budget %r != summed trial budgets %r" % (totals["budget"], cum))
    if limit_budget is not None and cum > limit_budget * (1 + 1e-9):
        warnings.append("total budget %r exceeds the limit %r" % (cum, limit_budget))
    best = report.get("best")
    if inc is not None:
        if not isinstance(best, dict) or not finite(best.get("budget")) \
                or best["budget"] < at_max:
            warnings.append("report 'best' is not at the max budget although a max-budget "
                            "result exists")
        elif best.get("loss") != inc[0]:
            warnings.append("report best.loss %r != incumbent loss %r"
                            % (best.get("loss"), inc[0]))
    bad = {k: v for k, v in statuses.items() if k != "ok"}
    if bad:
        warnings.append("non-ok trials: %s" % ", ".join("%s %d" % kv for kv in sorted(bad.items())))

    result = {
        "final_regret": regret,
        "evaluations": len(trials),
        "total_budget": cum,
        "first_max_budget_at": first_defined,
        "trajectory": trajectory,
        "incumbent": None,
        "warnings": warnings,
    }
    if inc is not None:
        cfg = inc[1].get("config") or {}
        result["incumbent"] = {"id": inc[1].get("id"), "config": cfg, "loss": inc[0],
                               "exact_loss": exact_of(cfg, inc[0])}
        # Cross-check the Python counting_ones_exact against the binary's `eval --exact`.
        if kinfo.exact_mode == "python":
            try:
                ref = hbmpi_exact(binary, kinfo, cfg, timeout)
                mine = result["incumbent"]["exact_loss"]
                result["exact_crosscheck"] = {"python": mine, "hbmpi": ref,
                                              "abs_diff": abs(mine - ref)}
                if abs(mine - ref) > 1e-12:
                    warnings.append("counting_ones_exact %r != hbmpi eval --exact %r"
                                    % (mine, ref))
            except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as e:
                warnings.append("could not cross-check the exact loss: %s" % e)
    return result


# Open MPI's message when a process fails before MPI_Init has completed (seen about once
# in a few hundred singleton starts on a loaded machine): the run never began.
MPI_INIT_FAILURE = "before MPI_INIT completed"

_RUNNING = set()          # Popen objects of the studies in progress
_RUNNING_LOCK = threading.Lock()


def _kill_group(proc):
    """SIGKILL the process group this script created for one study (its id is the pid)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_in_group(cmd, timeout, env=None):
    """Like subprocess.run(capture, text, timeout), but the study runs in its own process
    group, and on timeout the whole group is killed (children of hbmpi included). env: the
    whole environment of the command (default: this process's)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def kill_running():
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
    for proc in procs:
        _kill_group(proc)


def run_study(task):
    """Worker: run one hbmpi study and analyse it. Never raises."""
    kinfo, method, seed = task["kinfo"], task["method"], task["seed"]
    out = {"kernel": kinfo.spec, "optimizer": method, "seed": seed,
           "command": " ".join(task["cmd"])}
    retries = task.get("mpi_init_retries", 0)
    while True:
        t0 = time.monotonic()
        try:
            p = run_in_group(task["cmd"], task["timeout"])
        except subprocess.TimeoutExpired:
            out["error"] = "timed out after %g s" % task["timeout"]
            out["wall_seconds"] = time.monotonic() - t0
            return out
        except OSError as e:
            out["error"] = "could not start: %s" % e
            return out
        out["wall_seconds"] = time.monotonic() - t0
        if p.returncode == 0:
            break
        err = p.stderr.strip().splitlines()
        msg = "exit %d: %s" % (p.returncode, " | ".join(err[-3:]) or "(no stderr)")
        if MPI_INIT_FAILURE in p.stderr and retries > 0:
            # Open MPI's singleton start-up failed: the study never began, so running it
            # again measures the same thing. Recorded in the study and reported.
            retries -= 1
            out.setdefault("retried_after", []).append(msg)
            continue
        out["error"] = msg
        out["stderr_tail"] = err[-20:]
        return out
    try:
        report = json.loads(p.stdout)
        out.update(analyse_report(report, kinfo, task["binary"], task["timeout"],
                                  task["limit_budget"]))
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError,
            subprocess.SubprocessError, OSError) as e:
        out["error"] = "bad report: %s: %s" % (type(e).__name__, e)
    return out


def run_all(tasks, jobs, label, worker=None):
    """Run the tasks with a pool of `jobs` concurrent hbmpi processes (or of `worker`, a
    function like run_study; benchmarks/peers/ runs the peers' studies so)."""
    results = [None] * len(tasks)
    n = len(tasks)
    done = 0
    last = time.monotonic()
    t0 = last
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(worker or run_study, t): i for i, t in enumerate(tasks)}
        try:
            for fut in concurrent.futures.as_completed(futures):
                i = futures[fut]
                r = fut.result()
                results[i] = r
                done += 1
                if "error" in r:
                    log("  FAILED %s %s seed %d: %s"
                        % (r["kernel"], r["optimizer"], r["seed"], r["error"]))
                for w in r.get("retried_after", []):
                    log("  retried %s %s seed %d after an MPI start-up failure: %s"
                        % (r["kernel"], r["optimizer"], r["seed"], w[:200]))
                for w in r.get("warnings", []):
                    log("  warning %s %s seed %d: %s"
                        % (r["kernel"], r["optimizer"], r["seed"], w))
                now = time.monotonic()
                if now - last >= 5 or done == n:
                    log("  %s: %d/%d studies done (%.0f s)" % (label, done, n, now - t0))
                    last = now
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            kill_running()
            raise
    return results


# --------------------------------------------------------------------------------------
# summaries

def regret_at(trajectory, x):
    """Regret of a step-function trajectory at cumulative budget x (inf before the first
    max-budget result)."""
    cums = [p[0] for p in trajectory]
    i = bisect.bisect_right(cums, x * (1 + 1e-12)) - 1
    return math.inf if i < 0 else trajectory[i][1]


def log_grid(lo, hi, n):
    if n <= 1 or hi <= lo:
        return [hi]
    return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n - 1)] + [hi]


def summarise(studies, kinfos, methods, grids):
    """Per kernel x method: final regret median/q1/q3 over seeds and the trajectory on the
    kernel's grid. An undefined regret (no max-budget result yet) counts as +inf; failed
    studies are left out."""
    out = []
    for spec, kinfo in kinfos.items():
        grid = grids[spec]
        for m in methods:
            rows = [s for s in studies if s["kernel"] == spec and s["optimizer"] == m]
            ok = [s for s in rows if "error" not in s]
            finals = [s["final_regret"] if s["final_regret"] is not None else math.inf
                      for s in ok]
            med, q1, q3 = mqq(finals)
            traj = {"budget": grid, "budget_over_max": [g / kinfo.max_budget for g in grid],
                    "median": [], "q1": [], "q3": []}
            for g in grid:
                vals = [regret_at(s["trajectory"], g) for s in ok]
                a, b, c = mqq(vals)
                traj["median"].append(a)
                traj["q1"].append(b)
                traj["q3"].append(c)
            evals = [s["evaluations"] for s in ok]
            out.append({
                "kernel": spec, "optimizer": m, "median": med, "q1": q1, "q3": q3,
                "n": len(ok), "n_failed": len(rows) - len(ok),
                "n_undefined": sum(1 for s in ok if s["final_regret"] is None),
                "evaluations_median": quantile(evals, 0.5),
                "total_budget_median": quantile([s["total_budget"] for s in ok], 0.5),
                "trajectory": traj,
            })
    return out


def reference_rows(kernel_specs):
    rows = []
    for spec in kernel_specs:
        base = REFERENCE_KERNEL_ALIASES.get(spec)
        for k, name, counterpart, m, q1, q3, seeds in REFERENCE:
            if k == base:
                rows.append({"kernel": spec, "method": name, "counterpart": counterpart,
                             "median": m, "q1": q1, "q3": q3, "seeds": seeds,
                             "budget_multiple": REFERENCE_CONDITIONS["budget_multiple"],
                             "source": REFERENCE_CONDITIONS["source"]})
    return rows


def summary_lookup(summary, kernel, method):
    for r in summary:
        if r["kernel"] == kernel and r["optimizer"] == method:
            return r
    return None


def check_entry(name, kernel, passed, detail, **values):
    e = {"check": name, "kernel": kernel, "pass": passed, "detail": detail}
    e.update({k: json_num(v) if isinstance(v, float) else v for k, v in values.items()})
    return e


def usable(row):
    return row is not None and row["n"] > 0 and row["median"] is not None


def compute_checks(args, summary, refs, single_summary):
    checks = {"a_bohb_beats_hyperband_and_random": [],
              "b_bohb_at_most_hpbandster_bohb": [],
              "c_gp_tpe_beat_random_single": []}
    if summary is not None:
        for spec in args.kernels:
            bo = summary_lookup(summary, spec, "bohb")
            hb = summary_lookup(summary, spec, "hyperband")
            rs = summary_lookup(summary, spec, "random")
            if usable(bo) and usable(hb) and usable(rs):
                ok = bo["median"] < hb["median"] and bo["median"] < rs["median"]
                checks["a_bohb_beats_hyperband_and_random"].append(check_entry(
                    "a", spec, ok, "bohb %s < hyperband %s and < random %s"
                    % (fmt_regret(bo["median"]), fmt_regret(hb["median"]),
                       fmt_regret(rs["median"])),
                    bohb=bo["median"], hyperband=hb["median"], random=rs["median"]))
            else:
                checks["a_bohb_beats_hyperband_and_random"].append(check_entry(
                    "a", spec, None, "not evaluable: needs bohb, hyperband and random results"))
            ref = [r for r in refs if r["kernel"] == spec and r["counterpart"] == "bohb"]
            if not ref:
                checks["b_bohb_at_most_hpbandster_bohb"].append(check_entry(
                    "b", spec, None, "not evaluable: no reference for this kernel"))
            elif not usable(bo):
                checks["b_bohb_at_most_hpbandster_bohb"].append(check_entry(
                    "b", spec, None, "not evaluable: no bohb results"))
            elif args.budget_multiple != REFERENCE_CONDITIONS["budget_multiple"]:
                checks["b_bohb_at_most_hpbandster_bohb"].append(check_entry(
                    "b", spec, None, "not comparable: budget multiple %d, reference %d"
                    % (args.budget_multiple, REFERENCE_CONDITIONS["budget_multiple"])))
            else:
                r = ref[0]
                ok = bo["median"] <= r["median"]
                note = "" if args.seeds == REFERENCE_CONDITIONS["seeds"] else \
                    " (%d seeds, reference %d)" % (args.seeds, REFERENCE_CONDITIONS["seeds"])
                checks["b_bohb_at_most_hpbandster_bohb"].append(check_entry(
                    "b", spec, ok, "hbmpi bohb %s <= HpBandSter BOHB %s%s"
                    % (fmt_regret(bo["median"]), fmt_regret(r["median"]), note),
                    bohb=bo["median"], reference=r["median"]))
    if single_summary is not None:
        for spec in args.single_kernels:
            rs = summary_lookup(single_summary, spec, "random")
            for m in ("gp", "tpe"):
                row = summary_lookup(single_summary, spec, m)
                if usable(row) and usable(rs):
                    ok = row["median"] < rs["median"]
                    checks["c_gp_tpe_beat_random_single"].append(check_entry(
                        "c", spec, ok, "%s %s < random %s" % (m, fmt_regret(row["median"]),
                                                               fmt_regret(rs["median"])),
                        method=m, median=row["median"], random=rs["median"]))
                else:
                    checks["c_gp_tpe_beat_random_single"].append(check_entry(
                        "c", spec, None, "not evaluable: needs %s and random results" % m,
                        method=m))
    verdicts = [e["pass"] for lst in checks.values() for e in lst]
    checks["all_passed"] = (all(v is True for v in verdicts)
                            if verdicts and all(v is not None for v in verdicts) else
                            (False if any(v is False for v in verdicts) else None))
    checks["failed"] = sum(1 for v in verdicts if v is False)
    checks["not_evaluable"] = sum(1 for v in verdicts if v is None)
    return checks


# --------------------------------------------------------------------------------------
# human-readable tables (stderr)

def print_main_table(args, summary, refs):
    log("")
    log("Final regret, median [q1, q3] over %d seeds; total budget %d x max budget "
        "(reference: %d seeds, %d x max budget)"
        % (args.seeds, args.budget_multiple, REFERENCE_CONDITIONS["seeds"],
           REFERENCE_CONDITIONS["budget_multiple"]))
    w = [max([16] + [len(k) for k in args.kernels]), 10, 30, 34, 24]
    head = ["kernel", "method", "hbmpi", "reference (same algorithm)", ""]
    log("  ".join(h.ljust(n) for h, n in zip(head, w)).rstrip())
    log("  ".join("-" * n for n in w[:4]))
    for spec in args.kernels:
        krefs = [r for r in refs if r["kernel"] == spec]
        for m in args.methods:
            row = summary_lookup(summary, spec, m)
            hb = fmt_mqq(row["median"], row["q1"], row["q3"]) if usable(row) else "n/a"
            if row and (row["n_failed"] or row["n_undefined"]):
                hb += " *"
            ref = [r for r in krefs if r["counterpart"] == m]
            rtxt = ("%s %s" % (ref[0]["method"], fmt_mqq(ref[0]["median"], ref[0]["q1"],
                                                         ref[0]["q3"]))) if ref else ""
            log("  ".join(x.ljust(n) for x, n in zip([spec, m, hb, rtxt], w)).rstrip())
        for r in krefs:
            if r["counterpart"] is None or r["counterpart"] not in args.methods:
                rtxt = "%s %s" % (r["method"], fmt_mqq(r["median"], r["q1"], r["q3"]))
                log("  ".join(x.ljust(n) for x, n in zip([spec, "-", "-", rtxt], w)).rstrip())
    if any(r["n_failed"] or r["n_undefined"] for r in summary):
        log("  * some seeds failed or never reached the max budget (counted as inf)")


def print_single_table(args, single_summary):
    log("")
    log("Single-fidelity part: final regret after %d full-budget evaluations, "
        "median [q1, q3] over %d seeds" % (args.single_evals, args.seeds))
    w = [max([16] + [len(k) for k in args.single_kernels]), 10, 30]
    log("  ".join(h.ljust(n) for h, n in zip(["kernel", "method", "hbmpi"], w)).rstrip())
    log("  ".join("-" * n for n in w))
    for spec in args.single_kernels:
        for m in args.single_methods:
            row = summary_lookup(single_summary, spec, m)
            txt = fmt_mqq(row["median"], row["q1"], row["q3"]) if usable(row) else "n/a"
            log("  ".join(x.ljust(n) for x, n in zip([spec, m, txt], w)).rstrip())


def print_checks(checks):
    log("")
    log("Checks (informational%s):" % ("" if checks.get("strict") else "; --strict makes them fatal"))
    names = {"a_bohb_beats_hyperband_and_random": "(a) bohb < hyperband, random",
             "b_bohb_at_most_hpbandster_bohb": "(b) bohb <= HpBandSter BOHB",
             "c_gp_tpe_beat_random_single": "(c) gp, tpe < random (single)"}
    for key, title in names.items():
        for e in checks.get(key, []):
            v = {True: "PASS", False: "FAIL", None: "n/a "}[e["pass"]]
            log("  %s %-32s %-14s %s" % (v, title, e["kernel"], e["detail"]))


# --------------------------------------------------------------------------------------
# SVG

def nice_ticks_log(lo, hi):
    """1-2-5 ticks within [lo, hi] (both > 0)."""
    ticks = []
    e = int(math.floor(math.log10(lo))) - 1
    while 10 ** e <= hi * 10:
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                ticks.append(v)
        e += 1
    return ticks


def nice_ticks_linear(lo, hi, target=6):
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=10 * mag)
    v = math.ceil(lo / step) * step
    ticks = []
    while v <= hi + 1e-9 * span:
        ticks.append(round(v, 10))
        v += step
    return ticks


def fmt_tick(v):
    if v == 0:
        return "0"
    if abs(v) >= 1e4 and v % 1000 == 0:
        return "%gk" % (v / 1000)
    if abs(v) >= 1e-3 or v < 0:
        return "%g" % v
    return "1e%d" % round(math.log10(v)) if abs(math.log10(v) - round(math.log10(v))) < 1e-9 \
        else "%g" % v


def svg_plot(path, title, subtitle, x_label, series, refs, x_log, x_range, note=None,
             y_label="regret (log scale)", legend_title="hbmpi (median, q1\u2013q3)", y_log=True):
    """series: [{label, colour, x, median, q1, q3}] (y values may be None/inf);
    refs: [{label, colour, median, q1, q3}] drawn in a strip right of the plot. y_log=False:
    a linear y axis fitted to the data (values below PLOT_REGRET_FLOOR are not clipped)."""
    H = 580
    L, T = 86, 66               # plot area
    PW, PH = 560, 420
    Rx = L + PW
    B = T + PH
    strip_x0 = Rx + 24           # reference strip
    strip_w = 18 * max(1, len(refs)) + 20 if refs else 0
    legend_x = (strip_x0 + strip_w + 26) if refs else Rx + 30
    longest = max([len(x["label"]) for x in list(series) + list(refs)] + [26])
    W = int(legend_x + 40 + 7.2 * longest)

    floor = PLOT_REGRET_FLOOR if y_log else -math.inf
    ys = []
    for s in series:
        for key in ("median", "q1", "q3"):
            ys += [v for v in s[key] if v is not None and math.isfinite(v)]
    for r in refs:
        ys += [r["median"], r["q1"], r["q3"]]
    clipped_any = any(v < floor for v in ys)
    if y_log:
        ys = [max(v, floor) for v in ys] or [floor, 1.0]
        y_lo = 10 ** math.floor(math.log10(min(ys)) + 1e-12)
        y_hi = 10 ** math.ceil(math.log10(max(ys)) - 1e-12)
        if y_hi <= y_lo:
            y_hi = y_lo * 10
        y_lo = max(y_lo, floor)
        ly_lo, ly_hi = math.log10(y_lo), math.log10(y_hi)
    else:
        ys = ys or [0.0, 1.0]
        pad = 0.05 * ((max(ys) - min(ys)) or abs(max(ys)) or 1.0)
        yticks = nice_ticks_linear(min(ys) - pad, max(ys) + pad)
        step = yticks[1] - yticks[0] if len(yticks) > 1 else pad
        ly_lo = min(yticks[0], min(ys) - pad)
        ly_hi = max(yticks[-1], max(ys) + pad)
        if yticks[0] > min(ys):
            ly_lo = yticks[0] - step
            yticks.insert(0, round(ly_lo, 10))
        if yticks[-1] < max(ys):
            ly_hi = yticks[-1] + step
            yticks.append(round(ly_hi, 10))
        ly_lo, ly_hi = yticks[0], yticks[-1]

    x_lo, x_hi = x_range
    if x_log:
        lx_lo, lx_hi = math.log10(x_lo), math.log10(x_hi)
        if lx_hi <= lx_lo:
            lx_hi = lx_lo + 1

        def X(x):
            return L + (math.log10(x) - lx_lo) / (lx_hi - lx_lo) * PW
    else:
        span = (x_hi - x_lo) or 1.0

        def X(x):
            return L + (x - x_lo) / span * PW

    def Y(y):
        if not y_log:
            return B - (y - ly_lo) / ((ly_hi - ly_lo) or 1.0) * PH
        y = max(y, floor)
        return B - (math.log10(y) - ly_lo) / (ly_hi - ly_lo) * PH

    o = []
    o.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, Helvetica, sans-serif">'
             % (W, H, W, H))
    o.append('<rect x="0" y="0" width="%d" height="%d" fill="white"/>' % (W, H))
    o.append('<text x="%d" y="26" font-size="17" font-weight="bold">%s</text>'
             % (L, escape(title)))
    if subtitle:
        o.append('<text x="%d" y="46" font-size="12" fill="#444">%s</text>'
                 % (L, escape(subtitle)))
    o.append('<defs><clipPath id="plotarea"><rect x="%d" y="%d" width="%d" height="%d"/>'
             '</clipPath></defs>' % (L, T, PW, PH))

    # grid and ticks: y decades with minor 2..9 lines (linear: nice ticks)
    for v in ([] if y_log else yticks):
        y = Y(v)
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d0d0" stroke-width="1"/>'
                 % (L, y, Rx, y))
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>' % (L - 5, y, L, y))
        o.append('<text x="%d" y="%.1f" font-size="12" text-anchor="end">%s</text>'
                 % (L - 8, y + 4, escape(fmt_tick(v))))
    for e in (range(int(round(ly_lo)), int(round(ly_hi)) + 1) if y_log else ()):
        v = 10.0 ** e
        y = Y(v)
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d0d0" stroke-width="1"/>'
                 % (L, y, Rx, y))
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>' % (L - 5, y, L, y))
        lab = fmt_tick(v)
        if clipped_any and abs(v - floor) < floor * 1e-9:
            lab = "\u2264" + lab
        o.append('<text x="%d" y="%.1f" font-size="12" text-anchor="end">%s</text>'
                 % (L - 8, y + 4, escape(lab)))
        if e < int(round(ly_hi)):
            for m in range(2, 10):
                ym = Y(m * v)
                o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eeeeee" '
                         'stroke-width="1"/>' % (L, ym, Rx, ym))
                if m in (2, 5) and ly_hi - ly_lo <= 2.5:
                    o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>'
                             % (L - 3, ym, L, ym))
                    o.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end" '
                             'fill="#555">%s</text>' % (L - 8, ym + 4, escape(fmt_tick(m * v))))
    xticks = nice_ticks_log(x_lo, x_hi) if x_log else nice_ticks_linear(x_lo, x_hi)
    for v in xticks:
        x = X(v)
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e2e2e2" stroke-width="1"/>'
                 % (x, T, x, B))
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>' % (x, B, x, B + 5))
        o.append('<text x="%.1f" y="%d" font-size="12" text-anchor="middle">%s</text>'
                 % (x, B + 19, escape(fmt_tick(v))))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>'
             % (L, T, PW, PH))
    o.append('<text x="%.1f" y="%d" font-size="13" text-anchor="middle">%s</text>'
             % (L + PW / 2, B + 42, escape(x_label)))
    o.append('<text x="%d" y="%.1f" font-size="13" text-anchor="middle" '
             'transform="rotate(-90 %d %.1f)">%s</text>'
             % (24, T + PH / 2, 24, T + PH / 2, escape(y_label)))

    # bands first, then median lines on top
    def segments(xs, *cols):
        seg = []
        for i, x in enumerate(xs):
            vals = [c[i] for c in cols]
            if all(v is not None and math.isfinite(v) for v in vals):
                seg.append((x,) + tuple(vals))
            elif seg:
                yield seg
                seg = []
        if seg:
            yield seg

    o.append('<g clip-path="url(#plotarea)">')
    for s in series:
        for seg in segments(s["x"], s["q1"], s["q3"]):
            up, dn = [], []
            for i, p in enumerate(seg):        # stepped like the median line
                if i:
                    up.append("%.1f,%.1f" % (X(p[0]), Y(seg[i - 1][2])))
                    dn.append("%.1f,%.1f" % (X(p[0]), Y(seg[i - 1][1])))
                up.append("%.1f,%.1f" % (X(p[0]), Y(p[2])))
                dn.append("%.1f,%.1f" % (X(p[0]), Y(p[1])))
            dn.reverse()
            if len(seg) == 1:
                x = X(seg[0][0])
                up = ["%.1f,%.1f" % (x - 2, Y(seg[0][2])), "%.1f,%.1f" % (x + 2, Y(seg[0][2]))]
                dn = ["%.1f,%.1f" % (x + 2, Y(seg[0][1])), "%.1f,%.1f" % (x - 2, Y(seg[0][1]))]
            o.append('<polygon points="%s" fill="%s" fill-opacity="0.16" stroke="none"/>'
                     % (" ".join(up + dn), s["colour"]))
    # solid lines first, so that dashed ones lying on them stay visible
    for s in sorted(series, key=lambda s: s.get("dash") is not None):
        for seg in segments(s["x"], s["median"]):
            # a step function sampled on the grid: hold each value until the next point
            pts = ["%.1f,%.1f" % (X(seg[0][0]), Y(seg[0][1]))]
            for p0, p1 in zip(seg, seg[1:]):
                pts.append("%.1f,%.1f" % (X(p1[0]), Y(p0[1])))
                pts.append("%.1f,%.1f" % (X(p1[0]), Y(p1[1])))
            if len(seg) == 1:
                pts.append("%.1f,%.1f" % (X(seg[0][0]) + 3, Y(seg[0][1])))
            o.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2.4" '
                     'stroke-linejoin="round"%s/>' % (" ".join(pts), s["colour"], dash_attr(s)))
    o.append('</g>')

    # reference strip
    if refs:
        sx = strip_x0
        o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#fafafa" stroke="#999"/>'
                 % (sx, T, strip_w, PH))
        o.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle">reference</text>'
                 % (sx + strip_w / 2, T - 16))
        o.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle">final</text>'
                 % (sx + strip_w / 2, T - 4))
        for i, r in enumerate(refs):
            x = sx + 19 + 18 * i
            o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>'
                     % (x, Y(r["q1"]), x, Y(r["q3"]), r["colour"]))
            for q in ("q1", "q3"):
                o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" '
                         'stroke-width="2"/>' % (x - 4, Y(r[q]), x + 4, Y(r[q]), r["colour"]))
            o.append('<path d="M %.1f %.1f l 6 -6 l 6 6 l -6 6 z" fill="white" stroke="%s" '
                     'stroke-width="2"/>' % (x - 6, Y(r["median"]), r["colour"]))
            # tick marks on the shared y axis of the strip
        for e in (range(int(round(ly_lo)), int(round(ly_hi)) + 1) if y_log else ()):
            y = Y(10.0 ** e)
            o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d0d0"/>'
                     % (sx, y, sx + strip_w, y))

    # legend
    ly = T + 6
    o.append('<text x="%d" y="%d" font-size="12" font-weight="bold">%s</text>'
             % (legend_x, ly + 4, escape(legend_title)))
    ly += 20
    for s in series:
        o.append('<rect x="%d" y="%d" width="26" height="12" fill="%s" fill-opacity="0.16"/>'
                 % (legend_x, ly - 6, s["colour"]))
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.4"%s/>'
                 % (legend_x, ly, legend_x + 26, ly, s["colour"], dash_attr(s)))
        o.append('<text x="%d" y="%d" font-size="12">%s</text>'
                 % (legend_x + 34, ly + 4, escape(s["label"])))
        ly += 20
    if refs:
        ly += 10
        o.append('<text x="%d" y="%d" font-size="12" font-weight="bold">reference (median, q1\u2013q3)</text>'
                 % (legend_x, ly + 4))
        ly += 20
        for r in refs:
            o.append('<path d="M %d %d l 6 -6 l 6 6 l -6 6 z" fill="white" stroke="%s" '
                     'stroke-width="2"/>' % (legend_x + 7, ly, r["colour"]))
            words = r["label"]
            o.append('<text x="%d" y="%d" font-size="12">%s</text>'
                     % (legend_x + 34, ly + 4, escape(words)))
            ly += 20
    if note:
        for i, line in enumerate(note.split("\n")):
            o.append('<text x="%d" y="%d" font-size="11" fill="#555">%s</text>'
                     % (legend_x, B - 14 * (len(note.split("\n")) - 1 - i), escape(line)))
    if clipped_any:
        o.append('<text x="%d" y="%d" font-size="11" fill="#555">regret below %g drawn at %g'
                 '</text>' % (L, H - 12, floor, floor))
    o.append('</svg>')
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")


def dash_attr(series):
    d = series.get("dash")
    return ' stroke-dasharray="%s"' % d if d else ""


def colour_for(method, others):
    if method in COLOURS:
        return COLOURS[method]
    if method not in others:
        others[method] = OTHER_COLOURS[len(others) % len(OTHER_COLOURS)]
    return others[method]


def plot_main(args, summary, refs, kinfos):
    paths = []
    others = {}
    for spec, kinfo in kinfos.items():
        R = kinfo.max_budget
        series = []
        for m in args.methods:
            row = summary_lookup(summary, spec, m)
            if not usable(row):
                continue
            tr = row["trajectory"]
            series.append({"label": m, "colour": colour_for(m, others), "dash": DASHES.get(m),
                           "x": tr["budget_over_max"], "median": tr["median"],
                           "q1": tr["q1"], "q3": tr["q3"]})
        rrefs = []
        note = None
        krefs = [r for r in refs if r["kernel"] == spec]
        if krefs and args.budget_multiple == REFERENCE_CONDITIONS["budget_multiple"]:
            lone = 0
            for r in krefs:
                c = COLOURS.get(r["counterpart"])
                if c is None:       # peers without a counterpart: one colour each
                    c = OTHER_COLOURS[lone % len(OTHER_COLOURS)]
                    lone += 1
                rrefs.append({"label": r["method"], "colour": c, "median": max(r["median"], 0),
                              "q1": r["q1"], "q3": r["q3"]})
            note = "reference: the peers' final regret\nat %d x R, up to %d seeds (peers/run.py)" % (
                REFERENCE_CONDITIONS["budget_multiple"], REFERENCE_CONDITIONS["seeds"])
        elif krefs:
            note = "reference not drawn: it is for\n%d x R, this run used %d x R" % (
                REFERENCE_CONDITIONS["budget_multiple"], args.budget_multiple)
        path = os.path.join(args.svg_dir, "sample_efficiency_%s.svg" % safe_name(spec))
        svg_plot(path, "%s: regret against cumulative budget" % spec,
                 "%d seeds; total budget %d R per study" % (args.seeds, args.budget_multiple),
                 "cumulative budget / max budget R (R = %s)" % fmt_g(R),
                 series, rrefs, True, (1.0, float(args.budget_multiple)), note)
        paths.append(path)
    return paths


def plot_single(args, single_summary, kinfos):
    paths = []
    others = {}
    for spec, kinfo in kinfos.items():
        series = []
        for m in args.single_methods:
            row = summary_lookup(single_summary, spec, m)
            if not usable(row):
                continue
            tr = row["trajectory"]
            series.append({"label": m, "colour": colour_for(m, others), "dash": DASHES.get(m),
                           "x": tr["budget_over_max"], "median": tr["median"],
                           "q1": tr["q1"], "q3": tr["q3"]})
        path = os.path.join(args.svg_dir, "sample_efficiency_single_%s.svg" % safe_name(spec))
        svg_plot(path, "%s: regret against full-budget evaluations" % spec,
                 "%d seeds; every evaluation at the max budget R = %s"
                 % (args.seeds, fmt_g(kinfo.max_budget)),
                 "evaluations", series, [], False, (1.0, float(args.single_evals)))
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------
# main

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Sample efficiency of hbmpi's optimisers: regret against cumulative "
                    "budget, beside HpBandSter/Optuna reference numbers. JSON on stdout "
                    "(or --out), tables on stderr, SVG plots in --svg-dir.")
    p.add_argument("--hbmpi", default=os.path.join(ROOT, "build", "hbmpi"),
                   help="the hbmpi binary (default: build/hbmpi of this checkout)")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 10)")
    p.add_argument("--kernels", default="hartmann6,counting_ones",
                   help="comma-separated kernels, NAME or NAME:ARGS (main part)")
    p.add_argument("--methods", default="random,hyperband,bohb,asha,tpe,gp",
                   help="comma-separated optimisers (main part)")
    p.add_argument("--budget-multiple", type=int, default=None,
                   help="total budget as a multiple of the kernel's max budget (default 100)")
    p.add_argument("--part", choices=("both", "main", "single"), default="both",
                   help="main: multi-fidelity comparison; single: gp/tpe vs random at full "
                        "budget (default both)")
    p.add_argument("--single-kernels", default="branin,hartmann6",
                   help="kernels of the single part (default branin,hartmann6)")
    p.add_argument("--single-methods", default="gp,tpe,random",
                   help="optimisers of the single part (default gp,tpe,random)")
    p.add_argument("--single-evals", type=int, default=50,
                   help="full-budget evaluations per study in the single part (default 50)")
    p.add_argument("--jobs", type=int, default=2, help="studies run at once (default 2)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds allowed per study (default 600)")
    p.add_argument("--mpi-init-retries", type=int, default=1,
                   help="run a study again if Open MPI failed before MPI_Init completed "
                        "(the study never started; recorded in the JSON) (default 1)")
    p.add_argument("--grid-points", type=int, default=50,
                   help="points of the common log-spaced budget grid (default 50)")
    p.add_argument("--out", default=None, help="write the JSON here instead of stdout")
    p.add_argument("--svg-dir", default=os.path.join(HERE, "out"),
                   help="directory for the SVG plots (default benchmarks/out/)")
    p.add_argument("--no-svg", action="store_true", help="do not write SVG plots")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 2 seeds, budget multiple 20 (unless given explicitly)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 if a check fails (checks are informational otherwise)")
    a = p.parse_args(argv)
    if a.seeds is None:
        a.seeds = 2 if a.quick else 10
    if a.budget_multiple is None:
        a.budget_multiple = 20 if a.quick else 100
    a.kernels = [k.strip() for k in a.kernels.split(",") if k.strip()]
    a.methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    a.single_kernels = [k.strip() for k in a.single_kernels.split(",") if k.strip()]
    a.single_methods = [m.strip() for m in a.single_methods.split(",") if m.strip()]
    known = BRACKET_METHODS + FULL_BUDGET_METHODS
    for m in a.methods + a.single_methods:
        if m not in known:
            p.error("unknown optimiser '%s' (this script knows %s)" % (m, ", ".join(known)))
    for m in a.single_methods:
        if m in BRACKET_METHODS:
            p.error("the single part is for full-budget optimisers, not '%s'" % m)
    if a.mpi_init_retries < 0:
        p.error("--mpi-init-retries must be >= 0")
    if a.seeds < 1 or a.budget_multiple < 1 or a.jobs < 1 or a.single_evals < 1 \
            or a.grid_points < 1 or a.timeout <= 0:
        p.error("--seeds, --budget-multiple, --jobs, --single-evals, --grid-points and "
                "--timeout must be positive")
    if a.part in ("both", "main") and not (a.kernels and a.methods):
        p.error("the main part needs --kernels and --methods")
    if a.part in ("both", "single") and not (a.single_kernels and a.single_methods):
        p.error("the single part needs --single-kernels and --single-methods")
    return a


def strip_study(s):
    """The study as stored in the JSON (floats made JSON-safe)."""
    out = {"kernel": s["kernel"], "optimizer": s["optimizer"], "seed": s["seed"]}
    if s.get("retried_after"):
        out["retried_after"] = s["retried_after"]
    if "error" in s:
        out["error"] = s["error"]
        out["command"] = s["command"]
        out["stderr_tail"] = s.get("stderr_tail")
        out["final_regret"] = None
        return out
    out.update({
        "final_regret": json_num(s["final_regret"]),
        "evaluations": s["evaluations"],
        "total_budget": s["total_budget"],
        "first_max_budget_at": s["first_max_budget_at"],
        "wall_seconds": round(s.get("wall_seconds", 0.0), 4),
        "incumbent": s["incumbent"],
        "trajectory": [[c, json_num(r)] for c, r in s["trajectory"]],
    })
    if "exact_crosscheck" in s:
        out["exact_crosscheck"] = s["exact_crosscheck"]
    if s.get("warnings"):
        out["warnings"] = s["warnings"]
    return out


def jsonify_summary(summary):
    out = []
    for r in summary:
        r = dict(r)
        for k in ("median", "q1", "q3"):
            r[k] = json_num(r[k])
        tr = dict(r["trajectory"])
        for k in ("median", "q1", "q3"):
            tr[k] = [json_num(v) for v in tr[k]]
        r["trajectory"] = tr
        out.append(r)
    return out


def write_json(result, out):
    """The result as strict JSON (no NaN) to the file `out`, or to stdout; then its wall time
    on stderr (benchmarks/peers/run.py writes its output so too)."""
    text = json.dumps(result, indent=1, allow_nan=False)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        log("wrote %s" % out)
    else:
        sys.stdout.write(text + "\n")
    log("wall time %.1f s" % result["wall_seconds"])


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    t_start = time.monotonic()
    binary = os.path.abspath(args.hbmpi)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        log("sample_efficiency.py: %s is not an executable (build it: cmake -S . -B build "
            "&& cmake --build build -j2)" % args.hbmpi)
        return 2
    try:
        table = hbmpi_kernels(binary)
        kinfos = {}
        if args.part in ("both", "main"):
            for spec in args.kernels:
                kinfos[spec] = KernelInfo(spec, table)
        skinfos = {}
        if args.part in ("both", "single"):
            for spec in args.single_kernels:
                skinfos[spec] = KernelInfo(spec, table)
    except (ValueError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        log("sample_efficiency.py: %s" % e)
        return 2

    seeds = list(range(args.seeds))
    settings = {
        "hbmpi": binary, "hbmpi_version": hbmpi_version(binary), "git_commit": git_commit(),
        "started_utc": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "part": args.part, "quick": args.quick, "seeds": seeds, "jobs": args.jobs,
        "timeout_seconds": args.timeout, "strict": args.strict,
        "mpi_init_retries": args.mpi_init_retries,
        "kernels": [kinfos[k].as_json() for k in kinfos],
        "methods": args.methods if args.part != "single" else [],
        "budget_multiple": args.budget_multiple,
        "stop_rules": {
            "bracket optimisers (%s)" % ", ".join(BRACKET_METHODS):
                "--max-total-budget budget_multiple x max_budget",
            "full-budget optimisers (%s)" % ", ".join(FULL_BUDGET_METHODS):
                "--max-evals budget_multiple"},
        "grid_points": args.grid_points,
        "regret": "max(0, exact(incumbent) - optimum); incumbent = lowest loss among ok "
                  "trials at the kernel's max budget so far (ties: earlier); exact = the loss "
                  "for deterministic kernels, counting_ones_exact for counting_ones",
        "trajectory_format": "step function [cumulative budget, regret]: a point where the "
                             "regret is first defined, wherever it changes, and at the last "
                             "trial; undefined before the first max-budget result",
        "summary_statistics": "median, q1, q3 over seeds, linear interpolation (numpy's "
                              "default); an undefined regret counts as +inf (null in JSON); "
                              "failed studies are left out",
    }

    result = {"benchmark": "sample_efficiency", "settings": settings}
    failed = 0
    summary = single_summary = None
    refs = reference_rows(args.kernels) if args.part != "single" else []
    svgs = []
    try:
        if args.part in ("both", "main"):
            tasks = []
            for spec, kinfo in kinfos.items():
                for m in args.methods:
                    for s in seeds:
                        limit = args.budget_multiple * kinfo.max_budget
                        tasks.append({"kinfo": kinfo, "method": m, "seed": s,
                                      "cmd": study_command(binary, kinfo, m, s,
                                                           args.budget_multiple),
                                      "binary": binary, "timeout": args.timeout,
                                      "limit_budget": limit,
                                      "mpi_init_retries": args.mpi_init_retries})
            log("main part: %d studies (%d kernels x %d methods x %d seeds), %d jobs"
                % (len(tasks), len(kinfos), len(args.methods), len(seeds), args.jobs))
            studies = run_all(tasks, args.jobs, "main")
            failed += sum(1 for s in studies if "error" in s)
            grids = {spec: log_grid(k.max_budget, args.budget_multiple * k.max_budget,
                                    args.grid_points) for spec, k in kinfos.items()}
            summary = summarise(studies, kinfos, args.methods, grids)
            result["studies"] = [strip_study(s) for s in studies]
            result["summary"] = summary
            result["reference"] = refs
            print_main_table(args, summary, refs)

        if args.part in ("both", "single"):
            tasks = []
            for spec, kinfo in skinfos.items():
                for m in args.single_methods:
                    for s in seeds:
                        cmd = study_command(binary, kinfo, m, s, args.single_evals)
                        tasks.append({"kinfo": kinfo, "method": m, "seed": s, "cmd": cmd,
                                      "binary": binary, "timeout": args.timeout,
                                      "limit_budget": args.single_evals * kinfo.max_budget,
                                      "mpi_init_retries": args.mpi_init_retries})
            log("single part: %d studies (%d kernels x %d methods x %d seeds, %d evaluations "
                "each), %d jobs" % (len(tasks), len(skinfos), len(args.single_methods),
                                    len(seeds), args.single_evals, args.jobs))
            sstudies = run_all(tasks, args.jobs, "single")
            failed += sum(1 for s in sstudies if "error" in s)
            sgrids = {spec: [k.max_budget * (i + 1) for i in range(args.single_evals)]
                      for spec, k in skinfos.items()}
            single_summary = summarise(sstudies, skinfos, args.single_methods, sgrids)
            result["single"] = {
                "settings": {"kernels": [skinfos[k].as_json() for k in skinfos],
                             "methods": args.single_methods, "evaluations": args.single_evals,
                             "seeds": seeds,
                             "stop_rule": "--max-evals %d (every evaluation at the max budget)"
                                          % args.single_evals,
                             "grid": "every evaluation (cumulative budget k x max budget)"},
                "studies": [strip_study(s) for s in sstudies],
                "summary": single_summary,
            }
            print_single_table(args, single_summary)
    except KeyboardInterrupt:
        log("sample_efficiency.py: interrupted")
        return 130

    checks = compute_checks(args, summary, refs, single_summary)
    checks["strict"] = args.strict
    all_studies = result.get("studies", []) + result.get("single", {}).get("studies", [])
    xc = [s["exact_crosscheck"]["abs_diff"] for s in all_studies if "exact_crosscheck" in s]
    checks["exact_crosscheck"] = {
        "studies": len(xc), "max_abs_diff": max(xc) if xc else None,
        "pass": (max(xc) <= 1e-12) if xc else None,
        "detail": "Python counting_ones_exact vs `hbmpi eval --exact` on each final incumbent"}
    checks["studies_with_warnings"] = sum(1 for s in all_studies if s.get("warnings"))
    checks["studies_failed"] = failed
    checks["studies_retried_after_mpi_init_failure"] = sum(
        1 for s in all_studies if s.get("retried_after"))
    result["checks"] = checks
    print_checks(checks)

    if summary is not None:
        result["summary"] = jsonify_summary(summary)
    if single_summary is not None:
        result["single"]["summary"] = jsonify_summary(single_summary)

    if not args.no_svg:
        try:
            os.makedirs(args.svg_dir, exist_ok=True)
            if summary is not None:
                svgs += plot_main(args, summary, refs, kinfos)
            if single_summary is not None:
                svgs += plot_single(args, single_summary, skinfos)
            for pth in svgs:
                log("wrote %s" % pth)
        except OSError as e:
            log("sample_efficiency.py: could not write SVG: %s" % e)
            failed += 1
    result["svg"] = svgs
    result["wall_seconds"] = round(time.monotonic() - t_start, 3)

    write_json(result, args.out)
    if failed:
        log("sample_efficiency.py: %d studies failed" % failed)
        return 1
    if args.strict and checks["failed"]:
        log("sample_efficiency.py: %d checks failed (--strict)" % checks["failed"])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
