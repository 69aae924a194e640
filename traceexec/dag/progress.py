"""What the user sees on stderr while a DAG runs.

A line when each step starts and ends (name, status, duration, exit code);
on a terminal the running steps share one line that is redrawn in place,
and only the end lines stay.  Step output comes through here too, so that
it never tears the in-place line.  ``--quiet`` keeps step output and drops
the rest.  The same lines, quiet or not, go to the run's log
(``DAG_RUN_LOG_FILE``), created on its first line.
"""
from __future__ import annotations

import os
import sys
import time

from . import model

CLEAR_LINE = b"\r\x1b[K"


def _binary(stream):
    return getattr(stream, "buffer", stream)


class Progress:
    def __init__(self, dag_name, *, err=None, out=None, is_tty=None, quiet=False,
                 prefix=False, stdout_to_stderr=False, clock=time.monotonic):
        self.label = "[%s] " % dag_name
        self.err = _binary(err or sys.stderr)
        self.out = _binary(out or sys.stdout)
        if stdout_to_stderr:
            self.out = self.err
        if is_tty is None:
            try:
                is_tty = self.err.isatty()
            except (AttributeError, ValueError):
                is_tty = False
        self.is_tty = is_tty
        self.quiet = quiet
        self.prefix = prefix
        self.clock = clock
        self.running = {}
        self.log_path = None
        self.schema = None
        self._log_fd = None
        self._stamp = (None, "")       # (second, its text and a space): one strftime a second
        self._shown = False

    # -- records from the scheduler and the steps' output: all from the run's one thread
    # (the event loop), so nothing here takes a lock (a with-block costs 2 k instructions,
    # two a step)

    def started(self, name):
        self._log("%s started" % name)
        if self.quiet:
            return  # nothing is drawn: what runs since when is not kept either
        if self.is_tty:
            self.running[name] = self.clock()
            self._redraw()
        else:
            self._line("%s started" % name)

    def finished(self, result: model.StepResult):
        self.running.pop(result.step.name, None)
        text = describe(result, self.schema)
        self._log(text)
        if not self.quiet:
            self._line(text)

    def output(self, name, stream, data: bytes):
        target = self.out if stream == "stdout" else self.err
        if self.prefix:
            head = ("%s | " % name).encode()
            data = b"".join(head + line for line in data.splitlines(keepends=True))
        self._clear()
        target.write(data)
        target.flush()
        self._redraw()

    def notice(self, text):
        """A line that is shown even with --quiet (warnings, notices)."""
        self._log(text)
        self._line(text, force=True)

    def say(self, text):
        self._log(text)
        if not self.quiet:
            self._line(text)

    def close(self):
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def _log(self, text):
        if self.log_path is None:
            return
        if self._log_fd is None:
            try:
                self._log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                                       0o600)
            except OSError:
                self.log_path = None
                return
        second = int(time.time())  # what localtime() takes when given nothing
        stamp = self._stamp
        if second != stamp[0]:
            stamp = self._stamp = (second, time.strftime(
                "%Y-%m-%dT%H:%M:%S ", time.localtime(second)))
        line = stamp[1] + text + "\n"
        try:
            data = line.encode()  # strict: the usual case, without looking up a handler
        except UnicodeEncodeError:
            data = line.encode("utf-8", "replace")
        try:
            os.write(self._log_fd, data)
        except OSError:
            pass

    def tick(self):
        if self.is_tty and self.running and not self.quiet:
            self._redraw()

    # -- drawing

    def _line(self, text, force=False):
        if self.quiet and not force:
            return
        self._clear()
        self.err.write((self.label + text + "\n").encode("utf-8", "replace"))
        self._redraw()
        self.err.flush()

    def _clear(self):
        if self._shown:
            self.err.write(CLEAR_LINE)
            self._shown = False

    def _redraw(self):
        if not (self.is_tty and self.running) or self.quiet:
            self.err.flush()
            return
        now = self.clock()
        names = ", ".join("%s %.1fs" % (n, now - t) for n, t in list(self.running.items())[:6])
        more = len(self.running) - 6
        text = self.label + "running: " + names + (" +%d more" % more if more > 0 else "")
        self.err.write(CLEAR_LINE + text.encode("utf-8", "replace")[:200])
        self.err.flush()
        self._shown = True


def describe(result: model.StepResult, schema=None) -> str:
    """``fetch succeeded (0.12s, exit 0)`` or ``load cancelled: upstream step 'x' failed``.

    A step that ran once, with nothing more to say, in one format (most steps); the rest
    by ``_described``, which says the same of these."""
    status, outcome = result.status, result.outcome
    if (outcome is not None and not result.failure_allowed and len(result.attempts) < 2
            and (status == model.SUCCEEDED or not result.reason)):
        # result.duration_s, exit_code and status_word() without their calls
        code = result.exit_code_override
        took = result.end_ns - result.start_ns
        return "%s %s (%.2fs, exit %d)" % (
            result.step.name, model.V2_WORDS.get(status, status) if schema == model.V2 else status,
            (took if took > 0 else 0) / 1e9, outcome.exit_status if code is None else code)
    return _described(result, schema)


def _described(result: model.StepResult, schema=None) -> str:
    text = "%s %s" % (result.step.name, model.status_word(result.status, schema))
    details = []
    if result.ran:
        details.append("%.2fs" % result.duration_s)
        details.append("exit %d" % result.exit_code)
    if len(result.attempts) > 1:
        details.append("%d attempts" % len(result.attempts))
    if result.failure_allowed:
        details.append("allowed by continueOn")
    if details:
        text += " (%s)" % ", ".join(details)
    if result.reason and result.status != model.SUCCEEDED:
        text += ": " + result.reason
    return text
