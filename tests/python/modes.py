#!/usr/bin/env python3
"""An objective for tests/python/test_hbmpi_py.py, written with python/hbmpi.py (found through
PYTHONPATH). Its parameter "mode" picks what it does:
ok (loss x * budget, a stray print, the trial's fields as extras), raise (a ValueError), nan,
inf, failed (a failure it reports itself), notnumber (returns a string), noloss (a dict without
"loss"), odd (extras that JSON cannot hold as they are), partial (prints without a newline)."""
import math

import hbmpi


class Scalar:
    """Like a NumPy scalar: a number through __float__ only."""

    def __float__(self):
        return 2.5


def objective(config, budget, trial):
    mode = config.get("mode", "ok")
    print(f"stray output of mode {mode}")  # must land in the trial's stdout, not in the answers
    if mode == "raise":
        raise ValueError(f"asked to raise at x={config.get('x')}")
    if mode == "nan":
        return math.nan
    if mode == "inf":
        return {"loss": -math.inf, "note": "diverged"}
    if mode == "failed":
        return {"status": "failed", "reason": "the objective says no", "epochs": 3}
    if mode == "notnumber":
        return "abc"
    if mode == "noloss":
        return {"error": 1}
    if mode == "odd":
        return {"loss": Scalar(), "scalar": Scalar(), "big": 2 ** 80, "nan": math.nan,
                "tuple": (1, "a"), "keys": {1: "one"}, "obj": object, "spent": Scalar()}
    if mode == "partial":
        print("no newline", end="")
    t = {k: getattr(trial, k) for k in hbmpi.Trial.__slots__}
    return {"loss": config.get("x", 1.0) * budget, "budget": budget, "config": config, "trial": t}


if __name__ == "__main__":
    hbmpi.run(objective)
