"""HTTP servers that a client cannot hold for ever: the OTLP/HTTP receiver's and the viewer's.

Each request must arrive whole within a time limit (for the request, not per
read), and at most MAX_HANDLERS requests are in hand at once: one more is
answered 503 with ``Retry-After`` at once instead of getting a thread.
"""
from __future__ import annotations

import io
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


BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n")


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
        """One line (to ``log``) instead of http.server's traceback on stderr."""
        error = sys.exc_info()[1]
        if self.log is not None:
            self.log("http %s: %s: %s" % (client_address[0], type(error).__name__, error))
