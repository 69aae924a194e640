"""The OTel SDK environment-variable specification through the real binary, against a
real receiver (``traceexec serve`` in another process): one case per variable and
value class.  Whatever the setting, the command runs and its status is its own; a
value that cannot be used is named in one warning line and ignored alone.
"""
import json

import pytest

from conftest import run_traceexec

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
UNSAMPLED = PARENT[:-2] + "00"
SCRIPT = 'echo "tp=$TRACEPARENT bg=$BAGGAGE"; exit 3'


def grpc(receiver):
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint}


def http(receiver):
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % receiver.http_port}


# (id, environment given the receiver, extra flags, warned variable or None,
#  where the span goes: "receiver", "local" or None, the flag the command gets)
CASES = [
    ("timeout-with-endpoint-flag", lambda r: {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
     ["--endpoint", "{grpc}"], "OTEL_EXPORTER_OTLP_TIMEOUT", "receiver", "01"),
    ("timeout-bad-keeps-endpoint", lambda r: dict(grpc(r), OTEL_EXPORTER_OTLP_TIMEOUT="soon"),
     [], "OTEL_EXPORTER_OTLP_TIMEOUT", "receiver", "01"),
    ("protocol-http-json", lambda r: dict(http(r), OTEL_EXPORTER_OTLP_PROTOCOL="http/json"),
     [], "OTEL_EXPORTER_OTLP_PROTOCOL", "receiver", "01"),
    ("resource-broken", lambda r: dict(grpc(r), OTEL_RESOURCE_ATTRIBUTES="broken"),
     [], "OTEL_RESOURCE_ATTRIBUTES", "receiver", "01"),
    ("headers-bad-item", lambda r: dict(grpc(r), OTEL_EXPORTER_OTLP_HEADERS="x-a=1,broken"),
     [], "OTEL_EXPORTER_OTLP_HEADERS", "receiver", "01"),
    ("exporter-list", lambda r: dict(grpc(r), OTEL_TRACES_EXPORTER="otlp,console"),
     [], None, "receiver", "01"),
    ("exporter-unknown", lambda r: dict(grpc(r), OTEL_TRACES_EXPORTER="zipkin"),
     [], "OTEL_TRACES_EXPORTER", "receiver", "01"),
    ("sdk-disabled-1-is-not-true", lambda r: dict(grpc(r), OTEL_SDK_DISABLED="1"),
     [], "OTEL_SDK_DISABLED", "receiver", "01"),
    ("sdk-disabled-true", lambda r: dict(grpc(r), OTEL_SDK_DISABLED="True"),
     [], None, None, "01"),
    ("exporter-none", lambda r: dict(grpc(r), OTEL_TRACES_EXPORTER="none"), [], None, None, "01"),
    ("insecure-1-is-not-true", lambda r: dict(grpc(r), OTEL_EXPORTER_OTLP_INSECURE="1"),
     [], "OTEL_EXPORTER_OTLP_INSECURE", "receiver", "01"),
    ("endpoint-fragment", lambda r: {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d#x"
                                     % r.http_port}, [], "OTEL_EXPORTER_OTLP_ENDPOINT",
     "local", "01"),
    ("endpoint-bad-port", lambda r: {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:99999"},
     [], "OTEL_EXPORTER_OTLP_ENDPOINT", "local", "01"),
    ("sampler-always-off", lambda r: dict(grpc(r), OTEL_TRACES_SAMPLER="always_off"),
     [], None, None, "00"),
    ("sampler-ratio-0", lambda r: dict(grpc(r), OTEL_TRACES_SAMPLER="traceidratio",
                                       OTEL_TRACES_SAMPLER_ARG="0"), [], None, None, "00"),
    ("sampler-ratio-1", lambda r: dict(grpc(r), OTEL_TRACES_SAMPLER="traceidratio",
                                       OTEL_TRACES_SAMPLER_ARG="1"), [], None, "receiver", "01"),
    ("sampler-ratio-bad", lambda r: dict(grpc(r), OTEL_TRACES_SAMPLER="traceidratio",
                                         OTEL_TRACES_SAMPLER_ARG="half"),
     [], "OTEL_TRACES_SAMPLER_ARG", "receiver", "01"),
    ("sampler-unknown", lambda r: dict(grpc(r), OTEL_TRACES_SAMPLER="xray"),
     [], "OTEL_TRACES_SAMPLER", "receiver", "01"),
    ("parentbased-follows-unsampled-parent",
     lambda r: dict(grpc(r), TRACEPARENT=UNSAMPLED), [], None, None, "00"),
    ("parentbased-off-follows-sampled-parent",
     lambda r: dict(grpc(r), TRACEPARENT=PARENT, OTEL_TRACES_SAMPLER="parentbased_always_off"),
     [], None, "receiver", "01"),
    ("always-on-overrides-unsampled-parent",
     lambda r: dict(grpc(r), TRACEPARENT=UNSAMPLED, OTEL_TRACES_SAMPLER="always_on"),
     [], None, "receiver", "01"),
    ("propagators-unknown", lambda r: dict(grpc(r), OTEL_PROPAGATORS="b3,tracecontext"),
     [], "OTEL_PROPAGATORS", "receiver", "01"),
]


def received(receiver, trace_id, span_id, timeout=30.0):
    """Span ids of ``trace_id`` at the receiver, once ``span_id`` is there (or the timeout)."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        ids = [r["span_id"] for r in receiver.spans(trace_id)]
        if span_id in ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.05)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_specification_case(case, module_receiver, env, home):
    receiver = module_receiver
    _, environ, flags, warned, where, flag = case
    environ = dict(env, **environ(receiver))
    flags = [f.replace("{grpc}", receiver.grpc_endpoint) for f in flags]
    result = run_traceexec(flags + ["--wait", "--", "sh", "-c", SCRIPT], environ)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 3, err
    assert out.startswith("tp=00-") and out.split()[0].endswith("-" + flag), out
    warnings = [line for line in err.splitlines() if "warning" in line]
    if warned is None:
        assert warnings == [], err
    else:
        assert len(warnings) == 1 and warned in warnings[0], err
    trace_id, span_id = out.split("-")[1:3]
    from traceexec.store import local as store
    if where == "receiver":
        assert span_id in received(receiver, trace_id, span_id)
    else:  # nothing was spooled either, so nothing can arrive later
        assert span_id not in [r["span_id"] for r in receiver.spans(trace_id)]
        assert not (home / "spool").exists() or not any((home / "spool").iterdir())
    assert (trace_id in store.trace_ids(str(home))) == (where == "local")


def test_console_exporter_prints_the_span_beside_sending_it(module_receiver, env):
    receiver = module_receiver
    environ = dict(env, OTEL_TRACES_EXPORTER="console,otlp", **grpc(receiver))
    result = run_traceexec(["--wait", "--", "true"], environ)
    line, = [l for l in result.stderr.decode().splitlines() if l.startswith("traceexec: span ")]
    sent = json.loads(line[len("traceexec: span "):])
    trace_id = sent["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    assert len(receiver.wait_for(1, trace_id)) == 1


def test_propagators_none_leaves_the_carriers_as_they_came(env, home):
    environ = dict(env, TRACEPARENT=PARENT, BAGGAGE="k=v", OTEL_PROPAGATORS="none")
    result = run_traceexec(["--", "sh", "-c", SCRIPT], environ)
    assert result.stdout.decode().split() == ["tp=" + PARENT, "bg=k=v"]
    from conftest import only_trace
    (record,) = only_trace(home)
    assert record["parent_span_id"] == "" and record["trace_id"] != PARENT.split("-")[1]


def test_propagators_baggage_only_passes_baggage_and_leaves_traceparent(env):
    environ = dict(env, TRACEPARENT=PARENT, BAGGAGE="k=v,bad entry", OTEL_PROPAGATORS="baggage")
    result = run_traceexec(["--", "sh", "-c", SCRIPT], environ)
    # the invalid baggage is dropped by the baggage propagator; TRACEPARENT is not ours
    assert result.stdout.decode().split() == ["tp=" + PARENT, "bg="]


def test_a_dag_run_follows_the_sampler_and_the_propagators(tmp_path, env, home):
    (tmp_path / "dag.yaml").write_text(
        "steps:\n  - name: show\n    command: sh -c 'echo \"tp=$TRACEPARENT\"'\n")
    from traceexec.store import local as store
    off = run_traceexec(["run", "-q", "dag.yaml"], dict(env, OTEL_TRACES_SAMPLER="always_off"),
                        cwd=tmp_path)
    assert off.returncode == 0, off.stderr
    assert off.stdout.decode().split()[-1].endswith("-00") and store.trace_ids(str(home)) == []
    kept = run_traceexec(["run", "-q", "dag.yaml"], dict(env, TRACEPARENT=PARENT,
                                                         OTEL_PROPAGATORS="none"), cwd=tmp_path)
    assert kept.returncode == 0 and kept.stdout.decode().split()[-1] == "tp=" + PARENT, kept


def test_span_limits_reach_the_receiver(module_receiver, env):
    environ = dict(env, OTEL_EXPORTER_OTLP_ENDPOINT=module_receiver.grpc_endpoint,
                   OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT="4", OTEL_SPAN_LINK_COUNT_LIMIT="x")
    result = run_traceexec(["--attr", "note=abcdefgh", "--wait", "--", "sh", "-c",
                            'echo "$TRACEPARENT"'], environ)
    assert result.returncode == 0
    (line,) = result.stderr.decode().splitlines()
    assert "OTEL_SPAN_LINK_COUNT_LIMIT" in line
    trace_id, span_id = result.stdout.decode().split("-")[1:3]
    assert span_id in received(module_receiver, trace_id, span_id)
    (record,) = [r for r in module_receiver.spans(trace_id) if r["span_id"] == span_id]
    assert record["attributes"]["note"] == "abcd"
