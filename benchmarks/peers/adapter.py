"""Runs one peer optimiser on one kernel inside the peer's virtual environment.

    VENV/bin/python benchmarks/peers/adapter.py study --peer P --kernel K --seed S --limit L
    VENV/bin/python benchmarks/peers/adapter.py propose --peer P --results 2000 --reps 10

`study` prints one JSON object: the evaluations in the order they were made, each with its
config, budget, cost (what it added to the spent budget), loss and noise seed, and the peer's
versions. `propose` prints the cost of one proposal after N results have been told.

The budget rule of benchmarks/README.md: an evaluation at budget b costs b (a promoted
configuration is evaluated again from scratch), except Optuna's trials, which report at each
rung of one continued run, so that a trial costs the largest budget it reached. An evaluation
that would take the spent budget above the limit is not made, and the study ends there.

Every setting of the peers is its documented default, apart from what the protocol fixes:
the space, the budget range (min/max budget or resource), eta = 3, the seed and one worker.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernels  # noqa: E402

PEERS = ("optuna", "hpbandster_bohb", "hpbandster_hyperband", "dehb", "smac")
DIST = {"optuna": "optuna", "hpbandster_bohb": "hpbandster", "hpbandster_hyperband": "hpbandster",
        "dehb": "dehb", "smac": "smac"}


class Exhausted(Exception):
    """The next evaluation would take the spent budget above the limit."""


class Ledger:
    def __init__(self, kernel, seed, limit):
        self.kernel, self.seed, self.limit = kernel, seed, limit
        self.spent = 0.0
        self.trials = []
        self.exhausted = False

    def evaluate(self, config, budget, cost=None, noise_seed=None):
        """Evaluate config at budget if `cost` (default: budget) still fits; else Exhausted."""
        cost = float(budget) if cost is None else float(cost)
        if self.exhausted or self.spent + cost > self.limit * (1 + 1e-12):
            self.exhausted = True
            raise Exhausted()
        if noise_seed is None:
            noise_seed = kernels.eval_seed(self.seed, len(self.trials))
        loss = kernels.evaluate(self.kernel, config, budget, noise_seed)
        self.spent += cost
        self.trials.append({"order": len(self.trials), "config": config, "budget": float(budget),
                            "cost": cost, "loss": loss, "noise_seed": str(noise_seed)})
        return loss


def plain(config, kernel):
    """Configuration as plain Python values with the kernel's names (cats as ints)."""
    out = {}
    for name, kind, _ in kernels.space(kernel):
        v = config[name]
        out[name] = int(round(float(v))) if kind == "cat" else float(v)
    return out


def configspace(kernel, seed):
    import ConfigSpace as CS
    cs = CS.ConfigurationSpace(seed=seed)
    hps = []
    for name, kind, arg in kernels.space(kernel):
        if kind == "cat":
            hps.append(CS.CategoricalHyperparameter(name, list(arg)))
        else:
            hps.append(CS.UniformFloatHyperparameter(name, lower=arg[0], upper=arg[1]))
    if hasattr(cs, "add"):
        cs.add(hps)
    else:
        cs.add_hyperparameters(hps)
    return cs


def quiet_logging():
    import logging
    logging.disable(logging.WARNING)  # warnings and below; errors still show


# ------------------------------------------------------------------------------ Optuna

def optuna_objects(kernel, seed):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    k = kernels.KERNELS[kernel]
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.HyperbandPruner(min_resource=int(k["min_budget"]),
                                           max_resource=int(k["max_budget"]),
                                           reduction_factor=k["eta"])
    return optuna, optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)


def optuna_suggest(trial, kernel):
    cfg = {}
    for name, kind, arg in kernels.space(kernel):
        if kind == "cat":
            cfg[name] = trial.suggest_categorical(name, list(arg))
        else:
            cfg[name] = trial.suggest_float(name, arg[0], arg[1])
    return cfg


