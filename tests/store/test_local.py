"""The local store: OTLP JSON files per trace, private, crash-tolerant, fed by the spool."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from traceexec import errors
from traceexec.delivery import span
from traceexec.store import local as store

from conftest import ROOT

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER = "0af7651916cd43dd8448eb211c80319c"


def record(span_id, *, trace_id=TRACE, parent="", name="step", start=1_000, end=2_000,
           **extra):
    return span.new_record(trace_id=trace_id, span_id=span_id, parent_span_id=parent,
                           name=name, start_ns=start, end_ns=end,
                           resource={"service.name": "traceexec"}, **extra)


def test_append_read_round_trip(home):
    full = record("00f067aa0ba902b7", name="backup", trace_state="vendor=x",
                  attributes={"s": "text", "i": 42, "f": 1.5, "b": True, "l": ["a", "b"]},
                  status_code=span.STATUS_ERROR, status_message="exited with status 3",
                  events=[{"name": "signal", "time_ns": 1_500, "attributes": {"n": 15}}],
                  scope_version="0.1.0")
    child = record("b7ad6b7169203331", parent="00f067aa0ba902b7", name="pg_dump")
    store.append(str(home), [full])
    store.append(str(home), [child, record("a000000000000001", trace_id=OTHER)])

    assert store.read(str(home), TRACE) == [full, child]
    assert sorted(store.trace_ids(str(home))) == sorted([TRACE, OTHER])


def test_file_is_collector_file_exporter_json(home):
    store.append(str(home), [record("00f067aa0ba902b7", attributes={"process.exit.code": 3})])
    with open(store.trace_path(str(home), TRACE)) as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 1
    document = json.loads(lines[0])
    resource_spans = document["resourceSpans"][0]
    assert resource_spans["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "traceexec"}}]
    scope_spans = resource_spans["scopeSpans"][0]
    assert scope_spans["scope"]["name"] == "traceexec"
    (otlp,) = scope_spans["spans"]
    assert otlp["traceId"] == TRACE and otlp["spanId"] == "00f067aa0ba902b7"
    assert "parentSpanId" not in otlp
    assert otlp["startTimeUnixNano"] == "1000" and otlp["endTimeUnixNano"] == "2000"
    assert otlp["attributes"] == [{"key": "process.exit.code", "value": {"intValue": "3"}}]


def test_files_are_private(home):
    store.append(str(home), [record("00f067aa0ba902b7")])
    for directory in (os.path.join(str(home), "store"), store.traces_dir(str(home))):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.trace_path(str(home), TRACE)).st_mode) == 0o600


def test_torn_last_line_is_skipped(home):
    store.append(str(home), [record("00f067aa0ba902b7")])
    with open(store.trace_path(str(home), TRACE), "ab") as handle:
        handle.write(b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf9')
    assert [r["span_id"] for r in store.read(str(home), TRACE)] == ["00f067aa0ba902b7"]


def test_a_span_stored_twice_is_read_once(home):
    one = record("00f067aa0ba902b7")
    store.append(str(home), [one])
    store.append(str(home), [one, record("b7ad6b7169203331")])
    assert [r["span_id"] for r in store.read(str(home), TRACE)] == [
        "00f067aa0ba902b7", "b7ad6b7169203331"]


@pytest.mark.parametrize("trace_id", ["../../etc/x", "", "0" * 32, TRACE.upper(), TRACE[:-1]])
def test_append_refuses_ids_that_are_not_hex(home, trace_id):
    with pytest.raises(ValueError):
        store.append(str(home), [record("00f067aa0ba902b7"), record("1", trace_id=trace_id)])
    assert store.trace_ids(str(home)) == []


def test_resolve(home):
    with pytest.raises(store.UnknownTrace, match="empty"):
        store.resolve(str(home), "last")
    store.append(str(home), [record("00f067aa0ba902b7", trace_id=OTHER)])
    store.append(str(home), [record("00f067aa0ba902b7")])
    os.utime(store.trace_path(str(home), TRACE), ns=(2 * 10**18, 2 * 10**18))
    assert store.resolve(str(home), "last") == TRACE
    assert store.resolve(str(home), "0AF765") == OTHER
    assert store.resolve(str(home), TRACE) == TRACE
    with pytest.raises(store.UnknownTrace, match="no trace"):
        store.resolve(str(home), "ffff")
    store.append(str(home), [record("00f067aa0ba902b7", trace_id="4bf9" + "1" * 28)])
    with pytest.raises(store.UnknownTrace, match="ambiguous"):
        store.resolve(str(home), "4bf9")


def test_unknown_trace_is_a_user_error():
    assert issubclass(store.UnknownTrace, errors.TraceexecError)


INGEST = "import sys; from traceexec.store import local as store; print(store.ingest_incoming(sys.argv[1]))"


def test_concurrent_readers_file_each_incoming_line_once(home):
    expected = set()
    for n in range(40):
        ids = ["%016x" % (n * 10 + k + 1) for k in range(3)]
        store.append(str(home), [record(i) for i in ids], incoming=True)
        expected.update(ids)
    env = dict(os.environ, PYTHONPATH=ROOT)
    readers = [subprocess.Popen([sys.executable, "-c", INGEST, str(home)], env=env,
                                stdout=subprocess.PIPE, text=True) for _ in range(4)]
    counts = [int(r.communicate(timeout=60)[0]) for r in readers]
    assert sum(counts) == 40  # lines, each of one trace
    stored = [s["spanId"] for doc in store.documents(str(home), TRACE)
              for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert sorted(stored) == sorted(expected)
    assert store.ingest_incoming(str(home)) == 0


def test_a_torn_incoming_line_is_skipped(home):
    store.append(str(home), [record("00f067aa0ba902b7")], incoming=True)
    with open(os.path.join(str(home), "store", store.INCOMING), "ab") as handle:
        handle.write(b'{"resourceSpans": [{"scopeSp')  # a writer died mid-write
    assert store.ingest_incoming(str(home)) == 1
    assert [r["span_id"] for r in store.read(str(home), TRACE)] == ["00f067aa0ba902b7"]


def test_incoming_lines_reach_their_traces_exactly_once_with_concurrent_writers(home):
    import multiprocessing

    def writer(offset):
        for i in range(50):
            rec = span.new_record(trace_id="%032x" % (offset * 1000 + i + 1), span_id="1" * 16,
                                  name="w", start_ns=1, end_ns=2)
            store.append(str(home), [rec], incoming=True)
            if i % 10 == 0:
                store.trace_ids(str(home))  # readers ingest while writers append

    procs = [multiprocessing.Process(target=writer, args=(n,)) for n in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    ids = store.trace_ids(str(home))
    assert len(ids) == 200
    assert all(len(store.documents(str(home), t)) == 1 for t in ids)
    assert sorted(os.listdir(os.path.join(str(home), "store"))) == ["ingest.lock", "traces"]
