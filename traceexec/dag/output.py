"""Step output: one thread reads every step's pipes and sends each chunk where it goes.

A ``Sink`` is one stream of one step: it appends to the step's log under
the run's directory, to a ``stdout:``/``stderr:`` file when the step names
one, keeps stdout for ``output:``, and forwards to the terminal through
``progress`` (by line, with the step's name in front, when steps run in
parallel).  The ``Pump`` thread multiplexes all open pipes with a selector;
other threads hand it pipes through a queue and a wake-up pipe.
"""
from __future__ import annotations

import os
import queue
import selectors
import threading

from ..files import write_all

CAPTURE_LIMIT = 1024 * 1024  # bytes of stdout kept for ``output:``
READ_SIZE = 65536


class Sink:
    def __init__(self, name, stream, progress, *, log_path=None, file_path=None,
                 capture=False, by_line=False):
        self.name = name
        self.stream = stream           # "stdout" | "stderr"
        self.progress = progress
        self.capture = bytearray() if capture else None
        self.by_line = by_line
        self._partial = b""
        self._files = []
        for path in (log_path, file_path):
            if path:
                self._files.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))

    def feed(self, data: bytes):
        for fd in self._files:
            try:
                write_all(fd, data)
            except OSError:
                pass  # a full disk or a closed pipe loses this copy, never the step
        if self.capture is not None and len(self.capture) < CAPTURE_LIMIT:
            self.capture += data[:CAPTURE_LIMIT - len(self.capture)]
        if self.progress is None:
            return
        if not self.by_line:
            self.progress.output(self.name, self.stream, data)
            return
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        if cut:
            self.progress.output(self.name, self.stream, data[:cut])

    def flush(self):
        """Forward what is left of an unfinished last line (end of an attempt)."""
        if self._partial and self.progress is not None:
            self.progress.output(self.name, self.stream, self._partial + b"\n")
        self._partial = b""

    def close(self):
        self.flush()
        for fd in self._files:
            os.close(fd)
        self._files = []

    def captured_text(self) -> str:
        return bytes(self.capture or b"").decode("utf-8", "replace").strip()


class Pump:
    """The output thread.  ``watch(fd, sink)`` returns an Event set at the pipe's end."""

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._incoming = queue.SimpleQueue()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="dag-output", daemon=True)
        self._thread.start()

    def watch(self, fd, sink) -> threading.Event:
        done = threading.Event()
        self._incoming.put((fd, sink, done))
        self._wake()
        return done

    def detach(self, fd):
        """Stop reading ``fd`` (a pipe still held open by a leftover background process)."""
        self._incoming.put((fd, None, None))
        self._wake()

    def _wake(self):
        try:
            os.write(self._wake_write, b"x")
        except OSError:
            pass

    def stop(self):
        self._stopping = True
        self._wake()
        self._thread.join(5)
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _loop(self):
        watched = {}
        while not (self._stopping and not watched):
            for key, _ in self._selector.select():
                if key.data is None:
                    self._take_incoming(watched)
                    continue
                fd = key.fd
                try:
                    data = os.read(fd, READ_SIZE)
                except OSError:
                    data = b""
                if data:
                    key.data[0].feed(data)
                else:
                    self._close(fd, watched)

    def _take_incoming(self, watched):
        try:
            os.read(self._wake_read, 4096)
        except OSError:
            pass
        while True:
            try:
                fd, sink, done = self._incoming.get_nowait()
            except queue.Empty:
                return
            if sink is None:
                if fd in watched:
                    self._close(fd, watched)
                continue
            watched[fd] = (sink, done)
            self._selector.register(fd, selectors.EVENT_READ, watched[fd])

    def _close(self, fd, watched):
        sink, done = watched.pop(fd)
        self._selector.unregister(fd)
        os.close(fd)
        sink.flush()
        done.set()
