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

from traceexec.store.httpserver import MAX_HANDLERS

from conftest import TRACEEXEC, Receiver, free_port, run_traceexec, traceexec_env

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


def scoped(scope):
    """An OTLP/JSON document whose one span has ``scope`` as its instrumentation scope."""
    document = otlp_json()
    document["resourceSpans"][0]["scopeSpans"][0]["scope"] = scope
    return document


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
    ("/v1/traces", "application/json", json.dumps(scoped({"name": {"a": 1}})).encode(), {},
     400),
    ("/v1/traces", "application/json", json.dumps(scoped({"name": [1]})).encode(), {}, 400),
    ("/v1/traces", "application/json",
     json.dumps(scoped({"name": "ok", "version": {"a": 1}})).encode(), {}, 400),
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


# --- a receiver that holds: deadlines, Host, answers, retryable refusals ----------

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def export_request(span_id=b"\x02" * 8) -> bytes:
    message = trace_service_pb2.ExportTraceServiceRequest()
    otlp = message.resource_spans.add().scope_spans.add().spans.add()
    otlp.trace_id, otlp.span_id, otlp.name = bytes.fromhex(TRACE), span_id, "after"
    return message.SerializeToString()


class HalfSent:
    """gRPC Export calls that send their headers and never their message: a client stuck
    (or hostile) mid-request, from the real grpcio client."""

    def __init__(self, channel, count):
        self.release = threading.Event()
        call = channel.stream_unary(EXPORT)
        self.calls = [call.future(self._nothing()) for _ in range(count)]

    def _nothing(self):
        self.release.wait()
        yield from ()

    def ended(self, timeout):
        """The status codes of the calls once the server ended them (None: still open)."""
        codes = []
        for each in self.calls:
            try:
                each.exception(timeout=timeout)
                codes.append(each.code())
            except Exception:  # grpc.FutureTimeoutError: still held
                codes.append(None)
        return codes


def retry_delay(error) -> float:
    """The RetryInfo delay (seconds) in a gRPC error's status details; None without one."""
    from google.rpc import error_details_pb2, status_pb2
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def test_half_sent_grpc_calls_neither_stall_serve_nor_outlive_its_deadline(tmp_path):
    import grpc
    receiver = Receiver(tmp_path, ["--request-timeout", "2"])
    try:
        with grpc.insecure_channel(receiver.grpc_endpoint) as held, \
                grpc.insecure_channel(receiver.grpc_endpoint) as healthy:
            export = healthy.unary_unary(EXPORT)
            stuck = HalfSent(held, 8)
            # eight calls in hand: the ninth is served, not queued behind them
            export(export_request(b"\x02" * 8), timeout=20)
            # every held call is ended by serve's deadline, none outlives it
            assert None not in stuck.ended(30)
            export(export_request(b"\x04" * 8), timeout=20)
            stuck.release.set()
        assert {r["span_id"] for r in receiver.wait_for(2, TRACE)} == {"02" * 8, "04" * 8}
        assert "Traceback" not in receiver.read_log()
    finally:
        receiver.stop()


def test_a_busy_serve_refuses_grpc_calls_in_the_form_clients_retry(tmp_path):
    """Over its limit, RESOURCE_EXHAUSTED with RetryInfo: traceexec's own exporter keeps
    the spans for later instead of setting them aside as refused (dead letters)."""
    import grpc
    from traceexec.delivery import config, sender
    receiver = Receiver(tmp_path, ["--request-timeout", "600"])  # held until released
    try:
        with grpc.insecure_channel(receiver.grpc_endpoint) as held, \
                grpc.insecure_channel(receiver.grpc_endpoint) as healthy:
            export = healthy.unary_unary(EXPORT)
            busy = HalfSent(held, MAX_HANDLERS)
            for attempt in range(200):  # until serve has all of them in hand
                try:
                    export(export_request(b"\x03" * 8), timeout=20)
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
                    assert retry_delay(error) is not None and retry_delay(error) > 0
                    break
            else:
                pytest.fail("%d calls in hand and none was refused" % (MAX_HANDLERS + 200))
            ours = sender.Sender({"endpoint": receiver.grpc_endpoint,
                                  "protocol": config.GRPC, "insecure": True}, {}, 20.0)
            try:
                outcome = ours.send([])
            finally:
                ours.close()
            assert outcome.kind == sender.KEPT and "RESOURCE_EXHAUSTED" in outcome.reason, \
                outcome
            busy.release.set()  # the held calls end (no message): serve has room again
            assert None not in busy.ended(30)
            export(export_request(b"\x05" * 8), timeout=20)
        assert "05" * 8 in {r["span_id"] for r in receiver.wait_for(1, TRACE)}
    finally:
        receiver.stop()


@pytest.mark.parametrize("host, status", [
    ("evil.example", 421), ("rebind.attacker.test:4318", 421), ("localhost:4318", 200),
    ("127.0.0.1", 200), ("[::1]:4318", 200)])
def test_otlp_http_answers_only_to_a_loopback_host_name(receiver, host, status):
    body = json.dumps(otlp_json()).encode()
    assert post(receiver, body, Host=host)[0] == status
    assert len(receiver.spans()) == (status == 200)


@pytest.mark.parametrize("query", ["since=0001-01-01T00:00", "until=0001-01-01T00:00",
                                   "since=9999-12-31T23:59", "since=0000-01-01T00:00"])
def test_viewer_search_at_the_ends_of_time_gets_an_answer(receiver, query):
    with urllib.request.urlopen(receiver.web_url + "?" + query, timeout=10) as response:
        assert response.status == 200
    assert "Traceback" not in receiver.read_log() and "Error" not in receiver.read_log()
