#!/usr/bin/env python3
"""Tests of the run file (--out), resume, signals, crash safety and `hbmpi report`: real hbmpi
processes, real mpirun, real SIGKILL, files read back with h5py and pandas.

usage: test_runfile.py --hbmpi PATH --mpirun PATH [--tmp DIR] GROUP
GROUP: basic cmd_signal mismatch finished locked warm workers kill signals stuck
Ends with a line 'N passed, M failed'; exits 1 if anything failed.
"""
import argparse
import glob
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish, kill_job  # noqa: E402

ARGS = None


def hbmpi(*argv, cwd=None, np=None, env=None, timeout=240):
    cmd = [ARGS.hbmpi, *argv]
    if np is not None:
        cmd = [ARGS.mpirun, "-n", str(np), *cmd]
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                       env=e)
    return p.returncode, p.stdout, p.stderr


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def trials_key(report):
    return [(t["id"], json.dumps(t["config"], sort_keys=True), t["budget"], t["loss"], t["status"],
             t["bracket"], t["stage"]) for t in report["trials"]]


def events(path):
    rc, out, err = hbmpi("report", path, "--events")
    if rc != 0:
        return None
    return [json.loads(l) for l in out.splitlines()]


def in_flight(evs):
    """Jobs issued and neither told nor held at the end of the log."""
    issued, closed = [], set()
    for e in evs:
        if e["kind"] == "issue":
            issued.append(e["id"])
        elif e["kind"] in ("result", "held"):
            closed.add(e["id"])
    return [i for i in issued if i not in closed]


# ---------------------------------------------------------------- basic
def group_basic():
    d = tempfile.mkdtemp(prefix="hb-basic-", dir=ARGS.tmp)
    f = os.path.join(d, "run.h5")
    argv = ["run", "--kernel", "counting_ones:4+4", "--optimizer", "bohb", "--min-budget", "9",
            "--max-budget", "243", "--seed", "3", "--quiet", "--json"]
    rc, out, err = hbmpi(*argv, "--out", f)
    check(rc == 0, f"run --out: rc={rc} {err}")
    ran = json.loads(out)
    check(not glob.glob(f + ".tmp*"), "no temporary file is left behind")
    # the same run without --out gives the same trials: recording changes nothing
    rc, out2, _ = hbmpi(*argv)
    check(rc == 0 and trials_key(json.loads(out2)) == trials_key(ran), "--out does not change the trials")
    # report --json equals run --json, byte for byte
    rc, rep, err = hbmpi("report", f, "--json")
    check(rc == 0 and rep == out, f"report --json equals run --json (rc={rc} {err})")
    # h5py and pandas read the file as it is
    code = r"""
import h5py, json, sys, pandas
f = h5py.File(sys.argv[1], "r")
df = pandas.DataFrame(f["trials"][()])
h = json.loads(f.attrs["header"])
ev = f["events"][()]
print(json.dumps({"n": len(df), "cols": list(df.columns), "ids": [int(i) for i in df["id"]],
                  "loss": [None if x != x else float(x) for x in df["loss"]],
                  "status": [s.decode() for s in df["status"]], "budget": [float(b) for b in df["budget"]],
                  "cat0": [s.decode() for s in df["cat_0"]], "x0": [float(x) for x in df["float_0"]],
                  "format": f.attrs["format"], "optimizer": h["optimizer"], "seed": h["seed"],
                  "kinds": sorted(set(int(k) for k in ev["kind"])), "n_events": len(ev)}))
"""
    p = subprocess.run([ARGS.python, "-c", code, f], capture_output=True, text=True)
    check(p.returncode == 0, f"h5py/pandas read the file: {p.stderr[-500:]}")
    if p.returncode == 0:
        r = json.loads(p.stdout)
        t = ran["trials"]
        check(r["n"] == len(t) and r["ids"] == [x["id"] for x in t], "trials table: one row per trial, in order")
        check(r["loss"] == [x["loss"] for x in t], "trials table: the same losses")
        check(r["status"] == [x["status"] for x in t] and r["budget"] == [x["budget"] for x in t],
              "trials table: statuses and budgets")
        check(r["cat0"] == [str(x["config"]["cat_0"]) for x in t], "trials table: a categorical column as text")
        check(r["x0"] == [x["config"]["float_0"] for x in t], "trials table: a float column")
        check(r["format"] == "hbmpi-run" and r["optimizer"] == "bohb" and r["seed"] == 3, "header attributes")
        check(r["n_events"] == 2 + 2 * len(t), f"events: a session, an issue and a result per trial, an end "
                                                f"({r['n_events']})")
    # report: the summary, CSV, events
    rc, text, err = hbmpi("report", f)
    check(rc == 0 and "best loss" in text and "per budget" in text and "incumbent trajectory" in text
          and "failures" in text and "workers" in text and "finished" in text, f"report summary: {text[:300]}")
    csv = os.path.join(d, "t.csv")
    rc, _, err = hbmpi("report", f, "--csv", csv)
    lines = open(csv).read().splitlines() if rc == 0 else []
    check(rc == 0 and len(lines) == len(ran["trials"]) + 1 and lines[0].startswith("id,budget,loss,status"),
          f"report --csv: rc={rc} {err}")
    for ext, magic in (("svg", b"<?xml"), ("png", b"\x89PNG\r\n\x1a\n")):
        pic = os.path.join(d, "run." + ext)
        rc, _, err = hbmpi("report", f, "--plot", pic)
        check(rc == 0 and open(pic, "rb").read(8).startswith(magic[:5]) and os.path.getsize(pic) > 5000,
              f"report --plot run.{ext}: rc={rc} {err}")
    check(not glob.glob(os.path.join(d, "*.tmp")), "the plot is written whole (no temporary file left)")
    shutil.rmtree(d)


