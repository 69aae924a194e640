"""A trace read for viewing: lean spans, streamed from the store, and their tree.

Viewers (``show``, the web page, the HTML file, ``diff``) need a few fields
of each span, not the whole document, so the stored OTLP/JSON lines are read
one at a time and each span keeps only what is asked for.  Anything a file
may hold (non-string names, odd timestamps, missing fields) becomes a
well-typed value here, so the viewers never meet a surprise.

    spans = trace.load(home, trace_id, keep=("process.exit.code",))
    for depth, last, item in trace.tree_order(spans): ...
"""
from __future__ import annotations

import json
import sys

from . import otlpjson as _otlp
from .otlpjson import attributes_of

MAX_NS = 2**64 - 1
KEY_ATTRIBUTES = ("error.type", "step.status", "dag.status", "make.target")
"""Attributes viewers show beside each span when present."""
EXIT_ATTRIBUTES = ("process.exit.code", "step.exit_code")
"""Where a span's exit status is, first found wins."""
COMMAND = "process.command_args"
SHOWN_KEYS = frozenset(KEY_ATTRIBUTES + EXIT_ATTRIBUTES + (COMMAND,))
LINK_TYPE = "traceexec.link.type"
DEPENDS = "depends"
"""A DAG step's span links to each step span it waited for, with LINK_TYPE = DEPENDS."""


class Span:
    """One span as viewers see it."""

    __slots__ = ("trace_id", "span_id", "parent_id", "name", "service", "start_ns", "end_ns",
                 "status", "status_message", "kind", "attributes", "events", "links",
                 "resource", "scope", "depends", "_shown", "state")

    def __init__(self, trace_id="", span_id="", parent_id="", name="", service="",
                 start_ns=0, end_ns=0, status=0, status_message="", kind=0, attributes=None,
                 events=(), links=(), resource=None, scope="", depends=(), shown=None):
        self.trace_id, self.span_id, self.parent_id = trace_id, span_id, parent_id
        self.name, self.service = name, service
        self.start_ns, self.end_ns = start_ns, end_ns
        self.status, self.status_message, self.kind = status, status_message, kind
        self.attributes = attributes if attributes is not None else {}
        self.events, self.links = events, links
        self.resource = resource if resource is not None else {}
        self.scope = scope
        self.depends = depends
        """Span ids this span waited for (its ``depends`` links), as a tuple."""
        self._shown = shown
        self.state = ""
        """``running`` or ``gone`` for a start record (``with_running``), else empty."""

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def shown(self) -> tuple:
        """(exit status, ``key=value`` words of KEY_ATTRIBUTES, command) as text: what a
        terminal row shows; from the index, or worked out from the attributes."""
        if self._shown is None:
            self._shown = shown_of(self.attributes)
        return self._shown

    @classmethod
    def from_record(cls, record: dict) -> "Span":
        """A Span from a span record (``delivery.span.new_record``)."""
        links = tuple(record.get("links") or ())
        return cls(trace_id=record["trace_id"], span_id=record["span_id"],
                   parent_id=record["parent_span_id"], name=_text(record["name"]),
                   service=_text(record["resource"].get("service.name", "")),
                   start_ns=_time(record["start_ns"]), end_ns=_time(record["end_ns"]),
                   status=_int(record["status_code"]), status_message=_text(
                       record["status_message"]), kind=_int(record["kind"]),
                   attributes=record["attributes"], events=tuple(record["events"]),
                   links=links, resource=record["resource"], scope=_text(record["scope"]),
                   depends=_depends(links))


def _word(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_word(v) for v in value) + "]"
    return str(value)


def shown_of(attributes: dict) -> tuple:
    """``Span.shown`` from attribute values."""
    exit_text = ""
    for key in EXIT_ATTRIBUTES:
        if key in attributes:
            exit_text = _word(attributes[key])
            break
    words = " ".join("%s=%s" % (k, _word(attributes[k])) for k in KEY_ATTRIBUTES
                     if k in attributes)
    args = attributes.get(COMMAND)
    command = ""
    if isinstance(args, list) and args:
        command = str(args[2]) if len(args) >= 3 and args[1] == "-c" else " ".join(
            str(a) for a in args)
    return exit_text, words, command


def row_of(trace_id: str, item: dict, service: str) -> tuple:
    """What the index keeps of an OTLP/JSON span for viewers (``Span.from_row`` reads it):
    (trace id, span id, parent id, name, service, start, end, status, exit, words, command,
    depends as space-separated span ids)."""
    parent = item.get("parentSpanId") or ""
    if parent and (parent.__class__ is not str or len(parent) != 16
                   or not _HEX.issuperset(parent)):
        parent = _id(parent, 16)
    name = item.get("name")
    links = item.get("links")
    exit_text, words, command = shown_of(attributes_of(item.get("attributes"), SHOWN_KEYS))
    return (trace_id, _id(item.get("spanId"), 16), parent,
            name if name.__class__ is str else _text(name), service,
            _time(item.get("startTimeUnixNano")), _time(item.get("endTimeUnixNano")),
            _otlp.status_code(item), exit_text, words, command,
            " ".join(_depends(_links(links))) if links else "")


