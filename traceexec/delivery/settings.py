"""Export settings read and checked: flags, a DAG's ``otel:`` block, OTEL_* and
TRACEEXEC_* variables, by the OpenTelemetry specification's rules (a value that cannot
be used is ignored alone, with one line in ``problems``), and the rules for endpoints,
headers and durations.

``config.resolve`` loads this module when something is set; with nothing set it
gives the defaults itself.  Standard library only, no ``re`` or ``urllib`` (but in
``as_variables``): a wrapper with an endpoint loads it at start-up.
"""

import os

from .. import errors
from .config import (DEFAULT_SERVICE, DEFAULT_TIMEOUT_S, DEFAULT_WARN_INTERVAL_S, EXPORTERS,
                     GRPC, HTTP, LOOPBACK_HOSTS, TRACEEXEC_KEEP_LOCAL, TRACEEXEC_WAIT,
                     TRACEEXEC_WARN_INTERVAL, ExportConfig, default_home)

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
            raise errors.ConfigError("bad %s %r: use a number with ms, s, m or h, like 30s" % (what, raw)) from None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise errors.ConfigError("bad %s %r: must be a finite number >= 0" % (what, text))
    return seconds


def is_true(value) -> bool:
    """A DAG file's yes (``true``, ``1``, ``yes``, ``on``).  OTEL_* and TRACEEXEC_*
    variables are read by the specification's rule instead (``Reader.boolean``)."""
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


def parse_key_values(text: str, what: str, problems: list | None = None) -> dict:
    """``k=v,k2=v2`` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS style).

    An item that is not KEY=VALUE raises ConfigError, or with ``problems`` is
    left out with a line there.  Messages never show the item: it may be a secret.
    """
    result = {}
    for number, item in enumerate((text or "").split(","), 1):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            message = "bad %s: item %d is not KEY=VALUE" % (what, number)
            if problems is None:
                raise errors.ConfigError(message)
            problems.append(message + " (not shown); left out")
            continue
        result[_percent_decode(key.strip())] = _percent_decode(value.strip())
    return result


_TOKEN_PUNCTUATION = frozenset("!#$%&'*+-.^_`|~")


def clean_headers(headers: dict, problems: list | None = None) -> dict:
    """Export headers ready to send: surrounding white space (a token read from a
    file with CRLF line ends) taken off values; a name that is no HTTP token or a
    value holding a control character refused (raised, or with ``problems`` a line
    there and the header left out).  Messages never show the value.
    """
    cleaned = {}
    for name, value in headers.items():
        name, value = str(name).strip(), str(value).strip(" \t\r\n")
        problem = None
        if not name or not all(c.isascii() and (c.isalnum() or c in _TOKEN_PUNCTUATION)
                               for c in name):
            problem = ("bad export header name %r: use letters, digits and - _ ."
                       % name[:64])
        elif any(c < " " and c != "\t" or c == "\x7f" for c in value):
            problem = ("export header %s: its value holds a line break or another "
                       "control character (the value is not shown)" % name)
        if problem is None:
            cleaned[name] = value
        elif problems is None:
            raise errors.ConfigError(problem)
        else:
            problems.append(problem + "; header left out")
    return cleaned


def _env(environ, name):
    """The traces-specific OTEL_EXPORTER_OTLP_TRACES_* variable, else the general one."""
    value = environ.get("OTEL_EXPORTER_OTLP_TRACES_" + name)
    if value is None or value == "":
        value = environ.get("OTEL_EXPORTER_OTLP_" + name)
    return value if value != "" else None


def _has_scheme(endpoint: str) -> bool:
    return endpoint.startswith("http://") or endpoint.startswith("https://")


def _is_port(text: str) -> bool:
    return text.isdigit() and text.isascii() and 0 < int(text) < 65536


def _check_host_port(endpoint: str, source: str) -> None:
    if "@" in endpoint:  # user:password@host:port: not shown, it may hold a password
        raise errors.ConfigError("invalid endpoint in %s: userinfo (user@) needs a URL, "
                          "https://user:password@host:port" % source)
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not _is_port(port) or "/" in endpoint:
        raise errors.ConfigError("invalid endpoint %r in %s: use host:port for OTLP/gRPC or a URL "
                          "ending in /v1/traces for OTLP/HTTP" % (endpoint, source))


