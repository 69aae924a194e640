"""``traceexec serve``: a local OTLP receiver (gRPC and HTTP) that fills the store.

Anything that speaks OTLP (the traceexec exporter, a Python or Node program
with the OpenTelemetry SDK, a collector) can send traces here and read them
with ``traceexec show``.  A request is acknowledged only after its spans were
appended to the store, so what a client saw accepted is on disk.

    traceexec serve --grpc 127.0.0.1:4317 --http 127.0.0.1:4318

grpc and protobuf are imported here only, never on the wrapper's path.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sys
import threading
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from ..delivery import config, span
from . import local as store
from ..cli import subcommand_parser
from ..errors import TraceexecError, UsageError

DEFAULT_GRPC = "localhost:4317"
DEFAULT_HTTP = "localhost:4318"
TRACES_PATH = "/v1/traces"
PROTOBUF, JSON = "application/x-protobuf", "application/json"
MAX_BODY_BYTES = 64 * 1024 * 1024
GRACE_S = 10.0
"""How long in-flight requests may take to finish after SIGINT/SIGTERM."""
WORKERS = 8
_HEX = frozenset("0123456789abcdef")


class ListenError(TraceexecError):
    """A listening address could not be bound."""


class BadSpans(ValueError):
    """A request's spans cannot be stored (bad ids, malformed document)."""


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


# --- protobuf to span records ---------------------------------------------------

def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return json.dumps({kv.key: _value(kv.value) for kv in any_value.kvlist_value.values},
                          default=str)
    if kind == "bytes_value":
        return base64.b64encode(any_value.bytes_value).decode()
    return getattr(any_value, kind)


def _attributes(items) -> dict:
    result = {}
    for item in items:
        value = _value(item.value)
        if value is not None:
            result[item.key] = value
    return result


def records_from_request(request) -> list:
    """Span records (hex ids) from an ExportTraceServiceRequest message."""
    records = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for s in scope_spans.spans:
                records.append(span.new_record(
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex(), trace_state=s.trace_state,
                    flags=(s.flags & 0xFF) or 1, name=s.name, kind=s.kind,
                    start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
                    attributes=_attributes(s.attributes),
                    status_code=s.status.code, status_message=s.status.message,
                    events=[{"name": e.name, "time_ns": e.time_unix_nano,
                             "attributes": _attributes(e.attributes)} for e in s.events],
                    links=[{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                            "trace_state": link.trace_state,
                            "attributes": _attributes(link.attributes)} for link in s.links],
                    resource=resource, scope=scope.name, scope_version=scope.version))
    return records


def _is_id(text, length: int) -> bool:
    return (isinstance(text, str) and len(text) == length and _HEX.issuperset(text)
            and text != "0" * length)


def check_records(records: list) -> list:
    """``records`` when every id is valid hex; raises BadSpans naming the first bad one."""
    for record in records:
        if not store.is_trace_id(record["trace_id"]):
            raise BadSpans("span %r: invalid trace id" % record["name"])
        if not _is_id(record["span_id"], 16):
            raise BadSpans("span %r: invalid span id" % record["name"])
        if record["parent_span_id"] and not _is_id(record["parent_span_id"], 16):
            raise BadSpans("span %r: invalid parent span id" % record["name"])
    return records


def records_from_json(body: bytes) -> list:
    """Span records from an OTLP/JSON body; raises BadSpans when malformed."""
    try:
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        return span.from_otlp_json(document)
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise BadSpans("malformed OTLP/JSON: %s" % error) from None


# --- the sink both servers write to ---------------------------------------------

class Sink:
    """Appends received spans to the store and counts them."""

    def __init__(self, home: str, *, verbose: bool = False):
        self.home = home
        self.verbose = verbose
        self.stored = 0
        self._lock = threading.Lock()

    def accept(self, records: list, via: str) -> None:
        """Store checked records; OSError when the disk refused them."""
        check_records(records)
        if records:
            # one append to a log that exists; a background thread files the lines by trace
            store.append(self.home, records, incoming=True)
        with self._lock:
            self.stored += len(records)
        if self.verbose:
            traces = sorted({r["trace_id"] for r in records})
            say("%s: stored %d span%s (%s)" % (via, len(records), "" if len(records) == 1
                                                else "s", ", ".join(traces)))


