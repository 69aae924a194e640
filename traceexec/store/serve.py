"""``traceexec serve``: a local OTLP receiver (gRPC and HTTP) that fills the store.

Anything that speaks OTLP (the traceexec exporter, a Python or Node program
with the OpenTelemetry SDK, a collector) can send traces here and read them
with ``traceexec show``.  A request is acknowledged only after its spans were
appended to the store, so what a client saw accepted is on disk.

    traceexec serve --grpc 127.0.0.1:4317 --http 127.0.0.1:4318

grpc and protobuf are imported here only, never on the wrapper's path.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler

import grpc
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from ..delivery import config
from . import local as store
from .httpserver import MAX_HANDLERS, REQUEST_TIMEOUT_S, BoundedHttpServer, \
    deadline_reader, is_loopback, is_loopback_host_header
from .receive import MAX_REQUEST_BYTES, Refused, inflate, records_from_json, \
    records_from_protobuf
from ..cli import subcommand_parser
from ..errors import TraceexecError, UsageError, printable

DEFAULT_GRPC = "localhost:4317"
DEFAULT_HTTP = "localhost:4318"
DEFAULT_WEB = "127.0.0.1:16686"
"""The web viewer's port (Jaeger's UI port: what people type out of habit)."""
TRACES_PATH = "/v1/traces"
PROTOBUF, JSON = "application/x-protobuf", "application/json"
GRACE_S = 10.0
"""How long in-flight requests may take to finish after SIGINT/SIGTERM."""
SPARE_WORKERS = 8
"""gRPC threads beyond MAX_HANDLERS: they refuse the calls over the limit."""


class ListenError(TraceexecError):
    """A listening address could not be bound."""


# --- addresses ------------------------------------------------------------------

def parse_address(text: str, option: str) -> tuple:
    """(host, port) from ``HOST:PORT`` or ``[V6]:PORT``; raises UsageError.

    >>> parse_address("127.0.0.1:4317", "--grpc"), parse_address("[::1]:0", "--http")
    (('127.0.0.1', 4317), ('::1', 0))
    """
    host, colon, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError("%s %r: expected HOST:PORT, like %s" % (option, text, DEFAULT_GRPC))
    try:
        socket.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM,
                           flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise UsageError("%s %r: cannot resolve host %s" % (option, text, host)) from None
    return host, int(port_text)


def listen_hosts(host: str) -> list:
    """The addresses to bind for ``host``: ``localhost`` is both loopbacks, 127.0.0.1 and
    ::1 (where IPv6 is up), since clients resolve it to either (Node tries ::1 first)."""
    if host != "localhost":
        return [host]
    hosts = ["127.0.0.1"]
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        hosts.append("::1")
    except OSError:
        pass
    return hosts


def _format_address(host: str, port: int) -> str:
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def _family(host: str) -> int:
    return socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0][0]


def _check_free(host: str, port: int, what: str) -> None:
    """Fail with one line when the port is taken; grpc alone would log a C++ error."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ListenError("cannot listen on %s for %s: %s" % (
                _format_address(host, port), what, error.strerror or error)) from None


# --- the sink both servers write to ---------------------------------------------

class Sink:
    """Appends received spans to the store and counts them."""

    def __init__(self, home: str, *, verbose: bool = False):
        self.home = home
        self.verbose = verbose
        self.stored = 0
        self._lock = threading.Lock()

    def accept(self, records: list, via: str) -> None:
        """Store checked records (``receive``); OSError when the disk refused them."""
        if records:
            # one append to a log that exists; a background thread files the lines by trace
            store.append(self.home, records, incoming=True)
        with self._lock:
            self.stored += len(records)
        if self.verbose:
            traces = sorted({r["trace_id"] for r in records})
            say("%s: stored %d span%s (%s)" % (via, len(records), "" if len(records) == 1
                                                else "s", ", ".join(traces[:10])))


def say(message: str) -> None:
    sys.stderr.write("traceexec serve: %s\n" % printable(message))
    sys.stderr.flush()


# --- OTLP/gRPC ------------------------------------------------------------------

_GRPC_CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 413: grpc.StatusCode.RESOURCE_EXHAUSTED}
RETRY_AFTER_S = 1
"""The delay a busy serve asks for: HTTP ``Retry-After``, gRPC ``RetryInfo``."""


def retry_details(code: grpc.StatusCode, message: str) -> tuple:
    """Trailing metadata that makes a gRPC refusal retryable in OTLP's terms: a
    google.rpc.Status carrying RetryInfo (without it RESOURCE_EXHAUSTED is final)."""
    from google.rpc import error_details_pb2
    status = status_pb2.Status(code=code.value[0], message=message)
    info = error_details_pb2.RetryInfo()
    info.retry_delay.seconds = RETRY_AFTER_S
    status.details.add().Pack(info)
    return (("grpc-status-details-bin", status.SerializeToString()),)


