"""Run records under ``$TRACEEXEC_HOME/runs/<dag>/<run id>/``: what ``status``,
``history``, ``retry``, ``restart`` and ``stop`` read.

Each run's folder holds its step logs, its log (``dag.log``) and
``status.json``, written atomically (a temporary file, then a rename) when the
run starts, as its steps end (at most once a second) and when it ends, so
any number of concurrent runs of one DAG never corrupt each other's record
and a reader never sees half a file.  Run ids are time-ordered (UUID v7), so
the folder names sort newest last.  A record says which process runs it
(pid and that process's start time, so a recycled pid is not mistaken for
the run).
"""
from __future__ import annotations

import os
import time

from ..errors import TraceexecError
from ..wrap.signals import process_start


class UnknownRun(TraceexecError):
    """No run record matches what was asked for."""


def new_run_id() -> str:
    """A time-ordered UUID (version 7), like Dagu's run ids."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    text = "%032x" % value
    return "-".join((text[:8], text[8:12], text[12:16], text[16:20], text[20:]))


_SAFE_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SAFE = _SAFE_FIRST | {"."}  # a name of these, not starting with '.', is kept as it is


def safe_name(name: str) -> str:
    """``name`` fit for a file name (run folders, step logs)."""
    if name and name[0] in _SAFE_FIRST and _SAFE.issuperset(name) and not name.endswith("."):
        return name
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip(".") or "_"


def runs_dir(home: str, dag_name: str) -> str:
    return os.path.join(home, "runs", safe_name(dag_name))


def is_alive(record: dict) -> bool:
    """True while the process that wrote ``record`` still runs it."""
    pid = record.get("pid")
    return bool(pid) and process_start(pid) == record.get("pid_start")


def read(path: str) -> dict | None:
    import json  # only what reads records back (status, history, retry...)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def records(home: str, dag_name: str) -> list:
    """Every run record of a DAG, newest first."""
    folder = runs_dir(home, dag_name)
    try:
        names = sorted(os.listdir(folder), reverse=True)
    except OSError:
        return []
    found = []
    for name in names:
        record = read(os.path.join(folder, name, "status.json"))
        if record is not None:
            found.append(current(record))
    return found


def current(record: dict) -> dict:
    """``record`` with a run whose process died while running shown as such."""
    if record.get("status") == "running" and not is_alive(record):
        record = dict(record)
        record["status"] = "aborted" if record.get("schema") == "v2" else "cancelled"
        record["reason"] = "the traceexec process running it (pid %s) is gone" % record.get("pid")
    return record


def find(home: str, dag_name: str, run_id: str | None = None) -> dict:
    """The record of ``run_id`` (a unique prefix will do), else of the latest run."""
    found = records(home, dag_name)
    if not found:
        raise UnknownRun("no runs of DAG %r in %s" % (dag_name, runs_dir(home, dag_name)))
    if run_id is None:
        return found[0]
    matches = [r for r in found if str(r.get("run_id", "")).startswith(run_id)]
    if not matches:
        raise UnknownRun("no run %r of DAG %r" % (run_id, dag_name))
    if len(matches) > 1 and not any(r.get("run_id") == run_id for r in matches):
        raise UnknownRun("run id %r matches %d runs of DAG %r" % (run_id, len(matches),
                                                                  dag_name))
    return next((r for r in matches if r.get("run_id") == run_id), matches[0])


def running(home: str, dag_name: str) -> list:
    return [r for r in records(home, dag_name) if r.get("status") == "running" and is_alive(r)]
