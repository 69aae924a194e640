"""W3C Trace Context and Baggage: a table of inputs and what must come out."""
import pytest

from traceexec.wrap import context

T = "4bf92f3577b34da6a3ce929d0e0e4736"
P = "00f067aa0ba902b7"
VALID = "00-%s-%s-01" % (T, P)

# (TRACEPARENT, TRACESTATE, BAGGAGE) -> (parent kept?, TRACESTATE out, BAGGAGE out)
CASES = [
    ("valid sampled", VALID, None, None, True, None, None),
    ("valid unsampled", "00-%s-%s-00" % (T, P), None, None, True, None, None),
    ("other flags kept", "00-%s-%s-03" % (T, P), None, None, True, None, None),
    ("future version, exactly 55", "cc-%s-%s-01" % (T, P), None, None, True, None, None),
    ("future version, more fields", "cc-%s-%s-01-what-ever" % (T, P), None, None, True, None, None),
    ("future version, no dash after flags", "cc-%s-%s-01what" % (T, P), None, None, False, None, None),
    ("version ff", "ff-%s-%s-01" % (T, P), None, None, False, None, None),
    ("version 00 with extra field", VALID + "-extra", None, None, False, None, None),
    ("version 00 with trailing char", VALID + "x", None, None, False, None, None),
    ("uppercase trace id", "00-%s-%s-01" % (T.upper(), P), None, None, False, None, None),
    ("uppercase version", "0A-%s-%s-01" % (T, P), None, None, False, None, None),
    ("all-zero trace id", "00-%s-%s-01" % ("0" * 32, P), None, None, False, None, None),
    ("all-zero parent id", "00-%s-%s-01" % (T, "0" * 16), None, None, False, None, None),
    ("short trace id", "00-%s-%s-01" % (T[:-1], P), None, None, False, None, None),
    ("long parent id", "00-%s-%s0-01" % (T, P), None, None, False, None, None),
    ("one-digit flags", "00-%s-%s-1" % (T, P), None, None, False, None, None),
    ("non-hex flags", "00-%s-%s-0g" % (T, P), None, None, False, None, None),
    ("wrong separator", "00_%s_%s_01" % (T, P), None, None, False, None, None),
    ("empty", "", None, None, False, None, None),
    ("garbage", "hello", None, None, False, None, None),
    ("surrounding blanks trimmed", "  " + VALID + "\t", None, None, True, None, None),
    ("tracestate kept", VALID, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", None, True,
     "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", None),
    ("tracestate multi-tenant key", VALID, "fw529a3039@dt=abc", None, True, "fw529a3039@dt=abc", None),
    ("tracestate empty members and blanks", VALID, "a=1 ,, b=2", None, True, "a=1,b=2", None),
    ("tracestate 32 members", VALID, ",".join("k%d=v" % i for i in range(32)), None, True,
     ",".join("k%d=v" % i for i in range(32)), None),
    ("tracestate 33 members dropped", VALID, ",".join("k%d=v" % i for i in range(33)), None,
     True, None, None),
    ("tracestate uppercase key dropped", VALID, "Rojo=1", None, True, None, None),
    ("tracestate key starting with digit kept", VALID, "1abc=1", None, True, "1abc=1", None),
    ("tracestate key with @ anywhere kept", VALID, "a@@b@c=1", None, True, "a@@b@c=1", None),
    ("tracestate key starting with @ dropped", VALID, "@a=1,b=2", None, True, None, None),
    ("tracestate duplicate key keeps the first", VALID, "a=1,b=3,a=2", None, True, "a=1,b=3",
     None),
    ("tracestate value with comma-equals dropped", VALID, "a=b=c", None, True, None, None),
    ("tracestate value ending in space dropped", VALID, "a=b ", None, True, "a=b", None),
    ("tracestate missing value dropped", VALID, "a=", None, True, None, None),
    ("tracestate without valid traceparent unused", "junk", "a=1", None, False, None, None),
    ("baggage passed on", VALID, None, "userId=alice,serverNode=DF%2028;k=v", True, None,
     "userId=alice,serverNode=DF%2028;k=v"),
    ("baggage without traceparent passed on", None, None, "a=1", False, None, "a=1"),
    ("baggage with space in value dropped", VALID, None, "a=b c", True, None, None),
    ("baggage bad percent dropped", VALID, None, "a=%zz", True, None, None),
    ("baggage no key dropped", VALID, None, "=v", True, None, None),
]


@pytest.mark.parametrize("label,parent,state,baggage,kept,state_out,baggage_out", CASES,
                         ids=[c[0] for c in CASES])
def test_environment_round_trip(label, parent, state, baggage, kept, state_out, baggage_out):
    environ = {"PATH": "/bin", "OTHER": "x"}
    for name, value in (("TRACEPARENT", parent), ("TRACESTATE", state), ("BAGGAGE", baggage)):
        if value is not None:
            environ[name] = value
    incoming = context.read_environment(environ)
    assert (incoming.parent is not None) == kept
    ctx = context.start_span_context(incoming)
    child = context.child_environment(environ, ctx, incoming)
    out = context.parse_traceparent(child["TRACEPARENT"])
    assert out is not None and child["TRACEPARENT"].startswith("00-")
    if kept:
        assert out.trace_id == incoming.parent.trace_id
        assert out.span_id != incoming.parent.span_id
        assert out.flags == incoming.parent.flags
    assert child.get("TRACESTATE") == state_out
    assert child.get("BAGGAGE") == baggage_out
    # nothing else changes, and the caller's mapping is untouched
    assert {k: v for k, v in child.items() if k not in context.__dict__.values()} == {
        "PATH": "/bin", "OTHER": "x"}
    assert environ.get("TRACEPARENT") == parent


