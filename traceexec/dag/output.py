"""Step output: where each chunk a step writes goes.

A ``Sink`` is one stream of one step: it appends to the step's log under the
run's directory (created on the first byte, so a quiet step leaves no file),
to a ``stdout:``/``stderr:`` file when the step names one, keeps what
``output:`` and ``continueOn.output`` need, and forwards to the terminal
through ``progress`` (by line, with the step's name in front, when steps run
in parallel).  The event loop feeds it; nothing here blocks for long.
"""
from __future__ import annotations

import os

from ..files import write_all

DEFAULT_MAX_OUTPUT = 1024 * 1024
"""Bytes of stdout kept for ``output:`` (Dagu's default ``maxOutputSize``)."""

LINE_PIECE = 64 * 1024
"""Bytes of an unfinished line held for the terminal: a longer line (or binary output
without newlines) is shown in pieces of this size, each on its own prefixed line, so
holding and joining stay linear in the output."""


class Sink:
    __slots__ = ("name", "stream", "progress", "log_path", "capture_limit", "capture",
                 "exceeded", "by_line", "written", "_partial", "_held", "_log_fd", "_files")

    def __init__(self, name, stream, progress, *, log_path=None, file_path=None,
                 capture_limit=None, by_line=False):
        self.name = name
        self.stream = stream           # "stdout" | "stderr"
        self.progress = progress
        self.log_path = log_path
        self.capture_limit = capture_limit
        self.capture = bytearray() if capture_limit is not None else None
        self.exceeded = False          # more than capture_limit bytes were written
        self.by_line = by_line
        self.written = 0
        self._partial = ()             # chunks of an unfinished line, LINE_PIECE at most
        self._held = 0
        self._log_fd = None
        self._files = ()
        if file_path:  # a file the DAG names exists afterwards even when empty, as in Dagu
            self._files = (os.open(file_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),)

    def feed(self, data: bytes, *, show=True):
        """Take ``data``; ``show=False`` keeps it off the terminal (logs and capture only)."""
        self.written += len(data)
        if self.log_path is not None and self._log_fd is None:
            try:
                self._log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                                       0o600)
            except OSError:
                self.log_path = None  # an unwritable home loses the log, never the step
        for fd in ((self._log_fd,) if self._log_fd is not None else ()) + self._files:
            try:
                write_all(fd, data)
            except OSError:
                pass  # a full disk or a closed pipe loses this copy, never the step
        if self.capture is not None and not self.exceeded:
            room = self.capture_limit - len(self.capture)
            if len(data) > room:
                self.exceeded = True
            self.capture += data[:room]
        if self.progress is None or not show:
            return
        if not self.by_line:
            self.progress.output(self.name, self.stream, data)
            return
        # a line ends at \n or at \r (a progress bar redraws its line)
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if not cut:
            if self._partial:
                self._partial.append(data)
            else:  # () until a line is held
                self._partial = [data]
            self._held += len(data)
            if self._held >= LINE_PIECE:
                self.flush()
            return
        head = b"".join(self._partial) + data[:cut] if self._partial else data[:cut]
        rest = data[cut:]
        self._partial = [rest] if rest else ()
        self._held = len(rest)
        self.progress.output(self.name, self.stream, head)

    def flush(self):
        """Forward what is held of an unfinished line (end of an attempt, or a piece of a
        line longer than ``LINE_PIECE``)."""
        if not self._partial:  # nothing held (_held is 0 too)
            return
        if self.progress is not None:
            self.progress.output(self.name, self.stream, b"".join(self._partial) + b"\n")
        self._partial = ()
        self._held = 0

    def close(self):
        """Forward what is held and close the files (a quiet step's sink opened none)."""
        if self._partial:
            self.flush()
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
        for fd in self._files:
            os.close(fd)
        self._files = ()

    def captured_text(self) -> str:
        return bytes(self.capture or b"").decode("utf-8", "replace").strip()


def log_text(path, limit=DEFAULT_MAX_OUTPUT) -> str:
    """The first ``limit`` bytes of a step's log ('' when the step wrote nothing)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""
