"""hbmpi.py — write an hbmpi objective in Python as one function, and read a run file.

    import hbmpi

    def objective(config, budget, trial):
        model = train(config["lr"], epochs=budget, seed=trial.seed)
        return {"loss": model.val_error, "train_error": model.train_error}

    hbmpi.run(objective)

The same file works under both ways hbmpi starts a command objective:

- ``hbmpi run ... --eval-cmd python3 obj.py``: one process per trial. ``run`` reads the trial from
  the HB_* variables (or, when HB_CONFIG is absent, as when run by hand, from ``--NAME=VALUE``
  arguments and ``--budget=B``), calls the objective once and prints the answer as the last line
  of stdout. An exception prints its traceback and exits 1; a failure the objective reports
  (``"status": "failed"``) prints its reason as the last line of stderr and exits 1.
- ``hbmpi run ... --eval-server python3 obj.py`` (``HB_EVAL_SERVER=1``): one process per worker.
  ``run`` reads jobs, one JSON line each, from the descriptor in HB_JOBS_FD and writes one JSON line
  per answer to HB_ANSWERS_FD, until the jobs end (then exit 0). An exception becomes a failed
  answer (its traceback goes to stderr) and the next job is served; so is a loss that is not a
  number. stdout and stderr are flushed after every job, so what a trial prints lands in that
  trial's log files, never in the answers.

``objective(config, budget, trial)``: ``config`` is a dict of the active parameters, ``budget`` a
float, ``trial`` a Trial (id, seed, config_id, config_seed, trial_dir, previous_budget,
previous_trial_dir; None when hbmpi did not give them). It returns the loss (a number), or a dict
with "loss" and any other members, which become the trial's extras ("spent": the budget actually
trained when the trial continued from its previous rung's checkpoint; "id" is hbmpi's and is
dropped). A dict may instead report a failure: ``{"status": "failed", "reason": "diverged"}``. A loss that is NaN or
infinite is reported with status "nan". Extras that JSON cannot hold (NumPy scalars and arrays,
other objects) are converted with float(), tolist() or str().

Only the standard library is needed; ``read_trials`` imports h5py and pandas when called.
docs/runtime.md ("Objectives") describes both protocols, docs/runfile.md the run file.
"""
import json
import math
import os
import sys
import traceback

__all__ = ["Trial", "run", "read_trials"]
__version__ = "0.1.0"

_INT64 = 2 ** 63  # jansson, which reads the answers, holds integers in 64 bits


class Trial:
    """What hbmpi says about the trial besides its configuration and budget."""

    __slots__ = ("id", "seed", "config_id", "config_seed", "trial_dir", "previous_budget",
                 "previous_trial_dir")

    def __init__(self, id=None, seed=None, config_id=None, config_seed=None, trial_dir=None,
                 previous_budget=None, previous_trial_dir=None):
        self.id = id
        self.seed = seed
        self.config_id = config_id
        self.config_seed = config_seed
        self.trial_dir = trial_dir
        self.previous_budget = previous_budget
        self.previous_trial_dir = previous_trial_dir

    def __repr__(self):
        return "Trial(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


class _Failed(Exception):
    """An answer that is a failure, with its reason."""


# ---------------------------------------------------------------- answers

def _text(s):
    # Lone surrogates (file names decoded with surrogateescape) are not UTF-8: no JSON reader
    # takes their escapes, so they become U+FFFD.
    return s.encode("utf-8", "replace").decode("utf-8")


