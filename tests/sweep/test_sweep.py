#!/usr/bin/env python3
"""`hbmpi sweep` and `hbmpi sweep report` (docs/CLI.md): real processes, real mpirun, real run
files.

usage: test_sweep.py --hbmpi PATH --mpirun PATH GROUP
GROUP: basic (alone: files, report JSON/CSV/SVG, each study equals its `hbmpi run`, regret and
       summary recomputed here), mpi (mpirun -n 2 and -n 4 give the same report as alone),
       errors (bad input: FILE:LINE:COL, exit 2, nothing written or overwritten),
       signals (SIGTERM alone and under mpirun, SIGKILL under mpirun: exit 3 or a kill, then the
       same command finishes the sweep with the report of an uninterrupted one)
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish, hbmpi_procs, wait_gone, wait_handlers  # noqa: E402

ARGS = None
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}


def hbmpi(*argv, np=None, timeout=300):
    cmd = [ARGS.hbmpi, *argv]
    if np:
        cmd = [ARGS.mpirun, "-n", str(np), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout,
                          env=dict(os.environ, **MPI_ENV))


def write(path, obj_or_text):
    with open(path, "w") as f:
        f.write(obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text, indent=1))


def quantile(v, q):
    """numpy's default ('linear') on sorted values; +inf allowed."""
    if not v:
        return None
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    f = pos - lo
    if f == 0 or v[lo] == v[hi]:
        return v[lo]
    if v[hi] == float("inf"):
        return float("inf")
    return v[lo] + (v[hi] - v[lo]) * f


def regret_of(trials, max_budget, optimum):
    """The incumbent's regret against cumulative budget, recomputed from a run's report."""
    cum, inc, reg, traj = 0.0, None, None, []
    for t in trials:
        cum += t["budget"]
        if t["status"] == "ok" and t["budget"] >= max_budget * (1 - 1e-9) and (inc is None or t["loss"] < inc):
            inc = t["loss"]
            reg = max(0.0, t["loss"] - optimum)
        if reg is not None and (not traj or traj[-1][1] != reg):
            traj.append([cum, reg])
    if traj and traj[-1][0] != cum:
        traj.append([cum, reg])
    return reg, traj


def close(a, b):
    return a == b or (a is not None and b is not None and abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b)))


