"""The OTLP JSON form of span records as dicts (``to_otlp_json``: an
ExportTraceServiceRequest), and a small JSON encoder (``dumps``) that needs no ``json``.

Apart from ``span``: a wrapper writes its records as text directly
(``span.records_text``, byte for byte ``_json(to_otlp_json(records))``) and loads this
only for a record with events or links, or an attribute of another kind.
"""

from .span import _json_string, _float_text, grouped


def _any_value(value):
    kind = type(value)  # the common kinds first, by identity (a DAG step's span has ~20)
    if kind is str:
        return {"stringValue": value}
    if kind is int:
        return {"intValue": str(value)}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes_json(attributes):
    return [{"key": k, "value": _any_value(v)} for k, v in attributes.items()]


def _span_json(record):
    span = {
        "traceId": record["trace_id"],
        "spanId": record["span_id"],
        "name": record["name"],
        "kind": record["kind"],
        "startTimeUnixNano": str(record["start_ns"]),
        "endTimeUnixNano": str(record["end_ns"]),
        "attributes": _attributes_json(record["attributes"]),
        "status": {"code": record["status_code"]},
        "flags": 0x100 | (record.get("flags", 1) & 0xFF),
    }
    if record["parent_span_id"]:
        span["parentSpanId"] = record["parent_span_id"]
    if record.get("trace_state"):
        span["traceState"] = record["trace_state"]
    if record["status_message"]:
        span["status"]["message"] = record["status_message"]
    if record["events"]:
        span["events"] = [{"timeUnixNano": str(e["time_ns"]), "name": e["name"],
                           "attributes": _attributes_json(e.get("attributes", {}))}
                          for e in record["events"]]
    if record.get("links"):
        span["links"] = [_link_json(link) for link in record["links"]]
    return span


def _link_json(link):
    item = {"traceId": link["trace_id"], "spanId": link["span_id"],
            "attributes": _attributes_json(link.get("attributes") or {})}
    if link.get("trace_state"):
        item["traceState"] = link["trace_state"]
    return item


def to_otlp_json(records) -> dict:
    """An OTLP/JSON ExportTraceServiceRequest holding ``records``.

    Spans are grouped by resource, then by instrumentation scope, as the
    OpenTelemetry Collector's file exporter writes them.
    """
    resource_spans = []
    for resource_attrs, scopes in grouped(records, _span_json):
        scope_spans = []
        for (name, version), spans in scopes.items():
            scope = {"name": name}
            if version:
                scope["version"] = version
            scope_spans.append({"scope": scope, "spans": spans})
        resource_spans.append({"resource": {"attributes": _attributes_json(resource_attrs)},
                               "scopeSpans": scope_spans})
    return {"resourceSpans": resource_spans}


def _encode(value, out) -> None:
    if isinstance(value, str):
        out.append(_json_string(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_float_text(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(_json_string(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    else:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")


_compact = None
"""The json module's compact encoder, made at the first ``dumps`` that finds json loaded."""


def dumps(document) -> str:
    """Compact JSON of plain data.

    Uses the json module when something already loaded it (serve, show);
    otherwise a small encoder, because importing json costs the wrapper
    several milliseconds (it pulls in ``re``).
    """
    import sys
    json = sys.modules.get("json")
    if json is not None:
        global _compact
        if _compact is None:  # json.dumps makes an encoder per call for these separators
            _compact = json.JSONEncoder(separators=(",", ":"))
        return _compact.encode(document)
    return _json(document)


def _json(value) -> str:
    """The JSON of plain data by the small encoder (``_encode``)."""
    out: list = []
    _encode(value, out)
    return "".join(out)
