#!/usr/bin/env python3
"""A damaged run file is never made worse (issue 19): one group per kind of damage. For each,
resuming refuses the file with exit 2 and a message that says what is wrong and how to recover,
leaves every byte of it as it was (and no temporary file beside it); `hbmpi report` shows what
can be read, with a warning, or says that nothing can; `hbmpi repair` writes that into a new
file, and the same command resumes from the new file to the trials of a run that was never
damaged (where the damage lost only a tail of the log).

usage: test_damaged.py --hbmpi PATH [--tmp DIR] GROUP
GROUP: cut changed journal tail seal foreign huge legacy
Ends with a line 'N passed, M failed'; exits 1 if anything failed.
"""
import argparse
import glob
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hbtest import check, finish  # noqa: E402

ARGS = None
# A serial run is deterministic: any prefix of its log, resumed, ends with the same trials.
RUN = ["run", "--kernel", "branin", "--optimizer", "bohb", "--iterations", "2", "--seed", "5", "--quiet", "--json"]
SLOW = ["run", "--kernel", "branin", "--optimizer", "random", "--max-evals", "400", "--seed", "5", "--quiet",
        "--json"]
REC_MAGIC = struct.pack("<I", 0x56454248)
# Runs a command and prints, last on stderr, its peak resident memory in kB (no GNU time needed).
MAX_RSS = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(p.returncode)")


