"""Connections to a collector for both OTLP clients: TCP within a deadline, through
an HTTP proxy's ``CONNECT`` when one applies, then TLS (certificate checks,
a client certificate for mTLS) when the endpoint asks for it.

Every wait is bounded by one ``Deadline`` per request, from connecting to the
answer's last byte.  Errors are ``TransportError`` with a reason that holds no
header value and no proxy credential.  ``http.client`` (the email package with
it: 25 ms) is imported only to read a proxy's answer, so the OTLP/gRPC exporter
does without it.
"""

import _socket
import io
import time

MAX_PROXY_ANSWER = 16 * 1024
"""Bytes of a proxy's answer to CONNECT we read at most."""


class TransportError(Exception):
    """No usable connection, or the peer broke the protocol (always retryable)."""


class Deadline:
    """The end of one request: ``remaining()`` seconds left, TimeoutError when none."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer within %gs" % self.seconds)
        return left


class TlsSettings:
    """How to speak TLS to a collector: ``certificate`` (a CA file, else the system's),
    ``verify`` (False: no certificate check, the ``insecure`` of a TLS endpoint),
    ``client_certificate``/``client_key`` (PEM files, for mTLS)."""

    def __init__(self, certificate=None, *, verify=True, client_certificate=None,
                 client_key=None):
        self.certificate, self.verify = certificate, verify
        self.client_certificate, self.client_key = client_certificate, client_key

    def context(self, alpn: str):
        """An ``ssl.SSLContext`` offering the protocol ``alpn``."""
        import ssl
        try:
            context = ssl.create_default_context(cafile=self.certificate or None)
        except (OSError, ssl.SSLError) as error:
            raise TransportError("cannot read certificate %s: %s" % (
                self.certificate, getattr(error, "strerror", None) or error)) from None
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_certificate:
            try:
                context.load_cert_chain(self.client_certificate, self.client_key or None)
            except (OSError, ssl.SSLError) as error:
                raise TransportError("cannot read client certificate %s: %s" % (
                    self.client_certificate,
                    getattr(error, "strerror", None) or getattr(error, "reason", None)
                    or error)) from None
        elif self.client_key:
            raise TransportError("a client key without a client certificate")
        context.set_alpn_protocols([alpn])
        return context

    def check(self, alpn: str, error_type) -> None:
        """Read the certificates now, when a client is made, not at its first send: one
        that cannot be read raises ``error_type`` (the client's own) with the reason."""
        try:
            self.context(alpn)
        except TransportError as error:
            raise error_type(str(error)) from None


def _tcp(host: str, port: int, deadline: Deadline):
    """A connected TCP socket, trying each address of ``host`` in turn.  ``_socket``
    itself: the ``socket`` module's enums cost the plaintext exporter 4 ms."""
    error = OSError("no address")
    # an ASCII name as bytes: a str would load the idna codec
    name = host.encode("ascii") if host.isascii() else host
    try:
        addresses = _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM)
    except (OSError, UnicodeError) as failed:
        raise TransportError("cannot connect to %s:%d: %s" % (
            host, port, getattr(failed, "strerror", None) or failed)) from None
    for family, kind, proto, _, address in addresses:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(address)
        except TimeoutError:
            sock.close()
            raise TransportError("connection to %s:%d timed out" % (host, port)) from None
        except OSError as failed:
            sock.close()
            error = failed
            continue
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock
    raise TransportError("cannot connect to %s:%d: %s" % (
        host, port, getattr(error, "strerror", None) or error))


def _tunnel(sock, host: str, port: int, proxy, deadline: Deadline) -> None:
    """Ask ``proxy`` (already connected on ``sock``) for a tunnel to host:port."""
    import http.client
    target = "%s:%d" % ("[%s]" % host if ":" in host else host, port)
    lines = ["CONNECT %s HTTP/1.1" % target, "Host: " + target]
    if proxy.authorization:
        lines.append("Proxy-Authorization: " + proxy.authorization)
    try:
        sock.settimeout(deadline.remaining())
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        # one byte at a time: nothing of what the collector sends after the
        # proxy's answer may be read here
        answer = http.client.HTTPResponse(DeadlineSocket(sock, deadline, buffer_size=1),
                                          method="CONNECT")
        answer.begin()
    except (OSError, http.client.HTTPException) as error:
        raise TransportError("proxy %s: no tunnel: %s" % (
            proxy.name, getattr(error, "strerror", None) or error or type(error).__name__)) from None
    if answer.status != 200:
        raise TransportError("proxy %s refused the tunnel to %s: HTTP %d" % (
            proxy.name, target, answer.status))


def open_connection(host: str, port: int, deadline: Deadline, *, tls=None, alpn="http/1.1",
                    proxy=None):
    """A socket to ``host:port`` (through ``proxy`` with CONNECT), in TLS when ``tls``
    (a TlsSettings) is given."""
    if proxy is None:
        sock = _tcp(host, port, deadline)
    else:
        sock = _tcp(proxy.host, proxy.port, deadline)
        try:
            _tunnel(sock, host, port, proxy, deadline)
        except BaseException:
            sock.close()
            raise
    if tls is None:
        return sock
    import socket
    import ssl
    sock = socket.socket(fileno=sock.detach())
    try:
        context = tls.context(alpn)
        sock.settimeout(deadline.remaining())
        secure = context.wrap_socket(sock, server_hostname=host)
    except TransportError:
        sock.close()
        raise
    except (OSError, ssl.SSLError, ssl.CertificateError) as error:
        sock.close()
        raise TransportError("TLS handshake with %s:%d failed: %s" % (
            host, port, getattr(error, "reason", None) or error)) from None
    return secure


class _Reader(io.RawIOBase):
    def __init__(self, owner):
        self.owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        sock = self.owner.sock
        sock.settimeout(self.owner.deadline.remaining())
        return sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self.owner._release()


class DeadlineSocket:
    """A socket as ``http.client`` uses it, every read and write within ``deadline``
    (replaced per request), so a peer that drips bytes cannot stretch a request.
    Like ``socket.makefile``, a reader keeps the socket open until it is closed
    too (http.client closes the connection before the body of a last answer is read)."""

    def __init__(self, sock, deadline: Deadline, *, buffer_size=io.DEFAULT_BUFFER_SIZE):
        self.sock, self.deadline, self.buffer_size = sock, deadline, buffer_size
        self._readers = 0
        self._closing = False

    def sendall(self, data) -> None:
        self.sock.settimeout(self.deadline.remaining())
        self.sock.sendall(data)

    def makefile(self, mode="rb"):
        self._readers += 1
        return io.BufferedReader(_Reader(self), self.buffer_size)

    def _release(self) -> None:
        self._readers -= 1
        if self._closing and self._readers <= 0:
            self.sock.close()

    def close(self) -> None:
        self._closing = True
        if self._readers <= 0:
            self.sock.close()
