#!/usr/bin/env python3
"""Tests on an emulated 3-host Slurm cluster (tests/vcluster/vc up/down, run by CTest fixtures):
each host node1..node3 is a network namespace with its own address and host name, so MPI really
talks TCP between hosts and a host can really be lost (vc kill-node, vc link NODE down).

usage: test_vcluster.py --hbmpi PATH --src DIR GROUP
GROUP: hello hosts span docs kill_host_srun kill_host_mpirun link_srun link_mpirun kill_rank_srun kill_rank_mpirun
SLURM_CONF must point at the emulated cluster (tests/vcluster/vc env).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish  # noqa: E402

ARGS = None
VC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vc")


def sh(*cmd, check_rc=True, timeout=120):
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.returncode} {p.stderr}")
    return p.stdout.strip()


def group_hello():
    """The cluster is what it claims: one step over the three hosts runs one task on each, and
    each task sees its own host name."""
    st = subprocess.run([VC, "status"], capture_output=True, text=True)
    check(st.returncode == 0, f"vc status: every daemon alive:\n{st.stdout}{st.stderr}")
    p = subprocess.run(["srun", "--mpi=pmix", "-N", "3", "--ntasks-per-node=1", "hostname"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    check(p.returncode == 0, f"srun -N 3 hostname: exit {p.returncode}: {p.stderr}")
    names = p.stdout.split()
    check(sorted(names) == ["node1", "node2", "node3"],
          f"three tasks on three distinct hosts node1..node3: {names} {p.stderr}")


# ---------------------------------------------------------------- hbmpi on the emulated cluster
SCRIPT = "hbmpi-multi-node.sbatch"
# 2 ranks per host: 6 ranks (5 workers) on 3 hosts, 4 ranks (3 workers) on the 2 that are left.
# --reproducible 3: the same trials whatever the number of workers, before and after a fault.
RUN = ["--kernel", "branin", "--optimizer", "bohb", "--min-budget", "1", "--max-budget", "9", "--seed", "11",
       "--iterations", "2", "--reproducible", "3", "--quiet"]
# --eval-delay S sleeps S * budget / 81 (branin's own max budget): 3 s at budget 9; the run lasts
# about 25 s at 3 jobs at a time
DELAY = ["--eval-delay", "27"]
run_file_of = {}


def vc(*args, timeout=180):
    p = subprocess.run([VC, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def reference(extra=()):
    p = subprocess.run([ARGS.hbmpi, "run", *RUN, *extra, "--json"], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def key(rep):
    return [(t["id"], json.dumps(t["config"], sort_keys=True), t["budget"], t["loss"], t["status"])
            for t in rep["trials"]]


def events(run_file):
    p = subprocess.run([ARGS.hbmpi, "report", run_file, "--events"], capture_output=True, text=True)
    return [json.loads(l) for l in p.stdout.splitlines()] if p.returncode == 0 else []


def job_info(job):
    out = sh("scontrol", "show", "job", "-o", str(job), check_rc=False)
    def f(name):
        m = re.search(name + r"=(\S+)", out)
        return m.group(1) if m else ""
    return {"state": f("JobState") or "GONE", "reason": f("Reason"), "restarts": int(f("Restarts") or 0),
            "nodes": f(" NodeList"), "exit": f("ExitCode")}


def submit(tmp, launch, extra=(), sbatch=("-N", "2-3"), env=None):
    run_file, log = os.path.join(tmp, "run.h5"), os.path.join(tmp, "job.log")
    e = dict(os.environ, HBMPI=ARGS.hbmpi, RUN_FILE=run_file, HBMPI_ARGS=" ".join([*RUN, *extra]),
             RANKS_PER_NODE="2", LAUNCH=launch, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             # every "host" is the same machine: binding would put ranks of different hosts on one core
             OMPI_MCA_hwloc_base_binding_policy="none", OMPI_MCA_btl_tcp_if_include="198.18.0.0/24",
             OMPI_MCA_oob_tcp_if_include="198.18.0.0/24")
    e.update(env or {})
    p = subprocess.run(["sbatch", "--parsable", f"--output={log}", "--export=ALL", "--time=10", *sbatch,
                        os.path.join(ARGS.src, "slurm", SCRIPT)], capture_output=True, text=True, env=e, cwd=tmp)
    check(p.returncode == 0, f"sbatch: {p.stderr}")
    job = int(p.stdout.strip().split(";")[0])
    run_file_of[job] = run_file
    return job, run_file, log


def wait_end(job, timeout=300):
    """Follow the job until it has ended for good; its last state."""
    t0, last = time.time(), None
    while time.time() - t0 < timeout:
        last = job_info(job)
        if last["state"] in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "GONE",
                             "BOOT_FAIL", "DEADLINE"):
            time.sleep(2)  # a requeue can still take a FAILED job back
            again = job_info(job)
            if again["state"] == last["state"]:
                return last
        time.sleep(0.5)
    sh("scancel", str(job), check_rc=False)
    return last


def sessions(ev):
    return [e for e in ev if e["kind"] == "session"]


def hosts_of(session):
    return [r["host"] for r in session["info"].get("ranks", [])]


def group_hosts():
    """hbmpi over the 3 hosts, with srun and with mpirun inside the allocation: the run file
    records each rank's host (they talk TCP: nothing else reaches another network namespace), the
    report shows the ranks per host, the trials are those of a run alone."""
    ready()
    ref = reference()
    for launch in ("srun", "mpirun"):
        tmp = tempfile.mkdtemp(prefix=f"hb-vc-hosts-{launch}-", dir=ARGS.tmp)
        job, run_file, log = submit(tmp, launch, sbatch=("-N", "3"))
        st = wait_end(job)
        check(st and st["state"] == "COMPLETED", f"{launch}: the job completes: {st}\n{tail(log)}")
        ev = events(run_file)
        s = sessions(ev)
        hosts = hosts_of(s[0]) if s else []
        check(hosts == ["node1", "node1", "node2", "node2", "node3", "node3"],
              f"{launch}: ranks 0-5 on node1, node1, node2, node2, node3, node3 (run file): {hosts}")
        rep = subprocess.run([ARGS.hbmpi, "report", run_file], capture_output=True, text=True).stdout
        check("6 ranks on 3 hosts (node1 ranks 0-1, node2 ranks 2-3, node3 ranks 4-5)" in rep,
              f"{launch}: the report shows the ranks per host:\n{rep[:800]}")
        p = subprocess.run([ARGS.hbmpi, "report", run_file, "--json"], capture_output=True, text=True)
        check(p.returncode == 0 and key(json.loads(p.stdout)) == key(ref),
              f"{launch}: the trials of the same run alone")
        workers = {t["worker"] for t in json.loads(p.stdout)["trials"]} if p.returncode == 0 else set()
        check({3, 4, 5} & workers, f"{launch}: ranks on other hosts evaluated: {sorted(workers)}")
        shutil.rmtree(tmp)


def group_span():
    """--ranks-per-eval 5 with 6 ranks: one group of 5 ranks over node1..node3. The command
    objective gets every host of its group in HB_HOSTS (to start its own MPI job across them)."""
    tmp = tempfile.mkdtemp(prefix="hb-vc-span-", dir=ARGS.tmp)
    obj = os.path.join(tmp, "obj.sh")
    with open(obj, "w") as f:
        f.write('#!/bin/sh\nprintf \'{"loss": 1.0, "hosts": "%s", "nranks": "%s"}\\n\' "$HB_HOSTS" "$HB_NRANKS"\n')
    os.chmod(obj, 0o755)
    space = os.path.join(tmp, "space.json")
    with open(space, "w") as f:
        f.write('{"parameters": [{"name": "x", "type": "uniform_float", "lower": 0, "upper": 1}]}\n')
    global RUN
    saved = RUN
    RUN = ["--space", space, "--optimizer", "random", "--max-evals", "3", "--quiet", "--ranks-per-eval", "5"]
    try:
        job, run_file, log = submit(tmp, "srun", extra=["--eval-cmd", obj], sbatch=("-N", "3"))
        st = wait_end(job)
    finally:
        RUN = saved
    check(st and st["state"] == "COMPLETED", f"the job completes: {st}\n{tail(log)}")
    p = subprocess.run([ARGS.hbmpi, "report", run_file, "--json"], capture_output=True, text=True)
    trials = json.loads(p.stdout)["trials"] if p.returncode == 0 else []
    hosts = [t.get("extras", {}).get("hosts", "") for t in trials]
    check(len(trials) == 3 and all(h.split(",") == ["node1", "node2", "node2", "node3", "node3"] for h in hosts),
          f"each trial's group spans the three hosts (HB_HOSTS of ranks 1-5): {hosts}")
    check(all(t["worker"] == 1 for t in trials), "one group, led by rank 1")
    shutil.rmtree(tmp)


def tail(path, n=2500):
    try:
        return open(path).read()[-n:]
    except OSError:
        return ""


def fault_run(name, launch, fault, repair, expect=None, extra=()):
    """Submit the multi-node script over 3 hosts, apply 'fault' once some results are in, and
    follow the job until it has completed on the hosts that are left. Checks the trials against
    a run alone, and measures the time from the fault to the job running again and the work lost."""
    ready()
    ref = reference(extra)
    tmp = tempfile.mkdtemp(prefix=f"hb-vc-{name}-", dir=ARGS.tmp)
    job, run_file, log = submit(tmp, launch, extra=[*DELAY, "--worker-timeout", "8", *extra],
                                sbatch=("--requeue", "--exclusive", "-N", "2-3"))
    t0 = time.time()
    started = False
    while time.time() - t0 < 120:
        ev = events(run_file)
        s = sessions(ev)
        if s and len(set(hosts_of(s[0]))) == 3 and sum(e["kind"] == "result" for e in ev) >= 8:
            started = True
            break
        if job_info(job)["state"] not in ("PENDING", "RUNNING", "CONFIGURING"):
            break
        time.sleep(0.3)
    check(started, f"{name}: the job runs on 3 hosts and has results: {job_info(job)}\n{tail(log)}")
    if not started:
        sh("scancel", str(job), check_rc=False)
        return
    what = fault(run_file)
    t_fault = time.time()
    t_again, settled = None, 0
    while time.time() - t_fault < 300:
        info = job_info(job)
        if t_again is None and len(sessions(events(run_file))) >= 2:
            t_again = time.time() - t_fault
        # ended for good: a terminal state that holds for 3 s (a requeue takes FAILED back)
        settled = settled + 1 if info["state"] in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "GONE") else 0
        if settled >= 6:
            break
        time.sleep(0.5)
    st = wait_end(job, timeout=240)
    t_end = time.time() - t_fault
    repair()
    check(st and st["state"] == "COMPLETED" and st["restarts"] >= 1,
          f"{name}: {what}: the job was requeued and completed: {st}\n{tail(log)}")
    ev = events(run_file)
    s = sessions(ev)
    check(len(s) >= 2, f"{name}: the run file has the resumed session ({len(s)} sessions)")
    if s:
        left = sorted(set(hosts_of(s[-1])))
        check(left and "node3" not in left if name.startswith(("host", "link")) else True,
              f"{name}: the resumed session ran on the hosts that are left: {left}")
    p = subprocess.run([ARGS.hbmpi, "report", run_file, "--json"], capture_output=True, text=True)
    check(p.returncode == 0 and key(json.loads(p.stdout)) == key(ref),
          f"{name}: the trials of an uninterrupted run")
    first = {e["id"] for e in ev if e["kind"] == "issue" and e["session"] == 0}
    done0 = {e["id"] for e in ev if e["kind"] in ("result", "held") and e["session"] == 0}
    lost = len(first - done0)
    check(lost <= 5, f"{name}: at most the jobs in flight (5 workers) were lost: {lost}")
    results = [e["id"] for e in ev if e["kind"] == "result"]
    check(len(results) == len(set(results)), f"{name}: no result recorded twice")
    if expect:
        stops = [e["text"] for e in ev if e["kind"] == "stop" and e["session"] == 0]
        check(stops and re.search(expect, stops[0]), f"{name}: the run file says which rank and host: {stops}")
    rep = subprocess.run([ARGS.hbmpi, "report", run_file], capture_output=True, text=True).stdout
    m = re.search(r"sessions:\n(.*?)\n\n", rep, re.S)
    exits = re.findall(r"hbmpi exited with (\d+)", tail(log, 20000))
    print(f"{name} ({launch}): {what}; running again after {t_again if t_again is None else round(t_again, 1)} s, "
          f"completed after {t_end:.1f} s; {lost} evaluations run twice; restarts {st and st['restarts']}; "
          f"exits seen by the script: {exits}")
    if m:
        print(m.group(1))
    if not os.environ.get("HB_VC_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)


def kill_host(run_file):
    rc, out = vc("kill-node", "node3")
    return "every process of node3 SIGKILLed"


def repair_host():
    vc("start-node", "node3")
    rc, out = vc("wait-idle", "node3", "120")
    check(rc == 0, f"node3 idle again after start-node: {out}")


def cut_link(run_file):
    vc("link", "node3", "down")
    return "node3's link cut"


def repair_link():
    """The link back, and node3 rebooted: left alone it comes back idle 0.3-42 s later, or
    drained when its stale steps outlive UnkillableStepTimeout."""
    vc("link", "node3", "up")
    reboot("node3")
    ready()


def reboot(node):
    """Kill every process of 'node', wait until they are gone, start its slurmd, resume it (as an
    administrator would after a reboot); 0 once it is idle."""
    vc("kill-node", node)
    t0 = time.time()
    while time.time() - t0 < 30 and subprocess.run(["ip", "netns", "pids", "hbvc-" + node],
                                                   capture_output=True, text=True).stdout.strip():
        time.sleep(0.2)
    vc("start-node", node)
    sh("scontrol", "update", f"NodeName={node}", "State=RESUME", check_rc=False)
    return vc("wait-idle", node, "40")


def ready():
    """Every host idle. A host whose link came back can stay down or drained ("Kill task failed":
    the steps left on it outlived UnkillableStepTimeout): reboot it."""
    for node in ("node1", "node2", "node3"):
        state = sh("sinfo", "-h", "-N", "-n", node, "-o", "%T", check_rc=False)
        rc, out = (1, state) if "drain" in state else vc("wait-idle", node, "60")
        for _ in range(3):
            if rc == 0:
                break
            rc, out = reboot(node)
        check(rc == 0, f"{node} idle: {out} {sh('sinfo', '-R', check_rc=False)}")


def kill_rank(run_file):
    """SIGKILL worker rank 3 (on node2; its pid from the run file): the host stays up."""
    s = sessions(events(run_file))
    r = s[0]["info"]["ranks"][3] if s and len(s[0]["info"].get("ranks", [])) > 3 else None
    if r is None:
        return "no rank 3 recorded"
    os.kill(r["pid"], signal.SIGKILL)
    return f"worker rank 3 (pid {r['pid']} on {r['host']}) SIGKILLed"


def no_repair():
    rc, out = vc("wait-idle", "node2", "120")
    check(rc == 0, f"node2 idle after the job: {out}")


def group_docs():
    """docs/slurm.md's multi-node walk-through as written, with node3 killed where it says so:
    the job is requeued, resumes on node1 and node2, and the report shows both sessions."""
    text = open(os.path.join(ARGS.src, "docs", "slurm.md")).read()
    m = re.search(r"<!-- multi-node -->\s*```sh\n(.*?)```", text, re.S)
    check(m is not None, "docs/slurm.md has the multi-node walk-through")
    if m is None:
        return
    before, sep, after = m.group(1).partition("# ... node3 dies here")
    check(sep != "", "the walk-through says where node3 dies")
    after = after.split("\n", 1)[1] if "\n" in after else ""
    ready()
    home = tempfile.mkdtemp(prefix="hb-vc-docs-", dir=ARGS.tmp)
    env = dict(os.environ, HBMPI_SRC=ARGS.src, PATH=os.path.dirname(ARGS.hbmpi) + ":" + os.environ["PATH"],
               HOME=home, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_hwloc_base_binding_policy="none", OMPI_MCA_btl_tcp_if_include="198.18.0.0/24",
               OMPI_MCA_oob_tcp_if_include="198.18.0.0/24")
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", before + '\necho "JOB=$job"\n'], capture_output=True,
                       text=True, env=env, cwd=home, timeout=120)
    job = re.search(r"JOB=(\d+)", p.stdout)
    check(p.returncode == 0 and job, f"the submission runs: {p.returncode} {p.stdout[-500:]} {p.stderr[-800:]}")
    if not job:
        return
    run_file = os.path.join(home, "hbmpi-multi", "run.h5")
    t0 = time.time()
    while time.time() - t0 < 120:
        ev = events(run_file)
        s = sessions(ev)
        if s and len(set(hosts_of(s[0]))) == 3 and sum(e["kind"] == "result" for e in ev) >= 8:
            break
        time.sleep(0.3)
    kill_host(run_file)
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", f"cd {home}/hbmpi-multi\njob={job.group(1)}\n" + after],
                       capture_output=True, text=True, env=env, cwd=home, timeout=400)
    repair_host()
    check(p.returncode == 0, f"the rest of the walk-through runs: {p.returncode} {p.stderr[-800:]}")
    args = re.search(r'export HBMPI_ARGS="([^"]*)"', before)
    ref = subprocess.run([ARGS.hbmpi, "run", *args.group(1).split(), "--eval-delay", "0", "--json"],
                         capture_output=True, text=True) if args else None
    rep = subprocess.run([ARGS.hbmpi, "report", run_file, "--json"], capture_output=True, text=True)
    check(ref is not None and ref.returncode == 0 and rep.returncode == 0
          and key(json.loads(rep.stdout)) == key(json.loads(ref.stdout)),
          "the trials of the same run uninterrupted")
    ev = events(run_file)
    stops = [e["text"] for e in ev if e["kind"] == "stop" and e["session"] == 0]
    check(stops and re.search(r"worker rank [45] on host node3 \(pid \d+\) died", stops[0]),
          f"the run file says which rank and host died: {stops}")
    lost = len({e["id"] for e in ev if e["kind"] == "issue" and e["session"] == 0}
               - {e["id"] for e in ev if e["kind"] in ("result", "held") and e["session"] == 0})
    check(lost <= 3, f"at most the 3 jobs in flight were run again: {lost}")
    print(f"docs: {stops[0] if stops else '-'}; {lost} evaluations run twice")
    check("finished; 2 sessions" in p.stdout and "4 ranks on 2 hosts (node1 ranks 0-1, node2 ranks 2-3)" in p.stdout
          and "on host node3" in p.stdout,
          f"the report: two sessions, the second on node1 and node2, node3's loss named:\n{p.stdout[:1500]}")
    shutil.rmtree(home, ignore_errors=True)


LINK_LOST = r"worker rank [45] on host node3 \(pid \d+\) was lost: nothing heard from it for \d+ s"


def group_kill_host_srun():
    fault_run("host-srun", "srun", kill_host, repair_host, r"worker rank [45] on host node3 \(pid \d+\) died")


def group_kill_host_mpirun():
    fault_run("host-mpirun", "mpirun", kill_host, repair_host, r"worker rank [45] on host node3 \(pid \d+\) died")


def group_link_srun():
    # --reproducible 5: every worker busy, so node3's ranks are running jobs when their link goes
    # and rank 0 writes them off after --worker-timeout (8 s), before Slurm notices (about 16 s)
    fault_run("link-srun", "srun", cut_link, repair_link, LINK_LOST, ["--reproducible", "5"])


def group_link_mpirun():
    # (mpirun may end the job before the 8 s are up: exit 1, no word in the run file; measured in
    # one run of three, so the stop text is not required here)
    fault_run("link-mpirun", "mpirun", cut_link, repair_link, None, ["--reproducible", "5"])


def group_kill_rank_srun():
    fault_run("rank-srun", "srun", kill_rank, no_repair, r"worker rank 3 on host node2 \(pid \d+\) died")


def group_kill_rank_mpirun():
    fault_run("rank-mpirun", "mpirun", kill_rank, no_repair, r"worker rank 3 on host node2 \(pid \d+\) died")


GROUPS = {"hello": group_hello, "hosts": group_hosts, "span": group_span, "docs": group_docs,
          "kill_host_srun": group_kill_host_srun, "kill_host_mpirun": group_kill_host_mpirun,
          "link_srun": group_link_srun, "link_mpirun": group_link_mpirun,
          "kill_rank_srun": group_kill_rank_srun, "kill_rank_mpirun": group_kill_rank_mpirun}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("group", choices=sorted(GROUPS))
    ARGS = ap.parse_args()
    if not os.environ.get("SLURM_CONF"):
        sys.exit("test_vcluster.py: SLURM_CONF is not set (tests/vcluster/vc env)")
    GROUPS[ARGS.group]()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