# ---------------------------------------------------------------- mismatch
def group_mismatch():
    d = tempfile.mkdtemp(prefix="hb-mismatch-", dir=ARGS.tmp)
    f = os.path.join(d, "run.h5")
    base = ["run", "--kernel", "branin", "--optimizer", "hyperband", "--seed", "1", "--quiet", "--out", f]
    rc, _, err = hbmpi(*base)
    check(rc == 0, f"first run: {err}")
    before = digest(f)
    for extra, needle in [(["--eta", "2"], "--eta was 3.0, this command gives 2.0"),
                          (["--bracket-rule", "hpbandster"], "--bracket-rule"),
                          (["--random-fraction", "0.5"], "--random-fraction"),
                          (["--reproducible", "2"], "--reproducible was 0, this command gives 2")]:
        rc, out, err = hbmpi(*base, *extra)
        check(rc == 2 and needle in err and out == "", f"{extra}: exit 2 naming it: rc={rc} {err!r}")
    for argv, needle in [(["run", "--kernel", "currin", "--optimizer", "hyperband", "--seed", "1", "--out", f],
                          "the objective"),
                         (["run", "--kernel", "branin", "--optimizer", "bohb", "--seed", "1", "--out", f],
                          "--optimizer was \"hyperband\""),
                         (["run", "--kernel", "branin", "--optimizer", "hyperband", "--seed", "2", "--out", f],
                          "--seed was 1"),
                         (["run", "--kernel", "hartmann3", "--optimizer", "hyperband", "--seed", "1", "--out", f],
                          "parameters")]:
        rc, out, err = hbmpi(*argv)
        check(rc == 2 and needle in err, f"{argv[2]} {argv[4]} {argv[6]}: exit 2 naming {needle!r}: {err!r}")
    check(digest(f) == before, "a refused resume leaves the file untouched")
    # not a run file
    junk = os.path.join(d, "junk.h5")
    open(junk, "w").write("not hdf5\n")
    rc, _, err = hbmpi("run", "--kernel", "branin", "--out", junk)
    check(rc == 2 and "not an HDF5 file" in err and open(junk).read() == "not hdf5\n",
          f"--out on a file that is not a run file: exit 2, untouched: {err!r}")
    rc, _, err = hbmpi("report", junk)
    check(rc == 2 and "not an HDF5 file" in err, f"report on a non-run file: {err!r}")
    shutil.rmtree(d)


