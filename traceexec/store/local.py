"""The embedded local trace store: one OTLP JSON file per trace.

Layout: ``$TRACEEXEC_HOME/store/traces/<trace_id>.jsonl``.  Each line is one
OTLP/JSON ExportTraceServiceRequest, the format the OpenTelemetry
Collector's file exporter writes, so other tools can read the files.
Directories are 0700 and files 0600.  Appends take an exclusive flock, so
the exporter, ``traceexec serve`` and ``show`` can share a store.
"""

import os

from ..delivery import span
from ..errors import TraceexecError
from ..files import ensure_dir, write_all

_HEX = frozenset("0123456789abcdef")


class UnknownTrace(TraceexecError, LookupError):
    """No trace in the store matches what was asked for."""


def is_trace_id(text) -> bool:
    """True for a valid W3C trace id: 32 lowercase hex digits, not all zero.

    >>> is_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"), is_trace_id("../x")
    (True, False)
    """
    return (isinstance(text, str) and len(text) == 32 and _HEX.issuperset(text)
            and text != "0" * 32)


def traces_dir(home: str) -> str:
    return os.path.join(home, "store", "traces")


def trace_path(home: str, trace_id: str) -> str:
    return os.path.join(traces_dir(home), trace_id + ".jsonl")


INCOMING = "incoming.jsonl"
"""Where wrappers append (cheap); readers move its lines into the per-trace files."""


def _trace_lines(records) -> dict:
    """{trace id: one OTLP/JSON line of its records}; ValueError for a bad trace id."""
    by_trace: dict = {}
    for record in records:
        if not is_trace_id(record["trace_id"]):
            raise ValueError("bad trace id %r" % (record["trace_id"],))
        by_trace.setdefault(record["trace_id"], []).append(record)
    return {trace_id: (span.dumps(span.to_otlp_json(group)) + "\n").encode("utf-8", "surrogatepass")
            for trace_id, group in by_trace.items()}


def _append_line(path: str, line: bytes) -> None:
    import fcntl
    import time
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        write_all(fd, line)
        # The kernel stamps files with a clock of a few ms; "last" needs the true order.
        now = time.time_ns()
        os.utime(fd, ns=(now, now))
    finally:
        os.close(fd)


def append(home: str, records: list, *, incoming: bool = False) -> None:
    """Add span records to the store, one line per trace they belong to.

    With ``incoming`` (the wrapper's way), the lines are appended to
    ``incoming.jsonl``, a file that already exists, instead of to a per-trace
    file that usually does not: creating a file costs most of a millisecond on
    the machines measured.  Every reader moves them into place first.

    Raises ValueError, before writing anything, for a record whose trace id
    is not 32 lowercase hex digits (the id names a file).
    """
    lines = _trace_lines(records)
    ensure_dir(traces_dir(home))
    if incoming:
        from ..files import append_log
        append_log(os.path.join(store_dir(home), INCOMING), b"".join(lines.values()), line=True)
        return
    for trace_id, line in lines.items():
        _append_line(trace_path(home, trace_id), line)


def store_dir(home: str) -> str:
    return os.path.join(home, "store")


def ingest_incoming(home: str) -> int:
    """Move lines from ``incoming.jsonl`` into their traces' files; returns how many.

    The file is claimed (renamed) under its lock, so wrappers go on appending
    to a new one; a claimed file left by a crash is finished by the next reader.
    """
    import fcntl
    import json
    import time
    from ..files import claim_log
    directory = store_dir(home)
    incoming = os.path.join(directory, INCOMING)
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    if INCOMING not in names and not any(n.endswith(".claimed") for n in names):
        return 0
    fd = os.open(os.path.join(directory, "ingest.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    moved = 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        claim_log(incoming, os.path.join(directory, "incoming-%020d-%d.claimed" % (
            time.time_ns(), os.getpid())))
        for name in sorted(n for n in os.listdir(directory) if n.endswith(".claimed")):
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                for line in handle:
                    if not line.endswith(b"\n"):
                        continue  # torn by a crash mid-write
                    try:
                        trace_id = _first_trace_id(json.loads(line))
                    except ValueError:
                        continue
                    if trace_id is not None:
                        _append_line(trace_path(home, trace_id), line)
                        moved += 1
            os.unlink(path)
    finally:
        os.close(fd)
    return moved


def _first_trace_id(document):
    for resource_spans in document.get("resourceSpans") or []:
        for scope_spans in resource_spans.get("scopeSpans") or []:
            for item in scope_spans.get("spans") or []:
                trace_id = item.get("traceId")
                return trace_id if is_trace_id(trace_id) else None
    return None


def trace_ids(home: str) -> list:
    """Trace ids in the store, most recently written last."""
    ingest_incoming(home)
    directory = traces_dir(home)
    try:
        entries = [e for e in os.scandir(directory) if e.name.endswith(".jsonl")]
    except OSError:
        return []
    entries.sort(key=lambda e: (e.stat().st_mtime_ns, e.name))
    return [e.name[:-len(".jsonl")] for e in entries]


def resolve(home: str, ref: str = "last") -> str:
    """A full trace id for ``last``, a full id, or a unique prefix of one."""
    ids = trace_ids(home)
    if not ids:
        raise UnknownTrace("the local store is empty (%s)" % traces_dir(home))
    if ref in (None, "", "last"):
        return ids[-1]
    ref = ref.lower()
    matches = [t for t in ids if t.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownTrace("no trace %s in the local store" % ref)
    raise UnknownTrace("%s is ambiguous: %d traces start with it" % (ref, len(matches)))


def documents(home: str, trace_id: str) -> list:
    """The OTLP/JSON documents stored for a trace, in the order written."""
    import json
    ingest_incoming(home)
    docs = []
    try:
        with open(trace_path(home, trace_id), "rb") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    try:
                        docs.append(json.loads(line))
                    except ValueError:
                        continue  # a torn last line after a crash: skip it, keep the rest
    except FileNotFoundError:
        raise UnknownTrace("no trace %s in the local store" % trace_id) from None
    return docs


def read(home: str, trace_id: str) -> list:
    """Span records of a trace; a span delivered twice appears once."""
    seen = set()
    records = []
    for doc in documents(home, trace_id):
        for record in span.from_otlp_json(doc):
            key = record["span_id"]
            if key in seen:
                continue
            seen.add(key)
            records.append(record)
    return records
