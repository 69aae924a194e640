"""The finished-span record, plain data, and its OTLP JSON form.

Reading records back from OTLP JSON is ``span_reading``'s (its names are found here
too).  A record is a dict of str, int, float, bool, list and dict only, so that it
can be turned at no import cost into OTLP JSON (the store, ``show --json``)
or into the OTLP wire form (``otlp``: the spool)::

    {"trace_id": "4bf9...", "span_id": "00f0...", "parent_span_id": "" or hex,
     "trace_state": "", "flags": 1, "name": "make", "kind": KIND_CLIENT,
     "start_ns": 1, "end_ns": 2, "attributes": {"k": "v"},
     "status_code": STATUS_OK, "status_message": "",
     "events": [{"name": "...", "time_ns": 1, "attributes": {}}],
     "links": [{"trace_id": "...", "span_id": "...", "trace_state": "", "attributes": {}}],
     "resource": {"service.name": "traceexec"},
     "scope": "traceexec", "scope_version": "0.1.0"}
"""

KIND_INTERNAL, KIND_SERVER, KIND_CLIENT, KIND_PRODUCER, KIND_CONSUMER = 1, 2, 3, 4, 5
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
KIND_NAMES = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT",
              4: "PRODUCER", 5: "CONSUMER"}
STATUS_NAMES = {STATUS_UNSET: "UNSET", STATUS_OK: "OK", STATUS_ERROR: "ERROR"}
SCOPE = "traceexec"


def status_name(code) -> str:
    """UNSET, OK, ERROR; any other code as its number (spans from other programs)."""
    return STATUS_NAMES.get(code, str(code))


def new_record(*, trace_id, span_id, parent_span_id="", name, kind=KIND_CLIENT,
               start_ns, end_ns, attributes=None, status_code=STATUS_UNSET,
               status_message="", events=None, links=None, resource=None, trace_state="",
               flags=1, scope=SCOPE, scope_version="", owned=False):
    """A span record with every key present.

    With ``owned`` the attributes, events, links and resource are the record's as they
    are, not copies: the caller built them for this record, or shares them read-only (a
    DAG run's resource, one dict for all its records, which the writers then see as one
    group at once)."""
    if owned:
        return {
            "trace_id": trace_id, "span_id": span_id, "parent_span_id": parent_span_id or "",
            "trace_state": trace_state or "", "flags": flags, "name": name, "kind": kind,
            "start_ns": start_ns, "end_ns": end_ns, "attributes": attributes,
            "status_code": status_code, "status_message": status_message or "",
            "events": events, "links": links, "resource": resource,
            "scope": scope, "scope_version": scope_version,
        }
    return {
        "trace_id": trace_id, "span_id": span_id, "parent_span_id": parent_span_id or "",
        "trace_state": trace_state or "", "flags": flags, "name": name, "kind": kind,
        "start_ns": start_ns, "end_ns": end_ns, "attributes": dict(attributes or {}),
        "status_code": status_code, "status_message": status_message or "",
        "events": list(events or []), "links": list(links or []),
        "resource": dict(resource or {}),
        "scope": scope, "scope_version": scope_version,
    }


