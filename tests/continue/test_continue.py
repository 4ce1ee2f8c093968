#!/usr/bin/env python3
"""Promoted trials that continue from their previous rung (--continue-promoted, HB_PREVIOUS_*):
real hbmpi processes, alone and under real mpirun, killed with SIGKILL and resumed.

  test_continue.py --hbmpi PATH --mpirun PATH --python PATH [--lenet DIR] [--ppo DIR] GROUP
GROUP: kernel | mpi | resume | cmd | lenet | ppo"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish, kill_job  # noqa: E402

ARGS = None
KEY = ("id", "budget", "loss", "status", "bracket", "stage", "config_id", "previous_id")


def run(*argv, np=None, env=None, cwd=None, timeout=600):
    cmd = [ARGS.hbmpi, *argv]
    if np is not None:
        cmd = [ARGS.mpirun, "-n", str(np), "--oversubscribe", *cmd]
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=e, cwd=cwd,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def trials(rep):
    return [tuple(json.dumps(t[k]) for k in KEY) + (json.dumps(t["config"], sort_keys=True),)
            for t in rep["trials"]]


def by_id(rep):
    return {t["id"]: t for t in rep["trials"]}


def expected_spent(rep):
    """The bracket arithmetic: a promoted trial trains only from its previous rung's budget."""
    ids = by_id(rep)
    return sum(t["budget"] - (ids[t["previous_id"]]["budget"] if t["previous_id"] is not None else 0)
               for t in rep["trials"])


def check_identity(rep, what):
    ids = by_id(rep)
    ok = True
    for t in rep["trials"]:
        p = t["previous_id"]
        if p is None:
            ok &= t["config_id"] == t["id"]
        else:
            q = ids.get(p)
            ok &= q is not None and q["config_id"] == t["config_id"] and q["config"] == t["config"] \
                and q["stage"] + 1 == t["stage"] and q["budget"] < t["budget"]
    check(ok, f"{what}: each promoted trial names the same configuration's trial one rung lower")
    return sum(1 for t in rep["trials"] if t["previous_id"] is not None)


def continued_lines(trace):
    if not os.path.exists(trace):
        return []
    return [l.split() for l in open(trace) if l.startswith("done ")]


# ---------------------------------------------------------------- kernel
def group_kernel():
    """HyperBand on cartpole: the same trials with and without --continue-promoted, and the
    budget spent is the bracket arithmetic's."""
    base = ["run", "--kernel", "cartpole", "--optimizer", "hyperband", "--iterations", "2", "--seed", "5",
            "--json", "--quiet"]
    rc, out, err = run(*base)
    check(rc == 0, f"hyperband without continuation: rc={rc} {err}")
    plain = json.loads(out)
    tr = os.path.join(ARGS.tmp, "trials")
    trace = os.path.join(ARGS.tmp, "trace")
    rc, out, err = run(*base, "--continue-promoted", "--trial-dir", tr, env={"HB_EVAL_TRACE": trace})
    check(rc == 0, f"hyperband --continue-promoted: rc={rc} {err}")
    cont = json.loads(out)
    check(trials(plain) == trials(cont), "the same trials (configurations, budgets, losses) with continuation")
    promoted = check_identity(cont, "kernel")
    check(promoted > 20, f"many promotions ({promoted})")
    nominal = sum(t["budget"] for t in cont["trials"])
    spent = cont["totals"]["budget_spent"]
    want = expected_spent(cont)
    check(plain["totals"]["budget_spent"] == plain["totals"]["budget"],
          "without continuation the budget spent is the nominal")
    check(spent == want and spent < nominal,
          f"budget spent {spent} = the bracket arithmetic's {want} (< nominal {nominal})")
    print(f"kernel: nominal budget {nominal}, spent {spent} ({100 * (nominal - spent) / nominal:.1f} % saved), "
          f"{promoted} promoted trials")
    lines = continued_lines(trace)
    check(sum(1 for l in lines if l[-1] == "continued") == promoted,
          "every promoted trial started from its previous rung's state")
    states = [d for d in os.listdir(tr) if os.path.exists(os.path.join(tr, d, "kernel.state"))]
    check(len(states) == len(cont["trials"]), "each trial left its state in its trial directory")
    # the report's CSV and the run file carry the identity too
    out_h5 = os.path.join(ARGS.tmp, "k.h5")
    rc, out, err = run(*base, "--continue-promoted", "--trial-dir", tr, "--out", out_h5)
    check(rc == 0, f"with --out: rc={rc} {err}")
    rc, csv, err = run("report", out_h5, "--csv", "-")
    head = csv.splitlines()[0].split(",") if csv else []
    check(rc == 0 and head[10:13] == ["config_id", "previous_id", "spent"], f"CSV columns: {head[:14]}")
    rc, txt, err = run("report", out_h5)
    check(rc == 0 and "promoted trials continued" in txt and f"of which {spent:g} spent" in txt,
          f"the summary shows nominal and spent budget: {txt[:400]!r}")
    svg = os.path.join(ARGS.tmp, "k.svg")
    rc, _, err = run("report", out_h5, "--plot", svg)
    text = open(svg).read() if rc == 0 else ""
    check("budget spent" in text and f"budget {nominal:g} ({spent:g} spent)" in text,
          f"the plot draws the incumbent against the budget spent too: rc={rc} {err}")
    code = ("import h5py, sys\n"
            "t = h5py.File(sys.argv[1], 'r')['trials'][()]\n"
            "print(int((t['previous_id'] >= 0).sum()), float(t['spent'].sum()), float(t['budget'].sum()))\n")
    p = subprocess.run([ARGS.python, "-c", code, out_h5], capture_output=True, text=True)
    got = p.stdout.split()
    check(p.returncode == 0 and len(got) == 3 and int(got[0]) == promoted and float(got[1]) == spent
          and float(got[2]) == nominal, f"h5py reads previous_id and spent: {p.stdout} {p.stderr[-300:]}")