# ---------------------------------------------------------------- basic
def group_basic():
    tmp = tempfile.mkdtemp(prefix="hb-sweep-")
    kernels = json.loads(hbmpi("kernels", "--json").stdout)
    kinfo = {k["name"]: k for k in (kernels["kernels"] if isinstance(kernels, dict) else kernels)}
    spec = {"kernels": ["branin", "counting_ones:2+2"], "optimizers": ["random", "hyperband", "bohb"],
            "seeds": {"from": 3, "count": 2}, "max_total_budget": "8x", "settings": {"eta": 3}}
    write(os.path.join(tmp, "S.json"), spec)
    out = os.path.join(tmp, "out")
    p = hbmpi("sweep", os.path.join(tmp, "S.json"), "--out", out, "--json")
    check(p.returncode == 0, f"sweep exits 0: {p.returncode} {p.stderr[-800:]}")
    rep = json.loads(p.stdout)
    files = sorted(os.listdir(out))
    want = sorted(f"{k.replace(':', '_').replace('+', '_')}-{o}-{s}.h5" for k in spec["kernels"]
                  for o in spec["optimizers"] for s in (3, 4)) + ["sweep.json"]
    check(files == want, f"one run file per study, and sweep.json: {files}")
    check("[12/12]" in p.stderr and "final regret" in p.stderr, f"progress on stderr: {p.stderr[-400:]}")
    check([(s["kernel"], s["optimizer"], s["seed"]) for s in rep["studies"]] ==
          [(k, o, s) for k in spec["kernels"] for o in spec["optimizers"] for s in (3, 4)],
          "studies in kernel, optimizer, seed order")
    check(all(s["state"] == "finished" for s in rep["studies"]), "every study finished")
    # each study is exactly `hbmpi run` with the same settings, and its regret is recomputed here
    for s in rep["studies"]:
        name = s["kernel"].split(":")[0]
        R = kinfo[name]["max_budget"]
        r = hbmpi("run", "--kernel", s["kernel"], "--optimizer", s["optimizer"], "--seed", str(s["seed"]),
                  "--max-total-budget", repr(8 * R), "--eta", "3", "--json", "--quiet")
        ref = json.loads(r.stdout)
        got = json.loads(hbmpi("report", os.path.join(out, s["file"]), "--json").stdout)
        key = lambda rr: [(t["id"], t["config"], t["budget"], t["loss"], t["status"]) for t in rr["trials"]]
        check(key(got) == key(ref), f"{s['file']}: the trials of `hbmpi run` with the same settings")
        check(s["evaluations"] == len(ref["trials"]), f"{s['file']}: evaluations")
        check(close(s["total_budget"], sum(t["budget"] for t in ref["trials"])), f"{s['file']}: total budget")
        if name == "branin":  # deterministic: the regret is the loss's (counting_ones uses its exact loss)
            reg, traj = regret_of(ref["trials"], R, kinfo[name]["optimum"])
            check(close(s["final_regret"], reg) and len(traj) == len(s["trajectory"]) and
                  all(close(a[0], b[0]) and close(a[1], b[1]) for a, b in zip(traj, s["trajectory"])),
                  f"{s['file']}: regret trajectory recomputed from the trials")
        else:
            traj = s["trajectory"]
            check(traj and all(b[1] >= 0 for b in traj) and all(traj[i][0] < traj[i + 1][0] for i in range(len(traj) - 1))
                  and all(traj[i][1] > traj[i + 1][1] for i in range(len(traj) - 2)),
                  f"{s['file']}: a decreasing regret over increasing budget: {traj}")
    # the summary: median and quartiles of the final regrets over seeds
    for row in rep["summary"]:
        v = sorted(s["final_regret"] if s["final_regret"] is not None else float("inf") for s in rep["studies"]
                   if s["kernel"] == row["kernel"] and s["optimizer"] == row["optimizer"])
        check(row["studies"] == 2 and close(row["median"], quantile(v, 0.5)) and close(row["q1"], quantile(v, 0.25))
              and close(row["q3"], quantile(v, 0.75)), f"summary row {row}")
    check(len(rep["summary"]) == 6, "one summary row per kernel and optimizer")
    # sweep report: the same JSON; a table; CSV; one SVG per kernel
    r = hbmpi("sweep", "report", out, "--json")
    check(r.returncode == 0 and json.loads(r.stdout) == rep, "sweep report --json equals sweep --json")
    r = hbmpi("sweep", "report", out)
    check(r.returncode == 0 and "12 of 12 studies finished" in r.stdout and "hyperband" in r.stdout,
          f"the table: {r.stdout}")
    r = hbmpi("sweep", "report", out, "--csv", "-")
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines[0].startswith("kernel,optimizer,seed,state") and len(lines) == 13 and
          '"counting_ones:2+2"' not in lines[-1] and lines[-1].startswith("counting_ones:2+2,bohb,4,finished"),
          f"CSV: {lines[:2]} ... {lines[-1:]}")
    plots = os.path.join(tmp, "plots")
    r = hbmpi("sweep", "report", out, "--plot", plots)
    svgs = sorted(os.listdir(plots)) if os.path.isdir(plots) else []
    check(r.returncode == 0 and svgs == ["regret-branin.svg", "regret-counting_ones_2_2.svg"], f"plots: {svgs}")
    for f in svgs:
        root = ET.parse(os.path.join(plots, f)).getroot()
        lines_drawn = root.findall("{http://www.w3.org/2000/svg}polyline")
        check(len(lines_drawn) == 3 and all(len(l.get("points").split()) > 10 for l in lines_drawn),
              f"{f}: a median line per optimizer")
    # again: nothing to do, the same report, no file rewritten
    mtimes = {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in files}
    p = hbmpi("sweep", os.path.join(tmp, "S.json"), "--out", out, "--json")
    check(p.returncode == 0 and json.loads(p.stdout) == rep and p.stderr.count("finished before") == 12,
          f"a finished sweep again: exit 0, the same report ({p.returncode}) {p.stderr[-300:]}")
    check(mtimes == {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in files}, "no file was rewritten")
    # an extra seed: only the new studies run
    spec["seeds"] = {"from": 3, "count": 3}
    write(os.path.join(tmp, "S3.json"), spec)
    p = hbmpi("sweep", os.path.join(tmp, "S3.json"), "--out", os.path.join(tmp, "out3"))
    check(p.returncode == 0 and "18 of 18 studies finished" in p.stdout, f"three seeds: {p.stdout[:200]}")


