#!/usr/bin/python3
"""Check hbmpi's space reader and sampler against the real Python ConfigSpace library.

  /usr/bin/python3 tests/configspace/test_configspace.py --hbmpi PATH --venv-dir DIR

Makes two virtual environments, DIR/cs06 (ConfigSpace 0.6.1, numpy<2: writes "default" and
"json_format_version") and DIR/cs1 (ConfigSpace 1.x: writes "default_value", "meta",
"format_version"), installing ConfigSpace from PyPI unless it is already there. In each one
make_spaces.py builds test spaces with ConfigSpace and writes them as JSON, with a description of
what the library holds and 300 configurations ConfigSpace sampled. Then, for every space:
  - `hbmpi space check FILE --json` must read the same parameters (types, bounds, log flags,
    choices and their order, weights up to normalisation, defaults, constant values), the same
    condition trees and the same forbidden clauses;
  - `hbmpi space sample FILE --n 500 --seed 3` must give only configurations that ConfigSpace
    itself accepts (Configuration + check_configuration, with the space read back by ConfigSpace's
    JSON reader), reach every choice, follow categorical weights, and match ConfigSpace's own
    samples in activity rates and rough distribution.
The real ConfigSpace 0.4 files tests/data/spaces/yahpo-*.json get the same treatment with the
ConfigSpace 1.x reader (0.6.1 if 1.x cannot read them).

Prints one line per check and ends with 'N passed, M failed'; exit status 0 only if M == 0.
Only the standard library is used here; it runs under Debian's /usr/bin/python3.
"""
import argparse
import collections
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MAKE_SPACES = os.path.join(HERE, "make_spaces.py")
YAHPO_DIR = os.path.join(REPO, "tests", "data", "spaces")

VENVS = [
    # name, pip requirements, required version prefix
    ("cs06", ["ConfigSpace==0.6.1", "numpy<2"], "0.6."),
    ("cs1", ["ConfigSpace>=1,<2"], "1."),
]
N_SAMPLES = 500
SEED = 3
WEIGHT_TOL = 0.06    # absolute, on frequencies of a weighted categorical over 500 samples
DIST_TOL = 0.12      # absolute, hbmpi's 500 samples vs ConfigSpace's 300
MIN_EXPECTED = 10    # a choice must be seen if it is expected at least this often
N_MORE, SEED_MORE = 5000, 4  # extra samples for choices too rare to show up in 500

# deterministic children: PYTHONHASHSEED fixes the order of ConfigSpace 0.6's sets
CHILD_ENV = dict(os.environ, PYTHONHASHSEED="0", PYTHONWARNINGS="ignore")


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, details=()):
        print(f"{'PASS' if ok else 'FAIL'}: {name}", flush=True)
        if not ok:
            for d in list(details)[:25]:
                print(f"    {d}", flush=True)
            if len(details) > 25:
                print(f"    ... and {len(details) - 25} more", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, env=CHILD_ENV, **kw)


# ------------------------------------------------------------------------------ venvs