# ---------------------------------------------------------------- mpi
def group_mpi():
    """Under mpirun -n 3 (two workers): the same trials as alone (--reproducible 2), every promoted
    trial continued, and a promotion goes to the worker that ran the rung below whenever that
    worker is idle."""
    base = ["run", "--kernel", "cartpole", "--optimizer", "hyperband", "--seed", "7", "--json", "--quiet",
            "--reproducible", "2", "--eval-delay", "0.2"]
    rc, out, err = run(*base[:-2])
    alone = json.loads(out)
    tr = os.path.join(ARGS.tmp, "trials-mpi")
    trace = os.path.join(ARGS.tmp, "trace-mpi")
    rc, out, err = run(*base, "--continue-promoted", "--trial-dir", tr, np=3, env={"HB_EVAL_TRACE": trace})
    check(rc == 0, f"mpirun -n 3 --continue-promoted: rc={rc} {err[-500:]}")
    rep = json.loads(out)
    check(trials(alone) == trials(rep), "the same trials under mpirun as alone")
    promoted = check_identity(rep, "mpi")
    lines = continued_lines(trace)
    check(sum(1 for l in lines if l[-1] == "continued") == promoted, "every promoted trial continued")
    ids = by_id(rep)
    same = sum(1 for t in rep["trials"] if t["previous_id"] is not None and
               ids[t["previous_id"]]["worker"] == t["worker"])
    # The preference is the transport's (mpi/transport_mpi.c): a job goes to its preferred worker
    # when that one is idle, else to the first idle one. Which workers are idle when a promotion
    # is issued is timing (one result frees one worker, which takes the next job whatever it
    # prefers), so the share above proves little; what must hold is the rule itself. Both times
    # are the master's: a trial's start is when it was sent, its end when its result was taken,
    # so a worker is idle at time x when none of its trials has start <= x <= end (the times are
    # rounded to the microsecond: a result taken just after a job was sent can show the same
    # time, and counts as not yet taken).
    def idle(worker, x, but):
        return not any(u["worker"] == worker and u["start"] <= x <= u["end"] and u["id"] != but
                       for u in rep["trials"])
    decisive = [t for t in rep["trials"] if t["previous_id"] is not None and
                idle(ids[t["previous_id"]]["worker"], t["start"], t["id"])]
    wrong = [t["id"] for t in decisive if t["worker"] != ids[t["previous_id"]]["worker"]]
    print(f"mpi: {promoted} promoted trials, {same} on the worker of their previous rung; "
          f"{len(decisive)} issued while that worker was idle")
    check(decisive and not wrong, f"a promotion issued while its previous rung's worker is idle goes to that worker "
                                  f"({len(decisive)} such, sent elsewhere: {wrong})")
    check(rep["totals"]["budget_spent"] == expected_spent(rep), "spent budget under MPI")