def load_rows(home: str, trace_id: str) -> list:
    """The spans of a stored trace from the index: what ``show`` draws, without parsing
    the stored lines (no attributes beyond ``shown``, no events, no details)."""
    import gc
    from . import local
    collecting = gc.isenabled()
    gc.disable()
    db = local.index(home)
    try:
        rows = db.execute("SELECT trace_id, span_id, parent_id, name, service, start_ns, "
                          "end_ns, status, exit, words, command, depends FROM spans "
                          "WHERE trace_id = ?", (trace_id,)).fetchall()
        intern = sys.intern
        return [Span(row[0], row[1], row[2], intern(row[3]), intern(row[4]), row[5], row[6],
                     row[7], depends=tuple(row[11].split()) if row[11] else (),
                     shown=(row[8], row[9], row[10])) for row in rows]
    finally:
        db.close()
        if collecting:
            gc.enable()


def as_spans(items) -> list:
    """Spans from Spans or span records, so renderers take either."""
    return [s if isinstance(s, Span) else Span.from_record(s) for s in items]


def _int(value) -> int:
    return _otlp.as_int(value)


def _time(value) -> int:
    if value.__class__ is str and len(value) < 20 and value.isascii() and value.isdigit():
        return int(value)  # the common case: OTLP/JSON writes times as decimal strings
    return min(_otlp.as_int(value), MAX_NS)


def _text(value) -> str:
    return _otlp.as_text(value)


def _depends(links) -> tuple:
    return tuple(link["span_id"] for link in links
                 if isinstance(link, dict) and isinstance(link.get("attributes"), dict)
                 and link["attributes"].get(LINK_TYPE) == DEPENDS
                 and isinstance(link.get("span_id"), str))


def _events(items) -> tuple:
    return tuple({"name": _text(e.get("name")), "time_ns": _time(e.get("timeUnixNano")),
                  "attributes": attributes_of(e.get("attributes"))}
                 for e in (items if isinstance(items, list) else ()) if isinstance(e, dict))


def _links(items) -> tuple:
    return tuple({"trace_id": _otlp.as_text(link.get("traceId")).lower(),
                  "span_id": _otlp.as_text(link.get("spanId")).lower(),
                  "trace_state": _text(link.get("traceState")),
                  "attributes": attributes_of(link.get("attributes"))}
                 for link in (items if isinstance(items, list) else ())
                 if isinstance(link, dict))


_HEX = frozenset("0123456789abcdef")


def _id(value, length: int) -> str:
    """A lowercase hex id; base64 ids (some protobuf-JSON mappers) are converted."""
    if value.__class__ is str and len(value) == length and _HEX.issuperset(value):
        return value  # the common case, first and cheap
    from ..delivery.span import _hex_id
    if not isinstance(value, str) or not value:
        return ""
    try:
        found = _hex_id(value, length)
    except (ValueError, TypeError):
        return ""
    return found if isinstance(found, str) else ""


# --- loading ----------------------------------------------------------------------

def spans_from_documents(documents, trace_id: str, *, keep=None, details: bool = True) -> list:
    """Lean spans of ``trace_id`` from OTLP/JSON documents, each span once.

    ``keep``: the attribute keys to keep (None keeps all).  Without
    ``details``, events, links other than ``depends``, and resources beyond
    the service name are dropped: what a terminal view needs.
    """
    spans, seen = [], {}  # span id: its place in spans
    intern = sys.intern
    hexdigits = _HEX
    for document in documents:
        for resource_spans in _list(document.get("resourceSpans")):
            resource = resource_spans.get("resource")
            resource_items = resource.get("attributes") if isinstance(resource, dict) else None
            resource_attrs = attributes_of(resource_items) if details else None
            service = intern(_otlp.service_of(resource_items))
            for scope_spans in _list(resource_spans.get("scopeSpans")):
                scope = scope_spans.get("scope")
                scope_name = intern(_text(scope.get("name"))) if isinstance(scope, dict) \
                    else ""
                for item in _list(scope_spans.get("spans")):
                    span_id = item.get("spanId")
                    if span_id.__class__ is not str or len(span_id) != 16 \
                            or not hexdigits.issuperset(span_id):
                        span_id = _id(span_id, 16)
                    if span_id in seen:
                        # a start record (no end) gives way to the finished span
                        if not _time(item.get("endTimeUnixNano")) \
                                or spans[seen[span_id]].end_ns:
                            continue
                        replaced = seen[span_id]
                    else:
                        replaced = None
                    found = item.get("traceId")
                    if found != trace_id and _id(found, 32) != trace_id:
                        continue
                    seen[span_id] = len(spans)
                    status = item.get("status")
                    if status.__class__ is dict:
                        code = status.get("code", 0)
                        code = code if code.__class__ is int else _int(code)
                        message = status.get("message", "")
                        message = message if message.__class__ is str else _text(message)
                    else:
                        code, message = 0, ""
                    links = _links(item.get("links")) if item.get("links") else ()
                    name = item.get("name")
                    kind = item.get("kind", 0)
                    parent = item.get("parentSpanId") or ""
                    if parent and (parent.__class__ is not str or len(parent) != 16
                                   or not hexdigits.issuperset(parent)):
                        parent = _id(parent, 16)
                    spans.append(Span(
                        trace_id, span_id, parent,
                        intern(name) if name.__class__ is str else _text(name), service,
                        _time(item.get("startTimeUnixNano")),
                        _time(item.get("endTimeUnixNano")),
                        code, message, kind if kind.__class__ is int else _int(kind),
                        attributes_of(item.get("attributes"), keep),
                        _events(item.get("events")) if details else (),
                        links if details else (), resource_attrs, scope_name,
                        _depends(links) if links else ()))
                    if replaced is not None:
                        spans[replaced] = spans.pop()
                        seen[span_id] = replaced
    return spans


