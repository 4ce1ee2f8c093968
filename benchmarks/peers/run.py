#!/usr/bin/python3
"""The sample-efficiency protocol of benchmarks/README.md run by the peer optimisers (Optuna,
HpBandSter BOHB and HyperBand, DEHB, SMAC3), joined with hbmpi's studies on the same kernels,
seeds and budget.

    benchmarks/peers/run.py --out benchmarks/results/peers.json --svg-dir benchmarks/results
    benchmarks/peers/run.py --smoke --out /tmp/peers.json        # 1 seed, 6 x R, quick peers

The parent is Debian's /usr/bin/python3 (standard library only). Each peer runs in a virtual
environment of its own under --venv-dir (made here, its pinned packages installed from PyPI
unless already there), as a subprocess running adapter.py, which prints the evaluations it
made. Regrets, summaries and plots come from sample_efficiency.py (imported); hbmpi's studies
are sample_efficiency.py's own, with the real binary. See benchmarks/README.md ("peers/").

Exit status: 0 all studies ran; 1 a study or an install failed; 2 bad usage; 130 interrupted.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import sample_efficiency as se  # noqa: E402

ADAPTER = os.path.join(HERE, "adapter.py")

# Each peer: its venv, the pinned requirements (the versions measured in results/peers.json;
# HpBandSter 0.7.4, its last release, predates ConfigSpace 1.x and numpy 2), the module that
# must import, and how it is shown.
VENVS = {
    "optuna": ["optuna==5.1.0"],
    "hpbandster": ["hpbandster==0.7.4", "ConfigSpace==0.6.1", "numpy<2"],
    "dehb": ["dehb==0.1.2"],
    "smac": ["smac==2.4.1"],
}
IMPORTS = {"optuna": "optuna", "hpbandster": "hpbandster.optimizers", "dehb": "dehb",
           "smac": "smac"}
PEERS = {
    # name: (venv, label, colour, dash, has a model whose proposal cost is measured)
    "optuna": ("optuna", "Optuna TPE + HyperbandPruner", "#17becf", "5 2 1 2", True),
    "hpbandster_bohb": ("hpbandster", "HpBandSter BOHB", "#8c564b", "7 3", True),
    "hpbandster_hyperband": ("hpbandster", "HpBandSter HyperBand", "#e377c2", "3 2", False),
    "dehb": ("dehb", "DEHB", "#bcbd22", "8 2 2 2", True),
    "smac": ("smac", "SMAC3 MultiFidelityFacade (Hyperband)", "#000000", "1 2", True),
}
DEFAULT_PEERS = "optuna,hpbandster_bohb,hpbandster_hyperband,dehb,smac"
# Optuna and DEHB install from wheels; HpBandSter compiles netifaces and spends ~12 s per study
# starting and stopping its Pyro nameserver, SMAC3 ~5 min per 100 R study.
SMOKE_PEERS = "optuna,dehb"
DEFAULT_HBMPI = "random,hyperband,bohb,asha,tpe,gp"
PLOT_HBMPI = ("random", "hyperband", "bohb", "tpe", "gp")

log = se.log


# ------------------------------------------------------------------------------ venvs

def venv_python(venv_dir, name):
    return os.path.join(venv_dir, "peers-" + name, "bin", "python")


def probe(py, name):
    if not os.path.exists(py):
        return False
    try:
        r = subprocess.run([py, "-c", "import %s" % IMPORTS[name]], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def ensure_venv(base_python, venv_dir, name):
    """Make the venv and install its pinned requirements unless they import already. Returns
    (seconds spent, None) or (seconds, error text)."""
    t0 = time.monotonic()
    py = venv_python(venv_dir, name)
    if probe(py, name):
        return 0.0, None
    venv = os.path.dirname(os.path.dirname(py))
    log("peers: making %s and installing %s from PyPI ..." % (venv, " ".join(VENVS[name])))
    r = subprocess.run([base_python, "-m", "venv", "--clear", venv], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    if r.returncode != 0:
        return time.monotonic() - t0, "python -m venv failed: %s" % r.stdout.strip()[-800:]
    r = subprocess.run([py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
                       + VENVS[name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=1800)
    if r.returncode != 0:
        return time.monotonic() - t0, "pip install %s failed (exit %d): %s" % (
            " ".join(VENVS[name]), r.returncode, r.stdout.strip()[-1500:])
    if not probe(py, name):
        return time.monotonic() - t0, "after pip install, 'import %s' fails" % IMPORTS[name]
    return time.monotonic() - t0, None


def pip_freeze(py):
    r = subprocess.run([py, "-m", "pip", "freeze", "--disable-pip-version-check"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
    return sorted(r.stdout.split()) if r.returncode == 0 else None


# ------------------------------------------------------------------------------ peer studies

def peer_study(task):
    """Worker: one peer study through the adapter, analysed like an hbmpi report."""
    kinfo, peer, seed = task["kinfo"], task["peer"], task["seed"]
    cmd = [task["python"], ADAPTER, "study", "--peer", peer, "--kernel", kinfo.spec,
           "--seed", str(seed), "--limit", se.fmt_g(task["limit_budget"])]
    out = {"kernel": kinfo.spec, "optimizer": peer, "seed": seed, "command": " ".join(cmd)}
    t0 = time.monotonic()
    try:
        p = se.run_in_group(cmd, task["timeout"])
    except subprocess.TimeoutExpired:
        out["error"] = "timed out after %g s" % task["timeout"]
        return out
    except OSError as e:
        out["error"] = "could not start: %s" % e
        return out
    out["wall_seconds"] = time.monotonic() - t0
    if p.returncode != 0:
        err = p.stderr.strip().splitlines()
        out["error"] = "exit %d: %s" % (p.returncode, " | ".join(err[-3:]) or "(no stderr)")
        out["stderr_tail"] = err[-20:]
        return out
    try:
        data = json.loads(p.stdout)
        out.update(se.analyse_report(peer_report(data, kinfo), kinfo, task["binary"],
                                     task["timeout"], task["limit_budget"], cost_key="cost"))
        out["peer_seconds"] = data.get("wall_seconds")
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError,
            subprocess.SubprocessError, OSError) as e:
        out["error"] = "bad adapter output: %s: %s" % (type(e).__name__, e)
    return out


class Checkpointed:
    """peer_study, appending each finished study to a JSON-lines file and, with --resume,
    taking a study found there instead of running it again."""

    def __init__(self, path, resume):
        import threading
        self.path, self.lock, self.done = path, threading.Lock(), {}
        if path and resume and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    s = json.loads(line)
                    if "error" not in s:
                        self.done[(s["kernel"], s["optimizer"], s["seed"])] = s
            log("peers: %d finished studies taken from %s" % (len(self.done), path))
        elif path and os.path.exists(path):
            os.unlink(path)

    def __call__(self, task):
        key = (task["kinfo"].spec, task["peer"], task["seed"])
        if key in self.done:
            return self.done[key]
        out = peer_study(task)
        if self.path:
            with self.lock, open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(out) + "\n")
        return out


def peer_report(data, kinfo):
    """The adapter's evaluations as a report in hbmpi's form (trials in order, best)."""
    trials = []
    for t in data["trials"]:
        trials.append({"id": t["order"], "config": t["config"], "budget": t["budget"],
                       "cost": t["cost"], "loss": t["loss"], "status": "ok"})
    at_max = [t for t in trials if t["budget"] >= kinfo.max_budget * (1 - se.MAX_BUDGET_RTOL)]
    best = None
    for t in at_max:
        if best is None or t["loss"] < best["loss"]:
            best = t
    return {"trials": trials, "best": best,
            "totals": {"evaluations": len(trials), "budget": data["spent"]}}


# ------------------------------------------------------------------------------ proposal cost

def propose_cost(py, peer, reps, timeout):
    cmd = [py, ADAPTER, "propose", "--peer", peer, "--kernel", "hartmann6", "--results",
           "2000", "--reps", str(reps)]
    try:
        p = se.run_in_group(cmd, timeout)
    except subprocess.TimeoutExpired:
        return {"peer": peer, "error": "timed out after %g s" % timeout}
    if p.returncode != 0:
        return {"peer": peer, "error": "exit %d: %s" % (p.returncode,
                                                        p.stderr.strip()[-500:])}
    d = json.loads(p.stdout)
    m, q1, q3 = se.mqq(d["times_ms"])
    return {"peer": peer, "space": "hartmann6", "n_results": 2000, "reps": len(d["times_ms"]),
            "median_ms": m, "q1_ms": q1, "q3_ms": q3,
            "mean_ms": sum(d["times_ms"]) / len(d["times_ms"]), "times_ms": d["times_ms"],
            "step": "tell one result, then ask for one proposal (adapter.py propose_cost)",
            "setup_seconds": d["wall_seconds"]}


def hbmpi_ask_figures():
    """hbmpi's own proposal cost at 2000 results (bench_ask, results/bench_ask.json)."""
    path = os.path.join(BENCH, "results", "bench_ask.json")
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError):
        return []
    return [{"sampler": c["sampler"], "space": c["space"], "n_results": c["n_results"],
             "median_ms": c["median_us"] / 1000.0, "source": "benchmarks/results/bench_ask.json"}
            for c in d.get("cells", []) if c.get("n_results") in (500, 2000)]