# ---------------------------------------------------------------- resume
def group_resume():
    """SIGKILL of the whole mpirun job mid-run, then the same command: it resumes, the trials are
    those of an uninterrupted run, and promotions after the resume continue from the states the
    first session left."""
    base = ["run", "--kernel", "cartpole", "--optimizer", "hyperband", "--seed", "11", "--json", "--quiet",
            "--reproducible", "2", "--eval-delay", "0.3"]
    rc, out, err = run(*base[:-2])
    alone = json.loads(out)
    tr = os.path.join(ARGS.tmp, "trials-resume")
    h5 = os.path.join(ARGS.tmp, "resume.h5")
    trace = os.path.join(ARGS.tmp, "trace-resume")
    cmd = [ARGS.mpirun, "-n", "3", "--oversubscribe", ARGS.hbmpi, *base, "--continue-promoted", "--trial-dir",
           tr, "--out", h5]
    env = dict(os.environ, HB_EVAL_TRACE=trace)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=env, start_new_session=True)
    # kill once some promoted trials have run
    t0 = time.time()
    while time.time() - t0 < 60:
        if sum(1 for l in continued_lines(trace) if l[-1] == "continued") >= 2:
            break
        time.sleep(0.1)
    kill_job(p, h5)
    first = len(continued_lines(trace))
    check(0 < first < len(alone["trials"]), f"killed mid-run after {first} evaluations")
    rc, out, err = run(*base, "--continue-promoted", "--trial-dir", tr, "--out", h5, np=3,
                       env={"HB_EVAL_TRACE": trace})
    check(rc == 0, f"resumed: rc={rc} {err[-500:]}")
    rep = json.loads(out)
    check(trials(alone) == trials(rep), "the resumed run ends with the uninterrupted run's trials")
    lines = continued_lines(trace)[first:]
    resumed_ids = {int(l[1]) for l in lines}
    ids = by_id(rep)
    after = [t for t in rep["trials"] if t["id"] in resumed_ids and t["previous_id"] is not None]
    cont = {int(l[1]) for l in lines if l[-1] == "continued"}
    check(after and all(t["id"] in cont for t in after),
          f"after the resume every promoted trial continued ({len(after)} of them)")
    check(rep["totals"]["budget_spent"] == expected_spent(rep), "spent budget across the resume")
    del ids


# ---------------------------------------------------------------- cmd
OBJ = r'''
import json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
budget = float(args["budget"])
x = float(args["x"])
prev = os.environ.get("HB_PREVIOUS_TRIAL_DIR")
start, note = 0.0, "scratch"
if prev is not None:
    try:
        start = json.load(open(os.path.join(prev, "ckpt.json")))["done"]
        note = "continued"
    except OSError:
        note = "missing"
    assert float(os.environ["HB_PREVIOUS_BUDGET"]) == start or note == "missing"
json.dump({"done": budget}, open(os.path.join(os.environ["HB_TRIAL_DIR"], "ckpt.json"), "w"))
print(json.dumps({"loss": (x - 0.3) ** 2 + 1 / budget, "spent": budget - start, "note": note,
                  "config_id": int(os.environ["HB_CONFIG_ID"]), "config_seed": os.environ["HB_CONFIG_SEED"]}))
'''


def group_cmd():
    """--eval-cmd: HB_CONFIG_ID, HB_CONFIG_SEED, HB_PREVIOUS_BUDGET, HB_PREVIOUS_TRIAL_DIR; the
    program's "spent" is the budget spent; the same under mpirun -n 3."""
    obj = os.path.join(ARGS.tmp, "obj.py")
    open(obj, "w").write(OBJ)
    space = os.path.join(ARGS.tmp, "space.json")
    open(space, "w").write('{"parameters": [{"name": "x", "type": "float", "lower": 0, "upper": 1}]}')
    for np in (None, 3):
        tr = os.path.join(ARGS.tmp, f"trials-cmd-{np}")
        rc, out, err = run("run", "--space", space, "--optimizer", "hyperband", "--min-budget", "1",
                           "--max-budget", "9", "--seed", "3", "--json", "--quiet", "--trial-dir", tr,
                           "--eval-cmd", ARGS.python, obj, np=np)
        check(rc == 0, f"cmd np={np}: rc={rc} {err[-500:]}")
        if rc != 0:
            continue
        rep = json.loads(out)
        promoted = check_identity(rep, f"cmd np={np}")
        notes = [t["extras"]["note"] for t in rep["trials"] if t["previous_id"] is not None]
        check(promoted > 3 and notes == ["continued"] * promoted,
              f"np={np}: every promoted program found its previous checkpoint ({notes})")
        check(all(t["extras"]["config_id"] == t["config_id"] for t in rep["trials"]), "HB_CONFIG_ID")
        seeds = {}
        for t in rep["trials"]:
            seeds.setdefault(t["config_id"], set()).add(t["extras"]["config_seed"])
        check(all(len(s) == 1 for s in seeds.values()) and len(set().union(*seeds.values())) == len(seeds),
              "HB_CONFIG_SEED: one seed per configuration, different between configurations")
        check(all("spent" not in t["extras"] for t in rep["trials"]), "\"spent\" is not an extra")
        check(rep["totals"]["budget_spent"] == expected_spent(rep), f"np={np}: the program's spent budget")


