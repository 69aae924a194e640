"""Hostile and imperfect OTLP collectors, each a small real server in its own process.

    python hostile_collector.py MODE SPANS_FILE    # prints its port, serves until killed

Every span id the collector takes (answers a success for) is appended to
SPANS_FILE, one hex id a line, so a test counts sent = arrived.  HTTP/1.1 modes
are written on raw sockets; gRPC modes on raw sockets for what no HTTP/2
library would send, on ``h2``'s server side for the rest.
"""
import gzip
import socket
import sys
import threading
import time

BOMB = b""
"""64 MiB of zeros in gzip (64 KiB on the wire), made once at start by the bomb modes."""


def span_ids(request: bytes) -> list:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import \
        ExportTraceServiceRequest
    message = ExportTraceServiceRequest.FromString(request)
    return [span.span_id.hex() for resource in message.resource_spans
            for scope in resource.scope_spans for span in scope.spans]


class Counter:
    def __init__(self, path):
        self.path, self.lock, self.requests = path, threading.Lock(), 0

    def next_request(self) -> int:
        with self.lock:
            self.requests += 1
            return self.requests

    def took(self, request: bytes) -> None:
        with self.lock, open(self.path, "a") as handle:
            handle.write("".join(i + "\n" for i in span_ids(request)))


# --- OTLP/HTTP on raw sockets ---------------------------------------------------------

