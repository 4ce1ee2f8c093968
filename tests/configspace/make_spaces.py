"""Helper for test_configspace.py. Runs INSIDE a virtual environment that has the real
ConfigSpace library (0.6.x or 1.x); works with both APIs.

  make_spaces.py generate OUTDIR
      Build the test spaces with ConfigSpace, write for each NAME:
        OUTDIR/NAME.json           the space as ConfigSpace's JSON writer writes it
        OUTDIR/NAME.expected.json  what the space contains as the library sees it
        OUTDIR/NAME.cs_samples.json 300 configurations sampled by ConfigSpace (seeded)
      and OUTDIR/manifest.json (the list of NAMEs and the library version).

  make_spaces.py describe FILE OUT
      Read a ConfigSpace JSON file with this library's reader; write the expected
      description and 300 ConfigSpace samples to OUT (one JSON object).

  make_spaces.py validate JOBS OUT
      JOBS is a JSON list of {"space": FILE, "samples": FILE-with-one-JSON-object-a-line}.
      Read each space with this library's reader and check every configuration with
      ConfigSpace (Configuration(...) + check_configuration). Also run negative controls
      (mutated configurations must be rejected) so that a lax validator is noticed.
      Writes a JSON list of results to OUT.
"""
import json
import numbers
import sys
import warnings

warnings.simplefilter("ignore")  # ConfigSpace 1.x deprecation warnings for the 0.6 API

import ConfigSpace as CS  # noqa: E402
from ConfigSpace import conditions as C  # noqa: E402
from ConfigSpace import forbidden as F  # noqa: E402
from ConfigSpace import hyperparameters as H  # noqa: E402
from ConfigSpace.read_and_write import json as csjson  # noqa: E402

N_CS_SAMPLES = 300
VERSION = CS.__version__


# ---------------------------------------------------------------- version-neutral helpers

def py(v):
    """A numpy / ConfigSpace value as a plain JSON-able Python value."""
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    return v


def space_add(cs, *items):
    if hasattr(cs, "add"):  # 1.x
        cs.add(*items)
        return
    for it in items:  # 0.6
        if isinstance(it, H.Hyperparameter):
            cs.add_hyperparameter(it)
        elif isinstance(it, (C.ConditionComponent,)):
            cs.add_condition(it)
        else:
            cs.add_forbidden_clause(it)


def hyperparameters(cs):
    return list(cs.values()) if hasattr(cs, "add") else list(cs.get_hyperparameters())


def read_space(path):
    with open(path) as fh:
        return csjson.read(fh.read())


def check_config(cs, values):
    """Raise if 'values' is not a valid configuration of 'cs' according to ConfigSpace."""
    c = CS.Configuration(cs, values=values)
    cs.check_configuration(c)
    if hasattr(c, "is_valid_configuration"):
        c.is_valid_configuration()


# ---------------------------------------------------------------- describing a space

def describe_hp(h):
    d = {"name": h.name}
    if isinstance(h, H.Constant):
        d.update(type="constant", value=py(h.value))
    elif isinstance(h, H.UniformFloatHyperparameter):
        d.update(type="float", lower=py(h.lower), upper=py(h.upper), log=bool(h.log),
                 default=py(h.default_value))
        if getattr(h, "q", None) is not None:
            d["q"] = py(h.q)
    elif isinstance(h, H.UniformIntegerHyperparameter):
        d.update(type="int", lower=py(h.lower), upper=py(h.upper), log=bool(h.log),
                 default=py(h.default_value))
        if getattr(h, "q", None) is not None:
            d["q"] = py(h.q)
    elif isinstance(h, H.CategoricalHyperparameter):
        w = getattr(h, "weights", None)
        p = getattr(h, "probabilities", None)
        d.update(type="categorical", choices=[py(c) for c in h.choices],
                 weights=None if w is None else [py(x) for x in w],
                 probabilities=None if p is None else [py(x) for x in p],
                 default=py(h.default_value))
    elif isinstance(h, H.OrdinalHyperparameter):
        d.update(type="ordinal", sequence=[py(c) for c in h.sequence],
                 default=py(h.default_value))
    else:
        d.update(type="unsupported:" + type(h).__name__)
    # what the file says: ConfigSpace 0.x's JSON writer leaves "meta" out, 1.x writes it
    d["mutable"] = not VERSION.startswith("0.") and bool((getattr(h, "meta", None) or {}).get("mutable", False))
    return d


