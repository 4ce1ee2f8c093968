"""The two kernels of the sample-efficiency protocol, written in Python from docs/kernels.md.

hartmann6 (section 2.1), counting_ones with its SplitMix64 streams (sections 1.1 and 3) and
counting_ones_exact (section 3). Pure Python (no numpy), so that Debian's python3 and every
peer's virtual environment can import it; tests/peers_kernels.py checks it against
tests/data/vectors.json (hartmann6 within max(1e-12, 1e-12*|loss|), counting_ones bit-exact).

Each kernel is described by a small dict (SPACES) that the adapters map to their own
libraries' spaces (ConfigSpace, Optuna), as docs/kernels.md section 6 says.
"""

import math

MASK64 = (1 << 64) - 1

# ---------------------------------------------------------------------------- SplitMix64 (1.1)


class SplitMix64:
    def __init__(self, state):
        self.state = state & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def double(self):
        return (self.next() >> 11) * (2.0 ** -53)


def stream(seed, k):
    """Stream k of seed s: initial state s XOR (k * 0xD1B54A32D192ED03 mod 2^64)."""
    return SplitMix64((seed & MASK64) ^ ((k * 0xD1B54A32D192ED03) & MASK64))


# ---------------------------------------------------------------------------- hartmann6 (2.1)

H6_ALPHA = (1.0, 1.2, 3.0, 3.2)
H6_A = ((10, 3, 17, 3.5, 1.7, 8),
        (0.05, 10, 17, 0.1, 8, 14),
        (3, 3.5, 1.7, 10, 17, 8),
        (17, 8, 0.05, 10, 0.1, 14))
H6_P = tuple(tuple(1e-4 * v for v in row) for row in (
    (1312, 1696, 5569, 124, 8283, 5886),
    (2329, 4135, 8307, 3736, 1004, 9991),
    (2348, 1451, 3522, 2883, 3047, 6650),
    (4047, 8828, 8732, 5743, 1091, 381)))
H6_MAX_BUDGET = 81.0


def hartmann6(config, budget, seed=0):
    """Multi-fidelity Hartmann 6-D loss; z = budget/81 clamped to [0, 1], w = 1 - z."""
    z = min(max(float(budget) / H6_MAX_BUDGET, 0.0), 1.0)
    w = 1.0 - z
    x = [float(config["x%d" % j]) for j in range(6)]
    total = 0.0
    for i in range(4):
        inner = 0.0
        for j in range(6):
            d = x[j] - H6_P[i][j]
            inner += H6_A[i][j] * d * d
        total += (H6_ALPHA[i] - 0.1 * w) * math.exp(-inner)
    return -total


# ---------------------------------------------------------------------------- counting_ones (3)

def _dims(config):
    nc = sum(1 for k in config if k.startswith("cat_"))
    nf = sum(1 for k in config if k.startswith("float_"))
    if nc + nf != len(config) or nc + nf == 0:
        raise ValueError("counting_ones: parameters must be cat_i and float_j")
    return nc, nf


def counting_ones(config, budget, seed):
    """One noisy evaluation: n = max(1, floor(b + 0.5)) Bernoulli draws per float, the draws of
    float j from stream 1 + j of `seed`. Categoricals first, then k_j/n, one division by d."""
    nc, nf = _dims(config)
    n = max(1, int(math.floor(float(budget) + 0.5)))
    s = 0.0
    for i in range(nc):
        s += float(int(config["cat_%d" % i]))
    for j in range(nf):
        p = float(config["float_%d" % j])
        g = stream(seed, 1 + j)
        k = 0
        for _ in range(n):
            if g.double() < p:
                k += 1
        s += k / n
    return 1.0 - s / (nc + nf)


def counting_ones_exact(config):
    """E[loss] = 1 - (sum cat + sum float)/d, in the kernel's summation order."""
    nc, nf = _dims(config)
    s = 0.0
    for i in range(nc):
        s += float(int(config["cat_%d" % i]))
    for j in range(nf):
        s += float(config["float_%d" % j])
    return 1.0 - s / (nc + nf)


# ---------------------------------------------------------------------------- descriptions

def space(kernel):
    """[(name, kind, choices-or-bounds)]: kind 'float' (linear, bounds) or 'cat' (choices)."""
    if kernel == "hartmann6":
        return [("x%d" % j, "float", (0.0, 1.0)) for j in range(6)]
    if kernel == "counting_ones":
        return ([("cat_%d" % i, "cat", (0, 1)) for i in range(8)]
                + [("float_%d" % j, "float", (0.0, 1.0)) for j in range(8)])
    raise ValueError("unknown kernel %r (peers know hartmann6, counting_ones)" % kernel)


KERNELS = {
    # budget range and optimum, as `hbmpi kernels --json` and docs/kernels.md 1.2 give them
    "hartmann6": {"min_budget": 1.0, "max_budget": 81.0, "optimum": -3.32236801141551,
                  "eta": 3, "stochastic": False},
    "counting_ones": {"min_budget": 9.0, "max_budget": 729.0, "optimum": 0.0,
                      "eta": 3, "stochastic": True},
}


def evaluate(kernel, config, budget, seed):
    if kernel == "hartmann6":
        return hartmann6(config, budget)
    if kernel == "counting_ones":
        return counting_ones(config, budget, seed)
    raise ValueError("unknown kernel %r" % kernel)


def eval_seed(study_seed, index):
    """A fresh noise seed per evaluation (BOHB's independent noise, docs/kernels.md 3): the
    index-th output of stream 0 of a seed derived from the study seed."""
    g = SplitMix64(((study_seed & MASK64) * 0x9E3779B97F4A7C15 + index) & MASK64)
    return g.next()


def rungs(kernel):
    """HyperBand's rungs with eta 3 from min to max budget (1.. 81, 9 .. 729)."""
    k = KERNELS[kernel]
    r, out = k["max_budget"], []
    while r >= k["min_budget"] * (1 - 1e-9):
        out.append(r)
        r /= k["eta"]
    return sorted(out)