def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def probe(venv):
    """The ConfigSpace version importable in 'venv', or None."""
    py = venv_python(venv)
    if not os.path.exists(py):
        return None
    try:
        r = run([py, "-c", "import numpy, ConfigSpace; print(ConfigSpace.__version__)"],
                timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_venv(base_python, venv, reqs, prefix):
    version = probe(venv)
    if version and version.startswith(prefix):
        return version
    if not os.path.exists(venv_python(venv)) or run([venv_python(venv), "-c", "1"]).returncode:
        r = run([base_python, "-m", "venv", "--clear", venv], timeout=300)
        if r.returncode != 0:
            print(f"cannot create the virtual environment {venv} with {base_python} -m venv:",
                  flush=True)
            print((r.stdout + r.stderr).strip(), flush=True)
            print("0 passed, 1 failed")
            sys.exit(1)
    print(f"installing {' '.join(reqs)} into {venv} ...", flush=True)
    r = run([venv_python(venv), "-m", "pip", "install", "--disable-pip-version-check", "-q",
             *reqs], timeout=1200)
    if r.returncode != 0:
        print(f"pip install {' '.join(reqs)} into {venv} failed (exit {r.returncode}):",
              flush=True)
        print((r.stdout + r.stderr).strip(), flush=True)
        print("0 passed, 1 failed")
        sys.exit(1)
    version = probe(venv)
    if not (version and version.startswith(prefix)):
        print(f"after pip install, {venv} has ConfigSpace {version!r}, wanted {prefix}x")
        print("0 passed, 1 failed")
        sys.exit(1)
    return version


# ------------------------------------------------------------------------------ comparing

def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def same_value(a, b):
    """ConfigSpace value 'a' equals hbmpi value 'b': strings exactly, numbers numerically."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_num(a) and is_num(b):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def canon_value(v):
    if isinstance(v, bool):
        return f"bool:{v}"
    if is_num(v):
        return f"num:{float(v)!r}"
    if isinstance(v, str):
        return f"str:{v!r}"
    return f"other:{json.dumps(v)}"


def normalise(ws):
    s = float(sum(ws))
    return [float(w) / s for w in ws]


def round_places(x, places=13):
    """numpy.round(x, places) for a float: ConfigSpace >= 1 rounds the bounds and the default of
    a float parameter like this (ROUND_PLACES = 13) when it builds it, also when it reads a
    file; hbmpi keeps the file's value. rint(x * 10**places) / 10**places, half to even."""
    scale = 10.0 ** places
    y = x * scale
    if not math.isfinite(y):
        return x
    return round(y) / scale


def compare_parameter(e, h, cs_major, rounded):
    """Differences between ConfigSpace's parameter 'e' and hbmpi's 'h' (same name). Values that
    differ only by ConfigSpace 1.x's rounding to 13 decimal places are listed in 'rounded'."""
    n = e["name"]
    out = []
    if e["type"] != h.get("type"):
        return [f"{n}: type: ConfigSpace {e['type']}, hbmpi {h.get('type')}"]
    t = e["type"]
    if bool(h.get("mutable", False)) != e.get("mutable", False):
        out.append(f"{n}: mutable: ConfigSpace's meta {e.get('mutable', False)}, hbmpi {h.get('mutable', False)}")
    if t in ("float", "int"):
        for key in ("lower", "upper", "default"):
            if key in h and same_value(e[key], h[key]):
                continue
            if (t == "float" and cs_major >= 1 and key in h and is_num(h[key])
                    and same_value(e[key], round_places(float(h[key])))):
                rounded.append(f"{n}.{key}: file {h[key]!r}, ConfigSpace {e[key]!r}")
                continue
            out.append(f"{n}: {key}: ConfigSpace {e[key]!r}, hbmpi {h.get(key, '(missing)')!r}")
        if bool(h.get("log", False)) != e["log"]:
            out.append(f"{n}: log: ConfigSpace {e['log']}, hbmpi {h.get('log')}")
        if "q" in e:
            out.append(f"{n}: has q={e['q']} in ConfigSpace (not checked by this test)")
    elif t in ("categorical", "ordinal"):
        key = "choices" if t == "categorical" else "sequence"
        ec, hc = e[key], h.get(key)
        if not isinstance(hc, list) or len(ec) != len(hc) or not all(
                same_value(a, b) for a, b in zip(ec, hc)):
            out.append(f"{n}: {key}: ConfigSpace {ec!r}, hbmpi {hc!r}")
        if not ("default" in h and same_value(e["default"], h["default"])):
            out.append(f"{n}: default: ConfigSpace {e['default']!r}, "
                       f"hbmpi {h.get('default', '(missing)')!r}")
        if t == "categorical" and isinstance(hc, list) and len(ec) == len(hc):
            ep = e["probabilities"] or [1.0 / len(ec)] * len(ec)
            ep = normalise(ep)
            hw = h.get("weights")
            hp = normalise(hw) if hw else [1.0 / len(hc)] * len(hc)
            if len(hp) != len(ep) or any(
                    not math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) for a, b in zip(ep, hp)):
                out.append(f"{n}: weights: ConfigSpace {e['weights']!r} (normalised {ep!r}), "
                           f"hbmpi {hw!r} (normalised {hp!r})")
        if t == "ordinal" and "weights" in h:
            out.append(f"{n}: ordinal with weights in hbmpi: {h['weights']!r}")
    elif t == "constant":
        if not ("value" in h and same_value(e["value"], h["value"])):
            out.append(f"{n}: value: ConfigSpace {e['value']!r}, hbmpi {h.get('value')!r}")
    else:
        out.append(f"{n}: ConfigSpace type {t} is not covered by this test")
    return out


