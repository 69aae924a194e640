"""The embedded local trace store: OTLP/JSON segment files and an index.

Layout under ``$TRACEEXEC_HOME/store/``:

- ``incoming.jsonl``: where writers append, one OTLP/JSON line per trace per
  write (cheap: the file exists, no lock but the append's own flock).
- ``segments/00000001.jsonl``...: where readers file those lines.  Each line
  is one OTLP/JSON ExportTraceServiceRequest holding spans of one trace, the
  format the OpenTelemetry Collector's file exporter writes, so other tools
  can read the segments as they are.  A segment grows to SEGMENT_BYTES.
- ``index.sqlite``: which lines belong to which trace, and a summary of each
  trace (see ``index``); rebuilt from the segments when missing or damaged.
- ``quarantine/``: bytes of ``incoming.jsonl`` that could not be read (a
  writer killed mid-line), kept for inspection and counted.

Filing (``ingest``) runs under ``ingest.lock`` whenever something reads the
store, so any number of writers, ``serve`` and ``show`` share a store.
Directories are 0700 and files 0600.
"""
from __future__ import annotations

import os

from ..delivery import span
from ..errors import TraceexecError
from ..files import ensure_dir, write_all

_HEX = frozenset("0123456789abcdef")
INCOMING = "incoming.jsonl"
"""Where wrappers append (cheap); readers move its lines into the segments."""
SEGMENT_BYTES = 64 * 1024 * 1024
"""A segment file is closed for appends once it is this large."""


class UnknownTrace(TraceexecError, LookupError):
    """No trace in the store matches what was asked for."""


def is_trace_id(text) -> bool:
    """True for a valid W3C trace id: 32 lowercase hex digits, not all zero.

    >>> is_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"), is_trace_id("../x")
    (True, False)
    """
    return (isinstance(text, str) and len(text) == 32 and _HEX.issuperset(text)
            and text != "0" * 32)


def store_dir(home: str) -> str:
    return os.path.join(home, "store")


def segments_dir(home: str) -> str:
    return os.path.join(home, "store", "segments")


def index_path(home: str) -> str:
    return os.path.join(home, "store", "index.sqlite")


def quarantine_dir(home: str) -> str:
    return os.path.join(home, "store", "quarantine")


def _legacy_dir(home: str) -> str:
    """Where stores before segments kept one file per trace; imported on first read."""
    return os.path.join(home, "store", "traces")


def _segment_path(home: str, number: int) -> str:
    return os.path.join(segments_dir(home), "%08d.jsonl" % number)


# --- writing --------------------------------------------------------------------

def _trace_lines(records) -> list:
    """One OTLP/JSON line per trace of ``records``; ValueError for a bad trace id."""
    by_trace: dict = {}
    for record in records:
        if not is_trace_id(record["trace_id"]):
            raise ValueError("bad trace id %r" % (record["trace_id"],))
        by_trace.setdefault(record["trace_id"], []).append(record)
    return [(span.dumps(span.to_otlp_json(group)) + "\n").encode("utf-8", "surrogatepass")
            for group in by_trace.values()]


def append(home: str, records: list, *, incoming: bool = False) -> None:
    """Add span records to the store, one line per trace they belong to.

    The lines go to ``incoming.jsonl`` (one append, a file that already
    exists: creating files costs most of a millisecond on the machines
    measured).  Without ``incoming`` they are also filed at once.

    Raises ValueError, before writing anything, for a record whose trace id
    is not 32 lowercase hex digits.
    """
    from ..files import append_log
    lines = _trace_lines(records)
    ensure_dir(store_dir(home))
    append_log(os.path.join(store_dir(home), INCOMING), b"".join(lines))
    if not incoming:
        ingest(home)


# --- filing ---------------------------------------------------------------------

class Filed:
    """What one ``ingest`` did: lines filed, unreadable pieces set aside."""

    def __init__(self):
        self.lines = 0
        self.quarantined_pieces = 0
        self.quarantined_bytes = 0
        self.quarantine_file = None

    def __repr__(self):
        return "Filed(lines=%d, quarantined_pieces=%d, quarantined_bytes=%d)" % (
            self.lines, self.quarantined_pieces, self.quarantined_bytes)


