#!/usr/bin/python3
"""PPO on CartPole: an objective for `hbmpi run --eval-cmd`.

    hbmpi run --space examples/ppo_cartpole/space.json ... \
        --eval-cmd /usr/bin/python3 examples/ppo_cartpole/ppo.py

hbmpi appends --NAME=VALUE for every parameter and --budget=B (B in PPO iterations: one
iteration collects HB_PPO_STEPS environment steps, 256 by default, and updates the networks on
them). The last line of stdout is the result, a JSON object with "loss" (1 - mean return / 500
of the greedy policy over a fixed set of evaluation episodes: 0 is a perfect balancer) and
"spent" (the iterations trained by this process); everything else goes to stderr.

A promoted trial (HB_PREVIOUS_TRIAL_DIR set) continues from the checkpoint the previous rung of
the same configuration left there, and ends with exactly the agent that training from scratch
to the same budget gives. The cart-pole is written out below (the equations of Gym's
CartPole-v1); no gym needed. By hand: `/usr/bin/python3 ppo.py --learning_rate=0.003 --budget=5`.
See README.md next to this file.
"""

import argparse
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.nn as nn

CHECKPOINT = "checkpoint.pt"
CKPT_FORMAT = "hbmpi-ppo-cartpole/1"
MASK64 = (1 << 64) - 1
MAX_EPISODE_STEPS = 500  # CartPole-v1's time limit
EVAL_SEED = 0x5EED_CA27  # the evaluation episodes' start states: the same for every trial
GAE_LAMBDA = 0.95
VALUE_COEF = 0.5


class Interrupted(Exception):
    """SIGTERM (hbmpi's timeout or stop): clean up, then die of the signal."""


def log(msg):
    print("ppo: " + msg, file=sys.stderr, flush=True)


def fmt_units(x):
    return "%.10g" % x


# ---- the cart-pole (Barto, Sutton and Anderson 1983, as in Gym's CartPole-v1) ----

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
HALF_LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASS_POLE * HALF_LENGTH
FORCE_MAG = 10.0
TAU = 0.02  # seconds between state updates (explicit Euler)
THETA_LIMIT = 12 * 2 * math.pi / 360  # the episode fails beyond 12 degrees...
X_LIMIT = 2.4  # ...or when the cart leaves [-2.4, 2.4]


def cartpole_step(s, action):
    """One Euler step of the cart-pole from state s = (x, x_dot, theta, theta_dot) with force
    +10 N (action 1) or -10 N (action 0). Returns (next state, failed)."""
    x, x_dot, theta, theta_dot = s
    force = FORCE_MAG if action == 1 else -FORCE_MAG
    cos, sin = math.cos(theta), math.sin(theta)
    temp = (force + POLEMASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS
    theta_acc = (GRAVITY * sin - cos * temp) / (
        HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos * cos / TOTAL_MASS))
    x_acc = temp - POLEMASS_LENGTH * theta_acc * cos / TOTAL_MASS
    x = x + TAU * x_dot
    x_dot = x_dot + TAU * x_acc
    theta = theta + TAU * theta_dot
    theta_dot = theta_dot + TAU * theta_acc
    failed = x < -X_LIMIT or x > X_LIMIT or theta < -THETA_LIMIT or theta > THETA_LIMIT
    return (x, x_dot, theta, theta_dot), failed


def cartpole_step_batch(s, actions):
    """cartpole_step for an array of states (N x 4) and actions (N): the same operations."""
    x, x_dot, theta, theta_dot = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
    force = np.where(actions == 1, FORCE_MAG, -FORCE_MAG)
    cos, sin = np.cos(theta), np.sin(theta)
    temp = (force + POLEMASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS
    theta_acc = (GRAVITY * sin - cos * temp) / (
        HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos * cos / TOTAL_MASS))
    x_acc = temp - POLEMASS_LENGTH * theta_acc * cos / TOTAL_MASS
    nxt = np.stack([x + TAU * x_dot, x_dot + TAU * x_acc,
                    theta + TAU * theta_dot, theta_dot + TAU * theta_acc], axis=1)
    failed = (np.abs(nxt[:, 0]) > X_LIMIT) | (np.abs(nxt[:, 2]) > THETA_LIMIT)
    return nxt, failed


def reset_state(rng):
    """A start state: each variable uniform in [-0.05, 0.05], as Gym's reset()."""
    return tuple(float(v) for v in rng.uniform(-0.05, 0.05, size=4))


# ---- arguments ----

