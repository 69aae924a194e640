"""OTLP/gRPC: unary ``TraceService/Export`` calls with bytes in and out, over
HTTP/2 spoken by the python-hyper project's ``h2`` (framing, HPACK, flow
control, settings and their checks).  What stays ours is gRPC's thin layer:
the 5-byte message prefix, the request headers, the status trailers.

The request is the exporter's concatenated spool bodies, already an encoded
ExportTraceServiceRequest; it goes as one gRPC message on an HTTP/2 stream,
several streams at a time on one connection.  Everything the server sends is
bounded: frames (h2's 16 KiB ``SETTINGS_MAX_FRAME_SIZE``), header lists
(64 KiB, at most 64 CONTINUATION frames), each answer's data and its
decompressed message (``MAX_REPLY``), and the time from connecting to the
last byte (the call's deadline).  A protocol error closes the connection
and fails its calls as UNAVAILABLE, which is retryable.
"""

import _socket
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from .transport import Deadline, TlsSettings, TransportError, open_connection

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
NAMES = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
         5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
         9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
         13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED"}
UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN = 14, 4, 13, 2
_HTTP_TO_GRPC = {400: INTERNAL, 401: 16, 403: 7, 404: 12, 429: UNAVAILABLE, 502: UNAVAILABLE,
                 503: UNAVAILABLE, 504: UNAVAILABLE}
"""The gRPC specification's codes for an HTTP status that is not 200."""
MAX_REPLY = 4 * 1024 * 1024
"""Bytes of one answer's data, and of its message once decompressed, at most."""
RECEIVE_WINDOW = 1024 * 1024
_QUICKACK = getattr(_socket, "TCP_QUICKACK", None)


class GrpcSetupError(Exception):
    """The channel could not be made (a certificate that cannot be read, a bad address)."""


class _Broken(Exception):
    """The connection is unusable (closed, protocol error, oversized answer)."""


def split_target(target: str) -> tuple:
    """(host, port) of ``host:port`` or ``[v6]:port``."""
    host, _, port = target.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not port.isdigit():
        raise GrpcSetupError("bad gRPC endpoint %r: use host:port" % target)
    return host, int(port)


def is_plaintext(endpoint: str, insecure: bool) -> bool:
    """Whether a gRPC endpoint is spoken to without TLS: ``http://``, or a scheme-less
    ``host:port`` with ``insecure`` (the OTel specification's reading).  An
    ``https://`` endpoint is always TLS; ``insecure`` then only skips the
    certificate check."""
    if endpoint.startswith("http://"):
        return True
    return insecure and "://" not in endpoint


def _percent_decode(data: bytes) -> str:
    from urllib.parse import unquote_to_bytes
    return unquote_to_bytes(data).decode("utf-8", "replace")


class _Stream:
    def __init__(self):
        self.headers = None
        self.trailers = None
        self.data = bytearray()
        self.ended = False
        self.failure = None   # why the call failed before a gRPC answer


