#!/usr/bin/python3
"""Time per epoch of the fmnist_mlp kernel (C, bench_fmnist) against numpy (README.md), and of
its float32 variant fmnist_mlp32 against numpy in float32.

Both sides do the same work for each configuration (n_hidden H, batch size B): draw the initial
weights, train E epochs (docs/kernels.md §4: SplitMix64 streams, Fisher-Yates shuffle per epoch,
SGD + momentum + weight decay, float64) and compute the validation error once. The numpy
version below is written from docs/kernels.md §4 alone. Both use OpenBLAS with one thread:
OPENBLAS_NUM_THREADS=1 is set before numpy is imported and for the C program (which also calls
openblas_set_num_threads(1)); the script checks which BLAS numpy has loaded. Data loading is not
timed on either side. The C side is one `bench_fmnist --serve` process (data loaded once); the
script alternates one C eval and one numpy eval, R rounds per configuration after one untimed
warm-up round, so that the load of a shared machine falls on both alike. The figure is the
ratio of the medians (numpy / C), target >= 1.5. Sanity check: the two validation errors agree
within 0.003 (docs/kernels.md §4's tolerance: float64, but another summation order in places).

Float32: a second `bench_fmnist --serve --kernel fmnist_mlp32` process times the float32 C
kernel, and the same numpy code runs with dtype float32 (weights drawn in float64 as §4 says, then
rounded; data, parameters and hyperparameters in float32). Each round then alternates four evals:
C, numpy, C float32, numpy float32. Added figures: numpy / C32 (what float32 C buys against the
float64 reference) and numpy32 / C32 (the like-for-like comparison). Both float32 validation
errors must be within 0.003 of the float64 C kernel's (docs/kernels.md §4, "float32 variant").

usage: fmnist_epoch.py --bench build/benchmarks/bench_fmnist [--configs 16x16,128x64,...]
                       [--epochs 1] [--repeats 5] [--quick] [--out FILE] [--data DIR]
Output: one JSON object on stdout (or --out), a table on stderr. Exit status: 0 fine; 1 a run
failed or a sanity check failed; 2 usage.
"""
import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy loads OpenBLAS

import argparse
import gzip
import json
import math
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"
DEFAULT_CONFIGS = "16x16,128x64,128x512,1024x512,1024x16"
HP = {"learning_rate": 0.01, "weight_decay": 1e-4, "momentum": 0.9, "seed": 0}
TOLERANCE = 0.003
ROWS, PIXELS, CLASSES = 10000, 784, 10

U64 = np.uint64
GAMMA = U64(0x9E3779B97F4A7C15)
STREAM = 0xD1B54A32D192ED03


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------- SplitMix64 streams (docs/kernels.md §1.1), vectorised ----------

def mix(z):
    z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


class Stream:
    """Stream k of seed s; draws n outputs at once (the i-th output mixes state + i*gamma)."""

    def __init__(self, seed, k):
        self.state = U64((seed ^ (k * STREAM)) & 0xFFFFFFFFFFFFFFFF)

    def next(self, n):
        with np.errstate(over="ignore"):
            states = self.state + GAMMA * np.arange(1, n + 1, dtype=U64)
            self.state = states[-1]
            return mix(states)

    def doubles(self, n):
        return (self.next(n) >> U64(11)).astype(np.float64) * 2.0 ** -53


# ---------- data ----------

def load(data_dir, dtype=np.float64):
    def idx(name, header):
        with gzip.open(os.path.join(data_dir, name), "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=header)
    images = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, PIXELS)
    labels = idx("train-labels-idx1-ubyte.gz", 8)
    x = images.astype(dtype) / dtype(255.0)
    return x[:ROWS], labels[:ROWS].astype(np.int64), x[50000:60000], labels[50000:60000].astype(np.int64)


# ---------- the network, docs/kernels.md §4 ----------

