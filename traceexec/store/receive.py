"""OTLP trace requests into span records, within bounds, for ``traceexec serve``.

Anything that can reach the receiver may send anything, so a request is
checked before it costs much: its size on the wire and once inflated
(MAX_REQUEST_BYTES), its number of spans (MAX_REQUEST_SPANS, counted on the
protobuf wire format without building a message per span), and only
PARSE_SLOTS requests are decoded at once.  A protobuf of tiny messages costs
about 30 to 90 times its size in memory once decoded, so these bounds, not
luck, keep a 146 KB gzip bomb from taking the receiver to gigabytes.

Every refusal is a ``Refused`` with the HTTP status that says why.
"""
from __future__ import annotations

import base64
import json
import threading
import zlib

from ..delivery import span
from . import local as store

MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""A request's body, on the wire and once inflated (the Collector's gRPC default too)."""
MAX_REQUEST_SPANS = 16_384
"""Spans in one request: twice the Collector's default batch."""
PARSE_SLOTS = threading.BoundedSemaphore(2)
"""Requests decoded at once, gRPC and HTTP together (decoding holds the GIL anyway)."""
MAX_TIME_NS = 2**64 - 1


class Refused(ValueError):
    """A request that cannot be stored; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def inflate(body: bytes, encoding: str) -> bytes:
    """``body`` decoded from its Content-Encoding (identity or gzip), at most
    MAX_REQUEST_BYTES of it."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise Refused(415, "unsupported content encoding %r: use gzip" % encoding)
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_REQUEST_BYTES)
    except zlib.error:
        raise Refused(400, "body is not valid gzip") from None
    if inflater.unconsumed_tail:
        raise Refused(413, "body inflates past %d bytes" % MAX_REQUEST_BYTES)
    if not inflater.eof:
        raise Refused(400, "gzip body is truncated")
    return data


# --- protobuf ---------------------------------------------------------------------

_SHALLOW = {}


def _shallow(name: str):
    """Message classes that read one level of the request as raw bytes, so counting
    spans builds no message per span."""
    if not _SHALLOW:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        field = descriptor_pb2.FieldDescriptorProto
        proto = descriptor_pb2.FileDescriptorProto(
            name="traceexec_shallow.proto", package="traceexec.shallow", syntax="proto3")
        for message, member, number in (("Request", "resource_spans", 1),
                                        ("ResourceSpans", "scope_spans", 2),
                                        ("ScopeSpans", "spans", 2)):
            proto.message_type.add(name=message).field.add(
                name=member, number=number, type=field.TYPE_BYTES, label=field.LABEL_REPEATED)
        pool = descriptor_pool.DescriptorPool()
        pool.Add(proto)
        for message in ("Request", "ResourceSpans", "ScopeSpans"):
            _SHALLOW[message] = message_factory.GetMessageClass(
                pool.FindMessageTypeByName("traceexec.shallow." + message))
    return _SHALLOW[name]


def count_protobuf_spans(body: bytes) -> int:
    """Spans in an encoded ExportTraceServiceRequest; Refused past MAX_REQUEST_SPANS."""
    from google.protobuf.message import DecodeError
    try:
        count = groups = 0
        for resource_spans in _shallow("Request").FromString(body).resource_spans:
            for scope_spans in _shallow("ResourceSpans").FromString(resource_spans).scope_spans:
                groups += 1
                count += len(_shallow("ScopeSpans").FromString(scope_spans).spans)
                if count > MAX_REQUEST_SPANS or groups > MAX_REQUEST_SPANS:
                    raise Refused(413, "more than %d spans in one request"
                                  % MAX_REQUEST_SPANS)
    except DecodeError as error:
        raise Refused(400, "malformed OTLP/protobuf: %s" % error) from None
    return count