class _Channel:
    """One HTTP/2 connection and its streams."""

    def __init__(self, sock):
        self.sock = sock
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding=None))
        self.h2.initiate_connection()
        self.h2.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0,
                                 h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: RECEIVE_WINDOW})
        self.h2.increment_flow_control_window(RECEIVE_WINDOW)
        self.streams = {}
        self.usable = True

    def close(self):
        self.usable = False
        try:
            self.sock.close()
        except OSError:
            pass

    def _flush(self, deadline: Deadline):
        data = self.h2.data_to_send()
        if data:
            self.sock.settimeout(deadline.remaining())
            self.sock.sendall(data)

    def request(self, headers: list, body: bytes, deadline: Deadline) -> int:
        number = self.h2.get_next_available_stream_id()
        self.h2.send_headers(number, headers)
        self.streams[number] = _Stream()
        self._flush(deadline)
        view, offset, step = memoryview(body), 0, self.h2.max_outbound_frame_size
        while True:
            window = min(self.h2.local_flow_control_window(number), len(body) - offset)
            if window <= 0 and offset < len(body):
                self._receive(deadline)  # wait for the window to open
                if self.streams[number].ended:
                    return number  # answered (or refused) before taking it all
                continue
            end = offset + window
            while True:  # as many frames as the window takes, then one write
                size = min(step, end - offset)
                self.h2.send_data(number, bytes(view[offset:offset + size]),
                                  end_stream=offset + size >= len(body))
                offset += size
                if offset >= end:
                    break
            self._flush(deadline)
            if offset >= len(body):
                return number

    def response(self, number: int, deadline: Deadline) -> _Stream:
        stream = self.streams[number]
        while not stream.ended:
            self._receive(deadline)
        del self.streams[number]
        return stream

    def _receive(self, deadline: Deadline):
        self.sock.settimeout(deadline.remaining())
        if _QUICKACK is not None:
            try:  # ack at once: a server answering in several small writes under
                # Nagle's algorithm would otherwise wait for our delayed ACK (40 ms)
                self.sock.setsockopt(_socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                pass
        data = self.sock.recv(65536)
        if not data:
            raise _Broken("the server closed the connection")
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.H2Error as error:
            raise _Broken("HTTP/2 protocol error from the server: %s" % (
                error or type(error).__name__)) from None
        for event in events:
            stream = self.streams.get(getattr(event, "stream_id", None))
            if isinstance(event, h2.events.ResponseReceived) and stream is not None:
                stream.headers = dict(event.headers)
            elif isinstance(event, h2.events.TrailersReceived) and stream is not None:
                stream.trailers = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                if stream is not None:
                    stream.data += event.data
                    if len(stream.data) > MAX_REPLY + 5:
                        raise _Broken("an answer longer than %d bytes" % MAX_REPLY)
                if event.flow_controlled_length:  # the connection's window, at least
                    try:
                        self.h2.acknowledge_received_data(event.flow_controlled_length,
                                                          event.stream_id)
                    except h2.exceptions.StreamClosedError:
                        pass
            elif isinstance(event, h2.events.StreamEnded) and stream is not None:
                stream.ended = True
            elif isinstance(event, h2.events.StreamReset) and stream is not None:
                stream.ended = True
                # RST_STREAM(NO_ERROR) after a complete answer only says: stop sending
                answered = stream.trailers or b"grpc-status" in (stream.headers or {})
                if event.error_code != 0 or not answered:
                    stream.failure = "the server reset the stream (HTTP/2 error %d)" % (
                        event.error_code)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.usable = False
                last = event.last_stream_id or 0
                for number, waiting in self.streams.items():
                    if number > last and not waiting.ended:
                        waiting.ended = True
                        waiting.failure = "the server is going away (GOAWAY)"
        self._flush(deadline)


class GrpcClient:
    """Calls to one OTLP/gRPC endpoint; ``submit`` starts one, its result is
    (status code number, details, retry delay in seconds or None, reply, whether
    the server answered: False for a connection or protocol failure)."""

    def __init__(self, endpoint: str, *, tls=None, insecure=False, gzip=False, proxy=None):
        from .. import __version__
        self.plain = is_plaintext(endpoint, insecure)
        target = endpoint.split("://", 1)[-1].rstrip("/")
        self.host, self.port = split_target(target)
        # an ASCII name as it is: the idna codec costs 7 ms to load
        self.authority_bytes = target.encode("ascii" if target.isascii() else "idna")
        self.tls = None if self.plain else (tls or TlsSettings())
        self.gzip = gzip
        self.proxy = proxy
        self.user_agent = "traceexec/%s" % __version__
        self.channel = None
        if self.tls is not None:
            self.tls.check("h2", GrpcSetupError)

    def _connect(self, deadline: Deadline) -> _Channel:
        if self.channel is not None and self.channel.usable:
            return self.channel
        self.close()
        sock = open_connection(self.host, self.port, deadline, tls=self.tls, alpn="h2",
                               proxy=self.proxy)
        if self.tls is not None and sock.selected_alpn_protocol() != "h2":
            sock.close()
            raise TransportError("the server does not offer HTTP/2 (ALPN h2)")
        self.channel = _Channel(sock)
        return self.channel

    def submit(self, request: bytes, metadata: tuple, timeout_s: float):
        """Send one call; returns a function that waits for its answer."""
        from .otlp import gzipped
        deadline = Deadline(timeout_s)
        flag = b"\x00"
        if self.gzip:
            request, flag = gzipped(request), b"\x01"
        message = flag + len(request).to_bytes(4, "big") + request
        headers = [(b":method", b"POST"), (b":scheme", b"http" if self.plain else b"https"),
                   (b":path", EXPORT.encode()), (b":authority", self.authority_bytes),
                   (b"content-type", b"application/grpc"), (b"te", b"trailers"),
                   (b"grpc-timeout", b"%dm" % max(int(timeout_s * 1000), 1)),
                   (b"user-agent", self.user_agent.encode()),
                   (b"grpc-accept-encoding", b"identity,gzip")]
        if self.gzip:
            headers.append((b"grpc-encoding", b"gzip"))
        headers.extend((k.encode("ascii", "replace"), v.encode("utf-8", "surrogateescape"))
                       for k, v in metadata)
        try:
            channel = self._connect(deadline)
            number = channel.request(headers, message, deadline)
        except Exception as error:
            self.close()
            failure = _failure(error)
            return lambda: failure

        def result() -> tuple:
            try:
                stream = channel.response(number, deadline)
            except Exception as error:
                if channel is self.channel:
                    self.close()
                return _failure(error)
            return _status(stream)
        return result

    def close(self):
        if self.channel is not None:
            self.channel.close()
            self.channel = None


def _failure(error) -> tuple:
    """The result of a call that got no gRPC answer; ``reached`` (the last item) when
    the server was connected to and then broke the exchange (closed, reset, a
    protocol error), not when it could not be reached, refused our TLS (a late alert:
    no client certificate) or stayed silent."""
    if isinstance(error, TimeoutError):
        return DEADLINE_EXCEEDED, "no answer in time", None, b"", False
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    ssl = sys.modules.get("ssl")  # loaded when the connection is TLS
    refused_tls = ssl is not None and isinstance(error, ssl.SSLError)  # e.g. no client cert
    return UNAVAILABLE, text, None, b"", not isinstance(error, TransportError) and not refused_tls


def _status(stream: _Stream) -> tuple:
    """(code, details, retry delay or None, reply message, answered) of an ended stream."""
    from .otlpexchange import retry_delay
    if stream.failure is not None:
        return UNAVAILABLE, stream.failure, None, b"", True
    fields = stream.headers or {}
    trailers = stream.trailers or fields  # a trailers-only answer
    status = fields.get(b":status", b"")
    if status != b"200":
        code = _HTTP_TO_GRPC.get(int(status) if status.isdigit() else 0, UNKNOWN)
        return code, "HTTP status %s" % status.decode("latin-1"), None, b"", True
    if b"grpc-status" not in trailers:
        return INTERNAL, "the answer ended without a grpc-status", None, b"", True
    code = int(trailers[b"grpc-status"]) if trailers[b"grpc-status"].isdigit() else UNKNOWN
    details = _percent_decode(trailers.get(b"grpc-message", b"")[:1024])
    delay = retry_delay(trailers.get(b"grpc-status-details-bin", b""))
    reply = b""
    data = bytes(stream.data)
    if len(data) >= 5:
        reply = data[5:5 + int.from_bytes(data[1:5], "big")]
        if data[0] == 1:
            from .otlpexchange import inflate
            try:
                reply = inflate(reply, MAX_REPLY)
            except ValueError:
                reply = b""
    return code, details, delay, reply, True
