#!/usr/bin/env python3
"""What the run file costs, measured in one go (prints JSON; README.md).

1. Throughput: evaluations per second of the zero-cost kernel (branin, random search, every job
   at the max budget) with and without --out, alone and under `mpirun -n 3`. Runs alternate
   (without, with, without, ...) so that a noisy machine hurts both alike; the ratio of the
   medians is the figure (target >= 0.8). Two clocks: the run's own (the master loop, as hbmpi
   reports it) and the whole process (start-up, the final checkpoint).
2. Resume: the wall time of `hbmpi run` on a 100,000-trial run file: replay every event into a
   fresh optimiser, check each ask, checkpoint, run one more evaluation, checkpoint (target
   < 2 s), for a finished file (all events in the tables) and a killed one (most in the
   journal); and `hbmpi report --json` reading it.

usage: bench_runfile.py --hbmpi PATH [--mpirun PATH] [--reps 5] [--quick] [--out FILE]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import MPI_ENV

ARGS = None


def run(argv, np=None):
    cmd = [ARGS.hbmpi, *argv]
    if np:
        cmd = [ARGS.mpirun, "-n", str(np), *cmd]
    env = dict(os.environ, **MPI_ENV)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=900)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench_runfile: {' '.join(cmd)} failed ({p.returncode}): {p.stderr[-500:]}")
    m = re.search(r"^(\d+) trials in ([0-9.e+-]+) s of run time", p.stdout, re.M)
    if m is None:
        sys.exit(f"bench_runfile: no run time in the output of {' '.join(cmd)}: {p.stdout[-300:]}")
    return int(m.group(1)), float(m.group(2)), wall


def throughput(tmp):
    cells = []
    for label, np, n in (("alone", None, ARGS.n_serial), ("mpirun -n 3", 3, ARGS.n_mpi)):
        base = ["run", "--kernel", "branin", "--optimizer", "random", "--max-evals", str(n), "--quiet"]
        loop = {"without": [], "with": []}
        proc = {"without": [], "with": []}
        for r in range(ARGS.reps):
            for mode in ("without", "with"):
                extra = []
                if mode == "with":
                    f = os.path.join(tmp, f"tp-{r}.h5")
                    if os.path.exists(f):
                        os.unlink(f)
                    extra = ["--out", f]
                trials, run_time, wall = run(base + extra, np)
                assert trials == n
                loop[mode].append(n / run_time)
                proc[mode].append(n / wall)
        cell = {"where": label, "evaluations": n, "reps": ARGS.reps}
        for name, d in (("run_loop", loop), ("process", proc)):
            w, o = statistics.median(d["with"]), statistics.median(d["without"])
            cell[name] = {"evals_per_s_without": round(o), "evals_per_s_with": round(w), "ratio": round(w / o, 3)}
        cells.append(cell)
        print(f"throughput {label}: run loop {cell['run_loop']}, process {cell['process']}", file=sys.stderr)
    return cells


def resume(tmp):
    n = ARGS.n_resume
    out = []
    for optimizer in ("random", "hyperband", "bohb"):
        f = os.path.join(tmp, f"big-{optimizer}.h5")
        base = ["run", "--kernel", "branin", "--optimizer", optimizer, "--quiet", "--out", f]
        run(base + ["--max-evals", str(n)])
        size = os.path.getsize(f)
        times, reports = [], []
        for r in range(ARGS.reps):
            g = os.path.join(tmp, f"copy-{optimizer}.h5")
            shutil.copy(f, g)
            t = run(["run", "--kernel", "branin", "--optimizer", optimizer, "--quiet", "--out", g,
                     "--max-evals", str(n + 1)])
            times.append(t[2])
            t0 = time.perf_counter()
            subprocess.run([ARGS.hbmpi, "report", g, "--json"], stdout=subprocess.DEVNULL, check=True)
            reports.append(time.perf_counter() - t0)
        start = [run(["run", "--kernel", "branin", "--optimizer", optimizer, "--quiet", "--max-evals", "1"])[2]
                 for _ in range(3)]
        cell = {"optimizer": optimizer, "trials": n, "file_bytes": size, "state": "finished, limit raised",
                "resume_seconds_median": round(statistics.median(times), 3),
                "process_start_seconds": round(statistics.median(start), 3),
                "report_json_seconds_median": round(statistics.median(reports), 3)}
        out.append(cell)
        print(f"resume {cell}", file=sys.stderr)
    # a killed run: most of its events are still in the journal
    f = os.path.join(tmp, "killed.h5")
    argv = [ARGS.hbmpi, "run", "--kernel", "branin", "--optimizer", "random", "--quiet", "--max-evals",
            str(3 * n), "--eval-delay", "0.000002", "--out", f]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 60:
        time.sleep(0.2)
        c = subprocess.run([ARGS.hbmpi, "report", f, "--events"], capture_output=True, text=True)
        if c.returncode == 0 and c.stdout.count('"kind": "result"') >= n:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    c = subprocess.run([ARGS.hbmpi, "report", f, "--events"], capture_output=True, text=True)
    killed_trials = c.stdout.count('"kind": "result"')
    times = []
    for r in range(ARGS.reps):
        g = os.path.join(tmp, "killed-copy.h5")
        shutil.copy(f, g)
        times.append(run(["run", "--kernel", "branin", "--optimizer", "random", "--quiet", "--max-evals",
                          str(killed_trials + 1), "--out", g])[2])
    cell = {"optimizer": "random", "trials": killed_trials, "file_bytes": os.path.getsize(f),
            "state": "killed with SIGKILL (events in the journal)",
            "resume_seconds_median": round(statistics.median(times), 3)}
    out.append(cell)
    print(f"resume {cell}", file=sys.stderr)
    return out


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small sizes, 2 reps (a smoke run)")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    ARGS = ap.parse_args()
    ARGS.n_serial, ARGS.n_mpi, ARGS.n_resume = 200000, 100000, 100000
    if ARGS.quick:
        ARGS.n_serial, ARGS.n_mpi, ARGS.n_resume, ARGS.reps = 20000, 10000, 5000, 2
    tmp = tempfile.mkdtemp(prefix="hb-bench-runfile-")
    try:
        res = {"benchmark": "runfile", "throughput": throughput(tmp), "resume": resume(tmp),
               "machine": os.uname().nodename, "cpus": os.cpu_count()}
    finally:
        shutil.rmtree(tmp)
    text = json.dumps(res, indent=2)
    print(text)
    if ARGS.out:
        open(ARGS.out, "w").write(text + "\n")


if __name__ == "__main__":
    main()
