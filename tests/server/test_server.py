#!/usr/bin/env python3
"""Tests of `hbmpi run --eval-server` (issue 15): real hbmpi, real mpirun, real Python servers
(tests/server/raw_server.py speaks the protocol by hand; examples/python_objective uses
python/hbmpi.py), real signals.

usage: test_server.py --hbmpi PATH --mpirun PATH [--tmp DIR] GROUP
GROUP: modes stray startfail promoted signals resume same
Ends with a line 'N passed, M failed'; exits 1 if anything failed.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from hbtest import check, finish  # noqa: E402

ARGS = None
SPACE = os.path.join(HERE, "space.json")
RAW = [sys.executable, os.path.join(HERE, "raw_server.py")]
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}


def hbmpi(*argv, np=None, env=None, cwd=None, timeout=600):
    cmd = [ARGS.hbmpi, *argv]
    if np is not None:
        cmd = [ARGS.mpirun, "-n", str(np), "--oversubscribe", *cmd]
    e = dict(os.environ, **MPI_ENV)
    e.update(env or {})
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=e,
                       cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def workdir(name):
    return tempfile.mkdtemp(prefix=f"hb-server-{name}-", dir=ARGS.tmp)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is as good as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pids_in(path):
    try:
        return [int(x) for x in open(path).read().split()]
    except OSError:
        return []


def wait_gone(pids, seconds):
    end = time.time() + seconds
    while time.time() < end and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


# ---------------------------------------------------------------- groups
EXPECT = {  # mode: (status of the jobs that go wrong, words of their reason)
    "crash": ("crashed", "SIGABRT"), "exit": ("failed", "status 7"), "hang": ("timeout", "timed out"),
    "garbage": ("failed", "not a JSON object"), "nan": ("nan", ""), "fail": ("failed", "diverged at step 7"),
    "other": ("failed", "another job"), "huge": ("failed", "longer than"),
}


def group_modes():
    """Each way a server goes wrong is that trial's status; the run goes on with a fresh server."""
    for mode, (status, words) in EXPECT.items():
        d = workdir(mode)
        pids = os.path.join(d, "pids")
        rc, out, err = hbmpi("run", "--space", SPACE, "--optimizer", "random", "--max-evals", "15", "--seed", "2",
                             "--eval-timeout", "3", "--eval-grace", "1", "--json", "--quiet",
                             "--trial-dir", os.path.join(d, "trials"), "--eval-server", *RAW, mode,
                             env={"HB_TEST_PIDS": pids}, cwd=d)
        check(rc == 0, f"{mode}: the run goes on to its end: rc={rc} {err[-300:]}")
        if rc != 0:
            continue
        trials = json.loads(out)["trials"]
        bad = [t for t in trials if t["id"] % 5 == 3]
        good = [t for t in trials if t["id"] % 5 != 3]
        check(len(trials) == 15 and len(bad) == 3, f"{mode}: 15 trials, 3 of them gone wrong")
        check(all(t["status"] == status and words in (t.get("reason") or "") for t in bad),
              f"{mode}: those are '{status}' with a reason naming it: {[(t['status'], t.get('reason')) for t in bad]}")
        check(all(t["status"] == "ok" and t["extras"]["budget_seen"] == t["budget"] for t in good),
              f"{mode}: the others are ok, with their extras")
        restarts = {"nan": 0, "fail": 0}.get(mode, 3)
        started = pids_in(pids)
        check(len(started) == 1 + restarts, f"{mode}: {1 + restarts} server processes in all ({len(started)}): "
              "one, and a fresh one after each failure that breaks it")
        check(not wait_gone(started, 10), f"{mode}: no server process is left after the run")


def group_stray():
    """What the server prints goes to each trial's logs, never into the protocol."""
    d = workdir("stray")
    rc, out, err = hbmpi("run", "--space", SPACE, "--optimizer", "random", "--max-evals", "6", "--json", "--quiet",
                         "--trial-dir", os.path.join(d, "trials"), "--eval-server", *RAW, "ok", cwd=d)
    check(rc == 0, f"a server that prints: rc={rc} {err[-300:]}")
    for k in range(6):
        so = open(os.path.join(d, "trials", f"trial-{k}", "stdout")).read()
        se = open(os.path.join(d, "trials", f"trial-{k}", "stderr")).read()
        check(f"stray stdout of job {k}\n" in so and f"stray stderr of job {k}\n" in se,
              f"trial {k}: its stdout and stderr logs hold what the server printed for it ({so!r}, {se!r})")


