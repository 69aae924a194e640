"""The exporter's side of the OTLP wire form: one request of many spool bodies, and
reading what comes back (fields, partial success, status, retry info).

The bodies are ``otlp.encode``'s; kept apart from it so that the wrapper, which
only encodes its span, does not load this.
"""

from .otlp import _field, _varint


def _length_at(data, at: int) -> tuple:
    """(a length's varint at ``at``, the offset after it): one or two bytes inline."""
    first = data[at]
    if first < 0x80:
        return first, at + 1
    second = data[at + 1]
    if second < 0x80:
        return (first & 0x7F) | second << 7, at + 2
    return _read_varint(data, at)


def _field_at(body, at: int, known) -> tuple:
    """(the length-delimited field at ``at``, with its tag and length; the offset after
    it): ``known`` itself when the body holds those bytes there."""
    if known is not None and body.startswith(known, at):
        return known, at + len(known)
    length, end = _length_at(body, at + 1)
    return bytes(body[at:end + length]), end + length


def _parts(body, known=None):
    """(resource field, scope field, span field) of an ``encode``d body, each with its
    tag and length, or None for a body of another shape (sent as it is).  ``known``: the
    (resource field, scope field) of the body before, which most bodies share: then
    they are compared, not cut out again."""
    size = len(body)
    try:
        if size < 2 or body[0] != 0x0A:
            return None
        length, at = _length_at(body, 1)
        if at + length != size or body[at] != 0x0A:
            return None
        resource, at = _field_at(body, at, known and known[0])
        if at >= size or body[at] != 0x12:
            return None
        length, at = _length_at(body, at + 1)
        if at + length != size or body[at] != 0x0A:
            return None  # one ScopeSpans, its scope first
        scope, at = _field_at(body, at, known and known[1])
        if at >= size or body[at] != 0x12:
            return None
        length, start = _length_at(body, at + 1)
        if start + length != size:
            return None  # one span and nothing after it
    except (ValueError, IndexError, AttributeError):  # AttributeError: not bytes
        return None
    return resource, scope, body[at:]


def _prefix(size: int, resource: bytes, scope: bytes):
    """(the bytes an ``encode``d body of ``size`` bytes with these resource and scope
    fields begins with, up to its span's bytes; where the span field starts), or None.

    Such a body is ``0A len1 resource 12 len2 scope 12 len3 span``: the lengths follow
    from ``size``, so one prefix serves every body of that size."""
    for first in range(1, 6):
        outer = size - 1 - first
        if outer < 0 or len(_varint(outer)) != first:
            continue
        for second in range(1, 6):
            middle = outer - len(resource) - 1 - second
            if middle < 0 or len(_varint(middle)) != second:
                continue
            for third in range(1, 6):
                inner = middle - len(scope) - 1 - third
                if inner < 0 or len(_varint(inner)) != third:
                    continue
                head = (b"\n" + _varint(outer) + resource + b"\x12" + _varint(middle) + scope)
                return head + b"\x12" + _varint(inner), len(head)
    return None


def request(bodies) -> bytes:
    """An ExportTraceServiceRequest of spool bodies: spans that share a resource and a
    scope under one ResourceSpans and one ScopeSpans (in the order first seen), so a
    collector reads each resource once per request, not once per span.  A body of
    another shape is appended as it is (repeated fields concatenate in protobuf).

    Most bodies share the resource and scope of the one before and differ from the
    bodies of their size in their span only: they are recognised by their prefix
    (``_prefix``, worked out once per size), never parsed.
    """
    groups: dict = {}
    others = []
    known = spans = prefixes = None
    for body in bodies:
        if known is not None:
            size = len(body)
            hit = prefixes.get(size, False)
            if hit is False:
                hit = prefixes[size] = _prefix(size, *known)
            if hit is not None and body.startswith(hit[0]):
                spans.append(body[hit[1]:])
                continue
        parts = _parts(body, known)
        if parts is None:
            others.append(body)
            continue
        resource, scope, span = parts
        if known is None or resource is not known[0] or scope is not known[1]:
            known = (resource, scope)
            spans, prefixes = groups.setdefault(resource, {}).setdefault(scope, ([], {}))
        spans.append(span)
    out = []
    for resource, scopes in groups.items():
        inner = [resource]
        inner.extend(_field(2, scope + b"".join(spans)) for scope, (spans, _) in scopes.items())
        out.append(_field(1, b"".join(inner)))
    return b"".join(out) + b"".join(others)


