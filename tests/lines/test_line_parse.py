"""lines.parse: records as the preamble's PS4 shapes them, cut anywhere in the stream."""
from __future__ import annotations

import pytest

from traceexec.lines import parse


def raw(text, *, status=b"0", when=b"1700000000.123456", parent=b"10", pid=b"10",
        lineno=b"3", depth=b"1", subshell=b"0", function=b"", source=b"s.sh", level=1):
    fields = [status, when, parent, pid, lineno, depth, subshell, function, source, text]
    return b"\x1e" * level + b"\x1f".join(fields) + b"\n"


CASES = [
    # (stream, expected (lineno, pid, text, level, time_ns) of each record)
    (raw(b"echo hi"), [(3, 10, "echo hi", 1, 1700000000123456000)]),
    (raw(b"x='a\nb'") + raw(b"echo done", lineno=b"5"),
     [(3, 10, "x='a\nb'", 1, 1700000000123456000), (5, 10, "echo done", 1, 1700000000123456000)]),
    (raw(b"echo cs", level=3, pid=b"11"), [(3, 11, "echo cs", 3, 1700000000123456000)]),
    (raw(b"echo c", when=b"1700000000,5"), [(3, 10, "echo c", 1, 1700000000500000000)]),
    (b"\x1egarbage\n" + raw(b"true"), [(3, 10, "true", 1, 1700000000123456000)]),
]


@pytest.mark.parametrize("stream,expected", CASES)
@pytest.mark.parametrize("chunk", [1, 7, 1 << 16])
def test_records_whatever_the_chunks(stream, expected, chunk):
    parser = parse.Parser()
    records = []
    for at in range(0, len(stream), chunk):
        records.extend(parser.feed(stream[at:at + chunk]))
    records.extend(parser.finish())
    assert [(int(r.lineno), int(r.pid), r.text, r.level, r.time_ns) for r in records] == expected


def test_fields():
    record, = parse.Parser().feed(raw(b"f a", status=b"1", parent=b"", function=b"g",
                                      depth=b"2", subshell=b"1") + b"\x1e")
    assert (record.status, record.parent_pid, record.function, record.depth,
            record.subshell, record.source) == (1, b"", b"g", 2, b"1", b"s.sh")