def canon_cond(c):
    """A canonical text for a condition tree: AND/OR components unordered, IN values a set."""
    t = c.get("type")
    if t in ("AND", "OR"):
        parts = sorted(canon_cond(x) for x in c.get("conditions", []))
        return f"{t}[{c.get('child')}](" + ", ".join(parts) + ")"
    if t == "IN":
        vals = sorted(canon_value(v) for v in c.get("values", []))
        return f"IN[{c.get('child')}]({c.get('parent')} in {{{', '.join(vals)}}})"
    return f"{t}[{c.get('child')}]({c.get('parent')}, {canon_value(c.get('value'))})"


def canon_forbidden(f):
    t = f.get("type")
    if t == "AND":
        return "AND(" + ", ".join(sorted(canon_forbidden(x) for x in f.get("clauses", []))) + ")"
    if t == "IN":
        vals = sorted(canon_value(v) for v in f.get("values", []))
        return f"IN({f.get('name')} in {{{', '.join(vals)}}})"
    return f"{t}({f.get('name')}, {canon_value(f.get('value'))})"


# the keys that tell the two JSON styles apart
STYLE = {
    "cs06": {"top": ["json_format_version"], "top_not": ["format_version"],
             "hp": ["default"], "hp_not": ["default_value", "meta"]},
    "cs1": {"top": ["format_version"], "top_not": ["json_format_version"],
            "hp": ["default_value", "meta"], "hp_not": ["default"]},
}


def check_style(rep, name, files):
    """The files ConfigSpace wrote really are in the style this venv is meant to cover."""
    style, diffs = STYLE[name], []
    for path in files:
        with open(path) as fh:
            d = json.load(fh)
        base = os.path.basename(path)
        for k in style["top"]:
            if k not in d:
                diffs.append(f"{base}: no top-level {k!r}")
        for k in style["top_not"]:
            if k in d:
                diffs.append(f"{base}: top-level {k!r}")
        for h in d.get("hyperparameters", []):
            if h.get("type") == "constant":
                continue
            for k in style["hp"]:
                if k not in h:
                    diffs.append(f"{base}: {h.get('name')} has no {k!r}")
            for k in style["hp_not"]:
                if k in h:
                    diffs.append(f"{base}: {h.get('name')} has {k!r}")
    keys = ", ".join(style["top"] + style["hp"])
    rep.check(f"[{name}] {len(files)} files written in the expected JSON style ({keys})",
              not diffs and files, diffs or ["no files"])