# ---------------------------------------------------------------- mpi
def group_mpi():
    tmp = tempfile.mkdtemp(prefix="hb-sweep-mpi-")
    spec = {"kernels": ["branin", "hartmann3"], "optimizers": ["random", "bohb", "asha"], "seeds": [0, 7, 2],
            "max_total_budget": "5x"}
    write(os.path.join(tmp, "S.json"), spec)
    ref = hbmpi("sweep", os.path.join(tmp, "S.json"), "--out", os.path.join(tmp, "alone"), "--json", "--quiet")
    check(ref.returncode == 0, f"alone: {ref.stderr[-500:]}")
    for np in (2, 4):
        out = os.path.join(tmp, f"np{np}")
        p = hbmpi("sweep", os.path.join(tmp, "S.json"), "--out", out, "--json", np=np)
        check(p.returncode == 0, f"mpirun -n {np}: exit {p.returncode} {p.stderr[-800:]}")
        got = json.loads(p.stdout) if p.returncode == 0 else {}
        for s in got.get("studies", []):
            s.pop("file", None)
        want = json.loads(ref.stdout)
        for s in want["studies"]:
            s.pop("file", None)
        check(got == want, f"mpirun -n {np}: the report of the sweep run alone")
        ranks = {l.split("(rank ")[1].split(")")[0] for l in p.stderr.splitlines() if "(rank " in l}
        check(ranks == {str(r) for r in range(1, np)}, f"mpirun -n {np}: studies ran on ranks {sorted(ranks)}")


