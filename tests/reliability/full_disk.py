"""The local store on a disk that is full: real wrappers, ``show`` and a real tmpfs.

Run as a program inside a private mount namespace (``unshare -m``), it mounts
a small tmpfs at the directory given, fills a store there with wrappers,
fills the disk, then reads the store with ``show`` while nothing can be
written, and again once there is room.  It prints its figures as one JSON
object.  Used by test_store_faults.py.  Nothing here asserts.
"""
from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for conftest

from conftest import TRACEEXEC, traceexec_env  # noqa: E402


def run(args, env):
    return subprocess.run(TRACEEXEC + args, env=env, capture_output=True, timeout=120)


def wrap(name, env) -> int:
    return run(["--name", name, "--", "sh", "-c", "exit 3"], env).returncode


def listed(env) -> set:
    result = run(["show", "--list", "--json", "--limit", "100"], env)
    return {json.loads(line)["root"] for line in result.stdout.splitlines() if line.strip()}


def indexed(home) -> int:
    """Traces in the index file as it is, read-only (no filing, no rebuild)."""
    path = os.path.join(home, "store", "index.sqlite")
    if not os.path.exists(path):
        return -1
    db = sqlite3.connect("file:%s?immutable=1" % path, uri=True)  # needs no room
    try:
        return db.execute("SELECT count(*) FROM traces").fetchone()[0]
    except sqlite3.Error:  # emptied, or made anew
        return -1
    finally:
        db.close()


def fill(path) -> None:
    """Write zeros to ``path`` until the disk refuses."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    for size in (4096, 512, 1):  # the last bytes too
        try:
            with open(path, "ab") as handle:
                while True:
                    handle.write(b"\0" * size)
                    handle.flush()
        except OSError:
            pass


def scenario(disk: str) -> dict:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", disk],
                   check=True)
    home = os.path.join(disk, "home")
    env = traceexec_env(home)
    figures = {"outcome_changed": 0}
    filed = ["filed-%d" % n for n in range(5)]
    waiting = ["waiting-%d" % n for n in range(3)]
    for name in filed:
        figures["outcome_changed"] += wrap(name, env) != 3
    figures["listed_before"] = len(listed(env) & set(filed))
    for name in waiting:  # their lines wait in incoming.jsonl for the next reader
        figures["outcome_changed"] += wrap(name, env) != 3
    filler = os.path.join(disk, "filler")
    fill(filler)
    figures["outcome_changed"] += wrap("while-full", env) != 3
    for what, args in (("list", ["show", "--list"]), ("show", ["show"])):
        result = run(args, env)
        err = result.stderr.decode(errors="replace")
        figures[what] = {"status": result.returncode, "lines": len(err.splitlines()),
                         "says_full": "disk is full" in err, "traceback": "Traceback" in err,
                         "stdout": len(result.stdout.splitlines()), "stderr": err}
    figures["indexed_while_full"] = indexed(home)
    os.unlink(filler)
    figures["listed_after"] = len(listed(env) & set(filed + waiting))
    return figures


if __name__ == "__main__":
    print(json.dumps(scenario(sys.argv[1])))