def compare_space(rep, label, exp, got):
    ep = {p["name"]: p for p in exp["parameters"]}
    hp = {p.get("name"): p for p in got.get("parameters", [])}
    diffs = []
    for n in ep:
        if n not in hp:
            diffs.append(f"{n}: missing in hbmpi")
    for n in hp:
        if n not in ep:
            diffs.append(f"{n}: in hbmpi but not in ConfigSpace")
    if len(hp) != len(got.get("parameters", [])):
        diffs.append("hbmpi lists a parameter name twice")
    cs_major = int(exp["configspace_version"].split(".")[0])
    rounded = []
    for n in ep:
        if n in hp:
            diffs.extend(compare_parameter(ep[n], hp[n], cs_major, rounded))
    note = ""
    if rounded:
        note = (f" ({len(rounded)} float bounds/defaults equal only after ConfigSpace "
                f"{exp['configspace_version']}'s rounding to 13 decimal places)")
    rep.check(f"{label}: parameters ({len(ep)}) match ConfigSpace{note}", not diffs, diffs)

    diffs = []
    ec = {}
    for c in exp["conditions"]:
        ec[c["child"]] = canon_cond(c)
    hc = {}
    for c in got.get("conditions", []):
        if c.get("child") in hc:
            diffs.append(f"hbmpi has two conditions for {c.get('child')}")
        hc[c.get("child")] = canon_cond(c)
    for child in sorted(set(ec) | set(hc)):
        if ec.get(child) != hc.get(child):
            diffs.append(f"condition of {child}: ConfigSpace {ec.get(child, '(none)')}; "
                         f"hbmpi {hc.get(child, '(none)')}")
    rep.check(f"{label}: conditions ({len(ec)}) match ConfigSpace", not diffs, diffs)

    ef = collections.Counter(canon_forbidden(f) for f in exp["forbiddens"])
    hf = collections.Counter(canon_forbidden(f) for f in got.get("forbiddens", []))
    diffs = [f"forbidden only in ConfigSpace: {k}" for k in sorted(ef - hf)]
    diffs += [f"forbidden only in hbmpi: {k}" for k in sorted(hf - ef)]
    rep.check(f"{label}: forbiddens ({sum(ef.values())}) match ConfigSpace", not diffs, diffs)


# ------------------------------------------------------------------------------ samples

def check_types(rep, label, exp, samples):
    """hbmpi's JSON values have the right JSON types and known names."""
    params = {p["name"]: p for p in exp["parameters"]}
    diffs = []
    for i, s in enumerate(samples):
        for k, v in s.items():
            p = params.get(k)
            if p is None:
                diffs.append(f"sample {i}: unknown parameter {k!r}")
            elif p["type"] == "int" and not (isinstance(v, int) and not isinstance(v, bool)):
                diffs.append(f"sample {i}: int parameter {k} = {v!r} is not a JSON integer")
            elif p["type"] == "float" and not is_num(v):
                diffs.append(f"sample {i}: float parameter {k} = {v!r} is not a number")
            elif p["type"] in ("categorical", "ordinal"):
                seq = p.get("choices") or p.get("sequence")
                if not any(same_value(c, v) for c in seq):
                    diffs.append(f"sample {i}: {k} = {v!r} is not one of {seq!r}")
            elif p["type"] == "constant" and not same_value(p["value"], v):
                diffs.append(f"sample {i}: constant {k} = {v!r}, should be {p['value']!r}")
    rep.check(f"{label}: sample values have the right JSON types", not diffs, diffs)


def forbidden_params(exp):
    """Names mentioned in any forbidden clause, and choices forbidden on their own."""
    names, alone = set(), collections.defaultdict(set)

    def walk(f, top):
        if f["type"] == "AND":
            for x in f["clauses"]:
                walk(x, False)
            return
        names.add(f["name"])
        if top:
            vals = f["values"] if f["type"] == "IN" else [f["value"]]
            alone[f["name"]].update(canon_value(v) for v in vals)
    for f in exp["forbiddens"]:
        walk(f, True)
    return names, alone


def choice_counts(p, samples):
    vals = [s[p["name"]] for s in samples if p["name"] in s]
    return len(vals), collections.Counter(canon_value(v) for v in vals)