def study_optuna(ledger):
    optuna, study = optuna_objects(ledger.kernel, ledger.seed)
    rungs = kernels.rungs(ledger.kernel)

    def objective(trial):
        cfg = plain(optuna_suggest(trial, ledger.kernel), ledger.kernel)
        noise_seed = kernels.eval_seed(ledger.seed, trial.number)   # one continued run
        reached = 0.0
        loss = None
        for r in rungs:
            try:
                loss = ledger.evaluate(cfg, r, cost=r - reached, noise_seed=noise_seed)
            except Exhausted:
                study.stop()
                raise optuna.TrialPruned()
            reached = r
            trial.report(loss, int(r))
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    while not ledger.exhausted:
        study.optimize(objective, n_trials=1000)


# ------------------------------------------------------------------------------ HpBandSter

def hpbandster_iterations(kernel, limit):
    """HpBandSter's iterations (brackets, in its order) needed to spend at least `limit`:
    the study then ends at the first evaluation that does not fit."""
    k = kernels.KERNELS[kernel]
    eta, lo, hi = k["eta"], k["min_budget"], k["max_budget"]
    max_sh = -int(math.log(lo / hi) / math.log(eta) - 1e-9) + 1
    total, it = 0.0, 0
    while total < limit:
        s = max_sh - 1 - (it % max_sh)
        n0 = int(math.floor(max_sh / (s + 1)) * eta ** s)
        ns = [max(int(n0 * eta ** (-i)), 1) for i in range(s + 1)]
        bs = [hi * eta ** (-(s - i)) for i in range(s + 1)]
        total += sum(n * b for n, b in zip(ns, bs))
        it += 1
    return it


