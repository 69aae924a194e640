"""HTTP servers that a client cannot hold for ever: the OTLP/HTTP receiver's and the viewer's.

Each request must arrive whole within a time limit (for the request, not per
read), and at most MAX_HANDLERS requests are in hand at once: one more is
answered 503 with ``Retry-After`` at once instead of getting a thread.  A
server on a loopback address answers only to a loopback host name (``Host``),
so a web page cannot reach it through DNS rebinding; a request that fails in
an unforeseen way still gets an answer (500), never a dropped connection.
"""
from __future__ import annotations

import io
import ipaddress
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer

MAX_HANDLERS = 32
"""Requests handled at once on each port; more are refused with a retryable status (HTTP
503; gRPC RESOURCE_EXHAUSTED in ``serve``), as the OTLP specification describes."""
REQUEST_TIMEOUT_S = 30.0
"""Longest an HTTP request may take to arrive, headers and body together."""


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes until a deadline for the whole request, not for each read, so a
    client sending a byte now and then cannot hold a handler for ever."""

    def __init__(self, sock, deadline: float):
        super().__init__()
        self.sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request took longer than its time limit")
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


def deadline_reader(sock, timeout_s: float):
    """A buffered reader of ``sock`` that gives up ``timeout_s`` from now."""
    return io.BufferedReader(_DeadlineReader(sock, time.monotonic() + timeout_s))


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback
                               for info in infos)


def is_loopback_host_header(value, bound_host: str) -> bool:
    """Whether a ``Host`` header names this loopback server: ``localhost``, a loopback
    address or the address it is bound to; a rebinding attacker's name is none of them.

    >>> is_loopback_host_header("localhost:4318", "127.0.0.1"), \
    ...     is_loopback_host_header("evil.example", "127.0.0.1")
    (True, False)
    """
    host = (value or "").strip().lower()
    if host.startswith("["):
        host = host[1:host.find("]")] if "]" in host else host
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if host in ("localhost", bound_host.lower()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n")

_FAILED_TEXT = b"the request failed on the server\n"
FAILED = (b"HTTP/1.0 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
          b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
          % (len(_FAILED_TEXT), _FAILED_TEXT))


class BoundedHttpServer(ThreadingHTTPServer):
    """A threading HTTP server with at most MAX_HANDLERS requests in hand: one more is
    answered 503 at once instead of getting a thread.  Threads are joined on close, so
    in-flight requests finish before exit."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def __init__(self, address, handler, *, family: int = socket.AF_INET,
                 request_timeout: float = REQUEST_TIMEOUT_S, log=None):
        self.address_family = family
        self.request_timeout = request_timeout
        self.log = log
        self.slots = threading.BoundedSemaphore(MAX_HANDLERS)
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            try:
                request.setblocking(False)
                request.send(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        """One line (to ``log``) instead of http.server's traceback on stderr, and an
        answer to the client: both handlers write their reply last and whole, so a
        request that failed before it has none yet."""
        error = sys.exc_info()[1]
        if self.log is not None:
            self.log("http %s: %s: %s" % (client_address[0], type(error).__name__, error))
        if not isinstance(error, OSError):  # a broken connection has no one to answer
            try:
                request.sendall(FAILED)
            except OSError:
                pass
