"""Export settings: flags, then a DAG's ``otel:`` block, then OTEL_* variables.

One set of rules for the wrapper and the DAG driver.  Header values are
secrets: they are kept in ``ExportConfig.headers`` only, never in ``repr``,
the spool, the store or messages.  Standard library only, no ``re`` or
``urllib``: this module is on the wrapper's start-up path.
"""

import os

from ..errors import ConfigError

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_SERVICE = "traceexec"
GRPC, HTTP = "grpc", "http/protobuf"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")

TRACEEXEC_HOME = "TRACEEXEC_HOME"
"""Where the spool and the local store live (default ``$XDG_STATE_HOME/traceexec``)."""
TRACEEXEC_KEEP_LOCAL = "TRACEEXEC_KEEP_LOCAL"
"""``true``: with an endpoint configured, also keep a copy in the local store."""
TRACEEXEC_WAIT = "TRACEEXEC_WAIT"
"""``true``: a top-level wrapper waits (bounded) until its span is delivered."""

_UNITS = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0))


def parse_duration(text, what="duration") -> float:
    """Seconds from ``500ms``, ``30s``, ``5m``, ``1h`` or a bare number of seconds.

    >>> parse_duration("1.5s"), parse_duration("2m")
    (1.5, 120.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip()
        number, factor = raw, 1.0
        for unit, unit_factor in _UNITS:
            if raw.endswith(unit):
                number, factor = raw[:-len(unit)], unit_factor
                break
        try:
            seconds = float(number) * factor
        except ValueError:
            raise ConfigError("bad %s %r: use a number with ms, s, m or h, like 30s" % (what, raw)) from None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise ConfigError("bad %s %r: must be a finite number >= 0" % (what, text))
    return seconds


def is_true(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _percent_decode(text: str) -> str:
    if "%" not in text:
        return text
    out, i = bytearray(), 0
    raw = text.encode()
    while i < len(raw):
        pair = raw[i + 1:i + 3]
        if raw[i] == 0x25 and len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair):
            out.append(int(pair, 16))
            i += 3
            continue
        out.append(raw[i])
        i += 1
    return out.decode("utf-8", "replace")


def parse_key_values(text: str, what: str) -> dict:
    """``k=v,k2=v2`` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS style)."""
    result = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            # never echo the item: it may hold a secret
            raise ConfigError("bad %s: each item must be KEY=VALUE" % what)
        result[_percent_decode(key.strip())] = _percent_decode(value.strip())
    return result


_TOKEN_PUNCTUATION = frozenset("!#$%&'*+-.^_`|~")


def clean_headers(headers: dict) -> dict:
    """Export headers ready to send: surrounding white space (a token read from a
    file with CRLF line ends) taken off values; a name that is no HTTP token or a
    value holding a control character refused.  Errors never show the value.
    """
    cleaned = {}
    for name, value in headers.items():
        name, value = str(name).strip(), str(value).strip(" \t\r\n")
        if not name or not all(c.isascii() and (c.isalnum() or c in _TOKEN_PUNCTUATION)
                               for c in name):
            raise ConfigError("bad export header name %r: use letters, digits and - _ ."
                              % name[:64])
        if any(c < " " and c != "\t" or c == "\x7f" for c in value):
            raise ConfigError("export header %s: its value holds a line break or another "
                              "control character (the value is not shown)" % name)
        cleaned[name] = value
    return cleaned


class ExportConfig:
    """Where spans go.  ``endpoint is None`` means the embedded local store."""

    def __init__(self, *, exporter="otlp", endpoint=None, protocol=None, headers=None,
                 insecure=False, certificate=None, compression=None,
                 timeout_s=DEFAULT_TIMEOUT_S, service=DEFAULT_SERVICE, resource=None,
                 keep_local=False, home=None, client_certificate=None, client_key=None):
        self.exporter = exporter          # otlp | console | none
        self.endpoint = endpoint          # host:port (grpc) or URL (http); None = local
        self.protocol = protocol          # GRPC | HTTP | None
        self.headers = dict(headers or {})
        self.insecure = insecure
        self.certificate = certificate
        self.compression = compression    # gzip | None
        self.timeout_s = timeout_s
        self.service = service
        self.resource = dict(resource or {})
        self.keep_local = keep_local
        self.home = home
        self.client_certificate = client_certificate  # PEM file for mTLS, or None
        self.client_key = client_key                  # its key (PEM), or None: in the same file

    @property
    def is_local(self) -> bool:
        return self.exporter == "otlp" and self.endpoint is None

    def describe(self) -> dict:
        """The destination without secrets: header names only."""
        described = {"endpoint": self.endpoint, "protocol": self.protocol,
                     "insecure": self.insecure, "certificate": self.certificate,
                     "compression": self.compression, "timeout_s": self.timeout_s,
                     "header_names": sorted(self.headers)}
        if self.client_certificate:  # only when set: spool directory names stay as they were
            described.update(client_certificate=self.client_certificate,
                             client_key=self.client_key)
        return described

    def __repr__(self):
        return "ExportConfig(%r)" % (self.describe(),)


def default_home(environ) -> str:
    home = environ.get(TRACEEXEC_HOME)
    if home:
        return home
    state = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "traceexec")


def _env(environ, name):
    """The traces-specific OTEL_EXPORTER_OTLP_TRACES_* variable, else the general one."""
    value = environ.get("OTEL_EXPORTER_OTLP_TRACES_" + name)
    if value is None or value == "":
        value = environ.get("OTEL_EXPORTER_OTLP_" + name)
    return value if value != "" else None


def _has_scheme(endpoint: str) -> bool:
    return endpoint.startswith("http://") or endpoint.startswith("https://")


def _check_host_port(endpoint: str, source: str) -> None:
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in endpoint:
        raise ConfigError("invalid endpoint %r in %s: use host:port for OTLP/gRPC or a URL "
                          "ending in /v1/traces for OTLP/HTTP" % (endpoint, source))


def endpoint_protocol(endpoint: str, source: str, *, exact: bool = False,
                      protocol: str | None = None) -> tuple[str, str]:
    """(endpoint, protocol) for an endpoint as written.

    ``host:port`` means OTLP/gRPC.  A URL ending in ``/v1/traces`` means
    OTLP/HTTP to exactly that URL; any other URL gets ``/v1/traces`` appended,
    as the specification says for the general endpoint, unless ``exact`` (a
    signal-specific variable, used as it is).  An explicit ``protocol`` wins.
    """
    endpoint = endpoint.strip()
    if not endpoint:
        raise ConfigError("empty endpoint in %s" % source)
    if protocol not in (None, GRPC, HTTP):
        raise ConfigError("unsupported OTLP protocol %r in %s: use grpc or http/protobuf"
                          % (protocol, source))
    if _has_scheme(endpoint):
        rest = endpoint.split("://", 1)[1]
        if not rest or rest.startswith("/") or " " in endpoint:
            raise ConfigError("invalid endpoint %r in %s: no host" % (endpoint, source))
        if protocol == GRPC:
            return endpoint, GRPC
        if exact or endpoint.rstrip("/").endswith("/v1/traces"):
            return endpoint, HTTP
        return endpoint.rstrip("/") + "/v1/traces", HTTP
    _check_host_port(endpoint, source)
    if protocol == HTTP:
        return "http://%s/v1/traces" % endpoint, HTTP
    return endpoint, GRPC


def resolve(flags: dict | None = None, otel: dict | None = None, environ=None) -> ExportConfig:
    """Export settings from flags, a DAG's otel block, then the environment.

    ``flags`` keys: endpoint, headers (dict), insecure, export_timeout (seconds),
    service, keep_local.  ``otel`` is an already-validated otel block
    (enabled, endpoint, headers, insecure, timeout, resource); when it is
    absent or not enabled it is ignored.
    """
    flags = flags or {}
    environ = os.environ if environ is None else environ
    if otel is not None and not otel.get("enabled"):
        otel = None
    otel = otel or {}

    exporter = (environ.get("OTEL_TRACES_EXPORTER") or "otlp").strip().lower()
    if exporter not in ("otlp", "console", "none"):
        raise ConfigError("unsupported OTEL_TRACES_EXPORTER %r: use otlp, console or none"
                          % exporter)
    if is_true(environ.get("OTEL_SDK_DISABLED", "")):
        exporter = "none"

    env_protocol = _env(environ, "PROTOCOL")
    if flags.get("endpoint"):
        endpoint, protocol = endpoint_protocol(flags["endpoint"], "--endpoint",
                                               protocol=flags.get("protocol") or env_protocol)
    elif otel.get("endpoint"):
        endpoint, protocol = endpoint_protocol(otel["endpoint"], "otel.endpoint",
                                               protocol=env_protocol)
    elif environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        endpoint, protocol = endpoint_protocol(
            environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            exact=True, protocol=env_protocol)
    elif environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        endpoint, protocol = endpoint_protocol(
            environ["OTEL_EXPORTER_OTLP_ENDPOINT"], "OTEL_EXPORTER_OTLP_ENDPOINT",
            protocol=env_protocol)
    else:
        endpoint, protocol = None, None

    headers = parse_key_values(_env(environ, "HEADERS") or "", "OTEL_EXPORTER_OTLP_HEADERS")
    headers.update(otel.get("headers") or {})
    headers.update(flags.get("headers") or {})
    headers = clean_headers(headers)

    if flags.get("insecure"):
        insecure = True
    elif "insecure" in otel:
        insecure = bool(otel["insecure"])
    else:
        insecure = is_true(_env(environ, "INSECURE") or "")
    if endpoint and protocol == GRPC and not _has_scheme(endpoint) and not insecure:
        # Plain gRPC on the loopback interface: nothing leaves the machine, and
        # local collectors (traceexec serve, a dev collector) listen without TLS.
        insecure = endpoint.rpartition(":")[0] in LOOPBACK_HOSTS

    if flags.get("export_timeout") is not None:
        timeout_s = float(flags["export_timeout"])
    elif otel.get("timeout") is not None:
        timeout_s = parse_duration(otel["timeout"], "otel.timeout")
    elif _env(environ, "TIMEOUT"):
        try:
            timeout_s = float(_env(environ, "TIMEOUT")) / 1000.0
        except ValueError:
            raise ConfigError("bad OTEL_EXPORTER_OTLP_TIMEOUT %r: milliseconds expected"
                              % _env(environ, "TIMEOUT")) from None
    else:
        timeout_s = DEFAULT_TIMEOUT_S

    compression = (_env(environ, "COMPRESSION") or "none").strip().lower()
    if compression not in ("gzip", "none"):
        raise ConfigError("unsupported OTEL_EXPORTER_OTLP_COMPRESSION %r: use gzip or none"
                          % compression)

    resource = parse_key_values(environ.get("OTEL_RESOURCE_ATTRIBUTES", ""),
                                "OTEL_RESOURCE_ATTRIBUTES")
    resource.update({k: v for k, v in (otel.get("resource") or {}).items()})
    service = (flags.get("service") or environ.get("OTEL_SERVICE_NAME")
               or resource.get("service.name") or DEFAULT_SERVICE)
    resource["service.name"] = service

    keep_local = bool(flags.get("keep_local")) or is_true(environ.get(TRACEEXEC_KEEP_LOCAL, ""))
    return ExportConfig(
        exporter=exporter, endpoint=endpoint, protocol=protocol, headers=headers,
        insecure=insecure, certificate=_env(environ, "CERTIFICATE"),
        compression=None if compression == "none" else compression, timeout_s=timeout_s,
        service=service, resource=resource, keep_local=keep_local,
        home=default_home(environ), **client_tls(flags, environ))


# --- TLS client certificates (mTLS) -----------------------------------------------
# Which TLS applies is the exporter's reading of ``insecure`` (grpcclient.is_plaintext):
# an https:// endpoint is always TLS, ``insecure`` then only skips the certificate
# check; plaintext is http://, or a scheme-less gRPC host:port with ``insecure``.

def client_tls(flags: dict, environ) -> dict:
    """The client certificate and key for mTLS: flags ``client_certificate`` and
    ``client_key``, else OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE and
    _CLIENT_KEY.  Paths, not contents: the files are read by the exporter.
    A key without a certificate is refused."""
    certificate = flags.get("client_certificate") or _env(environ, "CLIENT_CERTIFICATE")
    key = flags.get("client_key") or _env(environ, "CLIENT_KEY")
    if key and not certificate:
        raise ConfigError("a client key is given without a client certificate: set "
                          "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE or --client-certificate")
    return {"client_certificate": certificate, "client_key": key}
