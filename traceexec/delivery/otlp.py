"""Span records in the OTLP protobuf wire format, written and read by hand.

``encode(record)`` gives the bytes of one ``ResourceSpans`` (the record's
resource, its scope, its one span) already framed as field 1 of an
``ExportTraceServiceRequest``: the spool's frames.  ``otlpexchange.request(bodies)`` makes one
request of many: the bodies' bytes regrouped (spans that share a resource and a
scope under one ``ResourceSpans`` and ``ScopeSpans``), never decoded into objects.  Built-ins only (no ``struct``, no
protobuf library): the wrapper encodes its span on its start-up path.

The exporter's side (``request``, and reading what comes back: ``fields``,
``describe``, ``partial_success``, ``retry_delay``, ``inflate``, ``status_message``)
is in ``otlpexchange``, which the wrapper does not load; those names are found
here too.

Field numbers are those of opentelemetry-proto (trace/v1/trace.proto,
common/v1/common.proto); ``tests/delivery/test_otlp.py`` parses the bytes
with the protobuf library and compares every field.
"""

import sys

from .span import valid_text

_LITTLE = sys.byteorder == "little"
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
FLAG_HAS_IS_REMOTE, FLAG_IS_REMOTE = 0x100, 0x200


def gzipped(data: bytes) -> bytes:
    """``data`` in gzip at the fastest level: a request body with ``compression: gzip``."""
    import zlib  # the wrapper never compresses: not on its start-up path
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def _varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _double(value: float) -> bytes:
    view = memoryview(bytearray(8)).cast("d")
    view[0] = value
    data = view.cast("B").tobytes()
    return data if _LITTLE else data[::-1]


def utf8(text) -> bytes:
    """``text`` as UTF-8, bytes that were not UTF-8 written as ``\\xNN`` (``span.valid_text``)."""
    return valid_text(text if isinstance(text, str) else str(text)).encode("utf-8")


def _any_value(value) -> bytes:
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return b"\x18" + _varint(value)
        return _field(1, utf8(str(value)))  # past int64: keep the digits
    if isinstance(value, float):
        return b"\x21" + _double(value)
    if isinstance(value, str):
        return _field(1, utf8(value))
    if isinstance(value, (list, tuple)):
        return _field(5, b"".join(_field(1, _any_value(v)) for v in value))
    if isinstance(value, dict):
        return _field(6, _attributes(value, 1))
    if isinstance(value, (bytes, bytearray)):
        return _field(7, bytes(value))
    if value is None:
        return b""
    return _field(1, utf8(str(value)))


def _attributes(attributes: dict, number: int) -> bytes:
    return b"".join(_field(number, _field(1, utf8(str(k))) + _field(2, _any_value(v)))
                    for k, v in attributes.items())


def _fixed64(number: int, value: int) -> bytes:
    return _varint(number << 3 | 1) + (int(value) & ((1 << 64) - 1)).to_bytes(8, "little")


def _fixed32(number: int, value: int) -> bytes:
    return _varint(number << 3 | 5) + (int(value) & 0xFFFFFFFF).to_bytes(4, "little")


def _event(event: dict) -> bytes:
    return (_fixed64(1, event.get("time_ns") or 0) + _field(2, utf8(event.get("name") or ""))
            + _attributes(event.get("attributes") or {}, 3))


def _link(link: dict) -> bytes:
    out = _field(1, bytes.fromhex(link["trace_id"])) + _field(2, bytes.fromhex(link["span_id"]))
    if link.get("trace_state"):
        out += _field(3, utf8(link["trace_state"]))
    out += _attributes(link.get("attributes") or {}, 4)
    # the linked context came from elsewhere (another span, another process)
    return out + _fixed32(6, (link.get("flags", 0) & 0xFF) | FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE)


def encode_span(record: dict) -> bytes:
    """The ``Span`` message of a record."""
    out = [_field(1, bytes.fromhex(record["trace_id"])), _field(2, bytes.fromhex(record["span_id"]))]
    if record.get("trace_state"):
        out.append(_field(3, utf8(record["trace_state"])))
    if record.get("parent_span_id"):
        out.append(_field(4, bytes.fromhex(record["parent_span_id"])))
    out.append(_field(5, utf8(record.get("name") or "")))
    if record.get("kind"):
        out.append(b"\x30" + _varint(int(record["kind"])))
    out.append(_fixed64(7, record.get("start_ns") or 0))
    out.append(_fixed64(8, record.get("end_ns") or 0))
    out.append(_attributes(record.get("attributes") or {}, 9))
    out.extend(_field(11, _event(e)) for e in record.get("events") or ())
    out.extend(_field(13, _link(link)) for link in record.get("links") or ())
    status = b""
    if record.get("status_message"):
        status += _field(2, utf8(record["status_message"]))
    if record.get("status_code"):
        status += b"\x18" + _varint(int(record["status_code"]))
    out.append(_field(15, status))
    # a parent is the context the span was started in: another process's span
    # (TRACEPARENT) for a wrapper, as the SDK marks a remote parent
    flags = (record.get("flags", 1) & 0xFF) | FLAG_HAS_IS_REMOTE
    if record.get("parent_span_id"):
        flags |= FLAG_IS_REMOTE
    out.append(_fixed32(16, flags))
    return b"".join(out)


def encode(record: dict) -> bytes:
    """One record as field 1 (``resource_spans``) of an ExportTraceServiceRequest.

    >>> encode(record)[:1]
    b'\\n'
    """
    scope = _field(1, utf8(record.get("scope") or "traceexec"))
    if record.get("scope_version"):
        scope += _field(2, utf8(record["scope_version"]))
    scope_spans = _field(1, scope) + _field(2, encode_span(record))
    resource = _field(1, _attributes(record.get("resource") or {}, 1))
    return _field(1, resource + _field(2, scope_spans))


_EXCHANGE = ("request", "fields", "describe", "partial_success", "RETRY_INFO", "retry_delay",
             "inflate", "status_message")


def __getattr__(name: str):
    if name in _EXCHANGE:
        from . import otlpexchange
        value = globals()[name] = getattr(otlpexchange, name)
        return value
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
