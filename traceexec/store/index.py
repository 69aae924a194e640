"""The store's index: where each trace's lines are, and a summary of every trace.

An SQLite database (``store/index.sqlite``, standard library) beside the
segment files.  It is derived data: the segments are the truth, and a
missing, damaged or older index is rebuilt from them.  It answers what a scan
of every file would otherwise: the recent traces (``show --list``, the web
list), searches by name, service, status, time and attribute, run ids, and
the byte ranges holding one trace.

Summaries are merged as lines arrive, without rereading a trace: first
start, last end, spans (each once: a span delivered twice is kept once here),
spans with status ERROR, and the root: the earliest span without a parent,
else the earliest span.  Each span also gets a row of what a terminal view
draws (``trace.row_of``), so ``show`` of a 100,000-span trace reads rows
instead of parsing every stored line.
"""
from __future__ import annotations

import os
import sqlite3

from ..delivery import span as _span
from .otlpjson import as_int, as_text, service_of, spans_of, status_code

VERSION = 2
"""Bumped when the schema changes; an index of another version is rebuilt."""
MAX_TERMS = 1000
"""Searchable names, services and attribute values kept per trace."""
MAX_TERM_CHARS = 200
SKIPPED_KEYS = frozenset({"process.pid", "process.command_args", "process.parent_pid",
                          "traceexec.process.cpu.user", "traceexec.process.cpu.system",
                          "traceexec.process.max_rss"})
"""Attributes left out of search terms: different on every span, they would crowd out the
rest.  Floating-point values are left out too."""

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value);
CREATE TABLE segments(segment INTEGER PRIMARY KEY, length INTEGER NOT NULL);
CREATE TABLE traces(
    trace_id TEXT PRIMARY KEY, written INTEGER NOT NULL,
    start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
    spans INTEGER NOT NULL, errors INTEGER NOT NULL,
    root_name TEXT NOT NULL, root_service TEXT NOT NULL, root_status INTEGER NOT NULL,
    root_rank INTEGER NOT NULL, root_start INTEGER NOT NULL, terms INTEGER NOT NULL);
CREATE INDEX traces_by_written ON traces(written);
CREATE TABLE chunks(trace_id TEXT NOT NULL, segment INTEGER NOT NULL,
                    offset INTEGER NOT NULL, length INTEGER NOT NULL);
CREATE INDEX chunks_by_trace ON chunks(trace_id);
CREATE TABLE terms(trace_id TEXT NOT NULL, term TEXT NOT NULL, PRIMARY KEY(term, trace_id))
    WITHOUT ROWID;
CREATE TABLE spans(
    trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT NOT NULL, name TEXT NOT NULL,
    service TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
    status INTEGER NOT NULL, exit TEXT NOT NULL, words TEXT NOT NULL, command TEXT NOT NULL,
    depends TEXT NOT NULL, PRIMARY KEY(trace_id, span_id)) WITHOUT ROWID;
