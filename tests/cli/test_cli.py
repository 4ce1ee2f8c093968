#!/usr/bin/env python3
"""Integration tests of the hbmpi command: real processes, real mpirun.

usage: test_cli.py --hbmpi PATH --data DIR [--mpirun PATH] [--np N] GROUP
GROUP is one of: help usage bad_spaces eval_vectors kernels run_random run_mpi.
Ends with a line 'N passed, M failed'; exits 1 if anything failed.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish  # noqa: E402

ARGS = None


def hbmpi(*argv, cwd=None, mpi_np=None):
    cmd = [ARGS.hbmpi, *argv]
    if mpi_np is not None:
        cmd = [ARGS.mpirun, "-n", str(mpi_np), *cmd]
    p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=240)
    return p.returncode, p.stdout, p.stderr


# ---------------------------------------------------------------- help
def group_help():
    for argv, first in [(["--help"], "usage: hbmpi COMMAND"), (["run", "--help"], "usage: hbmpi run"),
                        (["eval", "--help"], "usage: hbmpi eval"),
                        (["kernels", "--help"], "usage: hbmpi kernels"),
                        (["space", "--help"], "usage: hbmpi space"),
                        (["space", "check", "--help"], "usage: hbmpi space check"),
                        (["space", "sample", "x.json", "--help"], "usage: hbmpi space")]:
        rc, out, err = hbmpi(*argv)
        check(rc == 0 and out.startswith(first) and err == "", f"{argv}: rc={rc} out={out[:60]!r}")
    rc, out, err = hbmpi("--version")
    check(rc == 0 and re.match(r"hbmpi \d+\.\d+\.\d+\n", out) and "HDF5: 1.10" in out
          and "MPI: Open MPI" in out, f"--version: {out!r}")
    rc, out, err = hbmpi()
    check(rc == 2 and "usage: hbmpi" in err and out == "", "hbmpi alone: exit 2 with usage on stderr")
    # --help tells the truth: every option it lists for run and eval is accepted.
    for cmd, base in [("run", ["--kernel", "branin", "--max-evals", "2", "--quiet"]),
                      ("eval", ["--kernel", "counting_ones", "--budget", "9", "--config", "{}"])]:
        _, text, _ = hbmpi(cmd, "--help")
        opts = re.findall(r"^  (--[a-z-]+)( [A-Za-z]+)?", text, re.M)
        check(len(opts) >= 4, f"{cmd} --help lists its options")
        values = {"--kernel": ["branin" if cmd == "run" else "counting_ones"], "--optimizer": ["random"],
                  "--min-budget": ["1"], "--max-budget": ["9"], "--eta": ["3"], "--seed": ["4"],
                  "--max-evals": ["2"], "--budget": ["9"], "--config": ["{}"],
                  "--bracket-rule": ["hpbandster"], "--acquisition": ["pi"], "--grid-points": ["3"],
                  "--iterations": ["1", "--optimizer", "sh"], "--max-total-budget": ["100"],
                  "--top-n-percent": ["20"], "--random-fraction": ["0.5"]}
        help_out = os.path.join(ARGS.tmp, f"hb-help-{os.getpid()}.h5")
        if os.path.exists(help_out):
            os.unlink(help_out)
        special = {"--space": ["--space", os.path.join(ARGS.data, "good", "native_all.json"), "--max-evals", "2",
                               "--quiet", "--trial-dir", os.path.join(ARGS.tmp, "hb-help-trials"), "--eval-cmd", ARGS.python,
                               "-c", "print(0.5)"],
                   "--eval-cmd": ["--space", os.path.join(ARGS.data, "good", "native_all.json"), "--max-evals",
                                  "2", "--quiet", "--trial-dir", os.path.join(ARGS.tmp, "hb-help-trials"), "--eval-cmd",
                                  ARGS.python, "-c", "print(0.25)"],
                   "--eval-timeout": ["--space", os.path.join(ARGS.data, "good", "native_all.json"), "--max-evals",
                                      "2", "--quiet", "--eval-timeout", "5", "--trial-dir", os.path.join(ARGS.tmp, "hb-help-trials"),
                                      "--eval-cmd", ARGS.python, "-c", "print(1)"],
                   "--eval-grace": ["--space", os.path.join(ARGS.data, "good", "native_all.json"), "--max-evals",
                                    "2", "--quiet", "--eval-grace", "1", "--trial-dir", os.path.join(ARGS.tmp, "hb-help-trials"),
                                    "--eval-cmd", ARGS.python, "-c", "print(1)"],
                   "--trial-dir": ["--space", os.path.join(ARGS.data, "good", "native_all.json"), "--max-evals",
                                   "2", "--quiet", "--trial-dir", os.path.join(ARGS.tmp, "hb-help-trials"), "--eval-cmd",
                                   ARGS.python, "-c", "print(1)"],
                   "--eval-server": ["--space", os.path.join(ARGS.data, "good", "native_all.json"), "--max-evals",
                                     "2", "--quiet", "--trial-dir", os.path.join(ARGS.tmp, "hb-help-trials"),
                                     "--eval-server", ARGS.python, "-c",
                                     "import os\nfor job in os.fdopen(int(os.environ['HB_JOBS_FD'])):\n"
                                     "    os.write(int(os.environ['HB_ANSWERS_FD']), b'{\"loss\": 0.5}\\n')"],
                   "--sim-cost": base + ["--simulate-workers", "4", "--sim-cost", "budget*2"],
                   "--out": base + ["--out", help_out],
                   "--warm-start": base + ["--optimizer", "bohb", "--warm-start", help_out],
                   "--ranks-per-eval": base + ["--ranks-per-eval", "1"],
                   **{o: ["--kernel", "pbt_toy", "--optimizer", "pbt", "--max-budget", "8", "--quiet", "--trial-dir",
                          os.path.join(ARGS.tmp, "hb-help-trials"), o, v]
                      for o, v in (("--pbt-population", "3"), ("--pbt-interval", "2"), ("--pbt-quantile", "0.4"),
                                   ("--pbt-resample", "0.5"))},
                   "--pbt-start": ["--kernel", "pbt_toy", "--optimizer", "pb2", "--max-budget", "8", "--quiet",
                                   "--pbt-start", os.path.join(ARGS.data, "pbt_start.jsonl")],
                   "--continue-promoted": ["--kernel", "cartpole", "--optimizer", "hyperband", "--max-budget", "81",
                                           "--quiet", "--continue-promoted", "--trial-dir",
                                           os.path.join(ARGS.tmp, "hb-help-trials")]}
        if ARGS.objlib:
            special["--eval-lib"] = ["--space", os.path.join(ARGS.data, "good", "native_all.json"), "--max-evals",
                                     "2", "--quiet", "--eval-lib", ARGS.objlib + ":hbmpi_test_objective"]
        for opt, val in opts:
            if cmd == "run" and opt in special:
                rc, out, err = hbmpi(cmd, *special[opt])
                check(rc == 0, f"{cmd} {opt} (listed in --help) is accepted: rc={rc} {err.strip()}")
                continue
            if cmd == "run" and opt == "--eval-lib":
                continue
            argv = list(base)
            if opt in argv:
                i = argv.index(opt)
                del argv[i:i + 2]
            argv += [opt] + (values.get(opt, ["1"]) if val else [])
            rc, out, err = hbmpi(cmd, *argv)
            check(rc == 0, f"{cmd} {opt} (listed in --help) is accepted: rc={rc} {err.strip()}")


# ---------------------------------------------------------------- usage
USAGE = [
    (["run"], "--kernel or --space"),
    (["run", "--kernel", "nope"], "unknown kernel 'nope'"),
    (["run", "--kernel", "hartmann6", "--max-evals", "0"], "--max-evals"),
    (["run", "--kernel", "hartmann6", "--max-evals", "ten"], "'ten'"),
    (["run", "--kernel", "hartmann6", "--seed", "-1"], "--seed"),
    (["run", "--kernel", "hartmann6", "--seed", "1.5"], "'1.5'"),
    (["run", "--kernel", "hartmann6", "--optimizer", "bohb2"], "unknown optimizer 'bohb2'"),
    (["run", "--kernel", "hartmann6", "--eta", "1"], "--eta"),
    (["run", "--kernel", "hartmann6", "--min-budget", "0"], "--min-budget"),
    (["run", "--kernel", "hartmann6", "--max-budget", "0.5"], "below --min-budget"),
    (["run", "--kernel", "hartmann6", "--min-budget", "nan"], "--min-budget"),
    (["run", "--kernel", "hartmann6", "--bogus"], "unknown option '--bogus'"),
    (["run", "--kernel", "hartmann6", "--json=yes"], "--json takes no value"),
    (["run", "--kernel", "hartmann6", "--seed"], "--seed needs a value"),
    (["run", "--kernel", "hartmann3:4"], "hartmann3:4"),
    (["run", "--kernel", "counting_ones:0+4"], "counting_ones:0+4"),
    (["run", "--kernel", "branin", "--space", "s.json"], "--space replaces a kernel's space"),
    (["run", "--space", "s.json"], "--space needs an objective"),
    (["run", "--kernel", "branin", "--eval-lib", "libx.so"], "--eval-lib: expected PATH:SYMBOL"),
    (["run", "--kernel", "branin", "--eval-lib", "a.so:f", "--eval-cmd", "x"], "not both"),
    (["run", "--kernel", "branin", "--eval-cmd"], "--eval-cmd needs a program"),
    (["run", "--kernel", "branin", "--reproducible", "0"], "--reproducible"),
    (["run", "--kernel", "branin", "--simulate-workers", "0"], "--simulate-workers"),
    (["run", "--kernel", "branin", "--sim-cost", "flat"], "--sim-cost"),
    (["run", "--kernel", "branin", "--sim-cost", "budget*-1"], "--sim-cost"),
    (["run", "--kernel", "branin", "--eval-delay", "-1"], "--eval-delay"),
    (["run", "--kernel", "branin", "--eval-timeout", "0"], "--eval-timeout"),
    (["run", "--kernel", "branin", "--eval-grace", "0"], "--eval-grace"),
    (["run", "--kernel", "branin", "--ranks-per-eval", "0"], "--ranks-per-eval"),
    (["run", "--kernel", "branin", "--worker-timeout", "-1"], "--worker-timeout"),
    (["run", "--kernel", "branin", "--worker-timeout", "soon"], "--worker-timeout"),
    (["run", "--kernel", "branin", "--out"], "--out needs a value"),
    (["run", "--kernel", "branin", "--stop-before-end", "0"], "--stop-before-end"),
    (["run", "--kernel", "branin", "--stop-before-end", "soon"], "'soon'"),
    (["run", "--kernel", "branin", "--out", "/nonexistent/dir/run.h5"], "its directory does not exist"),
    (["run", "--kernel", "branin", "--warm-start", "/nonexistent/old.h5"], "/nonexistent/old.h5"),
    (["run", "--kernel", "branin", "--iterations", "3"], "--iterations applies to sh, hyperband, bohb and asha"),
    (["run", "--kernel", "branin", "--bracket-rule", "li"], "--bracket-rule"),
    (["run", "--kernel", "branin", "--acquisition", "ucb"], "--acquisition"),
    (["run", "--kernel", "branin", "--grid-points", "1"], "--grid-points"),
    (["run", "--kernel", "branin", "--random-fraction", "1.5"], "--random-fraction"),
    (["run", "--kernel", "branin", "--top-n-percent", "100"], "--top-n-percent"),
    (["run", "--kernel", "branin", "--num-samples", "0"], "--num-samples"),
    (["run", "--kernel", "branin", "--max-total-budget", "-5"], "--max-total-budget"),
    (["run", "--kernel", "branin", "--time-limit", "soon"], "--time-limit"),
    (["run", "--kernel", "branin", "--max-open-brackets", "0"], "--max-open-brackets"),
    (["run", "--kernel", "branin", "--continue-promoted"], "kernel 'branin' does not train"),
    (["run", "--kernel", "fmnist_mlp:data=/nonexistent", "--max-evals", "1"], "apt-get install dataset-fashion-mnist"),
    (["eval", "--kernel", "fmnist_mlp:data=/nonexistent", "--budget", "1", "--config", "{}"], "dataset-fashion-mnist"),
    (["run", "--kernel", "fmnist_mlp:foo=1"], "unknown option 'foo=1'"),
    (["run", "--kernel", "cartpole", "--continue-promoted=yes"], "--continue-promoted takes no value"),
    (["plan", "--min-budget", "1"], "--max-budget is required"),
    (["plan", "--max-budget", "81"], "--min-budget is required"),
    (["plan", "--min-budget", "1", "--max-budget", "81", "--eta", "1"], "--eta"),
    (["plan", "--min-budget", "9", "--max-budget", "3"], "below min budget"),
    (["plan", "--min-budget", "1", "--max-budget", "81", "--bracket-rule", "x"], "--bracket-rule"),
    (["report"], "which run file?"),
    (["report", "a.h5", "b.h5"], "one run file at a time"),
    (["report", "a.h5", "--json", "--events"], "give one of"),
    (["report", "a.h5", "--plot", "x.pdf"], "must end in .svg or .png"),
    (["report", "/nonexistent/run.h5"], "cannot open /nonexistent/run.h5"),
    (["sweep", "s.json"], "--out DIR is required"),
    (["sweep", "report"], "which sweep?"),
    (["sweep", "report", "/nonexistent/dir"], "cannot open /nonexistent/dir/sweep.json"),
    (["sweep", "/nonexistent/s.json", "--out", "/nonexistent/out"], "cannot open /nonexistent/s.json"),
    (["sweep", "report", "d", "--json", "--csv", "-"], "give one of"),
    (["eval", "--kernel", "branin", "--budget", "81", "--config", '{"x0": 20}'], "x0"),
    (["eval", "--kernel", "branin", "--budget", "0", "--config", "{}"], "--budget"),
    (["eval", "--kernel", "branin", "--config", "{}"], "--budget is required"),
    (["eval", "--kernel", "branin", "--budget", "1"], "--config is required"),
    (["eval", "--budget", "1", "--config", "{}"], "--kernel is required"),
    (["eval", "--kernel", "branin", "--budget", "1", "--config", '{"x9": 1}'], "unknown parameter 'x9'"),
    (["eval", "--kernel", "branin", "--budget", "1", "--config", "nope"], "not valid JSON"),
    (["eval", "--kernel", "branin", "--budget", "1", "--config", "{}", "--exact"], "--exact"),
    (["eval", "--kernel", "counting_ones", "--budget", "9", "--config", '{"cat_0": 2}'], "cat_0"),
    (["space"], "expected 'check' or 'sample'"),
    (["space", "frob", "x.json"], "unknown subcommand 'frob'"),
    (["space", "check"], "FILE is required"),
    (["space", "check", "a.json", "b.json"], "one FILE only"),
    (["space", "check", "a.json", "--n", "3"], "unknown option '--n'"),
    (["space", "sample", "a.json", "--n", "-1"], "--n"),
    (["kernels", "--csv"], "unknown option '--csv'"),
    (["frob"], "unknown command 'frob'"),
]


def group_usage():
    for argv, needle in USAGE:
        rc, out, err = hbmpi(*argv)
        lines = [l for l in err.splitlines() if l.strip()]
        check(rc == 2, f"{argv}: exit {rc}, expected 2")
        check(len(lines) == 1 and needle in lines[0], f"{argv}: stderr {err!r} should be one line with {needle!r}")
        check(out == "", f"{argv}: nothing on stdout")
    missing = "/nonexistent/space.json"
    rc, out, err = hbmpi("space", "check", missing)
    check(rc == 2 and err.startswith(missing + ": error: cannot open"), f"missing file: {rc} {err!r}")


# ---------------------------------------------------------------- bad spaces
def group_bad_spaces():
    bad = os.path.join(ARGS.data, "bad")
    files = sorted(f for f in os.listdir(bad) if f.endswith(".json"))
    check(len(files) >= 25, "at least 25 malformed space files")
    for f in files:
        want = open(os.path.join(bad, f[:-5] + ".err")).read()
        check(re.match(r"^[\w.]+:\d+:\d+: error: .+\n$", want) is not None, f"{f}.err has FILE:LINE:COL: error:")
        for extra in ([], ["--json"]):
            rc, out, err = hbmpi("space", "check", f, *extra, cwd=bad)
            check(rc == 2 and err == want and out == "", f"{f} {extra}: rc={rc} err={err!r} want={want!r}")
    # `run` reads the space the same way: the NUL byte that once made it spin forever (and ignore
    # SIGTERM) ends it at once with the same error line.
    rc, out, err = hbmpi("run", "--space", "nul_byte.json", "--optimizer", "random", "--max-evals", "2",
                         "--eval-cmd", "/bin/echo", "1", cwd=bad)
    check(rc == 2 and err.startswith("nul_byte.json:2:60: error: a NUL byte"), f"run on nul_byte.json: {rc} {err!r}")
    good = [os.path.join(ARGS.data, "good", f) for f in sorted(os.listdir(os.path.join(ARGS.data, "good")))
            if f.endswith(".json")]
    good += [os.path.join(ARGS.data, "spaces", f) for f in sorted(os.listdir(os.path.join(ARGS.data, "spaces")))
             if f.endswith(".json")]
    for g in good:
        rc, out, err = hbmpi("space", "check", g)
        check(rc == 0 and out.startswith(g + ": ok: ") and err == "", f"{g}: {rc} {out!r} {err!r}")
        rc, out, err = hbmpi("space", "sample", g, "--n", "50", "--seed", "1")
        check(rc == 0 and len(out.splitlines()) == 50, f"sample {g}: {rc} {err!r}")
        check(all(isinstance(json.loads(l), dict) for l in out.splitlines()), f"sample {g} prints JSON objects")


# ---------------------------------------------------------------- kernel vectors through `hbmpi eval`
def fmt(v):
    return json.dumps(v)


def group_eval_vectors():
    vec = json.load(open(os.path.join(ARGS.data, "vectors.json")))
    n = 0
    for name, entry in vec["kernels"].items():
        exact = name == "counting_ones_exact"
        kernel = "counting_ones" if exact else name
        for v in entry["vectors"]:
            argv = ["eval", "--kernel", kernel, "--config", fmt(v["config"])]
            argv += ["--exact"] if exact else ["--budget", repr(v["budget"]), "--seed", str(v["seed"])]
            rc, out, err = hbmpi(*argv)
            tol = max(1e-12, 1e-12 * abs(v["loss"]))
            ok = rc == 0 and len(out.splitlines()) == 1 and abs(float(out) - v["loss"]) <= tol
            check(ok, f"{name} {v.get('note', '')} budget {v['budget']}: got {out.strip()!r} {err.strip()!r}, want {v['loss']!r}")
            n += 1
    check(n == 130, f"all 130 kernel vectors evaluated (got {n})")
    # The printed loss round-trips: %.17g.
    rc, out, _ = hbmpi("eval", "--kernel", "branin", "--budget", "81", "--config", '{"x0": 1, "x1": 2}')
    check(rc == 0 and re.match(r"^-?\d\.\d{16}(e[-+]\d+)?\n$|^-?\d+\.\d+\n$", out), f"eval prints %.17g: {out!r}")


# ---------------------------------------------------------------- kernels listing
def group_kernels():
    rc, out, err = hbmpi("kernels", "--json")
    check(rc == 0, "kernels --json exits 0")
    ks = json.loads(out)["kernels"]
    names = [k["name"] for k in ks]
    check(names == ["hartmann3", "hartmann6", "branin", "currin", "borehole", "counting_ones", "fmnist_mlp",
                    "fmnist_mlp32", "cartpole", "pbt_toy"], f"names {names}")
    want_opt = {"hartmann3": -3.86277978733266, "hartmann6": -3.32236801141551, "branin": 0.397887357729738,
                "currin": -13.7987220447284, "borehole": -309.575587660408, "counting_ones": 0.0,
                "fmnist_mlp": None, "fmnist_mlp32": None, "cartpole": -1.0, "pbt_toy": 0.0}
    want_dim = {"hartmann3": 3, "hartmann6": 6, "branin": 2, "currin": 2, "borehole": 8, "counting_ones": 16,
                "fmnist_mlp": 5, "fmnist_mlp32": 5, "cartpole": 5, "pbt_toy": 2}
    want_b = {"counting_ones": (9, 729), "cartpole": (9, 729), "fmnist_mlp": (1, 27), "fmnist_mlp32": (1, 27),
              "pbt_toy": (1, 243)}
    for k in ks:
        check(k["optimum"] == want_opt[k["name"]], f"{k['name']} optimum {k['optimum']}")
        check(k["dim"] == want_dim[k["name"]] == len(k["space"]["parameters"]), f"{k['name']} dim")
        check((k["min_budget"], k["max_budget"]) == want_b.get(k["name"], (1, 81)), f"{k['name']} budget range")
    rc, out, err = hbmpi("kernels")
    check(rc == 0 and len(out.splitlines()) == 11 and out.startswith("name"), "kernels table: header + 10 rows")
    check(any(l.split()[:3] == ["pbt_toy", "2", "1..243"] for l in out.splitlines()), "kernels table lists pbt_toy")
    check(any(l.split()[:3] == ["fmnist_mlp32", "5", "1..27"] and "float32" in l for l in out.splitlines()),
          "kernels table lists fmnist_mlp32, labelled float32")
    # The mutable parameters are marked in the spaces (pbt, pb2 change only those).
    mut = {k["name"]: [p["name"] for p in k["space"]["parameters"] if p.get("mutable")] for k in ks}
    check(mut["pbt_toy"] == ["h0", "h1"], f"pbt_toy mutable {mut['pbt_toy']}")
    for fm in ("fmnist_mlp", "fmnist_mlp32"):
        check(mut[fm] == ["learning_rate", "weight_decay", "momentum"], f"{fm} mutable {mut[fm]}")
    check(mut["cartpole"] == ["learning_rate", "gamma", "entropy_coef", "baseline_lr"],
          f"cartpole mutable {mut['cartpole']}")
    check(all(not m for n, m in mut.items() if n not in ("pbt_toy", "fmnist_mlp", "fmnist_mlp32", "cartpole")),
          "no other mutable")
    rc, out, _ = hbmpi("eval", "--kernel", "pbt_toy", "--budget", "4", "--config", '{"h0": 1, "h1": 0}')
    check(rc == 0 and abs(float(out) - (0.81 * 0.98 ** 8 + 0.81)) < 1e-12, f"eval pbt_toy: {out!r}")


# ---------------------------------------------------------------- runs
TIMING = ("start", "end", "worker")


def strip_timing(rep):
    rep = json.loads(json.dumps(rep))
    for t in rep["trials"]:
        for k in TIMING:
            t.pop(k)
    rep["totals"].pop("wall_seconds")
    rep["totals"].pop("utilisation")
    return rep


def run_json(*extra, mpi_np=None):
    rc, out, err = hbmpi("run", "--kernel", "hartmann6", "--optimizer", "random", *extra, "--json",
                         mpi_np=mpi_np)
    rep = json.loads(out) if rc == 0 else None
    return rc, rep, err


def group_run_random():
    rc, rep, err = run_json("--max-evals", "200", "--seed", "7")
    check(rc == 0, f"run exits 0: {err}")
    check(set(rep) == {"kernel", "optimizer", "seed", "settings", "trials", "best", "totals"}, f"keys {set(rep)}")
    check(rep["kernel"] == "hartmann6" and rep["optimizer"] == "random" and rep["seed"] == 7, "header")
    trials = rep["trials"]
    check(len(trials) == 200, f"200 trials, got {len(trials)}")
    check([t["id"] for t in trials] == list(range(200)), "ids 0..199 in order")
    inside = all(set(t["config"]) == {f"x{i}" for i in range(6)} and
                 all(0.0 <= v <= 1.0 for v in t["config"].values()) for t in trials)
    check(inside, "every configuration inside the space")
    check(all(t["budget"] == 81 and t["status"] == "ok" and t["end"] >= t["start"] >= 0 for t in trials),
          "budget 81, ok, times ordered")
    check(len({json.dumps(t["config"], sort_keys=True) for t in trials}) == 200, "200 distinct configurations")
    # The losses are the kernel's: spot-check through `hbmpi eval`.
    for t in trials[:5]:
        rc2, out, _ = hbmpi("eval", "--kernel", "hartmann6", "--budget", "81", "--config", json.dumps(t["config"]))
        check(rc2 == 0 and float(out) == t["loss"], f"trial {t['id']} loss equals hbmpi eval")
    best = min((t for t in trials), key=lambda t: (t["loss"], t["id"]))
    check(rep["best"]["id"] == best["id"] and rep["best"]["loss"] == best["loss"], "best is the lowest loss")
    check(rep["totals"]["evaluations"] == 200 and rep["totals"]["budget"] == 200 * 81, "totals")
    check(0 <= rep["totals"]["utilisation"] <= 1, "utilisation in [0, 1]")
    rc, again, _ = run_json("--max-evals", "200", "--seed", "7")
    check(strip_timing(again) == strip_timing(rep), "same seed: identical report (timing aside)")
    rc, other, _ = run_json("--max-evals", "200", "--seed", "8")
    check(rc == 0 and other["trials"][0]["config"] != trials[0]["config"], "another seed: different trials")
    check(strip_timing(other) != strip_timing(rep), "another seed: different report")
    # Defaults: 100 evaluations; the human output ends with the best configuration.
    rc, out, err = hbmpi("run", "--kernel", "branin")
    check(rc == 0 and out.startswith("best loss ") and "x0" in out and "x1" in out, f"human output: {out!r}")
    check("100/100 evaluations" in err, f"progress on stderr says 100/100: {err!r}")
    rc, out, err = hbmpi("run", "--kernel", "branin", "--quiet")
    check(rc == 0 and err == "", "--quiet: nothing on stderr")
    # A kernel with options, categoricals printed as their choices.
    rc, out, err = hbmpi("run", "--kernel", "counting_ones:2+3", "--max-evals", "20", "--json", "--quiet")
    rep = json.loads(out)
    check(rc == 0 and rep["kernel"] == "counting_ones:2+3", "kernel options recorded")
    check(all(set(t["config"]) == {"cat_0", "cat_1", "float_0", "float_1", "float_2"} and
              t["config"]["cat_0"] in (0, 1) and isinstance(t["config"]["cat_0"], int) for t in rep["trials"]),
          "counting_ones:2+3 configurations use their choices")
    check(all(t["budget"] == 729 for t in rep["trials"]), "random search at the max budget")


def group_run_mpi():
    np_ = ARGS.np
    # With one logical slot the trials cannot depend on the rank count.
    for opt, extra in [("random", ["--max-evals", "60"]), ("bohb", ["--iterations", "1"])]:
        rc, serial, err = run_json("--optimizer", opt, *extra, "--seed", "11", "--quiet", "--reproducible", "1")
        check(rc == 0, f"serial run: {err}")
        rc, par, err = run_json("--optimizer", opt, *extra, "--seed", "11", "--quiet", "--reproducible", "1", mpi_np=np_)
        check(rc == 0, f"mpirun -n {np_}: exit {rc} {err}")
        check(par is not None and strip_timing(par) == strip_timing(serial),
              f"{opt}, mpirun -n {np_} --reproducible 1: same trials as the serial run")
    # Without --reproducible: every job ran once, on a worker rank when there are any.
    rc, rep, err = run_json("--optimizer", "hyperband", "--seed", "3", "--quiet", mpi_np=np_)
    check(rc == 0 and len(rep["trials"]) == 206, f"hyperband under mpirun -n {np_}: 206 trials ({err})")
    if rc == 0:
        workers = {t["worker"] for t in rep["trials"]}
        want = {0} if np_ == 1 else set(range(1, np_))
        check(workers <= want and (np_ == 1 or len(workers) >= 1), f"workers {workers} within {want}")
        check(sorted(t["id"] for t in rep["trials"]) == list(range(206)), "each job once")
    # Usage errors under mpirun: exit 2, the message printed once (by rank 0).
    rc, out, err = hbmpi("run", "--kernel", "nope", mpi_np=np_)
    check(rc == 2, f"mpirun -n {np_} usage error exits 2 (got {rc})")
    check(err.count("unknown kernel 'nope'") == 1, f"error printed once: {err!r}")


def group_reproducible():
    """--reproducible 4 gives the same trials alone and at -n 2 and -n 3, also with delays."""
    base = ["--optimizer", "bohb", "--iterations", "1", "--seed", "21", "--quiet", "--reproducible", "4",
            "--eval-delay", "0.002"]
    rc, serial, err = run_json(*base)
    check(rc == 0, f"serial: {err}")
    for n in (2, 3):
        rc, par, err = run_json(*base, mpi_np=n)
        check(rc == 0 and strip_timing(par) == strip_timing(serial), f"--reproducible 4 at -n {n} equals serial ({err})")
    rc, other, err = run_json(*base[:-4], "--reproducible", "2")
    check(rc == 0 and strip_timing(other) != strip_timing(serial), "another W gives other trials")
    # Parallel really is parallel: 3 workers with a 0.2 s delay at the max budget.
    import time
    t0 = time.monotonic()
    rc, par, err = run_json("--max-evals", "9", "--eval-delay", "0.2", "--quiet", mpi_np=4)
    took = time.monotonic() - t0
    check(rc == 0 and took < 9 * 0.2 * 0.8, f"9 evaluations of 0.2 s on 3 workers took {took:.2f} s")
    if rc == 0:
        check(par["totals"]["utilisation"] > 0.5, f"utilisation {par['totals']['utilisation']}")


def group_simulate():
    for opt in ("asha", "hyperband", "bohb"):
        rc, out, err = hbmpi("run", "--kernel", "hartmann6", "--optimizer", opt, "--simulate-workers", "64",
                             "--sim-cost", "budget", "--iterations", "20", "--json", "--quiet")
        if not check(rc == 0, f"{opt} simulated: {err}"):
            continue
        rep = json.loads(out)
        tot = rep["totals"]
        check(tot["utilisation"] > 0.8, f"{opt} at 64 simulated workers: utilisation {tot['utilisation']}")
        busy = sum(t["end"] - t["start"] for t in rep["trials"])
        check(abs(busy - tot["budget"]) < 1e-6 * tot["budget"], f"{opt}: simulated cost equals the budget")
        check(max(t["worker"] for t in rep["trials"]) <= 64, "virtual workers 1..64")
        rc2, out2, _ = hbmpi("run", "--kernel", "hartmann6", "--optimizer", opt, "--simulate-workers", "64",
                             "--sim-cost", "budget", "--iterations", "20", "--json", "--quiet")
        check(rc2 == 0 and json.loads(out2) == rep, f"{opt}: a simulation is deterministic, times included")
    rc, out, err = hbmpi("run", "--kernel", "branin", "--optimizer", "asha", "--simulate-workers", "1000",
                         "--sim-cost", "budget*0.5", "--sim-noise", "0.3", "--iterations", "30", "--json", "--quiet")
    check(rc == 0 and json.loads(out)["totals"]["wall_seconds"] > 0, f"1000 simulated workers with noise: {err}")


# ---------------------------------------------------------------- plan
DESIGN_TABLE = """s=4: 81@1 27@3 9@9 3@27 1@81  (budget 405)
s=3: 34@3 11@9 3@27 1@81  (budget 363)
s=2: 15@9 5@27 1@81  (budget 351)
s=1: 8@27 2@81  (budget 378)
s=0: 5@81  (budget 405)
"""


def group_plan():
    rc, out, err = hbmpi("plan", "--min-budget", "1", "--max-budget", "81", "--eta", "3")
    check(rc == 0 and err == "", f"plan exits 0: {err!r}")
    check(DESIGN_TABLE in out, f"plan prints DESIGN.md's table:\n{out}")
    check("one iteration: 5 brackets, 143 configurations, budget 1902" in out, "plan totals")
    rc, out, err = hbmpi("plan", "--min-budget", "1", "--max-budget", "81", "--json")
    plan = json.loads(out)
    want = [(4, [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]), (3, [(34, 3), (11, 9), (3, 27), (1, 81)]),
            (2, [(15, 9), (5, 27), (1, 81)]), (1, [(8, 27), (2, 81)]), (0, [(5, 81)])]
    got = [(b["s"], [(r["n"], r["budget"]) for r in b["rungs"]]) for b in plan["brackets"]]
    check(rc == 0 and got == want, f"plan --json brackets: {got}")
    rc, out, _ = hbmpi("plan", "--min-budget", "9", "--max-budget", "729", "--bracket-rule", "hpbandster", "--json")
    firsts = [b["rungs"][0]["n"] for b in json.loads(out)["brackets"]]
    check(firsts == [81, 27, 9, 6, 5], f"hpbandster rule first rungs: {firsts}")


# ---------------------------------------------------------------- every optimizer end to end
def group_optimizers():
    budgets = {1.0, 3.0, 9.0, 27.0, 81.0}
    for opt in ["random", "grid", "sh", "hyperband", "bohb", "tpe", "gp", "asha"]:
        extra = ["--max-evals", "40"] if opt in ("tpe", "gp") else []
        rc, out, err = hbmpi("run", "--kernel", "branin", "--optimizer", opt, "--seed", "5", "--json", "--quiet", *extra)
        if not check(rc == 0, f"{opt}: exit {rc} {err}"):
            continue
        rep = json.loads(out)
        t = rep["trials"]
        check(rep["optimizer"] == opt and len(t) > 0, f"{opt}: report")
        inside = all(-5 <= x["config"]["x0"] <= 10 and 0 <= x["config"]["x1"] <= 15 for x in t)
        check(inside, f"{opt}: configurations inside the space")
        brackets = opt in ("sh", "hyperband", "bohb", "asha")
        check(all(x["budget"] in budgets for x in t), f"{opt}: budgets on the rungs 1..81")
        check(all((x["bracket"] is not None) == brackets and (x["stage"] is not None) == brackets for x in t),
              f"{opt}: bracket and stage set exactly for the bracket optimisers")
        if opt in ("hyperband", "bohb"):
            check(len(t) == 206 and rep["totals"]["budget"] == 1902, f"{opt}: one iteration by default ({len(t)})")
        if opt in ("random", "tpe", "gp"):
            check(all(x["budget"] == 81 for x in t), f"{opt}: single fidelity at the max budget")
        rc2, out2, _ = hbmpi("run", "--kernel", "branin", "--optimizer", opt, "--seed", "5", "--json", "--quiet", *extra)
        check(rc2 == 0 and strip_timing(json.loads(out2)) == strip_timing(rep), f"{opt}: same seed, same report")
    rc, out, err = hbmpi("run", "--kernel", "branin", "--optimizer", "grid", "--grid-points", "3", "--json", "--quiet")
    t = json.loads(out)["trials"]
    pts = sorted((x["config"]["x0"], x["config"]["x1"]) for x in t)
    check(rc == 0 and pts == sorted((a, b) for a in (-5.0, 2.5, 10.0) for b in (0.0, 7.5, 15.0)),
          f"grid 3x3 on branin then done: {pts}")
    rc, out, err = hbmpi("run", "--kernel", "branin", "--optimizer", "hyperband", "--max-total-budget", "500",
                         "--json", "--quiet")
    check(rc == 0 and json.loads(out)["totals"]["budget"] <= 500, "--max-total-budget holds")
    rc, out, err = hbmpi("run", "--kernel", "branin", "--optimizer", "asha", "--iterations", "2", "--json", "--quiet")
    check(rc == 0 and 1902 < json.loads(out)["totals"]["budget"] <= 2 * 1902, "asha --iterations 2: two iterations' budget")
    import time
    t0 = time.monotonic()
    rc, out, err = hbmpi("run", "--kernel", "branin", "--max-evals", "100000000", "--time-limit", "0.3", "--quiet")
    took = time.monotonic() - t0
    m = re.search(r"trial \d+ of (\d+)", out)
    check(rc == 0 and took < 10 and m and 1000 < int(m.group(1)) < 100000000,
          f"--time-limit stops a run of 10^8 evaluations: {took:.1f} s, {out[:80]!r}")


# ---------------------------------------------------------------- user objectives end to end
def hb_procs(word):
    """Processes whose command line mentions 'word' (a zombie has an empty one: check state)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        if word in cmd or word in name:
            found.append((int(pid), state, cmd or name))
    return found