# ---------------------------------------------------------------- finished
def group_finished():
    d = tempfile.mkdtemp(prefix="hb-finished-", dir=ARGS.tmp)
    f = os.path.join(d, "run.h5")
    base = ["run", "--kernel", "hartmann3", "--optimizer", "bohb", "--seed", "5", "--quiet", "--json", "--out", f]
    rc, first, err = hbmpi(*base, "--iterations", "1")
    check(rc == 0, f"first run: {err}")
    before = digest(f)
    rc, again, err = hbmpi(*base, "--iterations", "1")
    check(rc == 0 and again == first and digest(f) == before,
          "the same command on a finished run prints the same report and changes nothing")
    rc, more, err = hbmpi(*base, "--iterations", "2")
    check(rc == 0, f"a raised limit continues the run: {err}")
    a, b = json.loads(first), json.loads(more)
    check(len(b["trials"]) > len(a["trials"]) and trials_key(b)[:len(a["trials"])] == trials_key(a),
          f"the continued run keeps every earlier trial and adds more ({len(a['trials'])} -> {len(b['trials'])})")
    check(b["settings"]["iterations"] == 2, "the report shows the raised limit")
    rc, rep, _ = hbmpi("report", f, "--json")
    check(rc == 0 and rep == more, "report --json equals the continued run's --json")
    shutil.rmtree(d)


# ---------------------------------------------------------------- locked
def group_locked():
    d = tempfile.mkdtemp(prefix="hb-locked-", dir=ARGS.tmp)
    f = os.path.join(d, "run.h5")
    argv = [ARGS.hbmpi, "run", "--kernel", "branin", "--optimizer", "random", "--max-evals", "60",
            "--eval-delay", "0.1", "--quiet", "--out", f]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    rc, _, err = hbmpi(*argv[1:])
    check(rc == 2 and "another hbmpi run" in err, f"a second writer is refused: rc={rc} {err!r}")
    # a reader may look while the run goes on
    rc, rep, err = hbmpi("report", f, "--json")
    live = json.loads(rep) if rc == 0 else {"trials": []}
    check(rc == 0 and 1 <= len(live["trials"]) < 60, f"report on a live run: rc={rc} {len(live['trials'])} {err}")
    code = "import h5py,sys; f=h5py.File(sys.argv[1],'r'); print(len(f['events']))"
    q = subprocess.run([ARGS.python, "-c", code, f], capture_output=True, text=True)
    check(q.returncode == 0, f"h5py opens a file that a run is writing: {q.stderr[-300:]}")
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    check(p.returncode == 3, f"SIGINT: exit 3 (got {p.returncode}) {p.stderr.read()[-300:]}")
    rc, _, err = hbmpi(*argv[1:])
    check(rc == 0, f"after the writer stopped, the run resumes and finishes: {err[-300:]}")
    rc, rep, _ = hbmpi("report", f, "--json")
    check(rc == 0 and len(json.loads(rep)["trials"]) == 60, "60 trials in the end")
    shutil.rmtree(d)


