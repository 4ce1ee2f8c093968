# Writes tests/data/good/cs06_mixed.json (run under ConfigSpace 0.6.1) and cs1_mixed.json
# (ConfigSpace 1.2.0): python make_mixed.py > FILE. The files are committed as written.
import sys, json
import ConfigSpace as CS
from ConfigSpace import ConfigurationSpace
import ConfigSpace.hyperparameters as H
from ConfigSpace.conditions import EqualsCondition, InCondition, AndConjunction, OrConjunction, NotEqualsCondition, GreaterThanCondition, LessThanCondition
from ConfigSpace.forbidden import ForbiddenEqualsClause, ForbiddenInClause, ForbiddenAndConjunction
from ConfigSpace.read_and_write import json as csj
cs = ConfigurationSpace(seed=1)
a = H.UniformFloatHyperparameter("lr", 1e-5, 1e-1, default_value=1e-3, log=True)
b = H.UniformIntegerHyperparameter("units", 16, 512, log=True, default_value=64)
c = H.CategoricalHyperparameter("opt", ["adam","sgd","rms"], default_value="adam", weights=[0.5,0.3,0.2])
d = H.OrdinalHyperparameter("depth", [1,2,4,8], default_value=2)
e = H.Constant("const", "x")
f = H.UniformFloatHyperparameter("mom", 0.0, 0.99, default_value=0.9)
g = H.CategoricalHyperparameter("nc", [1, 2.5, 3])
cs.add_hyperparameters([a,b,c,d,e,f,g])
cs.add_condition(AndConjunction(EqualsCondition(f, c, "sgd"), GreaterThanCondition(f, a, 1e-4)))
cs.add_forbidden_clause(ForbiddenAndConjunction(ForbiddenEqualsClause(c, "rms"), ForbiddenInClause(d, [4,8])))
print(csj.write(cs))
