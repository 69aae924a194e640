"""The cases of the W3C Trace Context validation suite, in our own words, for every CI run.

Each case is what an HTTP service would receive (header name, value pairs),
handed to traceexec as TRACEPARENT/TRACESTATE the way adapter.py does, and
what the context passed on to the command must then be.  They run in-process
against wrap.context and, all of them, through the real binary.
"""
import pytest

from adapter import child_context, headers_to_environment
from conftest import run_traceexec
from traceexec.wrap import context

T = "12345678901234567890123456789012"
P = "1234567890123456"
TP = "00-%s-%s-01" % (T, P)
UNSAMPLED = "00-%s-%s-00" % (T, P)
ALL_KEY = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
ALL_VALUE = "".join(map(chr, range(0x20, 0x2C))) + "".join(map(chr, range(0x2D, 0x3D))) + \
    "".join(map(chr, range(0x3E, 0x7F)))
MEMBERS = ["bar%02d=%02d" % (i, i) for i in range(1, 34)]

# (label, headers, trace id kept?, members expected in TRACESTATE (None: no TRACESTATE))
CASES = [
    ("no context at all", [], False, None),
    ("traceparent alone", [("traceparent", TP)], True, None),
    ("traceparent twice (two headers) starts a new trace",
     [("traceparent", TP), ("traceparent", "00-%s-%s-01" % (T, "1" * 16))], False, None),
    ("header names are case-insensitive", [("TraceParent", TP), ("TRACESTATE", "foo=1")],
     True, {"foo": "1"}),
    ("a look-alike header name is not traceparent", [("trace-parent", TP)], False, None),
    ("version cc with exactly 55 characters", [("traceparent", "cc" + TP[2:])], True, None),
    ("version cc with more fields after a dash", [("traceparent", "cc" + TP[2:] + "-what")],
     True, None),
    ("version cc with more characters but no dash", [("traceparent", "cc" + TP[2:] + "what")],
     False, None),
    ("version ff", [("traceparent", "ff" + TP[2:])], False, None),
    ("version with a non-hex character", [("traceparent", ".0" + TP[2:])], False, None),
    ("version too long", [("traceparent", "000" + TP[2:])], False, None),
    ("version too short", [("traceparent", "0" + TP[2:])], False, None),
    ("version 00 with a trailing field", [("traceparent", TP + "-01")], False, None),
    ("trace id all zero", [("traceparent", "00-%s-%s-01" % ("0" * 32, P))], False, None),
    ("trace id with a non-hex character", [("traceparent", "00-%s.-%s-01" % (T[:-1], P))],
     False, None),
    ("trace id upper case", [("traceparent", "00-%s-%s-01" % ("ABCDEF" + T[6:], P))], False, None),
    ("trace id too long", [("traceparent", "00-%s0-%s-01" % (T, P))], False, None),
    ("trace id too short", [("traceparent", "00-%s-%s-01" % (T[:-1], P))], False, None),
    ("parent id all zero", [("traceparent", "00-%s-%s-01" % (T, "0" * 16))], False, None),
    ("parent id with a non-hex character", [("traceparent", "00-%s-%s.-01" % (T, P[:-1]))],
     False, None),
    ("parent id too long", [("traceparent", "00-%s-%s0-01" % (T, P))], False, None),
    ("parent id too short", [("traceparent", "00-%s-%s-01" % (T, P[:-1]))], False, None),
    ("flags with a non-hex character", [("traceparent", TP[:-2] + ".0")], False, None),
    ("flags too long", [("traceparent", TP + "0")], False, None),
    ("flags too short", [("traceparent", TP[:-1])], False, None),
    ("blanks around traceparent", [("traceparent", "\t " + TP + " \t")], True, None),
    ("tracestate without traceparent is not used", [("tracestate", "foo=1")], False, None),
    ("tracestate with traceparent", [("traceparent", UNSAMPLED), ("tracestate", "foo=1")],
     True, {"foo": "1"}),
    ("an empty tracestate header is dropped", [("traceparent", UNSAMPLED), ("tracestate", "")],
     True, None),
    ("an empty header beside a full one", [("traceparent", UNSAMPLED), ("tracestate", ""),
                                           ("tracestate", "foo=1")], True, {"foo": "1"}),
    ("two headers with different keys are one list",
     [("traceparent", UNSAMPLED), ("tracestate", "foo=1"), ("tracestate", "bar=2")], True,
     {"foo": "1", "bar": "2"}),
    ("a key twice in one header: one of them kept",
     [("traceparent", UNSAMPLED), ("tracestate", "foo=1,foo=2")], True, {"foo": "1"}),
    ("a key twice in two headers: one of them kept",
     [("traceparent", UNSAMPLED), ("tracestate", "foo=1"), ("tracestate", "foo=1")], True,
     {"foo": "1"}),
    ("every allowed key and value character", [("traceparent", UNSAMPLED),
                                               ("tracestate", ALL_KEY + "=" + ALL_VALUE)],
     True, {ALL_KEY: ALL_VALUE}),
    ("allowed characters with @ in the key",
     [("traceparent", UNSAMPLED), ("tracestate", ALL_KEY + "@a-z0-9_-*/=" + ALL_VALUE)],
     True, {ALL_KEY + "@a-z0-9_-*/": ALL_VALUE}),
    ("blanks around members", [("traceparent", UNSAMPLED),
                               ("tracestate", "foo=1 \t , \t bar=2,\t \tbaz=3")], True,
     {"foo": "1", "bar": "2", "baz": "3"}),
    ("blanks at both ends", [("traceparent", UNSAMPLED), ("tracestate", "\t foo=1 \t")], True,
     {"foo": "1"}),
    ("a key with a blank is dropped", [("traceparent", UNSAMPLED), ("tracestate", "foo =1")],
     True, None),
    ("an upper-case key is dropped", [("traceparent", UNSAMPLED), ("tracestate", "FOO=1")],
     True, None),
    ("a key with a dot is dropped", [("traceparent", UNSAMPLED), ("tracestate", "foo.bar=1")],
     True, None),
    ("@ at the end of a key", [("traceparent", UNSAMPLED), ("tracestate", "foo@=1,bar=2")],
     True, {"foo@": "1", "bar": "2"}),
    ("@ at the start of a key drops the list",
     [("traceparent", UNSAMPLED), ("tracestate", "@foo=1,bar=2")], True, None),
    ("@@ inside a key", [("traceparent", UNSAMPLED), ("tracestate", "foo@@bar=1,bar=2")], True,
     {"foo@@bar": "1", "bar": "2"}),
    ("two @ in a key", [("traceparent", UNSAMPLED), ("tracestate", "foo@bar@baz=1,bar=2")], True,
     {"foo@bar@baz": "1", "bar": "2"}),
    ("32 members over four headers", [("traceparent", UNSAMPLED)] +
     [("tracestate", ",".join(MEMBERS[i:i + 10])) for i in (0, 10, 20)] +
     [("tracestate", ",".join(MEMBERS[30:32]))], True,
     dict(m.split("=") for m in MEMBERS[:32])),
    ("33 members drop the list", [("traceparent", UNSAMPLED)] +
     [("tracestate", ",".join(MEMBERS[i:i + 10])) for i in (0, 10, 20)] +
     [("tracestate", ",".join(MEMBERS[30:33]))], True, None),
    ("a key of 256 characters", [("traceparent", UNSAMPLED), ("tracestate", "foo=1"),
                                 ("tracestate", "z" * 256 + "=1")], True,
     {"foo": "1", "z" * 256: "1"}),
    ("a key of 257 characters drops the list",
     [("traceparent", UNSAMPLED), ("tracestate", "foo=1"), ("tracestate", "z" * 257 + "=1")],
     True, None),
    ("long keys with @ within 256", [("traceparent", UNSAMPLED), ("tracestate", "foo=1"),
                                     ("tracestate", "t" * 241 + "@" + "v" * 14 + "=1"),
                                     ("tracestate", "t" * 242 + "@v=1"),
                                     ("tracestate", "t@" + "v" * 15 + "=1")], True,
     {"foo": "1", "t" * 241 + "@" + "v" * 14: "1", "t" * 242 + "@v": "1", "t@" + "v" * 15: "1"}),
    ("a value with = drops the list", [("traceparent", UNSAMPLED), ("tracestate", "foo=bar=baz")],
     True, None),
    ("an empty value drops the list", [("traceparent", UNSAMPLED), ("tracestate", "foo=,bar=3")],
     True, None),
    ("the random flag of level 2 is passed on", [("traceparent", TP[:-2] + "02")], True, None),
]


