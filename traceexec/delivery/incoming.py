"""Delivery to the local store: one appended line per trace in ``incoming.jsonl``.

This is all a wrapper needs of the store (``traceexec -- CMD`` with no
endpoint), so it lives with delivery, apart from the store's reading and
filing (``store.local``, ``store.filing``, ``store.index``), which a wrapper
never imports (nor the ``store`` package).  See ``store.local`` for the layout.
"""
import os
import sys

from . import span
from ..files import ensure_dir

HEX_DIGITS = frozenset("0123456789abcdef")
INCOMING = "incoming.jsonl"
"""Where wrappers append (cheap); readers move its lines into the segments."""


def is_trace_id(text) -> bool:
    """True for a valid W3C trace id: 32 lowercase hex digits, not all zero.

    >>> is_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"), is_trace_id("../x")
    (True, False)
    """
    return is_hex_id(text, 32)


def is_hex_id(text, length: int) -> bool:
    """True for ``length`` lowercase hex digits, not all zero (a W3C trace or span id)."""
    return (isinstance(text, str) and len(text) == length and HEX_DIGITS.issuperset(text)
            and text != "0" * length)


def store_dir(home: str) -> str:
    return os.path.join(home, "store")


def trace_lines(records) -> list:
    """One OTLP/JSON line per trace of ``records``; ValueError for a bad trace id."""
    by_trace: dict = {}
    for record in records:
        if not is_trace_id(record["trace_id"]):
            raise ValueError("bad trace id %r" % (record["trace_id"],))
        by_trace.setdefault(record["trace_id"], []).append(record)
    if (_writer or len(records) > 200 or "json" in sys.modules
            or "traceexec.delivery.otlp_text" in sys.modules):
        # the DAG driver (it loads otlp_text), a big batch, a process that has json (serve,
        # show): the text straight from records; not worth its import for a wrapper's few
        if not _writer:  # imported once, not at each call
            from .otlp_text import text
            _writer.append(text)
        text = _writer[0]
    else:  # a wrapper's few records: no more modules (span.dumps' text, as json is not in)
        text = span.records_text
    return [(text(group) + "\n").encode("utf-8", "surrogatepass") for group in by_trace.values()]


_writer: list = []  # otlp_text.text, once the DAG driver used it
_ready: dict = {}  # home -> its incoming.jsonl, the directory checked by this process


def append(home: str, records: list, *, incoming: bool = False, before: list = ()) -> None:
    """Add span records to the store, one line per trace they belong to.

    ``before``: an earlier batch (a DAG's start records) whose lines go first, in
    the same write: the lines are those two appends would write, for one.

    The lines go to ``incoming.jsonl`` (one append, a file that already
    exists: creating files costs most of a millisecond on the machines
    measured).  Without ``incoming`` they are also filed at once.  The store's
    directory is checked once per process, and again when it is found removed.

    Raises ValueError, before writing anything, for a record whose trace id
    is not 32 lowercase hex digits.
    """
    append_lines(home, trace_lines(before) + trace_lines(records) if before
                 else trace_lines(records), incoming=incoming)


def append_lines(home: str, lines: list, *, incoming: bool = False) -> None:
    """``append``'s work from the lines it writes (``trace_lines``' encoded text)."""
    from ..files import append_log
    path = _ready.get(home)
    for retry in (path is not None, False):
        if path is None:
            if len(_ready) > 16:  # a process that writes to many homes
                _ready.clear()
            path = _ready[home] = os.path.join(ensure_dir(store_dir(home)), INCOMING)
        try:
            append_log(path, b"".join(lines), line=True)
            break
        except FileNotFoundError:  # the directory was removed since: made again, once
            if not retry:
                raise
            path = None
    if not incoming:
        from ..store import filing
        filing.ingest(home)