def _list(value) -> list:
    return [v for v in value if v.__class__ is dict] if value.__class__ is list else []


def _documents(lines):
    for line in lines:
        try:
            document = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(document, dict):
            yield document


def load(home: str, trace_id: str, *, keep=None, details: bool = True) -> list:
    """The spans of a stored trace, one stored line parsed at a time."""
    import gc
    from . import local
    collecting = gc.isenabled()
    gc.disable()  # spans hold no cycles; a full collection per batch of objects cost seconds
    try:
        return spans_from_documents(_documents(local.raw_lines(home, trace_id)), trace_id,
                                    keep=keep, details=details)
    finally:
        if collecting:
            gc.enable()


# --- running spans ----------------------------------------------------------------

def running_in(db, trace_ids) -> dict:
    """{trace id: span ids without an end (start records)} among ``trace_ids``."""
    found: dict = {}
    ids = list(trace_ids)
    for at in range(0, len(ids), 500):
        chunk = ids[at:at + 500]
        for trace_id, span_id in db.execute(
                "SELECT trace_id, span_id FROM spans WHERE end_ns = 0 AND trace_id IN (%s)"
                % ",".join("?" * len(chunk)), chunk):
            found.setdefault(trace_id, []).append(span_id)
    return found


def states_of(home: str, trace_id: str, span_ids) -> dict:
    """{span id: ``running`` or ``gone``} for start records of ``trace_id``, from their
    attributes (``delivery.running.state``), parsing only the lines that mention them."""
    from ..delivery import running
    from . import local
    wanted = set(span_ids)
    if not wanted:
        return {}
    needles = [('"%s"' % s).encode() for s in wanted]
    lines = [line for line in local.raw_lines(home, trace_id)
             if any(needle in line for needle in needles)]
    states = {}
    for item in spans_from_documents(_documents(lines), trace_id, keep=None, details=False):
        if item.span_id in wanted:
            states[item.span_id] = running.state(item.attributes, item.end_ns)
    return {k: v for k, v in states.items() if v != running.ENDED}


def with_running(spans, states: dict, now_ns: int) -> list:
    """``spans`` with each start record marked: a running one ends, for drawing, now;
    one whose process is gone ends where it started (its length is unknown, never made
    up: viewers say so)."""
    for item in spans:
        state = states.get(item.span_id)
        if state is not None and not item.end_ns:
            item.state = state
            item.end_ns = max(item.start_ns, now_ns) if state == "running" else item.start_ns
    return spans


# --- the tree ---------------------------------------------------------------------

def _by_start(item: Span):
    return (item.start_ns, item.end_ns, item.name, item.span_id)


def roots_of(spans) -> list:
    """Spans whose parent is not in the trace, earliest first."""
    ids = {s.span_id for s in spans}
    return sorted((s for s in spans if s.parent_id not in ids or s.parent_id == s.span_id),
                  key=_by_start)


def children_of(spans) -> dict:
    """{span id: its children, earliest first}; a span is never its own child."""
    children: dict = {}
    for item in spans:
        if item.parent_id != item.span_id:
            children.setdefault(item.parent_id, []).append(item)
    for group in children.values():
        group.sort(key=_by_start)
    return children


def tree_order(spans, children=None) -> list:
    """(depth, is last child, span) in display order: depth first, children by start.

    Spans caught in a parent cycle are never reached from a root; the
    earliest of them is shown as a root, so every span appears exactly once.
    """
    children = children_of(spans) if children is None else children
    rows, seen = [], set()
    pending = roots_of(spans)
    leftovers, next_leftover = None, 0
    while True:
        stack = [(s, 0, True) for s in reversed(pending)]
        while stack:
            item, depth, last = stack.pop()
            if item.span_id in seen:
                continue
            seen.add(item.span_id)
            rows.append((depth, last, item))
            kids = [k for k in children.get(item.span_id, ()) if k.span_id not in seen]
            for position in range(len(kids) - 1, -1, -1):
                stack.append((kids[position], depth + 1, position == len(kids) - 1))
        if len(seen) == len(spans):
            return rows
        if leftovers is None:
            leftovers = sorted(spans, key=_by_start)
        while next_leftover < len(leftovers) and leftovers[next_leftover].span_id in seen:
            next_leftover += 1
        if next_leftover == len(leftovers):
            return rows
        pending = [leftovers[next_leftover]]