def _abort_retryable(context, code: grpc.StatusCode, message: str) -> None:
    context.set_trailing_metadata(retry_details(code, message))
    context.abort(code, message)


def _grpc_export(sink: Sink, slots: threading.BoundedSemaphore, timeout_s: float):
    """The TraceService/Export method on raw request bytes, so a request is counted
    (``receive``) before protobuf builds a message for each of its spans.

    It is served as a client stream (the same bytes on the wire as a unary call) so
    that it runs as soon as a call begins: a call over the limit of MAX_HANDLERS is
    refused at once in the retryable form, and a call whose message has not arrived
    within ``timeout_s`` is cancelled, its thread freed (grpc has no such limit of its
    own: eight half-sent calls would hold eight threads for ever)."""

    def export(requests, context):
        if not slots.acquire(blocking=False):
            _abort_retryable(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                             "busy: more than %d requests in hand" % MAX_HANDLERS)
        try:
            deadline = threading.Timer(timeout_s, context.cancel)
            deadline.daemon = True
            deadline.start()
            try:
                body = next(requests, None)
            except grpc.RpcError:
                return None  # cancelled: past the deadline, or the client left
            finally:
                deadline.cancel()
            if body is None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no request message")
            try:
                sink.accept(records_from_protobuf(body), "grpc")
            except Refused as refused:
                context.abort(_GRPC_CODES.get(refused.status, grpc.StatusCode.INVALID_ARGUMENT),
                              str(refused))
            except OSError as error:
                _abort_retryable(context, grpc.StatusCode.UNAVAILABLE,
                                 "store: %s" % (error.strerror or error))
            return trace_service_pb2.ExportTraceServiceResponse()
        finally:
            slots.release()

    return grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.stream_unary_rpc_method_handler(
            export, request_deserializer=None,
            response_serializer=trace_service_pb2.ExportTraceServiceResponse.SerializeToString)})


def grpc_server(host: str, port: int, sink: Sink, *, request_timeout: float = REQUEST_TIMEOUT_S):
    """A started gRPC server, and the port it got."""
    _check_free(host, port, "OTLP/gRPC")
    # More threads than requests in hand, so that a call over the limit finds a thread
    # to be refused by instead of waiting in the pool's queue.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=MAX_HANDLERS + SPARE_WORKERS,
                                   thread_name_prefix="otlp-grpc"),
        handlers=[_grpc_export(sink, threading.BoundedSemaphore(MAX_HANDLERS),
                               request_timeout)],
        options=[("grpc.so_reuseport", 0),
                 ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                 ("grpc.max_concurrent_streams", MAX_HANDLERS + SPARE_WORKERS)])
    bound = port
    for each in listen_hosts(host):
        try:
            bound = server.add_insecure_port(_format_address(each, bound)) or 0
        except RuntimeError:
            bound = 0
        if not bound:
            raise ListenError("cannot listen on %s for OTLP/gRPC" % _format_address(each, port))
    server.start()
    return server, bound


# --- OTLP/HTTP ------------------------------------------------------------------

_RPC_CODES = {400: 3, 404: 5, 405: 12, 408: 4, 411: 3, 413: 8, 415: 3, 421: 7, 503: 14}
"""google.rpc.Code for an HTTP status, for the Status message in error replies."""


