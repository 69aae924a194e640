"""A command's span context, and the context carried to it in environment variables
(TRACEPARENT, TRACESTATE, BAGGAGE: the W3C formats; ``OTEL_PROPAGATORS``).

The values found are parsed and checked in ``carriers``, loaded only when one is there
(and its names are found here too: ``context.parse_traceparent``).  Only the standard
library is used, and not ``re``: this module is on the wrapper's start-up path, where
every import counts.

    >>> ctx = start_span_context(read_environment({}))
    >>> ctx.is_sampled
    True
"""

import os

TRACEPARENT = "TRACEPARENT"
"""Environment variable carrying the W3C traceparent (OpenTelemetry env carrier)."""
TRACESTATE = "TRACESTATE"
"""Environment variable carrying the W3C tracestate list."""
BAGGAGE = "BAGGAGE"
"""Environment variable carrying the W3C baggage list."""

ZERO_TRACE_ID = "0" * 32
ZERO_SPAN_ID = "0" * 16


class SpanContext:
    """The identity of one span: what TRACEPARENT says."""

    __slots__ = ("trace_id", "span_id", "flags")

    def __init__(self, trace_id: str, span_id: str, flags: int = 1):
        self.trace_id = trace_id
        self.span_id = span_id
        self.flags = flags

    @property
    def is_sampled(self) -> bool:
        return bool(self.flags & 1)

    def traceparent(self) -> str:
        """The version-00 traceparent of this context."""
        flags = self.flags
        # each process of a DAG's steps gets one: the usual flags (sampled) not formatted
        flags_hex = "01" if flags == 1 else "%02x" % flags
        return f"00-{self.trace_id}-{self.span_id}-{flags_hex}"

    def child(self, span_id: str | None = None) -> "SpanContext":
        """A context in the same trace with a new span id, flags kept."""
        return SpanContext(self.trace_id, span_id or new_span_id(), self.flags)

    def __eq__(self, other):
        return isinstance(other, SpanContext) and (
            self.trace_id, self.span_id, self.flags) == (
            other.trace_id, other.span_id, other.flags)

    def __repr__(self):
        return "SpanContext(%r)" % self.traceparent()


def new_trace_id() -> str:
    return _nonzero_hex(16)


def new_span_id() -> str:
    value = os.urandom(8).hex()  # _nonzero_hex(8) without its call: once a DAG step
    return value if value.strip("0") else _nonzero_hex(8)


def _nonzero_hex(nbytes: int) -> str:
    while True:
        value = os.urandom(nbytes).hex()
        if value.strip("0"):
            return value


class Incoming:
    """The context a process received in its environment, already validated."""

    __slots__ = ("parent", "tracestate", "baggage", "problems", "propagators")

    def __init__(self, parent, tracestate, baggage, problems, propagators=None):
        self.parent: SpanContext | None = parent
        self.tracestate: str | None = tracestate
        self.baggage: str | None = baggage
        self.problems: list[str] = problems
        self.propagators = DEFAULT_PROPAGATORS if propagators is None else propagators


TRACECONTEXT_PROPAGATOR, BAGGAGE_PROPAGATOR = "tracecontext", "baggage"
DEFAULT_PROPAGATORS = frozenset((TRACECONTEXT_PROPAGATOR, BAGGAGE_PROPAGATOR))
OTEL_PROPAGATORS = "OTEL_PROPAGATORS"
"""Which carriers are read and written: ``tracecontext`` (TRACEPARENT, TRACESTATE),
``baggage`` (BAGGAGE), ``none``; default both (``read_propagators``)."""


def read_propagators(reader) -> frozenset:
    """OTEL_PROPAGATORS from a ``config.Reader``: the carriers traceexec reads and
    writes.  Others (b3, jaeger, xray, ...) are warned and left out."""
    raw = reader.get(OTEL_PROPAGATORS)
    if raw is None:
        return DEFAULT_PROPAGATORS
    chosen = set()
    for item in raw.lower().split(","):
        item = item.strip()
        if item in DEFAULT_PROPAGATORS:
            chosen.add(item)
        elif item and item != "none":
            reader.problems.append("%s: %s is not supported (tracecontext, baggage, none): "
                                   "left out" % (OTEL_PROPAGATORS, item[:64]))
    return frozenset(chosen)