"""


class Summary:
    """What the index keeps of a trace, merged line by line."""

    __slots__ = ("trace_id", "start_ns", "end_ns", "spans", "errors", "root_name",
                 "root_service", "root_status", "root_rank", "root_start", "terms", "rows")

    def __init__(self, trace_id: str):
        self.trace_id = trace_id
        self.start_ns = self.end_ns = self.root_start = None
        self.spans = self.errors = 0
        self.root_name = self.root_service = ""
        self.root_status = 0
        self.root_rank = 2
        self.terms: set = set()
        self.rows: list = []

    def add_document(self, document: dict) -> None:
        """Merge the spans of one OTLP/JSON document (already checked by the reader)."""
        from .trace import row_of
        services: dict = {}
        rows = self.rows
        for resource, item in spans_of(document):
            service = services.get(id(resource))
            if service is None:
                service = services[id(resource)] = service_of(resource)
            self.add(item, service)
            rows.append(row_of(self.trace_id, item, service))

    def add(self, item: dict, service: str) -> None:
        start, end = as_int(item.get("startTimeUnixNano")), as_int(item.get("endTimeUnixNano"))
        self.start_ns = start if self.start_ns is None else min(self.start_ns, start)
        self.end_ns = max(start, end) if self.end_ns is None else max(self.end_ns, start, end)
        self.spans += 1
        status = status_code(item)
        if status == _span.STATUS_ERROR:
            self.errors += 1
        name = as_text(item.get("name"))
        rank = 1 if item.get("parentSpanId") else 0
        if (rank, start) < (self.root_rank, self.root_start if self.root_start is not None
                            else start + 1):
            self.root_rank, self.root_start = rank, start
            self.root_name, self.root_service, self.root_status = name, service, status
        if len(self.terms) < MAX_TERMS:
            self._add_terms(item, name, service)

    def _add_terms(self, item: dict, name: str, service: str) -> None:
        terms = self.terms
        terms.add("n:" + name[:MAX_TERM_CHARS])
        terms.add("s:" + service[:MAX_TERM_CHARS])
        items = item.get("attributes")
        if items.__class__ is not list:
            return
        for attribute in items:  # attribute_pairs, spelled out: this runs for every span
            if attribute.__class__ is not dict:
                continue
            key, value = attribute.get("key"), attribute.get("value")
            if key in SKIPPED_KEYS or key.__class__ is not str or value.__class__ is not dict \
                    or len(value) != 1:
                continue
            kind, raw = next(iter(value.items()))
            if kind == "stringValue" or kind == "intValue":
                if raw.__class__ is not str and raw.__class__ is not int:
                    continue
                terms.add(("a:%s=%s" % (key, raw))[:MAX_TERM_CHARS])
            elif kind == "boolValue" and raw.__class__ is bool:
                terms.add("a:%s=%s" % (key, "true" if raw else "false"))
            if len(terms) >= MAX_TERMS:
                return


# --- the database ---------------------------------------------------------------

def connect(path: str) -> sqlite3.Connection:
    """An open index at ``path`` (created 0600 when missing); sqlite3.Error when damaged."""
    if not os.path.exists(path):
        for stale in (path + "-wal", path + "-shm"):  # left by an index removed by hand
            try:
                os.unlink(stale)
            except FileNotFoundError:
                pass
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    return _checked(db, create=True)


def connect_snapshot(path: str) -> sqlite3.Connection:
    """The index at ``path``, read-only as it is in its file, for when the disk is too
    full for sqlite's write-ahead log and shared memory: what a writer still holds in
    its log is not seen.  sqlite3.Error when missing, damaged or of another version."""
    import urllib.parse
    db = sqlite3.connect("file:%s?immutable=1" % urllib.parse.quote(path), uri=True,
                         isolation_level=None, check_same_thread=False)
    return _checked(db, create=False)


def _checked(db, *, create: bool) -> sqlite3.Connection:
    """``db`` once it is an index of this version (made one when new and ``create``)."""
    try:
        if create:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in names and create:
            db.executescript("BEGIN;" + SCHEMA + "COMMIT;")
            db.execute("INSERT INTO meta VALUES ('version', ?)", (VERSION,))
        elif "meta" not in names or version(db) != VERSION:
            raise sqlite3.DatabaseError("index version %s, expected %s" % (
                version(db) if "meta" in names else None, VERSION))
    except BaseException:
        db.close()
        raise
    return db


def version(db):
    row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    return row[0] if row else None


def segment_lengths(db) -> dict:
    """{segment number: bytes of it already indexed}."""
    return dict(db.execute("SELECT segment, length FROM segments"))


def add(db, segment: int, length: int, chunks: list, summaries: dict) -> None:
    """Record ``chunks`` (trace id, offset, length) in ``segment``, now indexed up to
    ``length`` bytes, and merge ``summaries``; one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT OR REPLACE INTO segments VALUES (?, ?)", (segment, length))
        db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                       [(t, segment, o, n) for t, o, n in chunks])
        written = db.execute("SELECT coalesce(max(written), 0) FROM traces").fetchone()[0]
        rows = [_sql_row(row) for s in summaries.values() for row in s.rows]
        before = db.total_changes
        db.executemany("INSERT OR IGNORE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        repeated = len(rows) - (db.total_changes - before)
        if repeated:  # a finished span replaces its start record (delivery.running)
            db.executemany(
                "UPDATE spans SET parent_id = ?3, name = ?4, service = ?5, start_ns = ?6, "
                "end_ns = ?7, status = ?8, exit = ?9, words = ?10, command = ?11, "
                "depends = ?12 WHERE trace_id = ?1 AND span_id = ?2 AND end_ns = 0",
                [row for row in rows if row[6]])
        _merge_all(db, list(summaries.values()), written)
        if repeated:  # spans delivered again: count each trace's spans as stored
            db.executemany(
                "UPDATE traces SET spans = (SELECT count(*) FROM spans WHERE trace_id = ?1), "
                "errors = (SELECT count(*) FROM spans WHERE trace_id = ?1 AND status = 2) "
                "WHERE trace_id = ?1", [(t,) for t in summaries])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def segment_traces(db, segment: int) -> list:
    """The traces with a line in ``segment``."""
    return [row[0] for row in db.execute(
        "SELECT DISTINCT trace_id FROM chunks WHERE segment = ?", (segment,))]


def forget_segment(db, segment: int) -> int:
    """Drop ``segment`` and every trace with a line in it from the index; one
    transaction.  Returns how many traces went."""
    db.execute("BEGIN IMMEDIATE")
    try:
        gone = segment_traces(db, segment)
        for at in range(0, len(gone), 500):
            chunk = gone[at:at + 500]
            marks = ",".join("?" * len(chunk))
            for table in ("traces", "chunks", "spans", "terms"):
                db.execute("DELETE FROM %s WHERE trace_id IN (%s)" % (table, marks), chunk)
        db.execute("DELETE FROM segments WHERE segment = ?", (segment,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(gone)


def _merge_all(db, summaries: list, written: int) -> None:
    """Merge summaries into the traces table: one query to find which exist, then one
    statement per kind of change (thousands of new traces in one filing are common)."""
    existing = {}
    ids = [s.trace_id for s in summaries]
    for at in range(0, len(ids), 500):
        chunk = ids[at:at + 500]
        existing.update((row[0], row[1:]) for row in db.execute(
            "SELECT trace_id, start_ns, end_ns, root_rank, root_start, terms FROM traces "
            "WHERE trace_id IN (%s)" % ",".join("?" * len(chunk)), chunk))
    inserts, updates, roots, terms = [], [], [], []
    for s in summaries:
        written += 1
        start, end = _clamp(s.start_ns or 0), _clamp(s.end_ns or 0)
        root_start = _clamp(s.root_start or 0)
        row = existing.get(s.trace_id)
        if row is None:
            kept = sorted(s.terms)[:MAX_TERMS]
            inserts.append((s.trace_id, written, start, end, s.spans, s.errors,
                            _sql_text(s.root_name), _sql_text(s.root_service), s.root_status,
                            s.root_rank, root_start, len(kept)))
        else:
            old_start, old_end, rank, old_root_start, count = row
            kept = sorted(s.terms)[:max(0, MAX_TERMS - count)]
            updates.append((written, min(old_start, start), max(old_end, end), s.spans,
                            s.errors, len(kept), s.trace_id))
            if (s.root_rank, root_start) <= (rank, old_root_start):  # <=: a finished root
                # replaces its start record
                roots.append((_sql_text(s.root_name), _sql_text(s.root_service),
                              s.root_status, s.root_rank, root_start, s.trace_id))
        terms.extend((s.trace_id, _sql_text(term)) for term in kept)
    db.executemany("INSERT INTO traces VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", inserts)
    db.executemany("UPDATE traces SET written = ?, start_ns = ?, end_ns = ?, spans = spans + ?, "
                   "errors = errors + ?, terms = terms + ? WHERE trace_id = ?", updates)
    db.executemany("UPDATE traces SET root_name = ?, root_service = ?, root_status = ?, "
                   "root_rank = ?, root_start = ? WHERE trace_id = ?", roots)
    db.executemany("INSERT OR IGNORE INTO terms VALUES (?, ?)", terms)


def _sql_row(row: tuple) -> tuple:
    """A span row as SQLite takes it: texts without lone surrogates, times in 63 bits."""
    trace_id, span_id, parent, name, service, start, end, status, exit_text, words, \
        command, depends = row
    return (trace_id, span_id, parent, _sql_text(name), _sql_text(service), _clamp(start),
            _clamp(end), _clamp(status), _sql_text(exit_text), _sql_text(words),
            _sql_text(command), depends)


def _sql_text(text: str) -> str:
    """``text`` as SQLite can hold it: lone surrogates (from non-UTF-8 names) escaped."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _clamp(value: int) -> int:
    """SQLite integers are signed 64-bit; OTLP times are unsigned."""
    return max(0, min(value, 2**63 - 1))


# --- questions ------------------------------------------------------------------

COLUMNS = ("trace_id", "written", "start_ns", "end_ns", "spans", "errors", "root_name",
           "root_service", "root_status")


def _rows(cursor) -> list:
    return [dict(zip(COLUMNS, row)) for row in cursor]


def trace_ids(db) -> list:
    """Every trace id, least recently written first."""
    return [row[0] for row in db.execute("SELECT trace_id FROM traces ORDER BY written")]


def chunks(db, trace_id: str) -> list:
    """(segment, offset, length) of a trace's lines, in the order written."""
    return db.execute("SELECT segment, offset, length FROM chunks WHERE trace_id = ? "
                      "ORDER BY rowid", (trace_id,)).fetchall()


def count(db) -> int:
    return db.execute("SELECT count(*) FROM traces").fetchone()[0]


def summary(db, trace_id: str):
    rows = _rows(db.execute("SELECT %s FROM traces WHERE trace_id = ?" % ", ".join(COLUMNS),
                            (trace_id,)))
    return rows[0] if rows else None


def with_prefix(db, prefix: str, limit: int = 2) -> list:
    """Trace ids that start with ``prefix`` (lowercase hex), at most ``limit``."""
    return [row[0] for row in db.execute(
        "SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? ORDER BY trace_id "
        "LIMIT ?", (prefix, prefix + "g", limit))]


def nth_latest(db, n: int):
    """The trace id written ``n`` traces before the latest (0 = the latest), or None."""
    row = db.execute("SELECT trace_id FROM traces ORDER BY written DESC LIMIT 1 OFFSET ?",
                     (max(0, n),)).fetchone()
    return row[0] if row else None


def traces_with_term(db, term: str) -> list:
    """Trace ids holding a search term, latest first."""
    return [row[0] for row in db.execute(
        "SELECT t.trace_id FROM terms JOIN traces t USING (trace_id) WHERE term = ? "
        "ORDER BY t.written DESC", (term,))]


def terms_with_prefix(db, prefix: str, limit: int = 50) -> list:
    """(term, trace id) of terms that start with ``prefix``, latest trace first, at most
    ``limit`` (for run ids given by a prefix)."""
    return [(row[0], row[1]) for row in db.execute(
        "SELECT term, t.trace_id FROM terms JOIN traces t USING (trace_id) "
        "WHERE term >= ? AND term < ? ORDER BY t.written DESC LIMIT ?",
        (prefix, prefix + "\U0010ffff", limit))]


class Query:
    """A trace search: every given condition must hold.

    ``name`` and ``service`` match any span's (a substring, case-insensitive);
    ``attribute`` is ``key=value`` (exact) or ``key`` (present); ``status`` is
    ``error`` (some span failed) or ``ok``; times are Unix nanoseconds of the
    trace's start.
    """

    def __init__(self, *, name="", service="", attribute="", status="", since_ns=None,
                 until_ns=None):
        self.name, self.service, self.attribute = name, service, attribute
        self.status, self.since_ns, self.until_ns = status, since_ns, until_ns

    def where(self) -> tuple:
        clauses, params = [], []
        for prefix, text in (("n:", self.name), ("s:", self.service)):
            if text:
                clauses.append("trace_id IN (SELECT trace_id FROM terms WHERE term >= ? AND "
                               "term < ? AND instr(lower(term), ?) > 2)")
                params += [prefix, prefix[:-1] + ";", text.lower()]
        if self.attribute:
            if "=" in self.attribute:
                clauses.append("trace_id IN (SELECT trace_id FROM terms WHERE term = ?)")
                params.append(("a:" + self.attribute)[:MAX_TERM_CHARS])
            else:
                clauses.append("trace_id IN (SELECT trace_id FROM terms WHERE term >= ? AND "
                               "term < ?)")
                params += ["a:%s=" % self.attribute, "a:%s>" % self.attribute]
        if self.status == "error":
            clauses.append("errors > 0")
        elif self.status == "ok":
            clauses.append("errors = 0")
        if self.since_ns is not None:
            clauses.append("start_ns >= ?")
            params.append(_clamp(self.since_ns))
        if self.until_ns is not None:
            clauses.append("start_ns <= ?")
            params.append(_clamp(self.until_ns))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def search(db, query: Query = None, *, limit: int = 20, offset: int = 0) -> tuple:
    """(summaries latest first, how many match in all)."""
    where, params = (query or Query()).where()
    total = db.execute("SELECT count(*) FROM traces" + where, params).fetchone()[0]
    rows = _rows(db.execute("SELECT %s FROM traces%s ORDER BY written DESC LIMIT ? OFFSET ?"
                            % (", ".join(COLUMNS), where), params + [max(0, limit),
                                                                     max(0, offset)]))
    return rows, total
