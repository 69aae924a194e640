"""The exporter against hostile and imperfect collectors (issue 24, points 2 and 3).

Each collector is ``hostile_collector.py`` in its own process; ``traceexec flush``
(the exporter's own drain) sends 30 spans to it.  For each case: the flush's
peak memory and wall time are bounded, and the spans are counted: those the
collector took arrived once each (sent = arrived), the others stay in the
spool, and none is set aside as refused.  The bounds are wide on purpose
(the failures they catch were gigabytes and "for ever").
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import conftest
from test_export import make_record, spool_for
from traceexec.delivery import spool

SPANS = 30
HERE = os.path.dirname(os.path.abspath(__file__))
PEAK_MIB = 200
WALL_S = 40


class Hostile:
    """``hostile_collector.py MODE`` in another process; ``taken()`` lists the span ids
    it answered success for."""

    def __init__(self, mode, tmp_path):
        self.spans = tmp_path / ("taken-%s" % mode)
        self.spans.write_text("")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "hostile_collector.py"),
                                      mode, str(self.spans)], stdout=subprocess.PIPE)
        self.port = int(self.proc.stdout.readline())

    def taken(self) -> list:
        return self.spans.read_text().split()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def flush_measured(env, tmp_path, *args) -> tuple:
    """(exit status, report, wall seconds, peak RSS MiB) of ``traceexec flush --json``,
    started from a small launcher (``conftest.run_measured``): a test worker that ran big
    tests before would otherwise lend the flush its own peak."""
    import json
    out = tmp_path / "flush.json"
    began = time.monotonic()
    status, peak_mib, _ = conftest.run_measured(["flush", "--json"] + list(args), env, out)
    wall = time.monotonic() - began
    return status, json.loads(out.read_text()), wall, peak_mib


DELIVERED, KEPT = "delivered", "kept"
CASES = [
    # (mode, protocol, what becomes of the spans, what the report must say)
    ("http-continue", "http", DELIVERED, None),
    ("http-busy", "http", DELIVERED, "retries"),
    ("http-endless-chunked", "http", DELIVERED, None),
    ("http-gzip-bomb", "http", DELIVERED, None),
    ("http-partial-bomb", "http", DELIVERED, None),
    ("http-partial-wrong-shape", "http", DELIVERED, None),
    ("http-partial", "http", DELIVERED, "rejected"),
    ("http-garbage-once", "http", DELIVERED, "retries"),
    ("http-drip", "http", KEPT, None),
    ("grpc-max-frame-size-zero", "grpc", KEPT, None),
    ("grpc-huge-header-frame", "grpc", KEPT, None),
    ("grpc-gzip-bomb", "grpc", DELIVERED, None),
    ("grpc-endless-data", "grpc", KEPT, None),
    ("grpc-busy", "grpc", DELIVERED, "retries"),
    ("grpc-retry-info", "grpc", DELIVERED, "retries"),
    ("grpc-partial-bomb", "grpc", DELIVERED, None),
    ("grpc-ping-drip", "grpc", KEPT, None),
]


@pytest.mark.parametrize("mode,protocol,fate,said", CASES, ids=[c[0] for c in CASES])
def test_a_hostile_collector_costs_bounded_memory_and_time_and_loses_nothing(
        tmp_path, home, env, mode, protocol, fate, said):
    collector = Hostile(mode, tmp_path)
    try:
        endpoint = ("127.0.0.1:%d" if protocol == "grpc" else
                    "http://127.0.0.1:%d/v1/traces") % collector.port
        directory = spool_for(home, endpoint)
        records = [make_record(i) for i in range(SPANS)]
        spool.write(directory, records)
        status, report, wall, peak = flush_measured(env, tmp_path, "--export-timeout", "3s")
        assert peak < PEAK_MIB and wall < WALL_S, (peak, wall, report)
        if "drip" in mode:  # one deadline for the whole request, not one per byte
            assert "no answer" in report["destinations"][0]["error"], report
        assert report["dead_letters"] == 0, report
        taken = collector.taken()
        if fate == DELIVERED:
            assert (status, report["sent"], report["left"]) == (0, SPANS, 0), report
            assert sorted(taken) == sorted(r["span_id"] for r in records)  # once each
        else:
            assert (status, report["sent"], report["left"]) == (1, 0, SPANS), report
            assert taken == [] and report["destinations"][0]["error"], report
        if said == "retries":
            assert report["destinations"][0]["retries"] >= 1, report
        if said == "rejected":
            assert report["destinations"][0]["rejected_by_collector"] == 2, report
    finally:
        collector.stop()
