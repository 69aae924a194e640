"""``traceexec doctor``: check the configured destination end to end and say, one
line per step, what works and what fails.

    traceexec doctor --endpoint https://collector.example:4318/v1/traces

Steps: the settings as read (each ignored OTEL_* value), the home, then for an
endpoint: resolve the host, connect, the TLS handshake (verified as the
exporter verifies it, with the client certificate for mTLS), through the proxy
the proxy variables name, an empty export with the configured headers (the
collector's answer says whether authentication holds), and what waits in the
destination's spool.  Exit status 0 when every step works, 1 when one fails.
Every step is bounded by the export timeout; header values are never shown.
"""
import os
import socket
import sys
import time

from . import config
from .proxy import split_authority
from ..errors import ConfigError

OK, FAIL, WARN, SKIP = "ok", "FAIL", "warn", "skip"
AUTH_REFUSALS = ("HTTP 401", "HTTP 403", "UNAUTHENTICATED", "PERMISSION_DENIED")


class Report:
    """The lines of a check, and whether any step failed."""

    def __init__(self, out):
        self.out = out
        self.failed = False

    def __call__(self, status: str, step: str, detail: str = "") -> None:
        from ..errors import printable
        self.failed = self.failed or status == FAIL
        self.out.write("  %-4s  %s%s\n" % (status, step, ": " + printable(detail) if detail else ""))
        self.out.flush()


def host_port(cfg: config.ExportConfig) -> tuple:
    """(host, port, tls) of ``cfg``'s endpoint: a URL, or host:port for OTLP/gRPC."""
    scheme, sep, rest = cfg.endpoint.partition("://")
    if sep:
        authority, tls = rest.split("/", 1)[0], scheme == "https"
        default = 443 if tls else 80
    else:
        authority, tls, default = cfg.endpoint, not cfg.insecure, None
    host, port = split_authority(authority)
    return host, int(port) if port else default, tls


def _resolve(host: str, port: int, timeout_s: float):
    """getaddrinfo in a thread, so that a hung resolver is bounded too."""
    import threading
    found = {}

    def work():
        try:
            found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            found["error"] = error

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError("no answer within %gs" % timeout_s)
    if "error" in found:
        raise found["error"]
    return found["addresses"]


def _tls(sock, host: str, cfg: config.ExportConfig):
    """The handshake as the exporter makes it: the configured CA, ``insecure`` skipping
    the certificate check of a TLS endpoint, the client certificate for mTLS."""
    from .transport import TlsSettings
    settings = TlsSettings(cfg.certificate, verify=not cfg.insecure,
                           client_certificate=cfg.client_certificate,
                           client_key=cfg.client_key)
    context = settings.context("h2" if cfg.protocol == config.GRPC else "http/1.1")
    wrapped = context.wrap_socket(sock, server_hostname=host)
    detail = wrapped.version()
    detail += (", certificate of %s verified" % host) if settings.verify \
        else ", certificate NOT verified (insecure)"
    if cfg.client_certificate:
        detail += ", client certificate %s presented" % cfg.client_certificate
    return wrapped, detail


def _proxy(cfg: config.ExportConfig, host: str, port: int, tls: bool):
    """The proxy the exporter would go through for ``cfg`` (None: direct), as
    ``HTTPS_PROXY``/``HTTP_PROXY``/``grpc_proxy`` and ``NO_PROXY`` say."""
    from .proxy import proxy_for
    return proxy_for("https" if tls else "http", host, port, os.environ,
                     grpc=cfg.protocol == config.GRPC)


def check(cfg: config.ExportConfig, report: Report) -> None:
    """Run every step for ``cfg``, reporting each."""
    for problem in cfg.problems:
        report(WARN, "setting ignored", problem)
    from ..files import ensure_dir
    try:
        ensure_dir(cfg.home)
        report(OK, "home %s" % cfg.home, "this user's, private")
    except OSError as error:
        report(FAIL, "home %s" % cfg.home, str(error.strerror or error))
    if not cfg.exporters:
        report(WARN, "export", "switched off (OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none)")
        return
    if cfg.endpoint is None:
        report(OK, "destination", "the local store (no endpoint set): see 'traceexec show'")
        return
    _network(cfg, report)
    _spool(cfg, report)


