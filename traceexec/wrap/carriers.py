"""The W3C values carried in the environment, parsed and checked: traceparent (Trace
Context level 1), tracestate, baggage.

Parsing never raises: an invalid value gives ``None`` and the caller starts a new trace
(traceparent) or drops the value (tracestate, baggage).  ``context`` loads this module
only for a value that is there: a command run with no TRACEPARENT, TRACESTATE or BAGGAGE
does not pay for these tables and parsers.  Only the standard library, and not ``re``.

    >>> parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").flags
    1
"""

from .context import ZERO_SPAN_ID, ZERO_TRACE_ID, SpanContext

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
