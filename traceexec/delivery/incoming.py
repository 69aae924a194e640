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
    text = _writer(len(records))
    return [(text(group) + "\n").encode("utf-8", "surrogatepass") for group in by_trace.values()]


_otlp_text = None  # otlp_text.text, once json is loaded: imported once, not at each call


def _writer(count: int):
    """How to write a group of records: ``otlp_text.text`` where json is loaded (the DAG
    driver, a big batch), else through ``span`` (a wrapper's few records: no more modules)."""
    global _otlp_text
    if _otlp_text is None:
        if count > 200:  # span.dumps is 2x faster with json loaded; not worth it for few
            import json  # noqa: F401
        if "json" not in sys.modules:
            return _span_text
        from .otlp_text import text
        _otlp_text = text
    return _otlp_text


def _span_text(group) -> str:
    return span.dumps(span.to_otlp_json(group))


_ready: dict = {}  # home -> incoming.jsonl's path, its directory checked by this process


def append(home: str, records: list, *, incoming: bool = False, before: list = ()) -> None:
    """Add span records to the store, one line per trace they belong to.

    ``before``: an earlier batch (a DAG's start records) whose lines go first, in
    the same write: the lines are those two appends would write, for one.

    The lines go to ``incoming.jsonl`` (one append, a file that already
    exists: creating files costs most of a millisecond on the machines
    measured).  Without ``incoming`` they are also filed at once.  The store's
    directory is checked (made, private) once per process, and again when an
    append finds it gone.

    Raises ValueError, before writing anything, for a record whose trace id
    is not 32 lowercase hex digits.
    """
    from ..files import append_log
    lines = trace_lines(before) + trace_lines(records) if before else trace_lines(records)
    data = b"".join(lines)
    path = _ready.get(home)
    if path is None:
        path = _checked_path(home)
        append_log(path, data, line=True)
    else:
        try:
            append_log(path, data, line=True)
        except FileNotFoundError:  # the directory was removed since: make it again, once
            append_log(_checked_path(home), data, line=True)
    if not incoming:
        from ..store import filing
        filing.ingest(home)


def _checked_path(home: str) -> str:
    directory = store_dir(home)
    _ready.pop(home, None)
    ensure_dir(directory)
    if len(_ready) >= 16:  # a process that writes to many homes: keep few
        _ready.clear()
    path = _ready[home] = os.path.join(directory, INCOMING)
    return path
