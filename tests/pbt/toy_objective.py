#!/usr/bin/env python3
"""A toy population-based-training objective for `hbmpi run --eval-server` (tests/pbt/).

Two mutable hyperparameters h0, h1 in [0, 1] scale the gradient steps on
Q(theta) = 1.2 - (h0 theta0^2 + h1 theta1^2); the loss reported is theta0^2 + theta1^2, which
the steps shrink. A trial continues theta from the checkpoint in trial.previous_trial_dir (the
member's previous step, or another member's after an exploit), trains budget - start steps, saves
its checkpoint in trial.trial_dir and reports the steps it trained as "spent"."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import hbmpi  # noqa: E402


def objective(config, budget, trial):
    theta, start = [0.9, 0.9], 0
    if trial.previous_trial_dir:
        with open(os.path.join(trial.previous_trial_dir, "ckpt.json")) as f:
            st = json.load(f)
        theta, start = st["theta"], st["steps"]
    h = [config["h0"], config["h1"]]
    n = int(budget + 0.5)
    for _ in range(start, n):
        theta = [theta[i] - 0.01 * 2 * h[i] * theta[i] for i in range(2)]
    os.makedirs(trial.trial_dir, exist_ok=True)
    with open(os.path.join(trial.trial_dir, "ckpt.json"), "w") as f:
        json.dump({"theta": theta, "steps": n}, f)
    return {"loss": theta[0] ** 2 + theta[1] ** 2, "spent": n - start}


if __name__ == "__main__":
    hbmpi.run(objective)