def _jsonable(v, depth=0):
    """'v' as something json.dumps writes as strict JSON (no NaN, integers within 64 bits)."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return _text(v)
    if isinstance(v, int):
        return v if -_INT64 <= v < _INT64 else float(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if depth > 50:
        return _text(str(v))
    if isinstance(v, dict):
        return {_text(str(k)): _jsonable(m, depth + 1) for k, m in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(m, depth + 1) for m in v]
    if hasattr(v, "tolist"):  # NumPy arrays and scalars, PyTorch tensors
        try:
            return _jsonable(v.tolist(), depth + 1)
        except Exception:
            pass
    if hasattr(v, "__index__"):
        try:
            return _jsonable(v.__index__(), depth + 1)
        except Exception:
            pass
    if hasattr(v, "__float__"):
        try:
            return _jsonable(float(v), depth + 1)
        except Exception:
            pass
    return _text(str(v))


def _loss(v):
    """The loss as a float; _Failed when it is not a number."""
    if isinstance(v, (str, bytes, bytearray)) or not hasattr(v, "__float__"):
        raise _Failed(f"the loss is not a number: {_short(v)}")
    try:
        return float(v)
    except Exception as e:
        raise _Failed(f"the loss is not a number: {_short(v)} ({type(e).__name__}: {e})")


def _short(v, n=200):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "..."


def _answer(result):
    """The objective's return value as an answer dict: "loss" first, then "status" and "reason"
    for a failure or a non-finite loss, then the extras."""
    if isinstance(result, dict):
        extras = {str(k): v for k, v in result.items() if k not in ("id", "loss", "status", "reason")}
        status, reason = result.get("status"), result.get("reason")
        if "loss" not in result and status in (None, "ok"):
            raise _Failed(f"the objective returned a dict without \"loss\": {_short(result)}")
        loss = result.get("loss")
    else:
        extras, status, reason, loss = {}, None, None, result
    ans = {}
    if status is not None and status != "ok":
        ans = {"loss": None, "status": _text(str(status)),
               "reason": _text(str(reason)) if reason is not None else f"status {status}"}
    else:
        x = _loss(loss)
        if math.isfinite(x):
            ans = {"loss": x}
        else:
            ans = {"loss": None, "status": "nan", "reason": f"loss is {x}"}
    if "spent" in extras:
        try:
            extras["spent"] = float(extras["spent"])
        except Exception:
            extras["spent"] = _short(extras["spent"])
    for k, v in extras.items():
        ans[_text(k)] = _jsonable(v)
    return ans


def _failed(reason):
    return {"loss": None, "status": "failed", "reason": reason}


def _call(objective, config, budget, trial):
    """Run the objective; the answer dict. Exceptions propagate."""
    try:
        return _answer(objective(config, budget, trial))
    except _Failed as e:
        return _failed(str(e))


def _dumps(d):
    return json.dumps(d, allow_nan=False, separators=(", ", ": "))


# ---------------------------------------------------------------- server mode

def _number(v, kind, what):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Failed(f"the job's {what} is not a number: {_short(v)}")
    return kind(v)


def _job(job):
    """(config, budget, trial) of a job dict; _Failed when a member has the wrong type."""
    config = job.get("config")
    if not isinstance(config, dict):
        raise _Failed("the job has no \"config\" object")
    budget = _number(job.get("budget"), float, "budget")
    if budget is None:
        raise _Failed("the job has no \"budget\"")
    trial = Trial(id=_number(job.get("id"), int, "id"), seed=_number(job.get("seed"), int, "seed"),
                  config_id=_number(job.get("config_id"), int, "config_id"),
                  config_seed=_number(job.get("config_seed"), int, "config_seed"),
                  trial_dir=job.get("trial_dir"),
                  previous_budget=_number(job.get("previous_budget"), float, "previous_budget"),
                  previous_trial_dir=job.get("previous_trial_dir"))
    return config, budget, trial


def _bad_input(msg):
    print(f"hbmpi.run: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


def _fd(name):
    v = os.environ.get(name)
    try:
        fd = int(v)
        os.fstat(fd)
        return fd
    except (TypeError, ValueError, OSError):
        _bad_input(f"HB_EVAL_SERVER=1 but {name}={v!r} is not an open descriptor")


def _flush_std():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def _serve(objective):
    jobs_fd, answers_fd = _fd("HB_JOBS_FD"), _fd("HB_ANSWERS_FD")
    # A program the objective starts must not hold the pipes open (hbmpi would not see this
    # process end), nor write into the answers.
    for fd in (jobs_fd, answers_fd):
        os.set_inheritable(fd, False)
    jobs = os.fdopen(jobs_fd, "rb")
    answers = os.fdopen(answers_fd, "wb")
    for line in jobs:
        if not line.endswith(b"\n"):
            print(f"hbmpi.run: the jobs ended in the middle of a line: {_short(line)}",
                  file=sys.stderr, flush=True)
            break
        try:
            job = json.loads(line.decode("utf-8"))
            if not isinstance(job, dict) or isinstance(job.get("id"), bool) or \
                    not isinstance(job.get("id"), int):
                raise ValueError("not a JSON object with an integer \"id\"")
        except ValueError as e:
            # Without an id there is nothing to answer: the protocol is broken.
            print(f"hbmpi.run: cannot read the job {_short(line)}: {e}", file=sys.stderr, flush=True)
            sys.exit(2)
        try:
            ans = _call(objective, *_job(job))
        except _Failed as e:
            ans = _failed(str(e))
        except Exception as e:
            traceback.print_exc()
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            ans = _failed(_text(last))
        _flush_std()  # this trial's output goes to this trial's files
        try:
            answers.write((_dumps({"id": job["id"], **ans}) + "\n").encode("utf-8"))
            answers.flush()
        except BrokenPipeError:
            print("hbmpi.run: the answers pipe is closed (hbmpi went away)", file=sys.stderr, flush=True)
            sys.exit(1)
    _flush_std()
    sys.exit(0)


# ---------------------------------------------------------------- --eval-cmd mode

def _value(s):
    """A --NAME=VALUE argument's value: an int, else a finite float, else the text (so that a
    choice named "nan" or "inf" stays text: hbmpi's numbers are always finite)."""
    try:
        return int(s)
    except ValueError:
        pass
    try:
        x = float(s)
        return x if math.isfinite(x) else s
    except ValueError:
        return s