LEAF_TYPES = [(C.EqualsCondition, "EQ"), (C.NotEqualsCondition, "NEQ"), (C.InCondition, "IN"),
              (C.GreaterThanCondition, "GT"), (C.LessThanCondition, "LT")]


def first_child(c):
    if isinstance(c, (C.AndConjunction, C.OrConjunction)):
        return first_child(c.components[0])
    return c.child.name


def describe_cond(c):
    if isinstance(c, (C.AndConjunction, C.OrConjunction)):
        return {"type": "AND" if isinstance(c, C.AndConjunction) else "OR",
                "child": first_child(c),
                "conditions": [describe_cond(x) for x in c.components]}
    for cls, name in LEAF_TYPES:
        if type(c) is cls:
            d = {"type": name, "child": c.child.name, "parent": c.parent.name}
            if name == "IN":
                d["values"] = [py(v) for v in c.values]
            else:
                d["value"] = py(c.value)
            return d
    return {"type": "unsupported:" + type(c).__name__, "child": first_child(c)}


def describe_forbidden(f):
    if isinstance(f, F.ForbiddenAndConjunction):
        return {"type": "AND", "clauses": [describe_forbidden(x) for x in f.components]}
    if isinstance(f, F.ForbiddenInClause):
        # 0.6 keeps the values in a set: sort them so the description is deterministic
        vals = [py(v) for v in f.values]
        return {"type": "IN", "name": f.hyperparameter.name,
                "values": sorted(vals, key=lambda v: (isinstance(v, str), v))}
    if isinstance(f, F.ForbiddenEqualsClause):
        return {"type": "EQUALS", "name": f.hyperparameter.name, "value": py(f.value)}
    return {"type": "unsupported:" + type(f).__name__}


def describe(cs):
    return {"configspace_version": VERSION,
            "parameters": [describe_hp(h) for h in hyperparameters(cs)],
            "conditions": [describe_cond(c) for c in cs.get_conditions()],
            "forbiddens": [describe_forbidden(f) for f in cs.get_forbiddens()]}


def cs_samples(cs, seed):
    cs.seed(seed)
    return [{k: py(v) for k, v in dict(c).items()}
            for c in cs.sample_configuration(N_CS_SAMPLES)]


# ---------------------------------------------------------------- the test spaces

def space_numeric():
    cs = CS.ConfigurationSpace(seed=11)
    space_add(cs,
              H.UniformFloatHyperparameter("f_lin", -5.5, 10.25, default_value=2.0),
              H.UniformFloatHyperparameter("f_lin_nodef", 0.0, 1.0),
              H.UniformFloatHyperparameter("f_prec", 1.0 / 3.0, 2.0 / 3.0, default_value=0.5),
              H.UniformFloatHyperparameter("f_log", 1e-5, 1e-1, log=True, default_value=1e-3),
              H.UniformFloatHyperparameter("f_log_wide", 1e-8, 1e8, log=True),
              H.UniformIntegerHyperparameter("i_lin", -10, 10, default_value=3),
              H.UniformIntegerHyperparameter("i_lin_nodef", 1, 8),
              H.UniformIntegerHyperparameter("i_big", 0, 1000000, default_value=12345),
              H.UniformIntegerHyperparameter("i_log", 1, 1024, log=True, default_value=32),
              H.UniformIntegerHyperparameter("i_log_nodef", 16, 512, log=True))
    return cs


def space_categorical():
    cs = CS.ConfigurationSpace(seed=12)
    space_add(cs,
              H.CategoricalHyperparameter("c_str", ["relu", "tanh", "sigmoid", "elu"],
                                          default_value="tanh"),
              H.CategoricalHyperparameter("c_int", [1, 2, 4, 8, 16], default_value=8),
              H.CategoricalHyperparameter("c_float", [0.1, 0.25, 0.5, 1.0]),
              H.CategoricalHyperparameter("c_mixed", [1, 2.5, 3]),
              H.CategoricalHyperparameter("c_numstr", ["001", "1e3", "true", "null"]),
              H.CategoricalHyperparameter("c_w", ["a", "b", "c"], weights=[0.1, 0.3, 0.6],
                                          default_value="c"),
              H.CategoricalHyperparameter("c_wint", [10, 20, 30, 40], weights=[1, 1, 2, 4]),
              H.CategoricalHyperparameter("c_one", ["only"]),
              H.OrdinalHyperparameter("o_str", ["low", "medium", "high"], default_value="medium"),
              H.OrdinalHyperparameter("o_num", [1, 2, 4, 8]),
              H.Constant("k_str", "fixed"))
    return cs


