#!/usr/bin/env python3
"""cmake --install into a temporary prefix: the files are where README.md's "Install" says, a C
objective builds with the installed header through pkg-config and runs under the installed
hbmpi, and the installed Python helper imports and serves the installed hbmpi's --eval-cmd.

  test_install.py --cmake PATH --build DIR --version X.Y.Z --pythondir DIR"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, ".."))
from hbtest import check, finish  # noqa: E402

SPACE = {"parameters": [{"name": "mode", "type": "constant", "value": "ok"},
                        {"name": "x", "type": "float", "lower": 0.0, "upper": 1.0},
                        {"name": "n", "type": "int", "lower": 1, "upper": 5}]}

OBJECTIVE = '''import hbmpi

def objective(config, budget, trial):
    return {"loss": config["x"] * config["n"], "helper": hbmpi.__file__}

hbmpi.run(objective)
'''


def sh(argv, env=None, cwd=None):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmake", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--pythondir", required=True, help="HB_INSTALL_PYTHONDIR")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hb-inst-") as tmp:
        prefix = os.path.join(tmp, "prefix")
        rc, out, err = sh([args.cmake, "--install", args.build, "--prefix", prefix])
        check(rc == 0, f"cmake --install: rc={rc} {err[-800:]}")
        if rc != 0:
            return finish()
        hbmpi = os.path.join(prefix, "bin", "hbmpi")
        check(os.access(hbmpi, os.X_OK), "bin/hbmpi")
        check(os.path.isfile(os.path.join(prefix, "include", "hbmpi.h")), "include/hbmpi.h")
        pcs = glob.glob(os.path.join(prefix, "lib*", "**", "pkgconfig", "hbmpi.pc"), recursive=True)
        check(len(pcs) == 1, f"one hbmpi.pc under lib*/: {pcs}")
        pydir = args.pythondir if os.path.isabs(args.pythondir) else os.path.join(prefix, args.pythondir)
        check(os.path.isfile(os.path.join(pydir, "hbmpi.py")), f"the Python helper in {pydir}")
        slurm = os.path.join(prefix, "share", "hbmpi", "slurm")
        for f in sorted(os.listdir(os.path.join(SRC, "slurm"))):
            if f.endswith(".sbatch"):
                check(os.access(os.path.join(slurm, f), os.X_OK), f"share/hbmpi/slurm/{f}, executable")
        check(os.path.isfile(os.path.join(slurm, "README.md")), "share/hbmpi/slurm/README.md")
        doc = os.path.join(prefix, "share", "doc", "hbmpi")
        check(os.path.isfile(os.path.join(doc, "README.md")), "share/doc/hbmpi/README.md")
        docs = sorted(os.path.basename(f) for f in glob.glob(os.path.join(SRC, "docs", "*.md")))
        check(docs and all(os.path.isfile(os.path.join(doc, "docs", f)) for f in docs),
              f"share/doc/hbmpi/docs/: {docs}")
        if not pcs:
            return finish()

        # A C objective built against the installed header, found by pkg-config.
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
        rc, cflags, err = sh(["pkg-config", "--cflags", "hbmpi"], env=env)
        check(rc == 0 and cflags.startswith("-I"), f"pkg-config --cflags hbmpi: {cflags!r} {err}")
        inc = cflags.split()[0][2:] if cflags.startswith("-I") else ""
        check(os.path.realpath(inc) == os.path.realpath(os.path.join(prefix, "include")),
              f"-I names the installed include directory: {inc}")
        rc, ver, _ = sh(["pkg-config", "--modversion", "hbmpi"], env=env)
        check(ver.strip() == args.version, f"hbmpi.pc's version {ver.strip()!r} is {args.version}")
        src = os.path.join(tmp, "obj.c")  # away from the source tree, whose include/ it must not see
        shutil.copy(os.path.join(SRC, "tests", "objectives", "libobj.c"), src)
        lib = os.path.join(tmp, "libobj.so")
        rc, _, err = sh(["cc", *cflags.split(), "-shared", "-fPIC", "-o", lib, src, "-lm"])
        check(rc == 0, f"cc $(pkg-config --cflags hbmpi) -shared -fPIC: rc={rc} {err[-800:]}")
        space = os.path.join(tmp, "space.json")
        with open(space, "w") as f:
            json.dump(SPACE, f)
        if rc == 0:
            rc, out, err = sh([hbmpi, "run", "--space", space, "--max-evals", "3", "--quiet", "--json",
                               "--eval-lib", lib + ":hbmpi_test_objective"], cwd=tmp)
            rep = json.loads(out) if rc == 0 else {"trials": []}
            check(rc == 0 and len(rep["trials"]) == 3
                  and all(t["status"] == "ok" and t["loss"] == t["config"]["x"] * t["config"]["n"]
                          for t in rep["trials"]),
                  f"the installed hbmpi runs the objective: rc={rc} {err[-500:]} {out[-500:]}")

        # The installed Python helper: imported from the installed path, serving --eval-cmd.
        penv = dict(os.environ, PYTHONPATH=pydir)
        rc, out, err = sh([sys.executable, "-c", "import hbmpi; print(hbmpi.__file__)"], env=penv, cwd=tmp)
        check(rc == 0 and os.path.realpath(out.strip()) == os.path.realpath(os.path.join(pydir, "hbmpi.py")),
              f"import hbmpi with PYTHONPATH={pydir}: {out!r} {err[-300:]}")
        obj = os.path.join(tmp, "objective.py")
        with open(obj, "w") as f:
            f.write(OBJECTIVE)
        rc, out, err = sh([hbmpi, "run", "--space", space, "--max-evals", "2", "--quiet", "--json",
                           "--trial-dir", os.path.join(tmp, "trials"), "--eval-cmd", sys.executable, obj],
                          env=penv, cwd=tmp)
        rep = json.loads(out) if rc == 0 else {"trials": []}
        check(rc == 0 and len(rep["trials"]) == 2
              and all(t["status"] == "ok" and t["loss"] == t["config"]["x"] * t["config"]["n"]
                      and os.path.realpath(t["extras"]["helper"]).startswith(os.path.realpath(prefix))
                      for t in rep["trials"]),
              f"the installed helper under the installed hbmpi's --eval-cmd: rc={rc} {err[-500:]} {out[-500:]}")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