# --- reading ------------------------------------------------------------------

def fields(data: bytes):
    """(field number, wire type, value) of each field of a message: an int for
    varints and fixed numbers, bytes for length-delimited fields.  Raises
    ValueError on malformed input."""
    offset, size = 0, len(data)
    while offset < size:
        key, offset = _read_varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = _read_varint(data, offset)
        elif wire == 1:
            value, offset = int.from_bytes(data[offset:offset + 8], "little"), offset + 8
        elif wire == 5:
            value, offset = int.from_bytes(data[offset:offset + 4], "little"), offset + 4
        elif wire == 2:
            length, offset = _read_varint(data, offset)
            value, offset = data[offset:offset + length], offset + length
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)
        if offset > size:
            raise ValueError("truncated protobuf message")
        yield number, wire, value


def _read_varint(data, offset):
    result = shift = 0
    while True:
        if offset >= len(data) or shift > 63:
            raise ValueError("bad protobuf varint")
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, offset
        shift += 7


def _first(data, number):
    for found, _, value in fields(data):
        if found == number:
            return value
    return None


def describe(body: bytes) -> dict:
    """Trace id, span id and name of an ``encode``d span (for dead letters and logs)."""
    try:
        resource_spans = _first(body, 1) or b""
        scope_spans = _first(resource_spans, 2) or b""
        span = _first(scope_spans, 2) or b""
        found = {n: v for n, _, v in fields(span) if n in (1, 2, 5)}
    except ValueError:
        return {"trace_id": "?", "span_id": "?", "name": "?"}
    return {"trace_id": bytes(found.get(1, b"")).hex(), "span_id": bytes(found.get(2, b"")).hex(),
            "name": bytes(found.get(5, b"")).decode("utf-8", "replace")}


def partial_success(response: bytes) -> tuple:
    """(rejected spans, error message) from an ExportTraceServiceResponse, read by
    wire type: ``partial_success`` (1) is a message, in it ``rejected_spans`` (1)
    a varint and ``error_message`` (2) bytes.  A field of another shape is
    skipped, and an answer that is not protobuf at all counts as a full
    success: the collector said 200/OK, so the spans are never sent again."""
    rejected, message = 0, b""
    try:
        for number, wire, part in fields(response):
            if number != 1 or wire != 2:
                continue
            for inner, inner_wire, value in fields(part):
                if inner == 1 and inner_wire == 0:
                    rejected = value if value < (1 << 63) else 0
                elif inner == 2 and inner_wire == 2:
                    message = value
    except ValueError:
        pass
    return rejected, bytes(message[:1024]).decode("utf-8", "replace")


RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def retry_delay(details_bin: bytes):
    """Seconds of the ``google.rpc.RetryInfo`` in a ``grpc-status-details-bin`` trailer
    (base64 of a ``google.rpc.Status``), or None when there is none."""
    if not details_bin:
        return None
    import binascii
    try:
        status = binascii.a2b_base64(details_bin + b"=" * (-len(details_bin) % 4))
        for number, wire, detail in fields(status):
            if number != 3 or wire != 2:
                continue
            found = {n: v for n, w, v in fields(detail) if w == 2}
            if bytes(found.get(1, b"")) != RETRY_INFO.encode():
                continue
            duration = {n: v for n, w, v in fields(_first(found.get(2, b""), 1) or b"")
                        if w == 0}
            return duration.get(1, 0) + duration.get(2, 0) / 1e9
    except (ValueError, binascii.Error):
        return None
    return None


def inflate(data: bytes, limit: int) -> bytes:
    """``data`` un-gzipped (or zlib), at most ``limit`` bytes; ValueError when it is
    bad or larger: a compressed answer is bounded once decompressed too."""
    import zlib
    inflater = zlib.decompressobj(47)
    try:
        out = inflater.decompress(data, limit)
    except zlib.error:
        raise ValueError("a compressed answer that does not decompress") from None
    if inflater.unconsumed_tail:
        raise ValueError("a compressed answer larger than %d bytes" % limit)
    return out


def status_message(body: bytes) -> str:
    """The message of a ``google.rpc.Status`` (an OTLP/HTTP error body), or ''."""
    try:
        message = _first(body, 2)
    except ValueError:
        return ""
    return bytes(message).decode("utf-8", "replace") if isinstance(message, bytes) else ""
