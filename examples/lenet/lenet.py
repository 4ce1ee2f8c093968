#!/usr/bin/python3
"""LeNet on Fashion-MNIST, trained with SGD: an objective for `hbmpi run --eval-cmd`.

    hbmpi run --space examples/lenet/space.json ... \
        --eval-cmd /usr/bin/python3 examples/lenet/lenet.py

hbmpi appends --NAME=VALUE for every parameter and --budget=B (B in epochs of the training
subset). The last line of stdout is the result, a JSON object with "loss" (the validation error)
and "spent" (the epochs trained by this process); everything else goes to stderr.

A promoted trial (HB_PREVIOUS_TRIAL_DIR set) continues from the checkpoint the previous rung of
the same configuration left there, and ends with exactly the model that training from scratch
to the same budget gives. By hand: `/usr/bin/python3 lenet.py --learning_rate=0.05 --budget=1`.
See README.md next to this file.
"""

import argparse
import gzip
import json
import math
import os
import signal
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CHECKPOINT = "checkpoint.pt"
CKPT_FORMAT = "hbmpi-lenet/1"
DATA_DIR = "/usr/share/datasets/fashion-mnist"
MICRO = 250  # largest chunk of a mini-batch pushed through the network at once
MASK64 = (1 << 64) - 1


class Interrupted(Exception):
    """SIGTERM (hbmpi's timeout or stop): clean up, then die of the signal."""


def log(msg):
    print("lenet: " + msg, file=sys.stderr, flush=True)


def fmt_units(x):
    return "%.10g" % x


# ---- arguments ----

def positive_int(text):
    v = float(text)
    if not math.isfinite(v) or v != math.floor(v) or v < 1:
        raise argparse.ArgumentTypeError("expected a whole number >= 1, got %r" % text)
    return int(v)


def positive_float(text):
    v = float(text)
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError("expected a number > 0, got %r" % text)
    return v


def fraction(text):
    v = float(text)
    if not (0.0 <= v < 1.0):
        raise argparse.ArgumentTypeError("expected a number in [0, 1), got %r" % text)
    return v


def nonneg_float(text):
    v = float(text)
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError("expected a number >= 0, got %r" % text)
    return v


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="lenet.py", allow_abbrev=False,
        description="Train a LeNet on Fashion-MNIST with SGD for --budget epochs of the "
                    "training subset; print {\"loss\": validation error, ...} as the last line.")
    p.add_argument("--learning_rate", type=positive_float, default=0.05)
    p.add_argument("--batch_size", type=positive_int, default=100)
    p.add_argument("--n_kernels1", type=positive_int, default=20, help="kernels of conv layer 1")
    p.add_argument("--n_kernels2", type=positive_int, default=50, help="kernels of conv layer 2")
    p.add_argument("--n_fc", type=positive_int, default=500, help="units of the hidden fc layer")
    p.add_argument("--momentum", type=fraction, default=0.0)
    p.add_argument("--weight_decay", type=nonneg_float, default=0.0)
    p.add_argument("--budget", type=positive_float, default=1.0,
                   help="epochs of the training subset (may be fractional)")
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
        sys.exit("lenet: %s=%r is not a whole number" % (name, text))
    if not (lo <= v <= hi):
        sys.exit("lenet: %s=%d is outside [%d, %d]" % (name, v, lo, hi))
    return v


def trial_seed(args):
    for name in ("HB_CONFIG_SEED", "HB_SEED"):
        text = os.environ.get(name, "")
        if text != "":
            try:
                return int(text) & MASK64, name
            except ValueError:
                sys.exit("lenet: %s=%r is not a whole number" % (name, text))
    return args.seed & MASK64, "--seed"


# ---- seeds: every random stream is a pure function of the trial seed ----

def mix64(x):
    """SplitMix64's finaliser: a well-spread 64-bit value from any 64-bit input."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def stream_seed(seed, stream, index=0):
    """Seed of random stream 'stream' (1: model init, 2: data order), item 'index' (an epoch)."""
    return mix64(mix64(mix64(seed) ^ stream) ^ index) >> 1  # 63 bits: any torch accepts it


# ---- data ----

def read_idx(path, magic, count_from_end=False, count=None):
    """The first (or last) 'count' items of an IDX file as a uint8 array: images N x 28 x 28,
    labels N."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    (m,) = struct.unpack(">I", raw[:4])
    if m != magic:
        sys.exit("lenet: %s: magic 0x%x, expected 0x%x" % (path, m, magic))
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        sys.exit("lenet: %s: %d bytes of data for dimensions %s" % (path, data.size, dims))
    data = data.reshape(dims)
    if count is None:
        return data
    return data[-count:] if count_from_end else data[:count]


