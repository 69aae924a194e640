"""Span records read back from their OTLP JSON form (``span.to_otlp_json``'s, or any
OpenTelemetry program's), and ``--attr`` values typed.

Apart from ``span``, whose writing side a wrapper loads for every command: a wrapper
reads no spans back (0.1 M instructions less).  ``span`` finds these names too.
"""

from .span import new_record


def parse_attribute(text: str):
    """Type a command-line attribute value by its form: bool, int, float, else str.

    >>> parse_attribute("42"), parse_attribute("true"), parse_attribute("x")
    (42, True, 'x')
    """
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else text


def _from_any_value(value):
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [_from_any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: _from_any_value(kv.get("value", {}))
                for kv in value["kvlistValue"].get("values", [])}
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _attributes_from_json(items):
    return {item["key"]: _from_any_value(item.get("value", {})) for item in items or []}


def _hex_id(value, length):
    """OTLP JSON ids are hex; tolerate base64 from protobuf-JSON mappers."""
    if not value:
        return ""
    if len(value) == length and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    import base64
    try:
        return base64.b64decode(value).hex()
    except ValueError:
        return value


def from_otlp_json(document: dict) -> list:
    """Span records from an OTLP/JSON ExportTraceServiceRequest."""
    records = []
    for resource_spans in document.get("resourceSpans", []) or []:
        resource = _attributes_from_json(
            (resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans", []) or []:
            scope = scope_spans.get("scope") or {}
            for span in scope_spans.get("spans", []) or []:
                status = span.get("status") or {}
                records.append(new_record(
                    trace_id=_hex_id(span.get("traceId"), 32),
                    span_id=_hex_id(span.get("spanId"), 16),
                    parent_span_id=_hex_id(span.get("parentSpanId"), 16),
                    trace_state=span.get("traceState", ""),
                    flags=int(span.get("flags", 0x101)) & 0xFF,
                    name=span.get("name", ""),
                    kind=int(span.get("kind", 0)),
                    start_ns=int(span.get("startTimeUnixNano", 0)),
                    end_ns=int(span.get("endTimeUnixNano", 0)),
                    attributes=_attributes_from_json(span.get("attributes")),
                    status_code=int(status.get("code", 0)),
                    status_message=status.get("message", ""),
                    events=[{"name": e.get("name", ""),
                             "time_ns": int(e.get("timeUnixNano", 0)),
                             "attributes": _attributes_from_json(e.get("attributes"))}
                            for e in span.get("events", []) or []],
                    links=[{"trace_id": _hex_id(link.get("traceId"), 32),
                            "span_id": _hex_id(link.get("spanId"), 16),
                            "trace_state": link.get("traceState", ""),
                            "attributes": _attributes_from_json(link.get("attributes"))}
                           for link in span.get("links", []) or []],
                    resource=resource,
                    scope=scope.get("name", ""),
                    scope_version=scope.get("version", ""),
                ))
    return records