# ---------------------------------------------------------------- lenet
def group_lenet():
    """The PyTorch LeNet example under mpirun -n 3: promoted trials continue from their checkpoints
    (the example says so in its log), a SIGKILL of the job, and the resume ends the run."""
    ex = os.path.join(ARGS.lenet, "lenet.py")
    space = os.path.join(ARGS.lenet, "space.json")
    tr = os.path.join(ARGS.tmp, "trials-lenet")
    h5 = os.path.join(ARGS.tmp, "lenet.h5")
    env = {"HB_LENET_TRAIN": "2000", "HB_LENET_VAL": "1000", "OMP_NUM_THREADS": "1"}
    argv = ["run", "--space", space, "--optimizer", "hyperband", "--min-budget", "1", "--max-budget", "4",
            "--eta", "2", "--seed", "1", "--json", "--quiet", "--out", h5, "--trial-dir", tr,
            "--eval-cmd", ARGS.python, ex]
    cmd = [ARGS.mpirun, "-n", "3", "--oversubscribe", ARGS.hbmpi, *argv]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, **env), start_new_session=True)

    def continued_logs():
        n = 0
        for d in os.listdir(tr) if os.path.isdir(tr) else []:
            try:
                n += "lenet: continued from" in open(os.path.join(tr, d, "stderr")).read()
            except OSError:
                pass
        return n
    t0 = time.time()
    while time.time() - t0 < 300 and continued_logs() < 1 and p.poll() is None:
        time.sleep(0.5)
    killed = p.poll() is None
    kill_job(p, h5)
    check(killed, "the job was still running when killed")
    rc, out, err = run(*argv, np=3, env=env, timeout=900)
    check(rc == 0, f"lenet resumed: rc={rc} {err[-800:]}")
    if rc != 0:
        return
    rep = json.loads(out)
    promoted = check_identity(rep, "lenet")
    logs = continued_logs()
    check(promoted > 0 and logs >= promoted,
          f"every promoted trial continued from its checkpoint ({logs} logs, {promoted} promoted)")
    check(rep["totals"]["budget_spent"] == expected_spent(rep),
          f"lenet: spent {rep['totals']['budget_spent']} = {expected_spent(rep)}")
    rc, txt, _ = run("report", h5)
    check(rc == 0 and "2 sessions" in txt, "the report shows the two sessions")
    print(f"lenet: {len(rep['trials'])} trials, {promoted} continued, budget {rep['totals']['budget']} "
          f"nominal, {rep['totals']['budget_spent']} spent, best loss {rep['best']['loss']}")