def ingest(home: str, *, rebuild: bool = False) -> Filed:
    """File waiting lines into the segments and the index; returns what it did.

    ``incoming.jsonl`` is claimed (renamed) under its lock, so writers go on
    appending to a new one; a claimed file left by a crash is finished by the
    next reader.  Segment bytes not yet in the index (an index lost, or a
    reader killed between appending and indexing) are indexed first.
    """
    import fcntl
    import time
    from ..files import claim_log
    filed = Filed()
    directory = store_dir(home)
    try:
        names = os.listdir(directory)
    except OSError:
        return filed
    if not rebuild and "index.sqlite" in names and INCOMING not in names \
            and "traces" not in names and not any(n.endswith(".claimed") for n in names):
        return filed  # nothing waiting: the common case costs one listdir
    import gc
    ensure_dir(directory)
    collecting = gc.isenabled()
    gc.disable()  # parsed documents hold no cycles; collections during a big file cost most
    fd = os.open(os.path.join(directory, "ingest.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        db = _open_index(home, rebuild)
        try:
            _catch_up(home, db, filed)
            _import_legacy(home)
            claim_log(os.path.join(directory, INCOMING), os.path.join(
                directory, "incoming-%020d-%d.claimed" % (time.time_ns(), os.getpid())))
            for name in sorted(n for n in os.listdir(directory) if n.endswith(".claimed")):
                _file_claimed(home, db, os.path.join(directory, name), filed)
        finally:
            db.close()
    finally:
        os.close(fd)
        if collecting:
            gc.enable()
    return filed


def ingest_incoming(home: str) -> int:
    """``ingest``, returning how many lines it filed."""
    return ingest(home).lines


def _open_index(home: str, rebuild: bool = False):
    """The index (under ingest.lock); emptied when damaged or of another version, for
    ``_catch_up`` to index every segment again."""
    import sqlite3
    from . import index
    path = index_path(home)
    try:
        if not rebuild:
            return index.connect(path)
    except sqlite3.Error:
        pass
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass
    return index.connect(path)  # empty: _catch_up indexes every segment again


def _segment_numbers(home: str) -> list:
    try:
        names = os.listdir(segments_dir(home))
    except FileNotFoundError:
        return []
    return sorted(int(n[:-6]) for n in names if n.endswith(".jsonl") and n[:-6].isdigit())


def _catch_up(home: str, db, filed: Filed) -> None:
    """Index segment bytes that the index does not know yet."""
    from . import index
    known = index.segment_lengths(db)
    for number in _segment_numbers(home):
        path = _segment_path(home, number)
        start = known.get(number, 0)
        if os.path.getsize(path) <= start:
            continue
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
        chunks, summaries = [], {}
        for piece in _pieces(data):
            trace_id = _only_trace(piece.document) if piece.readable else None
            if trace_id is not None:  # segments hold only lines filed whole; skip the rest
                chunks.append((trace_id, start + piece.start, len(piece.data)))
                _summary(summaries, trace_id).add_document(piece.document)
        index.add(db, number, start + len(data), chunks, summaries)


def _pieces(data: bytes):
    from .recovery import pieces
    return pieces(data)


def _summary(summaries: dict, trace_id: str):
    from . import index
    summary = summaries.pop(trace_id, None) or index.Summary(trace_id)
    summaries[trace_id] = summary  # latest last: the order traces are written in
    return summary


def _only_trace(document: dict):
    """The trace id of a document whose spans all share one valid id, else None."""
    from .index import spans_of
    found = None
    for _, item in spans_of(document):
        trace_id = span._hex_id(item.get("traceId"), 32) if isinstance(
            item.get("traceId"), str) else None
        if not is_trace_id(trace_id) or (found is not None and trace_id != found):
            return None
        found = trace_id
    return found


def _by_trace(document: dict) -> tuple:
    """({trace id: one document of its spans}, a document of spans with no valid id)."""
    groups: dict = {}
    for resource_spans in document.get("resourceSpans") or ():
        if not isinstance(resource_spans, dict):
            continue
        for scope_spans in resource_spans.get("scopeSpans") or ():
            if not isinstance(scope_spans, dict):
                continue
            for item in scope_spans.get("spans") or ():
                one = {"resourceSpans": [{"resource": resource_spans.get("resource") or {},
                                          "scopeSpans": [{"scope": scope_spans.get("scope")
                                                          or {}, "spans": [item]}]}]}
                trace_id = None
                if isinstance(item, dict) and isinstance(item.get("traceId"), str):
                    trace_id = span._hex_id(item["traceId"], 32)
                key = trace_id if is_trace_id(trace_id) else None
                if key in groups:
                    groups[key]["resourceSpans"].extend(one["resourceSpans"])
                else:
                    groups[key] = one
    return {k: v for k, v in groups.items() if k is not None}, groups.get(None)


def _file_claimed(home: str, db, path: str, filed: Filed) -> None:
    """Append the readable lines of a claimed file to the active segment and index them."""
    import json
    with open(path, "rb") as handle:
        data = handle.read()
    lines, bad, summaries = [], [], {}
    for piece in _pieces(data):  # each document summarized at once, then let go
        if not piece.readable:
            bad.append(piece.data)
            continue
        trace_id = _only_trace(piece.document)
        if trace_id is not None:
            lines.append((trace_id, piece.data))
            _summary(summaries, trace_id).add_document(piece.document)
            continue
        groups, stray = _by_trace(piece.document)
        for trace_id, document in groups.items():
            text = json.dumps(document, separators=(",", ":")).encode("utf-8", "surrogatepass")
            lines.append((trace_id, text))
            _summary(summaries, trace_id).add_document(document)
        if stray is not None:
            bad.append(json.dumps(stray, separators=(",", ":")).encode(
                "utf-8", "surrogatepass"))
    del data
    if bad:
        _quarantine(home, bad, filed)
    if lines:
        _append_to_segment(home, db, lines, summaries)
    filed.lines += len(lines)
    os.unlink(path)


def _append_to_segment(home: str, db, lines: list, summaries: dict) -> None:
    from . import index
    ensure_dir(segments_dir(home))
    numbers = _segment_numbers(home)
    number = numbers[-1] if numbers else 1
    path = _segment_path(home, number)
    if os.path.exists(path) and os.path.getsize(path) >= SEGMENT_BYTES:
        number += 1
        path = _segment_path(home, number)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            write_all(fd, b"\n")  # a torn end (disk full mid-append) stays its own line
            size += 1
        if size > index.segment_lengths(db).get(number, 0):
            _catch_up(home, db, Filed())
        chunks, offset, out = [], size, []
        for trace_id, text in lines:
            chunks.append((trace_id, offset, len(text)))
            out.append(text)
            offset += len(text) + 1
        out.append(b"")
        write_all(fd, b"\n".join(out))
    finally:
        os.close(fd)
    index.add(db, number, offset, chunks, summaries)


def _quarantine(home: str, pieces: list, filed: Filed) -> None:
    """Keep unreadable bytes in ``quarantine/``, one piece per line, and count them."""
    import time
    ensure_dir(quarantine_dir(home))
    path = os.path.join(quarantine_dir(home), "incoming-%020d-%d.bad" % (
        time.time_ns(), os.getpid()))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        write_all(fd, b"".join(p + b"\n" for p in pieces))
    finally:
        os.close(fd)
    filed.quarantined_pieces += len(pieces)
    filed.quarantined_bytes += sum(len(p) for p in pieces)
    filed.quarantine_file = path


def quarantined(home: str) -> tuple:
    """(pieces, bytes) set aside in ``quarantine/`` so far."""
    pieces = size = 0
    try:
        entries = list(os.scandir(quarantine_dir(home)))
    except FileNotFoundError:
        return 0, 0
    for entry in entries:
        with open(entry.path, "rb") as handle:
            data = handle.read()
        pieces += data.count(b"\n")
        size += len(data) - data.count(b"\n")
    return pieces, size


def _import_legacy(home: str) -> None:
    """Hand per-trace files of an older store to the filing, as claimed logs."""
    legacy = _legacy_dir(home)
    try:
        names = sorted(os.listdir(legacy))
    except FileNotFoundError:
        return
    for name in names:
        if name.endswith(".jsonl"):
            os.rename(os.path.join(legacy, name),
                      os.path.join(store_dir(home), "incoming-0-legacy-%s.claimed" % name))
    try:
        os.rmdir(legacy)
    except OSError:
        pass


# --- reading --------------------------------------------------------------------

def index(home: str):
    """An open index after filing what waits (close it when done)."""
    import sqlite3
    from . import index as _index
    ensure_dir(store_dir(home))
    ingest(home)
    try:
        return _index.connect(index_path(home))
    except sqlite3.Error:
        ingest(home, rebuild=True)
        return _index.connect(index_path(home))


def trace_ids(home: str) -> list:
    """Trace ids in the store, most recently written last."""
    from . import index as _index
    if not os.path.isdir(store_dir(home)):
        return []
    db = index(home)
    try:
        return _index.trace_ids(db)
    finally:
        db.close()


def resolve(home: str, ref: str = "last") -> str:
    """A full trace id for ``last``, ``last~N`` (N traces before the last), a full id,
    or a unique prefix of one."""
    from . import index as _index
    if not os.path.isdir(store_dir(home)):
        raise UnknownTrace("the local store is empty (%s)" % store_dir(home))
    db = index(home)
    try:
        return resolve_in(db, home, ref)
    finally:
        db.close()


def resolve_in(db, home: str, ref) -> str:
    """``resolve`` with an index already open."""
    from . import index as _index
    if not _index.count(db):
        raise UnknownTrace("the local store is empty (%s)" % store_dir(home))
    ref = "last" if ref in (None, "") else str(ref).strip().lower()
    if ref == "last" or ref.startswith("last~"):
        back = ref[5:] if ref != "last" else "0"
        if not back.isdigit() or len(back) > 9:
            raise UnknownTrace("%s: expected last or last~N" % ref)
        found = _index.nth_latest(db, int(back))
        if found is None:
            raise UnknownTrace("no trace %s: the store holds %d" % (ref, _index.count(db)))
        return found
    if not ref or not _HEX.issuperset(ref) or len(ref) > 32:
        raise UnknownTrace("no trace %s in the local store" % ref)
    matches = _index.with_prefix(db, ref)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownTrace("no trace %s in the local store" % ref)
    raise UnknownTrace("%s is ambiguous: more than one trace starts with it" % ref)


def raw_lines(home: str, trace_id: str, db=None):
    """The stored OTLP/JSON lines (bytes) of a trace, in the order written."""
    from . import index as _index
    own = db is None
    db = index(home) if own else db
    try:
        places = _index.chunks(db, trace_id)
    finally:
        if own:
            db.close()
    if not places:
        raise UnknownTrace("no trace %s in the local store" % trace_id)
    handles: dict = {}
    try:
        for segment, offset, length in places:
            if segment not in handles:
                handles[segment] = os.open(_segment_path(home, segment), os.O_RDONLY)
            yield os.pread(handles[segment], length, offset)
    finally:
        for fd in handles.values():
            os.close(fd)


def documents(home: str, trace_id: str) -> list:
    """The OTLP/JSON documents stored for a trace, in the order written."""
    import json
    docs = []
    for line in raw_lines(home, trace_id):
        try:
            docs.append(json.loads(line))
        except ValueError:
            continue  # the index points only at lines that were read whole
    return docs


def read(home: str, trace_id: str) -> list:
    """Span records of a trace; a span delivered twice appears once."""
    seen = set()
    records = []
    for doc in documents(home, trace_id):
        for record in span.from_otlp_json(doc):
            key = record["span_id"]
            if key in seen or record["trace_id"] != trace_id:
                continue
            seen.add(key)
            records.append(record)
    return records
