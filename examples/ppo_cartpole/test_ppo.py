#!/usr/bin/python3
"""Check examples/ppo_cartpole/ppo.py on its own (no hbmpi needed):

    /usr/bin/python3 examples/ppo_cartpole/test_ppo.py [TMPDIR]

With one configuration and 128 environment steps per iteration:
  A: budget 2 from scratch, in trial directory A;
  B: budget 5, promoted from A (HB_PREVIOUS_TRIAL_DIR=A, HB_PREVIOUS_BUDGET=2): must say it
     continued, report spent 3, and end with exactly the loss, returns and model of
  C: budget 5 from scratch;
  C2: C again (another directory, another HB_SEED, the same HB_CONFIG_SEED): the same result;
  S: budget 5 with another HB_CONFIG_SEED: a different agent (the seed is used);
  D: budget 5 with a previous trial directory that holds no checkpoint: from scratch, spent 5,
     the same loss as C;
  E: budget 5 with a corrupt checkpoint in the previous directory: the same as D;
  F: budget 5 promoted from a checkpoint of another configuration: the same as D;
  bad input: an unknown option, a value out of range and a non-numeric value each exit with
     status 2 and a message, printing nothing on stdout.
Every good run's last line of stdout must be a JSON object with a numeric "loss" in [0, 1].
Exit 0 when all hold; otherwise 1, with a message per failure.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PPO = os.path.join(HERE, "ppo.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
ARGS = ["--n_units_1=32", "--n_units_2=16", "--batch_size=32", "--learning_rate=0.003",
        "--discount=0.99", "--likelihood_ratio_clipping=0.2", "--entropy_regularization=0.01",
        "--optimization_steps=4"]

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


def env_for(name, budget, config_seed="4242", args=ARGS):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HB_")}
    env.update(HB_PPO_STEPS="128", HB_PPO_EVAL="5", HB_THREADS="1", HB_TRIAL_ID=name,
               HB_SEED=str(sum(map(ord, name)) * 7919),  # per trial: must not matter
               HB_CONFIG_SEED=config_seed, HB_CONFIG_ID="1", HB_BUDGET=str(budget),
               HB_CONFIG=json.dumps({a.split("=")[0][2:]: a.split("=")[1] for a in args}))
    return env


def run(name, trial_dir, budget, prev_dir=None, prev_budget=None, config_seed="4242",
        args=ARGS):
    env = env_for(name, budget, config_seed, args)
    if trial_dir is not None:
        os.makedirs(trial_dir, exist_ok=True)
        env["HB_TRIAL_DIR"] = trial_dir
    if prev_dir is not None:
        env["HB_PREVIOUS_TRIAL_DIR"] = prev_dir
        env["HB_PREVIOUS_BUDGET"] = str(prev_budget)
    t = time.monotonic()
    p = subprocess.run([PYTHON, PPO] + args + ["--budget=%s" % budget], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    dt = time.monotonic() - t
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    res = None
    if check(p.returncode == 0, "%s: exit status %d; stderr:\n%s" % (name, p.returncode,
                                                                     p.stderr)) \
            and check(lines, "%s: nothing on stdout" % name):
        try:
            res = json.loads(lines[-1])
        except ValueError:
            check(False, "%s: last stdout line is not JSON: %r" % (name, lines[-1]))
    if res is not None:
        loss = res.get("loss") if isinstance(res, dict) else None
        if not check(isinstance(loss, (int, float)) and not isinstance(loss, bool)
                     and math.isfinite(loss) and 0.0 <= loss <= 1.0,
                     "%s: no numeric \"loss\" in [0, 1] in %r" % (name, lines[-1])):
            res = None
    if res is not None:
        print("%s (%.1f s): loss %.6f spent %s, mean return %r, train return %r" % (
            name, dt, res["loss"], res.get("spent"), res.get("mean_return"),
            res.get("train_return")), flush=True)
    return res, p.stderr


def same_agent(a, b):
    import torch
    ca = torch.load(os.path.join(a, "checkpoint.pt"), map_location="cpu")
    cb = torch.load(os.path.join(b, "checkpoint.pt"), map_location="cpu")
    if ca["model"].keys() != cb["model"].keys():
        return False
    ma, mb = json.loads(ca["meta"]), json.loads(cb["meta"])
    sa, sb = ca["optimizer_state"], cb["optimizer_state"]
    return all(torch.equal(ca["model"][k], cb["model"][k]) for k in ca["model"]) \
        and ma["env"] == mb["env"] and ma["iterations"] == mb["iterations"] \
        and sa.keys() == sb.keys() \
        and all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"])
                and torch.equal(sa[k]["exp_avg_sq"], sb[k]["exp_avg_sq"]) for k in sa)


def same_result(x, y):
    return x is not None and y is not None and all(x.get(k) == y.get(k)
                                                   for k in ("loss", "mean_return", "iterations"))


def bad_input(tmp):
    cases = [("unknown option", ["--no_such_option=1"]),
             ("out of range", ["--discount=1.5"]),
             ("not a number", ["--learning_rate=fast"]),
             ("zero batch", ["--batch_size=0"])]
    for what, extra in cases:
        p = subprocess.run([PYTHON, PPO] + ARGS + extra + ["--budget=1"],
                           env=env_for("bad", 1), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        check(p.returncode == 2 and p.stdout.strip() == "" and "ppo.py: error" in p.stderr,
              "bad input (%s): exit %d, stdout %r, stderr %r"
              % (what, p.returncode, p.stdout[-200:], p.stderr[-300:]))
    env = env_for("bad", 1)
    env["HB_PPO_STEPS"] = "many"
    p = subprocess.run([PYTHON, PPO] + ARGS + ["--budget=1"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    check(p.returncode != 0 and p.stdout.strip() == "" and "HB_PPO_STEPS" in p.stderr,
          "bad input (HB_PPO_STEPS=many): exit %d, stderr %r" % (p.returncode, p.stderr[-300:]))


def main(tmp):
    d = {x: os.path.join(tmp, x) for x in ("A", "B", "C", "C2", "S", "D", "E", "F", "G")}
    empty = os.path.join(tmp, "empty")
    corrupt = os.path.join(tmp, "corrupt")
    os.makedirs(empty, exist_ok=True)
    os.makedirs(corrupt, exist_ok=True)

    ra, _ = run("A", d["A"], 2)
    if ra is not None:
        check(ra.get("spent") == 2, "A: spent %r, expected 2" % ra.get("spent"))
        check(os.path.isfile(os.path.join(d["A"], "checkpoint.pt")), "A: no checkpoint.pt")
        check(not [f for f in os.listdir(d["A"]) if f.endswith(".tmp")],
              "A: temporary files left in " + d["A"])
    rb, eb = run("B", d["B"], 5, prev_dir=d["A"], prev_budget=2)
    rc, _ = run("C", d["C"], 5)
    if rb is not None:
        check("ppo: continued from %s at 2 units" % d["A"] in eb,
              "B: stderr does not say it continued from A:\n" + eb)
        check(rb.get("spent") == 3, "B: spent %r, expected 3" % rb.get("spent"))
        check(rb.get("iterations") == 5, "B: %r iterations, expected 5" % rb.get("iterations"))
    if rb is not None and rc is not None:
        check(rc.get("spent") == 5, "C: spent %r, expected 5" % rc.get("spent"))
        check(same_result(rb, rc) and rb.get("episodes") == rc.get("episodes"),
              "B (continued) and C (scratch) differ: %r vs %r" % (rb, rc))
        check(same_agent(d["B"], d["C"]),
              "B and C saved different networks, Adam moments or episodes in progress")

    rc2, _ = run("C2", d["C2"], 5)
    if rc is not None and rc2 is not None:
        check(same_result(rc, rc2) and rc.get("train_return") == rc2.get("train_return"),
              "C2 (the same configuration and seed) differs from C: %r vs %r" % (rc2, rc))
        check(same_agent(d["C"], d["C2"]), "C and C2 saved different agents")
    rs, _ = run("S", d["S"], 5, config_seed="777")
    if rc is not None and rs is not None:
        check(not same_agent(d["C"], d["S"]), "S (another seed) trained the same agent as C")

    for name, prev, what in (("D", empty, "empty"), ("E", corrupt, "corrupt")):
        if name == "E":
            with open(os.path.join(corrupt, "checkpoint.pt"), "wb") as f:
                f.write(b"PK\x03\x04 not really a checkpoint")
        r, e = run(name, d[name], 5, prev_dir=prev, prev_budget=2)
        if r is not None:
            check("ppo: no checkpoint in %s, training from scratch" % prev in e,
                  "%s (%s): stderr does not say it trained from scratch:\n%s" % (name, what, e))
            check(r.get("spent") == 5, "%s: spent %r, expected 5" % (name, r.get("spent")))
            if rc is not None:
                check(same_result(r, rc), "%s and C differ: %r vs %r" % (name, r, rc))

    other = [a if not a.startswith("--n_units_2=") else "--n_units_2=17" for a in ARGS]
    run("G", d["G"], 2, args=other)
    rf, ef = run("F", d["F"], 5, prev_dir=d["G"], prev_budget=2)
    if rf is not None:
        check("another configuration (differs in n_units_2)" in ef
              and "training from scratch" in ef,
              "F: stderr does not refuse the other configuration's checkpoint:\n" + ef)
        if rc is not None:
            check(same_result(rf, rc), "F and C differ: %r vs %r" % (rf, rc))

    bad_input(tmp)


if __name__ == "__main__":
    t0 = time.monotonic()
    if len(sys.argv) > 2:
        sys.exit("usage: test_ppo.py [TMPDIR]")
    if len(sys.argv) == 2:
        os.makedirs(sys.argv[1], exist_ok=True)
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory(prefix="test-ppo-") as d:
            main(d)
    if failures:
        print("test_ppo: %d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("test_ppo: ok (deterministic; continued run bit-identical to the run from scratch; "
          "bad input refused) in %.1f s" % (time.monotonic() - t0))