def trace_choices(environ, problems) -> tuple:
    """(sampler, propagators) that OTEL_TRACES_SAMPLER and OTEL_PROPAGATORS choose, what
    cannot be used added to ``problems``.  Neither is read when neither is set: (None, the
    default propagators), None being ``start_span_context``'s own rule, the default
    parentbased_always_on."""
    sampling = environ.get("OTEL_TRACES_SAMPLER") is not None  # sampling.OTEL_TRACES_SAMPLER
    if not sampling and environ.get(OTEL_PROPAGATORS) is None:
        return None, DEFAULT_PROPAGATORS
    from ..delivery.config import Reader  # loads the export settings
    reader = Reader(environ, problems)
    sampler = None
    if sampling:
        from .sampling import read_sampler
        sampler = read_sampler(reader)
    return sampler, read_propagators(reader)


def read_environment(environ, propagators=DEFAULT_PROPAGATORS) -> Incoming:
    """Read TRACEPARENT, TRACESTATE and BAGGAGE from a mapping.

    ``problems`` lists one line per value that was present but ignored, for
    ``--verbose``.  A carrier whose propagator is not in ``propagators`` is not read.
    """
    problems = []
    parent = None
    tracestate = None
    if TRACECONTEXT_PROPAGATOR in propagators:
        raw_parent = environ.get(TRACEPARENT)
        if raw_parent is not None:
            from .carriers import parse_traceparent
            parent = parse_traceparent(raw_parent)
            if parent is None:
                problems.append("invalid TRACEPARENT ignored, starting a new trace")
        raw_state = environ.get(TRACESTATE)
        if raw_state is not None and parent is not None:
            from .carriers import format_tracestate, parse_tracestate
            members = parse_tracestate(raw_state)
            if members is None:
                problems.append("invalid TRACESTATE dropped")
            elif members:
                tracestate = format_tracestate(members)
    raw_baggage = environ.get(BAGGAGE) if BAGGAGE_PROPAGATOR in propagators else None
    baggage = None
    if raw_baggage is not None:
        from .carriers import is_valid_baggage
        if is_valid_baggage(raw_baggage):
            baggage = raw_baggage
        else:
            problems.append("invalid BAGGAGE dropped")
    return Incoming(parent, tracestate, baggage, problems, propagators)


def child_environment(environ, span: SpanContext, incoming: Incoming,
                      propagators=None, own=False) -> dict:
    """The command's environment: a copy of ``environ`` with this span's context.

    TRACEPARENT names ``span``; TRACESTATE and BAGGAGE are kept only when valid.
    A carrier whose propagator is not in ``propagators`` (default: those the
    context was read with) is neither written nor taken away: it reaches the
    command as traceexec found it.  Nothing else changes.  With ``own``, ``environ``
    is a dict the caller just made for the command: written into, not copied.
    """
    propagators = incoming.propagators if propagators is None else propagators
    env = environ if own else dict(environ)
    if TRACECONTEXT_PROPAGATOR in propagators:
        env[TRACEPARENT] = span.traceparent()
        if incoming.tracestate:
            env[TRACESTATE] = incoming.tracestate
        else:
            env.pop(TRACESTATE, None)
    if BAGGAGE_PROPAGATOR in propagators:
        if incoming.baggage:
            env[BAGGAGE] = incoming.baggage
        else:
            env.pop(BAGGAGE, None)
    return env


def start_span_context(incoming: Incoming, sampler=None) -> SpanContext:
    """This process's span context: a child of the incoming parent, or a new trace,
    sampled as ``sampler`` (a ``sampling.Sampler``) decides (default: the parent's flag,
    else sampled)."""
    parent = incoming.parent
    ctx = parent.child() if parent is not None else SpanContext(new_trace_id(), new_span_id(), 1)
    if sampler is not None:
        sampled = sampler.is_sampled(ctx.trace_id, parent)
        ctx.flags = (ctx.flags | 1) if sampled else (ctx.flags & ~1)
    return ctx


def __getattr__(name: str):
    """The names of ``carriers`` (``parse_traceparent``, ``is_valid_baggage``...), loading
    it on first use."""
    from .. import forwarded
    return forwarded(globals(), "carriers", name)