def _env_number(name, kind):
    v = os.environ.get(name)
    if v is None or v == "":
        return None
    try:
        return kind(v)
    except ValueError:
        _bad_input(f"{name}={v!r} is not a number")


def _from_args(argv):
    """The configuration and budget from --NAME=VALUE arguments (arguments without '=' are
    left for the program)."""
    config, budget = {}, None
    for a in argv:
        if a.startswith("--") and "=" in a:
            name, v = a[2:].split("=", 1)
            if name == "budget":
                try:
                    budget = float(v)
                except ValueError:
                    _bad_input(f"--budget={v!r} is not a number")
            else:
                config[name] = _value(v)
    return config, budget


def _one(objective):
    if "HB_CONFIG" in os.environ:
        try:
            config = json.loads(os.environ["HB_CONFIG"])
        except ValueError as e:
            _bad_input(f"HB_CONFIG is not JSON: {e}")
        if not isinstance(config, dict):
            _bad_input("HB_CONFIG is not a JSON object")
        budget = _env_number("HB_BUDGET", float)
        if budget is None:
            budget = _from_args(sys.argv[1:])[1]
    else:
        config, budget = _from_args(sys.argv[1:])
        env_budget = _env_number("HB_BUDGET", float)
        budget = env_budget if env_budget is not None else budget
    if budget is None:
        _bad_input("no budget: give --budget=B or HB_BUDGET (or run under hbmpi run --eval-cmd)")
    trial = Trial(id=_env_number("HB_TRIAL_ID", int), seed=_env_number("HB_SEED", int),
                  config_id=_env_number("HB_CONFIG_ID", int),
                  config_seed=_env_number("HB_CONFIG_SEED", int),
                  trial_dir=os.environ.get("HB_TRIAL_DIR") or None,
                  previous_budget=_env_number("HB_PREVIOUS_BUDGET", float),
                  previous_trial_dir=os.environ.get("HB_PREVIOUS_TRIAL_DIR") or None)
    try:
        ans = _call(objective, config, budget, trial)
    except Exception:
        traceback.print_exc()  # its last line, "Type: message", becomes the trial's reason
        sys.exit(1)
    failed = ans.get("status") not in (None, "nan")
    if not failed:
        # hbmpi reads a null loss as NaN and records the status and reason itself.
        ans.pop("status", None)
        ans.pop("reason", None)
    _flush_std()
    # The leading newline keeps the answer on a line of its own after a print(..., end="");
    # hbmpi reads the last non-empty line.
    sys.stdout.write("\n" + _dumps(ans) + "\n")
    sys.stdout.flush()
    if failed:
        print(ans.get("reason"), file=sys.stderr, flush=True)
        sys.exit(1)
    sys.exit(0)


def run(objective):
    """Serve 'objective' to hbmpi: under --eval-server (HB_EVAL_SERVER=1) every job until the jobs
    end, else the one trial of --eval-cmd. Does not return: exits 0, or 1 when the --eval-cmd
    trial failed, or 2 on bad input."""
    if os.environ.get("HB_EVAL_SERVER") == "1":
        _serve(objective)
    else:
        _one(objective)


# ---------------------------------------------------------------- run files

def read_trials(path):
    """A run file's `trials` table (docs/runfile.md) as a pandas DataFrame: one row per finished
    trial, columns id, budget, loss, status, ..., then one per parameter; byte strings are
    decoded to str. The table is as of the run's last checkpoint: `hbmpi report PATH --csv`
    also shows the events appended since. Needs h5py and pandas (Debian: python3-h5py,
    python3-pandas)."""
    import h5py
    import pandas

    with h5py.File(path, "r") as f:
        if "trials" not in f:
            raise ValueError(f"{path}: no 'trials' table (not an hbmpi run file?)")
        rows = f["trials"][()]
    df = pandas.DataFrame(rows)
    for col in df.columns:
        if df[col].dtype == object or df[col].dtype.kind == "S":
            df[col] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in df[col]]
    return df
