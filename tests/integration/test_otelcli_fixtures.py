"""otel-cli's functional fixtures that apply to a command wrapper, transcribed as a table
and run through the real binary against a real receiver (``traceexec serve``).

Where otel-cli's expectation differs on purpose it is said in the case: a bad
setting or a collector that is down never fails the command here (otel-cli's
``--fail`` turns those into failures).  Its TLS and client-certificate cases live
with the exporter's tests (tests/delivery/test_export.py: a grpcio server with its
CA, a wrong CA), its background-span and event cases have no counterpart.
"""
import pytest

from conftest import free_port, run_traceexec

TP = "00-edededededededededededededed9000-edededededededed-01"
SHOW_ENV = 'echo "fake=$OTEL_FAKE_VARIABLE x=$X_WHATEVER"'


@pytest.fixture
def otlp(module_receiver):
    return module_receiver


def grpc(r):
    return r.grpc_endpoint


def http(r):
    return "http://127.0.0.1:%d" % r.http_port


# (fixture name, flags given the receiver, environment given the receiver, command,
#  exit status, stdout, {check: expected}) -- checks: "spans" (spans of this run at
#  the receiver), "trace_id", "resource", "attribute", "warned", "not_delivered"
FIXTURES = [
    ("minimum configuration (recording, grpc)", lambda r: ["--endpoint", grpc(r)], {},
     ["true"], 0, b"", {"spans": 1}),
    ("minimum configuration (recording, http)", lambda r: ["--endpoint", http(r)], {},
     ["true"], 0, b"", {"spans": 1}),
    ("OTEL_EXPORTER_OTLP_ENDPOINT alone (recording)", lambda r: [],
     {"OTEL_EXPORTER_OTLP_ENDPOINT": grpc}, ["true"], 0, b"", {"spans": 1}),
    ("timeout with no server: the command is not held and keeps its status",
     lambda r: ["--export-timeout", "1s", "--endpoint", "127.0.0.1:%d" % free_port()], {},
     ["sh", "-c", "exit 9"], 9, b"", {"spans": 0, "not_delivered": "refused"}),
    ("syntax errors in environment variables: warned, not fatal (otel-cli fails)",
     lambda r: [], {"OTEL_EXPORTER_OTLP_ENDPOINT": grpc, "OTEL_EXPORTER_OTLP_INSECURE": "lmao"},
     ["true"], 0, b"", {"spans": 1, "warned": "OTEL_EXPORTER_OTLP_INSECURE"}),
    ("https:// when TLS is not available: not delivered, said, command unharmed",
     lambda r: ["--endpoint", "https://127.0.0.1:%d" % r.http_port, "--export-timeout", "3s"],
     {}, ["echo", "hi"], 0, b"hi\n", {"spans": 0, "not_delivered": "tls"}),
    ("#181 OTEL_ and other variables persist through to the command",
     lambda r: ["--endpoint", grpc(r)], {"OTEL_FAKE_VARIABLE": lambda r: "fake value",
                                         "X_WHATEVER": lambda r: "whatever"},
     ["sh", "-c", SHOW_ENV], 0, b"fake=fake value x=whatever\n", {"spans": 1}),
    ("envvar service name and resource attributes, span attributes",
     lambda r: ["--endpoint", grpc(r), "--attr", "cafe=deadbeef", "--attr", "abc=123"],
     {"OTEL_SERVICE_NAME": lambda r: "test-service-abc123",
      "OTEL_RESOURCE_ATTRIBUTES": lambda r: "foo.bar=baz"}, ["true"], 0, b"",
     {"spans": 1, "resource": {"foo.bar": "baz", "service.name": "test-service-abc123"},
      "attribute": {"cafe": "deadbeef", "abc": 123}}),
    ("exec echo joins the TRACEPARENT's trace", lambda r: ["--endpoint", grpc(r)],
     {"TRACEPARENT": lambda r: TP}, ["echo"], 0, b"\n",
     {"spans": 1, "trace_id": TP.split("-")[1]}),
    ("exec nested: two spans, the inner a child of the outer",
     lambda r: ["--name", "outer"], {"OTEL_EXPORTER_OTLP_ENDPOINT": grpc},
     ["traceexec", "--name", "inner", "--", "echo", "hello world"], 0, b"hello world\n",
     {"spans": 2}),
    ("OTEL_EXPORTER_OTLP_PROTOCOL grpc with an http:// endpoint", lambda r: [],
     {"OTEL_EXPORTER_OTLP_ENDPOINT": lambda r: "http://" + grpc(r),
      "OTEL_EXPORTER_OTLP_PROTOCOL": lambda r: "grpc"}, ["true"], 0, b"", {"spans": 1}),
    ("OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf", lambda r: [],
     {"OTEL_EXPORTER_OTLP_ENDPOINT": http, "OTEL_EXPORTER_OTLP_PROTOCOL":
      lambda r: "http/protobuf"}, ["true"], 0, b"", {"spans": 1}),
    ("OTEL_EXPORTER_OTLP_PROTOCOL bad config: warned, the endpoint's form decides",
     lambda r: [], {"OTEL_EXPORTER_OTLP_ENDPOINT": http,
                    "OTEL_EXPORTER_OTLP_PROTOCOL": lambda r: "roflcopter"},
     ["true"], 0, b"", {"spans": 1, "warned": "OTEL_EXPORTER_OTLP_PROTOCOL"}),
    ("exit codes are the command's", lambda r: ["--endpoint", grpc(r)], {},
     ["sh", "-c", "exit 42"], 42, b"", {"spans": 1}),
]