# ---------------------------------------------------------------- warm
def group_warm():
    d = tempfile.mkdtemp(prefix="hb-warm-", dir=ARGS.tmp)
    old = os.path.join(d, "old.h5")
    rc, _, err = hbmpi("run", "--kernel", "branin", "--optimizer", "random", "--max-evals", "200", "--seed", "1",
                       "--quiet", "--out", old)
    check(rc == 0, f"old run: {err}")
    # with a model at once (no random share), the first proposals of a warm run are good ones
    args = ["run", "--kernel", "branin", "--optimizer", "tpe", "--random-fraction", "0", "--max-evals", "8",
            "--seed", "2", "--quiet", "--json"]
    rc, cold, err = hbmpi(*args)
    check(rc == 0, f"cold run: {err}")
    rc, warm, err = hbmpi(*args, "--warm-start", old)
    check(rc == 0, f"warm run: {err}")
    if rc == 0:
        lc = sorted(t["loss"] for t in json.loads(cold)["trials"])
        lw = sorted(t["loss"] for t in json.loads(warm)["trials"])
        check(lw[len(lw) // 2] < lc[len(lc) // 2] and lw[0] < 5,
              f"warm-start proposals are better from the first one: median {lw[len(lw) // 2]:.3g} vs "
              f"{lc[len(lc) // 2]:.3g}")
    # it is recorded, so that a resume needs no old file and gives the same run
    new = os.path.join(d, "new.h5")
    rc, w2, err = hbmpi(*args, "--warm-start", old, "--out", new)
    check(rc == 0 and trials_key(json.loads(w2)) == trials_key(json.loads(warm)), f"warm run with --out: {err}")
    evs = events(new) or []
    check(sum(e["kind"] == "warm" for e in evs) == 200, "the 200 old results are in the log as warm events")
    # another space: refused
    other = os.path.join(d, "other.h5")
    hbmpi("run", "--kernel", "currin", "--max-evals", "5", "--quiet", "--out", other)
    rc, _, err = hbmpi(*args, "--warm-start", other)
    check(rc == 2 and "search space differs" in err, f"--warm-start with another space: exit 2: {err!r}")
    shutil.rmtree(d)


# ---------------------------------------------------------------- kill
def hbmpi_pids(marker):
    """Pids of hbmpi processes whose command line holds 'marker', with their MPI rank."""
    found = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            if not cmd or not cmd[0].endswith(b"hbmpi") or marker.encode() not in cmd:
                continue
            env = open(f"/proc/{p}/environ", "rb").read().split(b"\0")
            rank = [e for e in env if e.startswith(b"OMPI_COMM_WORLD_RANK=")]
            found[int(p)] = int(rank[0].split(b"=")[1]) if rank else 0
        except OSError:
            pass
    return found


def start_mpi(argv, env):
    e = dict(os.environ)
    e.update(env)
    return subprocess.Popen([ARGS.mpirun, "-n", "3", ARGS.hbmpi, *argv], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=e)


def wait_for_events(f, n, limit=30):
    t0 = time.time()
    while time.time() - t0 < limit:
        evs = events(f) if os.path.exists(f) else None
        if evs and len(evs) >= n:
            return evs
        time.sleep(0.05)
    return None


KILL_RUN = ["run", "--kernel", "branin", "--optimizer", "bohb", "--min-budget", "1", "--max-budget", "27",
            "--seed", "7", "--iterations", "2", "--reproducible", "3", "--quiet", "--json"]


def group_kill():
    d = tempfile.mkdtemp(prefix="hb-kill-", dir=ARGS.tmp)
    rc, ref, err = hbmpi(*KILL_RUN)
    check(rc == 0, f"reference run: {err}")
    ref = json.loads(ref)
    f = os.path.join(d, "run.h5")
    trace = os.path.join(d, "trace")
    argv = KILL_RUN + ["--eval-delay", "1", "--out", f]
    rng = random.Random(int(os.environ.get("HB_KILL_SEED", "12345")))
    kills, flight, final = 0, [], None
    for attempt in range(60):
        p = start_mpi(argv, {"HB_EVAL_TRACE": trace})
        # kill at a random moment once the run is going (SIGKILL to every process of the job,
        # as a node failure or Slurm's KillWait does)
        time.sleep(rng.uniform(0.4, 1.6))
        if p.poll() is None and kills < 12:
            # mpirun's ranks live in process groups of their own: kill them all at once, and
            # let them be gone before the next attempt starts
            kill_job(p, f)
            p.stdout.close()
            p.stderr.close()
            kills += 1
            evs = events(f)
            check(evs is not None, f"kill {kills}: the file opens and reads after SIGKILL")
            if evs is None:
                break
            flight.append(len(in_flight(evs)))
            if kills == 5:  # a plain HDF5 reader opens what the kill left, too
                code = "import h5py,sys; f=h5py.File(sys.argv[1],'r'); print(len(f['events']), f.attrs['format'])"
                q = subprocess.run([ARGS.python, "-c", code, f], capture_output=True, text=True)
                check(q.returncode == 0 and "hbmpi-run" in q.stdout, f"h5py opens the file after SIGKILL: {q.stderr[-300:]}")
            continue
        out, err = p.communicate(timeout=300)
        check(p.returncode == 0, f"attempt {attempt}: the last run ends well (rc={p.returncode}) {err[-400:]}")
        final = json.loads(out) if p.returncode == 0 else None
        break
    check(kills >= 10, f"at least 10 kills ({kills})")
    check(final is not None, "the run finished after the kills")
    if final is None:
        shutil.rmtree(d)
        return
    check(trials_key(final) == trials_key(ref), f"the killed and resumed run has the same trials as an "
                                                f"uninterrupted one ({len(final['trials'])} vs {len(ref['trials'])})")
    rc, rep, _ = hbmpi("report", f, "--json")
    check(rc == 0 and rep == json.dumps(final, indent=None) or json.loads(rep)["trials"] == final["trials"],
          "report --json gives the final run's trials")
    done = [l.split()[1] for l in open(trace).read().splitlines()]
    n = len(final["trials"])
    check(len(done) <= n + sum(flight), f"evaluations executed ({len(done)}) <= trials ({n}) + jobs in flight at "
                                       f"each kill ({sum(flight)}: {flight})")
    check(set(done) >= {str(t["id"]) for t in final["trials"]}, "every trial's evaluation was executed")
    print(f"kill: {kills} kills, in flight {flight}, {len(done)} evaluations for {n} trials", flush=True)
    check(not glob.glob(f + ".tmp*"), "no temporary file is left")
    shutil.rmtree(d)


# ---------------------------------------------------------------- signals
def group_signals():
    d = tempfile.mkdtemp(prefix="hb-sig-", dir=ARGS.tmp)
    rc, ref, err = hbmpi(*KILL_RUN)
    ref = json.loads(ref)
    cases = [("SIGTERM to rank 0 only", signal.SIGTERM, "rank0"),
             ("SIGTERM to every rank", signal.SIGTERM, "all"),
             ("SIGUSR1 to mpirun (forwarded to every rank)", signal.SIGUSR1, "mpirun"),
             ("SIGUSR1 to a worker only", signal.SIGUSR1, "worker")]
    interrupted = []
    for name, sig, target in cases:
        f = os.path.join(d, target + ".h5")
        trace = os.path.join(d, target + ".trace")
        argv = KILL_RUN + ["--eval-delay", "0.5", "--out", f]
        p = start_mpi(argv, {"HB_EVAL_TRACE": trace})
        evs = wait_for_events(f, 12)
        check(evs is not None, f"{name}: the run got going")
        pids = hbmpi_pids(f)
        t0 = time.time()
        if target == "mpirun":
            os.kill(p.pid, sig)
        else:
            for pid, rank in pids.items():
                if target == "all" or (target == "rank0" and rank == 0) or (target == "worker" and rank == 1):
                    os.kill(pid, sig)
        out, err = p.communicate(timeout=120)
        took = time.time() - t0
        check(p.returncode == 3, f"{name}: exit 3 (got {p.returncode}) {err[-300:]}")
        check(took < 10, f"{name}: stopped within a few seconds ({took:.1f} s)")
        evs = events(f) or []
        kinds = [e["kind"] for e in evs]
        check(kinds and kinds[-1] == "stop", f"{name}: the log ends with a stop event")
        # a signal that lands while no job is out (a result just in, the next not yet sent; wider
        # under the sanitizers) interrupts nothing: that the running jobs are recorded is checked
        # over the four cases below
        if "interrupted" in kinds:
            interrupted.append(name)
        # resume: finishes, same trials as an uninterrupted run, and no finished evaluation ran again
        e = dict(os.environ, HB_EVAL_TRACE=trace)
        q = subprocess.run([ARGS.mpirun, "-n", "3", ARGS.hbmpi, *argv], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=e, timeout=300)
        check(q.returncode == 0, f"{name}: the resumed run finishes: {q.stderr[-300:]}")
        if q.returncode == 0:
            final = json.loads(q.stdout)
            check(trials_key(final) == trials_key(ref), f"{name}: same trials as an uninterrupted run")
        done = [l.split()[1] for l in open(trace).read().splitlines()]
        check(len(done) == len(set(done)), f"{name}: no finished evaluation ran twice "
                                           f"({len(done) - len(set(done))} repeats)")
    check(len(interrupted) >= 3, f"running jobs were recorded as interrupted (in {len(interrupted)} of the 4 cases: "
                                 f"{interrupted})")
    # alone (no mpirun): SIGINT, as Ctrl-C
    f = os.path.join(d, "alone.h5")
    p = subprocess.Popen([ARGS.hbmpi, *KILL_RUN, "--eval-delay", "0.5", "--out", f], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_events(f, 6)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 3 and "SIGINT" in err and "resume" in err, f"alone, SIGINT: exit 3: {err[-300:]}")
    rc, out, err = hbmpi(*KILL_RUN, "--eval-delay", "0.01", "--out", f)
    check(rc == 0 and trials_key(json.loads(out)) == trials_key(ref), "alone: resumed, same trials")
    shutil.rmtree(d)


# ---------------------------------------------------------------- command objectives
def group_cmd_signal():
    """A signal stops running --eval-cmd programs too (their process groups), and the run resumes."""
    d = tempfile.mkdtemp(prefix="hb-cmdsig-", dir=ARGS.tmp)
    space = os.path.join(d, "space.json")
    json.dump({"parameters": [{"name": "x", "type": "float", "lower": 0, "upper": 1}]}, open(space, "w"))
    marker = os.path.join(d, "marker")
    prog = f"import sys, time; open({marker!r} + sys.argv[1][4:], 'w'); time.sleep(60); print(1)"
    f = os.path.join(d, "run.h5")
    argv = [ARGS.hbmpi, "run", "--space", space, "--max-evals", "3", "--quiet", "--out", f,
            "--trial-dir", os.path.join(d, "trials"), "--eval-cmd", ARGS.python, "-c", prog]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not glob.glob(marker + "*") and time.time() - t0 < 30:
        time.sleep(0.05)
    t1 = time.time()
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 3 and time.time() - t1 < 8, f"SIGTERM with a program running: exit 3 within the grace "
                                                      f"({p.returncode}, {time.time() - t1:.1f} s) {err[-300:]}")
    time.sleep(0.2)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    check(not left, f"the objective's process was stopped with hbmpi: {left}")
    evs = events(f) or []
    check([e["kind"] for e in evs].count("interrupted") == 1, "the running trial is recorded as interrupted")
    shutil.rmtree(d)