def check_coverage_and_weights(rep, label, exp, samples, more_samples):
    """Every choice that is allowed (positive weight, not forbidden on its own) is sampled.
    A choice expected fewer than MIN_EXPECTED times in 'samples' is looked for in the larger
    sample that more_samples() returns instead; one expected too rarely even there is skipped."""
    conditional = {c["child"] for c in exp["conditions"]}
    fnames, alone = forbidden_params(exp)
    miss, wdiffs, n_weighted = [], [], 0
    n_main = n_more = n_skipped = 0
    more = None
    for p in exp["parameters"]:
        if p["type"] not in ("categorical", "ordinal"):
            continue
        seq = p.get("choices") or p.get("sequence")
        probs = normalise(p["probabilities"]) if p.get("probabilities") else [1 / len(seq)] * len(seq)
        n_act, counts = choice_counts(p, samples)
        for c, pr in zip(seq, probs):
            key = canon_value(c)
            if key in alone.get(p["name"], ()) or pr <= 0:
                if counts[key]:
                    miss.append(f"{p['name']}: forbidden choice {c!r} sampled {counts[key]} times")
                continue
            if n_act * pr >= MIN_EXPECTED:
                n_main += 1
                if counts[key] == 0:
                    miss.append(f"{p['name']}: choice {c!r} never sampled in {n_act} active "
                                f"samples (expected ~{n_act * pr:.0f})")
                continue
            if more is None:
                more = more_samples()
            m_act, m_counts = choice_counts(p, more)
            if m_act * pr < MIN_EXPECTED:
                n_skipped += 1
                continue
            n_more += 1
            if m_counts[key] == 0:
                miss.append(f"{p['name']}: choice {c!r} never sampled in {m_act} active "
                            f"samples of {len(more)} (expected ~{m_act * pr:.0f})")
        weighted = p.get("weights") is not None and len(set(probs)) > 1
        if weighted and p["name"] not in conditional and p["name"] not in fnames:
            n_weighted += 1
            for c, pr in zip(seq, probs):
                f = counts[canon_value(c)] / max(1, n_act)
                if abs(f - pr) > WEIGHT_TOL:
                    wdiffs.append(f"{p['name']}={c!r}: frequency {f:.3f}, weight {pr:.3f}")
    if n_main + n_more + n_skipped + len(miss):
        how = f"{n_main} in the {len(samples)} samples"
        if more is not None:
            how += f", {n_more} more in {len(more)} extra samples"
        if n_skipped:
            how += f", {n_skipped} too rare to check"
        rep.check(f"{label}: every allowed choice is sampled ({how})", not miss, miss)
    if n_weighted:
        rep.check(f"{label}: frequencies of {n_weighted} weighted categorical(s) follow the "
                  f"weights (+-{WEIGHT_TOL})", not wdiffs, wdiffs)


def check_distribution(rep, label, exp, hb, cs):
    """hbmpi's samples vs ConfigSpace's own: activity rates, choice frequencies, and the
    fraction of numeric values below the middle of the range (on the parameter's scale)."""
    diffs = []
    conditional = {c["child"] for c in exp["conditions"]}
    for p in exp["parameters"]:
        n = p["name"]
        hv = [s[n] for s in hb if n in s]
        cv = [s[n] for s in cs if n in s]
        if n in conditional:
            ra, rb = len(hv) / len(hb), len(cv) / len(cs)
            if abs(ra - rb) > DIST_TOL:
                diffs.append(f"{n}: active in {ra:.3f} of hbmpi's samples, "
                             f"{rb:.3f} of ConfigSpace's")
        if len(hv) < 100 or len(cv) < 100:
            continue
        if p["type"] in ("categorical", "ordinal"):
            seq = p.get("choices") or p.get("sequence")
            if len(seq) > 12:
                continue
            ha = collections.Counter(canon_value(v) for v in hv)
            ca = collections.Counter(canon_value(v) for v in cv)
            for c in seq:
                k = canon_value(c)
                fa, fb = ha[k] / len(hv), ca[k] / len(cv)
                if abs(fa - fb) > DIST_TOL:
                    diffs.append(f"{n}={c!r}: frequency {fa:.3f} in hbmpi, {fb:.3f} in ConfigSpace")
        elif p["type"] in ("float", "int"):
            lo, hi = float(p["lower"]), float(p["upper"])
            mid = math.sqrt(lo * hi) if p["log"] else (lo + hi) / 2
            fa = sum(1 for v in hv if v < mid) / len(hv)
            fb = sum(1 for v in cv if v < mid) / len(cv)
            if abs(fa - fb) > DIST_TOL:
                diffs.append(f"{n}: {fa:.3f} of hbmpi's values below {mid:g}, "
                             f"{fb:.3f} of ConfigSpace's")
    rep.check(f"{label}: distribution close to ConfigSpace's own samples (+-{DIST_TOL})",
              not diffs, diffs)


