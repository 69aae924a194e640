"""W3C Trace Context (level 1) and W3C Baggage, carried in environment variables.

Parsing never raises: an invalid value gives ``None`` and the caller starts a
new trace (traceparent) or drops the value (tracestate, baggage).  Only the
standard library is used, and not ``re``: this module is on the wrapper's
start-up path, where every import counts.

    >>> ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
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

_HEX = frozenset("0123456789abcdef")
_LCALPHA = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGIT = frozenset("0123456789")
_KEY_FIRST = _LCALPHA | _DIGIT
_KEY_CHARS = _LCALPHA | _DIGIT | frozenset("_-*/@")
# Printable ASCII, 0x21 to 0x7E: a literal, since a generator over range() at import
# cost about 0.3 M instructions on the wrapper's start-up path.
_PRINTABLE = frozenset("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")
_VALUE_LAST = _PRINTABLE - frozenset(",=")
_VALUE_CHARS = _VALUE_LAST | {" "}
_OWS = " \t"
# RFC 7230 tchar, the alphabet of a baggage key.
_TCHAR = frozenset("!#$%&'*+-.^_`|~") | _DIGIT | _LCALPHA | frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_BAGGAGE_OCTET = _PRINTABLE - frozenset('",;\\')

MAX_TRACESTATE_MEMBERS = 32
MAX_BAGGAGE_MEMBERS = 180
MAX_BAGGAGE_BYTES = 8192
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
        return "00-%s-%s-%02x" % (self.trace_id, self.span_id, self.flags)

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
    return _nonzero_hex(8)


def _nonzero_hex(nbytes: int) -> str:
    while True:
        value = os.urandom(nbytes).hex()
        if value.strip("0"):
            return value


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in _HEX for c in text)


def parse_traceparent(value: str | None) -> SpanContext | None:
    """Parse a traceparent; ``None`` when absent or invalid.

    Version ``00`` must be exactly 55 characters.  A higher version is read
    from its first 55 characters when the next character is a dash or the
    end; version ``ff`` is invalid.  Hex digits must be lowercase.
    """
    if not value:
        return None
    value = value.strip(_OWS)
    if len(value) < 55:
        return None
    version = value[:2]
    if not _is_hex(version, 2) or version == "ff":
        return None
    if version == "00":
        if len(value) != 55:
            return None
    elif len(value) > 55 and value[55] != "-":
        return None
    head = value[:55]
    if head[2] != "-" or head[35] != "-" or head[52] != "-":
        return None
    trace_id, span_id, flags = head[3:35], head[36:52], head[53:55]
    if not (_is_hex(trace_id, 32) and _is_hex(span_id, 16) and _is_hex(flags, 2)):
        return None
    if trace_id == ZERO_TRACE_ID or span_id == ZERO_SPAN_ID:
        return None
    return SpanContext(trace_id, span_id, int(flags, 16))


def _is_tracestate_key(key: str) -> bool:
    """The key grammar of the current spec: ``(lcalpha / DIGIT) 0*255(keychar)``, where
    keychar includes ``@`` anywhere (the older tenant@system limits are gone)."""
    return (1 <= len(key) <= 256 and key[0] in _KEY_FIRST
            and all(c in _KEY_CHARS for c in key))


def _is_tracestate_value(value: str) -> bool:
    return (1 <= len(value) <= 256 and value[-1] in _VALUE_LAST
            and all(c in _VALUE_CHARS for c in value))


def parse_tracestate(value: str | None) -> list[tuple[str, str]] | None:
    """Parse a tracestate list into (key, value) pairs; ``None`` if invalid.

    The list is all or nothing: one bad member or more than 32 members
    invalidates it whole.  Empty members (``a=1,,b=2``) are allowed.  A key
    seen twice keeps its first member, as the official test suite accepts
    (a member given twice, or two lists of one context joined, is not lost).
    """
    if value is None:
        return None
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    count = 0
    for raw in value.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue
        key, eq, val = member.partition("=")
        if not eq or not _is_tracestate_key(key) or not _is_tracestate_value(val):
            return None
        count += 1
        if count > MAX_TRACESTATE_MEMBERS:
            return None
        if key in seen:
            continue
        seen.add(key)
        members.append((key, val))
    return members


def format_tracestate(members: list[tuple[str, str]]) -> str:
    return ",".join("%s=%s" % kv for kv in members)


def _is_baggage_pair(text: str, value_required: bool) -> bool:
    key, eq, value = text.partition("=")
    key = key.strip(_OWS)
    if not key or not all(c in _TCHAR for c in key):
        return False
    if not eq:
        return not value_required
    value = value.strip(_OWS)
    return all(c in _BAGGAGE_OCTET for c in value) and _is_percent_encoding(value)


def _is_percent_encoding(value: str) -> bool:
    i = value.find("%")
    while i != -1:
        if not _is_hex(value[i + 1:i + 3].lower(), 2):
            return False
        i = value.find("%", i + 3)
    return True


def is_valid_baggage(value: str | None) -> bool:
    """True when ``value`` is a W3C baggage list within the spec's limits."""
    if value is None or len(value.encode("utf-8", "replace")) > MAX_BAGGAGE_BYTES:
        return False
    members = value.split(",")
    if len(members) > MAX_BAGGAGE_MEMBERS:
        return False
    for member in members:
        pair, *properties = member.split(";")
        if not _is_baggage_pair(pair, True):
            return False
        if not all(_is_baggage_pair(p, False) for p in properties):
            return False
    return True


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
``baggage`` (BAGGAGE), ``none``; default both."""
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
        parent = parse_traceparent(raw_parent)
        if raw_parent is not None and parent is None:
            problems.append("invalid TRACEPARENT ignored, starting a new trace")
        raw_state = environ.get(TRACESTATE)
        if raw_state is not None and parent is not None:
            members = parse_tracestate(raw_state)
            if members is None:
                problems.append("invalid TRACESTATE dropped")
            elif members:
                tracestate = format_tracestate(members)
    raw_baggage = environ.get(BAGGAGE) if BAGGAGE_PROPAGATOR in propagators else None
    baggage = None
    if raw_baggage is not None:
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
    carried = []
    if TRACECONTEXT_PROPAGATOR in propagators:
        env[TRACEPARENT] = span.traceparent()
        carried.append((TRACESTATE, incoming.tracestate))
    if BAGGAGE_PROPAGATOR in propagators:
        carried.append((BAGGAGE, incoming.baggage))
    for name, value in carried:
        if value:
            env[name] = value
        else:
            env.pop(name, None)
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