def load_data(n_train, n_val):
    """Training subset: the first n_train images of the training file; validation: its last
    n_val images (disjoint). Pixels scaled to [0, 1] and standardised with the training subset's
    mean and standard deviation."""
    d = os.environ.get("HB_LENET_DATA", DATA_DIR)
    img = os.path.join(d, "train-images-idx3-ubyte.gz")
    lab = os.path.join(d, "train-labels-idx1-ubyte.gz")
    for path in (img, lab):
        if not os.path.exists(path):
            sys.exit("lenet: %s is missing (Debian: apt-get install dataset-fashion-mnist, "
                     "or set HB_LENET_DATA)" % path)
    images = read_idx(img, 0x803)
    labels = read_idx(lab, 0x801)
    n = images.shape[0]
    if n_train + n_val > n:
        sys.exit("lenet: HB_LENET_TRAIN + HB_LENET_VAL = %d exceeds the %d training images"
                 % (n_train + n_val, n))
    xtr = images[:n_train].astype(np.float64) / 255.0
    mean, std = xtr.mean(), xtr.std()
    xva = images[n - n_val:].astype(np.float64) / 255.0

    def to_tensor(x):
        return torch.from_numpy(((x - mean) / std).astype(np.float32)).unsqueeze(1).contiguous()

    return (to_tensor(xtr), torch.from_numpy(labels[:n_train].astype(np.int64)),
            to_tensor(xva), torch.from_numpy(labels[n - n_val:].astype(np.int64)))


class DataOrder:
    """The training examples as one endless stream: epoch e is a permutation drawn from its own
    generator, seeded from (seed, e); mini-batch k is stream positions [k*bs, (k+1)*bs), which
    may straddle two epochs. Batch k therefore depends only on (seed, k): a run that continues
    at step k sees exactly the batches a run from scratch sees from step k on."""

    def __init__(self, n, batch_size, seed):
        self.n, self.bs, self.seed = n, batch_size, seed
        self.cache = {}

    def generator(self, epoch):
        g = torch.Generator()
        g.manual_seed(stream_seed(self.seed, 2, epoch))
        return g

    def perm(self, epoch):
        p = self.cache.get(epoch)
        if p is None:
            p = torch.randperm(self.n, generator=self.generator(epoch))
            self.cache = {k: v for k, v in self.cache.items() if k >= epoch - 1}
            self.cache[epoch] = p
        return p

    def batch(self, k):
        start, end = k * self.bs, (k + 1) * self.bs
        parts = []
        while start < end:
            e, off = divmod(start, self.n)
            take = min(end - start, self.n - off)
            parts.append(self.perm(e)[off:off + take])
            start += take
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def state(self, steps):
        """Where the stream stands after 'steps' batches, and the state of the generator of
        that epoch's permutation after drawing it (a record: the position alone recreates it)."""
        epoch, offset = divmod(steps * self.bs, self.n)
        g = self.generator(epoch)
        torch.randperm(self.n, generator=g)
        return ({"scheme": "per-epoch randperm, generator seeded from (seed, epoch)",
                 "seed": self.seed, "steps": steps, "epoch": epoch, "offset": offset},
                g.get_state())


# ---- model ----

