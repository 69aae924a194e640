"""Stored spans already written as ``show --json`` writes them, recognised in their text.

Most stored lines were written by traceexec from span records: compact JSON, ids in
lowercase hex, attributes once per key, strings escaped as the ``json`` module escapes
them.  The text of such a span is, byte for byte, its text in the document, so it can be
spliced as it is instead of parsed, normalised and encoded again.  ``SPAN`` matches
exactly the texts the encoder writes for a span in normal form (no wider: ``-0``, ``\\/``,
``\\u0041``, raw non-ASCII, a space between tokens all fail it); ``is_spliceable`` adds
the two checks a regular expression cannot make.  A text that fails is parsed as before.

    >>> bool(is_spliceable(SPAN('{"traceId":"%s","spanId":"%s","name":"a","kind":1,'
    ...     '"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[],'
    ...     '"status":{"code":0},"flags":257}' % ("ab" * 16, "cd" * 8))))
    True
"""
from __future__ import annotations

import re

_PLAIN = r'[ !#-\[\]-~]*'  # printable ASCII but '"' and '\': written as they are
_ESCAPE = (r'\\(?:["\\bfnrt]|u(?:00(?:0[0-7bef]|1[0-9a-f]|7f|[89a-f][0-9a-f])'
           r'|0[1-9a-f][0-9a-f]{2}|[1-9a-f][0-9a-f]{3}))')  # the escapes json writes
_BODY = r'%s(?:%s%s)*"' % (_PLAIN, _ESCAPE, _PLAIN)
_STRING = '"' + _BODY
_FILLED = '"(?!")' + _BODY  # a string that is not empty
_INT = r'(?:0|-?[1-9][0-9]{0,20})'  # as str(int(x)) writes it: no -0, no leading zero
_DOUBLE = r'(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:e[-+][0-9]+)?|NaN|-?Infinity)'
_FLAGS = r'(?:25[6-9]|2[6-9][0-9]|[34][0-9]{2}|50[0-9]|51[01])'  # 0x100 | (flags & 0xFF)
_SCALAR = (r'\{(?:"stringValue":%s|"boolValue":(?:true|false)|"intValue":"%s"'
           r'|"doubleValue":%s)\}' % (_STRING, _INT, _DOUBLE))


def _list(item: str) -> str:
    """A JSON list of ``item``s, each an object: the pattern of one written once (the
    first after '[', the others after '},'), which keeps the compiled grammar small."""
    return r'\[(?:(?:(?<=\[)|(?<=\}),)%s)*\]' % item


_VALUE = r'(?:%s|\{"arrayValue":\{"values":%s\}\})' % (_SCALAR, _list(_SCALAR))
_ATTRIBUTES = _list(r'\{"key":%s,"value":%s\}' % (_STRING, _VALUE))
_EVENT = r'\{"timeUnixNano":"%s","name":%s,"attributes":%s\}' % (_INT, _STRING, _ATTRIBUTES)

SPAN = re.compile(
    r'\{"traceId":"([0-9a-f]{32})","spanId":"([0-9a-f]{16})","name":%(s)s,"kind":%(i)s,'
    r'"startTimeUnixNano":"%(i)s","endTimeUnixNano":"(%(i)s)","attributes":%(a)s,'
    r'"status":\{"code":%(i)s(?:,"message":%(f)s)?\},"flags":%(flags)s'
    r'(?:,"parentSpanId":"[0-9a-f]{16}")?(?:,"traceState":%(f)s)?'
    r'(?:,"events":(?!\[\])%(e)s)?\}' % {
        "s": _STRING, "i": _INT, "a": _ATTRIBUTES, "f": _FILLED, "flags": _FLAGS,
        "e": _list(_EVENT)}).match
"""``SPAN(line, at)``: the span written at ``at`` in normal form, groups trace id, span id
and end time; None otherwise."""

_KEYS = re.compile(r'\{"key":"([^"\\]*)').findall
"""Each attribute key up to its first escape: equal keys give equal prefixes, so distinct
prefixes are distinct keys (equal prefixes only refuse more)."""
_DOUBLES = re.compile(r'"doubleValue":(%s)\}' % _DOUBLE).findall
_NOT_FINITE = frozenset(("NaN", "Infinity", "-Infinity"))


def is_spliceable(match) -> bool:
    """Whether the span ``SPAN`` matched is its own normal form: every attribute key
    once (checked over the span's events' keys too, which can only refuse more) and
    every double as ``repr`` writes it."""
    if match is None:
        return False
    text = match.group()
    keys = _KEYS(text)
    if len(keys) > 1 and len(set(keys)) != len(keys):
        return False
    if '"doubleValue":' in text:
        for number in _DOUBLES(text):
            if number not in _NOT_FINITE and repr(float(number)) != number:
                return False
    return True