def int_in(lo, hi):
    def parse(text):
        v = float(text)
        if not math.isfinite(v) or v != math.floor(v) or not (lo <= v <= hi):
            raise argparse.ArgumentTypeError("expected a whole number in [%d, %d], got %r"
                                             % (lo, hi, text))
        return int(v)
    return parse


def float_in(lo, hi, lo_open=False):
    def parse(text):
        v = float(text)
        if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo):
            raise argparse.ArgumentTypeError("expected a number in %s%g, %g], got %r"
                                             % ("(" if lo_open else "[", lo, hi, text))
        return v
    return parse


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="ppo.py", allow_abbrev=False,
        description="Train a PPO agent on CartPole for --budget iterations; print "
                    "{\"loss\": 1 - mean evaluation return / 500, ...} as the last line.")
    p.add_argument("--n_units_1", type=int_in(1, 4096), default=64,
                   help="units of the first hidden layer (policy and value networks)")
    p.add_argument("--n_units_2", type=int_in(1, 4096), default=64,
                   help="units of the second hidden layer")
    p.add_argument("--batch_size", type=int_in(1, 1 << 20), default=64,
                   help="mini-batch of the updates, in environment steps")
    p.add_argument("--learning_rate", type=float_in(0.0, 10.0, lo_open=True), default=1e-3)
    p.add_argument("--discount", type=float_in(0.0, 1.0), default=0.99)
    p.add_argument("--likelihood_ratio_clipping", type=float_in(0.0, 10.0), default=0.2)
    p.add_argument("--entropy_regularization", type=float_in(0.0, 100.0), default=0.01)
    p.add_argument("--optimization_steps", type=int_in(1, 1000), default=10,
                   help="passes (epochs) over each iteration's steps")
    p.add_argument("--budget", type=float_in(0.0, 1e6, lo_open=True), default=1.0,
                   help="PPO iterations (rounded to a whole number, at least 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="used only when neither HB_CONFIG_SEED nor HB_SEED is set")
    return p.parse_args(argv)


def env_int(name, default, lo, hi):
    text = os.environ.get(name, "")
    if text == "":
        return default
    try:
        v = int(text)
    except ValueError:
        sys.exit("ppo: %s=%r is not a whole number" % (name, text))
    if not (lo <= v <= hi):
        sys.exit("ppo: %s=%d is outside [%d, %d]" % (name, v, lo, hi))
    return v


def trial_seed(args):
    for name in ("HB_CONFIG_SEED", "HB_SEED"):
        text = os.environ.get(name, "")
        if text != "":
            try:
                return int(text) & MASK64, name
            except ValueError:
                sys.exit("ppo: %s=%r is not a whole number" % (name, text))
    return args.seed & MASK64, "--seed"


# ---- seeds: every random stream is a pure function of the trial seed ----

def mix64(x):
    """SplitMix64's finaliser: a well-spread 64-bit value from any 64-bit input."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def stream_seed(seed, stream, index=0):
    """Seed of random stream 'stream' (1: network init, 2: actions of iteration 'index',
    3: episode starts of iteration 'index', 4: mini-batch order of iteration 'index')."""
    return mix64(mix64(mix64(seed) ^ stream) ^ index) >> 1  # 63 bits: any torch accepts it


def generator(seed, stream, index):
    g = torch.Generator()
    g.manual_seed(stream_seed(seed, stream, index))
    return g


# ---- the agent ----

class ActorCritic(nn.Module):
    """Policy and value function, two separate tanh MLPs of the same widths: 4 -> n1 -> n2 ->
    2 logits (left, right), and 4 -> n1 -> n2 -> 1."""

    def __init__(self, n1, n2):
        super().__init__()
        self.pi = nn.Sequential(nn.Linear(4, n1), nn.Tanh(), nn.Linear(n1, n2), nn.Tanh(),
                                nn.Linear(n2, 2))
        self.v = nn.Sequential(nn.Linear(4, n1), nn.Tanh(), nn.Linear(n1, n2), nn.Tanh(),
                               nn.Linear(n2, 1))

    def forward(self, obs):
        return self.pi(obs), self.v(obs).squeeze(-1)


def evaluate(model, n_episodes):
    """Mean return of the greedy policy over n_episodes episodes whose start states are fixed
    (EVAL_SEED): every configuration and seed is measured on the same episodes. Returns
    (mean return, list of returns); NaN outputs end the episode as a failure."""
    rng = np.random.default_rng(EVAL_SEED)
    s = rng.uniform(-0.05, 0.05, size=(n_episodes, 4))
    alive = np.ones(n_episodes, dtype=bool)
    ret = np.zeros(n_episodes, dtype=np.int64)
    model.eval()
    with torch.no_grad():
        for _ in range(MAX_EPISODE_STEPS):
            if not alive.any():
                break
            logits = model.pi(torch.from_numpy(s.astype(np.float32)))
            bad = ~torch.isfinite(logits).all(dim=1).numpy()
            a = (logits[:, 1] > logits[:, 0]).numpy().astype(np.int64)
            nxt, failed = cartpole_step_batch(s, a)
            ret += alive  # a reward of 1 for every step taken, the failing one included
            alive &= ~failed & ~bad
            s = np.where(alive[:, None], nxt, s)
    model.train()
    return float(ret.mean()), [int(r) for r in ret]


class Env:
    """The training episode in progress: it carries over from one iteration to the next (and
    into the checkpoint), as in the usual PPO implementations."""

    def __init__(self):
        self.state, self.t, self.ret = None, 0, 0

    def to_meta(self):
        return {"state": list(self.state) if self.state is not None else None,
                "t": self.t, "ret": self.ret}

    @staticmethod
    def from_meta(m):
        e = Env()
        e.state = tuple(float(v) for v in m["state"]) if m["state"] is not None else None
        e.t, e.ret = int(m["t"]), int(m["ret"])
        return e


def ppo_iteration(it, seed, model, opt, env, args, n_steps):
    """Iteration 'it': n_steps environment steps with the current policy, then
    args.optimization_steps passes of clipped-surrogate updates in mini-batches. Random numbers
    come from generators seeded from (seed, it) only. Returns (finished episode returns,
    diverged)."""
    g_act = generator(seed, 2, it)
    rng_reset = np.random.default_rng(stream_seed(seed, 3, it))
    g_perm = generator(seed, 4, it)
    u = torch.rand(n_steps, generator=g_act, dtype=torch.float64)

    obs = np.zeros((n_steps, 4), dtype=np.float32)
    acts = np.zeros(n_steps, dtype=np.int64)
    logp = np.zeros(n_steps, dtype=np.float32)
    vals = np.zeros(n_steps, dtype=np.float32)
    rews = np.zeros(n_steps, dtype=np.float64)
    nonterm = np.zeros(n_steps, dtype=np.float64)  # 0 where the step ended an episode by failure
    cut = np.zeros(n_steps, dtype=bool)  # the step ended its episode at the time limit
    boot = np.zeros(n_steps, dtype=np.float64)  # then: the value of the state it reached
    finished = []
    with torch.no_grad():
        for k in range(n_steps):
            if env.state is None:
                env.state, env.t, env.ret = reset_state(rng_reset), 0, 0
            o = torch.tensor(env.state, dtype=torch.float32)
            logits, v = model(o)
            if not (torch.isfinite(logits).all() and torch.isfinite(v)):
                return finished, True
            lp = torch.log_softmax(logits, dim=-1)
            a = 1 if float(u[k]) < math.exp(float(lp[1])) else 0
            obs[k], acts[k], logp[k], vals[k] = env.state, a, float(lp[a]), float(v)
            env.state, failed = cartpole_step(env.state, a)
            env.t += 1
            env.ret += 1
            rews[k] = 1.0
            nonterm[k] = 0.0 if failed else 1.0
            if failed or env.t >= MAX_EPISODE_STEPS:
                finished.append(env.ret)
                if not failed:  # time limit: not a failure, bootstrap from the next state
                    cut[k] = True
                    boot[k] = float(model.v(torch.tensor(env.state, dtype=torch.float32)))
                env.state = None
        # the step after the last one, if its episode goes on
        last_v = 0.0
        if env.state is not None:
            last_v = float(model.v(torch.tensor(env.state, dtype=torch.float32)))

    # Generalised advantage estimation (lambda fixed), float64. Step k+1 belongs to step k's
    # episode unless step k ended it: by failure (no value after it) or by the time limit (the
    # value of the state it reached, since the pole had not fallen).
    gamma = args.discount
    adv = np.zeros(n_steps, dtype=np.float64)
    gae = 0.0
    for k in range(n_steps - 1, -1, -1):
        if nonterm[k] == 0.0:
            next_v, ends = 0.0, True
        elif cut[k]:
            next_v, ends = boot[k], True
        else:
            next_v, ends = (float(vals[k + 1]) if k + 1 < n_steps else last_v), False
        delta = rews[k] + gamma * next_v - float(vals[k])
        gae = delta + (0.0 if ends else gamma * GAE_LAMBDA * gae)
        adv[k] = gae
    returns = adv + vals.astype(np.float64)

    t_obs = torch.from_numpy(obs)
    t_act = torch.from_numpy(acts)
    t_logp = torch.from_numpy(logp)
    t_adv = torch.from_numpy(adv.astype(np.float32))
    t_ret = torch.from_numpy(returns.astype(np.float32))
    eps = args.likelihood_ratio_clipping
    bs = min(args.batch_size, n_steps)
    for _ in range(args.optimization_steps):
        perm = torch.randperm(n_steps, generator=g_perm)
        for i in range(0, n_steps, bs):
            idx = perm[i:i + bs]
            logits, v = model(t_obs[idx])
            lp_all = torch.log_softmax(logits, dim=-1)
            lp = lp_all.gather(1, t_act[idx].unsqueeze(1)).squeeze(1)
            a = t_adv[idx]
            if a.numel() > 1:
                a = (a - a.mean()) / (a.std() + 1e-8)
            ratio = torch.exp(lp - t_logp[idx])
            surr = torch.min(ratio * a, torch.clamp(ratio, 1.0 - eps, 1.0 + eps) * a)
            entropy = -(lp_all.exp() * lp_all).sum(dim=1)
            loss = (-surr.mean() + VALUE_COEF * ((v - t_ret[idx]) ** 2).mean()
                    - args.entropy_regularization * entropy.mean())
            if not torch.isfinite(loss):
                return finished, True
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return finished, False


# ---- checkpoints ----
#
# A checkpoint is a dict of tensors, strings and ints only, so that it loads with
# torch.load(weights_only=True) (no code runs from the file); everything else - the optimiser's
# settings, the configuration, the episode in progress, the iterations done - is one JSON string
# ("meta"; JSON keeps a float's exact value).

def save_checkpoint(trial_dir, obj):
    """Write trial_dir/checkpoint.pt atomically: temporary file, fsync, rename, fsync the
    directory. A reader sees the old file or the new one, never half of one."""
    final = os.path.join(trial_dir, CHECKPOINT)
    tmp = os.path.join(trial_dir, ".%s.%d.tmp" % (CHECKPOINT, os.getpid()))
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    try:
        fd = os.open(trial_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename is done anyway
    return final


def load_checkpoint(prev_dir, identity, total_iters):
    """(checkpoint, its meta, None) if prev_dir holds one this run can continue from, else
    (None, None, why not)."""
    path = os.path.join(prev_dir, CHECKPOINT)
    if not os.path.isfile(path):
        return None, None, "%s does not exist" % path
    try:
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
        except TypeError:  # a torch without weights_only (before 1.13)
            ck = torch.load(path, map_location="cpu")
        if not isinstance(ck, dict) or ck.get("format") != CKPT_FORMAT:
            return None, None, "%s is not a %s checkpoint" % (path, CKPT_FORMAT)
        missing = [k for k in ("meta", "model", "optimizer_state", "rng_torch") if k not in ck]
        if missing:
            return None, None, "%s lacks %s" % (path, ", ".join(missing))
        meta = json.loads(ck["meta"])
        iters = int(meta["iterations"])
        float(meta["units"])
        Env.from_meta(meta["env"])
    except Exception as e:  # truncated, corrupt, not a torch file, unreadable...
        first = str(e).splitlines()[0] if str(e) else ""
        return None, None, "cannot read %s: %s%s" % (path, type(e).__name__,
                                                     ": " + first if first else "")
    theirs = meta.get("identity") or {}
    if theirs != identity:
        diff = sorted(k for k in set(identity) | set(theirs) if theirs.get(k) != identity.get(k))
        return None, None, "%s is for another configuration (differs in %s)" % (
            path, ", ".join(diff))
    if iters > total_iters:
        return None, None, "%s is further along (%d iterations) than this budget (%d)" % (
            path, iters, total_iters)
    return ck, meta, None


# ---- main ----

def main(argv):
    args = parse_args(argv)
    t0 = time.monotonic()
    threads = env_int("HB_THREADS", 1, 1, 4096)
    n_steps = env_int("HB_PPO_STEPS", 256, 2, 1 << 20)
    n_eval = env_int("HB_PPO_EVAL", 10, 1, 10000)
    seed, seed_from = trial_seed(args)

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.use_deterministic_algorithms(True)

    total_iters = max(1, math.floor(args.budget + 0.5))
    # What a checkpoint must agree on to be continued from: everything that shapes the agent
    # and its training.
    identity = {"n_units_1": args.n_units_1, "n_units_2": args.n_units_2,
                "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                "discount": args.discount,
                "likelihood_ratio_clipping": args.likelihood_ratio_clipping,
                "entropy_regularization": args.entropy_regularization,
                "optimization_steps": args.optimization_steps, "seed": seed,
                "steps_per_iteration": n_steps}

    def fresh():
        torch.manual_seed(stream_seed(seed, 1))
        m = ActorCritic(args.n_units_1, args.n_units_2)
        return m, torch.optim.Adam(m.parameters(), lr=args.learning_rate)

    model, opt = fresh()
    env = Env()
    log("budget %s = %d iterations of %d steps; seed %d (%s); %d thread(s)"
        % (fmt_units(args.budget), total_iters, n_steps, seed, seed_from, threads))

    start_iter, prev_units, diverged, continued, episodes = 0, 0.0, False, False, 0
    prev_dir = os.environ.get("HB_PREVIOUS_TRIAL_DIR", "")
    if prev_dir:
        ck, meta, why = load_checkpoint(prev_dir, identity, total_iters)
        if ck is None:
            log(why)
            log("no checkpoint in %s, training from scratch" % prev_dir)
        else:
            try:
                model.load_state_dict(ck["model"])
                opt.load_state_dict({"state": ck["optimizer_state"],
                                     "param_groups": meta["optimizer_groups"]})
                torch.set_rng_state(ck["rng_torch"])
                env = Env.from_meta(meta["env"])
            except Exception as e:
                log("cannot restore from %s: %s: %s" % (os.path.join(prev_dir, CHECKPOINT),
                                                        type(e).__name__, e))
                log("no checkpoint in %s, training from scratch" % prev_dir)
                ck = None
                model, opt = fresh()
                env = Env()
        if ck is not None:
            start_iter, prev_units = int(meta["iterations"]), float(meta["units"])
            diverged = bool(meta.get("diverged", False))
            episodes = int(meta.get("episodes", 0))
            continued = True
            log("continued from %s at %s units" % (prev_dir, fmt_units(prev_units)))
            if meta.get("threads") != threads or meta.get("torch") != torch.__version__:
                log("note: the checkpoint was written with %s thread(s), torch %s: results may "
                    "differ in the last bits from a run from scratch"
                    % (meta.get("threads"), meta.get("torch")))

    t1 = time.monotonic()
    it = start_iter
    train_returns = []
    while it < total_iters and not diverged:
        finished, diverged = ppo_iteration(it, seed, model, opt, env, args, n_steps)
        train_returns += finished
        episodes += len(finished)
        if diverged:
            log("non-finite network output or loss in iteration %d: diverged" % it)
            break
        it += 1
    t2 = time.monotonic()

    if diverged:
        mean_return, returns = 0.0, []
    else:
        mean_return, returns = evaluate(model, n_eval)
    loss = 1.0 - mean_return / MAX_EPISODE_STEPS
    t3 = time.monotonic()
    # The budget this process trained: budget - previous units, or the part of it done before
    # the training diverged.
    spent = args.budget - prev_units
    if it < total_iters and total_iters > start_iter:
        spent *= (it - start_iter) / (total_iters - start_iter)
    trial_dir = os.environ.get("HB_TRIAL_DIR", "")
    if trial_dir:
        od = opt.state_dict()
        meta = {"identity": identity, "units": args.budget, "iterations": it,
                "diverged": diverged, "episodes": episodes, "env": env.to_meta(),
                "optimizer_groups": od["param_groups"], "threads": threads,
                "torch": torch.__version__}
        obj = {"format": CKPT_FORMAT, "meta": json.dumps(meta), "model": model.state_dict(),
               "optimizer_state": od["state"], "rng_torch": torch.get_rng_state()}
        path = save_checkpoint(trial_dir, obj)
        log("saved %s (%d iterations, %s units)" % (path, it, fmt_units(args.budget)))
    t4 = time.monotonic()

    log("trained iterations %d..%d in %.2f s (%d episodes ended, mean return %s); evaluation "
        "return %.1f over %d episodes (%.2f s); total %.2f s"
        % (start_iter, it, t2 - t1, len(train_returns),
           "%.1f" % (sum(train_returns) / len(train_returns)) if train_returns else "-",
           mean_return, n_eval, t3 - t2, t4 - t0))
    result = {"loss": loss, "spent": spent, "mean_return": mean_return,
              "train_return": sum(train_returns) / len(train_returns) if train_returns else None,
              "iterations": it, "env_steps": it * n_steps, "episodes": episodes,
              "continued_from": prev_units if continued else None, "diverged": diverged,
              "train_seconds": round(t2 - t1, 3), "seconds": round(t4 - t0, 3)}
    print(json.dumps(result), flush=True)
    return 0


def on_sigterm(signum, frame):
    raise Interrupted()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        sys.exit(main(sys.argv[1:]))
    except Interrupted:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
