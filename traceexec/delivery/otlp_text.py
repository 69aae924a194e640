"""The OTLP/JSON text of span records, written out directly.

``text(records)`` is ``span.dumps(span.to_otlp_json(records))`` as the json module
writes it (compact, ASCII), byte for byte, without the nested dicts in between: a
DAG step's span record has some twenty attributes, and building their dicts and
walking them again cost the driver about as much as the rest of the record's way
to the store.  It uses the json module's C encoder for strings (``_json``: no ``re``), so
it serves the DAG driver, which loads it (``delivery.incoming`` keeps ``span.dumps`` for a
wrapper's few records).

    text([record])  # '{"resourceSpans":[{"resource":{"attributes":[...]},...}]}'
"""
from __future__ import annotations

from _json import encode_basestring_ascii  # json.dumps' own, without json (it imports re)

from . import span
from ..jsontext import dumps, float_text as _float


def text(records) -> str:
    """``span.dumps(span.to_otlp_json(records))``."""
    return _WRITER.document(records)


def span_text(record) -> str:
    """The JSON of one span record, as ``text`` writes it among the others."""
    return _WRITER.span(record)


def attributes_text(attributes) -> str:
    """The JSON of a record's attributes (a list of key-value objects)."""
    return _WRITER.attributes(attributes)


def spans_document(resource, scope, version) -> tuple:
    """(head, tail): ``text(records)`` is ``head + ",".join(map(span_text, records)) +
    tail`` for records of one ``resource`` dict (or equal plain ones), ``scope`` and its
    ``version`` (the spans of a DAG run's steps)."""
    return ('{"resourceSpans":[' + _WRITER.resource_head(resource)
            + _WRITER.scope_head(scope, version), "]}]}]}")


PAIRS_KEPT = 4096
"""How many (key, text value) attributes keep their JSON: a DAG run's records repeat most
of theirs (the DAG's name and run id, the step's program and directory, its status)."""
PAIR_SIZE = 256
"""Longer text values are written out each time (the kept pairs stay under ~2 MB)."""
_PAIRS: dict = {}
_KEYS: dict = {}
"""Attribute key -> the text before its value (``{"key":"...","value":``), as many as pairs."""
_NUMBERS: dict = {}
"""(key, int value) -> its attribute's JSON (a step's exit code, its attempt's number)."""
ARRAY_KEPT = 16
"""Lists of at most this many strings keep their JSON, by key and contents (``_ARRAYS``),
when it is at most ARRAY_SIZE long (the kept arrays stay under ~10 MB)."""
ARRAY_SIZE = 1024
_ARRAYS: dict = {}
"""(key, tuple of str) -> the attribute's JSON: a DAG's steps repeat their command lines."""


def _string_array(arrays, key, value, string):
    """The JSON of attribute ``key``, a list of plain strings, kept in ``arrays``; None for
    a list with anything else in it (written as before)."""
    try:
        items = tuple(value)
        text = arrays.get((key, items))
    except TypeError:  # something unhashable in it
        return None
    if text is None:
        for item in items:
            if type(item) is not str:
                return None
        text = '{"key":%s,"value":{"arrayValue":{"values":[%s]}}}' % (string(key), ",".join(
            ['{"stringValue":' + string(item) + "}" for item in items]))
        if len(text) <= ARRAY_SIZE:
            if len(arrays) >= PAIRS_KEPT:
                arrays.clear()
            arrays[(key, items)] = text
    return text