def space_constants():
    cs = CS.ConfigurationSpace(seed=13)
    space_add(cs,
              H.Constant("k_int", 3),
              H.Constant("k_float", 0.5),
              H.Constant("k_text", "hello world"),
              H.UniformFloatHyperparameter("x", 0.0, 1.0))
    return cs


def space_conditions():
    cs = CS.ConfigurationSpace(seed=14)
    p_cat = H.CategoricalHyperparameter("p_cat", ["a", "b", "c"])
    p_int = H.UniformIntegerHyperparameter("p_int", 1, 10)
    p_float = H.UniformFloatHyperparameter("p_float", 1e-4, 1.0, log=True)
    p_ord = H.OrdinalHyperparameter("p_ord", ["s", "m", "l", "xl"])
    p_num = H.CategoricalHyperparameter("p_num", [1, 2, 3])
    p_sw = H.CategoricalHyperparameter("p_sw", ["on", "off"])
    names = ["ch_eq", "ch_neq", "ch_in", "ch_gt", "ch_lt", "ch_gt_ord", "ch_lt_ord", "ch_in_ord",
             "ch_eq_num", "ch_in_num", "ch_eq_int", "ch_neq_int", "ch_and", "ch_and3", "ch_or",
             "ch_or_and", "ch_and_or", "gc"]
    ch = {n: H.UniformFloatHyperparameter(n, 0.0, 1.0) for n in names}
    ch_cat = H.CategoricalHyperparameter("ch_cat", ["u", "v"])
    space_add(cs, p_cat, p_int, p_float, p_ord, p_num, p_sw, ch_cat, *ch.values())
    conds = [
        C.EqualsCondition(ch["ch_eq"], p_cat, "a"),
        C.NotEqualsCondition(ch["ch_neq"], p_cat, "b"),
        C.InCondition(ch["ch_in"], p_cat, ["a", "c"]),
        C.GreaterThanCondition(ch["ch_gt"], p_float, 0.01),
        C.LessThanCondition(ch["ch_lt"], p_int, 4),
        C.GreaterThanCondition(ch["ch_gt_ord"], p_ord, "m"),
        C.LessThanCondition(ch["ch_lt_ord"], p_ord, "l"),
        C.InCondition(ch["ch_in_ord"], p_ord, ["s", "xl"]),
        C.EqualsCondition(ch["ch_eq_num"], p_num, 2),
        C.InCondition(ch["ch_in_num"], p_num, [1, 3]),
        C.EqualsCondition(ch["ch_eq_int"], p_int, 5),
        C.NotEqualsCondition(ch["ch_neq_int"], p_int, 7),
        C.AndConjunction(C.EqualsCondition(ch["ch_and"], p_cat, "a"),
                         C.GreaterThanCondition(ch["ch_and"], p_int, 3)),
        C.AndConjunction(C.NotEqualsCondition(ch["ch_and3"], p_cat, "c"),
                         C.LessThanCondition(ch["ch_and3"], p_float, 0.1),
                         C.InCondition(ch["ch_and3"], p_ord, ["m", "l", "xl"])),
        C.OrConjunction(C.EqualsCondition(ch["ch_or"], p_cat, "b"),
                        C.LessThanCondition(ch["ch_or"], p_float, 0.001)),
        C.OrConjunction(C.AndConjunction(C.EqualsCondition(ch["ch_or_and"], p_cat, "c"),
                                         C.EqualsCondition(ch["ch_or_and"], p_sw, "on")),
                        C.InCondition(ch["ch_or_and"], p_ord, ["xl"])),
        C.AndConjunction(C.OrConjunction(C.EqualsCondition(ch["ch_and_or"], p_cat, "a"),
                                         C.EqualsCondition(ch["ch_and_or"], p_cat, "b")),
                         C.NotEqualsCondition(ch["ch_and_or"], p_sw, "off")),
        C.EqualsCondition(ch_cat, p_sw, "on"),
        C.EqualsCondition(ch["gc"], ch_cat, "u"),  # a chain: p_sw -> ch_cat -> gc
    ]
    space_add(cs, *conds)
    return cs


