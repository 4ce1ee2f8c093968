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


def hbmpi_procs(marker):
    """Pids of the running hbmpi processes whose command line holds the argument 'marker' (under
    mpirun each rank has a process group of its own, so killing mpirun's group misses them)."""
    import os
    pids = []
    for p in os.listdir("/proc"):
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0") if p.isdigit() else []
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"hbmpi") and marker.encode() in cmd:
            pids.append(int(p))
    return pids


def wait_gone(pids, timeout=30):
    """Wait until none of 'pids' runs (zombies count as gone)."""
    import os
    import time
    t0 = time.time()
    for pid in pids:
        while time.time() - t0 < timeout:
            try:
                if open(f"/proc/{pid}/stat").read().split()[2] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.01)


def descendants(pids):
    """Every process below 'pids' (children, their children, ...), from /proc."""
    import os
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
                parent[int(d)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], list(pids)
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def kill_job(p, marker):
    """SIGKILL a job started with start_new_session=True: its process group (mpirun) and every
    hbmpi process whose command line holds 'marker' (under mpirun each rank has a process group
    of its own), and their descendants (objective programs in process groups of their own), as a
    lost node would; returns once they are all gone."""
    import os
    import signal
    pids = hbmpi_procs(marker)
    pids += descendants(pids)
    os.killpg(p.pid, signal.SIGKILL)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()
    wait_gone(pids)


def wait_handlers(marker, n, timeout=60):
    """Wait until 'n' hbmpi processes with 'marker' run and each catches SIGTERM (its handlers
    are in place: a signal before that ends a process the default way). Their pids, or []."""
    import time
    t0 = time.time()
    while time.time() - t0 < timeout:
        pids, ready = hbmpi_procs(marker), 0
        for pid in pids:
            try:
                caught = [l for l in open(f"/proc/{pid}/status") if l.startswith("SigCgt:")]
            except OSError:
                continue
            ready += bool(caught) and bool(int(caught[0].split()[1], 16) & (1 << 14))  # SIGTERM = 15
        if len(pids) == n and ready == n:
            return pids
        time.sleep(0.01)
    return []