# ------------------------------------------------------------------------------ one space

def hbmpi_read(rep, hbmpi, label, path):
    r = run([hbmpi, "space", "check", path, "--json"], timeout=60)
    got, why = None, []
    if r.returncode != 0:
        why = [f"exit {r.returncode}", (r.stdout + r.stderr).strip()[:500]]
    else:
        try:
            got = json.loads(r.stdout)
        except ValueError as e:
            why = [f"output is not JSON: {e}", r.stdout[:300]]
    rep.check(f"{label}: hbmpi space check --json reads it", got is not None, why)
    return got


def hbmpi_sample(rep, hbmpi, label, path, out_path):
    r = run([hbmpi, "space", "sample", path, "--n", str(N_SAMPLES), "--seed", str(SEED)],
            timeout=120)
    samples, why = None, []
    if r.returncode != 0:
        why = [f"exit {r.returncode}", (r.stdout + r.stderr).strip()[:500]]
    else:
        try:
            samples = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        except ValueError as e:
            why = [f"a line is not JSON: {e}"]
        if samples is not None and (len(samples) != N_SAMPLES
                                    or not all(isinstance(s, dict) for s in samples)):
            why = [f"{len(samples)} lines, wanted {N_SAMPLES} JSON objects"]
            samples = None
    rep.check(f"{label}: hbmpi space sample --n {N_SAMPLES} --seed {SEED}", samples is not None,
              why)
    if samples is not None:
        with open(out_path, "w") as fh:
            fh.write(r.stdout)
    return samples


def hbmpi_more_samples(rep, hbmpi, label, path):
    r = run([hbmpi, "space", "sample", path, "--n", str(N_MORE), "--seed", str(SEED_MORE)],
            timeout=300)
    try:
        samples = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    except ValueError:
        samples = []
    ok = r.returncode == 0 and len(samples) == N_MORE
    rep.check(f"{label}: hbmpi space sample --n {N_MORE} --seed {SEED_MORE}", ok,
              [f"exit {r.returncode}, {len(samples)} configurations",
               r.stderr.strip()[:500]])
    return samples if ok else []


def report_validation(rep, label, res):
    if res["error"]:
        rep.check(f"{label}: ConfigSpace reads the space back", False, [res["error"]])
        return
    bad = [f"sample {x['index']}: {x['why']} -- {json.dumps(x['config'])}"
           for x in res["invalid"]]
    rep.check(f"{label}: all {res['n']} hbmpi samples valid for ConfigSpace", not bad and
              res["n"] == N_SAMPLES, bad or [f"{res['n']} samples checked"])
    lax = [f"ConfigSpace accepted: {c['what']}" for c in res["controls"] if not c["rejected"]]
    rep.check(f"{label}: negative controls rejected by ConfigSpace ({len(res['controls'])})",
              not lax and res["controls"], lax or ["no control could be made"])