def group_startfail():
    """A server that dies before its first answer 3 times in a row ends the run (exit 2), resumably."""
    for np in (None, 3):
        d = workdir("startfail")
        f = os.path.join(d, "run.h5")
        pids = os.path.join(d, "pids")
        rc, out, err = hbmpi("run", "--space", SPACE, "--optimizer", "random", "--max-evals", "50", "--quiet",
                             "--out", f, "--trial-dir", os.path.join(d, "trials"),
                             "--eval-server", *RAW, "startfail", np=np, env={"HB_TEST_PIDS": pids}, cwd=d,
                             timeout=120)
        where = "alone" if np is None else f"mpirun -n {np}"
        check(rc == 2 and "3 times in a row" in err and "no such module" in err,
              f"{where}: exit 2, saying the server never started and why: rc={rc} {err[-400:]!r}")
        started = pids_in(pids)
        check(3 <= len(started) <= 3 * 2, f"{where}: it stopped trying after 3 starts a worker ({len(started)})")
        rc, out, err = hbmpi("report", f)
        check(rc == 0 and ("stopped" in out or "running" in out), f"{where}: the run file is resumable: {out[-300:]}")


def group_promoted():
    """A promoted trial's job line names the directory its previous rung used."""
    d = workdir("promoted")
    rc, out, err = hbmpi("run", "--space", SPACE, "--optimizer", "hyperband", "--min-budget", "1",
                         "--max-budget", "9", "--iterations", "1", "--json", "--quiet",
                         "--trial-dir", os.path.join(d, "trials"), "--eval-server", *RAW, "ok", cwd=d)
    check(rc == 0, f"hyperband served: rc={rc} {err[-300:]}")
    if rc == 0:
        trials = json.loads(out)["trials"]
        promoted = [t for t in trials if t["previous_id"] is not None]
        check(promoted and all(t["extras"].get("prev_dir_exists") is True for t in promoted),
              f"every promoted trial ({len(promoted)}) got previous_trial_dir, and it exists")
        check(all("prev_dir_exists" not in t["extras"] for t in trials if t["previous_id"] is None),
              "first evaluations get no previous_trial_dir")


def run_and_signal(name, np, sig, target):
    """Start a slow served run, signal it (target: 'hbmpi' or 'mpirun'), return (rc, seconds, pids)."""
    d = workdir(name)
    pids = os.path.join(d, "pids")
    cmd = [ARGS.hbmpi, "run", "--space", SPACE, "--optimizer", "random", "--max-evals", "200", "--quiet",
           "--eval-grace", "2", "--out", os.path.join(d, "run.h5"), "--trial-dir", os.path.join(d, "trials"),
           "--eval-server", *RAW, "hang"]
    if np:
        cmd = [ARGS.mpirun, "-n", str(np), "--oversubscribe", *cmd]
    e = dict(os.environ, **MPI_ENV, HB_TEST_PIDS=pids)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e,
                         cwd=d, start_new_session=True)
    end = time.time() + 60
    want = np - 1 if np else 1
    while time.time() < end and len(pids_in(pids)) < want:  # every server is up, in job 3 (hangs)
        time.sleep(0.1)
    time.sleep(1.0)
    t0 = time.time()
    if target == "group":
        os.killpg(p.pid, sig)
    else:
        p.send_signal(sig)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    return p.returncode, time.time() - t0, pids_in(pids)


