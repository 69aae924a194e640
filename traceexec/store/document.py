"""``show --json``: a trace's stored lines as one OTLP/JSON document, written in pieces.

The document is the one ``span.to_otlp_json(store.read(...))`` makes, byte for byte,
without its intermediate forms.  A stored span already in the normalised form
``to_otlp_json`` gives (hex ids, numbers as the specification writes them, attributes
once per key: what traceexec writes) is recognised in its text and spliced as it is
(``canonical``); any other goes straight from its parsed OTLP/JSON to that form and is
encoded at once.  So a 100,000-span trace is held as its spans' texts only, not as parsed
documents, span records and the output's objects all at the same time.  Over
SPLIT_ABOVE_BYTES of stored lines, a forked child reads the last three fifths while this
process reads the first.

    >>> pieces = []
    >>> write_document(home, trace_id, pieces.append)  # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import re

from ..delivery import span as _span, spool as _spool
from . import canonical, local as store

_HEX = {16: re.compile(r"[0-9a-f]{16}").fullmatch, 32: re.compile(r"[0-9a-f]{32}").fullmatch}
PIECE_BYTES = 1 << 20
"""The output is handed to ``write`` in pieces of about this many characters."""
_SPANS_A_JOIN = 256  # spans joined at once: few Python steps, pieces near PIECE_BYTES


def _hex_id(value, length: int) -> str:
    """``span._hex_id``, with the common case (already lowercase hex) first."""
    if type(value) is str and _HEX[length](value):
        return value
    return _span._hex_id(value, length)


_SCALARS = {"stringValue": str, "boolValue": bool, "doubleValue": float}


def _is_normal(value) -> bool:
    """Whether an AnyValue is already as ``to_otlp_json`` writes it."""
    if type(value) is not dict or len(value) != 1:
        return False
    for kind, inner in value.items():
        if _SCALARS.get(kind) is type(inner):
            return True
        if kind == "intValue":
            return type(inner) is str and inner.isascii() and str(int(inner)) == inner
        if kind == "arrayValue":
            return type(inner) is dict and len(inner) == 1 and type(
                inner.get("values")) is list and all(_is_normal(v) for v in inner["values"])
    return False


def _value(value):
    """``_any_value(_from_any_value(value))``: an AnyValue as ``to_otlp_json`` writes it;
    ``value`` itself when it is written so already (most are)."""
    if _is_normal(value):
        return value
    return _span._any_value(_span._from_any_value(value))


def attributes(items) -> list:
    """Attributes as ``to_otlp_json`` writes them: one per key (the last value, at the
    key's first place), each value normalised; ``items`` itself when they are so already."""
    if not items:
        return []
    if type(items) is list:
        keys = set()
        for item in items:
            if type(item) is not dict or len(item) != 2 or next(iter(item)) != "key":
                break
            value = item.get("value")
            if not (type(value) is dict and len(value) == 1 and type(
                    value.get("stringValue")) is str) and not _is_normal(value):
                break
            key = item["key"]
            if key in keys:
                break
            keys.add(key)
        else:
            return items
    kept = {}
    for item in items:
        kept[item["key"]] = item.get("value", {})
    return [{"key": key, "value": _value(value)} for key, value in kept.items()]


def normal_span(item: dict, trace_id: str, span_id: str) -> dict:
    """``_span_json(record)`` of the record ``from_otlp_json`` reads from ``item``, for a
    span whose ids are ``trace_id`` and ``span_id``."""
    status = item.get("status") or {}
    out = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": item.get("name", ""),
        "kind": int(item.get("kind", 0)),
        "startTimeUnixNano": str(int(item.get("startTimeUnixNano", 0))),
        "endTimeUnixNano": str(int(item.get("endTimeUnixNano", 0))),
        "attributes": attributes(item.get("attributes")),
        "status": {"code": int(status.get("code", 0))},
        "flags": 0x100 | (int(item.get("flags", 0x101)) & 0xFF),
    }
    parent = _hex_id(item.get("parentSpanId"), 16)
    if parent:
        out["parentSpanId"] = parent
    if item.get("traceState", ""):
        out["traceState"] = item["traceState"]
    if status.get("message", ""):
        out["status"]["message"] = status["message"]
    events = item.get("events", [])
    if events:
        out["events"] = [{"timeUnixNano": str(int(e.get("timeUnixNano", 0))),
                          "name": e.get("name", ""),
                          "attributes": attributes(e.get("attributes"))} for e in events]
    links = item.get("links", [])
    if links:
        out["links"] = [_link(link) for link in links]
    return out