def study_hpbandster(ledger, which):
    import random
    import numpy as np
    import hpbandster.core.nameserver as hpns
    from hpbandster.core.worker import Worker
    from hpbandster.optimizers import BOHB, HyperBand
    quiet_logging()
    random.seed(ledger.seed)
    np.random.seed(ledger.seed)
    k = kernels.KERNELS[ledger.kernel]
    cs = configspace(ledger.kernel, ledger.seed)

    class KernelWorker(Worker):
        def compute(self, config, budget, **kwargs):
            loss = ledger.evaluate(plain(config, ledger.kernel), budget)   # Exhausted: crashed
            return {"loss": loss, "info": {}}

    run_id = "peers-%d-%d" % (os.getpid(), ledger.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ns = hpns.NameServer(run_id=run_id, host="127.0.0.1", port=0, working_directory=tmp)
        host, port = ns.start()
        w = KernelWorker(run_id=run_id, nameserver=host, nameserver_port=port, host="127.0.0.1")
        w.run(background=True)
        cls = BOHB if which == "bohb" else HyperBand
        opt = cls(configspace=cs, run_id=run_id, nameserver=host, nameserver_port=port,
                  host="127.0.0.1", min_budget=k["min_budget"], max_budget=k["max_budget"],
                  eta=k["eta"])
        try:
            opt.run(n_iterations=hpbandster_iterations(ledger.kernel, ledger.limit))
        finally:
            opt.shutdown(shutdown_workers=True)
            ns.shutdown()


# ------------------------------------------------------------------------------ DEHB

def dehb_object(kernel, seed, tmp):
    from dehb import DEHB
    k = kernels.KERNELS[kernel]
    cs = configspace(kernel, seed)
    return DEHB(cs=cs, dimensions=len(cs), min_fidelity=k["min_budget"],
                max_fidelity=k["max_budget"], eta=k["eta"], n_workers=1, seed=seed,
                output_path=tmp, log_level="WARNING", save_freq="end")


def dehb_config(dehb, job, kernel):
    cfg = job["config"]
    if not hasattr(cfg, "keys"):
        cfg = dehb.vector_to_configspace(cfg)
    return plain(dict(cfg), kernel)


def study_dehb(ledger):
    with tempfile.TemporaryDirectory() as tmp:
        dehb = dehb_object(ledger.kernel, ledger.seed, tmp)
        while True:
            job = dehb.ask()
            try:
                loss = ledger.evaluate(dehb_config(dehb, job, ledger.kernel), job["fidelity"])
            except Exhausted:
                break
            dehb.tell(job, {"fitness": loss, "cost": float(job["fidelity"])})


# ------------------------------------------------------------------------------ SMAC3

def smac_object(kernel, seed, tmp):
    from smac import MultiFidelityFacade, Scenario
    k = kernels.KERNELS[kernel]
    cs = configspace(kernel, seed)
    scenario = Scenario(cs, deterministic=not k["stochastic"], n_trials=10 ** 7,
                        min_budget=k["min_budget"], max_budget=k["max_budget"], seed=seed,
                        output_directory=os.path.join(tmp, "smac3_output"))

    def unused(config, seed=0, budget=0):       # ask/tell only; never called
        raise RuntimeError("the adapter evaluates through ask/tell")

    intensifier = MultiFidelityFacade.get_intensifier(scenario, eta=k["eta"])   # Hyperband
    return MultiFidelityFacade(scenario, unused, intensifier=intensifier, overwrite=True,
                               logging_level=40)


def study_smac(ledger):
    from smac.runhistory.dataclasses import TrialValue
    with tempfile.TemporaryDirectory() as tmp:
        smac = smac_object(ledger.kernel, ledger.seed, tmp)
        while True:
            info = smac.ask()
            try:
                loss = ledger.evaluate(plain(dict(info.config), ledger.kernel), info.budget)
            except Exhausted:
                break
            smac.tell(info, TrialValue(cost=loss, time=0.0), save=False)


# ------------------------------------------------------------------------------ versions

def versions(peer):
    """pip freeze lines of the peer's package and of what decides its behaviour."""
    from importlib import metadata
    out = {}
    for d in (DIST[peer], "ConfigSpace", "numpy", "scipy", "statsmodels", "scikit-learn",
              "pyrfr", "Pyro4"):
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            pass
    return out


# ------------------------------------------------------------------------------ proposal cost

def uniform_results(kernel, n, seed):
    """n configurations drawn uniformly (SplitMix64 stream 7 of the seed), at the max budget,
    with their losses (noise seed = index)."""
    g = kernels.stream(seed, 7)
    k = kernels.KERNELS[kernel]
    out = []
    for i in range(n):
        cfg = {}
        for name, kind, arg in kernels.space(kernel):
            u = g.double()
            cfg[name] = (1 if u < 0.5 else 0) if kind == "cat" else arg[0] + u * (arg[1] - arg[0])
        out.append((cfg, kernels.evaluate(kernel, cfg, k["max_budget"], i)))
    return out


def propose_cost(peer, kernel, n, reps, seed):
    """Milliseconds of each of `reps` timed steps after n results: a step tells one more result
    (the previous proposal's, evaluated at its budget) and asks for the next proposal, so it
    holds whatever model fitting the peer does when a result comes in or a proposal is asked
    for. The first n results are uniform configurations at the max budget (DEHB's come from its
    own ask/tell loop: it cannot be told configurations it did not propose)."""
    k = kernels.KERNELS[kernel]
    results = uniform_results(kernel, n, 20240611)
    times = []

    def timed(tell_and_ask):
        for i in range(reps + 2):
            t0 = time.perf_counter()
            tell_and_ask(n + i)
            times.append((time.perf_counter() - t0) * 1e3)

    if peer == "optuna":
        optuna, study = optuna_objects(kernel, seed)
        dists = {}
        for name, kind, arg in kernels.space(kernel):
            dists[name] = (optuna.distributions.CategoricalDistribution(list(arg)) if kind == "cat"
                           else optuna.distributions.FloatDistribution(arg[0], arg[1]))
        study.add_trials([optuna.trial.create_trial(params=cfg, distributions=dists, value=loss)
                          for cfg, loss in results])
        pending = [study.ask()]
        optuna_suggest(pending[0], kernel)

        def step(i):
            t = pending.pop()
            study.tell(t, kernels.evaluate(kernel, plain(t.params, kernel), k["max_budget"], i))
            t = study.ask()
            optuna_suggest(t, kernel)
            pending.append(t)
        timed(step)
    elif peer == "hpbandster_bohb":
        import random
        import numpy as np
        from hpbandster.optimizers.config_generators.bohb import BOHB as CG_BOHB
        from hpbandster.core.dispatcher import Job
        quiet_logging()
        random.seed(seed)
        np.random.seed(seed)
        cg = CG_BOHB(configspace=configspace(kernel, seed))   # BOHB's defaults

        def tell(i, cfg, loss, update):
            job = Job((0, 0, i), config=cfg, budget=k["max_budget"])
            job.result = {"loss": loss}
            cg.new_result(job, update_model=update)
        for i, (cfg, loss) in enumerate(results):
            tell(i, cfg, loss, i == len(results) - 1)
        pending = [cg.get_config(k["max_budget"])[0]]

        def step(i):
            cfg = pending.pop()
            tell(i, cfg, kernels.evaluate(kernel, plain(cfg, kernel), k["max_budget"], i), True)
            pending.append(cg.get_config(k["max_budget"])[0])
        timed(step)
    elif peer == "dehb":
        with tempfile.TemporaryDirectory() as tmp:
            dehb = dehb_object(kernel, seed, tmp)

            def tell_job(job, i):
                cfg = dehb_config(dehb, job, kernel)
                loss = kernels.evaluate(kernel, cfg, job["fidelity"], i)
                dehb.tell(job, {"fitness": loss, "cost": float(job["fidelity"])})
            for i in range(n):
                tell_job(dehb.ask(), i)
            pending = [dehb.ask()]

            def step(i):
                tell_job(pending.pop(), i)
                pending.append(dehb.ask())
            timed(step)
    elif peer == "smac":
        from ConfigSpace import Configuration
        from smac.runhistory.dataclasses import TrialInfo, TrialValue
        with tempfile.TemporaryDirectory() as tmp:
            smac = smac_object(kernel, seed, tmp)
            cs = smac._scenario.configspace
            for cfg, loss in results:
                smac.tell(TrialInfo(config=Configuration(cs, values=cfg), seed=0,
                                    budget=k["max_budget"]),
                          TrialValue(cost=loss, time=0.0), save=False)
            pending = [smac.ask()]

            def step(i):
                info = pending.pop()
                loss = kernels.evaluate(kernel, plain(dict(info.config), kernel), info.budget, i)
                smac.tell(info, TrialValue(cost=loss, time=0.0), save=False)
                pending.append(smac.ask())
            timed(step)
    else:
        raise ValueError("no proposal-cost measurement for %s" % peer)
    return times[2:]          # the first two are warm-up


# ------------------------------------------------------------------------------ main

def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("study")
    s.add_argument("--peer", choices=PEERS, required=True)
    s.add_argument("--kernel", choices=sorted(kernels.KERNELS), required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--limit", type=float, required=True, help="total budget")
    c = sub.add_parser("propose")
    c.add_argument("--peer", choices=PEERS, required=True)
    c.add_argument("--kernel", default="hartmann6", choices=sorted(kernels.KERNELS))
    c.add_argument("--results", type=int, default=2000)
    c.add_argument("--reps", type=int, default=10)
    c.add_argument("--seed", type=int, default=0)
    v = sub.add_parser("versions")
    v.add_argument("--peer", choices=PEERS, required=True)
    a = p.parse_args()

    # the peers print progress; stdout carries only this adapter's JSON
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    t0 = time.monotonic()
    if a.cmd == "study":
        ledger = Ledger(a.kernel, a.seed, a.limit)
        if a.peer == "optuna":
            study_optuna(ledger)
        elif a.peer.startswith("hpbandster_"):
            study_hpbandster(ledger, a.peer[len("hpbandster_"):])
        elif a.peer == "dehb":
            study_dehb(ledger)
        else:
            study_smac(ledger)
        out = {"peer": a.peer, "kernel": a.kernel, "seed": a.seed, "limit": a.limit,
               "spent": ledger.spent, "trials": ledger.trials}
    elif a.cmd == "propose":
        times = propose_cost(a.peer, a.kernel, a.results, a.reps, a.seed)
        out = {"peer": a.peer, "kernel": a.kernel, "results": a.results, "times_ms": times}
    else:
        out = {"peer": a.peer}
    out["versions"] = versions(a.peer)
    out["python"] = sys.version.split()[0]
    out["wall_seconds"] = time.monotonic() - t0
    sys.stdout.flush()
    os.dup2(real_stdout, 1)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
