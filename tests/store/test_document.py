"""``show --json`` at size: the same document as the records give, held only once.

The document's text is compared with ``span.to_otlp_json`` of ``store.read`` (the
records' own document, what ``show --json`` printed before it was streamed), on
spans the wrapper writes and on OTLP/JSON written by other programs (upper-case ids,
numbers as numbers, repeated keys, start records then ends).
"""
from __future__ import annotations

import json
import os

from traceexec.delivery import span
from traceexec.store import local as store

from conftest import run_measured, run_traceexec

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def records_document(home) -> str:
    return json.dumps(span.to_otlp_json(store.read(str(home), TRACE)),
                      separators=(",", ":")) + "\n"


def record(number, *, end=None, service="build", scope="traceexec", **extra):
    return span.new_record(
        trace_id=TRACE, span_id="%016x" % number,
        parent_span_id="%016x" % (number // 2) if number > 1 else "",
        name="step %d \u00e9\u2603" % number, start_ns=number * 1000,
        end_ns=number * 1000 + 500 if end is None else end,
        attributes={"n": number, "ok": number % 2 == 0, "ratio": number / 3,
                    "argv": ["cc", "-c", "f%d.c" % number], "text": 'q"\\\n\ud800'},
        resource={"service.name": service}, scope=scope, **extra)


def foreign_line() -> bytes:
    """A document another program wrote: ids in upper case, numbers as JSON numbers,
    a key twice, a kvlist, no kind or flags, a start record and its end."""
    spans = [{"traceId": TRACE.upper(), "spanId": "00000000000000AA", "name": "foreign",
              "startTimeUnixNano": 5, "endTimeUnixNano": 0,
              "attributes": [{"key": "k", "value": {"intValue": 7}}]},
             {"traceId": TRACE, "spanId": "00000000000000aa", "name": "foreign",
              "startTimeUnixNano": "5", "endTimeUnixNano": "9",
              "attributes": [{"key": "k", "value": {"intValue": 7}},
                             {"key": "m", "value": {"kvlistValue": {"values": [
                                 {"key": "a", "value": {"boolValue": True}}]}}},
                             {"key": "k", "value": {"doubleValue": 2}},
                             {"key": "b", "value": {"bytesValue": "AAE="}}],
              "status": {"code": 2, "message": "failed"}, "traceState": "a=b",
              "events": [{"timeUnixNano": 6, "name": "exception"}],
              "links": [{"traceId": "AB" * 16, "spanId": "CD" * 8, "traceState": "x=y"}]}]
    document = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "other"}}]},
        "scopeSpans": [{"scope": {"name": "sdk", "version": "1.2"}, "spans": spans}]}]}
    return (json.dumps(document) + "\n").encode()


def test_json_is_the_records_document_byte_for_byte(env, home):
    home = str(home)
    store.append(home, [record(1), record(2, service="other"), record(3, scope="make"),
                        record(4, end=0)], incoming=True)
    store.append(home, [record(4, events=[{"name": "e", "time_ns": 4200,
                                           "attributes": {"x": 1}}],
                               links=[{"trace_id": TRACE, "span_id": "%016x" % 1,
                                       "trace_state": "", "attributes": {}}]),
                        record(2, service="other"), record(5, trace_state="k=v",
                                                           status_message="no")],
                 incoming=True)
    with open(os.path.join(store.store_dir(home), store.INCOMING), "ab") as handle:
        handle.write(foreign_line())
    result = run_traceexec(["show", "--json", TRACE], env)
    assert result.returncode == 0, result.stderr
    expected = records_document(home)
    assert result.stdout.decode() == expected
    names = [s["name"] for rs in json.loads(expected)["resourceSpans"]
             for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert len(names) == 6 and "foreign" in names


def peak_rss_mib(args, env, output) -> tuple:
    """(peak RSS in MiB, bytes written) of one run of the real CLI (``run_measured``: this
    test's own process holds the spans it made)."""
    status, peak_mib, stderr = run_measured(args, env, output)
    assert status == 0, stderr
    return peak_mib, os.path.getsize(output)


def test_json_of_a_big_trace_holds_little_more_than_its_output(env, home, tmp_path):
    """20,000 spans: the memory ``show --json`` adds to what ``show --list`` (the same
    program, store and imports) needs stays under four times the document's size (it was
    about fourteen times: parsed documents, records and the output's objects at once)."""
    home = str(home)
    batch = []
    for number in range(1, 20_001):
        batch.append(record(number))
        if len(batch) == 2000:
            store.append(home, batch, incoming=True)
            batch = []
    store.ingest(home)
    base, _ = peak_rss_mib(["show", "--list", "--json"], env, tmp_path / "list")
    peak, written = peak_rss_mib(["show", "--json", TRACE], env, tmp_path / "document")
    assert written > 10 * 2**20  # over document.SPLIT_ABOVE_BYTES: read by two processes
    assert (tmp_path / "document").read_text() == records_document(home)
    assert peak - base < 4 * written / 2**20, (peak, base, written)



def test_spans_the_child_never_sent_are_read_here(monkeypatch):
    """The forked child sends one framed answer per line; where its answers stop (a
    child killed, a torn frame), this process reads the rest itself, in order."""
    import io
    import marshal

    from traceexec.store import document

    line = json.dumps(span.to_otlp_json([record(1), record(2)]), separators=(",", ":"))
    lines = [line.replace("%016x" % 1, "%016x" % (100 + i)).encode() for i in range(5)]
    alone = [one for each in lines for one in document._spans_of(each, TRACE)]
    frame = len(marshal.dumps([])).to_bytes(8, "little") + marshal.dumps([])
    for torn in (b"", frame[:5], frame[:9]):
        try:
            document._answer(io.BytesIO(torn))
            raise AssertionError("a torn frame was read: %r" % torn)
        except EOFError:
            pass
    assert document._answer(io.BytesIO(frame)) == []
    real_answer, calls = document._answer, []

    def first_answer_only(answers):
        calls.append(1)
        if len(calls) > 1:
            raise EOFError("the child ended early")
        return real_answer(answers)

    monkeypatch.setattr(document, "_answer", first_answer_only)
    assert list(document._in_two(list(lines), TRACE)) == alone
    assert len(calls) == 2