def hbmpi(*argv, timeout=240):
    p = subprocess.run([ARGS.hbmpi, *argv], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def trials_key(report):
    return [(t["id"], json.dumps(t["config"], sort_keys=True), t["budget"], t["loss"], t["status"])
            for t in report["trials"]]


def fresh(name):
    return os.path.join(tempfile.mkdtemp(prefix=f"hb-damaged-{name}-", dir=ARGS.tmp), "run.h5")


def finished_file(name, argv=RUN):
    f = fresh(name)
    rc, out, err = hbmpi(*argv, "--out", f)
    check(rc == 0, f"{name}: the run that makes the file: rc={rc} {err[-300:]}")
    return f, json.loads(out)


def killed_file(name, min_trials=60):
    """A run killed with SIGKILL mid-way: its latest events are in the journal."""
    f = fresh(name)
    p = subprocess.Popen([ARGS.hbmpi, *SLOW, "--eval-delay", "0.01", "--out", f], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.2)
        rc, out, _ = hbmpi("report", f, "--json") if os.path.exists(f) else (1, "", "")
        if rc == 0 and len(json.loads(out)["trials"]) >= min_trials:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    return f


def seal(f):
    b = open(f, "rb").read(64)
    check(b[:16] == b"hbmpi-run seal 1", f"{f} starts with hbmpi's seal")
    length, joff, jcap = struct.unpack("<QQQ", b[16:40])
    return length, joff, jcap


def journal_records(f):
    _, joff, jcap = seal(f)
    j = open(f, "rb").read()[joff:joff + min(jcap, 1 << 22)]
    return joff, [i for i in range(0, len(j), 8) if j[i:i + 4] == REC_MAGIC]


def refused(f, what, words):
    """Resume refuses 'f' (exit 2, a message with 'words' and the way out), changing nothing."""
    before = digest(f)
    argv = SLOW if "killed" in what else RUN
    rc, _, err = hbmpi(*argv, "--out", f)
    check(rc == 2 and all(w in err for w in words) and "hbmpi repair" in err and "hbmpi report" in err,
          f"{what}: resume refuses it with exit 2 and says what is wrong and how to recover: rc={rc} {err!r}")
    check(digest(f) == before, f"{what}: the file is byte for byte as it was")
    check(not glob.glob(f + ".tmp*"), f"{what}: no temporary file is left beside it")
    return err


def report_warns(f, what):
    """`report` shows what can be read, with a warning; returns the number of trials it shows."""
    before = digest(f)
    rc, out, err = hbmpi("report", f, "--json")
    check(rc == 0 and "warning" in err and "damaged" in err, f"{what}: report --json shows what it can, "
          f"with a warning: rc={rc} {err!r}")
    n = -1
    if rc == 0:
        rep = json.loads(out)
        check("damaged" in rep, f"{what}: the report JSON says the file is damaged")
        n = len(rep["trials"])
    rc, out, err = hbmpi("report", f)
    check(rc == 0 and "warning" in err and f in out, f"{what}: the text report too: rc={rc} {err!r}")
    check(digest(f) == before, f"{what}: report leaves the file as it was")
    return n


def repaired_resumes(f, what, expect, argv=RUN):
    """`repair` writes a new file; the same command resumes from it to the trials of 'expect'."""
    new = os.path.join(os.path.dirname(f), "new.h5")
    rc, out, err = hbmpi("repair", f, new)
    check(rc == 0 and os.path.exists(new) and "resume" in out, f"{what}: repair writes {new}: rc={rc} {out} {err}")
    rc2, _, err2 = hbmpi("repair", f, new)
    check(rc2 == 2 and "exists" in err2, f"{what}: repair never overwrites: rc={rc2} {err2!r}")
    if rc != 0:
        return
    rc, out, err = hbmpi(*argv, "--out", new)
    check(rc == 0, f"{what}: the command resumes from the repaired file: rc={rc} {err[-300:]}")
    if rc == 0:
        check(trials_key(json.loads(out)) == trials_key(expect),
              f"{what}: and ends with the trials of a run that was never damaged")


# ---------------------------------------------------------------- groups
def group_cut():
    """Cut short (a full disk, a copy that did not finish), at several places."""
    f, ran = finished_file("cut")
    data = open(f, "rb").read()
    length, _, _ = seal(f)
    check(len(data) == length, "the seal holds the file's length")
    for at in (0, 100, 700, len(data) // 3, len(data) - 100):
        g = f"{f}.cut{at}"
        open(g, "wb").write(data[:at])
        what = f"cut at {at} of {len(data)} bytes"
        words = ["empty"] if at == 0 else ["damaged", "cut short"]
        before = digest(g)
        rc, _, err = hbmpi(*RUN, "--out", g)
        check(rc == 2 and all(w in err for w in words), f"{what}: resume refuses it: rc={rc} {err!r}")
        check(digest(g) == before and not glob.glob(g + ".tmp*"), f"{what}: nothing changed or left behind")
        rc, out, err = hbmpi("report", g)
        if at < 1000:
            check(rc == 2 and ("nothing could be read" in err or "empty" in err),
                  f"{what}: report says nothing can be read: rc={rc} {err!r}")
        else:
            check(rc == 0 and "cut short" in err, f"{what}: report shows what can be read: rc={rc} {err!r}")
    # cut after the event table (the tail of the file): every event is still there
    g = f + ".tail"
    open(g, "wb").write(data[:len(data) - 100])
    refused(g, "cut near its end", ["cut short"])
    n = report_warns(g, "cut near its end")
    check(n == len(ran["trials"]), f"cut near its end: report shows every trial ({n} of {len(ran['trials'])})")
    repaired_resumes(g, "cut near its end", ran)


def group_changed():
    """Bytes changed in the tables since hbmpi wrote them (a bad disk block, a careless edit)."""
    f, ran = finished_file("changed")
    data = bytearray(open(f, "rb").read())
    _, joff, jcap = seal(f)
    at = len(data) // 2 if not joff <= len(data) // 2 < joff + jcap else 1000
    data[at] ^= 0x55
    open(f, "wb").write(data)
    refused(f, "a changed byte", ["damaged", "changed"])
    report_warns(f, "a changed byte")
    new = os.path.join(os.path.dirname(f), "new.h5")
    rc, out, err = hbmpi("repair", f, new)
    check(rc in (0, 2) and (rc == 0) == os.path.exists(new), f"a changed byte: repair writes a file or says why "
          f"not: rc={rc} {out} {err}")


def group_journal():
    """A record in the middle of the journal changed: the records after it are not lost silently."""
    f = killed_file("journal")
    rc, out, err = hbmpi("report", f, "--json")
    check(rc == 0 and "warning" not in err, f"a killed run's file is not damaged: rc={rc} {err!r}")
    joff, recs = journal_records(f)
    check(len(recs) > 20, f"the killed run left records in its journal ({len(recs)})")
    if len(recs) <= 20:
        return
    data = bytearray(open(f, "rb").read())
    data[joff + recs[10] + 40] ^= 0xFF  # inside the record's fields: its check fails
    open(f, "wb").write(data)
    refused(f, "a journal record changed (killed run)", ["journal", "does not end cleanly"])
    report_warns(f, "a journal record changed")
    # the reference: the same command, never interrupted
    rc, out, err = hbmpi(*SLOW, "--out", fresh("journal-ref"))
    check(rc == 0, f"the uninterrupted run: rc={rc} {err[-300:]}")
    if rc == 0:
        repaired_resumes(f, "a journal record changed", json.loads(out), argv=SLOW)


def group_tail():
    """What a kill leaves (the last record without its magic) is not damage; bytes far beyond are."""
    f = killed_file("tail")
    joff, recs = journal_records(f)
    if not recs:
        check(False, "the killed run left records in its journal")
        return
    data = bytearray(open(f, "rb").read())
    torn = bytearray(data)
    torn[joff + recs[-1]:joff + recs[-1] + 4] = b"\0\0\0\0"
    g = f + ".torn.h5"
    open(g, "wb").write(torn)
    rc, out, err = hbmpi(*SLOW, "--out", g)
    check(rc == 0, f"a torn last record (what a kill leaves) resumes: rc={rc} {err[-300:]}")
    junk = bytearray(data)
    junk[joff + recs[-1] + 300000] = 7
    open(f, "wb").write(junk)
    refused(f, "bytes written far beyond the journal's end (killed run)", ["journal", "does not end cleanly"])


def group_seal():
    """The seal itself overwritten (the first 512 bytes zeroed): HDF5's part is intact."""
    f, ran = finished_file("seal")
    data = bytearray(open(f, "rb").read())
    data[:512] = bytes(512)
    open(f, "wb").write(data)
    refused(f, "the seal zeroed", ["damaged", "first 512 bytes"])
    n = report_warns(f, "the seal zeroed")
    check(n == len(ran["trials"]), f"the seal zeroed: report shows every trial ({n})")
    repaired_resumes(f, "the seal zeroed", ran)


def group_foreign():
    """Files that are not run files: empty, text, an HDF5 file of someone else's."""
    d = tempfile.mkdtemp(prefix="hb-damaged-foreign-", dir=ARGS.tmp)
    empty, text, other = (os.path.join(d, n) for n in ("empty.h5", "text.h5", "other.h5"))
    open(empty, "wb").close()
    open(text, "w").write("hello\n")
    subprocess.run([sys.executable, "-c", "import h5py, sys; f = h5py.File(sys.argv[1], 'w'); "
                    "f['x'] = [1, 2, 3]; f.attrs['format'] = 'other'; f.close()", other], check=True)
    for g, words in ((empty, ["empty"]), (text, ["not an HDF5 file"]), (other, ["not an hbmpi run file"])):
        before = digest(g)
        rc, _, err = hbmpi(*RUN, "--out", g)
        check(rc == 2 and all(w in err for w in words) and digest(g) == before,
              f"{os.path.basename(g)}: resume refuses it untouched: rc={rc} {err!r}")
        rc, _, err = hbmpi("report", g)
        check(rc == 2 and all(w in err for w in words), f"{os.path.basename(g)}: report refuses it: {err!r}")
        rc, _, err = hbmpi("repair", g, g + ".new")
        check(rc == 2 and not os.path.exists(g + ".new"), f"{os.path.basename(g)}: repair writes nothing: {err!r}")


def group_huge():
    """A file that claims 10^12 events (no storage behind them): refused at once, in bounded memory."""
    f, _ = finished_file("huge")
    g = os.path.join(os.path.dirname(f), "huge.h5")
    script = r"""
import h5py, sys
src = h5py.File(sys.argv[1], "r")
dst = h5py.File(sys.argv[2], "w")
for k, v in src.attrs.items():
    dst.attrs[k] = v
ev = src["events"]
dst.create_dataset("events", shape=(10**12,), dtype=ev.dtype, chunks=(1024,))
dst.create_dataset("event_x", shape=(10**12, src["event_x"].shape[1]), dtype="f8", chunks=(1024, 2))
dst.create_dataset("event_text", data=src["event_text"][()])
dst.create_dataset("journal", shape=(4096,), dtype="u1")
dst.close()
"""
    subprocess.run([sys.executable, "-c", script, f, g], check=True)
    for argv, what in ((("report", g), "report"), ((*RUN, "--out", g), "resume")):
        p = subprocess.run([sys.executable, "-c", MAX_RSS, ARGS.hbmpi, *argv], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        rss_kb = int(p.stderr.strip().splitlines()[-1]) if p.stderr.strip() else -1
        check(p.returncode == 2 and "damaged" in p.stderr and 0 < rss_kb < 200_000,
              f"a claim of 10^12 events: {what} refuses it in bounded memory: rc={p.returncode} "
              f"max RSS {rss_kb} kB {p.stderr[-300:]!r}")


def group_legacy():
    """A file written before the seal existed (HDF5 from byte 0) still reads and resumes."""
    f, ran = finished_file("legacy", argv=RUN + ["--max-evals", "40"])
    g = os.path.join(os.path.dirname(f), "old.h5")
    open(g, "wb").write(open(f, "rb").read()[512:])  # HDF5 addresses are relative to its superblock
    rc, out, err = hbmpi("report", g, "--json")
    check(rc == 0 and "warning" not in err and trials_key(json.loads(out)) == trials_key(ran),
          f"a file without a seal reads as before: rc={rc} {err!r}")
    rc, out, err = hbmpi(*RUN, "--max-evals", "80", "--out", g)
    check(rc == 0, f"and resumes (raising --max-evals): rc={rc} {err[-300:]}")
    if rc == 0:
        rc2, out2, _ = hbmpi(*RUN, "--max-evals", "80", "--out", fresh("legacy-ref"))
        check(rc2 == 0 and trials_key(json.loads(out)) == trials_key(json.loads(out2)),
              "to the trials of a run that was never interrupted")
        check(open(g, "rb").read(16) == b"hbmpi-run seal 1", "its next checkpoint seals it")


GROUPS = {"cut": group_cut, "changed": group_changed, "journal": group_journal, "tail": group_tail,
          "seal": group_seal, "foreign": group_foreign, "huge": group_huge, "legacy": group_legacy}


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hbmpi", required=True)
    ap.add_argument("--tmp", default=None)
    ap.add_argument("group", nargs="*", choices=[[], *GROUPS])
    ARGS = ap.parse_args()
    for g in ARGS.group or GROUPS:
        GROUPS[g]()
    finish()


if __name__ == "__main__":
    main()
