#!/usr/bin/python3
"""CPU use of waiting hbmpi processes (DESIGN.md contract 6: the master never spins).

Runs hbmpi with long evaluations (`--kernel branin --eval-delay S`: each evaluation sleeps S
seconds at the max budget) and samples utime + stime from /proc/<pid>/stat of every hbmpi
process: under mpirun, the hbmpi processes below that mpirun (the rank is read from
OMPI_COMM_WORLD_RANK in /proc/<pid>/environ); alone, the one process. The CPU share over a
window of the run (by default its middle half) is reported as % of one core:

  serial        hbmpi alone: one process that evaluates itself (sleeps in the evaluation)
  mpi2          mpirun -n 2: rank 0 waits for results, rank 1 sleeps in its evaluations
  mpi3          mpirun -n 3 (oversubscribed on 2 cores): the same with two workers
  mpi3_idle     mpirun -n 3 with 3 evaluations: in the second half one worker has no job
                and waits for one (polling with backoff), the window is that half

Each process's share is reported twice: from utime + stime in /proc/<pid>/stat (ticks of
1/CLK_TCK s, so about 1 % resolution over a 1 s window) and from the run time in nanoseconds
summed over /proc/<pid>/task/*/schedstat; the check uses the second where the kernel has it.
Target: under 5 % of a core for the master and for every worker. With --check, a miss makes
the exit status 1 (this is a test of behaviour, used by ctest -L bench).

Standard library only. Output: one JSON object (stdout or --out), a table on stderr.
Exit status: 0 fine; 1 a run failed (or, with --check, a process used >= the limit); 2 usage.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from benchlib import MPI_ENV, ROOT, git_commit, log, write_result
CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_stat(pid):
    """(ppid, comm, cpu seconds = utime + stime of all its threads), or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    lp, rp = s.find("("), s.rfind(")")
    comm, rest = s[lp + 1:rp], s[rp + 2:].split()
    # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15
    return int(rest[1]), comm, (int(rest[11]) + int(rest[12])) / CLK_TCK


def run_ns(pid):
    """CPU seconds of all threads of 'pid' from /proc/<pid>/task/*/schedstat (nanoseconds, so
    precise over short windows, unlike the 1/CLK_TCK ticks of stat), or None."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    return total * 1e-9


def rank_of(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            for kv in f.read().split(b"\0"):
                if kv.startswith(b"OMPI_COMM_WORLD_RANK="):
                    return int(kv.split(b"=", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def descendants(root):
    """Pids of all processes below 'root' (from one scan of /proc)."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st:
                parent[int(name)] = st[0]
    out, frontier = [], {root}
    while frontier:
        nxt = {p for p, pp in parent.items() if pp in frontier}
        out.extend(nxt)
        frontier = nxt
    return out


