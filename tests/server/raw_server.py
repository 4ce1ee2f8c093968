#!/usr/bin/env python3
"""A server for hbmpi --eval-server that speaks the protocol by hand (docs/runtime.md), without
python/hbmpi.py, so the C side is tested on its own. MODE (argv[1]) picks how job ids whose id %
5 == 3 go wrong: ok, crash (SIGABRT), exit (status 7), hang, garbage (a line that is no JSON),
nan, fail (status failed with a reason), other (answers another job's id), huge (an answer line
of 2 MiB); 'slow' takes 50 ms a job and never goes wrong. Every job prints a line to stdout and one to stderr (stray output). With 'startfail'
it exits at once, before any job; with 'pidfile' it appends its pid to $HB_TEST_PIDS."""
import json
import math
import os
import signal
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
if os.environ.get("HB_TEST_PIDS"):
    with open(os.environ["HB_TEST_PIDS"], "a") as f:
        f.write(f"{os.getpid()}\n")
if mode == "startfail":
    print("cannot start: no such module", file=sys.stderr)
    sys.exit(3)
jobs = os.fdopen(int(os.environ["HB_JOBS_FD"]), "r")
answers = os.fdopen(int(os.environ["HB_ANSWERS_FD"]), "w")
for line in jobs:
    job = json.loads(line)
    c, jid = job["config"], job["id"]
    print(f"stray stdout of job {jid}", flush=True)
    print(f"stray stderr of job {jid}", file=sys.stderr, flush=True)
    loss = (c["x0"] - 1) ** 2 + (c["x1"] + 2) ** 2 + 1.0 / job["budget"]
    bad = jid % 5 == 3
    answer = {"id": jid, "loss": loss, "budget_seen": job["budget"]}
    if bad and mode == "crash":
        os.kill(os.getpid(), signal.SIGABRT)
    elif bad and mode == "exit":
        sys.exit(7)
    elif bad and mode == "hang":
        time.sleep(3600)
    elif bad and mode == "garbage":
        answers.write("this is no JSON\n")
        answers.flush()
        continue
    elif bad and mode == "nan":
        answer["loss"] = None
        answer["status"] = "nan"
    elif bad and mode == "fail":
        answer = {"id": jid, "loss": None, "status": "failed", "reason": "diverged at step 7"}
    elif bad and mode == "other":
        answer["id"] = jid + 1000
    elif bad and mode == "huge":
        answer["pad"] = "x" * (2 << 20)
    if mode == "slow":
        time.sleep(0.05)
    if "previous_trial_dir" in job:
        answer["prev_dir_exists"] = os.path.isdir(job["previous_trial_dir"])
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
