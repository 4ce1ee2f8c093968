#!/usr/bin/env python3
"""A stop is always obeyed, and hostile input is bounded (issue 19, parts 3 and 4; docs/runfile.md
"Signals", docs/CLI.md): each phase that can be long is made long, hbmpi is signalled in it, and
it must end within a few seconds the documented way.

usage: test_stop.py --hbmpi PATH GROUP
GROUP: parse   (a sweep of a million seeds: SIGINT while parsing ends by the signal)
       replay  (resuming a GP run replays every ask: SIGTERM ends it with exit 3; the file is
               unchanged and the same command finishes it with the trials of an uninterrupted run)
       fit     (GP asks while the run goes: SIGUSR1 ends it with exit 3)
       report  (a report of 100000 trials: SIGTERM ends it by the signal)
       bounds  (an objective printing 2 GB: rank 0's memory stays small; a million choices and
               a million studies of 3 kernels: refused with FILE:LINE:COL, exit 2)
"""
import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish, wait_handlers  # noqa: E402

ARGS = None
QUICK = 2.0  # seconds from the signal to the end that count as obeyed


def hbmpi(*argv, timeout=300):
    return subprocess.run([ARGS.hbmpi, *argv], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout)


def start(*argv):
    return subprocess.Popen([ARGS.hbmpi, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def ended_within(p, limit):
    """Wait for 'p' up to 'limit' seconds (then kill it); (returncode or None, seconds, stderr)."""
    t0 = time.time()
    try:
        _, err = p.communicate(timeout=limit)
        return p.returncode, time.time() - t0, err
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, time.time() - t0, err


def wait_line(p, text, timeout=120):
    """Read p's stderr until a line holds 'text'; the lines read."""
    lines, t0 = [], time.time()
    while time.time() - t0 < timeout:
        line = p.stderr.readline()
        if line == "":
            break
        lines.append(line)
        if text in line:
            break
    return lines


def trials_of(path):
    p = hbmpi("report", path, "--json")
    if p.returncode != 0:
        return None
    return [(t["id"], t["budget"], t["loss"], t["status"], t.get("config")) for t in json.loads(p.stdout)["trials"]]


# ---------------------------------------------------------------- parse
def group_parse():
    tmp = tempfile.mkdtemp(prefix="hb-stop-parse-")
    s = os.path.join(tmp, "S.json")
    with open(s, "w") as f:  # a million studies: the most a sweep may hold
        json.dump({"kernels": ["branin"], "optimizers": ["random"], "seeds": list(range(1000000))}, f)
    out = os.path.join(tmp, "out")
    p = start("sweep", s, "--out", out, "--quiet")
    wait_handlers(out, 1)
    time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    rc, took, err = ended_within(p, 60)
    check(rc == -signal.SIGINT and took < QUICK,
          f"SIGINT while parsing a sweep: ends by the signal within {QUICK} s (rc {rc}, {took:.2f} s): {err[-300:]}")
    check(not os.path.exists(os.path.join(out, "sweep.json")), "stopped while parsing: nothing written")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- replay
def group_replay():
    tmp = tempfile.mkdtemp(prefix="hb-stop-replay-")
    a, ref = os.path.join(tmp, "a.h5"), os.path.join(tmp, "ref.h5")
    base = ["run", "--kernel", "branin", "--optimizer", "gp", "--seed", "3"]
    t0 = time.time()
    p = hbmpi(*base, "--max-evals", "450", "--out", a, "--quiet")
    took = time.time() - t0
    check(p.returncode == 0, f"the GP run: {p.stderr[-300:]}")
    before = trials_of(a)
    # the resume replays 450 GP asks (each one verified: a short log), about as long as the run
    p = start(*base, "--max-evals", "455", "--out", a)
    wait_line(p, "resuming")
    time.sleep(min(0.5, took / 4))
    check(p.poll() is None, f"still replaying {min(0.5, took / 4):.2f} s into a resume that takes {took:.1f} s")
    p.send_signal(signal.SIGTERM)
    rc, t_stop, err = ended_within(p, 120)
    check(rc == 3 and t_stop < QUICK and "run the same command to resume" in err,
          f"SIGTERM while replaying: exit 3 within {QUICK} s (rc {rc}, {t_stop:.2f} s; the replay takes "
          f"{took:.1f} s): {err[-300:]}")
    check(trials_of(a) == before, "the run file is unchanged by the stopped replay")
    p = hbmpi(*base, "--max-evals", "455", "--out", a, "--quiet")
    check(p.returncode == 0, f"the same command resumes and finishes: {p.stderr[-300:]}")
    p = hbmpi(*base, "--max-evals", "455", "--out", ref, "--quiet")
    got, want = trials_of(a), trials_of(ref)
    check(got is not None and got == want and len(got) == 455,
          f"the trials of an uninterrupted run ({len(got or [])} and {len(want or [])} trials)")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- fit
def group_fit():
    tmp = tempfile.mkdtemp(prefix="hb-stop-fit-")
    a = os.path.join(tmp, "a.h5")
    p = start("run", "--kernel", "hartmann6", "--optimizer", "gp", "--max-evals", "100000", "--out", a)
    wait_handlers(a, 1)
    time.sleep(3)  # a few hundred results: each ask fits the GP
    check(p.poll() is None, "the GP run is still asking")
    p.send_signal(signal.SIGUSR1)
    rc, took, err = ended_within(p, 120)
    check(rc == 3 and took < QUICK and "stopped by SIGUSR1" in err,
          f"SIGUSR1 while the GP fits: exit 3 within {QUICK} s (rc {rc}, {took:.2f} s): {err[-300:]}")
    check(trials_of(a) is not None, "the stopped run's file reads")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- report
def group_report():
    tmp = tempfile.mkdtemp(prefix="hb-stop-report-")
    a = os.path.join(tmp, "a.h5")
    p = hbmpi("run", "--kernel", "branin", "--max-evals", "100000", "--out", a, "--quiet")
    check(p.returncode == 0, f"a run of 100000 trials: {p.stderr[-300:]}")
    for what in (["--json"], ["--plot", os.path.join(tmp, "p.svg")], []):
        p = start("report", a, *what)
        time.sleep(0.15)
        running = p.poll() is None
        p.send_signal(signal.SIGTERM)
        rc, took, err = ended_within(p, 60)
        check(not running or (rc == -signal.SIGTERM and took < QUICK),
              f"SIGTERM during report {' '.join(what)}: ends by the signal within {QUICK} s (rc {rc}, {took:.2f} s)")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- bounds
def group_bounds():
    tmp = tempfile.mkdtemp(prefix="hb-stop-bounds-")
    space = os.path.join(tmp, "x.json")
    with open(space, "w") as f:
        json.dump({"parameters": [{"name": "x", "type": "float", "lower": 0, "upper": 1}]}, f)
    # an objective that prints 2 GB and then its loss: hbmpi keeps the tail of its output only
    big = os.path.join(tmp, "big.sh")
    with open(big, "w") as f:
        f.write("#!/bin/sh\nhead -c 2000000000 /dev/zero | tr '\\0' x\necho\necho 0.25\n")
    os.chmod(big, 0o755)
    a = os.path.join(tmp, "a.h5")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = hbmpi("run", "--space", space, "--max-evals", "1", "--out", a, "--quiet", "--eval-cmd", big)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the largest child so far
    check(p.returncode == 0, f"a 2 GB objective output: {p.stderr[-300:]}")
    check(rss < 200 * 1024, f"rank 0 stays small with 2 GB of objective output: {rss} KiB (before {before})")
    t = trials_of(a) or []
    check(len(t) == 1 and all(x[3] == "ok" and x[2] == 0.25 for x in t), f"the loss after 2 GB: {t}")
    # a million choices: refused where they are
    s = os.path.join(tmp, "cat.json")
    with open(s, "w") as f:
        f.write('{"parameters": [\n  {"name": "c", "type": "categorical", "choices": ')
        json.dump([f"v{i}" for i in range(1000000)], f)
        f.write("}]}\n")
    t0 = time.time()
    p = hbmpi("space", "check", s)
    check(p.returncode == 2 and f"{s}:2:51: error: 'c' has 1000000 choices, at most 10000" in p.stderr
          and time.time() - t0 < 10, f"a million choices: FILE:LINE:COL, exit 2 ({p.returncode}): {p.stderr[-300:]}")
    # a sweep of more than a million studies: refused; a million repeated seeds: found fast
    s = os.path.join(tmp, "S.json")
    with open(s, "w") as f:
        json.dump({"kernels": ["branin", "hartmann6", "counting_ones"], "optimizers": ["random"],
                   "seeds": {"from": 0, "count": 1000000}}, f)
    p = hbmpi("sweep", s, "--out", os.path.join(tmp, "o"))
    check(p.returncode == 2 and "more than 1000000 studies" in p.stderr, f"3 million studies: exit 2: {p.stderr[-300:]}")
    with open(s, "w") as f:
        json.dump({"kernels": ["branin"], "optimizers": ["random"], "seeds": list(range(999999)) + [7]}, f)
    t0 = time.time()
    p = hbmpi("sweep", s, "--out", os.path.join(tmp, "o"))
    check(p.returncode == 2 and "seed 7 is given twice" in p.stderr and time.time() - t0 < 20,
          f"a repeated seed among a million: exit 2 in {time.time() - t0:.1f} s: {p.stderr[-300:]}")
    check(not os.path.exists(os.path.join(tmp, "o", "sweep.json")), "a refused sweep writes nothing")
    shutil.rmtree(tmp)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("group", choices=["parse", "replay", "fit", "report", "bounds"])
    ARGS = ap.parse_args()
    {"parse": group_parse, "replay": group_replay, "fit": group_fit, "report": group_report,
     "bounds": group_bounds}[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
