"""otlp_text: the OTLP/JSON text of span records, byte for byte what json writes of
``span.to_otlp_json``."""
from __future__ import annotations

import enum
import json

import pytest

from traceexec.delivery import otlp_text, span

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Level(enum.IntEnum):
    HIGH = 3


class Word(str):
    """A str whose repr is not a plain string's (span.grouped keys resources by repr)."""

    def __repr__(self):
        return "Word(%s)" % str.__repr__(self)


def record(span_id="00f067aa0ba902b7", **extra):
    fields = dict(trace_id=TRACE, span_id=span_id, name="step", start_ns=1_000, end_ns=2_000,
                  resource={"service.name": "traceexec"})
    fields.update(extra)
    return span.new_record(**fields)


CASES = {
    "plain": [record()],
    "every kind of value": [record(attributes={
        "s": "text", "i": 42, "big": 2 ** 70, "neg": -1, "f": 1.5, "zero": 0.0, "tiny": 1e-300,
        "nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "t": True, "b": False,
        "l": ["a", 1, 2.5, True, ["nested"]], "tuple": ("x",), "empty": [], "none": None,
        "enum": Level.HIGH, "unicode": "caf\u00e9 \u2603 \U0001f600", "control": "a\nb\t\"c\\\x01",
        "surrogate": "bad \udc80 byte", 7: "an int key"})],
    "status, parent, state, events, links": [record(
        parent_span_id="b7ad6b7169203331", trace_state="vendor=x,other=\u00e9",
        status_code=span.STATUS_ERROR, status_message="exited with status 3 \u2603",
        flags=0, kind=span.KIND_INTERNAL,
        events=[{"name": "attempt", "time_ns": 5, "attributes": {"exit_code": 3, "d": 0.25}},
                {"name": "signal \u00e9", "time_ns": 6}],
        links=[{"trace_id": TRACE, "span_id": "a000000000000001", "trace_state": "k=v",
                "attributes": {"traceexec.link.type": "depends"}},
               {"trace_id": TRACE, "span_id": "a000000000000002", "trace_state": "",
                "attributes": {}}])],
    "resources and scopes": [
        record("a000000000000001"), record("a000000000000002", scope="other"),
        record("a000000000000003", scope_version="1.0"),
        record("a000000000000004", resource={"service.name": "db", "n": 2}),
        record("a000000000000005")],
    "nothing": [],
}
SHARED = {"service.name": "dag", "n": 1}
CASES["one resource object, two scopes"] = [
    record("a000000000000001", resource=SHARED), record("a000000000000002", resource=SHARED,
                                                        scope="other"),
    record("a000000000000003", resource=SHARED)]
CASES["one resource object, then an equal one"] = [
    record("a000000000000001", resource=SHARED), record("a000000000000002",
                                                        resource=dict(SHARED))]
CASES["equal resources of strings, one with a str subclass"] = [
    record("a000000000000001", resource={"service.name": "dag"}),
    record("a000000000000002", resource={"service.name": "dag"}),
    record("a000000000000003", resource={"service.name": Word("dag")}),
    record("a000000000000004", resource={"service.name": "dag"})]
CASES["equal resources, an int and a bool"] = [
    record("a000000000000001", resource={"service.name": "dag", "n": 1}),
    record("a000000000000002", resource={"service.name": "dag", "n": True})]
CASES["one key, values of every kind"] = [
    record("a00000000000000%d" % i, attributes={"k": value, 1: value, True: value})
    for i, value in enumerate(["s", 1, True, 1.0, [1], None], 1)]

CASES["kept ints and arrays beside equal values of other kinds"] = [
    record("a00000000000000%d" % i, attributes={"k": value, "a": array, "n": 7})
    for i, (value, array) in enumerate([
        (1, ["/bin/true"]), (True, ["/bin/true"]), (1.0, [Word("/bin/true")]), (1, ("x",)),
        (0, ["/bin/true"]), (False, [1]), (0.0, [True]), (1, [1.0]), (2 ** 70, [["x"]]),
        (-1, [{"k": "v"}]), (Level.HIGH, ["a"] * (otlp_text.ARRAY_KEPT + 1)), (3, []),
        (1, ["caf\u00e9", "a\nb"]), (1, ["/bin/true"])], 1)]
CASES["floats at the limits, events named by a str subclass"] = [record(
    attributes={"max": 1.7976931348623157e308, "-max": -1.7976931348623157e308, "-0": -0.0,
                "sub": 5e-324, "nan": float("nan"), "-inf": float("-inf")},
    events=[{"name": Word("w"), "time_ns": 1, "attributes": {"d": float("inf")}}])]

@pytest.mark.parametrize("name", list(CASES))
def test_the_text_is_what_json_writes_of_the_document(name):
    records = CASES[name]
    expected = json.dumps(span.to_otlp_json(records), separators=(",", ":"))
    assert otlp_text.text(records) == expected
    assert otlp_text.text(records) == expected  # again, from the attributes kept


def test_kept_attributes_are_let_go_at_the_limit_and_long_values_never_kept(monkeypatch):
    monkeypatch.setattr(otlp_text, "_PAIRS", {})
    monkeypatch.setattr(otlp_text, "PAIRS_KEPT", 3)
    long = "x" * (otlp_text.PAIR_SIZE + 1)
    for number in range(10):
        records = [record(attributes={"n": "v%d" % number, "same": "s", "long": long, 1: "k"})]
        assert otlp_text.text(records) == json.dumps(span.to_otlp_json(records),
                                                     separators=(",", ":"))
        assert len(otlp_text._PAIRS) <= 3
    assert all(len(value) <= otlp_text.PAIR_SIZE for _, value in otlp_text._PAIRS)


def test_kept_ints_and_arrays_are_let_go_at_the_limit(monkeypatch):
    monkeypatch.setattr(otlp_text, "_NUMBERS", {})
    monkeypatch.setattr(otlp_text, "_ARRAYS", {})
    monkeypatch.setattr(otlp_text, "PAIRS_KEPT", 3)
    for number in range(10):
        records = [record(attributes={"n": number, "a": ["x", str(number)], "one": 1})]
        assert otlp_text.text(records) == json.dumps(span.to_otlp_json(records),
                                                     separators=(",", ":"))
        assert len(otlp_text._NUMBERS) <= 3 and len(otlp_text._ARRAYS) <= 3
    otlp_text._ARRAYS.clear()
    records = [record(attributes={"a": ["x" * otlp_text.ARRAY_SIZE]})]
    assert otlp_text.text(records) == json.dumps(span.to_otlp_json(records),
                                                 separators=(",", ":"))
    assert otlp_text._ARRAYS == {}  # too long to keep
