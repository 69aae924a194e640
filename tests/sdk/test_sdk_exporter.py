"""The SDK span exporter (``OTEL_TRACES_EXPORTER=traceexec``): a real Python program using
the OpenTelemetry SDK, configured by the SDK itself, run under the real ``traceexec``."""
from __future__ import annotations

import os
import sys

from traceexec.delivery import span

from conftest import Receiver, free_port, only_trace, run_traceexec, spans_by_name, \
    traceexec_env

APP = '''
import os
from opentelemetry import trace
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# What opentelemetry-instrument runs: the SDK picks its exporter by OTEL_TRACES_EXPORTER,
# through the opentelemetry_traces_exporter entry point.
_OTelSDKConfigurator().configure()
parent = TraceContextTextMapPropagator().extract({"traceparent": os.environ["TRACEPARENT"]})
tracer = trace.get_tracer("app", "0.1")
with tracer.start_as_current_span("handle", context=parent, attributes={"items": [1, 2]}):
    with tracer.start_as_current_span("query") as query:
        query.add_event("row", {"n": 3})
trace.get_tracer_provider().shutdown()
print("done")
'''


def run_app(tmp_path, env):
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = dict(env, OTEL_TRACES_EXPORTER="traceexec", OTEL_SERVICE_NAME="py-app",
               OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    result = run_traceexec(["--name", "wrapper", "--", sys.executable, str(app)], env)
    assert result.returncode == 0 and result.stdout == b"done\n", result.stderr
    # no retries and no warnings from the program; the one line a person may get is
    # traceexec's own word that the destination is down, when the exporter the
    # program's spans started has already failed by the time the wrapper ends
    told = [line for line in result.stderr.decode().splitlines()
            if not (line.startswith("traceexec: warning: spans for ")
                    and "are not being delivered" in line)]
    assert told == [], result.stderr
    return result


def assert_program_spans(records):
    by_name = spans_by_name(records)
    (wrapper,), (handle,), (query,) = by_name["wrapper"], by_name["handle"], by_name["query"]
    assert handle["trace_id"] == wrapper["trace_id"] == query["trace_id"]
    assert handle["parent_span_id"] == wrapper["span_id"]
    assert query["parent_span_id"] == handle["span_id"]
    assert handle["attributes"] == {"items": [1, 2]}
    assert handle["kind"] == span.KIND_INTERNAL
    assert query["events"][0]["name"] == "row" and query["events"][0]["attributes"] == {"n": 3}
    assert handle["resource"]["service.name"] == "py-app"
    assert (handle["scope"], handle["scope_version"]) == ("app", "0.1")
    assert 0 < handle["start_ns"] <= query["start_ns"] <= query["end_ns"] <= handle["end_ns"]


def test_a_python_program_hands_its_spans_to_the_local_store(tmp_path, home, env):
    run_app(tmp_path, env)
    assert_program_spans(only_trace(home))


def test_with_no_collector_the_program_s_spans_wait_in_the_spool_and_flush_delivers(
        tmp_path, home):
    grpc_port, http_port = free_port(), free_port()  # nothing listens there yet
    env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % http_port,
                        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    run_app(tmp_path, env)
    assert not os.path.exists(os.path.join(str(home), "store"))  # spooled, not stored
    receiver = Receiver(tmp_path, grpc_port=grpc_port, http_port=http_port)
    try:
        result = run_traceexec(["flush"], env)
        assert result.returncode == 0, result.stderr
        assert_program_spans(receiver.wait_for(3))
    finally:
        receiver.stop()
