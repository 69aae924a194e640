"""jsontext.dumps writes what json.dumps writes, byte for byte, for every kind of value."""
from __future__ import annotations

import enum
import json

import pytest

from traceexec import jsontext


class Number(int):
    pass


class Word(str):
    pass


class Colour(enum.IntEnum):
    RED = 1


DEEP = []
_inner = DEEP
for _ in range(jsontext.MAX_DEPTH + 5):
    _inner.append([])
    _inner = _inner[0]

VALUES = [
    None, True, False, 0, -1, 2 ** 70, -(2 ** 70), 0.0, -0.0, 1.5, 1e300, 1e-300, 0.1 + 0.2,
    float("nan"), float("inf"), float("-inf"),
    "", "plain", "quote \" backslash \\ slash /", "tab\tnew\nline\rcr\b\f",
    "\x00\x01\x1f\x7f", "é ü 中文 \u2028 \u2029", "emoji 😀", "lone \ud800 surrogate",
    [], {}, (), [1, "a", None], (1, 2), {"a": 1, "b": [True, {"c": "d"}]},
    {"é": "ü", "": ""}, {"steps": [{"name": "s0", "exit_code": None, "duration_s": 0.001}]},
    {"t": True, "f": False, "n": None, "i": -3, "s": "x", "l": [], "d": {}, "x": 2.5},
    # left to json: subclasses, other keys, deep nesting
    Number(5), Word("w"), Colour.RED, {1: "int key"}, {None: 1, True: 2, 1.5: 3},
    {"k": Word("v")}, {"k": Number(4)}, {"k": Colour.RED}, [Number(3)], DEEP,
]


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_same_text_as_json(value, compact):
    separators = (",", ":") if compact else (", ", ": ")
    assert jsontext.dumps(value, compact=compact) == json.dumps(value, separators=separators)


def test_json_default_separators_when_not_compact():
    assert jsontext.dumps({"a": [1, 2]}, compact=False) == json.dumps({"a": [1, 2]})


@pytest.mark.parametrize("value", [object(), {"a": {1, 2}}, [b"bytes"], {(1, 2): "tuple key"}])
def test_what_json_refuses_it_refuses_the_same_way(value):
    with pytest.raises(TypeError) as ours:
        jsontext.dumps(value)
    with pytest.raises(TypeError) as theirs:
        json.dumps(value, separators=(",", ":"))
    assert str(ours.value) == str(theirs.value)


def test_a_cycle_is_json_s_error():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        jsontext.dumps(cycle)
