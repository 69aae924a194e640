"""Which HTTP proxy a destination is reached through, read from the environment
as curl and the OpenTelemetry SDKs read it.

- OTLP/HTTP: ``https_proxy`` / ``HTTPS_PROXY`` for an ``https://`` endpoint,
  ``http_proxy`` / ``HTTP_PROXY`` for an ``http://`` one, ``all_proxy`` /
  ``ALL_PROXY`` for either; the lower-case name wins, as in curl.
- OTLP/gRPC: ``grpc_proxy``, then ``https_proxy``, then ``http_proxy`` (the
  order gRPC's own library reads them), upper-case forms too.
- ``no_proxy`` / ``NO_PROXY`` (and ``no_grpc_proxy`` for gRPC): a comma-separated
  list of host names (a name matches itself and its sub-domains, a leading
  ``.`` or ``*.`` is ignored), IP addresses, CIDR blocks (``10.0.0.0/8``), each
  with an optional ``:port``; ``*`` alone means no proxy at all.

Only plain ``http://`` proxies are spoken to (TLS to the collector goes through
them with ``CONNECT``).  A proxy's user and password, if the URL has them, are
sent as ``Proxy-Authorization`` and never shown: ``Proxy.name`` is host:port.
"""

from ..errors import ConfigError


class Proxy:
    """An HTTP proxy: ``host``, ``port``, ``authorization`` (a header value or None),
    ``name`` (``host:port``, safe to print)."""

    def __init__(self, host: str, port: int, authorization=None):
        self.host, self.port, self.authorization = host, port, authorization
        self.name = "%s:%d" % ("[%s]" % host if ":" in host else host, port)

    def __repr__(self):
        return "Proxy(%s)" % self.name


def split_authority(authority: str) -> tuple:
    """(host, port text) of ``[user@]host[:port]`` or ``[v6][:port]``.

    >>> split_authority("u:p@[::1]:3128")
    ('::1', '3128')
    """
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, port_text = hostport[1:].partition("]")
        return host, port_text[1:]
    host, _, port_text = hostport.partition(":")
    return host, port_text


def _get(environ, *names):
    for name in names:
        for variant in (name.lower(), name.upper()):
            value = environ.get(variant)
            if value and value.strip():
                return value.strip()
    return None


def parse_proxy(url: str) -> Proxy:
    """A Proxy from ``http://[user:password@]host[:port]`` (no scheme means http)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    if scheme.lower() != "http":
        raise ConfigError("unsupported proxy scheme %r: use an http:// proxy" % scheme)
    authority = rest.split("/", 1)[0]
    credentials, at, _ = authority.rpartition("@")
    host, port_text = split_authority(authority)
    if not host or (port_text and not port_text.isdigit()):
        raise ConfigError("bad proxy address (the value is not shown)")
    authorization = None
    if at:
        import base64
        from urllib.parse import unquote
        user, _, password = credentials.partition(":")
        token = ("%s:%s" % (unquote(user), unquote(password))).encode("utf-8")
        authorization = "Basic " + base64.b64encode(token).decode("ascii")
    return Proxy(host, int(port_text) if port_text else 80, authorization)


def is_excluded(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``host:port`` is named by a NO_PROXY list.

    >>> is_excluded("api.example.com", 443, "localhost,.example.com")
    True
    """
    host = host.strip("[]").lower().rstrip(".")
    for entry in no_proxy.split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_port = None
        if entry.startswith("["):
            entry, _, tail = entry[1:].partition("]")
            if tail.startswith(":") and tail[1:].isdigit():
                entry_port = int(tail[1:])
        elif entry.count(":") == 1:
            entry, _, port_text = entry.partition(":")
            if port_text.isdigit():
                entry_port = int(port_text)
        if entry_port is not None and entry_port != port:
            continue
        if "/" in entry:
            if _in_block(host, entry):
                return True
            continue
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def _in_block(host: str, block: str) -> bool:
    import ipaddress
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(block, strict=False)
    except ValueError:
        return False


def proxy_for(scheme: str, host: str, port: int, environ, *, grpc: bool = False):
    """The Proxy to reach ``host:port`` through, or None (no variable, or NO_PROXY)."""
    if grpc:
        url = _get(environ, "grpc_proxy", "https_proxy", "http_proxy")
        no_proxy = ",".join(filter(None, (_get(environ, "no_grpc_proxy"),
                                          _get(environ, "no_proxy"))))
    else:
        url = _get(environ, "https_proxy" if scheme == "https" else "http_proxy", "all_proxy")
        no_proxy = _get(environ, "no_proxy") or ""
    if not url or is_excluded(host, port, no_proxy):
        return None
    return parse_proxy(url)


def describe(dest: dict, environ) -> str:
    """``" via proxy host:port"`` for a destination description, or ''."""
    from . import config
    endpoint = dest.get("endpoint") or ""
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        scheme, rest = ("https" if not dest.get("insecure") else "http"), endpoint
    host, port_text = split_authority(rest.split("/", 1)[0])
    port = int(port_text) if port_text.isdigit() else (443 if scheme == "https" else 80)
    try:
        found = proxy_for(scheme, host, port, environ, grpc=dest.get("protocol") == config.GRPC)
    except ConfigError as error:
        return " (proxy not usable: %s)" % error
    return " via proxy %s" % found.name if found else ""