def space_forbidden():
    cs = CS.ConfigurationSpace(seed=15)
    f_a = H.CategoricalHyperparameter("f_a", ["x", "y", "z"], default_value="y")
    f_b = H.CategoricalHyperparameter("f_b", ["p", "q", "r", "s"])
    f_n = H.UniformIntegerHyperparameter("f_n", 1, 5)
    f_c = H.CategoricalHyperparameter("f_c", [1, 2, 3])
    f_o = H.OrdinalHyperparameter("f_o", ["lo", "mid", "hi"])
    f_x = H.UniformFloatHyperparameter("f_x", 0.0, 1.0)
    space_add(cs, f_a, f_b, f_n, f_c, f_o, f_x)
    space_add(cs,
              F.ForbiddenEqualsClause(f_b, "s"),
              F.ForbiddenInClause(f_n, [2, 4]),
              F.ForbiddenAndConjunction(F.ForbiddenEqualsClause(f_a, "x"),
                                        F.ForbiddenInClause(f_b, ["p", "q"])),
              F.ForbiddenAndConjunction(F.ForbiddenEqualsClause(f_c, 2),
                                        F.ForbiddenEqualsClause(f_o, "hi")),
              F.ForbiddenAndConjunction(F.ForbiddenInClause(f_a, ["y", "z"]),
                                        F.ForbiddenInClause(f_c, [1, 3]),
                                        F.ForbiddenEqualsClause(f_o, "mid")))
    return cs


def space_mixed():
    cs = CS.ConfigurationSpace(seed=16)
    clf = H.CategoricalHyperparameter("classifier", ["svm", "rf", "mlp"], weights=[2, 1, 1],
                                      default_value="rf")
    svm_C = H.UniformFloatHyperparameter("svm_C", 0.03125, 32768.0, log=True, default_value=1.0)
    svm_kernel = H.CategoricalHyperparameter("svm_kernel", ["rbf", "poly", "sigmoid"])
    svm_degree = H.UniformIntegerHyperparameter("svm_degree", 2, 5, default_value=3)
    svm_gamma = H.UniformFloatHyperparameter("svm_gamma", 1e-5, 8.0, log=True, default_value=0.1)
    svm_shrinking = H.CategoricalHyperparameter("svm_shrinking", ["true", "false"])
    rf_n = H.UniformIntegerHyperparameter("rf_n_estimators", 10, 1000, log=True)
    rf_mf = H.UniformFloatHyperparameter("rf_max_features", 0.0, 1.0, default_value=0.5)
    rf_crit = H.CategoricalHyperparameter("rf_criterion", ["gini", "entropy"])
    mlp_layers = H.OrdinalHyperparameter("mlp_layers", [1, 2, 3, 4])
    mlp_units = H.UniformIntegerHyperparameter("mlp_units", 16, 1024, log=True, default_value=64)
    mlp_dropout = H.UniformFloatHyperparameter("mlp_dropout", 0.0, 0.9)
    optimizer = H.CategoricalHyperparameter("optimizer", ["adam", "sgd"])
    momentum = H.UniformFloatHyperparameter("momentum", 0.0, 0.99, default_value=0.9)
    lr = H.UniformFloatHyperparameter("lr", 1e-5, 1e-1, log=True, default_value=1e-3)
    preproc = H.CategoricalHyperparameter("preproc", ["none", "pca", "scaler"])
    pca = H.UniformFloatHyperparameter("pca_keep", 0.5, 0.999)
    task = H.Constant("task", "classification")
    space_add(cs, clf, svm_C, svm_kernel, svm_degree, svm_gamma, svm_shrinking, rf_n, rf_mf,
              rf_crit, mlp_layers, mlp_units, mlp_dropout, optimizer, momentum, lr, preproc, pca,
              task)
    space_add(cs,
              C.EqualsCondition(svm_C, clf, "svm"),
              C.EqualsCondition(svm_kernel, clf, "svm"),
              C.AndConjunction(C.EqualsCondition(svm_degree, clf, "svm"),
                               C.EqualsCondition(svm_degree, svm_kernel, "poly")),
              C.InCondition(svm_gamma, svm_kernel, ["rbf", "poly"]),
              # (a bare NEQ on the conditional parent svm_kernel is not used: ConfigSpace 1.2
              # then rejects its own default configuration)
              C.AndConjunction(C.EqualsCondition(svm_shrinking, clf, "svm"),
                               C.NotEqualsCondition(svm_shrinking, svm_kernel, "sigmoid")),
              C.EqualsCondition(rf_n, clf, "rf"),
              C.EqualsCondition(rf_mf, clf, "rf"),
              C.EqualsCondition(rf_crit, clf, "rf"),
              C.EqualsCondition(mlp_layers, clf, "mlp"),
              C.EqualsCondition(mlp_units, clf, "mlp"),
              C.OrConjunction(C.GreaterThanCondition(mlp_dropout, mlp_layers, 2),
                              C.AndConjunction(C.EqualsCondition(mlp_dropout, optimizer, "sgd"),
                                               C.LessThanCondition(mlp_dropout, mlp_units, 128))),
              C.EqualsCondition(optimizer, clf, "mlp"),
              C.AndConjunction(C.EqualsCondition(momentum, clf, "mlp"),
                               C.EqualsCondition(momentum, optimizer, "sgd")),
              C.OrConjunction(C.EqualsCondition(lr, optimizer, "adam"),
                              C.EqualsCondition(lr, optimizer, "sgd")),
              C.EqualsCondition(pca, preproc, "pca"))
    space_add(cs,
              F.ForbiddenAndConjunction(F.ForbiddenEqualsClause(clf, "svm"),
                                        F.ForbiddenEqualsClause(preproc, "none")),
              # clauses on conditional parameters: only match when they are active
              F.ForbiddenAndConjunction(F.ForbiddenEqualsClause(svm_kernel, "sigmoid"),
                                        F.ForbiddenEqualsClause(preproc, "pca")),
              F.ForbiddenAndConjunction(F.ForbiddenEqualsClause(rf_crit, "entropy"),
                                        F.ForbiddenInClause(preproc, ["pca", "scaler"])),
              F.ForbiddenEqualsClause(mlp_layers, 4))
    return cs