class _Writer:
    __slots__ = ("string", "other")

    def __init__(self):
        self.string = encode_basestring_ascii  # what dumps uses for a str
        self.other = dumps  # anything but the common kinds: json.dumps' text

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
        string, pairs, keys, numbers, arrays = self.string, _PAIRS, _KEYS, _NUMBERS, _ARRAYS
        parts = []
        append = parts.append
        for key, value in attributes.items():  # a loop, the common kinds inline: the hot spot
            kind = type(value)
            if type(key) is str:
                if kind is str and len(value) <= PAIR_SIZE:
                    text = pairs.get((key, value))
                    if text is None:
                        text = '{"key":%s,"value":{"stringValue":%s}}' % (string(key),
                                                                         string(value))
                        if len(pairs) >= PAIRS_KEPT:
                            pairs.clear()
                        pairs[(key, value)] = text
                    append(text)
                    continue
                if kind is int:  # int values only, in a table of their own: 1 == True == 1.0
                    text = numbers.get((key, value))
                    if text is None:
                        text = '{"key":%s,"value":{"intValue":"%s"}}' % (
                            string(key), int.__repr__(value))
                        if len(numbers) >= PAIRS_KEPT:
                            numbers.clear()
                        numbers[(key, value)] = text
                    append(text)
                    continue
                if kind is list and len(value) <= ARRAY_KEPT:  # a command line, say
                    text = _string_array(arrays, key, value, string)
                    if text is not None:
                        append(text)
                        continue
                head = keys.get(key)
                if head is None:
                    head = '{"key":' + string(key) + ',"value":'
                    if len(keys) >= PAIRS_KEPT:
                        keys.clear()
                    keys[key] = head
            else:
                head = '{"key":' + self.other(key) + ',"value":'
            if kind is int:
                append(head + '{"intValue":"' + int.__repr__(value) + '"}}')
            elif kind is str:
                append(head + '{"stringValue":' + string(value) + '}}')
            elif kind is float:  # a finite one by float's repr at once, as _float would
                append(head + '{"doubleValue":' + (float.__repr__(value) if _LOWEST <= value
                                                    <= _HIGHEST else _float(value)) + '}}')
            else:
                append(head + self.any_value(value) + "}")
        return "[" + ",".join(parts) + "]"

    def span(self, record) -> str:
        """``span._span_json(record)``'s JSON (its keys in the same order)."""
        string, value = self.string, self.value
        code, message = record["status_code"], record["status_message"]
        status = '{"code":' + (int.__repr__(code) if type(code) is int else value(code))
        if message:
            status += ',"message":' + value(message)
        trace_id, span_id, name = record["trace_id"], record["span_id"], record["name"]
        kind, start, end = record["kind"], record["start_ns"], record["end_ns"]
        flags = 0x100 | (record.get("flags", 1) & 0xFF)
        text = ('{"traceId":%s,"spanId":%s,"name":%s,"kind":%s,"startTimeUnixNano":%s,'
                '"endTimeUnixNano":%s,"attributes":%s,"status":%s},"flags":%s') % (
            string(trace_id) if type(trace_id) is str else value(trace_id),
            string(span_id) if type(span_id) is str else value(span_id),
            string(name) if type(name) is str else value(name),
            int.__repr__(kind) if type(kind) is int else value(kind),
            '"%d"' % start if type(start) is int else string(str(start)),
            '"%d"' % end if type(end) is int else string(str(end)),
            self.attributes(record["attributes"]), status,
            int.__repr__(flags) if type(flags) is int else value(flags))
        parts = [text]
        parent = record["parent_span_id"]
        if parent:
            parts.append(',"parentSpanId":' + (string(parent) if type(parent) is str
                                                 else value(parent)))
        if record.get("trace_state"):
            parts += [',"traceState":', value(record["trace_state"])]
        events = record["events"]
        if events:
            opening = ',"events":[{"timeUnixNano":'
            for e in events:  # a loop: a generator's resumptions cost more (a step has one)
                name = e["name"]
                parts.append(opening + string(str(e["time_ns"])) + ',"name":'
                             + (string(name) if type(name) is str else value(name))
                             + ',"attributes":' + self.attributes(e.get("attributes", {})) + "}")
                opening = ',{"timeUnixNano":'
            parts.append("]")
        if record.get("links"):
            parts += [',"links":[', ",".join(self.link(link) for link in record["links"]), "]"]
        parts.append("}")
        return "".join(parts)

    def link(self, link) -> str:
        string, value = self.string, self.value
        trace_id, span_id = link["trace_id"], link["span_id"]
        item = ('{"traceId":' + (string(trace_id) if type(trace_id) is str else value(trace_id))
                + ',"spanId":' + (string(span_id) if type(span_id) is str else value(span_id))
                + ',"attributes":' + self.attributes(link.get("attributes") or {}))
        if link.get("trace_state"):
            item += ',"traceState":' + value(link["trace_state"])
        return item + "}"

    def document(self, records) -> str:
        """``span.to_otlp_json(records)``'s JSON."""
        parts = ['{"resourceSpans":[']  # joined once: a batch's text is copied once
        append = parts.append
        for resource_attrs, scopes in _grouped(records, self.span):
            if len(parts) > 1:
                append(",")
            append(self.resource_head(resource_attrs))
            first = True
            for (name, version), spans in scopes.items():
                append(self.scope_head(name, version, first))
                first = False
                append(",".join(spans))
                append("]}")
            append("]}")
        append("]}")
        return "".join(parts)

    def resource_head(self, resource_attrs) -> str:
        return '{"resource":{"attributes":' + self.attributes(resource_attrs) + '},"scopeSpans":['

    def scope_head(self, name, version, first=True) -> str:
        scope = '{"name":' + self.value(name)
        if version:
            scope += ',"version":' + self.value(version)
        return ('{"scope":' if first else ',{"scope":') + scope + '},"spans":['


_WRITER = _Writer()


def _grouped(records, span_form) -> list:
    """``span.grouped(records, span_form)``: records whose resources are one dict, or equal
    dicts of plain strings (each record carries its own copy of the run's), are one group
    without working out each record's sorted key of ``repr``s."""
    if not records:
        return []
    resource = records[0]["resource"]
    plain = None  # the first resource holds only str values: equal means the same key
    for record in records:
        other = record["resource"]
        if other is resource:
            continue
        if plain is None:
            plain = set(map(type, resource.values())) <= _STR
        if not (plain and other == resource and set(map(type, other.values())) <= _STR):
            return span.grouped(records, span_form)
    scopes: dict = {}
    for record in records:
        scopes.setdefault((record.get("scope", span.SCOPE), record.get("scope_version", "")),
                          []).append(span_form(record))
    return [(resource, scopes)]


_STR = frozenset((str,))
_HIGHEST = float.fromhex("0x1.fffffffffffffp+1023")
_LOWEST = -_HIGHEST
"""The finite floats lie between these (NaN compares false, the infinities fall outside)."""
