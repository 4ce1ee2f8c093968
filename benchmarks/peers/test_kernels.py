#!/usr/bin/python3
"""Check benchmarks/peers/kernels.py (the Python kernels the peers optimise) against
tests/data/vectors.json: SplitMix64 outputs exactly, hartmann6 within the tolerance of
docs/kernels.md section 7 (max(1e-12, 1e-12*|loss|)), counting_ones and counting_ones_exact
bit for bit as far as the file's 15 printed digits go (the same double after printing). Prints one line per check and ends with 'N passed, M failed'."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kernels  # noqa: E402

VECTORS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "data", "vectors.json")


def same15(got, want):
    """Bit-exact as far as the file allows: the vectors are printed to 15 significant digits,
    so the loss printed the same way must give the very same double."""
    return float("%.15g" % got) == want


def main():
    with open(VECTORS, encoding="utf-8") as f:
        data = json.load(f)
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print("%s: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else "  " + detail))
        if ok:
            passed += 1
        else:
            failed += 1

    sm = data["splitmix64"]
    g = kernels.stream(0, 0)
    got = [str(g.next()) for _ in range(len(sm["seed0_stream0_first5_u64"]))]
    check("splitmix64 seed 0 stream 0", got == sm["seed0_stream0_first5_u64"], repr(got))
    g = kernels.stream(42, 3)
    want = sm["seed42_stream3_first5_double"]
    got = [g.double() for _ in want]
    check("splitmix64 seed 42 stream 3 doubles (15 digits)",
          all(abs(a - b) <= 1e-15 for a, b in zip(got, want)), repr(got))

    vec = data["kernels"]["hartmann6"]["vectors"]
    bad = []
    for v in vec:
        loss = kernels.hartmann6(v["config"], v["budget"], v["seed"])
        if abs(loss - v["loss"]) > max(1e-12, 1e-12 * abs(v["loss"])):
            bad.append("%s b=%s: %r != %r" % (v.get("note"), v["budget"], loss, v["loss"]))
    check("hartmann6: %d vectors within max(1e-12, 1e-12|loss|)" % len(vec),
          len(vec) >= 20 and not bad, "; ".join(bad[:5]))

    vec = data["kernels"]["counting_ones"]["vectors"]
    bad = []
    for v in vec:
        loss = kernels.counting_ones(v["config"], v["budget"], v["seed"])
        if not same15(loss, v["loss"]):
            bad.append("%s b=%s seed=%s: %r != %r" % (v.get("note"), v["budget"], v["seed"],
                                                      loss, v["loss"]))
    check("counting_ones: %d vectors bit-exact" % len(vec), len(vec) >= 20 and not bad,
          "; ".join(bad[:5]))

    vec = data["kernels"]["counting_ones_exact"]["vectors"]
    bad = [repr((kernels.counting_ones_exact(v["config"]), v["loss"])) for v in vec
           if not same15(kernels.counting_ones_exact(v["config"]), v["loss"])]
    check("counting_ones_exact: %d vectors bit-exact" % len(vec), len(vec) >= 10 and not bad,
          "; ".join(bad[:5]))

    # the rungs the adapters report at (docs/kernels.md 1: 1..81 and 9..729 with eta 3)
    check("rungs", kernels.rungs("hartmann6") == [1, 3, 9, 27, 81]
          and kernels.rungs("counting_ones") == [9, 27, 81, 243, 729],
          repr((kernels.rungs("hartmann6"), kernels.rungs("counting_ones"))))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