# ------------------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hbmpi", required=True, help="the hbmpi binary")
    ap.add_argument("--venv-dir", required=True, help="where the virtual environments live")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter that makes the venvs (default /usr/bin/python3)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    hbmpi = os.path.abspath(args.hbmpi)
    if not os.access(hbmpi, os.X_OK):
        print(f"hbmpi binary {hbmpi} not found or not executable\n0 passed, 1 failed")
        return 1
    venv_dir = os.path.abspath(args.venv_dir)
    os.makedirs(venv_dir, exist_ok=True)
    t0 = time.time()

    versions = {}
    for name, reqs, prefix in VENVS:
        versions[name] = ensure_venv(args.python, os.path.join(venv_dir, name), reqs, prefix)
        print(f"venv {name}: ConfigSpace {versions[name]}", flush=True)

    work = tempfile.mkdtemp(prefix="run-", dir=venv_dir)
    rep = Report()
    # per venv: list of (label, space file, expected, cs samples, hbmpi samples)
    todo = collections.defaultdict(list)

    for name, _, _ in VENVS:
        py = venv_python(os.path.join(venv_dir, name))
        out = os.path.join(work, name)
        os.makedirs(out)
        r = run([py, MAKE_SPACES, "generate", out], timeout=300)
        if not rep.check(f"[{name}] make_spaces.py generate (ConfigSpace {versions[name]})",
                         r.returncode == 0, [(r.stdout + r.stderr).strip()[-2000:]]):
            continue
        with open(os.path.join(out, "manifest.json")) as fh:
            manifest = json.load(fh)
        check_style(rep, name, [os.path.join(out, sp + ".json") for sp in manifest["spaces"]])
        for sp in manifest["spaces"]:
            base = os.path.join(out, sp)
            with open(base + ".expected.json") as fh:
                exp = json.load(fh)
            with open(base + ".cs_samples.json") as fh:
                cs_samples = json.load(fh)
            todo[name].append((f"[{name}] {sp}", base + ".json", exp, cs_samples))

    yahpo = sorted(f for f in os.listdir(YAHPO_DIR) if f.startswith("yahpo-")
                   and f.endswith(".json"))
    for f in yahpo:
        path = os.path.join(YAHPO_DIR, f)
        for name in ("cs1", "cs06"):  # the 1.x reader first; 0.6.1 only if 1.x cannot read it
            py = venv_python(os.path.join(venv_dir, name))
            out = os.path.join(work, f"{name}-{f}.describe.json")
            r = run([py, MAKE_SPACES, "describe", path, out], timeout=120)
            if r.returncode == 0:
                with open(out) as fh:
                    d = json.load(fh)
                todo[name].append((f"[{name}] {f}", path, d["expected"], d["cs_samples"]))
                break
            print(f"note: ConfigSpace {versions[name]} cannot read {f}: "
                  f"{(r.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
        else:
            rep.check(f"{f}: readable by ConfigSpace 1.x or 0.6.1", False,
                      ["neither ConfigSpace reader can read it"])

    for name, items in todo.items():
        jobs, pending = [], []
        for label, path, exp, cs_samples in items:
            got = hbmpi_read(rep, hbmpi, label, path)
            if got is not None:
                compare_space(rep, label, exp, got)
            spath = os.path.join(work, f"{name}-{os.path.basename(path)}.hbmpi_samples.jsonl")
            samples = hbmpi_sample(rep, hbmpi, label, path, spath)
            if samples is None:
                continue
            check_types(rep, label, exp, samples)
            check_coverage_and_weights(
                rep, label, exp, samples,
                lambda: hbmpi_more_samples(rep, hbmpi, label, path))
            check_distribution(rep, label, exp, samples, cs_samples)
            jobs.append({"space": path, "samples": spath})
            pending.append(label)
        if not jobs:
            continue
        jobs_path = os.path.join(work, f"{name}-jobs.json")
        res_path = os.path.join(work, f"{name}-results.json")
        with open(jobs_path, "w") as fh:
            json.dump(jobs, fh)
        py = venv_python(os.path.join(venv_dir, name))
        r = run([py, MAKE_SPACES, "validate", jobs_path, res_path], timeout=600)
        if not rep.check(f"[{name}] make_spaces.py validate", r.returncode == 0,
                         [(r.stdout + r.stderr).strip()[-2000:]]):
            continue
        with open(res_path) as fh:
            results = json.load(fh)
        for label, res in zip(pending, results):
            report_validation(rep, label, res)

    if rep.failed == 0 and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work files kept in {work}")
    print(f"time: {time.time() - t0:.1f} s")
    print(f"{rep.passed} passed, {rep.failed} failed")
    return 0 if rep.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
