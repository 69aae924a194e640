"""A moment of full disk in the local store: real wrappers, some cut short mid-line.

Wrappers (the real binary, no collector: their spans go to the store's
incoming.jsonl) run one after another; every so often one runs with
RLIMIT_FSIZE just above the file's size, so its line is torn after a few
bytes, as by a disk that filled for a moment, and the next wrapper's line
lands right after the torn piece.  Readers (``show --list``) file what waits
now and then.  Used small by test_store_faults.py, full size by
``stress/run.py faults``.  Nothing here asserts.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess

from conftest import TRACEEXEC, traceexec_env
from traceexec.store import local as store


def _limited(allowed_bytes: int):
    def prepare():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (allowed_bytes, allowed_bytes))
    return prepare


def scenario(work, *, wrappers: int = 1000, torn_every: int = 10, read_every: int = 50) -> dict:
    home = os.path.join(str(work), "torn-store")
    os.makedirs(home, exist_ok=True)
    env = traceexec_env(home)
    incoming = os.path.join(home, "store", store.INCOMING)
    figures = {"sent": 0, "torn_writers": 0, "warned": 0, "outcome_changed": 0,
               "tracebacks": 0}
    expected = set()
    for number in range(wrappers):
        torn = number % torn_every == torn_every - 1 and os.path.exists(incoming)
        name = "w%05d" % number
        limit = os.path.getsize(incoming) + 40 if torn else None
        result = subprocess.run(TRACEEXEC + ["--name", name, "--", "sh", "-c", "exit 3"],
                                env=env, capture_output=True, timeout=60,
                                preexec_fn=_limited(limit) if torn else None)
        figures["outcome_changed"] += result.returncode != 3
        figures["tracebacks"] += b"Traceback" in result.stderr
        if torn:
            figures["torn_writers"] += 1
            figures["warned"] += len(result.stderr.splitlines()) == 1
        else:
            figures["sent"] += 1
            expected.add(name)
        if number % read_every == read_every - 1:
            listed = subprocess.run(TRACEEXEC + ["show", "--list"], env=env,
                                    capture_output=True, timeout=120)
            figures["tracebacks"] += b"Traceback" in listed.stderr
    listed = subprocess.run(TRACEEXEC + ["show", "--list", "--json", "--limit",
                                         str(wrappers * 2)], env=env, capture_output=True,
                            timeout=300)
    figures["tracebacks"] += b"Traceback" in listed.stderr
    names = {json.loads(line)["root"] for line in listed.stdout.splitlines() if line.strip()}
    figures["filed"] = len(names & expected)
    figures["lost"] = len(expected - names)
    pieces, size = store.quarantined(home)
    figures["quarantined_pieces"], figures["quarantined_bytes"] = pieces, size
    return figures
