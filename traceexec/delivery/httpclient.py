"""OTLP/HTTP: POST a body, read a bounded answer, with the standard library's
``http.client`` doing the HTTP/1.1 (status line, headers, chunked and
fixed-length bodies, interim ``100 Continue`` answers).

One keep-alive connection, opened again when the server closed it; through
an HTTP proxy when the environment names one (``proxy``): ``CONNECT`` for
``https://``, the absolute URL as the request target for ``http://``, as
curl does.  The deadline covers connecting, sending and the whole answer.
Errors are ``HttpError`` with a reason that never holds a header value.
"""

import http.client
import ssl  # http.client loads it anyway

from .otlpexchange import inflate
from .proxy import split_authority
from .transport import Deadline, DeadlineSocket, TlsSettings, TransportError, open_connection

MAX_BODY = 4 * 1024 * 1024
"""Bytes of an answer's body (after decompression) we read at most."""


class HttpError(Exception):
    """The request got no usable HTTP answer (connection, TLS, timeout, garbled or
    oversized reply): the connection is closed, the request may be tried again.
    ``reached``: the collector was connected to and then failed (closed, reset,
    garbled), as opposed to unreachable, refusing TLS or silent."""

    def __init__(self, reason, reached=False):
        super().__init__(reason)
        self.reached = reached


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
    host, port_text = split_authority(authority)
    if not host:
        raise HttpError("the URL has no host")
    if port_text and not port_text.isdigit():
        raise HttpError("the URL has a bad port")
    port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    return scheme, host, port, path


class _Connection(http.client.HTTPConnection):
    """http.client's connection over a socket that ``opener`` makes."""

    def __init__(self, host, port, opener, deadline_of):
        super().__init__(host, port)
        self._opener, self._deadline_of = opener, deadline_of

    def connect(self):
        self.sock = DeadlineSocket(self._opener(), self._deadline_of())


class HttpClient:
    """POSTs to one URL over a kept-alive connection."""

    def __init__(self, url: str, *, tls=None, proxy=None):
        self.scheme, self.host, self.port, self.path = split_url(url)
        self.url = url
        self.tls = (tls or TlsSettings()) if self.scheme == "https" else None
        self.proxy = proxy
        self.deadline = None
        self.connection = None
        if self.tls is not None:
            self.tls.check("http/1.1", HttpError)

    def _open(self):
        forward = self.proxy is not None and self.tls is None  # plain http via the proxy
        if forward:
            return open_connection(self.proxy.host, self.proxy.port, self.deadline)
        return open_connection(self.host, self.port, self.deadline, tls=self.tls,
                               alpn="http/1.1", proxy=self.proxy)

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def post(self, body: bytes, headers: dict, timeout_s: float) -> tuple:
        """(status, headers with lower-case names, body) of a POST of ``body``.

        ``headers`` maps names to values (str).  ``timeout_s`` bounds the whole
        exchange: connecting, the TLS handshake, sending, the answer.
        """
        self.deadline = Deadline(timeout_s)
        target = self.path
        headers = dict(headers)
        if self.proxy is not None and self.tls is None:
            target = self.url
            if self.proxy.authorization:
                headers["Proxy-Authorization"] = self.proxy.authorization
        for attempt in (1, 2):
            reused = self.connection is not None
            if not reused:
                self.connection = _Connection(self.host, self.port, self._open,
                                              lambda: self.deadline)
            elif self.connection.sock is not None:
                self.connection.sock.deadline = self.deadline
            try:
                self.connection.request("POST", target, body, headers)
                return self._answer(self.connection.getresponse())
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 1:
                    continue  # a kept-alive connection the server had dropped
                raise HttpError("the server closed the connection without an answer",
                                reached=True) from None
            except TimeoutError:
                self.close()
                raise HttpError("no answer within %gs" % timeout_s) from None
            except TransportError as error:
                self.close()
                raise HttpError(str(error)) from None
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.close()
                raise HttpError("a bad answer from %s:%d: %s" % (
                    self.host, self.port, getattr(error, "strerror", None) or error
                    or type(error).__name__),
                    reached=not isinstance(error, ssl.SSLError)) from None
        raise HttpError("no answer")

    def _answer(self, response) -> tuple:
        if response.status < 200:
            raise ValueError("an interim answer %d where a final one belongs" % response.status)
        headers = {name.lower(): value for name, value in response.getheaders()}
        try:
            body = response.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise ValueError("an answer longer than %d bytes" % MAX_BODY)
            if "gzip" in headers.get("content-encoding", "").lower():
                body = inflate(body, MAX_BODY)
        except (ValueError, http.client.HTTPException):
            # the status stands (a 200 still means the spans were taken); the body
            # is not read further and the connection goes
            self.close()
            return response.status, headers, b""
        if response.will_close:
            self.close()
        return response.status, headers, body
