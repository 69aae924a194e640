"""Interoperability with a third-party collector: rotel (PyPI ``rotel``, a Rust binary).

rotel listens for OTLP/gRPC and OTLP/HTTP on loopback ports and prints what
it accepted with its debug logger (``--debug-log traces --debug-log-verbosity
detailed``); with ``--exporter otlp`` it also forwards the spans on, here to
``traceexec serve``, so a span crosses two independent OTLP implementations.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from conftest import Receiver, free_port, run_traceexec

T = "4bf92f3577b34da6a3ce929d0e0e4736"
P = "00f067aa0ba902b7"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith(("linux", "darwin")),
    reason="rotel publishes wheels with its binary for Linux and macOS only")


def rotel_binary() -> str:
    """The collector binary shipped inside the ``rotel`` package."""
    import rotel
    return os.path.join(os.path.dirname(rotel.__file__), "rotel-agent")


class Rotel:
    """rotel in the foreground, its debug output in a file."""

    def __init__(self, folder, *exporter_args):
        self.grpc_port, self.http_port = free_port(), free_port()
        self.output_path = os.path.join(folder, "rotel.out")
        self.log = open(self.output_path, "wb")
        self.proc = subprocess.Popen(
            [rotel_binary(), "start",
             "--otlp-grpc-endpoint", "127.0.0.1:%d" % self.grpc_port,
             "--otlp-http-endpoint", "127.0.0.1:%d" % self.http_port,
             "--debug-log", "traces", "--debug-log-verbosity", "detailed",
             "--batch-timeout", "50ms",
             "--pid-file", os.path.join(folder, "rotel.pid"),
             "--log-file", os.path.join(folder, "rotel.log")]
            + list(exporter_args or ["--exporter", "blackhole"]),
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, NO_COLOR="1"))
        deadline = time.monotonic() + 20
        while "Starting Rotel" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rotel did not start: %s" % self.text())
            time.sleep(0.05)

    def text(self) -> str:
        with open(self.output_path, "rb") as handle:
            return re.sub(r"\x1b\[[0-9;]*m", "", handle.read().decode(errors="replace"))

    def spans(self) -> list:
        return parse_debug_spans(self.text())

    def wait_for_span(self, trace_id, timeout=20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [s for s in self.spans() if s["trace_id"] == trace_id]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError("rotel did not report trace %s:\n%s" % (trace_id, self.text()))

    stop = Receiver.stop  # terminate, then kill after a grace period; close ``log``


def parse_debug_spans(text: str) -> list:
    """Spans from rotel's detailed debug log: ids, name, kind, status, attributes, resource."""
    spans, resource, section, current = [], {}, None, None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("ResourceSpans #"):
            resource, section, current = {}, "resource", None
        elif stripped == "Resource attributes:":
            section = "resource"
        elif stripped.startswith("Span #"):
            current = {"resource": resource, "attributes": {}}
            spans.append(current)
            section = None
        elif stripped == "Attributes:" and current is not None:
            section = "attributes"
        elif stripped.startswith("-> ") and section:
            key, _, value = stripped[3:].partition(": ")
            target = resource if section == "resource" else current["attributes"]
            target[key] = value
        elif current is not None and " : " in stripped:
            key, _, value = stripped.partition(" : ")
            current[key.strip().lower().replace(" ", "_")] = value.strip()
            section = None
    return spans


@pytest.fixture
def rotel(tmp_path):
    collector = Rotel(str(tmp_path))
    yield collector
    collector.stop()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_rotel_accepts_wrapper_span(rotel, env, protocol):
    endpoint = ("127.0.0.1:%d" % rotel.grpc_port if protocol == "grpc"
                else "http://127.0.0.1:%d/v1/traces" % rotel.http_port)
    env.update(TRACEPARENT="00-%s-%s-01" % (T, P), TRACEEXEC_WAIT="1",
               OTEL_SERVICE_NAME="nightly-backup")
    result = run_traceexec(["--endpoint", endpoint, "--name", "backup", "--attr", "job=db",
                            "--attr", "size=42", "--", "sh", "-c", "exit 3"], env)
    assert result.returncode == 3, result.stderr
    received = rotel.wait_for_span(T)
    assert received["parent_id"] == P
    assert re.fullmatch(r"[0-9a-f]{16}", received["id"]) and received["id"] != P
    assert received["name"] == "backup"
    assert received["kind"] == "SPAN_KIND_CLIENT"
    assert received["status_code"] == "STATUS_CODE_ERROR"
    assert received["attributes"]["job"] == "Str(db)"
    assert received["attributes"]["size"] == "Int(42)"
    assert received["attributes"]["process.exit.code"] == "Int(3)"
    assert received["resource"]["service.name"] == "Str(nightly-backup)"


def test_rotel_forwards_to_traceexec_serve(tmp_path, receiver, env):
    folder = tmp_path / "forwarding"
    folder.mkdir()
    collector = Rotel(str(folder), "--exporter", "otlp", "--otlp-exporter-endpoint",
                      "http://%s" % receiver.grpc_endpoint)
    try:
        env.update(TRACEPARENT="00-%s-%s-01" % (T, P), TRACEEXEC_WAIT="1")
        result = run_traceexec(["--endpoint", "127.0.0.1:%d" % collector.grpc_port,
                                "--attr", "hop=rotel", "--", "true"], env)
        assert result.returncode == 0, result.stderr
        via_rotel = collector.wait_for_span(T)
        (stored,) = receiver.wait_for(1, trace_id=T)
        assert stored["span_id"] == via_rotel["id"] and stored["parent_span_id"] == P
        assert stored["attributes"]["hop"] == "rotel"
    finally:
        collector.stop()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_rotel_reads_each_span_with_its_resource_from_grouped_requests(rotel, tmp_path,
                                                                       protocol):
    """Spans of two resources and two scopes, interleaved in the spool, sent by the real
    exporter in one request grouped by resource and scope: rotel reads every span with
    its own resource attributes."""
    from conftest import traceexec_env
    from test_export import flush, spool_for
    from test_grouping import mixed_records
    from traceexec.delivery import spool
    endpoint = ("127.0.0.1:%d" % rotel.grpc_port if protocol == "grpc"
                else "http://127.0.0.1:%d/v1/traces" % rotel.http_port)
    home = tmp_path / "sender"
    records = mixed_records(T)
    spool.write(spool_for(home, endpoint), records)
    status, _, result = flush(traceexec_env(home))
    assert status == 0, result.stderr
    deadline = time.monotonic() + 20
    while len(rotel.spans()) < len(records) and time.monotonic() < deadline:
        time.sleep(0.05)
    received = {s["id"]: s for s in rotel.spans()}
    assert len(received) == len(records), rotel.text()
    for record in records:
        resource = received[record["span_id"]]["resource"]
        assert resource == {key: ("Int(%d)" if isinstance(value, int) else "Str(%s)") % value
                            for key, value in record["resource"].items()}
