"""Reading OTLP/JSON lines back from a file that a killed writer may have torn.

A writer killed mid-write (SIGKILL, ENOSPC, RLIMIT_FSIZE) leaves part of its
line with no newline, and the next writer's line is glued to it.  Lines are
read one by one; a line that is not one JSON document is searched for the
documents that start inside it, so the good line behind a torn piece is kept,
and only the bytes that cannot be read are set aside (quarantined) and
counted.
"""
from __future__ import annotations

import json

DOCUMENT_START = b'{"resourceSpans"'
"""How every line our writers produce begins (``span.dumps`` of an OTLP request)."""


class Piece:
    """A part of the input: a readable document (``document`` set) or unreadable bytes."""

    __slots__ = ("data", "document", "start")

    def __init__(self, data: bytes, document=None, start: int = 0):
        self.data = data
        self.document = document
        self.start = start
        """Where the piece begins in the data given to ``pieces``."""

    @property
    def readable(self) -> bool:
        return self.document is not None


def _parse(data: bytes):
    """The JSON object in ``data``, or None when it is not exactly one object."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def pieces(data: bytes):
    """Pieces of ``data``, in order: each line a document, or split where documents start.

    >>> [(p.readable, p.data) for p in pieces(b'{"resourceSpans":[]}\\ntorn{"resourceSpans":[]}\\n')]
    [(True, b'{"resourceSpans":[]}'), (False, b'torn'), (True, b'{"resourceSpans":[]}')]
    """
    start = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        line = data[start:end]
        start = end + 1
        if not line.strip():
            continue
        document = _parse(line)
        if document is not None:
            yield Piece(line, document, end - len(line))
        else:
            for piece in _split(line):
                piece.start += end - len(line)
                yield piece


MAX_TRIES = 256
"""Parses tried on one broken line before the rest of it counts as unreadable."""


def _split(line: bytes):
    """A line that is not one document: the documents that begin inside it, and the rest.

    From each place a document may start, the longest readable stretch wins,
    so a document that merely contains the start text in a string stays whole.
    """
    starts = []
    at = line.find(DOCUMENT_START)
    while at >= 0 and len(starts) < MAX_TRIES:
        starts.append(at)
        at = line.find(DOCUMENT_START, at + 1)
    ends = starts[1:] + [len(line)]
    done, index, tries = 0, 0, 0
    while index < len(starts) and tries < MAX_TRIES:
        begin = starts[index]
        found = None
        for later in range(len(ends) - 1, index - 1, -1):
            tries += 1
            document = _parse(line[begin:ends[later]])
            if document is not None:
                found = later, document
                break
            if tries >= MAX_TRIES:
                break
        if found is None:
            index += 1
            continue
        later, document = found
        if begin > done:
            yield Piece(line[done:begin], None, done)
        yield Piece(line[begin:ends[later]], document, begin)
        done, index = ends[later], later + 1
    if done < len(line):
        yield Piece(line[done:], None, done)
