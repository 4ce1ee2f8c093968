#!/usr/bin/env python3
"""What a Python objective's start-up costs per trial, `--eval-cmd` against `--eval-server`
(issue 15; prints JSON; README.md "Objectives that start once").

Two objectives written with python/hbmpi.py that return at once: one imports numpy, one imports
torch (Debian's python3-torch). Each runs N trials of random search alone (one worker), once
with `--eval-cmd` (a process per trial) and once with `--eval-server` (one process for all);
the runs alternate, `--reps` times each, and the figure is the median of the run's own time
(hbmpi's "N trials in S s of run time") divided by N: the cost of a trial whose objective costs
nothing, i.e. hbmpi's and Python's overhead. Target: under 1 ms a trial served.

usage: bench_server.py --hbmpi PATH [--reps 3] [--quick] [--out FILE]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
OBJECTIVE = '''import sys
sys.path.insert(0, {python!r})
import {module}
import hbmpi

def objective(config, budget, trial):
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2

hbmpi.run(objective)
'''
SPACE = {"parameters": [{"name": "x", "type": "uniform_float", "lower": -5, "upper": 5},
                        {"name": "y", "type": "uniform_float", "lower": -5, "upper": 5}]}


def run(hbmpi, d, space, prog, mode, n):
    argv = [hbmpi, "run", "--space", space, "--optimizer", "random", "--max-evals", str(n), "--seed", "1",
            "--trial-dir", os.path.join(d, f"trials-{mode}"), f"--eval-{mode}", sys.executable, prog]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=d)
    if p.returncode != 0:
        sys.exit(f"bench_server: {' '.join(argv)} failed: {p.stderr[-500:]}")
    m = re.search(r"(\d+) trials in ([0-9.e+-]+) s of run time", p.stdout)
    if not m or int(m.group(1)) != n:
        sys.exit(f"bench_server: no trial count in {p.stdout[-300:]!r}")
    return float(m.group(2)) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer trials (a smoke run)")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()
    args.hbmpi = os.path.abspath(args.hbmpi)
    d = tempfile.mkdtemp(prefix="hb-bench-server-")
    space = os.path.join(d, "space.json")
    json.dump(SPACE, open(space, "w"))
    results = []
    for module, n_cmd, n_srv in (("numpy", 40, 2000), ("torch", 10, 2000)):
        if args.quick:
            n_cmd, n_srv = max(3, n_cmd // 5), 200
        prog = os.path.join(d, f"obj_{module}.py")
        open(prog, "w").write(OBJECTIVE.format(python=os.path.join(TOP, "python"), module=module))
        cmd, srv = [], []
        for _ in range(args.reps):  # alternating, so that a noisy machine hurts both alike
            cmd.append(run(args.hbmpi, d, space, prog, "cmd", n_cmd))
            srv.append(run(args.hbmpi, d, space, prog, "server", n_srv))
        c, s = statistics.median(cmd), statistics.median(srv)
        results.append({"objective": f"python, import {module}", "trials_cmd": n_cmd, "trials_server": n_srv,
                        "reps": args.reps, "ms_per_trial_cmd": round(c * 1e3, 3),
                        "ms_per_trial_server": round(s * 1e3, 4), "ratio_cmd_over_server": round(c / s, 1),
                        "server_under_1ms": s < 1e-3})
    out = {"benchmark": "eval_server", "python": sys.version.split()[0], "cpus": os.cpu_count(),
           "results": results}
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        open(args.out, "w").write(text + "\n")


if __name__ == "__main__":
    main()