def records_from_protobuf(body: bytes) -> list:
    """Checked span records from an encoded ExportTraceServiceRequest."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    with PARSE_SLOTS:
        count_protobuf_spans(body)
        try:
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
            return check_records(records_from_request(request))
        except Refused:
            raise
        except Exception as error:  # protobuf's DecodeError, RecursionError, a bad field
            raise Refused(400, "malformed OTLP/protobuf: %s" % error) from None


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return json.dumps({kv.key: _value(kv.value) for kv in any_value.kvlist_value.values},
                          default=str)
    if kind == "bytes_value":
        return base64.b64encode(any_value.bytes_value).decode()
    return getattr(any_value, kind)


def _attributes(items) -> dict:
    result = {}
    for item in items:
        value = _value(item.value)
        if value is not None:
            result[item.key] = value
    return result


def records_from_request(request) -> list:
    """Span records (hex ids) from an ExportTraceServiceRequest message."""
    records = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for s in scope_spans.spans:
                records.append(span.new_record(
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex(), trace_state=s.trace_state,
                    flags=(s.flags & 0xFF) or 1, name=s.name, kind=s.kind,
                    start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
                    attributes=_attributes(s.attributes),
                    status_code=s.status.code, status_message=s.status.message,
                    events=[{"name": e.name, "time_ns": e.time_unix_nano,
                             "attributes": _attributes(e.attributes)} for e in s.events],
                    links=[{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                            "trace_state": link.trace_state,
                            "attributes": _attributes(link.attributes)} for link in s.links],
                    resource=resource, scope=scope.name, scope_version=scope.version))
    return records


# --- JSON -------------------------------------------------------------------------

def records_from_json(body: bytes) -> list:
    """Checked span records from an OTLP/JSON body."""
    with PARSE_SLOTS:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise Refused(400, "malformed OTLP/JSON: %s" % _short(error)) from None
        if not isinstance(document, dict):
            raise Refused(400, "malformed OTLP/JSON: not a JSON object")
        count = _count_json_spans(document)
        if count > MAX_REQUEST_SPANS:
            raise Refused(413, "more than %d spans in one request" % MAX_REQUEST_SPANS)
        try:
            records = span.from_otlp_json(document)
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError,
                OverflowError) as error:
            raise Refused(400, "malformed OTLP/JSON: %s" % _short(error)) from None
        return check_records(records)


def _count_json_spans(document: dict) -> int:
    count = 0
    for resource_spans in _items(document.get("resourceSpans")):
        for scope_spans in _items(resource_spans.get("scopeSpans") if isinstance(
                resource_spans, dict) else None):
            spans = scope_spans.get("spans") if isinstance(scope_spans, dict) else None
            count += len(spans) if isinstance(spans, list) else 0
    return count


def _items(value) -> list:
    return value if isinstance(value, list) else []


def _short(error) -> str:
    text = str(error)
    return text if len(text) <= 200 else text[:200] + "..."


# --- checks -----------------------------------------------------------------------

def _describe(record) -> str:
    name = record["name"]
    return repr(name[:80] if isinstance(name, str) else name)


def check_records(records: list) -> list:
    """``records`` when each can be stored and shown; Refused (400) naming the first that
    cannot: ids must be hex, names (span, scope, scope version) strings, times within OTLP's unsigned 64 bits."""
    for record in records:
        if not store.is_trace_id(record["trace_id"]):
            raise Refused(400, "span %s: invalid trace id" % _describe(record))
        if not store.is_hex_id(record["span_id"], 16):
            raise Refused(400, "span %s: invalid span id" % _describe(record))
        if record["parent_span_id"] and not store.is_hex_id(record["parent_span_id"], 16):
            raise Refused(400, "span %s: invalid parent span id" % _describe(record))
        for key, what in (("name", "the name"), ("scope", "the scope name"),
                          ("scope_version", "the scope version")):
            if record[key] is None and key != "name":
                record[key] = ""  # JSON null: proto3's default, the empty string
            elif not isinstance(record[key], str):
                raise Refused(400, "span %s: %s must be a string" % (_describe(record), what))
        for key in ("start_ns", "end_ns"):
            if not 0 <= record[key] <= MAX_TIME_NS:
                raise Refused(400, "span %s: time %d out of range" % (
                    _describe(record), record[key]))
    return records