# ---------------------------------------------------------------- errors
def group_errors():
    tmp = tempfile.mkdtemp(prefix="hb-sweep-err-")
    s = os.path.join(tmp, "S.json")
    write(s, '{"kernels": ["branin"],\n "optimizers": ["bohb", "nope"], "seeds": [1]}\n')
    p = hbmpi("sweep", s, "--out", os.path.join(tmp, "o"))
    check(p.returncode == 2 and f"{s}:2:25: error: unknown optimizer 'nope'" in p.stderr,
          f"unknown optimizer at FILE:LINE:COL, exit 2: {p.returncode} {p.stderr}")
    check(not os.path.exists(os.path.join(tmp, "o")), "nothing made for a bad sweep")
    write(s, '{"kernels": ["branin"], "optimizers": ["bohb"],\n "seeds": [1],}\n')
    p = hbmpi("sweep", s, "--out", os.path.join(tmp, "o"))
    check(p.returncode == 2 and f"{s}:2:" in p.stderr, f"bad JSON at FILE:LINE:COL: {p.stderr}")
    p = hbmpi("sweep", os.path.join(tmp, "missing.json"), "--out", os.path.join(tmp, "o"))
    check(p.returncode == 2 and "missing.json" in p.stderr, f"a missing file is named, exit 2: {p.returncode} {p.stderr}")
    write(s, {"kernels": ["branin"], "optimizers": ["random"], "seeds": [1], "max_total_budget": "2x"})
    p = hbmpi("sweep", s)
    check(p.returncode == 2 and "--out" in p.stderr, f"--out is required: {p.stderr}")
    p = hbmpi("sweep", s, "--out", os.path.join(tmp, "o"), "--bogus")
    check(p.returncode == 2 and "--bogus" in p.stderr, f"an unknown option: {p.stderr}")
    out = os.path.join(tmp, "o")
    check(hbmpi("sweep", s, "--out", out, "--quiet").returncode == 0, "a small sweep")
    before = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)}
    write(s, {"kernels": ["branin"], "optimizers": ["random"], "seeds": [1], "max_total_budget": "3x"})
    p = hbmpi("sweep", s, "--out", out)
    check(p.returncode == 2 and "different sweep" in p.stderr and "max_total_budget" in p.stderr,
          f"another sweep in the same directory: exit 2, naming what differs: {p.stderr}")
    check(before == {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)},
          "the directory is untouched")
    # one sweep per directory at a time; the directory is left as it was
    spec = {"kernels": ["branin"], "optimizers": ["random"], "seeds": [1, 2], "max_total_budget": "8x",
            "settings": {"eval_delay": 0.1}}
    write(s, spec)
    busy = os.path.join(tmp, "busy")
    first = subprocess.Popen([ARGS.hbmpi, "sweep", s, "--out", busy, "--quiet"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not os.path.exists(os.path.join(busy, "branin-random-1.h5")) and time.time() - t0 < 30:
        time.sleep(0.02)
    p = hbmpi("sweep", s, "--out", busy)
    check(p.returncode == 2 and "another hbmpi sweep is running" in p.stderr, f"a second sweep on DIR: {p.stderr}")
    o, e = first.communicate(timeout=120)
    check(first.returncode == 0, f"the first sweep was not disturbed: {e[-300:]}")
    write(os.path.join(tmp, "plain"), "x")
    p = hbmpi("sweep", s, "--out", os.path.join(tmp, "plain"))
    check(p.returncode == 2 and "not a directory" in p.stderr, f"--out a file: {p.stderr}")
    p = hbmpi("sweep", "report", os.path.join(tmp, "nowhere"))
    check(p.returncode == 2 and "nowhere" in p.stderr, f"report of no sweep, exit 2: {p.returncode} {p.stderr}")
    p = hbmpi("sweep", "report", out, "--json", "--csv", "-")
    check(p.returncode == 2, "one output format at a time")
    for argv in (["sweep", "--help"], ["sweep", "report", "--help"]):
        p = hbmpi(*argv)
        check(p.returncode == 0 and "usage: hbmpi sweep SWEEP.json --out DIR" in p.stdout and "--plot" in p.stdout,
              f"{' '.join(argv)}")
    # a study that has not run yet is reported as missing, the summary counts finished ones only
    os.remove(os.path.join(out, "branin-random-1.h5"))
    r = json.loads(hbmpi("sweep", "report", out, "--json").stdout)
    check(r["studies"][0]["state"] == "missing" and r["studies"][0]["final_regret"] is None and
          r["summary"][0]["studies"] == 0 and r["summary"][0]["median"] is None, f"a missing study: {r}")


# ---------------------------------------------------------------- signals
SLOW = {"kernels": ["branin"], "optimizers": ["random", "hyperband", "bohb"], "seeds": [0, 1],
        "max_total_budget": "6x", "settings": {"eval_delay": 0.12}}


def group_signals():
    tmp = tempfile.mkdtemp(prefix="hb-sweep-sig-")
    s = os.path.join(tmp, "S.json")
    write(s, SLOW)
    t0 = time.time()
    ref = hbmpi("sweep", s, "--out", os.path.join(tmp, "ref"), "--json", "--quiet")
    took = time.time() - t0
    check(ref.returncode == 0, f"the uninterrupted sweep: {ref.stderr[-300:]}")
    want = json.loads(ref.stdout)
    for st in want["studies"]:
        st.pop("file")
    env = dict(os.environ, **MPI_ENV)

    def same(out, what):
        p = hbmpi("sweep", "report", out, "--json")
        got = json.loads(p.stdout) if p.returncode == 0 else {"studies": []}
        for st in got["studies"]:
            st.pop("file")
        check(got == want, f"{what}: the report of the uninterrupted sweep")

    rng = random.Random(11)
    # SIGTERM alone, then SIGTERM to every rank under mpirun, then SIGKILL of the whole job
    for what, np, sig in (("alone, SIGTERM", None, signal.SIGTERM), ("mpirun -n 3, SIGTERM to every rank", 3,
                                                                        signal.SIGTERM),
                          ("mpirun -n 3, SIGKILL", 3, signal.SIGKILL)):
        out = os.path.join(tmp, what.split(",")[0].replace(" ", "_") + str(sig))
        cmd = [ARGS.hbmpi, "sweep", s, "--out", out, "--quiet"]
        if np:
            cmd = [ARGS.mpirun, "-n", str(np), *cmd]
        rounds = 0
        while rounds < 3:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env, start_new_session=True)
            # once every process has its handlers (a signal before that ends a process the
            # default way, before anything is written)
            wait_handlers(out, np or 1)
            time.sleep(rng.uniform(0.1, 0.4) * took / (2 if np else 1) / 2)
            if proc.poll() is not None:
                break
            ranks = hbmpi_procs(out)
            t1 = time.time()
            if sig == signal.SIGKILL:  # the whole job at once, as a node failure or Slurm's KillWait
                os.killpg(proc.pid, signal.SIGKILL)
            for pid in ranks:  # every rank (under mpirun: not mpirun itself, which would end the job)
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            o, e = proc.communicate(timeout=60)
            wait_gone(ranks)
            rounds += 1
            if sig != signal.SIGKILL:
                check(proc.returncode == 3 and "run the same command to resume" in e and time.time() - t1 < 10,
                      f"{what}: exit 3 within 10 s ({proc.returncode}): {e[-1500:]}")
            if os.path.exists(os.path.join(out, "sweep.json")):  # (a kill may come before it is written)
                r = hbmpi("sweep", "report", out, "--json")
                check(r.returncode == 0, f"{what}: sweep report reads the stopped sweep: {r.stderr[-200:]}")
        p = subprocess.run(cmd[:-1] + ["--json"], capture_output=True, text=True, env=env, timeout=300)
        check(p.returncode == 0, f"{what}: the same command finishes the sweep: {p.stderr[-400:]}")
        check(rounds >= 1, f"{what}: stopped {rounds} times")
        same(out, what)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("group", choices=["basic", "mpi", "errors", "signals"])
    ARGS = ap.parse_args()
    ARGS.hbmpi = os.path.abspath(ARGS.hbmpi)
    {"basic": group_basic, "mpi": group_mpi, "errors": group_errors, "signals": group_signals}[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