def _link(link: dict) -> dict:
    out = {"traceId": _hex_id(link.get("traceId"), 32),
           "spanId": _hex_id(link.get("spanId"), 16),
           "attributes": attributes(link.get("attributes"))}
    if link.get("traceState", ""):
        out["traceState"] = link["traceState"]
    return out


def _resource_key(resource_spans: dict) -> tuple:
    """(the resource's key, its attributes): spans group by the key."""
    resource = _span._attributes_from_json(
        (resource_spans.get("resource") or {}).get("attributes"))
    return tuple(sorted((k, repr(v)) for k, v in resource.items())), resource


def _scope_key(scope_spans: dict) -> tuple:
    scope = scope_spans.get("scope") or {}
    return scope.get("name", ""), scope.get("version", "")


def _parsed(item: dict, trace_id: str, key, scope_key):
    """``_spans_of``'s tuple of a parsed span; None for a span of another trace."""
    if _hex_id(item.get("traceId"), 32) != trace_id:
        return None
    span_id = _hex_id(item.get("spanId"), 16)
    return (span_id, bool(int(item.get("endTimeUnixNano", 0))), key, scope_key,
            _ENCODE(normal_span(item, trace_id, span_id)))


def _spans_of(line: bytes, trace_id: str) -> list:
    """(span id, whether it ended, resource key, scope key, encoded normal span) of each
    span of the trace in one stored line, in order."""
    found = _spliced(line, trace_id)
    if found is not None:
        return found
    try:
        document = json.loads(line)
    except ValueError:
        return []  # the index points only at lines that were read whole
    found = []
    for resource_spans in document.get("resourceSpans", []) or []:
        key = _resource_key(resource_spans)
        for scope_spans in resource_spans.get("scopeSpans", []) or []:
            scope_key = _scope_key(scope_spans)
            for item in scope_spans.get("spans", []) or []:
                one = _parsed(item, trace_id, key, scope_key)
                if one is not None:
                    found.append(one)
    return found


_SCAN = json.JSONDecoder().scan_once


def _next(text: str, at: int) -> tuple:
    """(whether another item of a list follows, where it starts), after an item."""
    return (True, at + 1) if text[at] == "," else (False, at)


def _closed(text: str, at: int) -> int:
    """Where the text goes on after the "]}" that ends a list and its object at ``at``;
    ValueError when it does not end there."""
    if not text.startswith("]}", at):
        raise ValueError("not laid out as traceexec writes lines")
    return at + 2


def _member(text: str, at: int, opening: str, closing: str) -> tuple:
    """(the object after ``opening`` at ``at``, where the text goes on after the
    ``closing`` that follows it); ValueError when the text is not so."""
    if not text.startswith(opening, at):
        raise ValueError("not laid out as traceexec writes lines")
    value, at = _SCAN(text, at + len(opening))
    if type(value) is not dict or not text.startswith(closing, at):
        raise ValueError("not laid out as traceexec writes lines")
    return value, at + len(closing)


def _spliced(line: bytes, trace_id: str):
    """``_spans_of`` a line laid out as traceexec writes lines, each span in normal form
    kept as its stored text (``canonical``), any other span parsed; None for a line laid
    out otherwise, or not JSON, which is then parsed whole."""
    try:
        text = line.decode("utf-8", "surrogatepass").rstrip("\r\n")
        if not text.startswith('{"resourceSpans":['):
            return None
        found, at = [], 18
        more = text[at] != "]"
        while more:  # each ResourceSpans
            resource, at = _member(text, at, '{"resource":', ',"scopeSpans":[')
            key = _resource_key({"resource": resource})
            more = text[at] != "]"
            while more:  # each ScopeSpans
                scope, at = _member(text, at, '{"scope":', ',"spans":[')
                scope_key = _scope_key({"scope": scope})
                more = text[at] != "]"
                while more:  # each span
                    match = canonical.SPAN(text, at)
                    if canonical.is_spliceable(match):
                        if match.group(1) == trace_id:
                            found.append((match.group(2), match.group(3) != "0", key,
                                          scope_key, match.group()))
                        at = match.end()
                    else:
                        item, at = _SCAN(text, at)
                        if type(item) is not dict:
                            return None
                        one = _parsed(item, trace_id, key, scope_key)
                        if one is not None:
                            found.append(one)
                    more, at = _next(text, at)
                more, at = _next(text, _closed(text, at))
            more, at = _next(text, _closed(text, at))
        return found if _closed(text, at) == len(text) else None
    except Exception:  # noqa: BLE001 - whatever it is, the whole line's parse decides
        return None


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
SPLIT_ABOVE_BYTES = 8 << 20
"""Stored lines of more bytes than this are read by two processes: this one the first
two fifths (it also started and will write), a forked child the rest."""


