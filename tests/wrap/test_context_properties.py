"""Hostile context values: whatever arrives, traceexec hands on a valid context."""
import string

from hypothesis import given, settings, strategies as st

from traceexec.wrap import context

HEXISH = st.text(alphabet="0123456789abcdefABCDEF-xz ", max_size=80)
ANY_TEXT = st.text(max_size=300)
# Values shaped like the real thing, mutated, reach deeper branches than random text.
TRACEPARENTS = st.one_of(
    ANY_TEXT, HEXISH,
    st.builds(lambda v, t, p, f, tail: "%s-%s-%s-%s%s" % (v, t, p, f, tail),
              st.text("0123456789abcdefF", min_size=1, max_size=3),
              st.text("0123456789abcdef", min_size=31, max_size=33),
              st.text("0123456789abcdef", min_size=15, max_size=17),
              st.text("0123456789abcdefg", min_size=1, max_size=3),
              st.sampled_from(["", "-", "-x", "x"])))
MEMBER = st.builds(lambda k, v: "%s=%s" % (k, v),
                   st.text(string.ascii_letters + string.digits + "_-*/@", max_size=20),
                   st.text(string.printable, max_size=20))
TRACESTATES = st.one_of(ANY_TEXT, st.lists(MEMBER, max_size=40).map(",".join))
BAGGAGES = st.one_of(ANY_TEXT, st.lists(MEMBER, max_size=200).map(",".join))


def _is_valid_output(env, incoming):
    parsed = context.parse_traceparent(env["TRACEPARENT"])
    assert parsed is not None and env["TRACEPARENT"] == parsed.traceparent()
    if "TRACESTATE" in env:
        assert incoming.parent is not None
        assert context.parse_tracestate(env["TRACESTATE"]) is not None
    if "BAGGAGE" in env:
        assert context.is_valid_baggage(env["BAGGAGE"])
    return parsed


@settings(max_examples=400, deadline=None)
@given(TRACEPARENTS, st.one_of(st.none(), TRACESTATES), st.one_of(st.none(), BAGGAGES))
def test_any_input_gives_a_valid_context_out(traceparent, tracestate, baggage):
    environ = {"TRACEPARENT": traceparent}
    if tracestate is not None:
        environ["TRACESTATE"] = tracestate
    if baggage is not None:
        environ["BAGGAGE"] = baggage
    incoming = context.read_environment(environ)
    ctx = context.start_span_context(incoming)
    parsed = _is_valid_output(context.child_environment(environ, ctx, incoming), incoming)
    if incoming.parent is not None:
        assert parsed.trace_id == incoming.parent.trace_id


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789abcdef", min_size=32, max_size=32),
       st.text("0123456789abcdef", min_size=16, max_size=16),
       st.integers(0, 255))
def test_well_formed_version_00_round_trips(trace_id, span_id, flags):
    value = "00-%s-%s-%02x" % (trace_id, span_id, flags)
    parsed = context.parse_traceparent(value)
    if trace_id.strip("0") and span_id.strip("0"):
        assert parsed.traceparent() == value
    else:
        assert parsed is None


def test_huge_values_are_refused_quickly():
    huge = "a=" + "x" * (1 << 20)
    members = ",".join("k%d=v" % i for i in range(10000))
    environ = {"TRACEPARENT": "00-" + "a" * (1 << 20), "TRACESTATE": members, "BAGGAGE": huge}
    incoming = context.read_environment(environ)
    assert incoming.parent is None and incoming.tracestate is None and incoming.baggage is None
    environ["TRACEPARENT"] = "00-%s-%s-01" % ("1" * 32, "2" * 16)
    assert context.read_environment(environ).tracestate is None


@settings(max_examples=300, deadline=None)
@given(st.integers(-300, 600) | st.booleans())
def test_traceparent_is_the_printf_form_for_any_flags(flags):
    ctx = context.SpanContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", flags)
    assert ctx.traceparent() == "00-%s-%s-%02x" % (ctx.trace_id, ctx.span_id, flags)


def _child_environment_as_written(environ, span, incoming, propagators):
    """child_environment's rule, written plainly (what the fast one must equal, key order
    too: the process gets its variables in this order)."""
    env = dict(environ)
    carried = []
    if context.TRACECONTEXT_PROPAGATOR in propagators:
        env["TRACEPARENT"] = span.traceparent()
        carried.append(("TRACESTATE", incoming.tracestate))
    if context.BAGGAGE_PROPAGATOR in propagators:
        carried.append(("BAGGAGE", incoming.baggage))
    for name, value in carried:
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    return env


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["PATH", "TRACEPARENT", "TRACESTATE", "BAGGAGE", "A"]),
                       st.sampled_from(["", "x", "k=v"])),
       st.sampled_from([None, "", "k=v"]), st.sampled_from([None, "", "k=v"]),
       st.sets(st.sampled_from(sorted(context.DEFAULT_PROPAGATORS))), st.booleans())
def test_child_environment_is_its_rule(environ, tracestate, baggage, propagators, own):
    span = context.SpanContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)
    incoming = context.Incoming(None, tracestate, baggage, [], frozenset(propagators))
    expected = _child_environment_as_written(environ, span, incoming, propagators)
    given_env = dict(environ)
    got = context.child_environment(given_env, span, incoming, own=own)
    assert list(got.items()) == list(expected.items())
    assert (got is given_env) == own
    if not own:
        assert given_env == environ