def valid_text(text: str) -> str:
    r"""``text`` with the bytes that were not UTF-8 (lone surrogates, as ``os.fsdecode``
    gives them for a non-UTF-8 file name or argument) written as ``\xNN``.

    >>> valid_text("caf\udce9")
    'caf\\xe9'
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _valid(value):
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list):
        return [_valid(v) for v in value]
    if isinstance(value, dict):
        return {_valid(k): _valid(v) for k, v in value.items()}
    return value


def with_valid_text(record: dict) -> dict:
    """``record`` with every string valid UTF-8 (``valid_text``), so a command with
    a non-UTF-8 name or argument is recorded, escaped, everywhere it is sent."""
    return _valid(record)


def is_valid_text(record) -> bool:
    """Whether every string of ``record`` (plain data) is valid UTF-8 already, so that
    ``with_valid_text`` would change none: the only strings that are not hold lone
    surrogates, which ``repr`` writes as ``\\udXXX``.  A look at ``repr`` (C code) rather
    than a walk (a call for each of a wrapper's 60 values: 0.15 M instructions); a
    ``\\ud`` written in a string itself, or anything ``repr`` fails on, says no."""
    try:
        return "\\ud" not in repr(record)
    except Exception:  # noqa: BLE001 -- not plain data after all: the walk decides
        return False


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


def grouped(records, span_form) -> list:
    """[(resource attributes, {(scope name, version): [span_form(record), ...]})]: the
    records by resource, then by scope, in the order they come (``to_otlp_json``'s)."""
    groups: dict = {}
    for record in records:
        resource_key = tuple(sorted((k, repr(v)) for k, v in record["resource"].items()))
        scope_key = (record.get("scope", SCOPE), record.get("scope_version", ""))
        resource = groups.setdefault(resource_key, (record["resource"], {}))
        resource[1].setdefault(scope_key, []).append(span_form(record))
    return list(groups.values())


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


def records_text(records) -> str:
    """``_json(to_otlp_json(records))``, the small encoder's text, written directly: the
    wrapper's record goes to the local store without its dict form built and walked
    again (some 140 values, each a call or more: 0.4 M instructions).  The common parts
    (ids, names, times, attributes that are strings, ints or lists of strings) are
    written here; anything else (events, links, other values) through the dict form."""
    groups = []
    for resource, scopes in grouped(records, _span_text):
        scope_spans = []
        for (name, version), spans in scopes.items():
            scope = {"name": name, "version": version} if version else {"name": name}
            scope_spans.append('{"scope":' + _json(scope) + ',"spans":[' + ",".join(spans)
                               + "]}")
        groups.append('{"resource":{"attributes":' + _attributes_text(resource)
                      + '},"scopeSpans":[' + ",".join(scope_spans) + "]}")
    return '{"resourceSpans":[' + ",".join(groups) + "]}"


def _span_text(record) -> str:
    """``_json(_span_json(record))``."""
    if record["events"] or record.get("links"):
        return _json(_span_json(record))
    text = ('{"traceId":' + _plain(record["trace_id"]) + ',"spanId":' + _plain(record["span_id"])
            + ',"name":' + _plain(record["name"]) + ',"kind":' + _plain(record["kind"])
            + ',"startTimeUnixNano":' + _json_string(str(record["start_ns"]))
            + ',"endTimeUnixNano":' + _json_string(str(record["end_ns"]))
            + ',"attributes":' + _attributes_text(record["attributes"])
            + ',"status":{"code":' + _plain(record["status_code"]))
    if record["status_message"]:
        text += ',"message":' + _plain(record["status_message"])
    text += '},"flags":%d' % (0x100 | (record.get("flags", 1) & 0xFF))
    if record["parent_span_id"]:
        text += ',"parentSpanId":' + _plain(record["parent_span_id"])
    if record.get("trace_state"):
        text += ',"traceState":' + _plain(record["trace_state"])
    return text + "}"


def _plain(value) -> str:
    """``_json(value)``, a string or an int without the encoder's walk."""
    kind = type(value)
    if kind is str:
        return _json_string(value)
    return str(value) if kind is int else _json(value)


def _attributes_text(attributes) -> str:
    """``_json(_attributes_json(attributes))``."""
    items = []
    for key, value in attributes.items():
        kind = type(value)
        if kind is str:
            value = '{"stringValue":' + _json_string(value) + "}"
        elif kind is int:
            value = '{"intValue":"%d"}' % value
        elif kind is list and all(type(item) is str for item in value):
            value = '{"arrayValue":{"values":[' + ",".join(
                ['{"stringValue":' + _json_string(item) + "}" for item in value]) + "]}}"
        else:
            value = _json(_any_value(value))
        items.append('{"key":' + _plain(key) + ',"value":' + value + "}")
    return "[" + ",".join(items) + "]"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
            "\f": "\\f"}


def _json_string(text: str) -> str:
    if text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    out = []
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is None and (not char.isprintable() or "\ud800" <= char <= "\udfff"):
            code = ord(char)
            escaped = ("\\u%04x" % code if code < 0x10000 else
                       "\\u%04x\\u%04x" % (0xD800 + ((code - 0x10000) >> 10),
                                           0xDC00 + ((code - 0x10000) & 0x3FF)))
        out.append(escaped or char)
    return '"' + "".join(out) + '"'


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
        out.append(repr(value) if value == value and abs(value) != float("inf") else "null")
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


def __getattr__(name: str):
    """The names of ``span_reading`` (``from_otlp_json``, ``parse_attribute``...), loading
    it on first use."""
    from .. import forwarded
    return forwarded(globals(), "span_reading", name)