def split_userinfo(endpoint: str):
    """(endpoint without ``user:password@``, (user, password) or None).

    >>> split_userinfo("https://ana:s3cret@collector:4318/v1/traces")
    ('https://collector:4318/v1/traces', ('ana', 's3cret'))
    """
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        return endpoint, None
    slash = rest.find("/")
    authority_end = slash if slash >= 0 else len(rest)
    at = rest.rfind("@", 0, authority_end)
    if at < 0:
        return endpoint, None
    user, _, password = rest[:at].partition(":")
    return scheme + "://" + rest[at + 1:], (user, password)


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` value for URL userinfo (percent-encoded, as in a URL)."""
    import binascii
    pair = ("%s:%s" % (_percent_decode(user), _percent_decode(password))).encode()
    return "Basic " + binascii.b2a_base64(pair, newline=False).decode()


def _check_url(endpoint: str, source: str) -> None:
    """A URL endpoint that can be sent to: a host, a port in range, no query or fragment.
    Messages show the URL without its userinfo."""
    shown, _ = split_userinfo(endpoint)
    rest = shown.split("://", 1)[1]
    authority = rest.split("/", 1)[0]
    if not authority or " " in shown:
        raise errors.ConfigError("invalid endpoint %r in %s: no host" % (shown, source))
    for mark, what in (("#", "a #fragment"), ("?", "a ?query")):
        if mark in shown:
            raise errors.ConfigError("invalid endpoint %r in %s: %s cannot be sent to (give the "
                              "URL up to its path)" % (shown, source, what))
    host, port = authority, ""
    if authority.startswith("["):
        host, _, after = authority.partition("]")
        if after:
            port = after[1:] if after.startswith(":") else "?"
    elif ":" in authority:
        host, _, port = authority.rpartition(":")
    if not host.strip("[") or (port and not _is_port(port)) or authority.endswith(":"):
        raise errors.ConfigError("invalid endpoint %r in %s: the port must be 1-65535"
                          % (shown, source))


def endpoint_protocol(endpoint: str, source: str, *, exact: bool = False,
                      protocol: str | None = None) -> tuple[str, str]:
    """(endpoint, protocol) for an endpoint as written.

    ``host:port`` means OTLP/gRPC.  A URL ending in ``/v1/traces`` means
    OTLP/HTTP to exactly that URL; any other URL gets ``/v1/traces`` appended,
    as the specification says for the general endpoint, unless ``exact`` (a
    signal-specific variable, used as it is).  An explicit ``protocol`` wins.
    URLs are checked here: a host, a port in range, no query or fragment.
    """
    endpoint = endpoint.strip()
    if not endpoint:
        raise errors.ConfigError("empty endpoint in %s" % source)
    if protocol not in (None, GRPC, HTTP):
        raise errors.ConfigError("unsupported OTLP protocol %r in %s: use grpc or http/protobuf"
                          % (protocol, source))
    if _has_scheme(endpoint):
        _check_url(endpoint, source)
        if protocol == GRPC:
            return endpoint, GRPC
        if exact or endpoint.rstrip("/").endswith("/v1/traces"):
            return endpoint, HTTP
        return endpoint.rstrip("/") + "/v1/traces", HTTP
    _check_host_port(endpoint, source)
    if protocol == HTTP:
        return "http://%s/v1/traces" % endpoint, HTTP
    return endpoint, GRPC


def _shown(value: str) -> str:
    value = errors.printable(value)
    return value if len(value) <= 64 else value[:61] + "..."


class Reader:
    """OTEL_* and TRACEEXEC_* variables read as the specification says: a value that
    cannot be used adds one line to ``problems`` (naming the variable) and the
    setting keeps its default."""

    def __init__(self, environ, problems: list):
        self.environ = environ
        self.problems = problems

    def get(self, name: str):
        value = self.environ.get(name)
        return None if value is None or not value.strip() else value.strip()

    def name_of(self, suffix: str) -> str:
        """OTEL_EXPORTER_OTLP_TRACES_<suffix> when set, else OTEL_EXPORTER_OTLP_<suffix>."""
        specific = "OTEL_EXPORTER_OTLP_TRACES_" + suffix
        return specific if self.get(specific) is not None else "OTEL_EXPORTER_OTLP_" + suffix

    def boolean(self, name: str) -> bool:
        """Only ``true`` (any case) is true; a value neither true nor false is warned.
        traceexec's own TRACEEXEC_* switches also take ``1``, ``yes`` and ``on`` (and
        ``0``, ``no``, ``off``), as they always did."""
        value = self.get(name)
        own = name.startswith("TRACEEXEC_")
        if value is None:
            return False
        if value.lower() == "true" or own and is_true(value):
            return True
        if value.lower() in (("false", "0", "no", "off") if own else ("false",)):
            return False
        self.problems.append("%s=%s is neither true nor false: read as false"
                             % (name, _shown(value)))
        return False

    def milliseconds(self, name: str, default_s: float) -> float:
        value = self.get(name)
        if value is None:
            return default_s
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not 0 < number < float("inf"):
            self.problems.append("%s=%s is not a number of milliseconds > 0: %gs used"
                                 % (name, _shown(value), default_s))
            return default_s
        return number / 1000.0

    def duration(self, name: str, default_s: float) -> float:
        """A TRACEEXEC_* duration (``30s``, ``10m``, a bare number of seconds)."""
        value = self.get(name)
        if value is None:
            return default_s
        try:
            return parse_duration(value, name)
        except errors.ConfigError:
            self.problems.append("%s=%s is not a duration like 10m: %gs used"
                                 % (name, _shown(value), default_s))
            return default_s

    def choice(self, name: str, allowed: tuple, default: str) -> str:
        value = self.get(name)
        if value is None:
            return default
        if value.lower() in allowed:
            return value.lower()
        self.problems.append("%s=%s is not supported (%s): %s used"
                             % (name, _shown(value), ", ".join(allowed), default))
        return default

    def protocol(self):
        """The OTLP protocol asked for, or None (then the endpoint's form decides)."""
        name = self.name_of("PROTOCOL")
        value = self.get(name)
        if value is None:
            return None
        value = value.lower()
        if value in (GRPC, HTTP):
            return value
        if value == "http/json":
            self.problems.append("%s=http/json is not supported: http/protobuf used" % name)
            return HTTP
        self.problems.append("%s=%s is not supported (grpc, http/protobuf): ignored"
                             % (name, _shown(value)))
        return None

    def exporters(self) -> tuple:
        """OTEL_TRACES_EXPORTER, a comma-separated list; default ``otlp``."""
        value = self.get("OTEL_TRACES_EXPORTER")
        if value is None:
            return ("otlp",)
        chosen = []
        for item in value.lower().split(","):
            item = item.strip()
            if not item:
                continue
            if item not in EXPORTERS:
                self.problems.append("OTEL_TRACES_EXPORTER: %s is not supported (otlp, "
                                     "console, none): left out" % _shown(item))
                continue
            item = "otlp" if item == "traceexec" else item
            if item not in chosen:
                chosen.append(item)
        if "none" in chosen:
            if len(chosen) == 1:
                return ()
            self.problems.append("OTEL_TRACES_EXPORTER: none beside other exporters is "
                                 "left out")
            chosen.remove("none")
        return tuple(chosen) or ("otlp",)


def read(flags: dict | None = None, otel: dict | None = None, environ=None) -> ExportConfig:
    """``config.resolve``'s settings, read in full (the flags, the ``otel:`` block, every
    variable), by the rules its docstring gives: never raises, one line in ``problems``
    for each value ignored."""
    flags = flags or {}
    environ = os.environ if environ is None else environ
    if otel is not None and not otel.get("enabled"):
        otel = None
    otel = otel or {}
    problems = []
    reader = Reader(environ, problems)

    exporters = reader.exporters()
    if reader.boolean("OTEL_SDK_DISABLED"):
        exporters = ()

    env_protocol = reader.protocol()
    endpoint = protocol = None
    userinfo = None
    for source, value, exact in (
            ("--endpoint", flags.get("endpoint"), False),
            ("otel.endpoint", otel.get("endpoint"), False),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
             environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), True),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"), False)):
        if not value or not value.strip():
            continue
        wanted = flags.get("protocol") or env_protocol
        try:
            endpoint, protocol = endpoint_protocol(value, source, exact=exact, protocol=wanted)
        except errors.ConfigError as error:
            problems.append("%s; ignored" % error)
            continue
        endpoint, userinfo = split_userinfo(endpoint)
        break

    headers = {}
    if userinfo:  # https://user:password@host: Basic authentication, never a name
        headers["Authorization"] = basic_authorization(*userinfo)
    raw_headers = _env(environ, "HEADERS")
    if raw_headers:
        headers.update(parse_key_values(raw_headers, reader.name_of("HEADERS"), problems))
    headers.update(otel.get("headers") or {})
    headers.update(flags.get("headers") or {})
    headers = clean_headers(headers, problems)

    if flags.get("insecure"):
        insecure = True
    elif "insecure" in otel:
        insecure = bool(otel["insecure"])
    else:
        insecure = reader.boolean(reader.name_of("INSECURE"))
    if endpoint and protocol == GRPC and not _has_scheme(endpoint) and not insecure:
        # Plain gRPC on the loopback interface: nothing leaves the machine, and
        # local collectors (traceexec serve, a dev collector) listen without TLS.
        insecure = endpoint.rpartition(":")[0] in LOOPBACK_HOSTS

    if flags.get("export_timeout") is not None:
        timeout_s = float(flags["export_timeout"])
    elif otel.get("timeout") is not None:
        timeout_s = parse_duration(otel["timeout"], "otel.timeout")
    else:
        timeout_s = reader.milliseconds(reader.name_of("TIMEOUT"), DEFAULT_TIMEOUT_S)

    compression = reader.choice(reader.name_of("COMPRESSION"), ("gzip", "none"), "none")

    resource = {}
    raw_resource = environ.get("OTEL_RESOURCE_ATTRIBUTES")
    if raw_resource:
        try:
            resource = parse_key_values(raw_resource, "OTEL_RESOURCE_ATTRIBUTES")
        except errors.ConfigError as error:  # the specification: discard the whole value
            problems.append("%s; the variable is ignored" % error)
    resource.update({k: v for k, v in (otel.get("resource") or {}).items()})
    service = (flags.get("service") or (environ.get("OTEL_SERVICE_NAME") or "").strip()
               or resource.get("service.name") or DEFAULT_SERVICE)
    resource["service.name"] = service

    keep_local = bool(flags.get("keep_local")) or reader.boolean(TRACEEXEC_KEEP_LOCAL)
    cfg = ExportConfig(
        exporters=exporters, endpoint=endpoint, protocol=protocol, headers=headers,
        insecure=insecure, certificate=_env(environ, "CERTIFICATE"),
        compression=None if compression == "none" else compression, timeout_s=timeout_s,
        service=service, resource=resource, keep_local=keep_local,
        home=default_home(environ), **client_tls(flags, environ, problems))
    cfg.problems = problems
    cfg.wait = reader.boolean(TRACEEXEC_WAIT)
    cfg.warn_interval_s = reader.duration(TRACEEXEC_WARN_INTERVAL, DEFAULT_WARN_INTERVAL_S)
    if any(name.endswith("_LIMIT") and name.startswith("OTEL_") for name in environ):
        from . import spanlimits
        cfg.span_limits = spanlimits.read(reader)
    return cfg



def as_variables(cfg: ExportConfig) -> dict:
    """The OTEL_EXPORTER_OTLP_TRACES_* variables with which another traceexec (a DAG
    step's, a remote host's) resolves the export of ``cfg`` (one with an endpoint):
    endpoint, protocol, headers (percent-encoded), insecure, timeout, compression."""
    prefix = "OTEL_EXPORTER_OTLP_TRACES_"
    found = {prefix + "ENDPOINT": cfg.endpoint, prefix + "PROTOCOL": cfg.protocol,
             prefix + "INSECURE": "true" if cfg.insecure else "false",
             prefix + "TIMEOUT": "%d" % round(cfg.timeout_s * 1000),
             prefix + "COMPRESSION": cfg.compression or "none"}
    if cfg.headers:
        found[prefix + "HEADERS"] = ",".join(
            "%s=%s" % (_quoted(k), _quoted(v)) for k, v in cfg.headers.items())
    return found


def _quoted(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="")


# --- TLS client certificates (mTLS) -----------------------------------------------
# Which TLS applies is the exporter's reading of ``insecure`` (grpcclient.is_plaintext):
# an https:// endpoint is always TLS, ``insecure`` then only skips the certificate
# check; plaintext is http://, or a scheme-less gRPC host:port with ``insecure``.

def client_tls(flags: dict, environ, problems: list) -> dict:
    """The client certificate and key for mTLS: flags ``client_certificate`` and
    ``client_key``, else OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE and
    _CLIENT_KEY.  Paths, not contents: the files are read by the exporter.
    A key without a certificate is ignored with a warning line (in ``problems``)."""
    certificate = flags.get("client_certificate") or _env(environ, "CLIENT_CERTIFICATE")
    key = flags.get("client_key") or _env(environ, "CLIENT_KEY")
    if key and not certificate:
        problems.append("a client key is given without a client certificate (set "
                        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE or --client-certificate); "
                        "ignored")
        key = None
    return {"client_certificate": certificate, "client_key": key}
