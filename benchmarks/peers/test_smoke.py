#!/usr/bin/python3
"""Smoke test of benchmarks/peers/run.py (ctest `peers_smoke`, label `peers`).

    /usr/bin/python3 benchmarks/peers/test_smoke.py --hbmpi PATH --venv-dir DIR --work DIR

Runs `run.py --smoke` (1 seed, 6 x R, Optuna and DEHB, installed from PyPI
into DIR unless there) and checks its output: every requested study is there without error,
final regrets finite and >= 0, no study spent more than the budget limit, every trial's cost
positive and trials at budgets inside the kernel's range, hbmpi's rows joined, one SVG per
kernel, the versions recorded, a proposal cost per peer. Like tests/configspace, a failed pip
install fails the test (it does not skip). Ends with 'N passed, M failed'.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELS = ("hartmann6", "counting_ones")
PEERS = ("optuna", "dehb")
HBMPI = ("hyperband", "bohb", "tpe")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hbmpi", required=True)
    p.add_argument("--venv-dir", required=True)
    p.add_argument("--work", required=True)
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    out = os.path.join(a.work, "peers_smoke.json")
    for f in [out] + [os.path.join(a.work, "peers_%s.svg" % k) for k in KERNELS]:
        if os.path.exists(f):
            os.unlink(f)
    cmd = [sys.executable, os.path.join(HERE, "run.py"), "--smoke", "--hbmpi", a.hbmpi,
           "--venv-dir", a.venv_dir, "--out", out, "--peers", ",".join(PEERS),
           "--hbmpi-methods", ",".join(HBMPI), "--kernels", ",".join(KERNELS)]
    print("running: %s" % " ".join(cmd), flush=True)
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=900)
    print(r.stdout[-6000:], flush=True)
    print("run.py took %.1f s, exit %d" % (time.monotonic() - t0, r.returncode), flush=True)

    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print("%s: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else "  (%s)" % detail),
              flush=True)
        if ok:
            passed += 1
        else:
            failed += 1
        return ok

    check("run.py exits 0", r.returncode == 0, "exit %d" % r.returncode)
    try:
        with open(out, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        check("the JSON is written and parses", False, str(e))
        print("%d passed, %d failed" % (passed, failed))
        return 1
    limit = {k["kernel"]: d["settings"]["budget_multiple"] * k["max_budget"]
             for k in d["settings"]["kernels"]}
    rng = {k["kernel"]: (k["min_budget"], k["max_budget"]) for k in d["settings"]["kernels"]}
    check("settings: 1 seed, 6 x R", d["settings"]["seeds"] == [0]
          and d["settings"]["budget_multiple"] == 6)
    got = {(s["kernel"], s["optimizer"], s["seed"]): s for s in d["studies"]}
    for k in KERNELS:
        for m in PEERS + HBMPI:
            s = got.get((k, m, 0))
            name = "%s %s" % (k, m)
            if not check("%s: study present without error" % name,
                         s is not None and "error" not in s,
                         "missing" if s is None else s.get("error")):
                continue
            fr = s["final_regret"]
            check("%s: final regret finite and >= 0" % name,
                  isinstance(fr, (int, float)) and math.isfinite(fr) and fr >= 0, repr(fr))
            check("%s: spent %g <= limit %g" % (name, s["total_budget"], limit[k]),
                  0 < s["total_budget"] <= limit[k] * (1 + 1e-9))
            check("%s: no warnings" % name, not s.get("warnings"), repr(s.get("warnings")))
            traj = s["trajectory"]
            check("%s: trajectory non-decreasing in budget, regret non-increasing" % name,
                  traj and all(b1 <= b2 and r2 <= r1 for (b1, r1), (b2, r2)
                               in zip(traj, traj[1:])), repr(traj[:5]))
            if m in PEERS:
                lo, hi = rng[k]
                inc = s["incumbent"] or {}
                check("%s: incumbent at the max budget with a config in the space" % name,
                      inc.get("config") and all(0 <= float(v) <= 1
                                                for v in inc["config"].values()))
                check("%s: spent at least %g (the budget is used)" % (name, limit[k] - hi),
                      s["total_budget"] >= limit[k] - hi - 1e-9)
                check("%s: evaluations made (%s)" % (name, s.get("evaluations")),
                      (s.get("evaluations") or 0) >= 3)
        rows = {r["optimizer"]: r for r in d["summary"] if r["kernel"] == k}
        check("%s: summary joins hbmpi's and the peers' rows" % k,
              all(m in rows for m in PEERS + HBMPI)
              and {rows[m]["side"] for m in rows} == {"hbmpi", "peer"})
        svg = os.path.join(a.work, "peers_%s.svg" % k)
        try:
            with open(svg, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            text = ""
        check("%s: SVG written with every method in its legend" % k,
              text.startswith("<svg") and text.rstrip().endswith("</svg>")
              and "Optuna" in text and "hbmpi bohb" in text and "DEHB" in text)
    for name in ("optuna", "dehb"):
        v = d["settings"]["venvs"].get(name) or {}
        check("venv %s: pip freeze recorded" % name, bool(v.get("pip_freeze"))
              and any(x.lower().startswith(name + "==") for x in v["pip_freeze"]),
              repr(v.get("error")))
    costs = {c["peer"]: c for c in d.get("proposal_cost", [])}
    for m in PEERS:
        c = costs.get(m, {})
        check("proposal cost of %s at 2000 results measured" % m,
              isinstance(c.get("median_ms"), (int, float)) and c["median_ms"] > 0,
              repr(c.get("error")))
    check("the table has a row per kernel x method",
          sum(1 for ln in d["table"] if ln.startswith("| ") and "final regret" not in ln)
          == len(KERNELS) * (len(PEERS) + len(HBMPI)))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
