"""The last lines of a failed command's stderr: kept, bounded, redacted, recorded.

A failed DAG step, handler, or a wrapped command under ``--stderr-tail N``
gets one span event in OpenTelemetry's exception style::

    name: "exception"
    exception.type:       "StepFailed" | "CommandFailed"
    exception.message:    "exit status 3"
    exception.stacktrace: the last lines of stderr (at most MAX_BYTES)
    stderr.lines:         how many lines that is

The tail is redacted as command lines are (``--password X``, ``token=X``,
``Authorization:`` values, URL passwords) and every value of a variable whose
name says it is a secret is masked.  ``show``, the viewer and ``show --html``
print ``lines_of`` the event beside the failed span.  Standard library only.
"""
from __future__ import annotations

from collections import deque

DEFAULT_LINES = 10
MAX_LINES = 200
MAX_BYTES = 4096
"""Bytes of tail kept in a span, whatever the number of lines asked for."""
LINE_BYTES = 512
"""A longer line keeps its last LINE_BYTES (the end of a line says most)."""
EVENT = "exception"
TAIL_KEY = "exception.stacktrace"
SECRET_NAMES = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY", "PRIVATE_KEY",
                "CREDENTIAL", "ACCESS_KEY")


class Tail:
    """The last ``lines`` lines of a stream fed in chunks; memory bounded by
    ``lines * LINE_BYTES``."""

    def __init__(self, lines=DEFAULT_LINES):
        self.lines = deque(maxlen=max(1, min(lines, MAX_LINES)))
        self._partial = b""

    def feed(self, data: bytes):
        data = self._partial + data
        parts = data.split(b"\n")
        self._partial = parts.pop()[-LINE_BYTES:]
        for part in parts[-self.lines.maxlen:]:
            self.lines.append(part[-LINE_BYTES:])

    def text(self) -> str:
        lines = list(self.lines) + ([self._partial] if self._partial else [])
        return _bounded(b"\n".join(lines[-self.lines.maxlen:]))


def tail_of_file(path, lines=DEFAULT_LINES) -> str:
    """The last ``lines`` lines of the file at ``path`` ('' when it is missing)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            start = max(0, size - (lines + 1) * LINE_BYTES)
            handle.seek(start)
            data = handle.read(size - start)
    except OSError:
        return ""
    tail = Tail(lines)
    tail.feed(data)
    return tail.text()


def _bounded(data: bytes) -> str:
    text = data.decode("utf-8", "replace").replace("\r", "\n").strip("\n")
    return text[-MAX_BYTES:]


def redacted(text, environ=None) -> str:
    """``text`` with secrets masked: command-line forms, and the values of variables in
    ``environ`` whose names say they are secrets."""
    from .wrap.redact import MASK, SECRET_HEADERS, redact_text
    for name, value in (environ or {}).items():
        if len(value) >= 4 and any(word in name.upper() for word in SECRET_NAMES):
            text = text.replace(value, MASK)
    lines = []
    for line in text.split("\n"):
        lower = line.lower()
        for header in SECRET_HEADERS:  # a header in free text: its value to the line's end
            at = lower.find(header)
            if at >= 0:
                line = line[:at + len(header)] + " " + MASK
                break
        lines.append(redact_text(line))
    return "\n".join(lines)


def exception_event(kind, message, tail, time_ns) -> dict:
    """The span event a failed command gets (OTel exception style)."""
    return {"name": EVENT, "time_ns": time_ns,
            "attributes": {"exception.type": kind, "exception.message": message,
                           TAIL_KEY: tail, "stderr.lines": tail.count("\n") + 1}}


def lines_of(events) -> list:
    """The stderr tail lines a span's events hold, for the viewers ([] when none)."""
    for event in events or ():
        name = event.get("name") if isinstance(event, dict) else event[0]
        attributes = event.get("attributes") if isinstance(event, dict) else event[-1]
        if name == EVENT and isinstance(attributes, dict) and attributes.get(TAIL_KEY):
            return str(attributes[TAIL_KEY]).split("\n")
    return []


def attach_events(home, trace_id, spans) -> None:
    """Give the failed spans among ``spans`` (index rows, loaded without events) their
    events, for the tail beside their row; a trace without errors reads nothing more."""
    from .delivery.span import STATUS_ERROR
    failed = {s.span_id: s for s in spans if s.status == STATUS_ERROR and not s.events}
    if not failed:
        return
    from .store import trace
    for full in trace.load(home, trace_id, keep=(), details=True):
        if full.span_id in failed:
            failed[full.span_id].events = full.events
