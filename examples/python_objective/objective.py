#!/usr/bin/env python3
"""A noisy quadratic of two parameters, written with the hbmpi Python helper (python/hbmpi.py).

The budget is a number of iterations: the noise of the loss falls as 1/sqrt(iterations), as an
average over more samples would, so low budgets give rough losses and high budgets good ones.
Each trial draws its noise from its own seed, so a trial evaluated twice gives the same loss.
The minimum is at x = 1, y = -2 (loss 0 plus noise).

    hbmpi run --space space.json --optimizer hyperband --min-budget 1 --max-budget 27 \\
        --eval-cmd python3 objective.py            # one process per trial
    hbmpi run --space space.json ... --eval-server python3 objective.py   # one per worker
    python3 objective.py --x=0.5 --y=-1 --budget=9 # by hand"""
import os
import random
import sys

try:
    import hbmpi
except ImportError:  # run from the source tree without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import hbmpi


def objective(config, budget, trial):
    x, y = config["x"], config["y"]
    iterations = max(1, int(round(budget)))
    rng = random.Random(trial.seed if trial.seed is not None else 0)
    noise = sum(rng.gauss(0.0, 1.0) for _ in range(iterations)) / iterations
    loss = (x - 1.0) ** 2 + (y + 2.0) ** 2 + 0.5 * noise
    # A stray print: it goes to the trial's stdout file, never into hbmpi's answers.
    print(f"objective: x={x:.4f} y={y:.4f}, {iterations} iterations, loss {loss:.4f}")
    return {"loss": loss, "noise": noise, "iterations": iterations}


if __name__ == "__main__":
    hbmpi.run(objective)
