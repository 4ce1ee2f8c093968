"""benchlib — what the MPI runtime benchmarks (bench_dispatch.py, bench_idle.py,
bench_utilisation.py, bench_runfile.py) share: the environment mpirun needs here, a log line on
stderr, the commit measured, hbmpi's version line, and writing the result JSON. Standard library
only; the scripts import it from their own directory."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# mpirun as root, and more ranks than cores (docs/ENVIRONMENT.md).
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def git_commit():
    """The short hash of the checkout, with "-dirty" if tracked files changed; None outside git."""
    try:
        c = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, timeout=10).stdout.strip()
        d = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=10).stdout
        return (c + ("-dirty" if d.strip() else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def hbmpi_version(binary):
    """The first line of `hbmpi --version`, or None."""
    try:
        out = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, timeout=30).stdout
        return out.splitlines()[0] if out.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def write_result(result, out):
    """The result as indented JSON, to the file 'out' or, if it is None, to stdout."""
    text = json.dumps(result, indent=1)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