def say(message: str) -> None:
    sys.stderr.write("traceexec serve: %s\n" % message)
    sys.stderr.flush()


# --- OTLP/gRPC ------------------------------------------------------------------

class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    """The OTLP/gRPC TraceService storing into a Sink."""

    def __init__(self, sink: Sink):
        self.sink = sink

    def Export(self, request, context):  # noqa: N802 (the gRPC method's name)
        try:
            self.sink.accept(records_from_request(request), "grpc")
        except BadSpans as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except OSError as error:
            context.abort(grpc.StatusCode.UNAVAILABLE, "store: %s" % (error.strerror or error))
        return trace_service_pb2.ExportTraceServiceResponse()


def grpc_server(host: str, port: int, sink: Sink):
    """A started gRPC server, and the port it got."""
    _check_free(host, port, "OTLP/gRPC")
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="otlp-grpc"),
        options=[("grpc.so_reuseport", 0),
                 ("grpc.max_receive_message_length", MAX_BODY_BYTES)])
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(sink), server)
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

_RPC_CODES = {400: 3, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 503: 14}
"""google.rpc.Code for an HTTP status, for the Status message in error replies."""


class HttpProblem(Exception):
    """An HTTP request that gets ``status`` and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class OtlpHttpHandler(BaseHTTPRequestHandler):
    """POST /v1/traces with a protobuf or JSON body, optionally gzip-compressed."""

    server_version = "traceexec-serve"
    protocol_version = "HTTP/1.0"  # one request per connection: nothing idles at shutdown
    timeout = 10  # a silent client holds up shutdown at most this long

    def do_POST(self):  # noqa: N802 (http.server's name)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        reply_type = JSON if content_type == JSON else PROTOBUF
        try:
            if self.path.split("?")[0] != TRACES_PATH:
                raise HttpProblem(404, "not found: POST OTLP traces to %s" % TRACES_PATH)
            if content_type not in (PROTOBUF, JSON):
                raise HttpProblem(415, "unsupported content type %r: use %s or %s"
                                  % (content_type, PROTOBUF, JSON))
            body = self._decoded(self._body())
            if content_type == JSON:
                records = records_from_json(body)
            else:
                try:
                    records = records_from_request(
                        trace_service_pb2.ExportTraceServiceRequest.FromString(body))
                except Exception as error:  # protobuf's DecodeError, or a bad field
                    raise BadSpans("malformed OTLP/protobuf: %s" % error) from None
            self.server.sink.accept(records, "http")
        except BadSpans as error:
            return self._reply(400, reply_type, str(error))
        except HttpProblem as problem:
            return self._reply(problem.status, reply_type, str(problem))
        except OSError as error:
            return self._reply(503, reply_type, "store: %s" % (error.strerror or error))
        self._reply(200, reply_type)

    def do_GET(self):  # noqa: N802
        self._reply(405 if self.path.split("?")[0] == TRACES_PATH else 404, JSON,
                    "POST OTLP traces to %s" % TRACES_PATH)

    def _body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            return self._chunked_body()
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            raise HttpProblem(411, "Content-Length required") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise HttpProblem(413, "body larger than %d bytes" % MAX_BODY_BYTES)
        body = self.rfile.read(length)
        if len(body) != length:
            raise HttpProblem(400, "body shorter than its Content-Length")
        return body

    def _chunked_body(self) -> bytes:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise HttpProblem(400, "bad chunked encoding") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise HttpProblem(413, "body larger than %d bytes" % MAX_BODY_BYTES)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _decoded(self, body: bytes) -> bytes:
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "identity":
            return body
        if encoding != "gzip":
            raise HttpProblem(415, "unsupported content encoding %r: use gzip" % encoding)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(body, MAX_BODY_BYTES)
        except zlib.error:
            raise BadSpans("body is not valid gzip") from None
        if inflater.unconsumed_tail:
            raise HttpProblem(413, "body inflates past %d bytes" % MAX_BODY_BYTES)
        if not inflater.eof:
            raise BadSpans("gzip body is truncated")
        return data

    def _reply(self, status: int, content_type: str, message: str = "") -> None:
        if status == 200:
            data = b"{}" if content_type == JSON else \
                trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        elif content_type == JSON:
            data = json.dumps({"code": _RPC_CODES.get(status, 2), "message": message}).encode()
        else:
            data = status_pb2.Status(code=_RPC_CODES.get(status, 2),
                                     message=message).SerializeToString()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        if self.server.sink.verbose:
            say("http %s %s" % (self.address_string(), format % args))


class OtlpHttpServer(ThreadingHTTPServer):
    """Threads are joined on close, so in-flight requests finish before exit."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def __init__(self, address, sink: Sink):
        self.address_family = _family(address[0])
        self.sink = sink
        super().__init__(address, OtlpHttpHandler)

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        say("http %s: %s: %s" % (client_address[0], type(error).__name__, error))