def run_case(args, name, ranks, evals, delay, window, env):
    cmd = [args.hbmpi, "run", "--kernel", "branin", "--optimizer", "random", "--max-evals", str(evals),
           "--eval-delay", "%g" % delay, "--json", "--quiet"]
    if ranks > 0:
        cmd = [args.mpirun, "-n", str(ranks)] + cmd
    rec = {"case": name, "ranks": ranks, "evaluations": evals, "eval_delay": delay, "window": window,
           "command": " ".join(cmd)}
    devnull = open(os.devnull, "rb")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    procs = {}   # pid -> {"rank", "role", "samples": [(t, cpu)]}
    launcher = []
    expected = max(ranks, 1)
    try:
        while p.poll() is None:
            now = time.monotonic() - t0
            if ranks == 0:
                pids = [p.pid]
            elif len(procs) < expected:
                pids = [q for q in descendants(p.pid) if (read_stat(q) or (0, ""))[1] == "hbmpi"]
            else:
                pids = list(procs)
            for q in pids:
                st = read_stat(q)
                if st is None:
                    continue
                if q not in procs:
                    rk = 0 if ranks == 0 else rank_of(q)
                    procs[q] = {"pid": q, "rank": rk,
                                "role": "serial" if ranks == 0 else ("master" if rk == 0 else "worker"),
                                "samples": [], "ns_samples": []}
                procs[q]["samples"].append((now, st[2]))
                ns = run_ns(q)
                if ns is not None:
                    procs[q]["ns_samples"].append((now, ns))
            if ranks > 0:
                st = read_stat(p.pid)
                if st:
                    launcher.append((now, st[2]))
            if now > args.timeout:
                p.kill()  # our own mpirun, by its pid
                rec["error"] = "timed out after %s s" % args.timeout
                break
            time.sleep(args.interval)
        out, err = p.communicate()
    finally:
        devnull.close()
        if p.poll() is None:
            p.kill()
            p.wait()
    rec["process_wall_seconds"] = round(time.monotonic() - t0, 3)
    if p.returncode != 0 and "error" not in rec:
        rec["error"] = "exit %d: %s" % (p.returncode, err.decode("utf-8", "replace")[-500:])
    try:
        tot = json.loads(out)["totals"]
        rec["hbmpi_wall_seconds"] = tot["wall_seconds"]
    except (ValueError, KeyError):
        pass
    if len(procs) < expected and "error" not in rec:
        rec["error"] = "found %d of %d hbmpi processes" % (len(procs), expected)

    def share(samples, lo_f, hi_f):
        """% of a core over the part [lo_f, hi_f] of the time the process was seen."""
        if len(samples) < 2:
            return None, None
        a, b = samples[0][0], samples[-1][0]
        lo, hi = a + lo_f * (b - a), a + hi_f * (b - a)
        inside = [s for s in samples if lo <= s[0] <= hi]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None, None
        dt = inside[-1][0] - inside[0][0]
        return 100.0 * (inside[-1][1] - inside[0][1]) / dt, dt

    rows = []
    for q in sorted(procs.values(), key=lambda x: (x["rank"] is None, x["rank"])):
        pct, dt = share(q["samples"], *window)
        whole, _ = share(q["samples"], 0.0, 1.0)
        pct_ns, _ = share(q["ns_samples"], *window)
        rows.append({"pid": q["pid"], "rank": q["rank"], "role": q["role"],
                     "cpu_percent": None if pct is None else round(pct, 2),
                     "cpu_percent_schedstat": None if pct_ns is None else round(pct_ns, 3),
                     "window_seconds": None if dt is None else round(dt, 2),
                     "cpu_percent_whole_run": None if whole is None else round(whole, 2),
                     "cpu_seconds": round(q["samples"][-1][1], 2) if q["samples"] else None})
    rec["processes"] = rows
    if launcher:
        pct, _ = share(launcher, *window)
        rec["mpirun_cpu_percent"] = None if pct is None else round(pct, 2)
    for key in ("cpu_percent", "cpu_percent_schedstat"):
        masters = [r[key] for r in rows if r["role"] in ("master", "serial") and r[key] is not None]
        workers = [r[key] for r in rows if r["role"] == "worker" and r[key] is not None]
        suffix = key[len("cpu_percent"):]
        rec["master_cpu_percent" + suffix] = max(masters) if masters else None
        rec["max_worker_cpu_percent" + suffix] = max(workers) if workers else None
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hbmpi", default=os.path.join(ROOT, "build", "hbmpi"))
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--delay", type=float, default=None, help="seconds per evaluation (default 2; quick 0.6)")
    ap.add_argument("--evals", type=int, default=None,
                    help="evaluations per worker of the serial, mpi2 and mpi3 runs (default 6; quick 4)")
    ap.add_argument("--cases", default="serial,mpi2,mpi3,mpi3_idle")
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between samples")
    ap.add_argument("--limit", type=float, default=5.0, help="the target, % of a core")
    ap.add_argument("--check", action="store_true", help="exit 1 if a process uses >= --limit")
    ap.add_argument("--quick", action="store_true", help="short evaluations, for a smoke test")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--out", help="write the JSON here (else stdout)")
    args = ap.parse_args()
    delay = args.delay if args.delay is not None else (0.6 if args.quick else 2.0)
    evals = args.evals if args.evals is not None else (4 if args.quick else 6)
    if delay <= 0 or evals < 1:
        ap.error("--delay and --evals must be positive")
    if not os.access(args.hbmpi, os.X_OK):
        ap.error("%s is not an executable (build the project first)" % args.hbmpi)
    env = dict(os.environ)
    for k, v in MPI_ENV.items():
        env.setdefault(k, v)
    # name: (ranks (0 = alone), evaluations, seconds each, window as fractions of the run)
    all_cases = {
        "serial": (0, evals, delay, (0.25, 0.75)),
        "mpi2": (2, evals, delay, (0.25, 0.75)),
        "mpi3": (3, 2 * evals, delay, (0.25, 0.75)),
        # 3 evaluations on 2 workers, each 2 x delay: in the second half one worker is idle
        "mpi3_idle": (3, 3, 2 * delay, (0.6, 0.9)),
    }
    names = [c for c in args.cases.split(",") if c]
    for c in names:
        if c not in all_cases:
            ap.error("unknown case %r (one of %s)" % (c, ",".join(all_cases)))

    t_start = time.monotonic()
    runs, failed = [], 0
    for name in names:
        ranks, evals, d, window = all_cases[name]
        rec = run_case(args, name, ranks, evals, d, window, env)
        failed += "error" in rec
        runs.append(rec)
        if "error" in rec:
            log("%-10s FAILED: %s" % (name, rec["error"]))
            continue
        log("%-10s %s, window %.0f-%.0f %% of the run (%.1f s real):" % (
            name, "alone" if ranks == 0 else "mpirun -n %d" % ranks, 100 * window[0], 100 * window[1],
            rec["process_wall_seconds"]))
        for r in rec["processes"]:
            log("    rank %-4s %-7s %6s %% of a core in the window (%s s; schedstat %s %%), %6s %% over the run" % (
                r["rank"], r["role"], r["cpu_percent"], r["window_seconds"], r["cpu_percent_schedstat"],
                r["cpu_percent_whole_run"]))
        if "mpirun_cpu_percent" in rec:
            log("    mpirun           %6s %%" % rec["mpirun_cpu_percent"])

    checks = []
    for rec in runs:
        for r in rec.get("processes", []):
            v = r["cpu_percent_schedstat"] if r["cpu_percent_schedstat"] is not None else r["cpu_percent"]
            if v is None:
                continue
            checks.append({"case": rec["case"], "rank": r["rank"], "role": r["role"], "cpu_percent": v,
                           "cpu_percent_stat": r["cpu_percent"], "target": "< %g" % args.limit,
                           "pass": v < args.limit})
    all_pass = bool(checks) and all(c["pass"] for c in checks) and not failed
    result = {
        "benchmark": "idle_cpu",
        "settings": {"hbmpi": args.hbmpi, "git_commit": git_commit(), "mpirun": args.mpirun, "delay": delay,
                     "evals_per_worker": evals, "interval": args.interval, "limit_percent": args.limit,
                     "quick": args.quick, "clk_tck": CLK_TCK, "cpus": os.cpu_count(),
                     "python": platform.python_version(), "mpi_env": {k: env[k] for k in MPI_ENV}},
        "runs": runs,
        "checks": checks,
        "all_pass": all_pass,
        "wall_seconds": round(time.monotonic() - t_start, 2),
    }
    for c in checks:
        if not c["pass"]:
            log("MISS: %s rank %s (%s) used %.2f %% of a core (target %s)" % (
                c["case"], c["rank"], c["role"], c["cpu_percent"], c["target"]))
    log("all under %g %%: %s; total wall time %.1f s" % (args.limit, "yes" if all_pass else "NO",
                                                        result["wall_seconds"]))
    write_result(result, args.out)
    if failed:
        return 1
    return 1 if args.check and not all_pass else 0


if __name__ == "__main__":
    sys.exit(main())