def read_request(conn) -> bytes:
    """The body of one HTTP/1.1 request with a Content-Length (or None at EOF)."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return body


def ok(extra=b"", body=b"", kind=b"application/x-protobuf") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + kind + b"\r\nContent-Length: %d\r\n" % len(body)
            + extra + b"\r\n" + body)


def http_mode(mode, conn, counter):
    while True:
        body = read_request(conn)
        if body is None:
            return
        number = counter.next_request()
        if mode == "http-continue":  # an interim answer, then the real one
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            counter.took(body)
            conn.sendall(ok())
        elif mode == "http-busy":  # over its limit twice, then fine
            if number <= 2:
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                             b"Content-Length: 4\r\n\r\nbusy")
            else:
                counter.took(body)
                conn.sendall(ok())
        elif mode == "http-endless-chunked":
            counter.took(body)
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                         b"Content-Type: application/x-protobuf\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (65536, b"\0" * 65536)
            while True:
                conn.sendall(chunk)
        elif mode == "http-gzip-bomb":  # 64 MiB of zeros once inflated
            counter.took(body)
            conn.sendall(ok(b"Content-Encoding: gzip\r\n", BOMB))
        elif mode == "http-partial-bomb":  # 8 bytes whose field claims 400 MB
            counter.took(body)
            conn.sendall(ok(body=b"\x0a\x80\x80\x80\xbf\x01\x08\x01"))
        elif mode == "http-partial-wrong-shape":  # partial_success as a varint
            counter.took(body)
            conn.sendall(ok(body=b"\x08\x05\x12\x03abc"))
        elif mode == "http-partial":  # a real partial success: 2 rejected
            counter.took(body)
            conn.sendall(ok(body=b"\x0a\x0a\x08\x02\x12\x06unfit!"))
        elif mode == "http-drip":  # a byte of the answer every 0.2 s, for ever
            for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Drip: " + b"x" * 100000:
                conn.sendall(bytes([byte]))
                time.sleep(0.2)
        elif mode == "http-garbage-once":
            if number == 1:
                conn.sendall(b"\x16\x03\x01 this is no HTTP\r\n\r\n")
                return
            counter.took(body)
            conn.sendall(ok())


# --- OTLP/gRPC -------------------------------------------------------------------------

def frame(kind: int, flags: int, stream: int, payload: bytes, length=None) -> bytes:
    length = len(payload) if length is None else length
    return length.to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload


def raw_grpc_mode(mode, conn):
    """Modes no HTTP/2 library would send."""
    conn.recv(65536)
    if mode == "grpc-max-frame-size-zero":
        conn.sendall(frame(4, 0, 0, b"\x00\x05" + (0).to_bytes(4, "big")))
    elif mode == "grpc-huge-header-frame":  # a HEADERS frame of 8 MiB, sent slowly
        conn.sendall(frame(4, 0, 0, b"") + frame(1, 4, 1, b"", length=8 * 1024 * 1024 - 1))
        for _ in range(8 * 1024):
            conn.sendall(b"\x00" * 1024)
    while conn.recv(65536):
        pass


def _retry_info(seconds: int) -> bytes:
    import base64
    from google.protobuf import any_pb2, duration_pb2
    from google.rpc import error_details_pb2, status_pb2
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    status = status_pb2.Status(code=8, message="busy", details=[detail])
    return base64.b64encode(status.SerializeToString()).rstrip(b"=")


def h2_grpc_mode(mode, conn, counter):
    import h2.config
    import h2.connection
    import h2.events
    link = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                header_encoding=None))
    link.initiate_connection()
    conn.sendall(link.data_to_send())
    bodies = {}
    while True:
        data = conn.recv(65536)
        if not data:
            return
        for event in link.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                link.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                message = bodies.pop(event.stream_id, b"")[5:]
                answer(mode, link, conn, event.stream_id, message, counter)
        conn.sendall(link.data_to_send())


def answer(mode, link, conn, stream, message, counter):
    number = counter.next_request()
    head = [(b":status", b"200"), (b"content-type", b"application/grpc")]
    if mode == "grpc-busy" and number <= 2:
        link.send_headers(stream, head + [(b"grpc-status", b"14"), (b"grpc-message", b"busy")],
                          end_stream=True)
        return
    if mode == "grpc-retry-info" and number == 1:
        link.send_headers(stream, head + [(b"grpc-status", b"8"), (b"grpc-message", b"busy"),
                                          (b"grpc-status-details-bin", _retry_info(1))],
                          end_stream=True)
        return
    if mode == "grpc-ping-drip":  # keeps the connection busy, never answers
        while True:
            link.ping(b"12345678")
            conn.sendall(link.data_to_send())
            time.sleep(0.1)
    if mode == "grpc-gzip-bomb":
        counter.took(message)
        bomb = BOMB
        link.send_headers(stream, head + [(b"grpc-encoding", b"gzip")])
        send_all(link, conn, stream, b"\x01" + len(bomb).to_bytes(4, "big") + bomb)
        link.send_headers(stream, [(b"grpc-status", b"0")], end_stream=True)
        return
    if mode == "grpc-endless-data":
        link.send_headers(stream, head)
        while True:
            send_all(link, conn, stream, b"\0" * 65536)
    counter.took(message)
    reply = b""
    if mode == "grpc-partial-bomb":
        reply = b"\x0a\x80\x80\x80\xbf\x01\x08\x01"
    link.send_headers(stream, head)
    link.send_data(stream, b"\x00" + len(reply).to_bytes(4, "big") + reply)
    link.send_headers(stream, [(b"grpc-status", b"0")], end_stream=True)


def send_all(link, conn, stream, data):
    """Send ``data`` on ``stream`` as the client's flow-control window allows."""
    import h2.events
    while data:
        size = min(link.local_flow_control_window(stream), link.max_outbound_frame_size, len(data))
        if size <= 0:
            conn.sendall(link.data_to_send())
            incoming = conn.recv(65536)
            if not incoming:
                raise ConnectionError("the client went away")
            for event in link.receive_data(incoming):
                if isinstance(event, h2.events.StreamReset):
                    raise ConnectionError("the client reset the stream")
            continue
        link.send_data(stream, data[:size])
        data = data[size:]
    conn.sendall(link.data_to_send())


def serve(conn, mode, counter):
    try:
        with conn:
            if mode.startswith("http"):
                http_mode(mode, conn, counter)
            elif mode in ("grpc-max-frame-size-zero", "grpc-huge-header-frame"):
                raw_grpc_mode(mode, conn)
            else:
                h2_grpc_mode(mode, conn, counter)
    except Exception:  # the exporter hung up on us: that is the point
        pass


def main():
    global BOMB
    mode, path = sys.argv[1], sys.argv[2]
    if "bomb" in mode:
        BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)
    counter = Counter(path)
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, mode, counter), daemon=True).start()


if __name__ == "__main__":
    main()