def http_server(host: str, port: int, sink: Sink) -> OtlpHttpServer:
    try:
        return OtlpHttpServer((host, port), sink)
    except OSError as error:
        raise ListenError("cannot listen on %s for OTLP/HTTP: %s" % (
            _format_address(host, port), error.strerror or error)) from None


def more_http_servers(host: str, web: OtlpHttpServer, sink: Sink) -> list:
    """For ``localhost``: the same port on the other loopback too, each served by a thread."""
    servers = []
    for each in listen_hosts(host)[1:]:
        server = http_server(each, web.server_address[1], sink)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="otlp-http-" + each, daemon=True).start()
        servers.append(server)
    return servers


# --- the command ----------------------------------------------------------------

def parse_args(args: list):
    parser = subcommand_parser(
        "serve",
        "Receive OTLP traces over gRPC and HTTP and keep them in the local "
                    "store, for 'traceexec show'.  Stops on SIGINT or SIGTERM.")
    parser.add_argument("--grpc", metavar="HOST:PORT", default=DEFAULT_GRPC,
                        help="OTLP/gRPC address (default %(default)s)")
    parser.add_argument("--http", metavar="HOST:PORT", default=DEFAULT_HTTP,
                        help="OTLP/HTTP address, POST /v1/traces (default %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="say what arrives, on stderr")
    return parser.parse_args(args)


def _file_by_trace(home: str, stop: threading.Event) -> None:
    """Move received lines into their traces' files about once a second."""
    while not stop.wait(1.0):
        try:
            store.ingest_incoming(home)
        except OSError as error:
            say("filing received spans: %s" % error)


def main(args: list) -> int:
    """Serve until SIGINT or SIGTERM; returns 0 once every accepted span is stored."""
    opts = parse_args(args)
    grpc_host, grpc_port = parse_address(opts.grpc, "--grpc")
    http_host, http_port = parse_address(opts.http, "--http")
    home = config.default_home(os.environ)
    sink = Sink(home, verbose=opts.verbose)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    web = grpc_srv = loop = None
    others = []
    try:
        web = http_server(listen_hosts(http_host)[0], http_port, sink)
        others = more_http_servers(http_host, web, sink)
        grpc_srv, grpc_port = grpc_server(grpc_host, grpc_port, sink)
        loop = threading.Thread(target=web.serve_forever, kwargs={"poll_interval": 0.1},
                                name="otlp-http", daemon=True)
        loop.start()
        filing = threading.Thread(target=_file_by_trace, args=(home, stop), name="filing",
                                  daemon=True)
        filing.start()
        say("OTLP/gRPC on %s, OTLP/HTTP on %s, storing in %s" % (
            _format_address(grpc_host, grpc_port),
            _format_address(http_host, web.server_address[1]), home))
        # A timed wait: the kernel may hand SIGTERM to any thread (grpc's, say), and
        # Python runs its handler only when the main thread next looks.
        while not stop.wait(0.2):
            pass
    finally:
        stopped = grpc_srv.stop(GRACE_S) if grpc_srv is not None else None
        for other in others:
            other.shutdown()
            other.server_close()
        if web is not None:
            if loop is not None:
                web.shutdown()
            web.server_close()  # joins the threads of in-flight requests
        if stopped is not None:
            stopped.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    store.ingest_incoming(home)
    say("stopped; %d span%s stored" % (sink.stored, "" if sink.stored == 1 else "s"))
    return 0
