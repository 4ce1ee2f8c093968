#!/usr/bin/env python3
"""Population-based training (--optimizer pbt, pb2) through real hbmpi processes: the lineage in
the run file, continuation of copied checkpoints by a command objective, the PBT paper's toy
problem, and runs stopped or killed and resumed, alone and under real mpirun.

  test_pbt_run.py --hbmpi PATH --mpirun PATH --python PATH GROUP
GROUP: lineage | cmd | toy | resume | mpi"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish, kill_job  # noqa: E402

ARGS = None
KEY = ("id", "budget", "loss", "status", "bracket", "stage", "config_id", "previous_id")
TOY = ["--kernel", "pbt_toy"]


def run(*argv, np=None, env=None, timeout=600):
    cmd = [ARGS.hbmpi, *argv]
    if np is not None:
        cmd = [ARGS.mpirun, "-n", str(np), "--oversubscribe", *cmd]
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def trials(rep):
    return [tuple(json.dumps(t[k]) for k in KEY) + (json.dumps(t["config"], sort_keys=True),)
            for t in rep["trials"]]


def report(path):
    rc, out, err = run("report", path, "--json")
    check(rc == 0, f"report {path}: rc={rc} {err}")
    return json.loads(out) if rc == 0 else {"trials": []}


def check_lineage(rep, interval, pop, max_budget, what):
    """Each step continues the checkpoint it names: the same lineage (config_id), its budget one
    interval lower; a step from scratch starts a lineage; every member reaches max_budget.
    Returns the number of exploits (steps that continue another member's checkpoint)."""
    ids = {t["id"]: t for t in rep["trials"]}
    ok, exploits, reached = True, 0, set()
    for t in rep["trials"]:
        p = t["previous_id"]
        if p is None:
            ok &= t["config_id"] == t["id"] and t["budget"] == min(interval, max_budget)
        else:
            q = ids.get(p)
            ok &= q is not None and q["config_id"] == t["config_id"] and q["status"] == "ok" \
                and abs(t["budget"] - min(q["budget"] + interval, max_budget)) < 1e-9
            if q is not None and q["bracket"] != t["bracket"]:
                exploits += 1
        ok &= 0 <= t["bracket"] < pop
        if t["budget"] >= max_budget and t["status"] == "ok":
            reached.add(t["bracket"])
    check(ok, f"{what}: every step continues the checkpoint it names, in its lineage, one interval on")
    check(reached == set(range(pop)), f"{what}: every member trained to the max budget ({sorted(reached)})")
    return exploits


# ---------------------------------------------------------------- lineage
def group_lineage():
    """pbt and pb2 on the toy kernel: the lineage in the report and in the run file (h5py), the
    budget spent (each step pays its interval), and the kernel's continuation of every step."""
    for opt in ("pbt", "pb2"):
        out = os.path.join(ARGS.tmp, f"{opt}.h5")
        trace = os.path.join(ARGS.tmp, f"{opt}.trace")
        rc, js, err = run("run", *TOY, "--optimizer", opt, "--pbt-population", "6", "--pbt-interval", "5",
                          "--max-budget", "60", "--seed", "3", "--out", out, "--json", "--quiet",
                          "--trial-dir", os.path.join(ARGS.tmp, f"{opt}.trials"), env={"HB_EVAL_TRACE": trace})
        check(rc == 0, f"{opt}: rc={rc} {err}")
        if rc != 0:
            continue
        rep = json.loads(js)
        n = len(rep["trials"])
        exploits = check_lineage(rep, 5, 6, 60, opt)
        check(exploits >= 3, f"{opt}: members copy others' checkpoints ({exploits} exploits in {n} steps)")
        spent = rep["totals"]["budget_spent"]
        check(abs(spent - 5 * n) < 1e-9, f"{opt}: each step trains one interval: spent {spent} for {n} steps")
        s = rep["settings"]
        check(s.get("pbt_population") == 6 and s.get("pbt_interval") == 5 and s.get("pbt_quantile") == 0.25,
              f"{opt}: the settings in the report: {s}")
        lines = [l.split() for l in open(trace)] if os.path.exists(trace) else []
        cont = sum(1 for l in lines if l and l[0] == "done" and l[-1] == "continued")
        steps_after = sum(1 for t in rep["trials"] if t["previous_id"] is not None)
        check(cont == steps_after, f"{opt}: every step after the first continued its checkpoint ({cont} of {steps_after})")
        code = ("import h5py, sys\n"
                "t = h5py.File(sys.argv[1], 'r')['trials'][()]\n"
                "print(len(t), int((t['previous_id'] >= 0).sum()), sorted(set(t['bracket'].tolist())))\n")
        p = subprocess.run([ARGS.python, "-c", code, out], capture_output=True, text=True)
        check(p.returncode == 0 and p.stdout.split()[:2] == [str(n), str(steps_after)],
              f"{opt}: the run file's trials table holds the lineage: {p.stdout} {p.stderr[-300:]}")
        # mutable values change along a lineage; fixed ones cannot (the toy has only mutable ones)
        changed = sum(1 for t in rep["trials"] if t["previous_id"] is not None
                      and {k: v for k, v in t["config"].items()} != next(
                          q["config"] for q in rep["trials"] if q["id"] == t["previous_id"]))
        check(changed >= 1, f"{opt}: explored steps change the mutable values ({changed})")
    # --pbt-start: a bad line is named FILE:LINE, exit 2, and no run file is made
    bad = os.path.join(ARGS.tmp, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"h0": 0.5, "h1": 0.5}\n\n{"h0": 7, "h1": 0.5}\n')
    out = os.path.join(ARGS.tmp, "bad.h5")
    rc, _, err = run("run", *TOY, "--optimizer", "pbt", "--pbt-start", bad, "--out", out)
    check(rc == 2 and f"{bad}:3: " in err and "h0" in err and not os.path.exists(out),
          f"a bad --pbt-start line: rc={rc} {err}")
    rc, _, err = run("run", *TOY, "--optimizer", "pbt", "--pbt-start", bad + ".none", "--out", out)
    check(rc == 2 and "cannot read" in err and not os.path.exists(out), f"a missing --pbt-start file: rc={rc} {err}")
    # a space without a mutable parameter is refused, exit 2, nothing written
    out = os.path.join(ARGS.tmp, "none.h5")
    rc, _, err = run("run", "--kernel", "branin", "--optimizer", "pbt", "--out", out)
    check(rc == 2 and "mutable" in err and not os.path.exists(out), f"pbt without mutable parameters: rc={rc} {err}")


# ---------------------------------------------------------------- cmd
OBJ = r'''
import json, os, sys
sys.path.insert(0, os.environ["HB_PY"])
import hbmpi
def objective(config, budget, trial):
    theta, start = [0.9, 0.9], 0
    if trial.previous_trial_dir:
        with open(os.path.join(trial.previous_trial_dir, "ckpt.json")) as f:
            st = json.load(f)
        theta, start = st["theta"], st["steps"]
    n = int(budget + 0.5)
    for _ in range(start, n):
        theta = [theta[0] * (1 - 0.02 * config["h0"]), theta[1] * (1 - 0.02 * config["h1"])]
    with open(os.path.join(trial.trial_dir, "ckpt.json"), "w") as f:
        json.dump({"theta": theta, "steps": n, "from": trial.previous_trial_dir}, f)
    return {"loss": theta[0] ** 2 + theta[1] ** 2, "spent": n - start}
hbmpi.run(objective)
'''


def group_cmd():
    """A command objective continues every step from HB_PREVIOUS_TRIAL_DIR, which after an
    exploit is the other member's trial directory; served and one process per trial alike."""
    obj = os.path.join(ARGS.tmp, "obj.py")
    open(obj, "w").write(OBJ)
    space = os.path.join(ARGS.tmp, "space.json")
    json.dump({"parameters": [{"name": "h0", "type": "float", "lower": 0, "upper": 1, "mutable": True},
                              {"name": "h1", "type": "float", "lower": 0, "upper": 1,
                               "meta": {"mutable": True}}]}, open(space, "w"))
    env = {"HB_PY": ARGS.pydir}
    reps = {}
    for how in ("--eval-server", "--eval-cmd"):
        td = os.path.join(ARGS.tmp, "trials" + how)
        rc, js, err = run("run", "--space", space, "--optimizer", "pbt", "--min-budget", "4", "--max-budget", "40",
                          "--pbt-population", "4", "--seed", "1", "--trial-dir", td, "--json", "--quiet",
                          how, ARGS.python, obj, env=env)
        check(rc == 0, f"{how}: rc={rc} {err[-500:]}")
        if rc != 0:
            return
        rep = reps[how] = json.loads(js)
        exploits = check_lineage(rep, 4, 4, 40, how)
        check(exploits >= 1, f"{how}: some member copied another ({exploits})")
        ok = True
        for t in rep["trials"]:
            ck = json.load(open(os.path.join(td, f"trial-{t['id']}", "ckpt.json")))
            want = None if t["previous_id"] is None else os.path.join(td, f"trial-{t['previous_id']}")
            ok &= (ck["from"] is None and want is None) or (want is not None and os.path.samefile(ck["from"], want))
            ok &= t.get("spent") == 4
        check(ok, f"{how}: each step read the checkpoint of the trial it names (HB_PREVIOUS_TRIAL_DIR)")
    check(trials(reps["--eval-server"]) == trials(reps["--eval-cmd"]),
          "the same trials served and one process per trial")


# ---------------------------------------------------------------- toy
def group_toy():
    """The PBT paper's toy problem (Jaderberg et al. 2017, Figure 2) in its setting: two members
    that start from h = (1, 0) and (0, 1) (--pbt-start) and exploit every 4 steps. pbt and pb2
    reach Q within 1 % of 1.2 (loss <= 0.012) in 243 steps; with h fixed at those values for the
    whole training (as the paper's grid search), neither member can."""
    rc, out, err = run("kernels", "--json")
    info = next((k for k in json.loads(out)["kernels"] if k["name"] == "pbt_toy"), None) if rc == 0 else None
    check(info is not None, f"pbt_toy is listed: {out[:300]} {err}")
    start = os.path.join(ARGS.tmp, "onehot.jsonl")
    with open(start, "w") as f:
        f.write('{"h0": 1, "h1": 0}\n{"h0": 0, "h1": 1}\n')
    for opt in ("pbt", "pb2"):
        best = []
        for seed in range(5):
            rc, js, err = run("run", *TOY, "--optimizer", opt, "--seed", str(seed), "--pbt-population", "2",
                              "--pbt-interval", "4", "--pbt-start", start, "--json", "--quiet")
            check(rc == 0, f"{opt} seed {seed}: rc={rc} {err}")
            if rc == 0:
                rep = json.loads(js)
                best.append(rep["best"]["loss"])
                first = [t for t in rep["trials"] if t["previous_id"] is None]
                check(sorted((t["config"]["h0"], t["config"]["h1"]) for t in first)[:2] == [(0, 1), (1, 0)],
                      f"{opt} seed {seed}: the members start from the given configurations")
        print(f"toy {opt}: best loss per seed {best}")
        check(len(best) == 5 and max(best) <= 0.012, f"{opt} reaches Q within 1 % of 1.2 in every seed: {best}")
    fixed = []
    for h in ('{"h0": 1, "h1": 0}', '{"h0": 0, "h1": 1}'):
        rc, out, err = run("eval", *TOY, "--budget", "243", "--config", h)
        check(rc == 0, f"eval {h}: rc={rc} {err}")
        fixed.append(float(out.split()[-1]) if rc == 0 and out.split() else None)
    print(f"toy fixed h: {fixed}")
    check(all(v is not None and v > 0.012 for v in fixed), f"h fixed at the start values does not ({fixed})")


# ---------------------------------------------------------------- resume
def toy_args(opt, out, extra=()):
    return ["run", *TOY, "--optimizer", opt, "--pbt-population", "5", "--pbt-interval", "4", "--max-budget", "80",
            "--seed", "11", "--out", out, "--json", "--quiet", *extra]


def group_resume():
    """A run stopped by SIGTERM (exit 3) and resumed, and one killed with SIGKILL and resumed,
    end with the trials of an uninterrupted run, pbt and pb2 alike."""
    for opt in ("pbt", "pb2"):
        ref = os.path.join(ARGS.tmp, f"ref-{opt}.h5")
        rc, js, err = run(*toy_args(opt, ref, ["--trial-dir", ref + ".t"]))
        check(rc == 0, f"{opt} reference: rc={rc} {err}")
        want = trials(json.loads(js)) if rc == 0 else None
        for how in ("term", "kill"):
            out = os.path.join(ARGS.tmp, f"{how}-{opt}.h5")
            argv = [ARGS.hbmpi, *toy_args(opt, out, ["--trial-dir", out + ".t", "--eval-delay", "1"])]
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, start_new_session=True)
            time.sleep(1.5)
            if how == "term":
                p.send_signal(signal.SIGTERM)
                p.communicate(timeout=60)
                check(p.returncode == 3, f"{opt}: SIGTERM exits 3, not {p.returncode}")
            else:
                kill_job(p, out)
                p.communicate(timeout=60)
            rc, js, err = run(*toy_args(opt, out, ["--trial-dir", out + ".t"]))
            check(rc == 0, f"{opt} {how}: the resumed run: rc={rc} {err}")
            got = trials(json.loads(js)) if rc == 0 else None
            check(got == want, f"{opt} {how}: resumed, the trials of the uninterrupted run "
                               f"({len(got or [])} against {len(want or [])})")
            rep = report(out)
            check(len(rep.get("sessions", [])) >= 2 or rep.get("totals", {}).get("sessions", 2) >= 2,
                  f"{opt} {how}: two sessions in the run file")