def group_signals():
    """No server process is left behind after a SIGTERM or a SIGKILL of the job."""
    for np, sig, target in ((None, signal.SIGTERM, "hbmpi"), (None, signal.SIGKILL, "hbmpi"),
                            (3, signal.SIGUSR1, "mpirun"), (3, signal.SIGTERM, "mpirun"),
                            (3, signal.SIGKILL, "group")):
        where = f"{'alone' if np is None else f'mpirun -n {np}'}, {signal.Signals(sig).name} to {target}"
        rc, secs, started = run_and_signal("signals", np, sig, target)
        check(started, f"{where}: servers were started")
        if sig == signal.SIGTERM and np is None or sig == signal.SIGUSR1:
            check(rc == 3 and secs < 2 + 2 + 3, f"{where}: exit 3 within the grace time and 2 s: rc={rc}, {secs:.1f} s")
        left = wait_gone(started, 15)
        check(not left, f"{where}: no server process is left ({len(started)} started, {len(left)} alive after 15 s)")
        for q in left:
            os.kill(q, signal.SIGKILL)


def group_resume():
    """A served run stopped by SIGTERM exits 3; the same command resumes it to the trials of a run
    that was never stopped."""
    d = workdir("resume")
    f = os.path.join(d, "run.h5")
    argv = ["run", "--space", SPACE, "--optimizer", "bohb", "--min-budget", "1", "--max-budget", "9",
            "--max-evals", "60", "--seed", "3", "--reproducible", "1", "--json", "--quiet",
            "--trial-dir", os.path.join(d, "trials")]
    server = ["--eval-server", *RAW, "slow"]
    rc, ref, err = hbmpi(*argv, *server, cwd=d)
    check(rc == 0, f"the uninterrupted run: rc={rc} {err[-300:]}")
    p = subprocess.Popen([ARGS.hbmpi, *argv, "--out", f, *server], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=d, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 3, f"SIGTERM: exit 3 (got {p.returncode}) {err[-300:]}")
    rc, out, err = hbmpi(*argv, "--out", f, *server, cwd=d)
    check(rc == 0, f"the same command resumes: rc={rc} {err[-300:]}")
    if rc == 0 and ref:
        key = lambda t: (t["id"], json.dumps(t["config"], sort_keys=True), t["budget"], t["loss"], t["status"])
        a, b = json.loads(out)["trials"], json.loads(ref)["trials"]
        check(len(a) == 60 and [key(t) for t in a] == [key(t) for t in b],
              "and ends with the trials of the run that was never stopped")


def group_same():
    """A Python objective (python/hbmpi.py) served for 1,000 trials under mpirun -n 3 gives the
    trials of the same objective under --eval-cmd, with --reproducible."""
    obj = os.path.join(TOP, "examples", "python_objective")
    env = {"PYTHONPATH": os.path.join(TOP, "python")}
    common = ["run", "--space", os.path.join(obj, "space.json"), "--optimizer", "bohb", "--min-budget", "1",
              "--max-budget", "27", "--max-evals", "1000", "--reproducible", "2", "--seed", "4", "--json", "--quiet"]
    prog = [sys.executable, os.path.join(obj, "objective.py")]
    d = workdir("same")
    t0 = time.time()
    rc1, out1, err1 = hbmpi(*common, "--trial-dir", os.path.join(d, "served"), "--eval-server", *prog, np=3,
                            env=env, cwd=d)
    t1 = time.time()
    rc2, out2, err2 = hbmpi(*common, "--trial-dir", os.path.join(d, "cmd"), "--eval-cmd", *prog, np=3, env=env,
                            cwd=d)
    t2 = time.time()
    check(rc1 == 0 and rc2 == 0, f"both runs end: {rc1} {err1[-300:]} / {rc2} {err2[-300:]}")
    if rc1 == 0 and rc2 == 0:
        a, b = json.loads(out1)["trials"], json.loads(out2)["trials"]
        key = lambda t: (t["id"], json.dumps(t["config"], sort_keys=True), t["budget"], t["loss"], t["status"])
        check(len(a) == 1000 and [key(t) for t in a] == [key(t) for t in b],
              f"the same 1000 trials, served ({t1 - t0:.1f} s) and one process each ({t2 - t1:.1f} s)")
        check(all(t["status"] == "ok" for t in a), "every served trial is ok")


GROUPS = {"modes": group_modes, "stray": group_stray, "startfail": group_startfail, "promoted": group_promoted,
          "signals": group_signals, "resume": group_resume, "same": group_same}


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("group", nargs="*", choices=[[], *GROUPS])
    ARGS = ap.parse_args()
    for g in ARGS.group or GROUPS:
        GROUPS[g]()
    finish()


if __name__ == "__main__":
    main()