EXPECT = {"ok": ("ok", None), "crash": ("crashed", "signal 6"), "segv": ("crashed", "signal 11"),
          "hang": ("timeout", "timed out"), "hang_ignoring_sigterm": ("timeout", "timed out"),
          "garbage": ("failed", "hello"), "nan": ("nan", None), "nonzero": ("failed", "exit status 3"),
          "json": ("ok", None), "orphan": ("ok", None), "env": ("ok", None)}


def group_objectives():
    import tempfile
    badobj = os.path.join(ARGS.objdir, "badobj")
    space = os.path.join(ARGS.data, "good", "badobj_space.json")
    for np_ in (None, 3):
        with tempfile.TemporaryDirectory() as tmp:
            rc, out, err = hbmpi("run", "--space", space, "--optimizer", "grid", "--grid-points", "2", "--json",
                                 "--quiet", "--trial-dir", os.path.join(tmp, "trials"), "--eval-timeout", "1",
                                 "--eval-grace", "0.5", "--eval-cmd", badobj, mpi_np=np_)
            label = f"mpirun -n {np_}" if np_ else "alone"
            if not check(rc == 0, f"{label}: the run completes: rc={rc} {err[-500:]}"):
                continue
            rep = json.loads(out)
            t = rep["trials"]
            check(len(t) == 22, f"{label}: 11 modes x 2 grid values = 22 trials, got {len(t)}")
            for tr in t:
                mode = tr["config"]["mode"]
                st, why = EXPECT[mode]
                ok = tr["status"] == st and (why is None or why in tr.get("reason", ""))
                check(ok, f"{label}: mode {mode}: status {tr['status']!r} reason {tr.get('reason')!r}, want {st} / {why}")
                if st == "ok":
                    check(tr["loss"] is not None and "reason" not in tr, f"{label}: {mode} has a loss, no reason")
                if mode == "json":
                    check(tr.get("extras", {}).get("acc") is not None, f"{label}: json extras kept: {tr.get('extras')}")
            hung = [tr for tr in t if tr["config"]["mode"].startswith("hang")]
            check(all(tr["end"] - tr["start"] < 5 for tr in hung), f"{label}: hung trials stopped in time")
            left = [p for p in hb_procs(badobj)]
            check(left == [], f"{label}: no badobj process (zombie or orphan) remains: {left}")


