#!/usr/bin/python3
"""Dispatch throughput of hbmpi under MPI: evaluations per second with a zero-cost kernel.

For each rank count (default `mpirun -n 2` and `-n 3`) and repetition, runs, one after the
other so that machine noise hits all of them alike:

  bench_raw_mpi            a bare MPI request/reply loop with hbmpi's message sizes (job 24 +
                           8 * dim bytes, result 792 bytes), waiting with hbmpi's backoff and
                           with plain blocking calls: the ceiling for hbmpi;
  hbmpi run --kernel branin --optimizer random|hyperband|bohb --json --quiet
                           throughput = totals.evaluations / totals.wall_seconds (the master
                           loop's wall time); the process wall time (mpirun start to exit, which
                           includes MPI start-up and writing the report JSON) is reported too.

Reports medians over repetitions, the ratio hbmpi / raw loop, and checks the targets (printed,
never fatal): random >= 50,000 evaluations/s at -n 2 and within 3x of the raw loop; bohb >=
2,000/s. A scaling part runs hyperband and bohb at growing run lengths, because their cost per
evaluation is not constant.

Standard library only. Output: one JSON object (stdout or --out), a table on stderr.
Exit status: 0 all runs worked; 1 a run failed; 2 bad usage.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import MPI_ENV, ROOT, git_commit, hbmpi_version, log, write_result


# Stop rules per optimiser: long enough that the master loop lasts about 1-2 s on a 2-core
# machine (full) or a few milliseconds (quick).
FULL_CASES = {
    "random": ["--max-evals", "1000000"],
    "hyperband": ["--iterations", "1000"],
    "bohb": ["--iterations", "100"],
}
QUICK_CASES = {
    "random": ["--max-evals", "20000"],
    "hyperband": ["--iterations", "20"],
    "bohb": ["--iterations", "5"],
}
FULL_RAW_JOBS = 1000000
QUICK_RAW_JOBS = 20000
# Scaling part: (optimizer, flag, values, with a serial run too)
SCALING = [
    ("hyperband", "--iterations", [100, 300, 1000, 2000], True),
    ("bohb", "--iterations", [25, 50, 100, 200], True),
]

KERNEL = "branin"
KERNEL_DIM = 2
RESULT_BYTES = 792  # sizeof(wire_result) in mpi/transport_mpi.c

TARGET_RANDOM = 50000.0
TARGET_RANDOM_RAW_FACTOR = 3.0
TARGET_BOHB = 2000.0


def default_path(*parts):
    return os.path.join(ROOT, *parts)


def loadavg():
    """The 1-minute load average before a run: another busy process on a 2-core machine halves
    these figures, so every run records it."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def read_totals(path):
    """The report's "totals" object, read from the end of the file: the report of a million
    trials is hundreds of megabytes and only its last line matters here."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - 8192))
        tail = f.read().decode("utf-8", "replace")
    at = tail.rfind('"totals":')
    if at < 0:
        raise ValueError("no totals in the report")
    obj, _ = json.JSONDecoder().raw_decode(tail[at + len('"totals":'):].lstrip())
    return obj


TRIAL_TIMES = re.compile(r'"start": ([-+.eE0-9]+), "end": ([-+.eE0-9]+)\}')


def trial_stats(path):
    """Round trip of the trials (end - start as the master saw them: send to receipt), streamed
    from the report one trial per line. With a zero-cost kernel this is transport latency; a
    slow tail shows jobs that waited for a sleeping worker or master (the backoff)."""
    d = []
    with open(path) as f:
        for line in f:
            m = TRIAL_TIMES.search(line)
            if m:
                d.append(float(m.group(2)) - float(m.group(1)))
    if not d:
        return None
    d.sort()
    q = lambda p: round(1e6 * d[min(len(d) - 1, int(p * (len(d) - 1) + 0.5))], 2)
    return {"n": len(d), "mean_us": round(1e6 * sum(d) / len(d), 2), "median_us": q(0.5), "p90_us": q(0.9),
            "p99_us": q(0.99), "share_over_50us": round(sum(1 for x in d if x > 50e-6) / len(d), 4)}


def run_hbmpi(args, ranks, optimizer, stop, env, tmpdir):
    """One `hbmpi run`; ranks 0 = alone (no mpirun). Returns a dict of measurements."""
    cmd = [args.hbmpi, "run", "--kernel", KERNEL, "--optimizer", optimizer] + stop + ["--json", "--quiet"]
    if ranks > 0:
        cmd = [args.mpirun, "-n", str(ranks)] + cmd
    out_path = os.path.join(tmpdir, "report.json")
    rec = {"kind": "hbmpi", "optimizer": optimizer, "ranks": ranks, "stop": " ".join(stop), "loadavg": loadavg()}
    t0 = time.monotonic()
    try:
        with open(out_path, "wb") as out, open(os.devnull, "rb") as devnull:
            p = subprocess.run(cmd, stdin=devnull, stdout=out, stderr=subprocess.PIPE, env=env,
                               timeout=args.timeout)
        rec["process_wall_seconds"] = round(time.monotonic() - t0, 4)
        if p.returncode != 0:
            rec["error"] = "exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[-500:])
            return rec
        tot = read_totals(out_path)
        if not args.no_trial_stats:
            rec["round_trip"] = trial_stats(out_path)
    except subprocess.TimeoutExpired:
        rec["error"] = "timed out after %s s" % args.timeout
        return rec
    except (OSError, ValueError) as e:
        rec["error"] = str(e)
        return rec
    finally:
        if os.path.exists(out_path):
            os.unlink(out_path)
    n, w = tot.get("evaluations"), tot.get("wall_seconds")
    rec.update({
        "evaluations": n,
        "wall_seconds": w,
        "utilisation": tot.get("utilisation"),
        "evals_per_s": round(n / w, 1) if n and w else None,
        "evals_per_s_process": round(n / rec["process_wall_seconds"], 1) if n else None,
        "us_per_eval": round(1e6 * w / n, 4) if n and w else None,
    })
    return rec


def run_raw(args, ranks, jobs, env):
    cmd = [args.mpirun, "-n", str(ranks), args.raw, "--jobs", str(jobs), "--dim", str(KERNEL_DIM),
           "--result-bytes", str(RESULT_BYTES), "--warmup", str(min(2000, jobs))]
    rec = {"kind": "raw", "ranks": ranks, "jobs": jobs, "loadavg": loadavg()}
    t0 = time.monotonic()
    try:
        with open(os.devnull, "rb") as devnull:
            p = subprocess.run(cmd, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               timeout=args.timeout)
        rec["process_wall_seconds"] = round(time.monotonic() - t0, 4)
        if p.returncode != 0:
            rec["error"] = "exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[-500:])
            return rec
        d = json.loads(p.stdout)
    except subprocess.TimeoutExpired:
        rec["error"] = "timed out after %s s" % args.timeout
        return rec
    except (OSError, ValueError) as e:
        rec["error"] = str(e)
        return rec
    rec["job_bytes"] = d.get("job_bytes")
    rec["result_bytes"] = d.get("result_bytes")
    for m in d.get("modes", []):
        rec[m["wait"]] = {"jobs_per_s": m["jobs_per_s"], "seconds": m["seconds"], "us_per_job": m["us_per_job"]}
    return rec


def describe(rec):
    if "error" in rec:
        return "FAILED: " + rec["error"]
    if rec["kind"] == "raw":
        return "raw loop: " + ", ".join("%s %.0f jobs/s" % (w, rec[w]["jobs_per_s"])
                                        for w in ("backoff", "blocking") if w in rec)
    rt = rec.get("round_trip")
    return "%s: %d evals in %.3f s = %.0f/s (process %.2f s)%s" % (
        rec["optimizer"], rec["evaluations"], rec["wall_seconds"], rec["evals_per_s"],
        rec["process_wall_seconds"],
        "; round trip mean %.1f us, median %.1f, p90 %.1f, %.1f %% over 50 us" % (
            rt["mean_us"], rt["median_us"], rt["p90_us"], 100 * rt["share_over_50us"]) if rt else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hbmpi", default=default_path("build", "hbmpi"))
    ap.add_argument("--raw", default=default_path("build", "benchmarks", "bench_raw_mpi"),
                    help="the bench_raw_mpi binary")
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--ranks", default=None, help="comma-separated rank counts (default 2,3; quick: 2)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3; quick: 1)")
    ap.add_argument("--optimizers", default="random,hyperband,bohb")
    ap.add_argument("--quick", action="store_true", help="tiny runs, for a smoke test (a few seconds)")
    ap.add_argument("--no-scaling", action="store_true", help="skip the run-length scaling part")
    ap.add_argument("--no-trial-stats", action="store_true",
                    help="do not read the trials' start/end times (round-trip statistics)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", help="write the JSON here (else stdout)")
    args = ap.parse_args()
    ranks = [int(r) for r in (args.ranks or ("2" if args.quick else "2,3")).split(",")]
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    cases = QUICK_CASES if args.quick else FULL_CASES
    optimizers = [o for o in args.optimizers.split(",") if o]
    for o in optimizers:
        if o not in cases:
            ap.error("unknown optimizer %r (one of %s)" % (o, ",".join(cases)))
    if any(r < 2 for r in ranks) or reps < 1:
        ap.error("--ranks must be >= 2 and --reps >= 1")
    for path in (args.hbmpi, args.raw):
        if not os.access(path, os.X_OK):
            ap.error("%s is not an executable (build the project first)" % path)
    raw_jobs = QUICK_RAW_JOBS if args.quick else FULL_RAW_JOBS
    env = dict(os.environ)
    for k, v in MPI_ENV.items():
        env.setdefault(k, v)

    t_start = time.monotonic()
    runs, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="bench_dispatch.") as tmpdir:
        for n in ranks:
            for rep in range(reps):
                log("-- mpirun -n %d, repetition %d/%d (load average %s)" % (n, rep + 1, reps, loadavg()))
                batch = [run_raw(args, n, raw_jobs, env)]
                for o in optimizers:
                    batch.append(run_hbmpi(args, n, o, cases[o], env, tmpdir))
                for r in batch:
                    r["rep"] = rep
                    failed += "error" in r
                    log("   " + describe(r))
                runs.extend(batch)
        scaling = []
        if not args.no_scaling and not args.quick:
            log("-- scaling with run length")
            for opt, flag, values, serial in SCALING:
                for n in ([0, 2] if serial else [2]):
                    for v in values:
                        r = run_hbmpi(args, n, opt, [flag, str(v)], env, tmpdir)
                        failed += "error" in r
                        log("   %s %s %s %d: %s" % ("serial" if n == 0 else "-n %d" % n, opt, flag, v,
                                                     describe(r)))
                        scaling.append(r)

    # Medians per (ranks, kind)
    summary = []
    for n in ranks:
        raw = [r for r in runs if r["kind"] == "raw" and r["ranks"] == n and "error" not in r]
        row = {"ranks": n, "workers": n - 1}
        for w in ("backoff", "blocking"):
            row["raw_%s_jobs_per_s" % w] = median([r[w]["jobs_per_s"] for r in raw if w in r])
        for o in optimizers:
            rs = [r for r in runs if r["kind"] == "hbmpi" and r["optimizer"] == o and r["ranks"] == n
                  and "error" not in r]
            eps = median([r["evals_per_s"] for r in rs])
            row[o] = {
                "evaluations": median([r["evaluations"] for r in rs]),
                "evals_per_s": eps,
                "wall_seconds": median([r["wall_seconds"] for r in rs]),
                "process_wall_seconds": median([r["process_wall_seconds"] for r in rs]),
                "evals_per_s_process": median([r["evals_per_s_process"] for r in rs]),
                "ratio_to_raw_backoff": round(eps / row["raw_backoff_jobs_per_s"], 3)
                if eps and row["raw_backoff_jobs_per_s"] else None,
                "ratio_to_raw_blocking": round(eps / row["raw_blocking_jobs_per_s"], 3)
                if eps and row["raw_blocking_jobs_per_s"] else None,
                "n": len(rs),
            }
            for k in ("mean_us", "p90_us", "share_over_50us"):
                row[o]["round_trip_" + k] = median([r["round_trip"][k] for r in rs if r.get("round_trip")])
        summary.append(row)

    checks = []

    def check(name, value, target, ok):
        checks.append({"check": name, "value": value, "target": target, "pass": ok})

    for row in summary:
        n = row["ranks"]
        if "random" in row:
            eps = row["random"]["evals_per_s"]
            if n == 2:
                check("random_evals_per_s_n2", eps, ">= %d" % TARGET_RANDOM,
                      None if eps is None else eps >= TARGET_RANDOM)
            for w in ("backoff", "blocking"):
                ratio = row["random"]["ratio_to_raw_" + w]
                check("random_within_3x_of_raw_%s_n%d" % (w, n), ratio, ">= %.3f" % (1 / TARGET_RANDOM_RAW_FACTOR),
                      None if ratio is None else ratio >= 1 / TARGET_RANDOM_RAW_FACTOR)
        if "bohb" in row:
            eps = row["bohb"]["evals_per_s"]
            check("bohb_evals_per_s_n%d" % n, eps, ">= %d" % TARGET_BOHB, None if eps is None else eps >= TARGET_BOHB)

    result = {
        "benchmark": "dispatch",
        "settings": {
            "hbmpi": args.hbmpi, "hbmpi_version": hbmpi_version(args.hbmpi), "git_commit": git_commit(),
            "raw": args.raw, "mpirun": args.mpirun, "kernel": KERNEL, "ranks": ranks, "reps": reps,
            "quick": args.quick, "cases": {o: " ".join(cases[o]) for o in optimizers},
            "raw_jobs": raw_jobs, "job_bytes": 24 + 8 * KERNEL_DIM, "result_bytes": RESULT_BYTES,
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "mpi_env": {k: env[k] for k in MPI_ENV},
        },
        "runs": runs,
        "summary": summary,
        "scaling": scaling,
        "checks": checks,
        "failed_runs": failed,
        "wall_seconds": round(time.monotonic() - t_start, 2),
    }

    log("")
    log("medians over %d repetition(s); evals/s = evaluations / totals.wall_seconds" % reps)
    hdr = "%-6s %-12s %12s %12s %10s %10s %9s %9s %9s %8s" % (
        "ranks", "what", "evals/s", "evaluations", "loop s", "process s", "/raw bo", "/raw blk", "rt us", "rt>50us")
    log(hdr)
    for row in summary:
        for w in ("backoff", "blocking"):
            log("%-6d %-12s %12.0f" % (row["ranks"], "raw " + w, row["raw_%s_jobs_per_s" % w] or 0))
        for o in optimizers:
            s = row[o]
            if s["evals_per_s"] is None:
                log("%-6d %-12s FAILED" % (row["ranks"], o))
                continue
            log("%-6d %-12s %12.0f %12d %10.3f %10.2f %9.3f %9.3f %9s %8s" % (
                row["ranks"], o, s["evals_per_s"], s["evaluations"], s["wall_seconds"],
                s["process_wall_seconds"], s["ratio_to_raw_backoff"] or 0, s["ratio_to_raw_blocking"] or 0,
                "-" if s["round_trip_mean_us"] is None else "%.1f" % s["round_trip_mean_us"],
                "-" if s["round_trip_share_over_50us"] is None else "%.1f %%" % (100 * s["round_trip_share_over_50us"])))
    if scaling:
        log("scaling with run length (one run each):")
        for r in scaling:
            if "error" not in r:
                rt = r.get("round_trip") or {}
                log("   %-7s %-9s %-18s %8d evals %8.3f s %10.0f/s %8.2f us/eval  round trip %s us mean" % (
                    "serial" if r["ranks"] == 0 else "-n %d" % r["ranks"], r["optimizer"], r["stop"],
                    r["evaluations"], r["wall_seconds"], r["evals_per_s"], r["us_per_eval"], rt.get("mean_us", "-")))
    for c in checks:
        log("check %-40s %-12s %-10s %s" % (c["check"], c["value"], c["target"],
                                            {True: "PASS", False: "MISS", None: "n/a"}[c["pass"]]))
    log("total wall time %.1f s" % result["wall_seconds"])

    write_result(result, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
