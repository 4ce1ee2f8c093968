#!/usr/bin/python3
"""Check examples/lenet/lenet.py on its own (no hbmpi needed):

    /usr/bin/python3 examples/lenet/test_lenet.py [TMPDIR]

On a small subset (2000 training, 1000 validation images) with one configuration:
  A: budget 1 from scratch, in trial directory A;
  B: budget 3, promoted from A (HB_PREVIOUS_TRIAL_DIR=A, HB_PREVIOUS_BUDGET=1): must say it
     continued, report spent 2, and end with exactly the loss and model of
  C: budget 3 from scratch;
  D: budget 3 with a previous trial directory that holds no checkpoint: from scratch, spent 3,
     the same loss as C;
  E: budget 3 with a corrupt checkpoint in the previous directory: the same as D.
Every run's last line of stdout must be a JSON object with a numeric "loss". Exit 0 when all
hold; otherwise 1, with a message per failure.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LENET = os.path.join(HERE, "lenet.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
ARGS = ["--learning_rate=0.05", "--batch_size=64", "--n_kernels1=6", "--n_kernels2=16",
        "--n_fc=120", "--momentum=0.9"]

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


def run(name, trial_dir, budget, prev_dir=None, prev_budget=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HB_")}
    env.update(HB_LENET_TRAIN="2000", HB_LENET_VAL="1000", HB_THREADS="1",
               HB_TRIAL_ID=name, HB_SEED="7" if name == "C" else "99",  # per trial: unused
               HB_CONFIG_SEED="4242", HB_CONFIG_ID="1", HB_BUDGET=str(budget),
               HB_CONFIG=json.dumps({a.split("=")[0][2:]: a.split("=")[1] for a in ARGS}))
    if trial_dir is not None:
        os.makedirs(trial_dir, exist_ok=True)
        env["HB_TRIAL_DIR"] = trial_dir
    if prev_dir is not None:
        env["HB_PREVIOUS_TRIAL_DIR"] = prev_dir
        env["HB_PREVIOUS_BUDGET"] = str(prev_budget)
    t = time.monotonic()
    p = subprocess.run([PYTHON, LENET] + ARGS + ["--budget=%s" % budget], env=env,
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
        if not check(isinstance(res, dict) and isinstance(res.get("loss"), (int, float))
                     and not isinstance(res.get("loss"), bool)
                     and math.isfinite(res["loss"]),
                     "%s: no finite numeric \"loss\" in %r" % (name, lines[-1])):
            res = None
    if res is not None:
        print("%s (%.1f s): loss %.6f spent %s, val_xent %r" % (
            name, dt, res["loss"], res.get("spent"), res.get("val_xent")), flush=True)
    return res, p.stderr


def same_model(a, b):
    import torch
    ca = torch.load(os.path.join(a, "checkpoint.pt"), map_location="cpu")
    cb = torch.load(os.path.join(b, "checkpoint.pt"), map_location="cpu")
    return all(torch.equal(ca["model"][k], cb["model"][k]) for k in ca["model"]) \
        and ca["model"].keys() == cb["model"].keys()


def main(tmp):
    A, B, C, D, E = (os.path.join(tmp, x) for x in "ABCDE")
    empty = os.path.join(tmp, "empty")
    corrupt = os.path.join(tmp, "corrupt")
    os.makedirs(empty, exist_ok=True)
    os.makedirs(corrupt, exist_ok=True)

    ra, _ = run("A", A, 1)
    if ra is not None:
        check(ra.get("spent") == 1, "A: spent %r, expected 1" % ra.get("spent"))
        check(os.path.isfile(os.path.join(A, "checkpoint.pt")), "A: no checkpoint.pt in " + A)
        check(not [f for f in os.listdir(A) if f.endswith(".tmp")],
              "A: temporary files left in " + A)
    rb, eb = run("B", B, 3, prev_dir=A, prev_budget=1)
    rc, _ = run("C", C, 3)
    if rb is not None:
        check("lenet: continued from %s at 1 units" % A in eb,
              "B: stderr does not say it continued from A:\n" + eb)
        check(rb.get("spent") == 2, "B: spent %r, expected 2" % rb.get("spent"))
    if rb is not None and rc is not None:
        check(rc.get("spent") == 3, "C: spent %r, expected 3" % rc.get("spent"))
        check(rb["loss"] == rc["loss"] and rb.get("val_xent") == rc.get("val_xent"),
              "B (continued) and C (scratch) differ: loss %r vs %r, val_xent %r vs %r"
              % (rb["loss"], rc["loss"], rb.get("val_xent"), rc.get("val_xent")))
        check(same_model(B, C), "B and C saved different model parameters")

    rd, ed = run("D", D, 3, prev_dir=empty, prev_budget=1)
    if rd is not None:
        check("lenet: no checkpoint in %s, training from scratch" % empty in ed,
              "D: stderr does not say it trained from scratch:\n" + ed)
        check(rd.get("spent") == 3, "D: spent %r, expected 3" % rd.get("spent"))
        if rc is not None:
            check(rd["loss"] == rc["loss"], "D and C differ: loss %r vs %r"
                  % (rd["loss"], rc["loss"]))

    with open(os.path.join(corrupt, "checkpoint.pt"), "wb") as f:
        f.write(b"PK\x03\x04 not really a checkpoint")
    re_, ee = run("E", E, 3, prev_dir=corrupt, prev_budget=1)
    if re_ is not None:
        check("lenet: no checkpoint in %s, training from scratch" % corrupt in ee,
              "E: stderr does not say it trained from scratch:\n" + ee)
        check(re_.get("spent") == 3, "E: spent %r, expected 3" % re_.get("spent"))
        if rc is not None:
            check(re_["loss"] == rc["loss"], "E and C differ: loss %r vs %r"
                  % (re_["loss"], rc["loss"]))


if __name__ == "__main__":
    t0 = time.monotonic()
    if len(sys.argv) > 2:
        sys.exit("usage: test_lenet.py [TMPDIR]")
    if len(sys.argv) == 2:
        os.makedirs(sys.argv[1], exist_ok=True)
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory(prefix="test-lenet-") as d:
            main(d)
    if failures:
        print("test_lenet: %d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("test_lenet: ok (continued run bit-identical to the run from scratch) in %.1f s"
          % (time.monotonic() - t0))
