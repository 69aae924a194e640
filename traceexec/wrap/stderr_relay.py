"""``--stderr-tail N``: the command's stderr relayed through a pipe, its last lines kept.

For scripts and cron jobs: the command's stderr is a pipe that a thread copies
to traceexec's own stderr as it comes, keeping the last N lines
(``stderr_tail.Tail``); a failed command's span then carries them as an
exception event.  Off by default, because the command then no longer sees a
terminal on stderr.  Only imported when asked for.
"""
from __future__ import annotations

import os
import signal as _signal
import threading

from . import signals
from ..files import write_all
from ..stderr_tail import Tail

DRAIN_SECONDS = 1.0
"""How long to wait, after the command ended, for what its children still write."""


class Relay:
    """A pipe for the command's stderr and the thread that empties it."""

    def __init__(self, lines, target_fd=2):
        self.tail = Tail(lines)
        self.target_fd = target_fd
        self.read_fd, self.write_fd = os.pipe()  # both close-on-exec; spawn dup2s the writer
        self._thread = threading.Thread(target=self._copy, name="traceexec-stderr",
                                        daemon=True)

    def start(self):
        """Start copying; the thread keeps supervise's signals blocked (as the strace
        reader does), so that none is handed to it instead of the waiting thread."""
        previous = _signal.pthread_sigmask(_signal.SIG_BLOCK, set(signals.WATCHED))
        try:
            self._thread.start()
        finally:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, previous)

    def _copy(self):
        while True:
            try:
                data = os.read(self.read_fd, 65536)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data:
                return
            try:
                write_all(self.target_fd, data)
            except OSError:
                pass  # a closed stderr loses the copy, never the command
            self.tail.feed(data)

    def finish(self) -> str:
        """After the command ended: close our writer, drain (bounded), the tail's text."""
        os.close(self.write_fd)
        self._thread.join(DRAIN_SECONDS)
        return self.tail.text()
