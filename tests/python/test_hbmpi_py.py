#!/usr/bin/env python3
"""The Python helper python/hbmpi.py: its serving loop driven through real pipes on fds 3 and 4
(as hbmpi's --eval-server starts it), the --eval-cmd mode from HB_* variables and from
--NAME=VALUE arguments, alone and under a real hbmpi run, and read_trials on real run files.

  test_hbmpi_py.py --hbmpi PATH GROUP
GROUP: serve | fds | cmd | hbmpi | read_trials"""
import argparse
import fcntl
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
PYDIR = os.path.join(SRC, "python")
MODES = os.path.join(HERE, "modes.py")
EXAMPLE = os.path.join(SRC, "examples", "python_objective")
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, PYDIR)
from hbtest import check, finish  # noqa: E402
import hbmpi  # noqa: E402

ARGS = None


def strict_json(line):
    """JSON as a strict reader (jansson) takes it: no NaN or Infinity."""
    def refuse(c):
        raise ValueError(f"not JSON: {c}")
    return json.loads(line, parse_constant=refuse)


def high(fd):
    """'fd' moved to a number of 10 or more (close-on-exec), so that no dup2 onto 3 or 4 is a
    dup2 of a descriptor onto itself."""
    n = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return n


def clean_env(**more):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HB_")}
    env["PYTHONPATH"] = PYDIR
    env.update({k: str(v) for k, v in more.items()})
    return env


