"""stderr_tail: the last lines of a stream, bounded and redacted, as a span event."""
from __future__ import annotations

from traceexec import stderr_tail


def test_tail_keeps_the_last_lines_of_chunks_and_bounds_long_ones():
    tail = stderr_tail.Tail(3)
    tail.feed(b"one\ntwo\nthr")
    tail.feed(b"ee\nfour\n" + b"x" * 10000)
    assert tail.text().split("\n") == ["three", "four", "x" * stderr_tail.LINE_BYTES]
    assert len(tail._partial) <= stderr_tail.LINE_BYTES


def test_tail_of_file_reads_only_the_end(tmp_path):
    path = tmp_path / "err"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(100000)))
    assert stderr_tail.tail_of_file(str(path), 2) == "line 99998\nline 99999"
    assert stderr_tail.tail_of_file(str(tmp_path / "missing")) == ""


def test_redacted_masks_secret_variables_and_command_line_forms():
    text = "connect with s3cr3t-42 failed in /home/alice\ncurl https://x --token abc"
    out = stderr_tail.redacted(text, {"DB_PASSWORD": "s3cr3t-42", "HOME": "/home/alice"})
    assert "s3cr3t-42" not in out and "abc" not in out
    assert out.startswith("connect with [REDACTED] failed in /home/alice")  # HOME is no secret
    assert stderr_tail.redacted("> Authorization: Bearer abc.def") == \
        "> Authorization: [REDACTED]"
    assert stderr_tail.redacted("login with password=hunter2 failed") == \
        "login with password=[REDACTED] failed"


def test_event_and_lines_of_round_trip():
    event = stderr_tail.exception_event("StepFailed", "exit status 3", "a\nb", 5)
    assert event["name"] == "exception" and event["attributes"]["stderr.lines"] == 2
    assert stderr_tail.lines_of([{"name": "attempt", "attributes": {}}, event]) == ["a", "b"]
    assert stderr_tail.lines_of([]) == []
