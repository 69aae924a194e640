"""The embedded local trace store: OTLP/JSON segment files and an index (the paths and
reading; writing is ``delivery.incoming``, filing waiting lines ``filing``).

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
- ``forgotten``: the traces let go for the size limit, so that an index rebuilt
  from the segments does not bring them back with part of their spans.

Filing (``ingest``) runs under ``ingest.lock`` whenever something reads the
store, so any number of writers, ``serve`` and ``show`` share a store.
Directories are 0700 and files 0600.
"""
import os

from ..delivery import span
from ..errors import TraceexecError
from ..files import ensure_dir
from ..delivery.incoming import (  # noqa: F401 (re-exported: the wrapper imports incoming alone)
    HEX_DIGITS, INCOMING, append, is_hex_id, is_trace_id, store_dir, trace_lines)

SEGMENT_BYTES = 64 * 1024 * 1024
"""A segment file is closed for appends once it is this large."""
MAX_MB_VARIABLE = "TRACEEXEC_STORE_MAX_MB"
DEFAULT_MAX_MB = 2048
"""The segments kept, in MiB, before the oldest go (``TRACEEXEC_STORE_MAX_MB``; 0: all)."""


class UnknownTrace(TraceexecError, LookupError):
    """No trace in the store matches what was asked for."""


class StoreDamaged(TraceexecError):
    """A file the index points at is gone or unreadable (removed by hand, say)."""


class StoreUnavailable(TraceexecError):
    """The store's index cannot be opened for a reason that is not damage (a full disk)."""


class BadStoreLimit(TraceexecError):
    """``TRACEEXEC_STORE_MAX_MB`` is not a whole number of MiB."""


def max_bytes(environ=None):
    """The store's size limit in bytes (``None``: no limit)."""
    text = (os.environ if environ is None else environ).get(MAX_MB_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_MB * 1024 * 1024
    if not text.isdigit():
        raise BadStoreLimit("bad %s %r: a whole number of MiB (0: keep everything)"
                            % (MAX_MB_VARIABLE, text))
    return int(text) * 1024 * 1024 or None


def segments_dir(home: str) -> str:
    return os.path.join(home, "store", "segments")


def index_path(home: str) -> str:
    return os.path.join(home, "store", "index.sqlite")


def quarantine_dir(home: str) -> str:
    return os.path.join(home, "store", "quarantine")


def legacy_dir(home: str) -> str:
    """Where stores before segments kept one file per trace; imported on first read."""
    return os.path.join(home, "store", "traces")


def segment_path(home: str, number: int) -> str:
    return os.path.join(segments_dir(home), "%08d.jsonl" % number)


def disk_full(error, directory: str):
    """Why the disk holding ``directory`` is full, when ``error`` comes of that; else None.

    sqlite says "disk I/O error" when it cannot make its shared-memory file, so
    for its errors the free space is looked at too.
    """
    import errno
    import sqlite3
    if isinstance(error, OSError):
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        return (error.strerror or str(error)) if full else None
    if not isinstance(error, sqlite3.OperationalError):
        return None
    try:
        room = os.statvfs(directory)
    except OSError:
        return None
    if room.f_bavail * room.f_frsize < FULL_BELOW_BYTES or room.f_favail == 0:
        return os.strerror(errno.ENOSPC)
    return None


FULL_BELOW_BYTES = 1024 * 1024
"""Less free space than this, and an sqlite error is taken for a full disk."""


# --- filing (store/filing.py) ----------------------------------------------------

def ingest(home: str, *, rebuild: bool = False):
    """File what waits into the segments and the index (``filing.ingest``)."""
    from . import filing
    return filing.ingest(home, rebuild=rebuild)


def ingest_incoming(home: str) -> int:
    """``ingest``, returning how many lines it filed."""
    return ingest(home).lines


def quarantined(home: str) -> tuple:
    """(pieces, bytes) set aside in ``quarantine/`` so far (``filing.quarantined``)."""
    from . import filing
    return filing.quarantined(home)


# --- reading --------------------------------------------------------------------

def index(home: str):
    """An open index after filing what waits (close it when done)."""
    import sqlite3
    from . import index as _index
    ensure_dir(store_dir(home))
    ingest(home)
    try:
        return _index.connect(index_path(home))
    except sqlite3.OperationalError as error:  # not damage: the index stays as it is
        if disk_full(error, store_dir(home)) is not None:
            try:
                return _index.connect_snapshot(index_path(home))  # needs no room
            except sqlite3.Error as snapshot_error:
                error = snapshot_error
        raise StoreUnavailable("cannot read the store's index %s: %s" % (
            index_path(home), error)) from None
    except sqlite3.DatabaseError:
        ingest(home, rebuild=True)  # damaged or of another version: rebuilt from the segments
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
    if not ref or not HEX_DIGITS.issuperset(ref) or len(ref) > 32:
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
                try:
                    handles[segment] = os.open(segment_path(home, segment),
                                               os.O_RDONLY | os.O_NOFOLLOW)
                except OSError as error:
                    raise StoreDamaged("cannot read %s: %s (removing %s rebuilds the index from "
                                       "the segments that are left)" % (
                                           segment_path(home, segment),
                                           error.strerror or error, index_path(home))) from None
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
    """Span records of a trace; a span delivered twice appears once, and a start record
    (``delivery.running``: no end) gives way to the finished span."""
    seen: dict = {}
    records = []
    for doc in documents(home, trace_id):
        for record in span.from_otlp_json(doc):
            key = record["span_id"]
            if record["trace_id"] != trace_id:
                continue
            if key in seen:
                if record["end_ns"] and not records[seen[key]]["end_ns"]:
                    records[seen[key]] = record
                continue
            seen[key] = len(records)
            records.append(record)
    return records