def _value(value, receiver):
    return value(receiver) if callable(value) else value


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f[0][:60] for f in FIXTURES])
def test_otel_cli_fixture(fixture, otlp, env):
    _, flags, environ, command, status, stdout, checks = fixture
    env.update({k: _value(v, otlp) for k, v in environ.items()})
    env.setdefault("TRACEPARENT", "00-%s-00f067aa0ba902b7-01" % __import__("os").urandom(16).hex())
    trace_id = env["TRACEPARENT"].split("-")[1]
    result = run_traceexec(flags(otlp) + ["--wait", "--"] + command, env)
    assert (result.returncode, result.stdout) == (status, stdout), result
    err = result.stderr.decode().lower()
    if "warned" in checks:
        assert checks["warned"].lower() in err, err
    if "not_delivered" in checks:
        assert "not delivered" in err and checks["not_delivered"] in err, err
    else:
        assert "not delivered" not in err, err
    spans = otlp.wait_for(checks["spans"], trace_id) if checks["spans"] else otlp.spans(trace_id)
    assert len(spans) == checks["spans"], spans
    if checks.get("trace_id"):
        assert trace_id == checks["trace_id"]
    for record in spans:
        for key, value in checks.get("resource", {}).items():
            assert record["resource"][key] == value
        for key, value in checks.get("attribute", {}).items():
            assert record["attributes"][key] == value
    if checks["spans"] == 2:
        by_name = {r["name"]: r for r in spans}
        assert by_name["inner"]["parent_span_id"] == by_name["outer"]["span_id"]


def test_span_covers_the_command(otlp, env):
    """#189: the span starts before and ends after the command (sleep 0.01)."""
    env["TRACEPARENT"] = "00-%s-00f067aa0ba902b7-01" % __import__("os").urandom(16).hex()
    assert run_traceexec(["--endpoint", grpc(otlp), "--wait", "--", "sleep", "0.01"],
                         env).returncode == 0
    (record,) = otlp.wait_for(1, env["TRACEPARENT"].split("-")[1])
    assert record["end_ns"] - record["start_ns"] >= 10_000_000


@pytest.mark.parametrize("variable,value,sent_to", [
    # #200: the general endpoint gets /v1/traces appended, the signal one is used as is
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/mycollector",
     "http://127.0.0.1:4318/mycollector/v1/traces"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/mycollector/x/1",
     "http://127.0.0.1:4318/mycollector/x/1"),
])
def test_custom_paths(env, variable, value, sent_to):
    env[variable] = value
    env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "1000"
    first = run_traceexec(["doctor"], env).stdout.decode().splitlines()[0]
    assert first.startswith("traceexec doctor: %s (http/protobuf)" % sent_to), first


@pytest.mark.parametrize("print_flag", ["--print-traceparent"])
def test_print_traceparent_names_the_commands_span(env, print_flag):
    env["TRACEPARENT"] = TP
    result = run_traceexec([print_flag, "--", "sh", "-c", 'echo "$TRACEPARENT"'], env)
    printed = result.stderr.decode().strip()
    assert printed == "TRACEPARENT=" + result.stdout.decode().strip()
    assert printed.split("-")[1] == TP.split("-")[1] and printed.endswith("-01")


def test_headers_reach_the_collector(env):
    """#231: --header and OTEL_EXPORTER_OTLP_HEADERS arrive with the export."""
    from test_export import FakeCollector
    seen = []
    collector = FakeCollector(lambda headers, body: (seen.append(dict(headers)) or 200, b""))
    try:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = "x-from-env=abc%20def"
        result = run_traceexec(["--endpoint", collector.endpoint, "--header",
                                "x-otel-cli-otlpserver-token=abcdefgabcdefg", "--wait", "--",
                                "true"], env)
    finally:
        collector.close()
    assert result.returncode == 0 and seen, result
    assert seen[0]["x-otel-cli-otlpserver-token"] == "abcdefgabcdefg"
    assert seen[0]["x-from-env"] == "abc def"