class OtlpHttpHandler(BaseHTTPRequestHandler):
    """POST /v1/traces with a protobuf or JSON body, optionally gzip-compressed."""

    server_version = "traceexec-serve"
    protocol_version = "HTTP/1.0"  # one request per connection: nothing idles at shutdown

    def setup(self):
        super().setup()
        self.rfile = deadline_reader(self.connection, self.server.request_timeout)

    def do_POST(self):  # noqa: N802 (http.server's name)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        reply_type = JSON if content_type == JSON else PROTOBUF
        try:
            self._check_host()
            if self.path.split("?")[0] != TRACES_PATH:
                raise Refused(404, "not found: POST OTLP traces to %s" % TRACES_PATH)
            if content_type not in (PROTOBUF, JSON):
                raise Refused(415, "unsupported content type %r: use %s or %s"
                              % (content_type, PROTOBUF, JSON))
            body = inflate(self._body(), self.headers.get("Content-Encoding"))
            records = records_from_json(body) if content_type == JSON \
                else records_from_protobuf(body)
            self.server.sink.accept(records, "http")
        except Refused as refused:
            return self._reply(refused.status, reply_type, str(refused))
        except TimeoutError:
            return self._reply(408, reply_type, "the request took longer than %gs"
                               % self.server.request_timeout)
        except OSError as error:
            return self._reply(503, reply_type, "store: %s" % (error.strerror or error))
        self._reply(200, reply_type)

    def do_GET(self):  # noqa: N802
        try:
            self._check_host()
        except Refused as refused:
            return self._reply(refused.status, JSON, str(refused))
        self._reply(405 if self.path.split("?")[0] == TRACES_PATH else 404, JSON,
                    "POST OTLP traces to %s" % TRACES_PATH)

    def _check_host(self) -> None:
        """On loopback, a request must name a loopback host: a web page elsewhere could
        otherwise write spans here through DNS rebinding."""
        if self.server.loopback_only and not is_loopback_host_header(
                self.headers.get("Host"), self.server.server_address[0]):
            raise Refused(421, "this receiver answers only to a loopback host name")

    def _body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            return self._chunked_body()
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            raise Refused(411, "Content-Length required") from None
        if length < 0 or length > MAX_REQUEST_BYTES:
            raise Refused(413, "body larger than %d bytes" % MAX_REQUEST_BYTES)
        body = self.rfile.read(length)
        if len(body) != length:
            raise Refused(400, "body shorter than its Content-Length")
        return body

    def _chunked_body(self) -> bytes:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise Refused(400, "bad chunked encoding") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(parts)
            total += size
            if size < 0 or total > MAX_REQUEST_BYTES:
                raise Refused(413, "body larger than %d bytes" % MAX_REQUEST_BYTES)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _reply(self, status: int, content_type: str, message: str = "") -> None:
        if status == 200:
            data = b"{}" if content_type == JSON else \
                trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        elif content_type == JSON:
            data = json.dumps({"code": _RPC_CODES.get(status, 2), "message": message}).encode()
        else:
            data = status_pb2.Status(code=_RPC_CODES.get(status, 2),
                                     message=message).SerializeToString()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if status == 503:
                self.send_header("Retry-After", str(RETRY_AFTER_S))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client left; nothing to tell it

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        if self.server.sink.verbose:
            say("http %s %s" % (self.address_string(), format % args))


class OtlpHttpServer(BoundedHttpServer):
    """The OTLP/HTTP receiver storing into a Sink."""

    def __init__(self, address, sink: Sink, *, request_timeout: float = REQUEST_TIMEOUT_S):
        self.sink = sink
        self.loopback_only = is_loopback(address[0])
        super().__init__(address, OtlpHttpHandler, family=_family(address[0]),
                         request_timeout=request_timeout, log=say)


def http_server(host: str, port: int, sink: Sink, *,
                request_timeout: float = REQUEST_TIMEOUT_S) -> OtlpHttpServer:
    try:
        return OtlpHttpServer((host, port), sink, request_timeout=request_timeout)
    except OSError as error:
        raise ListenError("cannot listen on %s for OTLP/HTTP: %s" % (
            _format_address(host, port), error.strerror or error)) from None


def more_http_servers(host: str, first: OtlpHttpServer, sink: Sink, *,
                      request_timeout: float = REQUEST_TIMEOUT_S) -> list:
    """For ``localhost``: the same port on the other loopback too, each served by a thread."""
    servers = []
    for each in listen_hosts(host)[1:]:
        server = http_server(each, first.server_address[1], sink,
                             request_timeout=request_timeout)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="otlp-http-" + each, daemon=True).start()
        servers.append(server)
    return servers


# --- the command ----------------------------------------------------------------

