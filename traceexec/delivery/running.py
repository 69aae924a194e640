"""Start records: a span that is still running, made visible before it ends.

A command still running RUNNING_AFTER seconds after it started (a wrapped
command, a DAG's step; a DAG run at once) hands a *start record* to delivery: the span as it
will be, but with no end (``end_ns`` 0) and who is running it (pid, that
process's start time, the boot).  The finished span, with the same ids,
replaces it in the local store.  If no finished span ever comes, readers can
tell a span that is still running from one whose process is gone (killed,
or the machine went down) with ``state``: never a made-up duration.

Start records go only to the local store: OTLP has no unfinished spans, and a
collector would keep the start record as a second span.

    record = running.start_record(trace_id=..., span_id=..., name=..., start_ns=..., ...)
    running.deliver_start([record], cfg)
"""
from __future__ import annotations

import os

from . import span

RUNNING_AFTER = 0.5
"""Seconds a wrapped command or a DAG's step runs before its start record is handed
over: shorter ones never pay for one."""
PID, PID_START, BOOT, HOST = "traceexec.running.pid", "traceexec.running.pid_start", \
    "traceexec.running.boot_id", "traceexec.running.host"
"""Attributes of a start record: the process that will write the end, its machine and
that machine's boot."""
RUNNING, GONE, ENDED = "running", "gone", "ended"
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


_KNOWN: dict = {}
"""This process's boot id, host and (per pid: after a fork it differs) start time: a DAG
run makes a start record per step, and /proc need not be read for each."""


def boot_id() -> str:
    if "boot" not in _KNOWN:
        try:
            with open(BOOT_ID_FILE, "rb") as handle:
                _KNOWN["boot"] = handle.read(64).decode("ascii", "replace").strip()
        except OSError:
            _KNOWN["boot"] = ""
    return _KNOWN["boot"]


def process_start(pid: int):
    from ..wrap.signals import process_start as started
    return started(pid)


def _own_start():
    pid = os.getpid()
    if _KNOWN.get("pid") != pid:
        _KNOWN["pid"], _KNOWN["start"] = pid, process_start(pid) or ""
        _KNOWN["host"] = os.uname().nodename
    return pid, _KNOWN["start"]


def start_record(*, pid: int = None, attributes=None, **fields) -> dict:
    """A span record without an end, naming the process (default: this one) that is to
    write the finished span."""
    if pid is None:
        pid, started = _own_start()
    else:
        started = process_start(pid) or ""
    attrs = dict(attributes or {})
    attrs[PID] = pid
    attrs[PID_START] = started
    attrs[BOOT] = boot_id()
    attrs[HOST] = _KNOWN.get("host") or os.uname().nodename
    fields["end_ns"] = 0
    return span.new_record(attributes=attrs, **fields)


def is_start(record: dict) -> bool:
    return not record.get("end_ns") and PID in (record.get("attributes") or {})


def state(attributes: dict, end_ns: int, *, boot=None, started=process_start) -> str:
    """ENDED for a finished span; for a start record, RUNNING while its process lives (or
    when it runs on another machine, which cannot be checked from here), GONE when that
    process, or the boot of this machine it ran in, has ended."""
    if end_ns:
        return ENDED
    pid = attributes.get(PID)
    if not isinstance(pid, int) or pid <= 0 or attributes.get(HOST) != os.uname().nodename:
        return RUNNING  # a span without an end from elsewhere: nothing to check
    recorded_boot = attributes.get(BOOT) or ""
    current = boot_id() if boot is None else boot
    if recorded_boot and current and recorded_boot != current:
        return GONE
    recorded_start = attributes.get(PID_START) or ""
    now_start = started(pid)
    if now_start is None or (recorded_start and str(now_start) != str(recorded_start)):
        return GONE
    return RUNNING


def deliver_start(records: list, cfg) -> None:
    """Hand start records to the local store when it is a destination; never raises
    (telemetry never harms the command)."""
    if not records or cfg.exporter != "otlp" or not (cfg.endpoint is None or cfg.keep_local):
        return
    try:
        from . import incoming as store
        store.append(cfg.home, records, incoming=True)
    except Exception:  # noqa: BLE001 the finished span will say what is wrong, once
        pass