def _answer(answers) -> list:
    """The child's next answer: its size (8 bytes) then its ``marshal`` form, read and
    loaded whole (``marshal.load`` from the stream reads it piece by piece: ten times the
    CPU, 0.21 s against 0.02 s for 51,200 spans); EOFError when the child said no more."""
    import marshal
    head = answers.read(8)
    size = int.from_bytes(head, "little")
    answer = answers.read(size) if len(head) == 8 else b""
    if len(answer) != size or not answer:
        raise EOFError("the child ended early")
    return marshal.loads(answer)


def _in_two(lines: list, trace_id: str):
    """``_spans_of`` each line, in order: the last three fifths worked out by a forked
    child (on another core) while this process does the first lines, its results streamed
    back in ``marshal``'s form.  Where the child cannot start or fails, this process does
    all."""
    import marshal
    half = len(lines) * 2 // 5  # this process also started, and goes on to write
    try:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
    except OSError:
        pid = None
    if pid == 0:  # the child: never back into the caller's code
        status = 1
        try:
            os.close(read_fd)
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as out:
                for index in range(half, len(lines)):
                    answer = marshal.dumps(_spans_of(lines[index], trace_id))
                    out.write(len(answer).to_bytes(8, "little"))
                    out.write(answer)
            status = 0
        finally:
            os._exit(status)
    if pid is None:
        for line in lines:
            yield from _spans_of(line, trace_id)
        return
    os.close(write_fd)
    rest = lines[half:]
    del lines[half:]
    answers = os.fdopen(read_fd, "rb", buffering=1 << 20)
    received = 0
    try:
        for index, line in enumerate(lines):
            lines[index] = None
            yield from _spans_of(line, trace_id)
        try:
            while received < len(rest):
                found = _answer(answers)
                rest[received] = None
                received += 1
                yield from found
        except (EOFError, ValueError, TypeError):
            pass  # the child failed: the rest is done here
    finally:
        answers.close()  # a child still writing gets EPIPE, never waits for ever
        os.waitpid(pid, 0)
    for line in rest[received:]:
        yield from _spans_of(line, trace_id)


def _entries(lines, trace_id: str) -> list:
    """The trace's spans in ``store.read``'s order and with its choices: a span delivered
    twice appears once, and a start record (no end) gives way to the finished span."""
    lines = list(lines)
    if sum(len(line) for line in lines) > SPLIT_ABOVE_BYTES and len(lines) > 1 \
            and _spool._is_single_threaded():  # forking a threaded process is unsafe
        found = _in_two(lines, trace_id)
    else:
        found = (item for line in lines for item in _spans_of(line, trace_id))
    found = list(found)
    if len({entry[0] for entry in found}) == len(found):
        return found  # each span once: the common case, and the one to make fast
    entries: list = []  # _spans_of's tuples
    seen: dict = {}
    for entry in found:
        at = seen.get(entry[0])
        if at is None:
            seen[entry[0]] = len(entries)
            entries.append(entry)
        elif entry[1] and not entries[at][1]:
            entries[at] = entry
    return entries


def write_document(home: str, trace_id: str, write) -> None:
    """Hand the trace's OTLP/JSON document (``span.to_otlp_json`` of ``store.read``) to
    ``write`` in pieces; UnknownTrace when the store has no such trace."""
    entries = _entries(store.raw_lines(home, trace_id), trace_id)
    groups: dict = {}  # resource key -> scope key -> the entries' texts, in first-seen order
    resources: dict = {}  # resource key -> the attributes of the first span with it
    for _, _, (key, attributes_of), scope_key, text in entries:
        resources.setdefault(key, attributes_of)
        groups.setdefault(key, {}).setdefault(scope_key, []).append(text)
    del entries
    encode = json.JSONEncoder(separators=(",", ":")).encode
    pieces, size = ['{"resourceSpans":['], 0
    for number, (key, scopes) in enumerate(groups.items()):
        pieces.append('%s{"resource":{"attributes":%s},"scopeSpans":[' % (
            "," if number else "", encode(_span._attributes_json(resources[key]))))
        for count, ((name, version), texts) in enumerate(scopes.items()):
            scope = {"name": name, "version": version} if version else {"name": name}
            pieces.append('%s{"scope":%s,"spans":[' % ("," if count else "", encode(scope)))
            for start in range(0, len(texts), _SPANS_A_JOIN):
                if start:
                    pieces.append(",")
                pieces.append(",".join(texts[start:start + _SPANS_A_JOIN]))
                size += len(pieces[-1])
                if size >= PIECE_BYTES:
                    write("".join(pieces))
                    pieces, size = [], 0
            texts.clear()
            pieces.append("]}")
        pieces.append("]}")
    pieces.append("]}")
    write("".join(pieces))
