"""Reading OTLP/JSON leniently: whatever a stored line holds, a typed value, never an
exception.

The store keeps what ``serve`` accepted and what other programs wrote, so a
reader meets non-string names, numbers as strings or as numbers, missing
fields and odd nesting.  These helpers turn each into a plain value.
"""
from __future__ import annotations


def spans_of(document: dict):
    """(resource attributes list, span object) for every span object in a document."""
    resource_spans = document.get("resourceSpans")
    for rs in resource_spans if isinstance(resource_spans, list) else ():
        if not isinstance(rs, dict):
            continue
        resource = rs.get("resource")
        attributes = resource.get("attributes") if isinstance(resource, dict) else None
        scope_spans = rs.get("scopeSpans")
        for ss in scope_spans if isinstance(scope_spans, list) else ():
            spans = ss.get("spans") if isinstance(ss, dict) else None
            for item in spans if isinstance(spans, list) else ():
                if isinstance(item, dict):
                    yield attributes, item


def as_int(value) -> int:
    """An OTLP/JSON integer (a number or a decimal string); 0 when it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) < 40 and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, float) and value == value and abs(value) < 1e30:
        return int(value)
    return 0


def as_text(value) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def status_code(item: dict) -> int:
    status = item.get("status")
    return as_int(status.get("code")) if isinstance(status, dict) else 0


def attribute_pairs(items):
    """(key, value as text) of OTLP/JSON attributes with scalar values."""
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        value = item.get("value")
        if not isinstance(value, dict) or len(value) != 1:
            continue
        kind, raw = next(iter(value.items()))
        if kind in ("stringValue", "intValue", "doubleValue") and isinstance(raw, (str, int, float)):
            yield as_text(item.get("key")), str(raw)
        elif kind == "boolValue" and isinstance(raw, bool):
            yield as_text(item.get("key")), "true" if raw else "false"


def service_of(resource_attributes) -> str:
    for key, value in attribute_pairs(resource_attributes):
        if key == "service.name":
            return value
    return ""


def value_of(value):
    """A Python value of an OTLP/JSON AnyValue: str, int, float, bool, list or dict."""
    if value.__class__ is not dict or not value:
        return None
    for kind, raw in value.items():
        if kind == "stringValue":
            return raw if raw.__class__ is str else as_text(raw)
        if kind == "intValue":
            return _integer(raw)
        if kind == "doubleValue":
            return _float(raw)
        if kind == "boolValue":
            return raw is True
        if kind == "arrayValue":
            values = raw.get("values") if raw.__class__ is dict else None
            if values.__class__ is not list:
                return []
            try:  # most arrays are of strings (command arguments): one step for them all
                strings = [v["stringValue"] for v in values]
                if all(text.__class__ is str for text in strings):
                    return strings
            except (TypeError, KeyError):
                pass
            return [value_of(v) for v in values]
        if kind == "kvlistValue":
            values = raw.get("values") if isinstance(raw, dict) else None
            return attributes_of(values) if isinstance(values, list) else {}
        if kind == "bytesValue":
            return as_text(raw)
    return None


def _integer(raw) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and len(raw) < 40 and raw.isascii() and (
            raw.isdigit() or raw[:1] == "-" and raw[1:].isdigit()):
        return int(raw)
    return 0


def _float(raw) -> float:
    if isinstance(raw, float):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw) if abs(raw) < 2**1000 else 0.0
    if isinstance(raw, str) and raw in ("NaN", "Infinity", "-Infinity"):
        return float(raw.replace("Infinity", "inf"))
    return 0.0


def attributes_of(items, keep=None) -> dict:
    """{key: value} of OTLP/JSON attributes; only the keys in ``keep`` when given."""
    result = {}
    if items.__class__ is not list:
        return result
    for item in items:
        if item.__class__ is not dict:
            continue
        key = item.get("key")
        if keep is not None:
            if key.__class__ is not str or key not in keep:
                continue
        elif key.__class__ is not str:
            key = as_text(key)
        result[key] = value_of(item.get("value"))
    return result
