"""The OTLP/JSON text of span records, written out directly.

``text(records)`` is ``span.dumps(span.to_otlp_json(records))`` as the json module
writes it (compact, ASCII), byte for byte, without the nested dicts in between: a
DAG step's span record has some twenty attributes, and building their dicts and
walking them again cost the driver about as much as the rest of the record's way
to the store.  It uses the json module's encoder for strings, so it serves callers that
have json loaded already (``delivery.incoming`` keeps ``span.dumps`` for a wrapper's few
records).

    text([record])  # '{"resourceSpans":[{"resource":{"attributes":[...]},...}]}'
"""
from __future__ import annotations

import json

from . import span


def text(records) -> str:
    """``span.dumps(span.to_otlp_json(records))``."""
    return _Writer(json).document(records)


PAIRS_KEPT = 4096
"""How many (key, text value) attributes keep their JSON: a DAG run's records repeat most
of theirs (the DAG's name and run id, the step's program and directory, its status)."""
PAIR_SIZE = 256
"""Longer text values are written out each time (the kept pairs stay under ~2 MB)."""
_PAIRS: dict = {}


def _float(value: float) -> str:
    """A float as json writes it (``allow_nan``: NaN and Infinity as words)."""
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


_INFINITY = float("inf")


class _Writer:
    __slots__ = ("string", "other")

    def __init__(self, json):
        self.string = json.encoder.encode_basestring_ascii  # what dumps uses for a str
        self.other = span.dumps  # anything but the common kinds: the json module itself

    def value(self, value) -> str:
        """A JSON value as dumps writes it."""
        kind = type(value)
        if kind is str:
            return self.string(value)
        if kind is int:
            return int.__repr__(value)
        if kind is float:
            return _float(value)
        if kind is bool:
            return "true" if value else "false"
        return self.other(value)  # each call sets the json encoder up again (~4 us)

    def any_value(self, value) -> str:
        """``span._any_value(value)``'s JSON."""
        kind = type(value)
        if kind is str:
            return '{"stringValue":' + self.string(value) + '}'
        if kind is int:
            return '{"intValue":"' + int.__repr__(value) + '"}'
        if kind is float:
            return '{"doubleValue":' + _float(value) + '}'
        if kind is bool:
            return '{"boolValue":true}' if value else '{"boolValue":false}'
        if kind is list or kind is tuple:
            return '{"arrayValue":{"values":[' + ",".join(map(self.any_value, value)) + "]}}"
        return self.other(span._any_value(value))

    def attributes(self, attributes) -> str:
        """``span._attributes_json(attributes)``'s JSON."""
        string = self.string
        parts = []
        for key, value in attributes.items():  # a loop, the common kinds inline: the hot spot
            kind = type(value)
            if kind is str and type(key) is str and len(value) <= PAIR_SIZE:
                pair = (key, value)
                text = _PAIRS.get(pair)
                if text is None:
                    text = '{"key":%s,"value":{"stringValue":%s}}' % (string(key), string(value))
                    if len(_PAIRS) >= PAIRS_KEPT:
                        _PAIRS.clear()
                    _PAIRS[pair] = text
                parts.append(text)
                continue
            if kind is int:
                value = '{"intValue":"' + int.__repr__(value) + '"}'
            else:
                value = self.any_value(value)
            parts.append('{"key":%s,"value":%s}' % (
                string(key) if type(key) is str else self.other(key), value))
        return "[" + ",".join(parts) + "]"

    def span(self, record) -> str:
        """``span._span_json(record)``'s JSON (its keys in the same order)."""
        string, value = self.string, self.value
        status = '{"code":' + value(record["status_code"])
        if record["status_message"]:
            status += ',"message":' + value(record["status_message"])
        parts = ['{"traceId":', value(record["trace_id"]),
                 ',"spanId":', value(record["span_id"]),
                 ',"name":', value(record["name"]),
                 ',"kind":', value(record["kind"]),
                 ',"startTimeUnixNano":', string(str(record["start_ns"])),
                 ',"endTimeUnixNano":', string(str(record["end_ns"])),
                 ',"attributes":', self.attributes(record["attributes"]),
                 ',"status":', status, "}",
                 ',"flags":', value(0x100 | (record.get("flags", 1) & 0xFF))]
        if record["parent_span_id"]:
            parts += [',"parentSpanId":', value(record["parent_span_id"])]
        if record.get("trace_state"):
            parts += [',"traceState":', value(record["trace_state"])]
        if record["events"]:
            parts += [',"events":[', ",".join(
                '{"timeUnixNano":' + string(str(e["time_ns"])) + ',"name":' + value(e["name"])
                + ',"attributes":' + self.attributes(e.get("attributes", {})) + "}"
                for e in record["events"]), "]"]
        if record.get("links"):
            parts += [',"links":[', ",".join(self.link(link) for link in record["links"]), "]"]
        parts.append("}")
        return "".join(parts)

    def link(self, link) -> str:
        value = self.value
        item = ('{"traceId":' + value(link["trace_id"]) + ',"spanId":' + value(link["span_id"])
                + ',"attributes":' + self.attributes(link.get("attributes") or {}))
        if link.get("trace_state"):
            item += ',"traceState":' + value(link["trace_state"])
        return item + "}"

    def document(self, records) -> str:
        """``span.to_otlp_json(records)``'s JSON."""
        value = self.value
        resources = []
        for resource_attrs, scopes in span.grouped(records, self.span):
            scope_spans = []
            for (name, version), spans in scopes.items():
                scope = '{"name":' + value(name)
                if version:
                    scope += ',"version":' + value(version)
                scope_spans.append('{"scope":' + scope + '},"spans":[' + ",".join(spans) + "]}")
            resources.append('{"resource":{"attributes":' + self.attributes(resource_attrs)
                             + '},"scopeSpans":[' + ",".join(scope_spans) + "]}")
        return '{"resourceSpans":[' + ",".join(resources) + "]}"