# ---------------------------------------------------------------- ppo
def group_ppo():
    """The PyTorch PPO CartPole example under mpirun -n 3 with HyperBand and --reproducible 2: an
    uninterrupted run whose promoted trials continue from their checkpoints (spent < budget in the
    report, and the example says so in its log); then the same run killed with SIGKILL (the whole
    job) once a promoted trial has continued, and resumed by the same command: it ends with the
    uninterrupted run's trials, losses included (the agent is a pure function of configuration,
    seed and budget)."""
    t_start = time.time()
    ex = os.path.join(ARGS.ppo, "ppo.py")
    space = os.path.join(ARGS.ppo, "space.json")
    env = {"HB_PPO_STEPS": "128", "HB_PPO_EVAL": "5", "OMP_NUM_THREADS": "1"}

    def argv(tag):
        return ["run", "--space", space, "--optimizer", "hyperband", "--min-budget", "1",
                "--max-budget", "4", "--eta", "2", "--seed", "5", "--reproducible", "2",
                "--continue-promoted", "--json", "--quiet", "--out", os.path.join(ARGS.tmp, f"ppo-{tag}.h5"),
                "--trial-dir", os.path.join(ARGS.tmp, f"trials-ppo-{tag}"), "--eval-cmd", ARGS.python, ex]

    def continued_logs(tag):
        tr, n = os.path.join(ARGS.tmp, f"trials-ppo-{tag}"), 0
        for d in os.listdir(tr) if os.path.isdir(tr) else []:
            try:
                n += "ppo: continued from" in open(os.path.join(tr, d, "stderr")).read()
            except OSError:
                pass
        return n

    # 1. uninterrupted
    t0 = time.time()
    rc, out, err = run(*argv("whole"), np=3, env=env, timeout=300)
    check(rc == 0, f"ppo uninterrupted: rc={rc} {err[-800:]}")
    if rc != 0:
        return
    whole = json.loads(out)
    promoted = check_identity(whole, "ppo")
    ids = by_id(whole)
    prom = [t for t in whole["trials"] if t["previous_id"] is not None]
    check(promoted > 0 and all(t["spent"] == t["budget"] - ids[t["previous_id"]]["budget"] < t["budget"]
                               for t in prom),
          f"ppo: every promoted trial spent budget - previous budget < budget "
          f"({[(t['id'], t['budget'], t['spent']) for t in prom]})")
    check(continued_logs("whole") == promoted,
          f"ppo: every promoted trial continued from its checkpoint ({continued_logs('whole')} logs, "
          f"{promoted} promoted)")
    rc, txt, _ = run("report", os.path.join(ARGS.tmp, "ppo-whole.h5"), "--json")
    check(rc == 0, "ppo: hbmpi report --json")
    if rc == 0:
        rep = json.loads(txt)
        check(trials(rep) == trials(whole) and [t["spent"] for t in rep["trials"]] == [t["spent"] for t in whole["trials"]],
              "ppo: the run file's report has the run's trials and spent budgets")
        check(rep["totals"]["budget_spent"] == expected_spent(rep) < rep["totals"]["budget"],
              f"ppo: spent {rep['totals']['budget_spent']} = {expected_spent(rep)} < nominal {rep['totals']['budget']}")
    print(f"ppo uninterrupted: {len(whole['trials'])} trials, {promoted} continued, budget "
          f"{whole['totals']['budget']} nominal, {whole['totals']['budget_spent']} spent, best loss "
          f"{whole['best']['loss']}, {time.time() - t0:.1f} s", flush=True)

    # 2. killed once a promoted trial has continued, then resumed
    t0 = time.time()
    h5 = os.path.join(ARGS.tmp, "ppo-killed.h5")
    cmd = [ARGS.mpirun, "-n", "3", "--oversubscribe", ARGS.hbmpi, *argv("killed")]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, **env), start_new_session=True)
    while time.time() - t0 < 300 and continued_logs("killed") < 1 and p.poll() is None:
        time.sleep(0.1)
    killed = p.poll() is None
    kill_job(p, h5)
    check(killed, "ppo: the job was still running when killed")
    before = continued_logs("killed")
    print(f"ppo killed after {time.time() - t0:.1f} s ({before} continued trial(s) by then)", flush=True)
    t1 = time.time()
    rc, out, err = run(*argv("killed"), np=3, env=env, timeout=300)
    check(rc == 0, f"ppo resumed: rc={rc} {err[-800:]}")
    if rc != 0:
        return
    resumed = json.loads(out)
    check(trials(resumed) == trials(whole),
          "ppo: the resumed run ends with the uninterrupted run's trials (ids, budgets, losses, configurations)")
    check([t["spent"] for t in resumed["trials"]] == [t["spent"] for t in whole["trials"]],
          "ppo: the resumed run's spent budgets are the uninterrupted run's")
    check(continued_logs("killed") >= promoted,
          f"ppo: after the resume every promoted trial continued ({continued_logs('killed')} logs, {promoted} promoted)")
    rc, txt, _ = run("report", h5)
    check(rc == 0 and "2 sessions" in txt, "ppo: the report shows the two sessions")
    print(f"ppo resumed: {len(resumed['trials'])} trials, the uninterrupted run's; resume {time.time() - t1:.1f} s; "
          f"group {time.time() - t_start:.1f} s", flush=True)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--lenet")
    ap.add_argument("--ppo")
    ap.add_argument("group")
    ARGS = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hb-cont-") as tmp:
        ARGS.tmp = tmp
        {"kernel": group_kernel, "mpi": group_mpi, "resume": group_resume,
         "cmd": group_cmd, "lenet": group_lenet, "ppo": group_ppo}[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
