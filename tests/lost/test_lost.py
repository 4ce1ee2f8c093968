#!/usr/bin/env python3
"""A worker rank lost under a local mpirun (issue 14; the multi-host versions, under Slurm, are in
tests/vcluster/). Each group starts `mpirun -n 3 hbmpi run --reproducible 2 --out RUN.h5`, harms
one worker rank mid-run, then resumes with the same command; the resumed run must end with the
trials of an uninterrupted run and lose at most the jobs that were in flight.

  stopped   the worker is SIGSTOPped: no TCP reset, no exit, nothing from MPI (what a cut link
            looks like): rank 0 must notice within --worker-timeout, record which rank, host and
            pid was lost, save the run file and end the MPI job with exit 4
  killed    the worker is SIGKILLed: its liveness connection to rank 0 closes, rank 0 records
            which rank died and aborts (mpirun, which ends the job anyway, may exit first with
            the status of the signal: Open MPI 4.1 has no ULFM); the run file stays resumable
  hosts     the session event records every rank's host and pid; the report shows them

usage: test_lost.py --hbmpi PATH --mpirun PATH GROUP
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish, hbmpi_procs, wait_gone  # noqa: E402

ARGS = None
# 2 s of stand-in work per max-budget trial: long enough to harm a rank mid-trial
RUN = ["--kernel", "branin", "--optimizer", "hyperband", "--min-budget", "1", "--max-budget", "9", "--seed", "4",
       "--iterations", "1", "--reproducible", "2", "--eval-delay", "2", "--quiet"]


def run(argv, np=3, timeout=300):
    cmd = [ARGS.mpirun, "-n", str(np), "--oversubscribe", ARGS.hbmpi, *argv]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def key(rep):
    return [(t["id"], json.dumps(t["config"], sort_keys=True), t["budget"], t["loss"], t["status"])
            for t in rep["trials"]]


def events(h5):
    p = subprocess.run([ARGS.hbmpi, "report", h5, "--events"], capture_output=True, text=True)
    return [json.loads(l) for l in p.stdout.splitlines()] if p.returncode == 0 else []


def reference():
    p = subprocess.run([ARGS.hbmpi, "run", *RUN, "--eval-delay", "0", "--json"], capture_output=True, text=True,
                       check=True)
    return json.loads(p.stdout)


def start(h5, extra):
    cmd = [ARGS.mpirun, "-n", "3", "--oversubscribe", ARGS.hbmpi, "run", *RUN, "--out", h5, *extra]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def wait_results(h5, n, p, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout and p.poll() is None:
        if sum(e["kind"] == "result" for e in events(h5)) >= n:
            return True
        time.sleep(0.2)
    return False


def worker_pid(h5, rank):
    for e in events(h5):
        if e["kind"] == "session":
            return e["info"]["ranks"][rank]["pid"]
    return None


def resume_and_compare(h5, what, extra=()):
    rc, out, err = run(["run", *RUN, "--out", h5, "--json", *extra])
    check(rc == 0, f"{what}: the same command resumes the run (rc={rc}) {err[-500:]}")
    if rc != 0:
        return None
    rep = json.loads(out)
    ref = reference()
    check(key(rep) == key(ref), f"{what}: the resumed run has the trials of an uninterrupted run")
    ev = events(h5)
    issued = [e["id"] for e in ev if e["kind"] == "issue"]
    check(len(issued) == len(set(issued)), f"{what}: no job was issued twice")
    results = [e["id"] for e in ev if e["kind"] == "result"]
    check(len(results) == len(set(results)) == len(ref["trials"]), f"{what}: one result per trial")
    return ev


def group_stopped():
    h5 = os.path.join(ARGS.tmp, "stopped.h5")
    p = start(h5, ["--worker-timeout", "3"])
    check(wait_results(h5, 3, p), "three results before the fault")
    pid = worker_pid(h5, 2)
    check(pid is not None and pid in hbmpi_procs(h5), f"rank 2's pid {pid} is recorded and runs")
    # the worker must be mid-trial: wait until it has a job out
    t0 = time.time()
    while time.time() - t0 < 30:
        ev = events(h5)
        out = {e["id"] for e in ev if e["kind"] == "issue"} - {e["id"] for e in ev if e["kind"] in ("result", "held")}
        if out:
            break
        time.sleep(0.1)
    os.kill(pid, signal.SIGSTOP)
    t_fault = time.time()
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    took = time.time() - t_fault
    os.kill(pid, signal.SIGCONT)
    check(p.returncode == 4, f"exit 4 after a lost worker (rc={p.returncode}) {err[-600:]}")
    check("worker rank 2 on host" in err and f"(pid {pid})" in err,
          f"stderr names the lost rank, its host and pid: {err[-400:]}")
    # detection after ~3 s of silence, then the grace for the others (5 + 2 s): well under 20 s
    check(took < 20, f"the job ended {took:.1f} s after the fault (--worker-timeout 3)")
    wait_gone(hbmpi_procs(h5))
    stops = [e for e in events(h5) if e["kind"] == "stop"]
    check(len(stops) == 1 and "worker rank 2 on host" in stops[0]["text"],
          f"the run file records the lost rank: {stops}")
    rc = subprocess.run([ARGS.hbmpi, "report", h5], capture_output=True, text=True)
    check(rc.returncode == 0 and "stopped: worker rank 2 on host" in rc.stdout,
          f"the report says which rank and host was lost: {rc.stdout[:900]}")
    ev = resume_and_compare(h5, "stopped")
    if ev:
        inter = [e for e in ev if e["kind"] == "interrupted"]
        check(1 <= len(inter) <= 2, f"at most the 2 jobs in flight were lost ({len(inter)})")
        print(f"stopped: fault to exit {took:.1f} s; {len(inter)} evaluations issued again")


def group_killed():
    h5 = os.path.join(ARGS.tmp, "killed.h5")
    p = start(h5, [])
    check(wait_results(h5, 3, p), "three results before the fault")
    pid = worker_pid(h5, 1)
    os.kill(pid, signal.SIGKILL)
    t_fault = time.time()
    out, err = p.communicate(timeout=120)
    took = time.time() - t_fault
    # mpirun ends the whole job when one rank dies, with the status of the signal (128 + 9); rank 0
    # sees the rank's liveness connection close first, records it and aborts with 4: either wins
    check(p.returncode in (4, 137), f"the job ends with 4 or 137 (rc={p.returncode}) {err[-300:]}")
    wait_gone(hbmpi_procs(h5))
    stops = [e for e in events(h5) if e["kind"] == "stop"]
    check(len(stops) == 1 and f"worker rank 1 on host {os.uname().nodename} (pid {pid}) died" in stops[0]["text"],
          f"the run file says which rank died, on which host: {stops}")
    ev = resume_and_compare(h5, "killed")
    if ev:
        print(f"killed: fault to mpirun's exit {took:.1f} s")


def group_hosts():
    h5 = os.path.join(ARGS.tmp, "hosts.h5")
    rc, out, err = run(["run", *RUN, "--eval-delay", "0", "--out", h5])
    check(rc == 0, f"run: {err[-300:]}")
    sess = [e for e in events(h5) if e["kind"] == "session"]
    ranks = sess[0]["info"].get("ranks", []) if sess else []
    host = os.uname().nodename
    check([r["rank"] for r in ranks] == [0, 1, 2] and all(r["host"] == host for r in ranks)
          and all(isinstance(r["pid"], int) and r["pid"] > 0 for r in ranks),
          f"the session records every rank's host and pid: {ranks}")
    rep = subprocess.run([ARGS.hbmpi, "report", h5], capture_output=True, text=True).stdout
    check(f"3 ranks on 1 host ({host} ranks 0-2)" in rep, f"the report shows the ranks per host: {rep[:600]}")
    # alone (no MPI): no ranks, and the report stays as it was
    h5b = os.path.join(ARGS.tmp, "alone.h5")
    subprocess.run([ARGS.hbmpi, "run", *RUN, "--eval-delay", "0", "--out", h5b], capture_output=True, check=True)
    sess = [e for e in events(h5b) if e["kind"] == "session"]
    check(sess and "ranks" not in sess[0]["info"], "a run alone records no ranks")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("group", choices=["stopped", "killed", "hosts"])
    ARGS = ap.parse_args()
    ARGS.tmp = tempfile.mkdtemp(prefix="hb-lost-")
    try:
        {"stopped": group_stopped, "killed": group_killed, "hosts": group_hosts}[ARGS.group]()
    finally:
        shutil.rmtree(ARGS.tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
