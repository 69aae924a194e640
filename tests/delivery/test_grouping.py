"""Export requests group spans by resource and scope, and every span keeps its resource.

Spans of two resources and two scopes, interleaved in the spool, go through the real
exporter (``traceexec flush``) to a grpcio collector that records each request's shape
and to ``traceexec serve`` over both protocols.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import traceexec_env
from test_export import flush, make_record, spool_for
from traceexec.delivery import spool

HERE = os.path.dirname(os.path.abspath(__file__))
RESOURCES = [{"service.name": "build", "host.name": "h1", "process.pid": 7},
             {"service.name": "deploy"}]
SCOPES = [("traceexec", ""), ("make", "4.3")]


def mixed_records(trace_id: str, count: int = 24) -> list:
    """``count`` spans, each of resource ``i % 2`` and scope ``i % 3 == 0``: interleaved."""
    return [make_record(i, trace_id=trace_id, resource=dict(RESOURCES[i % 2]),
                        scope=SCOPES[i % 3 == 0][0], scope_version=SCOPES[i % 3 == 0][1])
            for i in range(count)]


class ShapeCollector:
    """grpc_collector.py with ``--shapes``: one JSON line per request received."""

    def __init__(self, tmp_path):
        self.names, self.shapes = tmp_path / "names", tmp_path / "shapes"
        self.names.write_text("")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "grpc_collector.py"),
                                      str(self.names), "--shapes", str(self.shapes)],
                                     stdout=subprocess.PIPE)
        self.endpoint = "127.0.0.1:%d" % int(self.proc.stdout.readline())

    def requests(self, spans: int, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.names.read_text().split()) < spans and time.monotonic() < deadline:
            time.sleep(0.05)
        return [json.loads(line) for line in self.shapes.read_text().splitlines()]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def shape_collector(tmp_path):
    collector = ShapeCollector(tmp_path)
    yield collector
    collector.stop()


def test_one_request_has_one_resource_spans_per_resource_and_one_scope_spans_per_scope(
        tmp_path, shape_collector):
    home = tmp_path / "sender"
    records = mixed_records(os.urandom(16).hex())
    spool.write(spool_for(home, shape_collector.endpoint), records)
    status, report, result = flush(traceexec_env(home))
    assert status == 0, result.stderr
    (request,) = shape_collector.requests(len(records))
    assert [resource for resource, _ in request] == RESOURCES  # first seen first
    expected = {}
    for record in records:
        scopes = expected.setdefault(record["resource"]["service.name"], {})
        scopes.setdefault(record["scope"], []).append(record["name"])
    for resource, scope_spans in request:
        assert [name for name, _ in scope_spans] == list(expected[resource["service.name"]])
        assert dict(scope_spans) == expected[resource["service.name"]]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_every_span_arrives_with_its_resource_and_scope(tmp_path, receiver, protocol):
    home = tmp_path / "sender"
    trace_id = os.urandom(16).hex()
    records = mixed_records(trace_id)
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    spool.write(spool_for(home, endpoint), records)
    status, _, result = flush(traceexec_env(home))
    assert status == 0, result.stderr
    received = {r["span_id"]: r for r in receiver.wait_for(len(records), trace_id)}
    assert len(received) == len(records)
    for record in records:
        got = received[record["span_id"]]
        assert got["resource"] == record["resource"]
        assert (got["scope"], got["scope_version"]) == (record["scope"], record["scope_version"])
        assert got["name"] == record["name"] and got["attributes"] == record["attributes"]