def space_neq_inactive():
    """NEQ on a parent that is itself conditional: when the parent is inactive, so is the
    child (ConfigSpace 0.6). ConfigSpace 1.2 cannot build this space (it rejects its own
    default configuration), so it is made only under 0.x."""
    cs = CS.ConfigurationSpace(seed=17)
    a = H.CategoricalHyperparameter("a", ["x", "y"])
    k = H.CategoricalHyperparameter("k", ["p", "q", "r"])
    s = H.UniformFloatHyperparameter("s", 0.0, 1.0)
    t = H.UniformIntegerHyperparameter("t", 1, 9)
    space_add(cs, a, k, s, t)
    space_add(cs, C.EqualsCondition(k, a, "x"), C.NotEqualsCondition(s, k, "q"),
              C.OrConjunction(C.NotEqualsCondition(t, k, "p"),
                              C.EqualsCondition(t, a, "y")))
    return cs


def space_mutable():
    """Parameters marked mutable for pbt/pb2 in their meta, as a user of ConfigSpace does."""
    cs = CS.ConfigurationSpace(seed=13)
    space_add(cs,
              H.UniformFloatHyperparameter("lr", 1e-4, 1.0, log=True, default_value=1e-2,
                                           meta={"mutable": True}),
              H.UniformIntegerHyperparameter("width", 16, 512, log=True, meta={"mutable": False}),
              H.CategoricalHyperparameter("act", ["relu", "tanh"], meta={"mutable": True}),
              H.UniformFloatHyperparameter("wd", 1e-6, 1e-2, log=True, meta={"note": "fixed"}),
              H.UniformFloatHyperparameter("mom", 0.0, 0.99))
    return cs


SPACES = [("numeric", space_numeric), ("categorical", space_categorical),
          ("constants", space_constants), ("conditions", space_conditions),
          ("forbidden", space_forbidden), ("mixed", space_mixed)]
if VERSION.startswith("0."):
    SPACES.append(("neq_inactive_parent", space_neq_inactive))
SPACES.append(("mutable", space_mutable))  # last: the others keep their sample seeds


def dump(obj, path):
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=1)
        fh.write("\n")


