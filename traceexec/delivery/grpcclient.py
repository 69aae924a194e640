"""OTLP/gRPC: unary ``TraceService/Export`` calls with bytes in and out.

The request is the exporter's concatenated spool bodies, already an encoded
ExportTraceServiceRequest; it goes as one gRPC message on an HTTP/2 stream
(``http2``), several streams at a time on one connection.  No grpcio, no
protobuf, no SDK: the exporter for a gRPC destination starts in a few
milliseconds instead of the 45 ms that importing grpcio alone costs.
"""

import time

from .http2 import Connection, Http2Error
from .otlp import gzipped

EXPORT = b"/opentelemetry.proto.collector.trace.v1.TraceService/Export"
NAMES = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
         5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
         9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
         13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED"}
UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN = 14, 4, 13, 2
_HTTP_TO_GRPC = {400: INTERNAL, 401: 16, 403: 7, 404: 12, 429: UNAVAILABLE, 502: UNAVAILABLE,
                 503: UNAVAILABLE, 504: UNAVAILABLE}
"""The gRPC specification's codes for an HTTP status that is not 200."""


class GrpcSetupError(Exception):
    """The channel could not be made (a certificate that cannot be read, a bad address)."""


def split_target(target: str) -> tuple:
    """(host, port) of ``host:port`` or ``[v6]:port``."""
    host, _, port = target.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not port.isdigit():
        raise GrpcSetupError("bad gRPC endpoint %r: use host:port" % target)
    return host, int(port)


def _percent_decode(data: bytes) -> str:
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] == 0x25 and i + 3 <= len(data):
            try:
                out.append(int(data[i + 1:i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(data[i])
        i += 1
    return out.decode("utf-8", "replace")


class GrpcClient:
    """Calls to one OTLP/gRPC endpoint; ``submit`` starts one, its result is
    (status code number, details, whether the server sent retry information, reply)."""

    def __init__(self, endpoint: str, *, certificate=None, insecure=False, gzip=False):
        from .. import __version__
        self.plain = insecure or endpoint.startswith("http://")
        target = endpoint.split("://", 1)[-1].rstrip("/")
        self.host, self.port = split_target(target)
        self.authority = target.encode("idna" if not target.isascii() else "ascii")
        self.certificate = certificate
        self.gzip = gzip
        self.user_agent = ("traceexec/%s" % __version__).encode()
        self.connection = None
        self._context = None
        if not self.plain:
            self._tls_context()  # a certificate that cannot be read fails now

    def _tls_context(self):
        if self._context is None:
            from .httpclient import HttpError, tls_context
            try:
                self._context = tls_context(self.certificate, alpn="h2")
            except HttpError as error:
                raise GrpcSetupError(str(error)) from None
        return self._context

    def _connect(self, deadline: float) -> Connection:
        if self.connection is not None and self.connection.is_usable:
            return self.connection
        self.close()
        from .httpclient import connect
        sock = connect(self.host, self.port, max(deadline - time.monotonic(), 0.01),
                       None if self.plain else self._tls_context())
        if not self.plain and sock.selected_alpn_protocol() != "h2":
            sock.close()
            raise Http2Error("the server does not offer HTTP/2 (ALPN h2)")
        self.connection = Connection(sock)
        return self.connection

    def submit(self, request: bytes, metadata: tuple, timeout_s: float):
        """Send one call; returns a function that waits for its answer."""
        deadline = time.monotonic() + timeout_s
        flag = b"\x00"
        if self.gzip:
            request, flag = gzipped(request), b"\x01"
        message = flag + len(request).to_bytes(4, "big") + request
        headers = [(b":method", b"POST"), (b":scheme", b"http" if self.plain else b"https"),
                   (b":path", EXPORT), (b":authority", self.authority),
                   (b"content-type", b"application/grpc"), (b"te", b"trailers"),
                   (b"grpc-timeout", b"%dm" % max(int(timeout_s * 1000), 1)),
                   (b"user-agent", self.user_agent), (b"grpc-accept-encoding", b"identity,gzip")]
        if self.gzip:
            headers.append((b"grpc-encoding", b"gzip"))
        extra = [(k.encode("ascii", "replace"), v.encode("utf-8", "surrogateescape"))
                 for k, v in metadata]
        try:
            connection = self._connect(deadline)
            number = connection.request(headers + extra, message, deadline,
                                        sensitive={k for k, _ in extra})
        except Exception as error:
            self.close()
            failure = self._failure(error)
            return lambda: failure

        def result() -> tuple:
            try:
                stream = connection.response(number, deadline)
            except Exception as error:
                if connection is self.connection:
                    self.close()
                return self._failure(error)
            return _status(stream)
        return result

    @staticmethod
    def _failure(error) -> tuple:
        if isinstance(error, TimeoutError):
            return DEADLINE_EXCEEDED, "no answer in time", False, b""
        text = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return UNAVAILABLE, text, False, b""

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _status(stream) -> tuple:
    """(code, details, retry information present, reply message) of an ended stream."""
    fields = dict(stream.headers or ())
    trailers = dict(stream.trailers) or fields  # a trailers-only answer
    # RST_STREAM(NO_ERROR) after a complete answer only tells us to stop sending
    answered = stream.reset == 0 and b"grpc-status" in trailers
    if stream.reset is not None and not answered:
        reason = stream.reset if isinstance(stream.reset, str) else (
            "the server reset the stream (HTTP/2 error %d)" % stream.reset)
        return UNAVAILABLE, reason, False, b""
    status = fields.get(b":status", b"")
    if status != b"200":
        code = _HTTP_TO_GRPC.get(int(status) if status.isdigit() else 0, UNKNOWN)
        return code, "HTTP status %s" % status.decode("latin-1"), False, b""
    if b"grpc-status" not in trailers:
        return INTERNAL, "the answer ended without a grpc-status", False, b""
    code = int(trailers[b"grpc-status"]) if trailers[b"grpc-status"].isdigit() else UNKNOWN
    details = _percent_decode(trailers.get(b"grpc-message", b""))
    retry = b"grpc-status-details-bin" in trailers
    reply = b""
    data = bytes(stream.data)
    if len(data) >= 5:
        reply = data[5:5 + int.from_bytes(data[1:5], "big")]
        if data[0] == 1:
            import zlib
            try:
                reply = zlib.decompress(reply, 47)
            except zlib.error:
                reply = b""
    return code, details, retry, reply