class Server:
    """An objective program started as hbmpi's --eval-server starts it: stdin /dev/null, stdout
    and stderr into files, its own process group, jobs on fd 3 and answers on fd 4 (or, with
    'other_fds', on whatever numbers the pipes have, passed with subprocess's pass_fds)."""

    def __init__(self, script, tmp, other_fds=False):
        self.out, self.err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        jr, self.jw = (high(fd) for fd in os.pipe())
        self.ar, aw = (high(fd) for fd in os.pipe())
        self.buf = b""
        out = high(os.open(self.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        err = high(os.open(self.err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        argv = [sys.executable, script]
        if other_fds:
            env = clean_env(HB_EVAL_SERVER=1, HB_JOBS_FD=jr, HB_ANSWERS_FD=aw)
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                         pass_fds=(jr, aw), start_new_session=True)
            self.pid = self.proc.pid
        else:
            env = clean_env(HB_EVAL_SERVER=1, HB_JOBS_FD=3, HB_ANSWERS_FD=4)
            self.proc = None
            self.pid = os.posix_spawn(sys.executable, argv, env, setpgroup=0, file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2),
                (os.POSIX_SPAWN_DUP2, jr, 3), (os.POSIX_SPAWN_DUP2, aw, 4)])
        for fd in (jr, aw, out, err):
            os.close(fd)

    def send(self, job):
        os.write(self.jw, job if isinstance(job, bytes) else (json.dumps(job) + "\n").encode())

    def answer(self, timeout=30):
        """The next answer line (bytes), or None after 'timeout' seconds or at EOF."""
        t0 = time.time()
        while b"\n" not in self.buf:
            left = timeout - (time.time() - t0)
            if left <= 0 or not select.select([self.ar], [], [], left)[0]:
                return None
            chunk = os.read(self.ar, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def ask(self, job):
        self.send(job)
        line = self.answer()
        try:
            return strict_json(line) if line is not None else None
        except ValueError as e:
            check(False, f"answer to {job} is strict JSON: {line!r} ({e})")
            return None

    def end(self, timeout=30):
        """Close the jobs pipe; the exit status (None if still running after 'timeout') and
        whatever else came on the answers pipe."""
        os.close(self.jw)
        rest = b""
        t0 = time.time()
        while time.time() - t0 < timeout and select.select([self.ar], [], [], timeout)[0]:
            chunk = os.read(self.ar, 65536)
            if not chunk:
                break
            rest += chunk
        os.close(self.ar)
        rc = None
        while time.time() - t0 < timeout:
            if self.proc is not None:
                rc = self.proc.poll()
            else:
                pid, ws = os.waitpid(self.pid, os.WNOHANG)
                rc = os.waitstatus_to_exitcode(ws) if pid else None
            if rc is not None:
                break
            time.sleep(0.01)
        if rc is None:
            os.killpg(self.pid, 9)
            os.waitpid(self.pid, 0)
        return rc, self.buf + rest

    def stdout(self):
        return open(self.out, errors="replace").read()

    def stderr(self):
        return open(self.err, errors="replace").read()


# ---------------------------------------------------------------- serve
def group_serve():
    """One server, many jobs: answers for each kind of outcome, and the loop goes on."""
    tmp = ARGS.tmp
    s = Server(MODES, tmp)
    job = {"id": 1, "config": {"mode": "ok", "x": 0.5}, "budget": 3.0, "seed": 11, "config_id": 1,
           "config_seed": 77, "trial_dir": os.path.join(tmp, "t1"), "future_member": {"a": [1]}}
    a = s.ask(job)
    check(a is not None and a["id"] == 1 and a["loss"] == 1.5 and "status" not in a,
          f"ok job answered with its id and loss: {a}")
    check(a is not None and a.get("trial") == {"id": 1, "seed": 11, "config_id": 1, "config_seed": 77,
                                                "trial_dir": job["trial_dir"], "previous_budget": None,
                                                "previous_trial_dir": None},
          f"the objective saw the trial's fields, unknown members ignored: {a}")
    check(a is not None and a.get("config") == {"mode": "ok", "x": 0.5} and a.get("budget") == 3.0,
          "the objective saw the configuration and budget")
    check("stray output of mode ok" in s.stdout(),
          "the stray print is in stdout (flushed before the answer)")

    a = s.ask({"id": 2, "config": {"mode": "ok", "x": 2}, "budget": 9, "seed": 12, "config_id": 1,
               "config_seed": 77, "trial_dir": os.path.join(tmp, "t2"), "previous_budget": 3.0,
               "previous_trial_dir": os.path.join(tmp, "t1")})
    check(a is not None and a["loss"] == 18 and a["trial"]["previous_budget"] == 3.0
          and a["trial"]["previous_trial_dir"] == os.path.join(tmp, "t1"),
          f"a promoted trial gets previous_budget and previous_trial_dir: {a}")

    a = s.ask({"id": 3, "config": {"mode": "raise", "x": 0.5}, "budget": 1})
    check(a == {"id": 3, "loss": None, "status": "failed", "reason": "ValueError: asked to raise at x=0.5"},
          f"an exception becomes a failed answer with 'Type: message': {a}")
    err = s.stderr()
    check("Traceback (most recent call last)" in err and "asked to raise" in err,
          "the exception's traceback is on stderr")

    a = s.ask({"id": 4, "config": {"mode": "nan"}, "budget": 1})
    check(a == {"id": 4, "loss": None, "status": "nan", "reason": "loss is nan"}, f"NaN: {a}")
    a = s.ask({"id": 5, "config": {"mode": "inf"}, "budget": 1})
    check(a == {"id": 5, "loss": None, "status": "nan", "reason": "loss is -inf", "note": "diverged"},
          f"-inf, with its extras: {a}")
    a = s.ask({"id": 6, "config": {"mode": "failed"}, "budget": 1})
    check(a == {"id": 6, "loss": None, "status": "failed", "reason": "the objective says no", "epochs": 3},
          f"a failure the objective reports: {a}")
    a = s.ask({"id": 7, "config": {"mode": "notnumber"}, "budget": 1})
    check(a is not None and a["status"] == "failed" and a["loss"] is None
          and a["reason"] == "the loss is not a number: 'abc'", f"a loss that is a string: {a}")
    a = s.ask({"id": 8, "config": {"mode": "noloss"}, "budget": 1})
    check(a is not None and a["status"] == "failed" and "without \"loss\"" in a["reason"],
          f"a dict without loss: {a}")
    a = s.ask({"id": 9, "config": {"mode": "odd"}, "budget": 1})
    check(a is not None and a["loss"] == 2.5 and a["scalar"] == 2.5 and a["big"] == float(2 ** 80)
          and a["nan"] == "nan" and a["tuple"] == [1, "a"] and a["keys"] == {"1": "one"}
          and a["obj"] == str(object) and a["spent"] == 2.5,
          f"extras JSON cannot hold are converted (float(), str()): {a}")
    a = s.ask({"id": 10, "config": {"mode": "partial"}, "budget": 1})
    check(a is not None and a["id"] == 10 and a["loss"] == 1, f"after a print without newline: {a}")
    a = s.ask({"id": 11, "config": {"mode": "ok"}, "budget": "x"})
    check(a is not None and a["status"] == "failed" and "budget" in a["reason"],
          f"a job whose budget is not a number: {a}")
    a = s.ask({"id": 12345678901234, "config": {"mode": "ok", "x": 0.25}, "budget": 4, "seed": 2 ** 40})
    check(a is not None and a["id"] == 12345678901234 and a["loss"] == 1.0
          and a["trial"]["seed"] == 2 ** 40, f"the loop goes on after all that, large ids: {a}")
    a = s.ask('{"id": 13, "config": {"mode": "ok", "x": 1, "name": "caf\u00e9 \u2713"}, "budget": 2}\n'
              .encode("utf-8"))
    check(a is not None and a["config"]["name"] == "caf\u00e9 \u2713", f"UTF-8 in a job: {a}")

    rc, rest = s.end()
    check(rc == 0, f"EOF on the jobs ends the server with exit 0 (rc={rc})")
    check(rest == b"", f"nothing else on the answers pipe: {rest[:200]!r}")
    out = s.stdout()
    check(out.count("stray output of mode") == 12 and '"loss"' not in out and '"id"' not in out,
          f"every stray print in stdout, no answer there: {out[:300]!r}")


# ---------------------------------------------------------------- fds
def group_fds():
    """The descriptors come from HB_JOBS_FD and HB_ANSWERS_FD (here not 3 and 4, through
    subprocess's pass_fds): the example objective serves two jobs. A job that is not JSON
    breaks the protocol: exit 2."""
    s = Server(os.path.join(EXAMPLE, "objective.py"), ARGS.tmp, other_fds=True)
    a1 = s.ask({"id": 0, "config": {"x": 1.0, "y": -2.0}, "budget": 27, "seed": 5})
    a2 = s.ask({"id": 1, "config": {"x": -4.0, "y": 4.0}, "budget": 1, "seed": 6})
    check(a1 is not None and a2 is not None and abs(a1["loss"]) < 1 and a2["loss"] > 40
          and a1["iterations"] == 27, f"the example answers on the descriptors it was given: {a1} {a2}")
    a3 = s.ask({"id": 2, "config": {"x": 1.0, "y": -2.0}, "budget": 27, "seed": 5})
    check(a3 is not None and a1 is not None and a3["loss"] == a1["loss"], "same seed, same loss")
    rc, rest = s.end()
    check(rc == 0 and rest == b"", f"EOF: exit 0 (rc={rc}, rest={rest!r})")
    check(s.stdout().count("objective: x=") == 3, "the example's stray prints are in stdout")

    s = Server(MODES, ARGS.tmp)
    s.send(b"this is not JSON\n")
    rc, rest = s.end()
    check(rc == 2 and rest == b"" and "cannot read the job" in s.stderr(),
          f"a job that is not JSON: exit 2, said on stderr (rc={rc}, {s.stderr()!r})")


# ---------------------------------------------------------------- cmd
def cmd(args, env):
    p = subprocess.run([sys.executable, MODES, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=env, timeout=60)
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    elines = [l for l in p.stderr.splitlines() if l.strip()]
    return p.returncode, lines[-1] if lines else "", elines[-1] if elines else "", p


def group_cmd():
    """One trial per process, as --eval-cmd runs it (docs/runtime.md "Objectives")."""
    tmp = ARGS.tmp
    env = clean_env(HB_CONFIG='{"mode": "ok", "x": 0.25}', HB_BUDGET=4, HB_TRIAL_ID=7, HB_SEED=9,
                    HB_CONFIG_ID=5, HB_CONFIG_SEED=3, HB_TRIAL_DIR=tmp, HB_PREVIOUS_BUDGET=2,
                    HB_PREVIOUS_TRIAL_DIR=os.path.join(tmp, "prev"))
    rc, last, _, p = cmd(["--mode=ok", "--x=0.25", "--budget=4"], env)
    a = strict_json(last) if last.startswith("{") else None
    check(rc == 0 and a is not None and a["loss"] == 1.0 and "id" not in a and "status" not in a,
          f"HB_*: the loss on the last line of stdout (rc={rc}, {last!r}, {p.stderr!r})")
    check(a is not None and a["trial"] == {"id": 7, "seed": 9, "config_id": 5, "config_seed": 3,
                                           "trial_dir": tmp, "previous_budget": 2.0,
                                           "previous_trial_dir": os.path.join(tmp, "prev")},
          f"HB_*: the trial's fields: {a}")
    check("stray output of mode ok" in p.stdout, "the stray print is in stdout too")

    rc, last, _, p = cmd(["extra", "--mode=ok", "--x=0.5", "--n=3", "--name=sgd", "--budget=2"], clean_env())
    a = strict_json(last) if last.startswith("{") else None
    check(rc == 0 and a is not None and a["loss"] == 1.0 and a["budget"] == 2.0,
          f"--NAME=VALUE without HB_CONFIG (rc={rc}, {last!r}, {p.stderr!r})")
    check(a is not None and a["config"] == {"mode": "ok", "x": 0.5, "n": 3, "name": "sgd"}
          and isinstance(a["config"]["n"], int),
          f"numbers converted, other values kept as text: {a and a['config']}")
    check(a is not None and all(v is None for v in a["trial"].values()),
          f"no HB_*: the trial's fields are None: {a and a['trial']}")

    rc, last, elast, p = cmd(["--mode=raise", "--x=0.5", "--budget=1"], clean_env())
    check(rc == 1 and elast == "ValueError: asked to raise at x=0.5" and "Traceback" in p.stderr,
          f"an exception: traceback, exit 1 (rc={rc}, {elast!r})")
    rc, last, _, p = cmd(["--mode=nan", "--budget=1"], clean_env())  # "nan" stays text
    check(rc == 0 and last == '{"loss": null}', f"NaN: a null loss, which hbmpi records as nan ({rc}, {last!r})")
    rc, last, _, p = cmd(["--mode=inf", "--budget=1"], clean_env())
    check(rc == 0 and last == '{"loss": null, "note": "diverged"}', f"-inf with extras ({rc}, {last!r})")
    rc, last, elast, p = cmd(["--mode=failed", "--budget=1"], clean_env())
    check(rc == 1 and elast == "the objective says no",
          f"a failure the objective reports: exit 1, the reason last on stderr ({rc}, {elast!r})")
    rc, last, _, p = cmd(["--mode=partial", "--budget=1"], clean_env())
    check(rc == 0 and last.startswith('{"loss": 1.0') and "no newline\n" in p.stdout,
          f"after a print without newline the answer has a line of its own ({last!r})")
    rc, last, elast, p = cmd(["--mode=ok"], clean_env())
    check(rc == 2 and "no budget" in elast, f"no budget: exit 2 ({rc}, {elast!r})")
    rc, last, _, p = cmd(["--budget=1"], clean_env(HB_CONFIG="[1]"))
    check(rc == 2 and "HB_CONFIG" in p.stderr, f"HB_CONFIG not an object: exit 2 ({rc}, {p.stderr!r})")


# ---------------------------------------------------------------- hbmpi
SPACE = {"parameters": [{"name": "mode", "type": "categorical", "choices": ["ok", "nan", "raise", "odd"]},
                        {"name": "x", "type": "float", "lower": 0.0, "upper": 1.0}]}


def run_modes(out):
    space = os.path.join(ARGS.tmp, "space.json")
    with open(space, "w") as f:
        json.dump(SPACE, f)
    p = subprocess.run([ARGS.hbmpi, "run", "--space", space, "--optimizer", "random", "--max-evals", "16",
                        "--seed", "1", "--quiet", "--json", "--out", out,  # seed 1: all four modes among the 16
                        "--trial-dir", os.path.join(ARGS.tmp, "trials"),
                        "--eval-cmd", sys.executable, MODES], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=clean_env(), cwd=ARGS.tmp, timeout=300)
    check(p.returncode == 0, f"hbmpi run --eval-cmd modes.py: rc={p.returncode} {p.stderr[-500:]}")
    return json.loads(p.stdout) if p.returncode == 0 else None


def group_hbmpi():
    """The helper under a real hbmpi run --eval-cmd: losses, statuses, reasons and extras as
    hbmpi records them."""
    rep = run_modes(os.path.join(ARGS.tmp, "modes.h5"))
    if rep is None:
        return
    seen = set()
    for t in rep["trials"]:
        mode, x = t["config"]["mode"], t["config"]["x"]
        seen.add(mode)
        ex = t.get("extras") or {}
        if mode == "ok":
            check(t["status"] == "ok" and t["loss"] == x * t["budget"] and ex.get("config") == t["config"]
                  and ex["trial"]["id"] == t["id"] and ex["trial"]["trial_dir"] is not None,
                  f"ok trial {t['id']}: loss and extras {t}")
        elif mode == "nan":
            check(t["status"] == "nan", f"nan trial {t['id']}: {t}")
        elif mode == "raise":
            check(t["status"] == "failed" and "ValueError: asked to raise" in t.get("reason", ""),
                  f"raise trial {t['id']}: failed with the exception as reason: {t}")
        elif mode == "odd":
            check(t["status"] == "ok" and t["loss"] == 2.5 and ex.get("nan") == "nan"
                  and t["spent"] == 2.5, f"odd trial {t['id']}: {t}")
    check(seen == {"ok", "nan", "raise", "odd"}, f"every mode ran: {seen}")


# ---------------------------------------------------------------- read_trials
def group_read_trials():
    """read_trials on run files hbmpi wrote: a kernel's and a command's (strings, extras)."""
    h5 = os.path.join(ARGS.tmp, "f.h5")
    p = subprocess.run([ARGS.hbmpi, "run", "--kernel", "branin", "--optimizer", "random", "--max-evals", "10",
                        "--quiet", "--json", "--out", h5], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=300)
    check(p.returncode == 0, f"branin run: rc={p.returncode} {p.stderr[-500:]}")
    if p.returncode != 0:
        return
    rep = json.loads(p.stdout)
    df = hbmpi.read_trials(h5)
    check(len(df) == 10, f"10 rows: {len(df)}")
    cols = list(df.columns)
    check(cols[:4] == ["id", "budget", "loss", "status"] and "x0" in cols and "x1" in cols
          and "config_id" in cols and "extras" in cols, f"the schema's columns: {cols}")
    check(all(type(v) is str for c in ("status", "reason", "extras") for v in df[c]),
          "byte strings decoded to str")
    check(sorted(df["id"]) == sorted(t["id"] for t in rep["trials"])
          and all(df.loc[df["id"] == t["id"], "loss"].iloc[0] == t["loss"]
                  and df.loc[df["id"] == t["id"], "x0"].iloc[0] == t["config"]["x0"]
                  and df.loc[df["id"] == t["id"], "status"].iloc[0] == t["status"] for t in rep["trials"]),
          "ids, losses, statuses and parameters as the report JSON has them")

    rep = run_modes(os.path.join(ARGS.tmp, "modes.h5"))
    if rep is None:
        return
    df = hbmpi.read_trials(os.path.join(ARGS.tmp, "modes.h5"))
    byid = {int(r["id"]): r for _, r in df.iterrows()}
    ok = len(byid) == len(rep["trials"])
    for t in rep["trials"]:
        r = byid.get(t["id"])
        ok = ok and r is not None and r["mode"] == t["config"]["mode"] and r["status"] == t["status"]
        ok = ok and (math.isnan(r["loss"]) if t["loss"] is None else r["loss"] == t["loss"])
        ok = ok and (json.loads(r["extras"]) == t["extras"] if t.get("extras") else r["extras"] == "")
        ok = ok and r["reason"] == t.get("reason", "")
    check(ok, "a command's run file: categorical values, reasons and extras as str, as in the report")
    try:
        hbmpi.read_trials(os.path.join(ARGS.tmp, "space.json"))
        check(False, "a file that is not HDF5 is refused")
    except OSError:
        check(True, "a file that is not HDF5 is refused")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("group")
    ARGS = ap.parse_args()
    ARGS.hbmpi = os.path.abspath(ARGS.hbmpi)
    with tempfile.TemporaryDirectory(prefix="hb-py-") as tmp:
        ARGS.tmp = tmp
        {"serve": group_serve, "fds": group_fds, "cmd": group_cmd, "hbmpi": group_hbmpi,
         "read_trials": group_read_trials}[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