def _network(cfg: config.ExportConfig, report: Report) -> None:
    """Resolve, connect, TLS, an empty export: each step only when the one before works."""
    from .transport import Deadline, TransportError, open_connection
    host, port, tls = host_port(cfg)
    timeout = cfg.timeout_s
    try:
        proxy = _proxy(cfg, host, port, tls)
    except ConfigError as error:
        report(FAIL, "proxy", str(error))
        return
    if proxy is not None:
        report(OK, "proxy", "through %s (CONNECT), as the proxy variables say" % proxy.name)
    first = proxy.host if proxy is not None else host
    try:
        addresses = _resolve(first, proxy.port if proxy is not None else port, timeout)
        report(OK, "resolve %s" % first, ", ".join(sorted({a[4][0] for a in addresses})))
    except (OSError, TimeoutError) as error:
        report(FAIL, "resolve %s" % first, str(getattr(error, "strerror", None) or error))
        return
    step = "connect %s port %d%s" % (host, port, " via %s" % proxy.name if proxy else "")
    try:
        started = time.monotonic()
        sock = open_connection(host, port, Deadline(timeout), proxy=proxy)
        sock = socket.socket(fileno=sock.detach())
        report(OK, step, "%.0f ms" % ((time.monotonic() - started) * 1000))
    except (OSError, TransportError) as error:
        report(FAIL, step, getattr(error, "strerror", None) or str(error))
        return
    try:
        if tls:
            try:
                sock, detail = _tls(sock, host, cfg)
                report(OK, "TLS", detail)
            except (OSError, ValueError, TransportError) as error:
                report(FAIL, "TLS", "%s%s" % (error, "" if cfg.certificate else
                                            " (a private CA: OTEL_EXPORTER_OTLP_CERTIFICATE)"))
                return
        else:
            report(SKIP, "TLS", "plain text (%s)" % ("http://" if "://" in cfg.endpoint
                                                       else "--insecure or loopback"))
    finally:
        sock.close()
    _export(cfg, report)


def _export(cfg: config.ExportConfig, report: Report) -> None:
    from .sender import ACCEPTED, ExportFailed, Sender
    step = "empty export (%s%s)" % (cfg.protocol, ", headers: " + ", ".join(sorted(cfg.headers))
                                    if cfg.headers else "")
    try:
        sender = Sender(cfg.describe(), cfg.headers, cfg.timeout_s)
    except ExportFailed as error:
        report(FAIL, step, str(error))
        return
    try:
        started = time.monotonic()
        outcome = sender.send([])
    finally:
        sender.close()
    if outcome.kind == ACCEPTED:
        report(OK, step, "accepted in %.0f ms" % ((time.monotonic() - started) * 1000))
    elif any(word in outcome.reason for word in AUTH_REFUSALS):
        report(FAIL, step, "%s (authentication refused: check the header values)"
               % outcome.reason)
    else:
        report(FAIL, step, outcome.reason)


def _spool(cfg: config.ExportConfig, report: Report) -> None:
    from . import spool
    from .flush import spool_entry
    directory = spool.destination_dir(cfg)
    if not os.path.isdir(directory):
        report(OK, "spool", "nothing waits for this destination")
        return
    entry = spool_entry(directory)
    detail = "%d spans waiting" % entry["waiting"]
    if entry["problem"]:
        detail += "; last problem: %s" % entry["problem"]
    if entry["waiting"]:
        detail += ("; 'traceexec flush' sends them once the destination works, "
                   "'traceexec flush --discard %s' drops them" % cfg.endpoint)
    report(WARN if entry["waiting"] else OK, "spool", detail)


def doctor_main(args) -> int:
    """``traceexec doctor``: 0 when every step works, 1 when one fails."""
    from ..cli import subcommand_parser
    from .flush import add_destination_options, options_config
    parser = subcommand_parser(
        "doctor", "Check where spans go, end to end: the settings, the home, and for an "
        "endpoint resolve, connect, TLS, authentication (an empty export) and the spool.")
    add_destination_options(parser)
    options = parser.parse_args(args)
    cfg = options_config(options)
    where = cfg.endpoint or "the local store"
    sys.stdout.write("traceexec doctor: %s%s, timeout %gs\n" % (
        where, " (%s)" % cfg.protocol if cfg.protocol else "", cfg.timeout_s))
    report = Report(sys.stdout)
    check(cfg, report)
    sys.stdout.write("not working: see the FAIL line\n" if report.failed else "all good\n")
    return 1 if report.failed else 0
