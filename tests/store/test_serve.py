"""``traceexec serve`` in another process, fed by the real SDK exporters and by hand."""
from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcExporter)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpExporter)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, set_span_in_context

from traceexec.delivery import span

from conftest import TRACEEXEC, free_port, run_traceexec, traceexec_env

TRACE = "5b8efff798038103d269b633813fc60c"


def sdk_spans(service="py-app"):
    """Two finished SDK spans, a parent and a failed child, from a real provider."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.serve", "1.2.3")
    parent = tracer.start_span("request")
    child = tracer.start_span("query", context=set_span_in_context(parent),
                              attributes={"db.rows": 7, "db.ok": False, "tags": ["a", "b"]})
    child.add_event("retry", {"attempt": 2})
    child.set_status(Status(StatusCode.ERROR, "timeout"))
    child.end()
    parent.end()
    return memory.get_finished_spans()


def assert_arrived(receiver, finished):
    trace_id = "%032x" % finished[0].context.trace_id
    received = {r["span_id"]: r for r in receiver.wait_for(len(finished), trace_id)}
    query, request = finished
    child = received["%016x" % query.context.span_id]
    assert child["parent_span_id"] == "%016x" % request.context.span_id
    assert child["name"] == "query" and child["trace_id"] == trace_id
    assert child["attributes"] == {"db.rows": 7, "db.ok": False, "tags": ["a", "b"]}
    assert child["status_code"] == span.STATUS_ERROR and child["status_message"] == "timeout"
    assert child["events"][0]["name"] == "retry"
    assert child["events"][0]["attributes"] == {"attempt": 2}
    assert child["resource"]["service.name"] == "py-app"
    assert (child["scope"], child["scope_version"]) == ("tests.serve", "1.2.3")
    assert child["start_ns"] == query.start_time and child["end_ns"] == query.end_time
    assert received["%016x" % request.context.span_id]["parent_span_id"] == ""


def test_sdk_grpc_exporter(receiver):
    finished = sdk_spans()
    exporter = GrpcExporter(endpoint=receiver.grpc_endpoint, insecure=True)
    assert exporter.export(finished) == SpanExportResult.SUCCESS
    exporter.shutdown()
    assert_arrived(receiver, finished)


@pytest.mark.parametrize("compression", [HttpCompression.NoCompression, HttpCompression.Gzip])
def test_sdk_http_exporter(receiver, compression):
    finished = sdk_spans()
    exporter = HttpExporter(endpoint=receiver.http_endpoint, compression=compression)
    assert exporter.export(finished) == SpanExportResult.SUCCESS
    exporter.shutdown()
    assert_arrived(receiver, finished)


def otlp_json(trace_id=TRACE, span_id="eee19b7ec3c1b174", name="hand-made"):
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "curl"}}]},
        "scopeSpans": [{"scope": {"name": "by-hand"}, "spans": [{
            "traceId": trace_id, "spanId": span_id, "name": name, "kind": 2,
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": "1544712661000000000",
            "attributes": [{"key": "http.status", "value": {"intValue": "200"}}]}]}]}]}


def post(receiver, body, content_type="application/json", path="/v1/traces", **headers):
    request = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (receiver.http_port, path), data=body, method="POST",
        headers=dict({"Content-Type": content_type}, **headers))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_raw_json_and_gzip_over_http(receiver):
    body = json.dumps(otlp_json()).encode()
    assert post(receiver, body) == (200, "application/json", b"{}")
    zipped = gzip.compress(json.dumps(otlp_json(span_id="eee19b7ec3c1b175")).encode())
    assert post(receiver, zipped, **{"Content-Encoding": "gzip"})[0] == 200
    records = receiver.wait_for(2, TRACE)
    assert sorted(r["span_id"] for r in records) == ["eee19b7ec3c1b174", "eee19b7ec3c1b175"]
    assert records[0]["attributes"] == {"http.status": 200}
    assert records[0]["resource"] == {"service.name": "curl"}


def test_gzip_protobuf_over_http_gets_a_protobuf_reply(receiver):
    message = trace_service_pb2.ExportTraceServiceRequest()
    otlp = message.resource_spans.add().scope_spans.add().spans.add()
    otlp.trace_id, otlp.span_id, otlp.name = bytes.fromhex(TRACE), b"\x01" * 8, "proto"
    status, content_type, reply = post(receiver, gzip.compress(message.SerializeToString()),
                                       "application/x-protobuf", **{"Content-Encoding": "gzip"})
    assert (status, content_type) == (200, "application/x-protobuf")
    trace_service_pb2.ExportTraceServiceResponse.FromString(reply)
    (record,) = receiver.wait_for(1, TRACE)
    assert (record["span_id"], record["name"]) == ("0101010101010101", "proto")


@pytest.mark.parametrize("path, content_type, body, headers, status", [
    ("/v1/metrics", "application/json", b"{}", {}, 404),
    ("/v1/traces", "text/plain", b"{}", {}, 415),
    ("/v1/traces", "application/json", b"{not json", {}, 400),
    ("/v1/traces", "application/json", b"[1, 2]", {}, 400),
    ("/v1/traces", "application/json", b'{"resourceSpans": 7}', {}, 400),
    ("/v1/traces", "application/x-protobuf", b"\xff\xff\xff garbage", {}, 400),
    ("/v1/traces", "application/json", b"not gzip", {"Content-Encoding": "gzip"}, 400),
    ("/v1/traces", "application/json", b"{}", {"Content-Encoding": "br"}, 415),
    ("/v1/traces", "application/json", json.dumps(otlp_json(trace_id="../../escape")).encode(),
     {}, 400),
    ("/v1/traces", "application/json", json.dumps(otlp_json(span_id="0" * 16)).encode(), {},
     400),
])
def test_bad_requests_get_an_error_and_the_server_carries_on(receiver, path, content_type,
                                                              body, headers, status):
    assert post(receiver, body, content_type, path, **headers)[0] == status
    assert receiver.spans() == []
    assert post(receiver, json.dumps(otlp_json()).encode())[0] == 200
    assert receiver.proc.poll() is None


def test_grpc_refuses_spans_with_bad_ids(receiver):
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    message = trace_service_pb2.ExportTraceServiceRequest()
    message.resource_spans.add().scope_spans.add().spans.add(trace_id=b"\x01", name="short")
    with grpc.insecure_channel(receiver.grpc_endpoint) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Export(message, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert receiver.spans() == [] and receiver.proc.poll() is None


def test_wrapper_span_arrives_over_grpc(receiver, env):
    pytest.importorskip("traceexec.delivery.export").exporter_main  # noqa: B018
    result = run_traceexec(["--name", "wrapped", "--attr", "job=nightly", "--",
                            "sh", "-c", "exit 4"],
                           dict(env, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                                TRACEEXEC_WAIT="1"))
    assert result.returncode == 4, result.stderr
    (record,) = receiver.wait_for(1, timeout=10)
    assert record["name"] == "wrapped"
    assert record["attributes"]["process.exit.code"] == 4
    assert record["attributes"]["job"] == "nightly"
    assert record["resource"]["service.name"] == "traceexec"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_exits_0_and_keeps_every_acknowledged_span(receiver, sig):
    acknowledged, stop = [], threading.Event()

    def send(worker):
        n = 0
        while not stop.is_set():
            span_id = "%08x%08x" % (worker + 1, n + 1)
            try:
                status = post(receiver, json.dumps(otlp_json(span_id=span_id)).encode())[0]
            except OSError:
                return  # refused: the server has stopped accepting
            if status == 200:
                acknowledged.append(span_id)
            n += 1

    senders = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for sender in senders:
        sender.start()
    receiver.wait_for(20, TRACE)
    receiver.proc.send_signal(sig)
    assert receiver.proc.wait(15) == 0
    stop.set()
    for sender in senders:
        sender.join(15)
    stored = {r["span_id"] for r in receiver.spans(TRACE)}
    assert len(acknowledged) >= 20 and set(acknowledged) <= stored
    assert "stopped;" in receiver.read_log() and "Traceback" not in receiver.read_log()


def serve(args, tmp_path):
    return subprocess.run(TRACEEXEC + ["serve"] + args, env=traceexec_env(tmp_path),
                          capture_output=True, text=True, timeout=30)


def test_port_in_use_is_one_line_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in (["--grpc", "127.0.0.1:%d" % port, "--http", "127.0.0.1:%d" % free_port()],
                     ["--grpc", "127.0.0.1:%d" % free_port(), "--http", "127.0.0.1:%d" % port]):
            result = serve(args, tmp_path)
            assert result.returncode == 2
            assert result.stderr.startswith("traceexec: cannot listen on 127.0.0.1:%d" % port)
            assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("args", [["--grpc", "4317"], ["--http", "127.0.0.1:70000"],
                                  ["--grpc", "no.such.host.invalid:4317"], ["--nope"]])
def test_bad_arguments_are_one_line_exit_2(tmp_path, args):
    result = serve(args, tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
