#!/usr/bin/env python3
"""PBT and PB2 against BOHB and HyperBand on the training kernels, at equal total budget.

For each kernel (cartpole, fmnist_mlp), method and seed, one `hbmpi run` with a run file:
  pbt, pb2     --pbt-population P --pbt-interval I: P members trained to the max budget R in steps
               of I (the kernels' mutable hyperparameters change between steps)
  bohb, hyperband  --max-total-budget B, B the larger of what pbt and pb2 trained with that kernel
               and seed (about P·R: a member that copies a checkpoint behind its own trains those
               steps again); each trial trains from scratch (no --continue-promoted), so what a job
               is charged is what it trains: every method trains at most the same budget.
The loss of a method is that of the best trial at the max budget (the final model). Runs go two
at a time. Output: one JSON object on stdout (per kernel and method: the final losses per seed,
median and quartiles, the budget spent, wall time), a table on stderr, and for each kernel the
best PBT run's `hbmpi report --plot` (its population and the best model's schedule) in --svg-dir.

  bench_pbt.py --hbmpi build/hbmpi [--kernels cartpole,fmnist_mlp] [--seeds N] [--quick]
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("pbt", "pb2", "bohb", "hyperband")
# per kernel: max budget R and the PBT interval I (R / 27 steps for both)
KERNELS = {"cartpole": {"R": 243, "I": 9}, "fmnist_mlp": {"R": 27, "I": 1}}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def quartiles(v):
    v = sorted(v)
    if not v:
        return None, None, None
    if len(v) == 1:
        return v[0], v[0], v[0]
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], statistics.median(v), q[2]


def one(args, kernel, method, seed, tmp, cap=None):
    k = KERNELS[kernel]
    r, i = (k["R"] // 9, k["I"] // 9 or 1) if args.quick and kernel == "cartpole" else (k["R"], k["I"])
    if args.quick and kernel == "fmnist_mlp":
        r, i = 3, 1
    total = cap if cap is not None else args.population * r
    out = os.path.join(tmp, f"{kernel}-{method}-{seed}.h5")
    trials = out + ".trials"
    cmd = [args.hbmpi, "run", "--kernel", kernel, "--optimizer", method, "--seed", str(seed),
           "--max-budget", str(r), "--out", out, "--trial-dir", trials, "--json", "--quiet"]
    if method in ("pbt", "pb2"):
        cmd += ["--pbt-population", str(args.population), "--pbt-interval", str(i)]
    else:
        cmd += ["--max-total-budget", str(total)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    shutil.rmtree(trials, ignore_errors=True)  # the kernels' states: megabytes per trial
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr[-500:]}")
    rep = json.loads(p.stdout)
    final = [t["loss"] for t in rep["trials"] if t["status"] == "ok" and t["budget"] >= r - 1e-9]
    return {"kernel": kernel, "method": method, "seed": seed, "final_loss": min(final) if final else None,
            "trials": len(rep["trials"]), "budget": rep["totals"]["budget"],
            "budget_spent": rep["totals"].get("budget_spent"), "total_allowed": total,
            "wall_seconds": round(wall, 2), "run_file": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--kernels", default="cartpole,fmnist_mlp")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    ap.add_argument("--svg-dir", default=os.path.join(HERE, "results"), help="where the plots go")
    ap.add_argument("--quick", action="store_true", help="smoke run: small budgets, 1 seed")
    args = ap.parse_args()
    args.hbmpi = os.path.abspath(args.hbmpi)
    kernels = args.kernels.split(",")
    methods = args.methods.split(",")
    if args.quick:
        args.seeds, args.population = 1, 4
    for k in kernels:
        if k not in KERNELS:
            ap.error(f"--kernels: unknown '{k}' (known: {', '.join(KERNELS)})")
    t0 = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory(prefix="hb-bench-pbt-") as tmp:
        pop = [m for m in methods if m in ("pbt", "pb2")]
        rest = [m for m in methods if m not in pop]
        for phase in (pop, rest):  # the population methods first: their budget caps the others
            todo = [(k, m, s) for k in kernels for s in range(args.seeds) for m in phase]
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
                futs = {}
                for k, m, s in todo:
                    spent = [r["budget_spent"] for r in runs if r["kernel"] == k and r["seed"] == s]
                    futs[ex.submit(one, args, k, m, s, tmp, max(spent) if spent else None)] = (k, m, s)
                for f in concurrent.futures.as_completed(futs):
                    r = f.result()
                    runs.append(r)
                    log(f"{r['kernel']:10} {r['method']:9} seed {r['seed']}: final {r['final_loss']}, "
                        f"{r['trials']} trials, spent {r['budget_spent']}, {r['wall_seconds']} s")
        runs.sort(key=lambda r: (r["kernel"], r["method"], r["seed"]))
        summary = {}
        for k in kernels:
            summary[k] = {}
            log(f"\n{k}: final loss (best trial at the max budget), median [q1, q3] over {args.seeds} seeds")
            for m in methods:
                rs = [r for r in runs if r["kernel"] == k and r["method"] == m]
                v = [r["final_loss"] for r in rs if r["final_loss"] is not None]
                q1, med, q3 = quartiles(v)
                spent = statistics.median(r["budget_spent"] for r in rs) if rs else None
                summary[k][m] = {"final_loss": v, "median": med, "q1": q1, "q3": q3,
                                 "budget_spent_median": spent,
                                 "wall_seconds_median": statistics.median(r["wall_seconds"] for r in rs) if rs else None}
                log(f"  {m:9} {med} [{q1}, {q3}]  spent {spent}")
            # the best PBT run's population and schedule, drawn by hbmpi report --plot
            pbt = [r for r in runs if r["kernel"] == k and r["method"] == "pbt" and r["final_loss"] is not None]
            if pbt and args.svg_dir:
                best = min(pbt, key=lambda r: r["final_loss"])
                os.makedirs(args.svg_dir, exist_ok=True)
                svg = os.path.join(args.svg_dir, f"pbt_{k}{'_quick' if args.quick else ''}.svg")
                p = subprocess.run([args.hbmpi, "report", best["run_file"], "--plot", svg], capture_output=True,
                                   text=True)
                summary[k]["pbt_plot"] = os.path.relpath(svg, HERE) if p.returncode == 0 else None
                summary[k]["pbt_plot_seed"] = best["seed"]
        for r in runs:
            del r["run_file"]
    out = {"benchmark": "pbt", "settings": {"kernels": {k: KERNELS[k] for k in kernels}, "methods": methods,
                                            "seeds": args.seeds, "population": args.population,
                                            "quick": args.quick},
           "summary": summary, "runs": runs, "wall_seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
