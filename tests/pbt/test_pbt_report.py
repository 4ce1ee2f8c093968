#!/usr/bin/env python3
"""`hbmpi report` on population-based training runs (pbt, pb2): the best model's schedule in the
summary, the report JSON's "schedule" and the figure's population and schedule panels, from real
runs of the toy objective tests/pbt/toy_objective.py under --eval-server, read back with h5py.

  test_pbt_report.py --hbmpi PATH [--python PATH] GROUP
GROUP: schedule | pb2 | plain | plot"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from hbtest import check, finish  # noqa: E402

ARGS = None
SPACE = {"parameters": [
    {"name": "h0", "type": "float", "lower": 0, "upper": 1, "mutable": True},
    {"name": "h1", "type": "float", "lower": 0, "upper": 1, "mutable": True},
    {"name": "width", "type": "int", "lower": 1, "upper": 8}]}
MUTABLE = ("h0", "h1")
SVG = "{http://www.w3.org/2000/svg}"


def run(*argv, timeout=300):
    p = subprocess.run([ARGS.hbmpi, *argv], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def space_file():
    path = os.path.join(ARGS.tmp, "space.json")
    with open(path, "w") as f:
        json.dump(SPACE, f)
    return path


def pbt_run(name, optimizer="pbt", seed=1, population=4):
    """Run the toy objective; (rc, run --json's report, run file, stderr)."""
    out = os.path.join(ARGS.tmp, name + ".h5")
    rc, stdout, err = run("run", "--space", space_file(), "--optimizer", optimizer, "--seed", str(seed),
                          "--min-budget", "4", "--max-budget", "40", "--pbt-population", str(population),
                          "--trial-dir", os.path.join(ARGS.tmp, name + "-trials"), "--out", out, "--json",
                          "--quiet", "--eval-server", ARGS.python, os.path.join(HERE, "toy_objective.py"))
    try:
        rep = json.loads(stdout) if rc == 0 else None
    except ValueError:
        rep = None
    return rc, rep, out, err


def report_json(h5):
    rc, out, err = run("report", h5, "--json")
    check(rc == 0, f"report --json {h5}: rc={rc} {err[-300:]}")
    return json.loads(out) if rc == 0 else {}


def h5_trials(h5):
    """{id: (bracket, previous_id or None)} of the run file's trials table, read with h5py."""
    code = ("import h5py, json, sys\n"
            "t = h5py.File(sys.argv[1], 'r')['trials'][()]\n"
            "print(json.dumps({int(r['id']): [int(r['bracket']), int(r['previous_id'])] for r in t}))\n")
    p = subprocess.run([ARGS.python, "-c", code, h5], capture_output=True, text=True)
    check(p.returncode == 0, f"h5py reads {h5}: {p.stderr[-300:]}")
    if p.returncode != 0:
        return {}
    return {int(k): (v[0], v[1] if v[1] >= 0 else None) for k, v in json.loads(p.stdout).items()}


def check_schedule(rep, h5, what):
    """The schedule's rules against the run's own trials; returns the number of exploits in it."""
    sch = rep.get("schedule")
    check(isinstance(sch, list) and len(sch) > 0, f"{what}: a schedule: {str(sch)[:200]}")
    if not sch:
        return 0
    best = rep["best"]
    ids = {t["id"]: t for t in rep["trials"]}
    check(set(sch[0]) == {"trial", "member", "from_budget", "budget", "loss", "config", "copied_from"},
          f"{what}: the keys of a step: {sorted(sch[0])}")
    check(sch[-1]["trial"] == best["id"] and sch[-1]["loss"] == best["loss"] and sch[-1]["budget"] == best["budget"],
          f"{what}: the schedule ends at the best trial with its loss: {sch[-1]} vs {best}")
    check(sch[0]["from_budget"] == 0 and ids[sch[0]["trial"]]["previous_id"] is None,
          f"{what}: the first step starts from scratch: {sch[0]}")
    check(ids[sch[0]["trial"]]["id"] == ids[best["id"]]["config_id"],
          f"{what}: the first step is the lineage's first job (the best trial's config_id)")
    chained = all(sch[i]["from_budget"] == sch[i - 1]["budget"] for i in range(1, len(sch)))
    check(chained, f"{what}: each step starts at the budget the one before ended: "
                   f"{[(s['from_budget'], s['budget']) for s in sch]}")
    table = h5_trials(h5)
    exploits, linked, copied_right, members, configs, losses = 0, True, True, True, True, True
    for i, s in enumerate(sch):
        t = ids[s["trial"]]
        prev = t["previous_id"]
        if i > 0:
            linked &= prev == sch[i - 1]["trial"] and table.get(s["trial"], (None, None))[1] == prev
        members &= s["member"] == t["bracket"] == table.get(s["trial"], (None,))[0]
        want = None if prev is None or ids[prev]["bracket"] == t["bracket"] else ids[prev]["bracket"]
        copied_right &= s["copied_from"] == want
        exploits += want is not None
        configs &= s["config"] == {k: t["config"][k] for k in MUTABLE}
        losses &= s["loss"] == t["loss"] and s["budget"] == t["budget"]
    check(linked, f"{what}: each step continued the step before (JSON previous_id and the h5 trials table)")
    check(members, f"{what}: member is the trial's bracket")
    check(copied_right, f"{what}: copied_from names the previous step's member exactly where it differs")
    check(configs, f"{what}: config holds the mutable parameters (not 'width') of the step's trial")
    check(losses, f"{what}: each step's loss and budget are its trial's")
    return exploits


def check_text(h5, rep, what):
    rc, txt, err = run("report", h5)
    check(rc == 0, f"{what}: report: rc={rc} {err[-300:]}")
    sch, best = rep.get("schedule") or [], rep.get("best") or {}
    head = re.search(r"^schedule of the best model \(trial (\d+), loss (\S+), lineage of trial (\d+)\):$", txt, re.M)
    check(head is not None and int(head.group(1)) == best.get("id") and abs(float(head.group(2)) - best.get("loss", 1e300)) <= 1e-9 * abs(best.get("loss", 1))
          and int(head.group(3)) == (sch[0]["trial"] if sch else -1),
          f"{what}: the summary names the best trial and its lineage: {head.group(0) if head else txt[-600:]!r}")
    section = txt[head.end():].strip().splitlines() if head else []
    rows = [l.split() for l in section[1:]]
    check(len(rows) == len(sch) and section and section[0].split()[:3] == ["budget", "member", "trial"],
          f"{what}: a header and one line per step: {len(rows)} lines for {len(sch)} steps")
    ok = True
    for s, r in zip(sch, rows):
        ok &= r[0] == f"{s['from_budget']:g}-{s['budget']:g}" and int(r[1]) == s["member"] and int(r[2]) == s["trial"]
        line = " ".join(r)
        copied = re.search(r"copied member (\d+)'s checkpoint \(trial (\d+)\)", line)
        if s["copied_from"] is None:
            ok &= copied is None
        else:
            ok &= copied is not None and int(copied.group(1)) == s["copied_from"] \
                and int(copied.group(2)) == next(t["previous_id"] for t in rep["trials"] if t["id"] == s["trial"])
    check(ok, f"{what}: each line shows the step's budgets, member, trial and the checkpoint it copied:\n"
              + "\n".join(section[:14]))


# ---------------------------------------------------------------- groups
def group_schedule():
    """pbt: seeds until the best model's lineage holds an exploit (there is one within a few)."""
    exploits = 0
    for seed in range(1, 11):
        rc, rep, h5, err = pbt_run(f"pbt{seed}", seed=seed)
        check(rc == 0 and rep is not None, f"pbt seed {seed}: rc={rc} {err[-400:]}")
        if rep is None:
            return
        got = report_json(h5)
        check(got.get("schedule") == rep.get("schedule"), f"seed {seed}: report --json has run --json's schedule")
        check(got.get("optimizer") == "pbt" and "pbt_population" in got.get("settings", {}),
              f"seed {seed}: a pbt run's report")
        exploits = check_schedule(got, h5, f"pbt seed {seed}")
        check_text(h5, got, f"pbt seed {seed}")
        if exploits:
            break
    check(exploits > 0, "within 10 seeds, a best model that copied another member's checkpoint")


def group_pb2():
    rc, rep, h5, err = pbt_run("pb2", optimizer="pb2", seed=3)
    check(rc == 0 and rep is not None, f"pb2: rc={rc} {err[-400:]}")
    if rep is None:
        return
    got = report_json(h5)
    check_schedule(got, h5, "pb2")
    check_text(h5, got, "pb2")


def group_plain():
    """Other optimisers' report JSON has no "schedule", and the summary no schedule section."""
    for opt in ("random", "hyperband"):
        h5 = os.path.join(ARGS.tmp, opt + ".h5")
        rc, out, err = run("run", "--space", space_file(), "--optimizer", opt, "--seed", "2", "--min-budget", "4",
                           "--max-budget", "36", "--max-evals", "12", "--trial-dir",
                           os.path.join(ARGS.tmp, opt + "-trials"), "--out", h5, "--json", "--quiet",
                           "--eval-server", ARGS.python, os.path.join(HERE, "toy_objective.py"))
        check(rc == 0, f"{opt}: rc={rc} {err[-400:]}")
        if rc != 0:
            continue
        check("schedule" not in json.loads(out), f"{opt}: run --json has no schedule")
        got = report_json(h5)
        check(got and "schedule" not in got and "pbt_population" not in got.get("settings", {}),
              f"{opt}: report --json has no schedule, no pbt settings")
        rc, txt, err = run("report", h5)
        check(rc == 0 and "schedule of the best model" not in txt, f"{opt}: no schedule in the summary")


def group_plot():
    """The figure of a pbt run adds the population and the schedule panels (tests/plot checks
    their geometry); other runs keep their four panels."""
    rc, rep, h5, err = pbt_run("plot", seed=4)
    check(rc == 0 and rep is not None, f"pbt: rc={rc} {err[-400:]}")
    if rep is None:
        return
    for ext in ("svg", "png"):
        out = os.path.join(ARGS.tmp, "plot." + ext)
        rc, _, err = run("report", h5, "--plot", out)
        check(rc == 0 and os.path.getsize(out) > 1000, f"report --plot {ext}: rc={rc} {err[-300:]}")
    root = ET.parse(os.path.join(ARGS.tmp, "plot.svg")).getroot()
    texts = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
    for title in ("Population: loss vs. budget", "Schedule of the best model"):
        check(any(t.startswith(title) for t in texts), f"panel {title!r} in the figure: {texts[:8]}")
    for name in MUTABLE:
        check(name in texts, f"the schedule panel names {name}")
    check(len(root.findall(f".//{SVG}clipPath")) > 4, "the figure has more than four plot areas")
    check(int(root.get("height")) > 900, f"the figure is taller: {root.get('height')}")
    h5r = os.path.join(ARGS.tmp, "random.h5")
    rc, _, err = run("run", "--space", space_file(), "--optimizer", "random", "--seed", "2", "--min-budget", "4",
                     "--max-budget", "4", "--max-evals", "4", "--trial-dir", os.path.join(ARGS.tmp, "r-trials"),
                     "--out", h5r, "--quiet", "--eval-server", ARGS.python, os.path.join(HERE, "toy_objective.py"))
    svg = os.path.join(ARGS.tmp, "random.svg")
    rc2, _, err2 = run("report", h5r, "--plot", svg)
    check(rc == 0 and rc2 == 0, f"random run and plot: {err[-300:]} {err2[-300:]}")
    if rc2 == 0:
        root = ET.parse(svg).getroot()
        texts = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
        check(not any(t.startswith("Population") or t.startswith("Schedule") for t in texts)
              and len(root.findall(f".//{SVG}clipPath")) == 4 and root.get("height") == "900",
              "a random run's figure keeps its four panels")


GROUPS = {"schedule": group_schedule, "pb2": group_pb2, "plain": group_plain, "plot": group_plot}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--python", default="/usr/bin/python3", help="runs the objective and h5py")
    ap.add_argument("group", choices=sorted(GROUPS))
    ARGS = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbpbt-") as tmp:
        ARGS.tmp = tmp
        GROUPS[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