def _members(tracestate):
    return dict(m.split("=", 1) for m in tracestate.split(",")) if tracestate else None


def _check(headers, kept, members, traceparent, tracestate):
    out = context.parse_traceparent(traceparent)
    assert out is not None and traceparent.startswith("00-")
    sent = ",".join(v for k, v in headers if k.lower() == "traceparent")
    if kept:
        assert out.trace_id == T and out.span_id != P
        assert out.flags == int(sent.strip()[53:55], 16)
    else:
        assert out.trace_id != "0" * 32 and (out.trace_id != T or "traceparent" not in
                                              [k.lower() for k, _ in headers])
    assert _members(tracestate) == members


@pytest.mark.parametrize("label,headers,kept,members", CASES, ids=[c[0] for c in CASES])
def test_case_in_process(label, headers, kept, members):
    incoming = context.read_environment(headers_to_environment(headers, {}))
    ctx = context.start_span_context(incoming)
    env = context.child_environment({}, ctx, incoming)
    _check(headers, kept, members, env["TRACEPARENT"], env.get("TRACESTATE"))


@pytest.mark.parametrize("label,headers,kept,members", CASES, ids=[c[0] for c in CASES])
def test_case_through_the_binary(env, label, headers, kept, members):
    traceparent, tracestate = child_context(headers, env)
    _check(headers, kept, members, traceparent, tracestate)


def test_new_contexts_get_new_parent_ids(env):
    seen = {child_context([("traceparent", TP)], env)[0].split("-")[2] for _ in range(3)}
    assert len(seen) == 3


def test_only_the_upper_case_environment_names_are_read(env):
    # OpenTelemetry's environment carrier: names are normalised to upper case; a
    # lower-case traceparent in the environment is not a context.
    def passed_on(environ):
        result = run_traceexec(["--", "env", "-0"], environ)
        seen = dict(i.split("=", 1) for i in result.stdout.decode().split("\0") if "=" in i)
        return seen["TRACEPARENT"].split("-")[1], seen.get("TRACESTATE")
    lower = dict(env, traceparent=TP, tracestate="foo=1")
    trace_id, tracestate = passed_on(lower)
    assert trace_id != T and tracestate is None
    assert passed_on(dict(lower, TRACEPARENT="00-%s-%s-01" % ("a" * 32, P)))[0] == "a" * 32
