"""``show --json``: a trace's stored lines as one OTLP/JSON document, written in pieces.

The document is the one ``span.to_otlp_json(store.read(...))`` makes, byte for byte,
without its intermediate forms: each stored span goes straight from its parsed
OTLP/JSON to the normalised form ``to_otlp_json`` gives it (hex ids, numbers as the
specification writes them, attributes once per key) and is encoded at once, so a
100,000-span trace is held as its encoded spans only, not as parsed documents, span
records and the output's objects all at the same time.

    >>> pieces = []
    >>> write_document(home, trace_id, pieces.append)  # doctest: +SKIP
"""
from __future__ import annotations

import json
import re

from ..delivery import span as _span
from . import local as store

_HEX = {16: re.compile(r"[0-9a-f]{16}").fullmatch, 32: re.compile(r"[0-9a-f]{32}").fullmatch}
PIECE_BYTES = 1 << 20
"""The output is handed to ``write`` in pieces of about this many characters."""


def _hex_id(value, length: int) -> str:
    """``span._hex_id``, with the common case (already lowercase hex) first."""
    if type(value) is str and _HEX[length](value):
        return value
    return _span._hex_id(value, length)


def _value(value):
    """``_any_value(_from_any_value(value))``: an AnyValue as ``to_otlp_json`` writes it;
    ``value`` itself when it is written so already (most are)."""
    if type(value) is dict and len(value) == 1:
        kind, inner = next(iter(value.items()))
        if kind == "stringValue" and type(inner) is str \
                or kind == "boolValue" and type(inner) is bool \
                or kind == "doubleValue" and type(inner) is float \
                or kind == "intValue" and type(inner) is str and inner.isascii() \
                and str(int(inner)) == inner:
            return value
    return _span._any_value(_span._from_any_value(value))


def attributes(items) -> list:
    """Attributes as ``to_otlp_json`` writes them: one per key (the last value, at the
    key's first place), each value normalised; ``items`` itself when they are so already."""
    if not items:
        return []
    keys = set()
    for item in items:
        value = item.get("value", {})
        if len(item) != 2 or _value(value) is not value or item["key"] in keys:
            break
        keys.add(item["key"])
    else:
        if type(items) is list and all(next(iter(item)) == "key" for item in items):
            return items
    kept = {}
    for item in items:
        kept[item["key"]] = item.get("value", {})
    return [{"key": key, "value": _value(value)} for key, value in kept.items()]


def normal_span(item: dict, trace_id: str) -> dict:
    """``_span_json(record)`` of the record ``from_otlp_json`` reads from ``item``, for a
    span whose trace id is ``trace_id``."""
    status = item.get("status") or {}
    out = {
        "traceId": trace_id,
        "spanId": _hex_id(item.get("spanId"), 16),
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


class _Entry:
    """One span of the document: its group and its encoded text."""

    __slots__ = ("resource", "scope", "text", "ended")

    def __init__(self, resource, scope, text, ended):
        self.resource, self.scope, self.text, self.ended = resource, scope, text, ended


def _entries(lines, trace_id: str) -> list:
    """The trace's spans in ``store.read``'s order and with its choices: a span delivered
    twice appears once, and a start record (no end) gives way to the finished span."""
    encode = json.JSONEncoder(separators=(",", ":")).encode
    entries: list = []
    seen: dict = {}
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue  # the index points only at lines that were read whole
        for resource_spans in document.get("resourceSpans", []) or []:
            resource = _span._attributes_from_json(
                (resource_spans.get("resource") or {}).get("attributes"))
            key = (tuple(sorted((k, repr(v)) for k, v in resource.items())), resource)
            for scope_spans in resource_spans.get("scopeSpans", []) or []:
                scope = scope_spans.get("scope") or {}
                scope_key = (scope.get("name", ""), scope.get("version", ""))
                for item in scope_spans.get("spans", []) or []:
                    if _hex_id(item.get("traceId"), 32) != trace_id:
                        continue
                    span_id = _hex_id(item.get("spanId"), 16)
                    ended = bool(int(item.get("endTimeUnixNano", 0)))
                    at = seen.get(span_id)
                    if at is not None and (entries[at].ended or not ended):
                        continue
                    entry = _Entry(key, scope_key, encode(normal_span(item, trace_id)), ended)
                    if at is None:
                        seen[span_id] = len(entries)
                        entries.append(entry)
                    else:
                        entries[at] = entry
    return entries


def write_document(home: str, trace_id: str, write) -> None:
    """Hand the trace's OTLP/JSON document (``span.to_otlp_json`` of ``store.read``) to
    ``write`` in pieces; UnknownTrace when the store has no such trace."""
    entries = _entries(store.raw_lines(home, trace_id), trace_id)
    groups: dict = {}  # resource key -> scope key -> the entries' texts, in first-seen order
    resources: dict = {}  # resource key -> the attributes of the first span with it
    for entry in entries:
        key, attributes_of = entry.resource
        resources.setdefault(key, attributes_of)
        groups.setdefault(key, {}).setdefault(entry.scope, []).append(entry.text)
        entry.text = None
    del entries
    encode = json.JSONEncoder(separators=(",", ":")).encode
    pieces, size = ['{"resourceSpans":['], 0
    for number, (key, scopes) in enumerate(groups.items()):
        pieces.append('%s{"resource":{"attributes":%s},"scopeSpans":[' % (
            "," if number else "", encode(_span._attributes_json(resources[key]))))
        for count, ((name, version), texts) in enumerate(scopes.items()):
            scope = {"name": name, "version": version} if version else {"name": name}
            pieces.append('%s{"scope":%s,"spans":[' % ("," if count else "", encode(scope)))
            for index, text in enumerate(texts):
                pieces.append("," + text if index else text)
                size += len(text)
                if size >= PIECE_BYTES:
                    write("".join(pieces))
                    pieces, size = [], 0
            texts.clear()
            pieces.append("]}")
        pieces.append("]}")
    pieces.append("]}")
    write("".join(pieces))
