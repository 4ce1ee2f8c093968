#!/usr/bin/env python3
"""Slurm tests on a real one-node cluster (tests/slurm/cluster up/down, run by CTest fixtures):
the project's own batch script, requeued from outside mid-run, and a job whose time limit sends
the pre-timeout signal; both must resume from the run file and end with the trials of an
uninterrupted run with the same --reproducible W. Also runs docs/slurm.md's walk-through as
written.

usage: test_slurm.py --hbmpi PATH --src DIR GROUP
GROUP: requeue timelimit stop_before_end srun array docs lenet figures
SLURM_CONF must point at the test cluster (tests/slurm/cluster env).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish  # noqa: E402

ARGS = None


def sh(*cmd, check_rc=True):
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.returncode} {p.stderr}")
    return p.stdout.strip()


def job_state(job):
    out = sh("scontrol", "show", "job", "-o", str(job), check_rc=False)
    st = re.search(r"JobState=(\S+)", out)
    why = re.search(r"Reason=(\S+)", out)
    rc = re.search(r"ExitCode=(\d+):", out)
    return (st.group(1) if st else "GONE"), (why.group(1) if why else ""), (int(rc.group(1)) if rc else None)


def results(run_file):
    p = subprocess.run([ARGS.hbmpi, "report", run_file, "--events"], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    return [json.loads(l) for l in p.stdout.splitlines()]


RUN = ["--kernel", "branin", "--optimizer", "bohb", "--min-budget", "1", "--max-budget", "27", "--seed", "5",
       "--iterations", "2", "--reproducible", "2", "--quiet"]


def reference():
    p = subprocess.run([ARGS.hbmpi, "run", *RUN, "--json"], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def key(report):
    return [(t["id"], json.dumps(t["config"], sort_keys=True), t["budget"], t["loss"], t["status"])
            for t in report["trials"]]


def submit(tmp, extra_args, sbatch_opts, env=None, script="hbmpi-one-node.sbatch"):
    run_file = os.path.join(tmp, "run.h5")
    log = os.path.join(tmp, "job.log")
    exports = {"HBMPI": ARGS.hbmpi, "RUN_FILE": run_file, "HBMPI_ARGS": " ".join(RUN + extra_args),
               "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
               "OMPI_MCA_rmaps_base_oversubscribe": "1"}
    exports.update(env or {})
    e = dict(os.environ, **exports)
    ntasks = [] if any(o.startswith("--ntasks") for o in sbatch_opts) else ["--ntasks=3"]
    p = subprocess.run(["sbatch", "--parsable", *ntasks, f"--output={log}", "--export=ALL", *sbatch_opts,
                        os.path.join(ARGS.src, "slurm", script)], capture_output=True, text=True,
                       env=e, cwd=tmp)
    check(p.returncode == 0, f"sbatch: {p.stderr}")
    job = int(p.stdout.strip().split(";")[0])
    run_file_of[job] = run_file
    return job, run_file, log


run_file_of = {}


def follow(job, limit=600, on_running=None):
    """Wait for the job to end; release it whenever a requeue holds it (BeginTime). Returns the
    final state and the number of releases."""
    t0, releases = time.time(), 0
    while time.time() - t0 < limit:
        st, why, rc = job_state(job)
        if st == "PENDING" and why == "BeginTime":
            # Slurm holds a requeued job for two minutes; release it early, but only once the
            # previous run's processes are gone (a launch that overlaps them can fail at once)
            t1 = time.time()
            while time.time() - t1 < 60 and subprocess.run(["pgrep", "-f", f"scontrol requeue {job}|hbmpi .*{run_file_of.get(job, '@')}"],
                                                             capture_output=True).returncode == 0:
                time.sleep(0.2)
            time.sleep(2)
            sh("scontrol", "update", f"JobId={job}", "StartTime=now")
            releases += 1
        elif st == "RUNNING" and on_running:
            on_running()
        elif st in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "GONE", "NODE_FAIL", "OUT_OF_MEMORY"):
            # a job that requeues itself may show its old end state for a moment: believe an end
            # only when it is still there a few seconds later
            time.sleep(3)
            if job_state(job)[0] == st:
                return st, rc, releases
        time.sleep(0.5)
    return "STUCK", None, releases


def final_checks(name, run_file, log, ref, st, rc, min_sessions):
    check(st == "COMPLETED" and rc == 0, f"{name}: the job completed (state {st}, exit {rc}); log:\n"
                                         f"{open(log).read()[-1500:] if os.path.exists(log) else ''}")
    p = subprocess.run([ARGS.hbmpi, "report", run_file, "--json"], capture_output=True, text=True)
    check(p.returncode == 0, f"{name}: the run file reads: {p.stderr}")
    if p.returncode == 0:
        got = json.loads(p.stdout)
        check(key(got) == key(ref), f"{name}: the same trials as an uninterrupted run "
                                    f"({len(got['trials'])} vs {len(ref['trials'])})")
    evs = results(run_file) or []
    sessions = [e for e in evs if e["kind"] == "session"]
    check(len(sessions) >= min_sessions, f"{name}: {len(sessions)} sessions (at least {min_sessions})")
    slurm = [s["info"].get("slurm") or {} for s in sessions]
    check(all(s.get("SLURM_JOB_ID") for s in slurm), f"{name}: every session records its Slurm job id")
    check(any(s.get("SLURM_RESTART_COUNT") not in (None, "0") for s in slurm[1:]) or min_sessions < 2,
          f"{name}: a later session records SLURM_RESTART_COUNT: {slurm}")
    check(all("job_end_epoch" in s for s in slurm), f"{name}: the job's end time is recorded")
    return evs


def clean_stop(evs):
    """The first session ended with a stop (not the run's end: a requeue that lands after the run
    finished proves nothing), and each job it issued has an outcome logged before that stop."""
    first = []
    for e in evs[1:]:
        if e["kind"] == "session":
            break
        first.append(e)
    if not first or first[-1]["kind"] != "stop":
        return False
    issued = {e["id"] for e in first if e["kind"] == "issue"}
    told = {e["id"] for e in first if e["kind"] in ("result", "held", "interrupted")}
    return bool(issued) and issued == told


# ---------------------------------------------------------------- requeue
def group_requeue():
    tmp = tempfile.mkdtemp(prefix="hb-slurm-rq-", dir=ARGS.tmp)
    ref = reference()
    job, run_file, log = submit(tmp, ["--eval-delay", "3"], ["--time=10"])
    requeued = []

    def maybe_requeue():
        if requeued:
            return
        evs = results(run_file) if os.path.exists(run_file) else None
        if evs and sum(e["kind"] == "result" for e in evs) >= 15:
            sh("scontrol", "requeue", str(job))
            requeued.append(time.time())

    st, rc, releases = follow(job, on_running=maybe_requeue)
    check(bool(requeued), "the job was requeued mid-run with scontrol requeue")
    check(releases >= 1, f"the requeued job was held and released ({releases})")
    evs = final_checks("requeue", run_file, log, ref, st, rc, 2)
    check(clean_stop(evs), "the requeue's SIGTERM stopped the first session cleanly: a stop event, and "
                           "every job it had issued finished, held or interrupted before it; events:\n"
                           + "\n".join(json.dumps(e) for e in evs if e["kind"] not in ("issue", "result"))[:3000])
    text = open(log).read()
    # Slurm's SIGTERM reaches every process of the job: hbmpi saves and exits 3, mpirun (which gets
    # it too) ends with its own status; the requeue is Slurm's, the script must not add one
    check("hbmpi exited with" in text and "requeueing" not in text,
          f"exit 3 on the requeue's SIGTERM, and the script did not requeue on top of Slurm:\n{text[-2000:]}")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- time limit
def group_timelimit():
    tmp = tempfile.mkdtemp(prefix="hb-slurm-tl-", dir=ARGS.tmp)
    ref = reference()
    # A one-minute limit: USR1 comes 55 s before it, or up to 30 s later (Slurm checks limits
    # every 30 s or so), so 5-35 s into the job; the run needs about 48 s of evaluations.
    job, run_file, log = submit(tmp, ["--eval-delay", "8"], ["--time=1", "--signal=B:USR1@55"])
    st, rc, releases = follow(job, limit=900)
    text = open(log).read() if os.path.exists(log) else ""
    check("hbmpi exited with 3" in text and "requeueing job" in text,
          f"the pre-timeout signal: hbmpi exited 3 and the script requeued the job\n{text[-1500:]}")
    check(releases >= 1, f"requeued after the signal and released ({releases} times)")
    check("TIMEOUT" not in st and "DUE TO TIME LIMIT" not in text, "the job never ran into its time limit")
    evs = final_checks("time limit", run_file, log, ref, st, rc, 2)
    stops = [e for e in evs if e["kind"] == "stop"]
    check(stops and all(s.get("text") == "SIGUSR1" for s in stops), f"every stop was SIGUSR1: {stops}")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- stop before the end
def group_stop_before_end():
    """--stop-before-end: no job starts in the allocation's last S seconds; the running ones
    finish (nothing is interrupted), the run is saved, exit 3, the script requeues, the run resumes."""
    tmp = tempfile.mkdtemp(prefix="hb-slurm-sbe-", dir=ARGS.tmp)
    ref = reference()
    # two minutes, stop 100 s before the end: about 20 s of work per session; USR1 is kept out
    # of the way (1 s before the end, which Slurm may bring forward by 30 s)
    job, run_file, log = submit(tmp, ["--eval-delay", "8", "--stop-before-end", "100"],
                                ["--time=2", "--signal=B:USR1@1"])
    st, rc, releases = follow(job, limit=900)
    text = open(log).read() if os.path.exists(log) else ""
    check("stopped by --stop-before-end" in text and "requeueing job" in text,
          f"hbmpi stopped before the allocation's end, exit 3, requeued\n{text[-1500:]}")
    evs = final_checks("stop before end", run_file, log, ref, st, rc, 2)
    stops = [e for e in evs if e["kind"] == "stop"]
    check(stops and all(e.get("text") == "allocation end" for e in stops), f"stops: {stops}")
    check(not any(e["kind"] == "interrupted" for e in evs), "no evaluation was interrupted")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- srun and arrays
def group_srun():
    """The multi-node script (srun --mpi=pmix) on the one node."""
    tmp = tempfile.mkdtemp(prefix="hb-slurm-srun-", dir=ARGS.tmp)
    ref = reference()
    job, run_file, log = submit(tmp, ["--eval-delay", "0.2"], ["--time=5", "--nodes=1", "--ntasks-per-node=3"],
                                env={"RANKS_PER_NODE": "3"}, script="hbmpi-multi-node.sbatch")
    st, rc, _ = follow(job)
    final_checks("srun", run_file, log, ref, st, rc, 1)
    text = open(log).read() if os.path.exists(log) else ""
    check("srun --mpi=pmix" in text, "started with srun --mpi=pmix")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- the LeNet example's script
def group_lenet():
    """examples/lenet/lenet.sbatch as a user submits it (small data subset), requeued from outside
    once a promoted trial has continued from its checkpoint: the resumed job completes, and every
    promoted trial, before and after the requeue, continued from its rung below."""
    tmp = tempfile.mkdtemp(prefix="hb-slurm-lenet-", dir=ARGS.tmp)
    lenet = os.path.join(ARGS.src, "examples", "lenet")
    run_file, log, trials = os.path.join(tmp, "lenet.h5"), os.path.join(tmp, "job.log"), os.path.join(tmp, "trials")
    args = ["--space", os.path.join(lenet, "space.json"), "--optimizer", "hyperband", "--min-budget", "1",
            "--max-budget", "4", "--eta", "2", "--seed", "3", "--reproducible", "2", "--continue-promoted",
            "--quiet"]
    env = dict(os.environ, HBMPI=ARGS.hbmpi, RUN_FILE=run_file, TRIAL_DIR=trials, LENET_DIR=lenet,
               HBMPI_ARGS=" ".join(args), HB_LENET_TRAIN="1000", HB_LENET_VAL="500", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    p = subprocess.run(["sbatch", "--parsable", "--ntasks=3", "--time=10", f"--output={log}", "--export=ALL",
                        os.path.join(lenet, "lenet.sbatch")], capture_output=True, text=True, env=env, cwd=tmp)
    check(p.returncode == 0, f"sbatch lenet.sbatch: {p.stderr}")
    if p.returncode != 0:
        return
    job = int(p.stdout.strip().split(";")[0])
    run_file_of[job] = run_file

    def continued():
        n = 0
        for d in os.listdir(trials) if os.path.isdir(trials) else []:
            try:
                n += "lenet: continued from" in open(os.path.join(trials, d, "stderr")).read()
            except OSError:
                pass
        return n
    requeued = []

    def maybe_requeue():
        if not requeued and continued() >= 1:
            sh("scontrol", "requeue", str(job))
            requeued.append(time.time())

    st, rc, releases = follow(job, limit=800, on_running=maybe_requeue)
    text = open(log).read() if os.path.exists(log) else ""
    check(st == "COMPLETED" and rc == 0, f"lenet: the job completed (state {st}, exit {rc}):\n{text[-1500:]}")
    check(bool(requeued) and releases >= 1, f"lenet: requeued mid-run and released ({releases})")
    p = subprocess.run([ARGS.hbmpi, "report", run_file, "--json"], capture_output=True, text=True)
    check(p.returncode == 0, f"lenet: the run file reads: {p.stderr}")
    if p.returncode == 0:
        rep = json.loads(p.stdout)
        ids = {t["id"]: t for t in rep["trials"]}
        promoted = [t for t in rep["trials"] if t["previous_id"] is not None]
        want = sum(t["budget"] - (ids[t["previous_id"]]["budget"] if t["previous_id"] is not None else 0)
                   for t in rep["trials"])
        check(len(rep["trials"]) == 14 and len(promoted) == 4,
              f"lenet: one HyperBand iteration (14 trials, 4 promoted): {len(rep['trials'])}, {len(promoted)}")
        check(continued() >= len(promoted) and rep["totals"]["budget_spent"] == want,
              f"lenet: every promoted trial continued ({continued()} logs), spent {rep['totals']['budget_spent']}"
              f" = {want}")
    evs = results(run_file) or []
    check(sum(e["kind"] == "session" for e in evs) >= 2, "lenet: the requeued job resumed the run file")
    shutil.rmtree(tmp)


def run_array(tmp, script, sbatch_opts, limit, **env):
    """Submit slurm/SCRIPT as a job array (logs TMP/a-JOB_INDEX.log) with hbmpi, mpirun as root
    and ENV in its environment, and wait until it has left the queue. Returns (job, environment)."""
    e = dict(os.environ, HBMPI=ARGS.hbmpi, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1", **env)
    p = subprocess.run(["sbatch", "--parsable", *sbatch_opts, f"--output={tmp}/a-%A_%a.log",
                        os.path.join(ARGS.src, "slurm", script)], capture_output=True, text=True, env=e, cwd=tmp)
    check(p.returncode == 0, f"sbatch {script}: {p.stderr}")
    job = p.stdout.strip().split(";")[0]
    t0 = time.time()
    while time.time() - t0 < limit and sh("squeue", "-h", "-j", job, check_rc=False):
        time.sleep(1)
    return job, e


def group_array():
    """The array script: one study per index, its own run file and seed."""
    tmp = tempfile.mkdtemp(prefix="hb-slurm-array-", dir=ARGS.tmp)
    runs = os.path.join(tmp, "runs")
    job, _ = run_array(tmp, "hbmpi-array.sbatch", ["--array=0-2", "--ntasks=2", "--time=5"], 300,
                       RUNS=runs,
                       HBMPI_ARGS="--kernel branin --optimizer hyperband --min-budget 1 --max-budget 9 "
                                  "--reproducible 2 --quiet")
    for i in range(3):
        f = os.path.join(runs, f"study-{i}.h5")
        q = subprocess.run([ARGS.hbmpi, "report", f, "--json"], capture_output=True, text=True)
        ok = q.returncode == 0
        check(ok, f"array task {i}: its run file reads: {q.stderr}")
        if ok:
            r = json.loads(q.stdout)
            check(r["seed"] == i and len(r["trials"]) > 0, f"array task {i}: seed {r['seed']}, {len(r['trials'])} trials")
        evs = results(f) or []
        info = [x["info"]["slurm"] for x in evs if x["kind"] == "session"]
        check(info and info[0].get("SLURM_ARRAY_TASK_ID") == str(i) and info[0].get("SLURM_ARRAY_JOB_ID") == job,
              f"array task {i}: the run file records the array job and index: {info}")
    shutil.rmtree(tmp)


def group_figures():
    """slurm/figures-array.sbatch with small budgets: two indices (seeds 0 and 1), index 0 also
    Figure 6; then the collect commands of docs/slurm.md read every run file back."""
    tmp = tempfile.mkdtemp(prefix="hb-slurm-figures-", dir=ARGS.tmp)
    work = os.path.join(tmp, "figures")
    _, e = run_array(tmp, "figures-array.sbatch", ["--array=0-1", "--ntasks=3", "--time=10"], 600,
                     SRC=ARGS.src, WORK=work, FIG3_ARGS="--kernel cartpole --budget-multiple 6",
                     FIG5_ARGS="--kernel cartpole --methods random,bohb --time-limit 1",
                     FIG6_ARGS="--seeds 2 --budget-multiple 10 --methods random,bohb --ppo-iterations 1 "
                               "--ppo-max-budget 3")
    for i, n in ((0, 3), (1, 2)):
        log = "".join(open(os.path.join(tmp, f)).read() for f in os.listdir(tmp) if f.endswith(f"_{i}.log"))
        check(log.count("exit 0") == n, f"index {i} ran {n} figures, each with exit 0:\n{log[-4000:]}")
    fig = [ARGS.python, os.path.join(ARGS.src, "benchmarks", "figures.py")]
    for name, extra in (("fig3", e["FIG3_ARGS"]), ("fig5", e["FIG5_ARGS"]), ("fig6", e["FIG6_ARGS"])):
        out = os.path.join(tmp, name + ".json")
        seeds = [] if name == "fig6" else ["--seeds", "2"]
        q = subprocess.run(fig + [name, "--hbmpi", ARGS.hbmpi, "--work", os.path.join(work, name), "--check", "--collect",
                                  "--out", out, "--svg-dir", tmp, *seeds, *extra.split()],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        check(q.returncode == 0, f"{name}: the run files read back with --check: rc={q.returncode} {q.stderr[-1500:]}")
        if q.returncode != 0:
            continue
        r = json.load(open(out))
        if name == "fig6":
            check(r["ppo"] is not None and r["ppo"]["continued"] > 0, "fig6: the PPO run read back, continued")
            continue
        seeds_seen = sorted({s["seed"] for s in r["studies"]})
        check(seeds_seen == [0, 1], f"{name}: seeds 0 and 1, one per index: {seeds_seen}")
        # every study was run by its array task, the one of its seed
        for s in r["studies"]:
            f = os.path.join(work, name, f"{s['method']}-{s['seed']}.h5")
            evs = results(f) or []
            tasks = {x["info"]["slurm"].get("SLURM_ARRAY_TASK_ID") for x in evs if x["kind"] == "session"
                     and x["info"].get("slurm")}
            check(tasks == {str(s["seed"])}, f"{name} {s['method']}-{s['seed']}: run by array index {tasks}")
    shutil.rmtree(tmp)


# ---------------------------------------------------------------- docs
def group_docs():
    """docs/slurm.md's walk-through, run as written (its ```sh block after 'try-it')."""
    text = open(os.path.join(ARGS.src, "docs", "slurm.md")).read()
    m = re.search(r"<!-- try-it -->\s*```sh\n(.*?)```", text, re.S)
    check(m is not None, "docs/slurm.md has the walk-through block")
    if m is None:
        return
    tmp = tempfile.mkdtemp(prefix="hb-slurm-docs-", dir=ARGS.tmp)
    env = dict(os.environ, HBMPI_SRC=ARGS.src, PATH=os.path.dirname(ARGS.hbmpi) + ":" + os.environ["PATH"],
               HOME=tmp, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", m.group(1)], capture_output=True, text=True, env=env,
                       cwd=tmp, timeout=600)
    check(p.returncode == 0, f"the walk-through runs: rc={p.returncode}\n{p.stdout[-1500:]}\n{p.stderr[-1500:]}")
    check("best loss" in p.stdout and "finished" in p.stdout, f"it ends with the report: {p.stdout[-800:]}")
    shutil.rmtree(tmp)


GROUPS = {"requeue": group_requeue, "timelimit": group_timelimit, "stop_before_end": group_stop_before_end,
          "srun": group_srun, "array": group_array, "docs": group_docs, "lenet": group_lenet,
          "figures": group_figures}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("group", choices=sorted(GROUPS))
    ARGS = ap.parse_args()
    if not os.environ.get("SLURM_CONF"):
        sys.exit("test_slurm.py: SLURM_CONF is not set (tests/slurm/cluster env)")
    GROUPS[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