def test_problems_reported_for_verbose():
    incoming = context.read_environment({"TRACEPARENT": "bad", "BAGGAGE": "a b"})
    assert incoming.problems == ["invalid TRACEPARENT ignored, starting a new trace",
                                 "invalid BAGGAGE dropped"]


def test_new_ids_are_nonzero_hex():
    ctx = context.start_span_context(context.read_environment({}))
    assert len(ctx.trace_id) == 32 and len(ctx.span_id) == 16 and ctx.is_sampled
    assert context.parse_traceparent(ctx.traceparent()) == ctx


def test_future_version_is_written_as_version_00():
    incoming = context.read_environment({"TRACEPARENT": "cc-%s-%s-01-x" % (T, P)})
    assert context.start_span_context(incoming).traceparent().startswith("00-" + T)


# OTEL_PROPAGATORS, read through config.Reader
from traceexec.delivery.config import Reader  # noqa: E402


@pytest.mark.parametrize("value,expected,warned", [
    (None, {"tracecontext", "baggage"}, False),
    ("tracecontext", {"tracecontext"}, False),
    ("none", set(), False),
    ("baggage, TRACECONTEXT", {"tracecontext", "baggage"}, False),
    ("b3multi,baggage", {"baggage"}, True),
])
def test_propagators(value, expected, warned):
    problems = []
    environ = {} if value is None else {"OTEL_PROPAGATORS": value}
    assert context.read_propagators(Reader(environ, problems)) == expected
    assert bool(problems) is warned


def test_the_character_tables_are_the_grammars_ranges():
    # written as literals (a generator over range() cost 0.3 M instructions at start-up)
    printable = range(0x21, 0x7F)
    assert context._VALUE_LAST == {chr(c) for c in printable if c not in (0x2C, 0x3D)}
    assert context._BAGGAGE_OCTET == {chr(c) for c in printable
                                      if c not in (0x22, 0x2C, 0x3B, 0x5C)}


def test_an_own_environment_is_written_into_as_a_copy_would_be():
    environ = {"PATH": "/bin", "TRACESTATE": "a=1", "BAGGAGE": "a b"}
    incoming = context.read_environment({"TRACEPARENT": "00-%s-%s-01" % (T, P),
                                         "TRACESTATE": "v=1"})
    ctx = context.start_span_context(incoming)
    mine = dict(environ)
    assert context.child_environment(mine, ctx, incoming, own=True) is mine
    assert mine == context.child_environment(environ, ctx, incoming)
    assert mine["TRACEPARENT"] == ctx.traceparent() and mine["TRACESTATE"] == "v=1"
    assert "BAGGAGE" not in mine and environ["BAGGAGE"] == "a b"


def test_an_empty_traceparent_is_an_invalid_one_and_nothing_is_read_without_one():
    """Pinned where the carriers' parsers became loaded only for a value that is there."""
    incoming = context.read_environment({"TRACEPARENT": "", "TRACESTATE": "a=1"})
    assert incoming.parent is None and incoming.tracestate is None
    assert incoming.problems == ["invalid TRACEPARENT ignored, starting a new trace"]
    incoming = context.read_environment({"TRACESTATE": "not valid", "PATH": "/bin"})
    assert (incoming.parent, incoming.tracestate, incoming.baggage, incoming.problems) == (
        None, None, None, [])
    from traceexec.wrap import carriers
    assert context.parse_traceparent is carriers.parse_traceparent
    assert context.MAX_BAGGAGE_BYTES == 8192


def test_trace_choices_read_the_sampler_and_the_propagators_only_when_set():
    from traceexec.wrap.context import DEFAULT_PROPAGATORS, trace_choices
    problems = []
    assert trace_choices({}, problems) == (None, DEFAULT_PROPAGATORS) and problems == []
    sampler, propagators = trace_choices({"OTEL_TRACES_SAMPLER": "sometimes",
                                          "OTEL_PROPAGATORS": "b3,baggage"}, problems)
    assert propagators == frozenset({"baggage"}) and sampler is not None
    assert [p.split(" ")[0] for p in problems] == ["OTEL_TRACES_SAMPLER=sometimes",
                                                   "OTEL_PROPAGATORS:"]
    assert trace_choices({"OTEL_PROPAGATORS": "none"}, []) == (None, frozenset())


def test_a_span_id_of_zeros_is_drawn_again(monkeypatch):
    draws = iter([bytes(8), bytes(8), b"\x00" * 7 + b"\x01"])
    monkeypatch.setattr(context.os, "urandom", lambda n: next(draws))
    assert context.new_span_id() == "0000000000000001"