def parse_args(args: list):
    parser = subcommand_parser(
        "serve",
        "Receive OTLP traces over gRPC and HTTP and keep them in the local "
        "store, for 'traceexec show' and the web viewer it serves on its own port.  "
        "Stops on SIGINT or SIGTERM.")
    parser.add_argument("--grpc", metavar="HOST:PORT", default=DEFAULT_GRPC,
                        help="OTLP/gRPC address (default %(default)s)")
    parser.add_argument("--http", metavar="HOST:PORT", default=DEFAULT_HTTP,
                        help="OTLP/HTTP address, POST /v1/traces (default %(default)s)")
    parser.add_argument("--web", metavar="HOST:PORT", default=None,
                        help="the web viewer's address (default %s; loopback only unless "
                             "--web-public)" % DEFAULT_WEB)
    parser.add_argument("--web-public", action="store_true",
                        help="allow the viewer on a non-loopback address: anyone who can "
                             "reach it sees every stored span")
    parser.add_argument("--no-web", action="store_true", help="no web viewer")
    parser.add_argument("--request-timeout", metavar="SECONDS", type=float,
                        default=REQUEST_TIMEOUT_S,
                        help="longest a request (HTTP or gRPC) may take to arrive, "
                             "whole (default %(default)g)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="say what arrives, on stderr")
    opts = parser.parse_args(args)
    if not 0 < opts.request_timeout <= 86400:
        raise UsageError("serve: --request-timeout %g: expected seconds between 0 and 86400"
                         % opts.request_timeout)
    return opts


def _file_by_trace(home: str, stop: threading.Event) -> None:
    """File received lines into the store about once a second."""
    full = None
    while not stop.wait(1.0):
        full = file_received(home, full)


def file_received(home: str, full=None):
    """File what waits in the store, and say when unreadable bytes were set aside or the
    disk is full (once, not every second: ``full`` is what the last call returned)."""
    import sqlite3
    try:
        filed = store.ingest(home)
    except (OSError, sqlite3.Error) as error:
        say("filing received spans: %s" % error)
        return full
    if filed.full and filed.full != full:
        say("filing received spans: the disk is full (%s); they wait until there is room"
            % filed.full)
    if filed.quarantined_pieces:
        say("set aside %d unreadable piece%s (%d bytes) of received spans in %s" % (
            filed.quarantined_pieces, "" if filed.quarantined_pieces == 1 else "s",
            filed.quarantined_bytes, filed.quarantine_file))
    return filed.full


def web_address(opts) -> tuple:
    """(host, port) for the viewer, None when off; UsageError for a non-loopback address
    without --web-public."""
    if opts.no_web:
        return None
    host, port = parse_address(opts.web or DEFAULT_WEB, "--web")
    if not opts.web_public and not is_loopback(host):
        raise UsageError("--web %s: not a loopback address; the viewer shows every stored "
                         "span to whoever can reach it (add --web-public to mean it)"
                         % (opts.web or DEFAULT_WEB))
    return host, port


def start_viewer(address, home: str, opts, explicit: bool):
    """The viewer, serving in a thread; None when the default port is taken (said once)."""
    from .web.server import web_server
    try:
        viewer = web_server(address[0], address[1], home, public=opts.web_public,
                            verbose=opts.verbose, request_timeout=opts.request_timeout)
    except ListenError as error:
        if explicit:
            raise
        say("%s; the web viewer is off (choose a port with --web HOST:PORT)" % error)
        return None
    threading.Thread(target=viewer.serve_forever, kwargs={"poll_interval": 0.1},
                     name="web-viewer", daemon=True).start()
    return viewer


def main(args: list) -> int:
    """Serve until SIGINT or SIGTERM; returns 0 once every accepted span is stored."""
    opts = parse_args(args)
    grpc_host, grpc_port = parse_address(opts.grpc, "--grpc")
    http_host, http_port = parse_address(opts.http, "--http")
    viewer_address = web_address(opts)
    home = config.default_home(os.environ)
    store.max_bytes()  # a bad TRACEEXEC_STORE_MAX_MB is said now, not by every filing
    sink = Sink(home, verbose=opts.verbose)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    http_srv = grpc_srv = loop = viewer = None
    others = []
    try:
        http_srv = http_server(listen_hosts(http_host)[0], http_port, sink,
                               request_timeout=opts.request_timeout)
        others = more_http_servers(http_host, http_srv, sink,
                                   request_timeout=opts.request_timeout)
        grpc_srv, grpc_port = grpc_server(grpc_host, grpc_port, sink,
                                          request_timeout=opts.request_timeout)
        if viewer_address is not None:
            viewer = start_viewer(viewer_address, home, opts, explicit=opts.web is not None)
        loop = threading.Thread(target=http_srv.serve_forever, kwargs={"poll_interval": 0.1},
                                name="otlp-http", daemon=True)
        loop.start()
        filing = threading.Thread(target=_file_by_trace, args=(home, stop), name="filing",
                                  daemon=True)
        filing.start()
        say("OTLP/gRPC on %s, OTLP/HTTP on %s, storing in %s" % (
            _format_address(grpc_host, grpc_port),
            _format_address(http_host, http_srv.server_address[1]), home))
        if viewer is not None:
            say("web viewer on http://%s/" % _format_address(
                viewer_address[0], viewer.server_address[1]))
        # A timed wait: the kernel may hand SIGTERM to any thread (grpc's, say), and
        # Python runs its handler only when the main thread next looks.
        while not stop.wait(0.2):
            pass
    finally:
        stopped = grpc_srv.stop(GRACE_S) if grpc_srv is not None else None
        if viewer is not None:
            viewer.shutdown()
            viewer.server_close()
        for other in others:
            other.shutdown()
            other.server_close()
        if http_srv is not None:
            if loop is not None:
                http_srv.shutdown()
            http_srv.server_close()  # joins the threads of in-flight requests
        if stopped is not None:
            stopped.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    file_received(home)
    say("stopped; %d span%s stored" % (sink.stored, "" if sink.stored == 1 else "s"))
    return 0
