"""dag/record.py: the model's record classes behave as the dataclasses they replace."""
from __future__ import annotations

import pytest

from traceexec.dag import record as record_module
from traceexec.dag.record import dataclass, field


@dataclass(slots=True)
class Point:
    x: int
    y: int = 0
    tags: list = field(default_factory=list)


def test_fields_by_position_and_keyword_with_defaults():
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, [])
    assert (Point(1, 2).y, Point(x=3, tags=["a"]).tags) == (2, ["a"])
    assert Point(1).tags is not Point(1).tags  # a fresh list per instance


def test_equality_field_by_field_unhashable_and_slotted():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(1, 3)
    assert Point(1) != (1, 0, [])
    with pytest.raises(TypeError):
        hash(Point(1))
    assert Point.__slots__ == ("x", "y", "tags") and not hasattr(Point(1), "__dict__")
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"


@pytest.mark.parametrize("args,kwargs", [
    ((), {}), ((1, 2, [], 4), {}), ((1,), {"x": 2}), ((1,), {"z": 2}),
])
def test_wrong_arguments_are_type_errors(args, kwargs):
    with pytest.raises(TypeError):
        Point(*args, **kwargs)


def test_a_field_without_default_after_one_with_is_refused():
    with pytest.raises(TypeError):
        @dataclass
        class Bad:
            a: int = 0
            b: int


def a_record_class():
    @dataclass(slots=True)
    class Pair:
        a: int
        b: list = field(default_factory=list)
        c: str = "c"
    return Pair


def test_a_few_instances_are_made_without_compiling(monkeypatch):
    from traceexec.dag import record
    monkeypatch.setattr(record, "_init", lambda table: pytest.fail("compiled"))
    Pair = a_record_class()
    assert Pair(1) == Pair(a=1, b=[], c="c") and Pair(1, [2], c="x").c == "x"
    assert Pair(1).b is not Pair(1).b


@pytest.mark.parametrize("made_before", [0, 40])
@pytest.mark.parametrize("args,kwargs,expected", [
    ((1,), {}, (1, [], "c")), ((1, [2]), {"c": "d"}, (1, [2], "d")),
    ((), {"c": "e", "a": 3}, (3, [], "e")), ((1, [], "f"), {}, (1, [], "f")),
])
def test_filled_and_compiled_instances_are_alike(made_before, args, kwargs, expected):
    Pair = a_record_class()
    for _ in range(made_before):
        Pair(0)
    made = Pair(*args, **kwargs)
    assert (made.a, made.b, made.c) == expected


@pytest.mark.parametrize("made_before", [0, 40])
@pytest.mark.parametrize("args,kwargs", [
    ((), {}), ((1, 2, 3, 4), {}), ((1,), {"a": 2}), ((1,), {"z": 2}), ((), {"b": []}),
])
def test_wrong_arguments_are_type_errors_before_and_after_compiling(made_before, args, kwargs):
    Pair = a_record_class()
    for _ in range(made_before):
        Pair(0)
    with pytest.raises(TypeError):
        Pair(*args, **kwargs)


class Slotted(metaclass=record_module.Record):
    x: int
    y: int = 0
    tags: list = field(default_factory=list)


def test_the_metaclass_makes_the_record_the_decorator_makes():
    assert (Slotted(1).x, Slotted(1, 2).y, Slotted(x=3, tags=["a"]).tags) == (1, 2, ["a"])
    assert Slotted(1).tags is not Slotted(1).tags
    assert Slotted(1, 2) == Slotted(1, 2) and Slotted(1, 2) != Slotted(1, 3)
    assert Slotted(1) != Point(1)
    assert Slotted.__slots__ == Point.__slots__ and not hasattr(Slotted(1), "__dict__")
    assert repr(Slotted(1, 2)) == "Slotted(x=1, y=2, tags=[])"
    assert Slotted.__qualname__ == "Slotted" and Slotted.__module__ == Point.__module__
    with pytest.raises(TypeError):
        hash(Slotted(1))
    with pytest.raises(TypeError):
        Slotted(1, 2, [], 4)
    with pytest.raises(TypeError):
        class Bad(metaclass=record_module.Record):
            a: int = 0
            b: int
