"""Step output to the terminal by line: held bytes stay bounded, whatever the output."""
from __future__ import annotations

from traceexec.dag.output import LINE_PIECE, Sink


class Recorded:
    """A progress that keeps what it is given."""

    def __init__(self):
        self.chunks = []

    def output(self, name, stream, data):
        self.chunks.append(data)


def test_a_line_without_end_goes_out_in_pieces_and_nothing_grows(tmp_path):
    progress = Recorded()
    sink = Sink("s", "stdout", progress, log_path=str(tmp_path / "s.out"), by_line=True)
    chunk = b"x" * 65536
    for _ in range(200):  # 13 MB, one line
        sink.feed(chunk)
        assert sum(len(c) for c in sink._partial) < LINE_PIECE + len(chunk)
    sink.close()
    assert len(progress.chunks) >= 200 * len(chunk) // LINE_PIECE
    assert b"".join(progress.chunks).replace(b"\n", b"") == chunk * 200
    assert all(c.endswith(b"\n") for c in progress.chunks)
    assert (tmp_path / "s.out").stat().st_size == 200 * len(chunk)  # the log is whole


def test_carriage_returns_end_lines_and_the_rest_waits():
    progress = Recorded()
    sink = Sink("s", "stderr", progress, by_line=True)
    sink.feed(b"10%\r20%\r3")
    sink.feed(b"0%\rdone\nta")
    sink.close()
    assert progress.chunks == [b"10%\r20%\r", b"30%\rdone\n", b"ta\n"]
