"""traceexec.remote.homecoming: the frame of remote spans taken out of ssh's stderr,
whatever the chunks; everything else passes through byte for byte."""

import pytest

from traceexec.remote.carrier import HOMECOMING_MARK
from traceexec.remote import homecoming

STREAM = b"before\x1e no mark\n" + HOMECOMING_MARK + b'{"resourceSpans":[]}\n' + b"after"


@pytest.mark.parametrize("size", [1, 2, 7, len(HOMECOMING_MARK), 1000])
def test_the_frame_is_taken_out_at_any_chunk_size(size):
    out = []
    frames = homecoming.FrameFilter(out.append)
    for at in range(0, len(STREAM), size):
        frames.feed(STREAM[at:at + size])
    frames.close()
    assert b"".join(out) == b"before\x1e no mark\nafter"
    assert [frame for frame, _ in frames.frames] == [b'{"resourceSpans":[]}']


def test_a_partial_mark_at_the_end_is_passed_on():
    out = []
    frames = homecoming.FrameFilter(out.append)
    frames.feed(b"tail" + HOMECOMING_MARK[:5])
    frames.close()
    assert b"".join(out) == b"tail" + HOMECOMING_MARK[:5] and frames.frames == []


def test_a_frame_over_the_limit_is_dropped(monkeypatch):
    monkeypatch.setattr(homecoming, "FRAME_LIMIT", 10)
    out = []
    frames = homecoming.FrameFilter(out.append)
    frames.feed(HOMECOMING_MARK + b"x" * 11 + b"\nrest")
    assert frames.too_big and frames.frames == [] and b"".join(out) == b"rest"


def test_subtree_keeps_only_descendants():
    records = [{"span_id": s, "parent_span_id": p} for s, p in
               [("b", "a"), ("c", "b"), ("d", "x"), ("e", "c")]]
    assert sorted(r["span_id"] for r in homecoming.subtree(records, "a")) == ["b", "c", "e"]


@pytest.mark.parametrize("frame,offset,document", [
    (b"3000000000 {}", 1000.0, b"{}"),
    (b"1000000 {}", -1999.0, b"{}"),
    (b"%N {}", None, b"{}"),       # a date(1) without %N
    (b"{}", None, b"{}"),
    (b"123 ", 0.0 - 1999.999877, b""),
])
def test_the_remote_clock_reading_gives_the_offset(frame, offset, document):
    got, rest = homecoming.clock_offset_ms(frame, 2_000_000_000)
    assert rest == document
    assert got == (None if offset is None else round(offset, 3))
