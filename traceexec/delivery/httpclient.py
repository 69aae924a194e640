"""A small HTTP/1.1 client for OTLP/HTTP: POST a body, read the answer.

Standard library only and light to import: plain http uses ``_socket``
itself (the ``socket`` module's enums cost 6 ms to import), https adds
``socket`` and ``ssl``.  The exporter for an OTLP/HTTP destination starts
without site-packages.
One keep-alive connection, opened again when the server closed it.  Errors
are ``HttpError`` with a reason that never holds a header value.
"""

import _socket

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024


class HttpError(Exception):
    """The request got no HTTP answer (connection, TLS, timeout, garbled reply)."""


def split_url(url: str) -> tuple:
    """(scheme, host, port, path) of an http(s) URL.

    >>> split_url("https://[::1]:4318/v1/traces")
    ('https', '::1', 4318, '/v1/traces')
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise HttpError("not an http or https URL")
    authority, slash, path = rest.partition("/")
    path = slash + path if slash else "/"
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        host, _, port_text = authority[1:].partition("]")
        port_text = port_text[1:]
    else:
        host, _, port_text = authority.partition(":")
    if not host:
        raise HttpError("the URL has no host")
    if port_text and not port_text.isdigit():
        raise HttpError("the URL has a bad port")
    port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    return scheme, host, port, path


class HttpClient:
    """POSTs to one URL over a kept-alive connection."""

    def __init__(self, url: str, *, certificate=None, insecure=False):
        self.scheme, self.host, self.port, self.path = split_url(url)
        self.certificate = certificate
        self.insecure = insecure
        self.sock = None
        self._context = None
        self.deadline = 0.0
        default = 443 if self.scheme == "https" else 80
        host = "[%s]" % self.host if ":" in self.host else self.host
        self.authority = host if self.port == default else "%s:%d" % (host, self.port)

    def _connect(self, timeout_s: float):
        if self.scheme == "https" and self._context is None:
            self._context = tls_context(self.certificate, insecure=self.insecure,
                                        alpn="http/1.1")
        self.sock = connect(self.host, self.port, timeout_s, self._context)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def post(self, body: bytes, headers: dict, timeout_s: float) -> tuple:
        """(status, headers with lower-case names, body) of a POST of ``body``.

        ``headers`` maps names to values (str); they are sent as UTF-8.  ``timeout_s``
        bounds the whole exchange: connecting, the TLS handshake, sending, the answer.
        """
        import time
        self.deadline = time.monotonic() + timeout_s
        lines = ["POST %s HTTP/1.1" % self.path, "Host: " + self.authority,
                 "Content-Length: %d" % len(body)]
        lines.extend("%s: %s" % item for item in headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
        for attempt in (1, 2):
            reused = self.sock is not None
            try:
                if not reused:
                    self._connect(self._remaining())
                self.sock.settimeout(self._remaining())
                self.sock.sendall(head + body)
                return self._response()
            except _Stale:
                self.close()
                if not reused or attempt == 2:
                    raise HttpError("the server closed the connection without an answer") from None
            except TimeoutError:
                self.close()
                raise HttpError("no answer within %gs" % timeout_s) from None
            except OSError as error:
                self.close()
                if reused and attempt == 1:
                    continue  # a kept-alive connection the server had dropped
                raise HttpError("connection to %s:%d failed: %s" % (
                    self.host, self.port, error.strerror or error)) from None
        raise HttpError("no answer")

    def _remaining(self) -> float:
        import time
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no time left")
        return remaining

    def _recv(self) -> bytes:
        self.sock.settimeout(self._remaining())
        return self.sock.recv(65536)

    def _response(self) -> tuple:
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            chunk = self._recv()
            if not chunk:
                if not buffer:
                    raise _Stale()
                raise HttpError("the server closed the connection mid-answer")
            buffer += chunk
            if len(buffer) > MAX_HEAD:
                raise HttpError("the answer's header is too long")
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HttpError("not an HTTP answer")
        status = int(parts[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._chunked(bytearray(rest))
        elif "content-length" in headers:
            body = self._exactly(bytearray(rest), int(headers["content-length"] or 0))
        else:
            body = self._until_close(bytearray(rest))
        if headers.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0":
            self.close()
        return status, headers, body

    def _more(self, buffer: bytearray) -> None:
        chunk = self._recv()
        if not chunk:
            raise HttpError("the server closed the connection mid-answer")
        buffer += chunk
        if len(buffer) > MAX_BODY:
            raise HttpError("the answer is too long")

    def _exactly(self, buffer: bytearray, length: int) -> bytes:
        while len(buffer) < length:
            self._more(buffer)
        return bytes(buffer[:length])

    def _until_close(self, buffer: bytearray) -> bytes:
        while True:
            chunk = self._recv()
            if not chunk:
                self.close()
                return bytes(buffer)
            buffer += chunk
            if len(buffer) > MAX_BODY:
                raise HttpError("the answer is too long")

    def _chunked(self, buffer: bytearray) -> bytes:
        body = bytearray()
        while True:
            while b"\r\n" not in buffer:
                self._more(buffer)
            size_line, _, rest = bytes(buffer).partition(b"\r\n")
            try:
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise HttpError("a bad chunk in the answer") from None
            buffer = bytearray(rest)
            if size == 0:
                while b"\r\n" not in buffer:  # trailers, if any, end with an empty line
                    self._more(buffer)
                return bytes(body)
            while len(buffer) < size + 2:
                self._more(buffer)
            body += buffer[:size]
            buffer = buffer[size + 2:]


def tls_context(certificate=None, *, insecure=False, alpn: str):
    """A client TLS context: verified against ``certificate`` (a CA file) or the
    system's CAs, unless ``insecure``; offering the protocol ``alpn``."""
    import ssl
    try:
        context = ssl.create_default_context(cafile=certificate or None)
    except (OSError, ssl.SSLError) as error:
        raise HttpError("cannot read certificate %s: %s" % (
            certificate, getattr(error, "strerror", None) or error)) from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([alpn])
    return context


def connect(host: str, port: int, timeout_s: float, context=None):
    """A connected socket to ``host:port`` (``_socket``), wrapped in TLS with
    ``context`` when given; HttpError with a reason when that fails."""
    try:
        sock = _open(host, port, timeout_s)
    except TimeoutError:
        raise HttpError("connection timed out after %gs" % timeout_s) from None
    except (OSError, UnicodeError) as error:
        raise HttpError("cannot connect to %s:%d: %s" % (
            host, port, getattr(error, "strerror", None) or error)) from None
    sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    if context is None:
        return sock
    import socket
    import ssl
    plain = socket.socket(fileno=sock.detach())
    plain.settimeout(timeout_s)
    try:
        return context.wrap_socket(plain, server_hostname=host)
    except (OSError, ssl.SSLError, ssl.CertificateError) as error:
        plain.close()
        raise HttpError("TLS handshake with %s:%d failed: %s" % (
            host, port, getattr(error, "reason", None) or error)) from None


def _open(host: str, port: int, timeout_s: float):
    """A connected TCP socket (``_socket``), trying each address of ``host`` in turn."""
    error = OSError("no address")
    # an ASCII name as bytes: a str would load the idna codec (and re, enum: 5 ms)
    name = host.encode("ascii") if host.isascii() else host
    for family, kind, proto, _, address in _socket.getaddrinfo(name, port, 0,
                                                                _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout_s)
            sock.connect(address)
            return sock
        except OSError as failed:
            sock.close()
            error = failed
    raise error


class _Stale(Exception):
    """A kept-alive connection closed before any byte of the answer."""