class LeNet(nn.Module):
    """conv 5x5 -> relu -> max-pool 2 -> conv 5x5 -> relu -> max-pool 2 -> fc -> relu -> fc.
    28x28 input, no padding: 24x24 -> 12x12 -> 8x8 -> 4x4."""

    def __init__(self, k1, k2, n_fc):
        super().__init__()
        self.conv1 = nn.Conv2d(1, k1, 5)
        self.conv2 = nn.Conv2d(k1, k2, 5)
        self.fc1 = nn.Linear(k2 * 4 * 4, n_fc)
        self.fc2 = nn.Linear(n_fc, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def evaluate(model, x, y, chunk=MICRO):
    """(error rate, mean cross-entropy or None). Rows with a non-finite logit count as wrong."""
    model.eval()
    wrong, xent = 0, 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            out = model(x[i:i + chunk])
            yy = y[i:i + chunk]
            bad = ~torch.isfinite(out).all(dim=1)
            wrong += int(((out.argmax(dim=1) != yy) | bad).sum())
            xent += float(F.cross_entropy(out, yy, reduction="sum"))
    model.train()
    n = x.shape[0]
    return wrong / n, (xent / n if math.isfinite(xent) else None)


# ---- checkpoints ----
#
# A checkpoint is a dict of tensors, strings and ints only, so that it loads with
# torch.load(weights_only=True) (no code runs from the file); everything else - the optimiser's
# settings, the configuration it belongs to, the units done - is one JSON string ("meta"; JSON
# keeps a float's exact value).

def pack_checkpoint(meta, model, opt, order_state):
    od = opt.state_dict()
    order_meta, order_gen = order_state
    meta = dict(meta, optimizer_groups=od["param_groups"], data_order=order_meta)
    return {"format": CKPT_FORMAT, "meta": json.dumps(meta), "model": model.state_dict(),
            "optimizer_state": od["state"], "rng_torch": torch.get_rng_state(),
            "data_order_generator": order_gen}  # python's and numpy's RNGs are not used


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


def load_checkpoint(prev_dir, identity, total_steps, budget):
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
        units, steps = float(meta["units"]), int(meta["steps"])
    except Exception as e:  # truncated, corrupt, not a torch file, unreadable...
        first = str(e).splitlines()[0] if str(e) else ""
        return None, None, "cannot read %s: %s%s" % (path, type(e).__name__,
                                                     ": " + first if first else "")
    theirs = meta.get("identity") or {}
    if theirs != identity:
        diff = sorted(k for k in set(identity) | set(theirs) if theirs.get(k) != identity.get(k))
        return None, None, "%s is for another configuration or data (differs in %s)" % (
            path, ", ".join(diff))
    if steps > total_steps or units > budget:
        return None, None, "%s is further along (%s units) than this budget (%s)" % (
            path, fmt_units(units), fmt_units(budget))
    return ck, meta, None


# ---- main ----

def main(argv):
    args = parse_args(argv)
    t0 = time.monotonic()
    threads = env_int("HB_THREADS", 1, 1, 4096)
    n_train = env_int("HB_LENET_TRAIN", 10000, 1, 60000)
    n_val = env_int("HB_LENET_VAL", 10000, 1, 60000)
    seed, seed_from = trial_seed(args)

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.use_deterministic_algorithms(True)

    xtr, ytr, xva, yva = load_data(n_train, n_val)
    total_steps = max(1, math.floor(args.budget * n_train / args.batch_size + 0.5))
    # What a checkpoint must agree on to be continued from: everything that shapes the model
    # and the stream of batches.
    identity = {"learning_rate": args.learning_rate, "batch_size": args.batch_size,
                "n_kernels1": args.n_kernels1, "n_kernels2": args.n_kernels2,
                "n_fc": args.n_fc, "momentum": args.momentum,
                "weight_decay": args.weight_decay, "seed": seed, "n_train": n_train,
                "n_val": n_val, "data": os.path.realpath(os.environ.get("HB_LENET_DATA",
                                                                         DATA_DIR))}

    def fresh():
        torch.manual_seed(stream_seed(seed, 1))
        m = LeNet(args.n_kernels1, args.n_kernels2, args.n_fc)
        return m, torch.optim.SGD(m.parameters(), lr=args.learning_rate,
                                  momentum=args.momentum, weight_decay=args.weight_decay)

    model, opt = fresh()
    order = DataOrder(n_train, args.batch_size, seed)
    log("budget %s epochs of %d images = %d mini-batches of %d; seed %d (%s); %d thread(s)"
        % (fmt_units(args.budget), n_train, total_steps, args.batch_size, seed, seed_from,
           threads))

    start_step, prev_units, diverged, continued = 0, 0.0, False, False
    prev_dir = os.environ.get("HB_PREVIOUS_TRIAL_DIR", "")
    if prev_dir:
        ck, meta, why = load_checkpoint(prev_dir, identity, total_steps, args.budget)
        if ck is None:
            log(why)
            log("no checkpoint in %s, training from scratch" % prev_dir)
        else:
            try:
                model.load_state_dict(ck["model"])
                opt.load_state_dict({"state": ck["optimizer_state"],
                                     "param_groups": meta["optimizer_groups"]})
                torch.set_rng_state(ck["rng_torch"])
            except Exception as e:
                log("cannot restore from %s: %s: %s" % (os.path.join(prev_dir, CHECKPOINT),
                                                        type(e).__name__, e))
                log("no checkpoint in %s, training from scratch" % prev_dir)
                ck = None
                model, opt = fresh()
        if ck is not None:
            start_step, prev_units = int(meta["steps"]), float(meta["units"])
            diverged = bool(meta.get("diverged", False))
            continued = True
            log("continued from %s at %s units" % (prev_dir, fmt_units(prev_units)))
            pb = os.environ.get("HB_PREVIOUS_BUDGET", "")
            try:
                pb_differs = pb != "" and float(pb) != prev_units
            except ValueError:
                pb_differs = True
            if pb_differs:
                log("note: HB_PREVIOUS_BUDGET=%s but the checkpoint holds %s units"
                    % (pb, fmt_units(prev_units)))
            if meta.get("threads") != threads or meta.get("torch") != torch.__version__:
                log("note: the checkpoint was written with %s thread(s), torch %s: results may "
                    "differ in the last bits from a run from scratch"
                    % (meta.get("threads"), meta.get("torch")))

    t1 = time.monotonic()
    train_sum, train_n = 0.0, 0
    step = start_step
    model.train()
    while step < total_steps and not diverged:
        idx = order.batch(step)
        opt.zero_grad(set_to_none=True)
        # The gradient of the batch's mean loss, accumulated over chunks of at most MICRO
        # examples: the same gradient (up to rounding) at half the time for large batches,
        # whose activations no longer fit the caches.
        v = 0.0
        for i in range(0, idx.shape[0], MICRO):
            part = idx[i:i + MICRO]
            loss = F.cross_entropy(model(xtr[part]), ytr[part], reduction="sum") / idx.shape[0]
            loss.backward()
            v += float(loss)
        opt.step()
        step += 1
        if not math.isfinite(v):
            diverged = True  # NaN/inf from here on: stop, and report the error it has
            log("training loss became %s at mini-batch %d: diverged" % (v, step))
            break
        train_sum += v
        train_n += 1
    t2 = time.monotonic()

    val_error, val_xent = evaluate(model, xva, yva)
    t3 = time.monotonic()
    # The budget this process trained, in nominal epochs as hbmpi counts them (the number of
    # mini-batches is rounded to whole ones): budget - previous units, or the part of it done
    # before the training diverged.
    spent = args.budget - prev_units
    if step < total_steps:
        spent *= (step - start_step) / (total_steps - start_step)
    trial_dir = os.environ.get("HB_TRIAL_DIR", "")
    if trial_dir:
        meta = {"identity": identity, "units": args.budget,
                "steps": step, "diverged": diverged,  # diverged: final, whatever the budget
                "threads": threads, "torch": torch.__version__}
        path = save_checkpoint(trial_dir, pack_checkpoint(meta, model, opt, order.state(step)))
        log("saved %s (%d mini-batches, %s units)" % (path, step, fmt_units(args.budget)))
    t4 = time.monotonic()

    log("trained mini-batches %d..%d in %.2f s; validation error %.4f (%.2f s); total %.2f s"
        % (start_step, step, t2 - t1, val_error, t3 - t2, t4 - t0))
    result = {"loss": val_error, "spent": spent, "val_xent": val_xent,
              "train_xent": train_sum / train_n if train_n else None,
              "steps": step, "epochs": step * args.batch_size / n_train,
              "continued_from": prev_units if continued else None,
              "diverged": diverged, "train_seconds": round(t2 - t1, 3),
              "seconds": round(t4 - t0, 3)}
    print(json.dumps(result), flush=True)
    return 0


def on_sigterm(signum, frame):
    raise Interrupted()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        sys.exit(main(sys.argv[1:]))
    except Interrupted:
        # The temporary checkpoint (if any) is gone by now (finally clauses); die of the
        # signal as hbmpi expects from a program it stopped.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