def train_numpy(data, h, b, epochs, lr, wd, mu, seed):
    """The network in the precision of the data's arrays (float64, or float32 for the float32
    comparison: the initial weights drawn in float64, then rounded)."""
    xtr, ytr, xva, yva = data
    dt = xtr.dtype.type
    lr, wd, mu = dt(lr), dt(wd), dt(mu)
    s1 = Stream(seed, 1)
    a1, a2 = np.sqrt(6.0 / (PIXELS + h)), np.sqrt(6.0 / (h + CLASSES))
    w1 = ((2.0 * s1.doubles(PIXELS * h) - 1.0) * a1).reshape(PIXELS, h).astype(dt)
    w2 = ((2.0 * s1.doubles(h * CLASSES) - 1.0) * a2).reshape(h, CLASSES).astype(dt)
    b1, b2 = np.zeros(h, dtype=dt), np.zeros(CLASSES, dtype=dt)
    params = [w1, b1, w2, b2]
    vel = [np.zeros_like(p) for p in params]
    order = list(range(ROWS))  # the permutation, carried over epochs
    s2 = Stream(seed, 2)
    for _ in range(epochs):
        # Fisher-Yates, i = n-1 down to 1, j = next() mod (i+1): draws vectorised, swaps in order.
        js = s2.next(ROWS - 1) % np.arange(ROWS, 1, -1, dtype=U64)
        for i, j in zip(range(ROWS - 1, 0, -1), js.tolist()):
            order[i], order[j] = order[j], order[i]
        perm = np.array(order)
        for start in range(0, ROWS, b):
            idx = perm[start:start + b]
            x, y = xtr[idx], ytr[idx]
            m = len(idx)
            a = x @ w1 + b1
            hid = np.maximum(a, dt(0.0))
            s = hid @ w2 + b2
            s -= s.max(axis=1, keepdims=True)
            e = np.exp(s)
            ds = e / e.sum(axis=1, keepdims=True)
            ds[np.arange(m), y] -= dt(1.0)
            ds /= dt(m)
            g_w2 = hid.T @ ds + wd * w2
            g_b2 = ds.sum(axis=0)
            dh = (ds @ w2.T) * (a > 0)
            g_w1 = x.T @ dh + wd * w1
            g_b1 = dh.sum(axis=0)
            for p, v, g in zip(params, vel, (g_w1, g_b1, g_w2, g_b2)):
                v *= mu
                v += g
                p -= lr * v
        if not all(np.isfinite(p).all() for p in params):
            return 1.0
    s = np.maximum(xva @ w1 + b1, dt(0.0)) @ w2 + b2
    if not np.isfinite(s).all():
        return 1.0
    return float(np.mean(s.argmax(axis=1) != yva))


# ---------- which BLAS numpy uses ----------

def numpy_blas():
    """The BLAS libraries mapped into this process after a matrix product (numpy 1.24 on Debian
    links libblas.so.3 / libcblas.so.3, which the alternatives system points at OpenBLAS or at
    the reference BLAS)."""
    np.ones((64, 64)) @ np.ones((64, 64))
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in os.path.basename(path).lower() or "lapack" in os.path.basename(path).lower():
                libs.add(path)
    return sorted(libs)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def git_commit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        p = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, timeout=10)
        return p.stdout.strip() if p.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


