"""What the Python integration tests (tests/cli, tests/runfile, tests/slurm) share: checks that
are counted and reported, and the last line 'N passed, M failed' with the exit status."""

_counts = {"passed": 0, "failed": 0}


def check(cond, what):
    """Count 'cond'; print 'FAIL: what' when it is false. Returns 'cond'."""
    if cond:
        _counts["passed"] += 1
    else:
        _counts["failed"] += 1
        print("FAIL:", what, flush=True)
    return cond


def finish():
    """Print the totals; the process's exit status (1 if anything failed)."""
    print(f"{_counts['passed']} passed, {_counts['failed']} failed")
    return 1 if _counts["failed"] else 0
