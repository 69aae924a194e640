"""Filing: moving waiting lines into the store's segments and index.

Writers append to ``incoming.jsonl``; whoever reads the store first files
what waits.  The file is claimed (renamed) under its lock, so writers go on
appending to a new one; its lines are read back piece by piece (``recovery``),
so a line torn by a killed writer costs only its own bytes, which are set
aside in ``quarantine/`` and counted; the readable lines are appended to the
active segment and indexed (``index``) in one transaction.  Segment bytes the
index does not know yet (an index lost, a reader killed between appending and
indexing) are indexed first, which is also how a lost index is rebuilt.
Everything runs under ``ingest.lock``, so any number of processes may read.
"""
from __future__ import annotations

import os

from ..delivery import span
from ..files import ensure_dir, write_all
from .local import (INCOMING, SEGMENT_BYTES, disk_full, index_path, is_trace_id, legacy_dir,
                    quarantine_dir, segment_path, segments_dir, store_dir)


class Filed:
    """What one ``ingest`` did: lines filed, unreadable pieces set aside, the oldest
    segments let go for the size limit and the traces that went with them."""

    def __init__(self):
        self.lines = 0
        self.pruned_segments = 0
        self.pruned_traces = 0
        self.quarantined_pieces = 0
        self.quarantined_bytes = 0
        self.quarantine_file = None
        self.full = None
        """Why nothing more could be filed when the disk is full (what waits stays)."""

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
    fd = None
    try:
        fd = os.open(os.path.join(directory, "ingest.lock"),
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        db = _open_index(home, rebuild)
        try:
            _catch_up(home, db, filed)
            _import_legacy(home)
            claim_log(os.path.join(directory, INCOMING), os.path.join(
                directory, "incoming-%020d-%d.claimed" % (time.time_ns(), os.getpid())))
            for name in sorted(n for n in os.listdir(directory) if n.endswith(".claimed")):
                _file_claimed(home, db, os.path.join(directory, name), filed)
            _prune(home, db, filed)
        finally:
            db.close()
    except Exception as error:
        # A full disk stops filing part-way, harmlessly: the index changes in
        # transactions, a claimed file goes only once filed, and segment bytes the
        # index missed are indexed by the next filing.  What was filed stays readable.
        filed.full = disk_full(error, directory)
        if filed.full is None:
            raise
    finally:
        if fd is not None:
            os.close(fd)
        if collecting:
            gc.enable()
    return filed


def _open_index(home: str, rebuild: bool = False):
    """The index (under ingest.lock); emptied when damaged or of another version, for
    ``_catch_up`` to index every segment again, but never for a failure that is not
    the index's own (a full disk, a lock, an unreadable file): that is raised."""
    import sqlite3
    from . import index
    path = index_path(home)
    try:
        if not rebuild:
            return index.connect(path)
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError:
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
    gone = forgotten(home)
    for number in _segment_numbers(home):
        path = segment_path(home, number)
        start = known.get(number, 0)
        if os.path.getsize(path) <= start:
            continue
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
        chunks, summaries = [], {}
        for piece in _pieces(data):
            trace_id = _only_trace(piece.document) if piece.readable else None
            if trace_id is not None and _is_forgotten(gone, trace_id, number,
                                                      start + piece.start):
                continue  # a trace let go for the size limit stays gone, whole
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
    path = segment_path(home, number)
    if os.path.exists(path) and os.path.getsize(path) >= SEGMENT_BYTES:
        number += 1
        path = segment_path(home, number)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
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


def _prune(home: str, db, filed: Filed) -> None:
    """Keep the segments within the store's size limit (``local.max_bytes``): the oldest
    go first, never the one being appended to, and with each goes every trace that
    had lines in it, whole (a trace is never shown with part of its spans missing).
    The lines those traces left in newer segments stay, unindexed, until their
    segment goes too; the traces are written down first (``forgotten``), so that an
    index rebuilt from the segments does not bring them back in part."""
    from . import index
    from .local import max_bytes
    limit = max_bytes()
    numbers = _segment_numbers(home)
    if limit is None or len(numbers) < 2:
        return
    sizes = {n: os.path.getsize(segment_path(home, n)) for n in numbers}
    total = sum(sizes.values())
    # what had been filed when the traces went: their lines up to here are not theirs
    upto = (numbers[-1], index.segment_lengths(db).get(numbers[-1], 0))
    for number in numbers[:-1]:
        if total <= limit:
            break
        _write_forgotten(home, {t: upto for t in index.segment_traces(db, number)},
                         oldest=number)
        filed.pruned_traces += index.forget_segment(db, number)
        os.unlink(segment_path(home, number))
        total -= sizes[number]
        filed.pruned_segments += 1


FORGOTTEN = "forgotten"
"""Traces let go for the size limit, one a line: ``TRACE_ID SEGMENT OFFSET``, the end of
what had been filed then.  Their lines before that end are not indexed again."""


def forgotten(home: str) -> dict:
    """{trace id: (segment, offset)} of the traces let go (``FORGOTTEN``)."""
    try:
        with open(os.path.join(store_dir(home), FORGOTTEN), "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return {}
    found = {}
    for line in data.split(b"\n"):
        fields = line.decode("ascii", "replace").split()
        if len(fields) == 3 and is_trace_id(fields[0]) and fields[1].isdigit() \
                and fields[2].isdigit():
            found[fields[0]] = (int(fields[1]), int(fields[2]))
    return found


def _write_forgotten(home: str, gone: dict, *, oldest: int) -> None:
    """Add ``gone`` to ``FORGOTTEN`` (atomically, before the index forgets them), leaving
    out entries that only held for segments older than ``oldest``, which are gone."""
    from ..files import replace_file
    kept = {t: at for t, at in forgotten(home).items() if at[0] >= oldest}
    kept.update(gone)
    replace_file(os.path.join(store_dir(home), FORGOTTEN), b"".join(
        b"%s %d %d\n" % (t.encode(), at[0], at[1]) for t, at in kept.items()))


def _is_forgotten(gone: dict, trace_id: str, segment: int, offset: int) -> bool:
    at = gone.get(trace_id)
    return at is not None and (segment, offset) < at


def _quarantine(home: str, pieces: list, filed: Filed) -> None:
    """Keep unreadable bytes in ``quarantine/``, one piece per line, and count them."""
    import time
    ensure_dir(quarantine_dir(home))
    path = os.path.join(quarantine_dir(home), "incoming-%020d-%d.bad" % (
        time.time_ns(), os.getpid()))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
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
    legacy = legacy_dir(home)
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