# ---------------------------------------------------------------- a library that ignores a stop
def group_stuck():
    """A C-library objective never looks at the stop request: after --eval-grace rank 0 records
    the running jobs as interrupted, saves, and ends the MPI job with exit 3; the run resumes."""
    d = tempfile.mkdtemp(prefix="hb-stuck-", dir=ARGS.tmp)
    space = os.path.join(d, "space.json")
    json.dump({"parameters": [{"name": "mode", "type": "categorical", "choices": ["nap"]},
                              {"name": "n", "type": "int", "lower": 4, "upper": 5},
                              {"name": "x", "type": "float", "lower": 0, "upper": 1}]}, open(space, "w"))
    f = os.path.join(d, "run.h5")
    argv = ["run", "--space", space, "--optimizer", "random", "--max-evals", "3", "--seed", "4", "--reproducible", "2",
            "--eval-grace",
            "0.2", "--quiet", "--json", "--out", f, "--eval-lib", ARGS.objlib + ":hbmpi_test_objective"]
    rc, ref, err = hbmpi(*[a if a != f else os.path.join(d, "ref.h5") for a in argv])
    check(rc == 0, f"the uninterrupted run: {err[-300:]}")
    p = start_mpi(argv, {})
    evs = wait_for_events(f, 2)  # session, then issues
    time.sleep(0.5)
    t0 = time.time()
    for pid in hbmpi_pids(f):
        os.kill(pid, signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    took = time.time() - t0
    check(p.returncode == 3 and "did not stop" in err, f"exit 3, naming the stuck evaluations ({p.returncode}): "
                                                       f"{err[-500:]}")
    check(took < 8, f"ended within the grace and a few seconds ({took:.1f} s)")
    evs = events(f) or []
    kinds = [e["kind"] for e in evs]
    check(evs is not None and kinds[-1:] == ["stop"] and kinds.count("interrupted") == 2,
          f"the log ends: both running jobs interrupted, then the stop: {kinds}")
    q = subprocess.run([ARGS.mpirun, "-n", "3", ARGS.hbmpi, *argv], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=300)
    check(q.returncode == 0, f"resumed and finished: {q.stderr[-300:]}")
    if q.returncode == 0 and rc == 0:
        check(trials_key(json.loads(q.stdout)) == trials_key(json.loads(ref)), "the trials of the uninterrupted run")
    shutil.rmtree(d)

# ---------------------------------------------------------------- workers
def group_workers():
    """A run of 2 workers resumed with 1: utilisation is busy time over the capacity of each session
    (its workers times its length), in report --json, the text report and the plot's title; the
    plot's worker line follows the sessions (issue 18: it used the last session's count for all)."""
    d = tempfile.mkdtemp(prefix="hb-workers-", dir=ARGS.tmp)
    f = os.path.join(d, "run.h5")
    argv = ["run", "--kernel", "branin", "--optimizer", "random", "--eval-delay", "0.3", "--seed", "5",
            "--quiet", "--out", f]
    # 3 trials on 2 workers leave one idle for a third of session 1
    rc, _, err = hbmpi(*argv, "--max-evals", "3", np=3)
    check(rc == 0, f"session 1, mpirun -n 3 (2 workers): rc={rc} {err[-300:]}")
    rc, ran, err = hbmpi(*argv, "--max-evals", "6", "--json")
    check(rc == 0, f"session 2, alone (1 worker): rc={rc} {err[-300:]}")
    evs = events(f) or []
    sessions = [(e["time"], e["workers"]) for e in evs if e["kind"] == "session"]
    check([w for _, w in sessions] == [2, 1], f"two sessions, of 2 then 1 workers: {sessions}")
    rc, out, err = hbmpi("report", f, "--json")
    check(rc == 0, f"report --json: {err[-300:]}")
    if rc != 0 or len(sessions) != 2:
        shutil.rmtree(d)
        return
    rep = json.loads(out)
    wall = rep["totals"]["wall_seconds"]
    busy = sum(t["end"] - t["start"] for t in rep["trials"])
    cap = sessions[0][1] * (sessions[1][0] - sessions[0][0]) + sessions[1][1] * (wall - sessions[1][0])
    want = min(1.0, busy / cap)
    util = rep["totals"]["utilisation"]
    check(abs(util - want) < 1e-6 and want < 0.95,
          f"utilisation {util}: busy {busy:.3f} s over {cap:.3f} worker-seconds = {want:.4f} "
          f"(not busy over wall x last session's workers, {min(1, busy / wall):.4f})")
    check(ran == out, "run --json of the resumed session equals report --json")
    rc, text, err = hbmpi("report", f)
    check(rc == 0 and f"busy {100 * want:.1f} %" in text, f"the text report says busy {100 * want:.1f} %: "
                                                           f"{[l for l in text.splitlines() if 'busy' in l]}")
    svg = os.path.join(d, "run.svg")
    rc, _, err = hbmpi("report", f, "--plot", svg)
    body = open(svg).read() if rc == 0 else ""
    check(rc == 0 and f"utilisation {100 * want:.0f}%" in body,
          f"the plot's busy-workers title says utilisation {100 * want:.0f}% (rc={rc} {err[-200:]})")
    check("workers (2, then 1)" in body, "the plot's worker line names both sessions' counts")
    shutil.rmtree(d)


GROUPS = {"basic": group_basic, "cmd_signal": group_cmd_signal, "mismatch": group_mismatch, "finished": group_finished, "locked": group_locked,
          "warm": group_warm, "workers": group_workers, "kill": group_kill, "signals": group_signals, "stuck": group_stuck}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--objlib", help="tests/objectives' libobj.so (group stuck)")
    ap.add_argument("--tmp", default=tempfile.gettempdir())
    ap.add_argument("group", choices=sorted(GROUPS))
    ARGS = ap.parse_args()
    GROUPS[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
