"""The finished-span record, plain data, and its OTLP JSON form.

Their OTLP JSON as dicts (``to_otlp_json``) and its small encoder (``dumps``) are
``span_json``'s; reading records back from OTLP JSON is ``span_reading``'s; the names
of both are found here too.  A wrapper writes its records as text directly
(``records_text``).  A record is a dict of str, int, float, bool, list and dict only, so that it
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


def records_text(records) -> str:
    """``span_json``'s ``_json(to_otlp_json(records))``, its small encoder's text, written
    directly: the
    wrapper's record goes to the local store without its dict form built and walked
    again (some 140 values, each a call or more: 0.4 M instructions).  The common parts
    (ids, names, times, attributes that are strings, ints or lists of strings) are
    written here; anything else (events, links, other values) through the dict form."""
    groups = []
    for resource, scopes in grouped(records, _span_text):
        scope_spans = []
        for (name, version), spans in scopes.items():
            scope = '{"name":' + _plain(name) + (',"version":' + _plain(version) if version
                                                 else "") + "}"
            scope_spans.append('{"scope":' + scope + ',"spans":[' + ",".join(spans)
                               + "]}")
        groups.append('{"resource":{"attributes":' + _attributes_text(resource)
                      + '},"scopeSpans":[' + ",".join(scope_spans) + "]}")
    return '{"resourceSpans":[' + ",".join(groups) + "]}"


def _span_text(record) -> str:
    """``_json(_span_json(record))``."""
    if record["events"] or record.get("links"):
        from .span_json import _json, _span_json
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
    if kind is int:
        return str(value)
    from .span_json import _json
    return _json(value)


def _attributes_text(attributes) -> str:
    """``_json(_attributes_json(attributes))``."""
    items = []
    for key, value in attributes.items():
        kind = type(value)
        if kind is str:
            value = '{"stringValue":' + _json_string(value) + "}"
        elif kind is int:
            value = '{"intValue":"%d"}' % value
        elif kind is float:
            value = '{"doubleValue":' + _float_text(value) + "}"
        elif kind is list and all(type(item) is str for item in value):
            value = '{"arrayValue":{"values":[' + ",".join(
                ['{"stringValue":' + _json_string(item) + "}" for item in value]) + "]}}"
        else:
            from .span_json import _any_value, _json
            value = _json(_any_value(value))
        items.append('{"key":' + _plain(key) + ',"value":' + value + "}")
    return "[" + ",".join(items) + "]"


def _float_text(value: float) -> str:
    """A float's JSON: ``null`` for NaN and the infinities, which JSON has not."""
    return repr(value) if value == value and abs(value) != float("inf") else "null"


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


def __getattr__(name: str):
    """The names of ``span_json`` (``to_otlp_json``, ``dumps``...) and ``span_reading``
    (``from_otlp_json``, ``parse_attribute``...), loading each on first use."""
    from .. import forwarded
    return forwarded(globals(), "span_json" if name in _JSON_FORM else "span_reading", name)


_JSON_FORM = frozenset(("to_otlp_json", "dumps", "_any_value", "_attributes_json",
                        "_span_json", "_link_json", "_encode", "_json"))
"""The names of ``span_json``; any other name not here is ``span_reading``'s."""