def group_mpi():
    """Under mpirun -n 3 with --reproducible 2: the same trials as alone with --reproducible 2;
    a job killed with SIGKILL mid-run and resumed gives them too."""
    for opt in ("pbt", "pb2"):
        ref = os.path.join(ARGS.tmp, f"alone-{opt}.h5")
        rc, js, err = run(*toy_args(opt, ref, ["--reproducible", "2", "--trial-dir", ref + ".t"]))
        check(rc == 0, f"{opt} alone --reproducible 2: rc={rc} {err}")
        want = trials(json.loads(js)) if rc == 0 else None
        out = os.path.join(ARGS.tmp, f"np3-{opt}.h5")
        rc, js, err = run(*toy_args(opt, out, ["--reproducible", "2", "--trial-dir", out + ".t"]), np=3)
        check(rc == 0 and trials(json.loads(js)) == want, f"{opt}: mpirun -n 3 gives the same trials: rc={rc} {err}")
        out = os.path.join(ARGS.tmp, f"np3k-{opt}.h5")
        argv = [ARGS.mpirun, "-n", "3", "--oversubscribe", ARGS.hbmpi,
                *toy_args(opt, out, ["--reproducible", "2", "--trial-dir", out + ".t", "--eval-delay", "1"])]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        time.sleep(3)
        kill_job(p, out)
        p.communicate(timeout=60)
        rc, js, err = run(*toy_args(opt, out, ["--reproducible", "2", "--trial-dir", out + ".t"]), np=3)
        check(rc == 0, f"{opt}: the resumed run under mpirun: rc={rc} {err}")
        got = trials(json.loads(js)) if rc == 0 else None
        check(got == want, f"{opt}: killed under mpirun and resumed, the same trials ({len(got or [])})")


GROUPS = {"lineage": group_lineage, "cmd": group_cmd, "toy": group_toy, "resume": group_resume,
          "mpi": group_mpi}


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--pydir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    ap.add_argument("group", choices=sorted(GROUPS))
    ARGS = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"hb-pbt-{ARGS.group}-") as tmp:
        ARGS.tmp = tmp
        GROUPS[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