class CKernel:
    """bench_fmnist --serve: one eval per request line, one JSON line back."""

    def __init__(self, args, kernel="fmnist_mlp"):
        cmd = [args.bench, "--serve", "--kernel", kernel] + (["--data", args.data] if args.data != DATA else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=dict(os.environ))

    def eval(self, h, b, epochs):
        self.proc.stdin.write(f"{h} {b} {epochs} {HP['learning_rate']!r} {HP['weight_decay']!r} "
                              f"{HP['momentum']!r} {HP['seed']}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"fmnist_epoch: bench_fmnist ended (status {self.proc.wait()})")
        r = json.loads(line)
        return r["seconds"], r["val_error"]

    def close(self):
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            sys.exit(f"fmnist_epoch: bench_fmnist failed ({self.proc.returncode})")


def numpy_eval(data, h, b, epochs):
    t = time.perf_counter()
    err = train_numpy(data, h, b, epochs, HP["learning_rate"], HP["weight_decay"],
                      HP["momentum"], HP["seed"])
    return time.perf_counter() - t, err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, help="the bench_fmnist program")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help="HxB,HxB,... (n_hidden x batch)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--space-sample", type=int, default=12, metavar="K",
                    help="also time K (n_hidden, batch) pairs drawn from the kernel's space as a tuner "
                         "draws them (log-uniform, seed 0) and compare the totals (default 12; 0: none)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 16x512, 1 repeat")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.quick:
        args.configs, args.repeats, args.space_sample = "16x512", 1, 0
    try:
        configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]
    except ValueError:
        ap.error(f"--configs: expected HxB,HxB,..., got '{args.configs}'")
    if args.epochs < 1 or args.repeats < 1:
        ap.error("--epochs and --repeats must be >= 1")

    blas = numpy_blas()
    uses_openblas = any("openblas" in os.path.realpath(p).lower() for p in blas)
    if not uses_openblas:
        log(f"fmnist_epoch: warning: numpy's BLAS is not OpenBLAS: {blas}")
    t0 = time.perf_counter()
    data = load(args.data)
    data32 = load(args.data, np.float32)
    log(f"numpy: data loaded in {time.perf_counter() - t0:.2f} s; BLAS {blas}")

    load_start = os.getloadavg()
    ckernel, ckernel32 = CKernel(args), CKernel(args, "fmnist_mlp32")
    # The four implementations of a round, in the order they alternate.
    impls = {"c": ckernel.eval, "numpy": lambda h, b, e: numpy_eval(data, h, b, e),
             "c32": ckernel32.eval, "numpy32": lambda h, b, e: numpy_eval(data32, h, b, e)}
    for run in impls.values():  # warm-up round: first-touch costs of every process
        run(16, 512, 1)
    t_start = time.perf_counter()
    cells, ok = [], True
    log(f"{'H':>5} {'B':>4} {'C s':>7} {'numpy s':>7} {'C32 s':>7} {'np32 s':>7} {'np/C':>5} "
        f"{'np/C32':>6} {'np32/C32':>8} {'C/C32':>5} {'C err':>7} {'np err':>7} {'C32 err':>7} {'np32 err':>8}")
    for h, b in configs:
        times = {k: [] for k in impls}
        errs = {k: set() for k in impls}
        for _ in range(args.repeats):
            for k, run in impls.items():
                t, e = run(h, b, args.epochs)
                times[k].append(t)
                errs[k].add(e)
        if any(len(e) != 1 for e in errs.values()):
            sys.exit(f"fmnist_epoch: {h}x{b}: repeats disagree: {errs}")
        err = {k: e.pop() for k, e in errs.items()}
        med = {k: statistics.median(t) for k, t in times.items()}
        c_err, np_err, c_med, np_med = err["c"], err["numpy"], med["c"], med["numpy"]
        agree = abs(np_err - c_err) <= TOLERANCE
        # float32 (docs/kernels.md §4, "float32 variant"): within the same 0.003 of the float64 C kernel
        agree32 = all(abs(err[k] - c_err) <= TOLERANCE for k in ("c32", "numpy32"))
        ok = ok and agree and agree32
        cell = {"n_hidden": h, "batch_size": b, "epochs": args.epochs,
                "c_median_s": round(c_med, 6), "c_times_s": [round(t, 6) for t in times["c"]],
                "numpy_median_s": round(np_med, 6), "numpy_times_s": [round(t, 6) for t in times["numpy"]],
                "c_per_epoch_s": round(c_med / args.epochs, 6),
                "numpy_per_epoch_s": round(np_med / args.epochs, 6),
                "ratio_numpy_over_c": round(np_med / c_med, 3),
                "c_val_error": c_err, "numpy_val_error": np_err, "val_errors_agree": agree,
                "c32_median_s": round(med["c32"], 6), "c32_times_s": [round(t, 6) for t in times["c32"]],
                "numpy32_median_s": round(med["numpy32"], 6),
                "numpy32_times_s": [round(t, 6) for t in times["numpy32"]],
                "c32_per_epoch_s": round(med["c32"] / args.epochs, 6),
                "numpy32_per_epoch_s": round(med["numpy32"] / args.epochs, 6),
                "ratio_numpy_over_c32": round(np_med / med["c32"], 3),
                "ratio_numpy32_over_c32": round(med["numpy32"] / med["c32"], 3),
                "ratio_c_over_c32": round(c_med / med["c32"], 3),
                "c32_val_error": err["c32"], "numpy32_val_error": err["numpy32"],
                "val_errors32_agree": agree32}
        cells.append(cell)
        log(f"{h:5d} {b:4d} {c_med:7.3f} {np_med:7.3f} {med['c32']:7.3f} {med['numpy32']:7.3f} "
            f"{cell['ratio_numpy_over_c']:5.2f} {cell['ratio_numpy_over_c32']:6.2f} "
            f"{cell['ratio_numpy32_over_c32']:8.2f} {cell['ratio_c_over_c32']:5.2f} "
            f"{c_err:7.4f} {np_err:7.4f} {err['c32']:7.4f} {err['numpy32']:8.4f}"
            f"{'' if agree and agree32 else '  MISMATCH'}")
    space = None
    if args.space_sample > 0:
        # What a tuning run pays: configurations drawn as the optimisers' uniform sampler draws
        # them from the kernel's space (docs/kernels.md §4: batch_size int log [16, 512], n_hidden int
        # log [16, 1024]), one epoch each, R alternating rounds; the totals of the medians.
        rng = np.random.RandomState(0)
        pairs = [(int(round(math.exp(rng.uniform(math.log(16), math.log(1024))))),
                  int(round(math.exp(rng.uniform(math.log(16), math.log(512))))))
                 for _ in range(args.space_sample)]
        # The float32 C kernel too (not numpy float32: this part is about what a tuner pays).
        c_tot, np_tot, c32_tot, rows = 0.0, 0.0, 0.0, []
        for h, b in pairs:
            ct, nt, c32t = [], [], []
            for _ in range(args.repeats):
                ct.append(ckernel.eval(h, b, args.epochs)[0])
                nt.append(numpy_eval(data, h, b, args.epochs)[0])
                c32t.append(ckernel32.eval(h, b, args.epochs)[0])
            cm, nm, c32m = statistics.median(ct), statistics.median(nt), statistics.median(c32t)
            c_tot, np_tot, c32_tot = c_tot + cm, np_tot + nm, c32_tot + c32m
            rows.append({"n_hidden": h, "batch_size": b, "c_median_s": round(cm, 6),
                         "numpy_median_s": round(nm, 6), "ratio_numpy_over_c": round(nm / cm, 3),
                         "c32_median_s": round(c32m, 6), "ratio_numpy_over_c32": round(nm / c32m, 3)})
            log(f"space {h:5d} {b:4d} {cm:9.3f} {nm:9.3f} {nm / cm:6.2f}  C32 {c32m:9.3f} {nm / c32m:6.2f}")
        space = {"draws": rows, "c_total_s": round(c_tot, 6), "numpy_total_s": round(np_tot, 6),
                 "ratio_total": round(np_tot / c_tot, 3), "c32_total_s": round(c32_tot, 6),
                 "ratio_total_numpy_over_c32": round(np_tot / c32_tot, 3)}
        log(f"space sample of {len(pairs)}: C {c_tot:.2f} s, numpy {np_tot:.2f} s, ratio {np_tot / c_tot:.2f}; "
            f"C32 {c32_tot:.2f} s, numpy / C32 {np_tot / c32_tot:.2f}")
    ckernel.close()
    ckernel32.close()

    out = {"benchmark": "fmnist_epoch",
           "unit": "s per eval (initial weights + E epochs + one validation pass)",
           "settings": {"epochs": args.epochs, "repeats": args.repeats, **HP,
                        "tolerance": TOLERANCE, "OPENBLAS_NUM_THREADS": os.environ["OPENBLAS_NUM_THREADS"],
                        "git_commit": git_commit()},
           "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(),
                       "python": platform.python_version(), "numpy": np.__version__,
                       "numpy_blas": blas, "numpy_uses_openblas": uses_openblas,
                       "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
           "cells": cells,
           "wall_seconds": round(time.perf_counter() - t_start, 1),
           "min_ratio": min(c["ratio_numpy_over_c"] for c in cells),
           "min_ratio_numpy_over_c32": min(c["ratio_numpy_over_c32"] for c in cells),
           "min_ratio_numpy32_over_c32": min(c["ratio_numpy32_over_c32"] for c in cells),
           "space_sample": space,
           "all_val_errors_agree": ok}  # float64 pairs and float32 ones
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0 if ok and uses_openblas else 1


if __name__ == "__main__":
    sys.exit(main())