def group_injection():
    import tempfile
    badobj = os.path.join(ARGS.objdir, "badobj")
    space = os.path.join(ARGS.data, "good", "injection_space.json")
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([ARGS.hbmpi, "run", "--space", space, "--optimizer", "grid", "--json", "--quiet",
                            "--trial-dir", "trials", "--eval-cmd", badobj], cwd=tmp, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, f"injection run: {p.stderr}")
        seen = set()
        for root, _, files in os.walk(tmp):
            check(not any(f.startswith("pwned") for f in files), f"nothing was executed: {files} in {root}")
            if "argv.bin" in files:
                argv = open(os.path.join(root, "argv.bin"), "rb").read().split(b"\0")[:-1]
                seen.update(a.decode() for a in argv if a.startswith(b"--s="))
        want = {"--s=$(touch pwned); echo x", "--s=a b;`touch pwned2`", "--s=|| touch pwned3 &"}
        check(seen == want, f"each value arrived verbatim as one argument: {seen}")


def group_ranks_per_eval():
    import tempfile
    space = os.path.join(ARGS.data, "good", "unit_x.json")
    lib = os.path.join(ARGS.objdir, "libgroup.so") + ":hbmpi_group_objective"
    # 5 ranks: the master and two groups of two; every trial ran on a group of 2.
    rc, out, err = hbmpi("run", "--space", space, "--max-evals", "12", "--json", "--quiet", "--ranks-per-eval", "2",
                         "--eval-lib", lib, mpi_np=5)
    if check(rc == 0, f"library objective on groups of 2: {err[-400:]}"):
        t = json.loads(out)["trials"]
        check(len(t) == 12 and all(x["status"] == "ok" for x in t), f"all ok: {[x.get('reason') for x in t]}")
        check(all(abs(x["loss"] - (2 + x["config"]["x"])) < 1e-12 for x in t), "each group summed over its 2 ranks")
        check({x["worker"] for x in t} <= {1, 3}, f"jobs went to the group leaders 1 and 3: {({x['worker'] for x in t})}")
    # A command gets HB_NRANKS and HB_HOSTS for its own parallel program.
    with tempfile.TemporaryDirectory() as tmp:
        envspace = os.path.join(tmp, "env.json")
        open(envspace, "w").write('{"parameters": [{"name": "mode", "type": "constant", "value": "env"}]}')
        rc, out, err = hbmpi("run", "--space", envspace, "--max-evals", "2", "--json", "--quiet", "--ranks-per-eval",
                             "3", "--trial-dir", os.path.join(tmp, "trials"), "--eval-cmd",
                             os.path.join(ARGS.objdir, "badobj"), mpi_np=4)
        check(rc == 0, f"command on a group of 3: {err[-300:]}")
        envs = []
        for root, _, files in os.walk(os.path.join(tmp, "trials")):
            if "env.txt" in files:
                envs.append(dict(l.split("=", 1) for l in open(os.path.join(root, "env.txt")).read().splitlines() if "=" in l))
        check(len(envs) == 2 and all(e["HB_NRANKS"] == "3" and len(e["HB_HOSTS"].split(",")) == 3 for e in envs),
              f"HB_NRANKS and HB_HOSTS: {[(e.get('HB_NRANKS'), e.get('HB_HOSTS')) for e in envs]}")
    rc, out, err = hbmpi("run", "--kernel", "branin", "--ranks-per-eval", "2", mpi_np=4)
    check(rc == 2 and err.count("does not divide") == 1, f"3 workers do not split into 2s: exit 2 once: {rc} {err!r}")


GROUPS = {"help": group_help, "usage": group_usage, "bad_spaces": group_bad_spaces,
          "eval_vectors": group_eval_vectors, "kernels": group_kernels, "run_random": group_run_random,
          "run_mpi": group_run_mpi, "plan": group_plan, "optimizers": group_optimizers,
          "reproducible": group_reproducible, "simulate": group_simulate, "objectives": group_objectives,
          "injection": group_injection, "ranks_per_eval": group_ranks_per_eval}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--objlib", default=None, help="a test objective library (PATH)")
    ap.add_argument("--objdir", default=None, help="where the test objectives were built")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("group", choices=sorted(GROUPS))
    ARGS = ap.parse_args()
    ARGS.hbmpi = os.path.abspath(ARGS.hbmpi)
    ARGS.data = os.path.abspath(ARGS.data)
    if ARGS.objdir:
        ARGS.objdir = os.path.abspath(ARGS.objdir)
    try:
        GROUPS[ARGS.group]()
    except Exception as e:  # a crash in the test is a failure, with its reason
        import traceback
        traceback.print_exc()
        check(False, f"exception: {e}")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
