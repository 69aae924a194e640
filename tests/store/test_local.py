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


def test_an_earlier_batch_goes_first_in_the_same_write_as_two_appends_would(home, tmp_path):
    """A DAG's start records ride with its end records (one write to the store, not two):
    the lines are those of two appends, in order."""
    starts = [record("00f067aa0ba902b7", end=0), record("a000000000000001", trace_id=OTHER, end=0)]
    ended = [record("b7ad6b7169203331", attributes={"i": 1, "s": "x", "b": False, "l": [2]})]
    other = tmp_path / "other"
    store.append(str(other), starts, incoming=True)
    store.append(str(other), ended, incoming=True)
    store.append(str(home), ended, incoming=True, before=starts)

    def incoming(where):
        with open(os.path.join(store.store_dir(str(where)), store.INCOMING), "rb") as handle:
            return handle.read()
    assert incoming(home) == incoming(other)
    assert len(incoming(home).splitlines()) == 3


def segment_lines(home):
    """Every line of every segment file, in order."""
    directory = store.segments_dir(str(home))
    lines = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as handle:
            lines.extend(handle.read().splitlines())
    return lines


def test_segments_are_collector_file_exporter_json(home):
    store.append(str(home), [record("00f067aa0ba902b7", attributes={"process.exit.code": 3})])
    (line,) = segment_lines(home)
    document = json.loads(line)
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
    for directory in (store.store_dir(str(home)), store.segments_dir(str(home))):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    files = [os.path.join(d, n) for d in (store.store_dir(str(home)),
                                          store.segments_dir(str(home)))
             for n in os.listdir(d) if os.path.isfile(os.path.join(d, n))]
    assert any(f.endswith("index.sqlite") for f in files)
    assert {f: stat.S_IMODE(os.stat(f).st_mode) for f in files} == {f: 0o600 for f in files}


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
    assert store.resolve(str(home), "last") == TRACE
    assert store.resolve(str(home), "last~1") == OTHER
    store.append(str(home), [record("00f067aa0ba902b8", trace_id=OTHER)])  # written again
    assert (store.resolve(str(home), "last"), store.resolve(str(home), "LAST~1")) == (OTHER, TRACE)
    assert store.resolve(str(home), "0AF765") == OTHER
    assert store.resolve(str(home), TRACE) == TRACE
    for ref, problem in (("ffff", "no trace"), ("last~2", "holds 2"), ("last~x", "last~N"),
                         ("../x", "no trace")):
        with pytest.raises(store.UnknownTrace, match=problem):
            store.resolve(str(home), ref)
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


TORN_WRITER = """
import os, resource, signal, sys
from traceexec.delivery import span
from traceexec.store import local as store
home, allowed = sys.argv[1], int(sys.argv[2])
path = os.path.join(home, "store", store.INCOMING)
line = store.trace_lines([span.new_record(
    trace_id="%s", span_id="7" * 16, name="torn", start_ns=1, end_ns=2,
    attributes={"pad": "x" * 4000})])[0]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = (os.path.getsize(path) if os.path.exists(path) else 0) + allowed
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
try:
    while line:
        line = line[os.write(fd, line):]
except OSError as error:
    print(error.strerror)
""" % TRACE