# ------------------------------------------------------------------------------ output

def label_of(method):
    return PEERS[method][1] if method in PEERS else "hbmpi " + method


def print_table(args, summary, methods, kinfos):
    lines = ["", "Final regret, median [q1, q3] over n seeds (of 0..%d); total budget %d x max "
             "budget" % (args.seeds - 1, args.budget_multiple), "",
             "| kernel | method | final regret | n | evaluations (median) | wall s (median) |",
             "|---|---|---|---|---|---|"]
    for spec in kinfos:
        for m in methods:
            r = se.summary_lookup(summary, spec, m)
            if r is None:
                continue
            txt = se.fmt_mqq(r["median"], r["q1"], r["q3"]) if se.usable(r) else "n/a"
            lines.append("| %s | %s | %s | %d%s | %s | %s |" % (
                spec, label_of(m), txt, r["n"],
                (" (%d failed)" % r["n_failed"]) if r["n_failed"] else "",
                "%g" % r["evaluations_median"] if r["evaluations_median"] is not None else "-",
                "%.2f" % r["wall_median"] if r.get("wall_median") is not None else "-"))
    for ln in lines:
        log(ln)
    return lines


def plot(args, summary, kinfos, hbmpi_methods, peers):
    paths = []
    for spec, kinfo in kinfos.items():
        series = []
        for m in [m for m in hbmpi_methods if m in PLOT_HBMPI] + peers:
            r = se.summary_lookup(summary, spec, m)
            if not se.usable(r):
                continue
            tr = r["trajectory"]
            colour = PEERS[m][2] if m in PEERS else se.COLOURS.get(m, "#333333")
            dash = PEERS[m][3] if m in PEERS else se.DASHES.get(m)
            series.append({"label": label_of(m), "colour": colour, "dash": dash,
                           "x": tr["budget_over_max"], "median": tr["median"],
                           "q1": tr["q1"], "q3": tr["q3"]})
        path = os.path.join(args.svg_dir, "peers_%s.svg" % se.safe_name(spec))
        se.svg_plot(path, "%s: hbmpi and the peers, regret against budget" % spec,
                    "%d seeds%s; total budget %d R per study; regret of the incumbent at R"
                    % (args.seeds, "".join(" (%s: %d)" % (label_of(x).split(" ")[0], n)
                                           for x, n in sorted(args.peer_seeds.items())),
                       args.budget_multiple),
                    "cumulative budget / max budget R (R = %s)" % se.fmt_g(kinfo.max_budget),
                    series, [], True, (1.0, float(args.budget_multiple)),
                    legend_title="median, q1\u2013q3")
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------ main

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="JSON here (else stdout)")
    p.add_argument("--svg-dir", default=None,
                   help="directory of peers_KERNEL.svg (default: that of --out, else "
                        "benchmarks/out/)")
    p.add_argument("--hbmpi", default=os.path.join(ROOT, "build", "hbmpi"))
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 10)")
    p.add_argument("--kernels", default="hartmann6,counting_ones")
    p.add_argument("--peers", default=None, help="default " + DEFAULT_PEERS)
    p.add_argument("--hbmpi-methods", default=DEFAULT_HBMPI,
                   help="hbmpi's optimisers run beside the peers ('' for none)")
    p.add_argument("--budget-multiple", type=int, default=None, help="default 100")
    p.add_argument("--jobs", type=int, default=1, help="studies at once (default 1)")
    p.add_argument("--venv-dir", default=os.path.join(ROOT, ".venvs"))
    p.add_argument("--base-python", default="/usr/bin/python3",
                   help="the Python the venvs are made from (Debian's)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per study")
    p.add_argument("--propose-reps", type=int, default=None,
                   help="timed proposals at 2000 results per peer (default 24; 0: skip)")
    p.add_argument("--peer-seeds", default="",
                   help="fewer seeds for slow peers, e.g. smac=3 (seeds 0..N-1 of --seeds)")
    p.add_argument("--resume", action="store_true",
                   help="reuse the peer studies already in OUT.partial.jsonl (each finished "
                        "peer study is appended there as it ends)")
    p.add_argument("--smoke", "--quick", dest="smoke", action="store_true",
                   help="1 seed, 6 x R, peers %s, 3 timed proposals" % SMOKE_PEERS)
    a = p.parse_args(argv)
    if a.seeds is None:
        a.seeds = 1 if a.smoke else 10
    if a.budget_multiple is None:
        # 6 R: the first HyperBand bracket (81 configurations at R/81 up to one at R) costs
        # 5 R, so every bracket optimiser reaches the max budget
        a.budget_multiple = 6 if a.smoke else 100
    if a.peers is None:
        a.peers = SMOKE_PEERS if a.smoke else DEFAULT_PEERS
    if a.propose_reps is None:
        a.propose_reps = 3 if a.smoke else 24
    a.kernels = [k.strip() for k in a.kernels.split(",") if k.strip()]
    a.peers = [x.strip() for x in a.peers.split(",") if x.strip()]
    a.hbmpi_methods = [x.strip() for x in a.hbmpi_methods.split(",") if x.strip()]
    try:
        a.peer_seeds = {k: int(v) for k, v in (x.split("=") for x in a.peer_seeds.split(",")
                                               if x.strip())}
    except ValueError:
        p.error("--peer-seeds takes NAME=N,...")
    for x in list(a.peers) + list(a.peer_seeds):
        if x not in PEERS:
            p.error("unknown peer '%s' (known: %s)" % (x, ", ".join(PEERS)))
    for m in a.hbmpi_methods:
        if m not in se.BRACKET_METHODS + se.FULL_BUDGET_METHODS:
            p.error("unknown hbmpi optimiser '%s'" % m)
    for k in a.kernels:
        if k not in ("hartmann6", "counting_ones"):
            p.error("the peers' kernels are hartmann6 and counting_ones, not '%s'" % k)
    if a.seeds < 1 or a.budget_multiple < 1 or a.jobs < 1 or a.timeout <= 0 \
            or a.propose_reps < 0:
        p.error("--seeds, --budget-multiple, --jobs, --timeout must be positive")
    if a.svg_dir is None:
        a.svg_dir = os.path.dirname(os.path.abspath(a.out)) if a.out else \
            os.path.join(BENCH, "out")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    t_start = time.monotonic()
    binary = os.path.abspath(args.hbmpi)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        log("peers/run.py: %s is not an executable (build hbmpi first)" % args.hbmpi)
        return 2
    try:
        table = se.hbmpi_kernels(binary)
        kinfos = {spec: se.KernelInfo(spec, table) for spec in args.kernels}
    except (ValueError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        log("peers/run.py: %s" % e)
        return 2
    seeds = list(range(args.seeds))
    failed = 0

    # 1. the venvs
    venvs = {}
    names = sorted({PEERS[x][0] for x in args.peers})
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        # pip mostly waits on downloads: the venvs are made side by side
        made = dict(zip(names, pool.map(
            lambda n: ensure_venv(args.base_python, args.venv_dir, n), names)))
    for name in names:
        secs, err = made[name]
        py = venv_python(args.venv_dir, name)
        venvs[name] = {"python": py, "requirements": VENVS[name],
                       "install_seconds": round(secs, 1), "error": err}
        if err:
            log("peers/run.py: %s" % err)
            failed += 1
        else:
            venvs[name]["pip_freeze"] = pip_freeze(py)
    peers = [x for x in args.peers if not venvs[PEERS[x][0]]["error"]]

    # 2. the studies: hbmpi's through sample_efficiency.py, the peers' through the adapter
    tasks, ptasks = [], []
    for spec, kinfo in kinfos.items():
        limit = args.budget_multiple * kinfo.max_budget
        for m in args.hbmpi_methods:
            for s in seeds:
                tasks.append({"kinfo": kinfo, "method": m, "seed": s,
                              "cmd": se.study_command(binary, kinfo, m, s, args.budget_multiple),
                              "binary": binary, "timeout": args.timeout, "limit_budget": limit,
                              "mpi_init_retries": 1})
        for x in peers:
            for s in seeds[:args.peer_seeds.get(x, len(seeds))]:
                ptasks.append({"kinfo": kinfo, "peer": x, "seed": s, "binary": binary,
                               "python": venvs[PEERS[x][0]]["python"],
                               "timeout": args.timeout, "limit_budget": limit})
    try:
        log("hbmpi: %d studies" % len(tasks))
        studies = se.run_all(tasks, args.jobs, "hbmpi") if tasks else []
        log("peers: %d studies (%s), %d at once" % (len(ptasks), ", ".join(peers), args.jobs))
        # the slowest peers last, so that a run cut short has the most studies in .partial
        ptasks.sort(key=lambda t: args.peers.index(t["peer"]) if t["peer"] == "smac" else -1)
        partial = (args.out + ".partial.jsonl") if args.out else None
        studies += se.run_all(ptasks, args.jobs, "peers",
                              worker=Checkpointed(partial, args.resume)) if ptasks else []
        proposals = []
        if args.propose_reps:
            for x in peers:
                if PEERS[x][4]:
                    log("peers: proposal cost of %s at 2000 results ..." % x)
                    proposals.append(propose_cost(venvs[PEERS[x][0]]["python"], x,
                                                  args.propose_reps, args.timeout))
    except KeyboardInterrupt:
        se.kill_running()
        log("peers/run.py: interrupted")
        return 130
    failed += sum(1 for s in studies if "error" in s)
    failed += sum(1 for c in proposals if "error" in c)

    methods = args.hbmpi_methods + peers
    grids = {spec: se.log_grid(k.max_budget, args.budget_multiple * k.max_budget, 50)
             for spec, k in kinfos.items()}
    summary = se.summarise(studies, kinfos, methods, grids)
    for r in summary:
        walls = [s["wall_seconds"] for s in studies if s["kernel"] == r["kernel"]
                 and s["optimizer"] == r["optimizer"] and "error" not in s]
        r["wall_median"] = se.quantile(walls, 0.5)
        r["label"] = label_of(r["optimizer"])
        r["side"] = "peer" if r["optimizer"] in PEERS else "hbmpi"
    lines = print_table(args, summary, methods, kinfos)
    for c in proposals:
        log("proposal at 2000 results, %s: %s" % (
            label_of(c["peer"]), c.get("error") or "median %.2f ms [%.2f, %.2f], mean %.2f ms"
            % (c["median_ms"], c["q1_ms"], c["q3_ms"], c["mean_ms"])))

    svgs = []
    try:
        os.makedirs(args.svg_dir, exist_ok=True)
        svgs = plot(args, summary, kinfos, args.hbmpi_methods, peers)
        for pth in svgs:
            log("wrote %s" % pth)
    except OSError as e:
        log("peers/run.py: could not write SVG: %s" % e)
        failed += 1

    result = {
        "benchmark": "peers_sample_efficiency",
        "settings": {
            "hbmpi": binary, "hbmpi_version": se.hbmpi_version(binary),
            "git_commit": se.git_commit(), "python": platform.python_version(),
            "started_utc": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpus": os.cpu_count(), "jobs": args.jobs, "smoke": args.smoke, "seeds": seeds,
            "kernels": [k.as_json() for k in kinfos.values()],
            "budget_multiple": args.budget_multiple, "peers": peers,
            "hbmpi_methods": args.hbmpi_methods, "peer_seeds": args.peer_seeds,
            "cost": "an evaluation at budget b costs b (a promoted configuration pays its "
                    "budget again); an Optuna trial, continued rung to rung, costs the largest "
                    "budget it reached; the study ends at the first evaluation that would take "
                    "the spent budget above budget_multiple x R",
            "regret": "as sample_efficiency.py: incumbent = lowest loss at R so far; "
                      "counting_ones by counting_ones_exact",
            "noise": "counting_ones: a fresh noise seed per evaluation (per Optuna trial)",
            "venvs": venvs,
        },
        "studies": [se.strip_study(s) for s in studies],
        "summary": se.jsonify_summary(summary),
        "proposal_cost": proposals,
        "hbmpi_bench_ask": hbmpi_ask_figures(),
        "table": lines,
        "svg": [os.path.relpath(pth, ROOT) for pth in svgs],
        "wall_seconds": round(time.monotonic() - t_start, 1),
    }
    for s, full in zip(result["studies"], studies):
        if "peer_seconds" in full:
            s["peer_seconds"] = full["peer_seconds"]
    se.write_json(result, args.out)
    if failed:
        log("peers/run.py: %d studies, installs or measurements failed" % failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