def cmd_generate(outdir):
    names = []
    for i, (name, build) in enumerate(SPACES):
        cs = build()
        with open(f"{outdir}/{name}.json", "w") as fh:
            fh.write(csjson.write(cs))
        dump(describe(cs), f"{outdir}/{name}.expected.json")
        dump(cs_samples(cs, 1000 + i), f"{outdir}/{name}.cs_samples.json")
        names.append(name)
    dump({"configspace_version": VERSION, "spaces": names}, f"{outdir}/manifest.json")


def cmd_describe(path, out):
    cs = read_space(path)
    dump({"expected": describe(cs), "cs_samples": cs_samples(cs, 7)}, out)


# ---------------------------------------------------------------- validation

def mutations(cs, samples):
    """Invalid configurations made from valid ones: each must be rejected by check_config.
    Yields (description, values)."""
    hps = {h.name: h for h in hyperparameters(cs)}
    if not samples:
        return
    base = samples[0]
    for name, v in base.items():
        h = hps.get(name)
        if isinstance(h, (H.UniformFloatHyperparameter, H.UniformIntegerHyperparameter)):
            d = dict(base)
            d[name] = py(h.upper) + (py(h.upper) - py(h.lower)) + 1
            yield f"{name} above its upper bound", d
            break
    for name, v in base.items():
        h = hps.get(name)
        if isinstance(h, (H.CategoricalHyperparameter, H.OrdinalHyperparameter)):
            d = dict(base)
            d[name] = "__not_a_choice__"
            yield f"{name} not a choice", d
            break
    conditional = [n for n in hps if cs.get_parents_of(n)]
    for name in conditional:
        with_it = next((s for s in samples if name in s), None)
        without = next((s for s in samples if name not in s), None)
        if with_it is not None and without is not None:
            d = dict(with_it)
            del d[name]
            yield f"active {name} left out", d
            d = dict(without)
            d[name] = with_it[name]
            yield f"inactive {name} given a value", d
            break


def forbidden_mutation(cs, samples):
    """Find a mutation of a valid sample that ConfigSpace rejects as forbidden (only
    the forbidden clauses change, activity stays the same). None if none found."""
    for f in cs.get_forbiddens():
        leaves = f.components if isinstance(f, F.ForbiddenAndConjunction) else [f]
        for s in samples[:100]:
            d = dict(s)
            for leaf in leaves:
                val = list(leaf.values)[0] if isinstance(leaf, F.ForbiddenInClause) else leaf.value
                d[leaf.hyperparameter.name] = py(val)
            try:
                check_config(cs, d)
            except Exception as e:  # noqa: BLE001
                if "forbidden" in (type(e).__name__ + str(e)).lower():
                    return d
    return None


def cmd_validate(jobs_path, out):
    with open(jobs_path) as fh:
        jobs = json.load(fh)
    results = []
    for job in jobs:
        res = {"space": job["space"], "n": 0, "invalid": [], "controls": [], "error": None}
        try:
            cs = read_space(job["space"])
        except Exception as e:  # noqa: BLE001
            res["error"] = f"ConfigSpace {VERSION} cannot read the space: {type(e).__name__}: {e}"
            results.append(res)
            continue
        with open(job["samples"]) as fh:
            samples = [json.loads(line) for line in fh if line.strip()]
        for i, d in enumerate(samples):
            res["n"] += 1
            try:
                check_config(cs, d)
            except Exception as e:  # noqa: BLE001
                res["invalid"].append({"index": i, "config": d,
                                       "why": f"{type(e).__name__}: {e}".replace("\n", " ")[:400]})
        # negative controls: ConfigSpace must reject these
        for what, d in mutations(cs, samples):
            try:
                check_config(cs, d)
                res["controls"].append({"what": what, "rejected": False})
            except Exception:  # noqa: BLE001
                res["controls"].append({"what": what, "rejected": True})
        if cs.get_forbiddens():
            d = forbidden_mutation(cs, samples)
            res["controls"].append({"what": "a forbidden combination", "rejected": d is not None})
        results.append(res)
    dump(results, out)


def main(argv):
    if len(argv) >= 2 and argv[0] == "generate":
        cmd_generate(argv[1])
    elif len(argv) >= 3 and argv[0] == "describe":
        cmd_describe(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == "validate":
        cmd_validate(argv[1], argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