def write_torn_line(home, allowed):
    """A real writer cut short by RLIMIT_FSIZE after ``allowed`` bytes of its line."""
    result = subprocess.run([sys.executable, "-c", TORN_WRITER, str(home), str(allowed)],
                            env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "File too large", result.stderr


def test_a_torn_incoming_line_does_not_take_the_next_line_with_it(home):
    store.append(str(home), [record("00f067aa0ba902b7")], incoming=True)
    write_torn_line(home, 1000)
    store.append(str(home), [record("b7ad6b7169203331")], incoming=True)  # glued to the torn
    store.append(str(home), [record("c7ad6b7169203331")], incoming=True)
    filed = store.ingest(str(home))
    assert (filed.lines, filed.quarantined_pieces, filed.quarantined_bytes) == (3, 1, 1000)
    assert [r["span_id"] for r in store.read(str(home), TRACE)] == [
        "00f067aa0ba902b7", "b7ad6b7169203331", "c7ad6b7169203331"]
    (kept,) = os.listdir(store.quarantine_dir(str(home)))
    with open(os.path.join(store.quarantine_dir(str(home)), kept), "rb") as handle:
        piece = handle.read()
    assert piece.startswith(b'{"resourceSpans"') and len(piece) == 1001  # and its newline
    assert store.quarantined(str(home)) == (1, 1000)
    assert all(json.loads(line) for line in segment_lines(home))  # segments stay clean


def test_a_torn_tail_is_quarantined_and_a_whole_line_without_newline_kept(home):
    store.append(str(home), [record("00f067aa0ba902b7")], incoming=True)
    incoming = os.path.join(str(home), "store", store.INCOMING)
    whole = store.trace_lines([record("b7ad6b7169203331")])[0].rstrip(b"\n")
    with open(incoming, "ab") as handle:
        handle.write(b"garbage line\n" + whole)  # the disk filled just before the newline
    filed = store.ingest(str(home))
    assert (filed.lines, filed.quarantined_pieces, filed.quarantined_bytes) == (2, 1, 12)
    assert len(store.read(str(home), TRACE)) == 2
    write_torn_line(home, 50)
    assert (store.ingest(str(home)).quarantined_bytes, len(store.read(str(home), TRACE))) == (
        50, 2)


def test_a_torn_segment_end_stays_its_own_line(home):
    store.append(str(home), [record("00f067aa0ba902b7")])
    (name,) = os.listdir(store.segments_dir(str(home)))
    with open(os.path.join(store.segments_dir(str(home)), name), "ab") as handle:
        handle.write(b'{"resourceSpans":[{"scopeSp')  # an ingest that died mid-append
    store.append(str(home), [record("b7ad6b7169203331")])
    assert len(store.read(str(home), TRACE)) == 2
    os.unlink(store.index_path(str(home)))  # rebuilt from the segments, the torn line skipped
    assert [r["span_id"] for r in store.read(str(home), TRACE)] == [
        "00f067aa0ba902b7", "b7ad6b7169203331"]


@pytest.mark.parametrize("damage", [b"", b"not a database at all" * 100])
def test_a_lost_or_damaged_index_is_rebuilt_from_the_segments(home, damage):
    store.append(str(home), [record("00f067aa0ba902b7", trace_id=OTHER)])
    store.append(str(home), [record("00f067aa0ba902b7"), record("b7ad6b7169203331")])
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(store.index_path(str(home)) + suffix):
            os.unlink(store.index_path(str(home)) + suffix)
    if damage:
        with open(store.index_path(str(home)), "wb") as handle:
            handle.write(damage)
    assert store.trace_ids(str(home)) == [OTHER, TRACE]
    assert len(store.read(str(home), TRACE)) == 2


def test_a_store_of_one_file_per_trace_is_imported(home):
    legacy = os.path.join(str(home), "store", "traces")
    os.makedirs(legacy)
    for trace_id in (OTHER, TRACE):
        with open(os.path.join(legacy, trace_id + ".jsonl"), "wb") as handle:
            handle.write(store.trace_lines([record("00f067aa0ba902b7", trace_id=trace_id)])[0])
    assert sorted(store.trace_ids(str(home))) == sorted([OTHER, TRACE])
    assert not os.path.exists(legacy)
    assert len(store.read(str(home), OTHER)) == 1


def test_a_line_with_several_traces_is_filed_under_each(home):
    mixed = span.to_otlp_json([record("00f067aa0ba902b7"),
                               record("b7ad6b7169203331", trace_id=OTHER),
                               record("c7ad6b7169203331", trace_id="not-an-id")])
    os.makedirs(os.path.join(str(home), "store"))
    with open(os.path.join(str(home), "store", store.INCOMING), "w") as handle:
        handle.write(json.dumps(mixed) + "\n")
    filed = store.ingest(str(home))
    assert (filed.lines, filed.quarantined_pieces) == (2, 1)
    assert [r["span_id"] for r in store.read(str(home), OTHER)] == ["b7ad6b7169203331"]
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
    assert not [n for n in os.listdir(os.path.join(str(home), "store"))
                if n == store.INCOMING or n.endswith(".claimed")]


def test_a_segment_removed_by_hand_is_a_clear_error_and_the_index_can_be_rebuilt(home, env):
    from conftest import run_traceexec
    store.append(str(home), [record("00f067aa0ba902b7", trace_id=OTHER)])
    for name in os.listdir(store.segments_dir(str(home))):
        os.unlink(os.path.join(store.segments_dir(str(home)), name))
    result = run_traceexec(["show", "--json", OTHER], env)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert b"index.sqlite" in result.stderr and b"Traceback" not in result.stderr
    os.unlink(store.index_path(str(home)))
    store.append(str(home), [record("00f067aa0ba902b7")])
    assert store.trace_ids(str(home)) == [TRACE]


def test_the_store_keeps_to_its_size_limit_and_lets_the_oldest_traces_go_whole_for_good(
        home, monkeypatch, capsys):
    """TRACEEXEC_STORE_MAX_MB: the oldest segments go, never the one being appended to,
    each with every trace that had lines in it (never a trace with spans missing, not
    even once the index is rebuilt); the reader says so in one line."""
    from traceexec.store import filing, show
    monkeypatch.setattr(filing, "SEGMENT_BYTES", 64 * 1024)       # small segments
    monkeypatch.setenv(store.MAX_MB_VARIABLE, "1")                  # 1 MiB kept
    padding = {"blob": "x" * 2000}
    ids = ["%032x" % (n + 1) for n in range(1200)]
    store.append(str(home), [record("00f067aa0ba90001", trace_id=ids[0], attributes=padding)])
    first_prune = None
    for n, trace_id in enumerate(ids[1:], 1):  # ~2.5 MB in all, filed as it comes
        store.append(str(home), [record("%016x" % (n + 1), trace_id=trace_id,
                                        attributes=padding)], incoming=True)
        if n == 400:  # the first trace gets a second span, in a segment kept longer
            store.append(str(home), [record("00f067aa0ba90002", trace_id=ids[0],
                                            attributes=padding)], incoming=True)
        if n % 50 == 0:
            filed = store.ingest(str(home))
            if filed.pruned_segments and first_prune is None:
                first_prune = n
                # its first segment went: the trace went whole, not kept with one span,
                # nor brought back with it by an index rebuilt from the segments left
                assert ids[0] not in store.trace_ids(str(home))
                os.unlink(store.index_path(str(home)))
                assert ids[0] not in store.trace_ids(str(home))
    assert first_prune is not None and first_prune > 400
    assert show.main(["--list"], environ={"TRACEEXEC_HOME": str(home)},
                     out=open(os.devnull, "w")) == 0
    kept = set(store.trace_ids(str(home)))
    sizes = [os.path.getsize(os.path.join(store.segments_dir(str(home)), name))
             for name in os.listdir(store.segments_dir(str(home)))]
    assert sum(sizes) <= 1024 * 1024 + 64 * 1024 + 4096  # the limit, and the active one
    assert ids[-1] in kept and ids[1] not in kept and 300 < len(kept) < 1200
    for trace_id in sorted(kept)[:50]:
        assert len(store.read(str(home), trace_id)) == 1
    assert "size limit" in capsys.readouterr().err
    os.unlink(store.index_path(str(home)))
    assert set(store.trace_ids(str(home))) == kept


def test_a_store_limit_that_is_not_a_number_is_refused(home, monkeypatch):
    monkeypatch.setenv(store.MAX_MB_VARIABLE, "lots")
    with pytest.raises(store.BadStoreLimit, match="TRACEEXEC_STORE_MAX_MB"):
        store.append(str(home), [record("00f067aa0ba902b7")])
    monkeypatch.setenv(store.MAX_MB_VARIABLE, "0")  # keep everything
    store.append(str(home), [record("00f067aa0ba902b7")])
    assert store.trace_ids(str(home)) == [TRACE]


def test_the_store_never_writes_through_a_planted_link(home, tmp_path):
    """A link where a segment, the ingest lock or the index would be is never followed:
    the file it names keeps its bytes (safe homes, issue 25 point 3)."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    store.append(str(home), [record("00f067aa0ba902b7")])  # makes the folders
    for name in os.listdir(store.segments_dir(str(home))):
        os.unlink(os.path.join(store.segments_dir(str(home)), name))
    os.symlink(victim, store.segment_path(str(home), 1))
    try:
        store.append(str(home), [record("b7ad6b7169203331")])
    except OSError:
        pass  # refusing is the point; the wrapper reports such a problem in one line
    assert victim.read_bytes() == b"precious\n"


def test_a_store_directory_removed_between_appends_is_made_again(home):
    import shutil
    store.append(str(home), [record("00f067aa0ba902b7")], incoming=True)
    shutil.rmtree(os.path.join(str(home), "store"))
    store.append(str(home), [record("b7ad6b7169203331")], incoming=True)
    assert stat.S_IMODE(os.stat(os.path.join(str(home), "store")).st_mode) == 0o700
    assert [r["span_id"] for r in store.read(str(home), TRACE)] == ["b7ad6b7169203331"]


def test_the_store_directory_is_checked_once_per_process(home, monkeypatch):
    from traceexec.delivery import incoming
    checked = []
    real = incoming.ensure_dir
    monkeypatch.setattr(incoming, "ensure_dir", lambda path: checked.append(path) or real(path))
    for span_id in ("00f067aa0ba902b7", "b7ad6b7169203331", "c7ad6b7169203331"):
        store.append(str(home), [record(span_id)], incoming=True)
    assert checked == [os.path.join(str(home), "store")]
    assert len(store.read(str(home), TRACE)) == 3
