"""The hand-written OTLP encoder against the protobuf library's own parser.

Every field a span record carries is encoded by ``otlp.encode`` and read back
by ``opentelemetry.proto`` messages (the reference), so a field number, a
wire type or a signed/unsigned mistake shows here.
"""
import math

import pytest

from traceexec.delivery import otlp, span

T = "4bf92f3577b34da6a3ce929d0e0e4736"
P = "00f067aa0ba902b7"
S = "b7ad6b7169203331"
LINK_T = "0af7651916cd43dd8448eb211c80319c"


def parse(data: bytes):
    """The ExportTraceServiceRequest that ``data`` (concatenated encodings) is."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)
    request = ExportTraceServiceRequest()
    request.ParseFromString(data)
    return request


def any_value(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attributes(items):
    return {kv.key: any_value(kv.value) for kv in items}


FULL = span.new_record(
    trace_id=T, span_id=S, parent_span_id=P, trace_state="vendor=abc,other=1", flags=1,
    name="backup", kind=span.KIND_CLIENT, start_ns=1_700_000_000_123_456_789,
    end_ns=1_700_000_001_987_654_321,
    attributes={"s": "text", "i": 42, "neg": -7, "big": 2 ** 63 - 1, "f": 2.5, "t": True,
                "b": False, "args": ["sh", "-c", "exit 3"], "ints": [1, -2], "mixed": [1.5, "x"],
                "empty": "", "unicode": "naïve ✓", "nested": {"k": "v", "n": 1}},
    status_code=span.STATUS_ERROR, status_message="exit status 3",
    events=[{"name": "signal", "time_ns": 1_700_000_000_500_000_000,
             "attributes": {"signal": "SIGTERM", "n": 15}}],
    links=[{"trace_id": LINK_T, "span_id": P, "trace_state": "dep=1",
            "attributes": {"traceexec.link.type": "depends"}}],
    resource={"service.name": "svc", "host.cpus": 2},
    scope="traceexec", scope_version="1.2.3")


def test_every_field_reads_back_through_the_protobuf_library():
    (resource_spans,) = parse(otlp.encode(FULL)).resource_spans
    assert attributes(resource_spans.resource.attributes) == FULL["resource"]
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("traceexec", "1.2.3")
    (got,) = scope_spans.spans
    assert got.trace_id.hex() == T and got.span_id.hex() == S and got.parent_span_id.hex() == P
    assert got.trace_state == "vendor=abc,other=1"
    assert got.flags == 0x301  # sampled, and the parent is remote (as the SDK marks it)
    assert got.name == "backup" and got.kind == span.KIND_CLIENT
    assert (got.start_time_unix_nano, got.end_time_unix_nano) == (FULL["start_ns"], FULL["end_ns"])
    assert attributes(got.attributes) == FULL["attributes"]
    assert (got.status.code, got.status.message) == (span.STATUS_ERROR, "exit status 3")
    (event,) = got.events
    assert (event.name, event.time_unix_nano) == ("signal", 1_700_000_000_500_000_000)
    assert attributes(event.attributes) == {"signal": "SIGTERM", "n": 15}
    (link,) = got.links
    assert (link.trace_id.hex(), link.span_id.hex()) == (LINK_T, P)
    assert link.trace_state == "dep=1"  # the SDK's encoder dropped this; ours keeps it
    assert attributes(link.attributes) == {"traceexec.link.type": "depends"}
    assert link.flags & 0x300 == 0x300


@pytest.mark.parametrize("value", [0, 1, -1, 127, 128, 300, 2 ** 31, -(2 ** 63), 2 ** 63 - 1,
                                   0.0, -0.0, 1e300, -2.5, math.inf, True, False, "", "é" * 100,
                                   [], [[1, 2], ["a"]], "x" * 70_000])
def test_attribute_values_of_each_type(value):
    record = span.new_record(trace_id=T, span_id=S, name="n", start_ns=1, end_ns=2,
                             attributes={"v": value})
    (got,) = parse(otlp.encode(record)).resource_spans[0].scope_spans[0].spans
    assert attributes(got.attributes) == {"v": value}


def test_a_root_span_minimal_record_and_each_kind():
    for kind in range(6):
        record = span.new_record(trace_id=T, span_id=S, name="", kind=kind, start_ns=0, end_ns=0)
        (got,) = parse(otlp.encode(record)).resource_spans[0].scope_spans[0].spans
        assert got.kind == kind and got.parent_span_id == b"" and got.flags == 0x101
        assert got.status.code == 0 and got.name == ""


def test_int_past_int64_keeps_its_digits():
    record = span.new_record(trace_id=T, span_id=S, name="n", start_ns=1, end_ns=2,
                             attributes={"huge": 2 ** 70})
    (got,) = parse(otlp.encode(record)).resource_spans[0].scope_spans[0].spans
    assert attributes(got.attributes) == {"huge": str(2 ** 70)}


def test_non_utf8_text_is_escaped_not_refused():
    name = "caf\udce9"  # what os.fsdecode makes of the bytes b"caf\xe9"
    record = span.new_record(trace_id=T, span_id=S, name=name, start_ns=1, end_ns=2,
                             attributes={"process.command_args": [name, "\ud800"]})
    (got,) = parse(otlp.encode(record)).resource_spans[0].scope_spans[0].spans
    assert got.name == "caf\\xe9"
    assert attributes(got.attributes)["process.command_args"] == ["caf\\xe9", "\\ud800"]
    assert span.with_valid_text(record)["name"] == "caf\\xe9"


def test_bodies_concatenate_into_one_request():
    records = [span.new_record(trace_id=T, span_id="%016x" % i, name="s%d" % i, start_ns=i,
                               end_ns=i + 1, resource={"service.name": "svc%d" % (i % 2)})
               for i in range(1, 6)]
    request = parse(b"".join(otlp.encode(r) for r in records))
    names = [rs.scope_spans[0].spans[0].name for rs in request.resource_spans]
    assert names == ["s1", "s2", "s3", "s4", "s5"]


def test_describe_and_answers():
    assert otlp.describe(otlp.encode(FULL)) == {"trace_id": T, "span_id": S, "name": "backup"}
    assert otlp.describe(b"\xff\xff") == {"trace_id": "?", "span_id": "?", "name": "?"}
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse)
    reply = ExportTraceServiceResponse()
    reply.partial_success.rejected_spans = 3
    reply.partial_success.error_message = "too old"
    assert otlp.partial_success(reply.SerializeToString()) == (3, "too old")
    assert otlp.partial_success(b"") == (0, "")
    from google.rpc.status_pb2 import Status
    assert otlp.status_message(Status(code=3, message="bad span").SerializeToString()) == "bad span"


def test_a_request_groups_spans_by_resource_and_scope_and_keeps_every_field():
    """``request``: one ResourceSpans per resource, one ScopeSpans per scope in it, in the
    order first seen; every span (long attributes: multi-byte lengths) reads back whole
    with its own resource and scope; a body of another shape goes along as it is."""
    records = [dict(FULL, span_id="%016x" % i, name="s%d" % i, attributes=dict(
                   FULL["attributes"], long="x" * (i * 300 if i < 8 else 70_000 * i)),
                   resource={"service.name": "svc%d" % (i % 2), "host.cpus": 2},
                   scope="make" if i % 3 == 0 else "traceexec",
                   scope_version="4.3" if i % 3 == 0 else "")
               for i in range(1, 10)]
    foreign = otlp._field(1, otlp._field(1, b"") + otlp._field(2, b"") + otlp._field(3, b"u"))
    request = parse(otlp.request([otlp.encode(r) for r in records] + [foreign]))
    shape = [(attributes(rs.resource.attributes).get("service.name", ""),
              [(ss.scope.name, ss.scope.version, [s.name for s in ss.spans])
               for ss in rs.scope_spans]) for rs in request.resource_spans]
    assert shape == [
        ("svc1", [("traceexec", "", ["s1", "s5", "s7"]), ("make", "4.3", ["s3", "s9"])]),
        ("svc0", [("traceexec", "", ["s2", "s4", "s8"]), ("make", "4.3", ["s6"])]),
        ("", [("", "", [])])]
    assert request.resource_spans[2].schema_url == "u"
    one_by_one = parse(b"".join(otlp.encode(r) for r in records))
    expected = {rs.scope_spans[0].spans[0].span_id: (rs.resource, rs.scope_spans[0].scope,
                                                       rs.scope_spans[0].spans[0])
                for rs in one_by_one.resource_spans}
    for rs in request.resource_spans[:2]:
        for ss in rs.scope_spans:
            for got in ss.spans:
                assert (rs.resource, ss.scope, got) == expected[got.span_id]
