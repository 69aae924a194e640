"""JSON text exactly as ``json.dumps`` writes it (ASCII), without importing ``json``.

``json`` imports ``re`` and, with it, ``enum``, ``collections`` and ``functools``: a
fifth of a warm one-step DAG run's instructions, for the few small documents the run
writes (its record, its report).  Strings go through the C function ``json.dumps``
uses itself (``_json.encode_basestring_ascii``), numbers through the same ``repr``;
anything but plain ``dict`` (of ``str`` keys), ``list``, ``tuple``, ``str``, ``int``,
``float``, ``bool`` and ``None``, or nesting deeper than ``MAX_DEPTH``, is handed to
``json.dumps`` itself, so its text and its errors stay json's.

    dumps({"a": [1, 2.5, None]})                  # '{"a":[1,2.5,null]}'
    dumps({"a": [1, 2.5, None]}, compact=False)   # '{"a": [1, 2.5, null]}'
"""
from __future__ import annotations

try:
    from _json import encode_basestring_ascii as _string
except ImportError:  # an interpreter without json's C part: json does it all
    _string = None

string_text = _string
"""A str's JSON text as dumps writes it (``None`` where json has no C part)."""

MAX_DEPTH = 64
"""Deeper documents (and cycles) go to json, which says what it says of them."""

_INFINITY = float("inf")


class _Unusual(Exception):
    """A value this writer leaves to json."""


def dumps(value, *, compact: bool = True) -> str:
    """``json.dumps(value, separators=(",", ":"))``, or ``json.dumps(value)`` when not
    ``compact``."""
    items, pairs = (",", ":") if compact else (", ", ": ")
    out: list = []
    try:
        if _string is None:
            raise _Unusual
        _write(value, out, items, pairs, 0)
    except _Unusual:
        import json
        return json.dumps(value, separators=(items, pairs))
    return "".join(out)


def _write(value, out, items, pairs, depth) -> None:
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        out.append(float_text(value))
    elif depth >= MAX_DEPTH:
        raise _Unusual
    elif kind is dict:
        out.append("{")
        append = out.append
        separator = ""
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            append(separator)
            separator = items
            append(_string(key))
            append(pairs)
            kind = type(item)  # a record's values: mostly strings, numbers and nulls, inline
            if kind is str:
                append(_string(item))
            elif item is None:
                append("null")
            elif kind is int:
                append(int.__repr__(item))
            else:
                _write(item, out, items, pairs, depth + 1)
        out.append("}")
    elif kind is list or kind is tuple:
        out.append("[")
        first = True
        for item in value:
            if not first:
                out.append(items)
            first = False
            _write(item, out, items, pairs, depth + 1)
        out.append("]")
    else:
        raise _Unusual


def float_text(value: float) -> str:
    """As json writes a float (``allow_nan``: NaN and the infinities as words)."""
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)
