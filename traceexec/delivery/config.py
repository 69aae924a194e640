"""Export settings: flags, then a DAG's ``otel:`` block, then OTEL_* variables.

One set of rules for the wrapper and the DAG driver.  Header values are
secrets: they are kept in ``ExportConfig.headers`` only, never in ``repr``,
the spool, the store or messages.

This module is on the wrapper's start-up path, which mostly has none of those set:
it holds what settings are (``ExportConfig``, the defaults, the variables' names)
and ``resolve``, which reads them.  How a value is read and checked, and the rules for
endpoints and headers, are in ``settings``, loaded only when something is set (a
flag, an enabled ``otel:`` block, an OTEL_* or TRACEEXEC_* setting): 0.5 M
instructions a ``traceexec -- true`` does not pay.  Their names are found here too
(``config.parse_duration``, ``config.Reader``).
"""

import os

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
TRACEEXEC_WARN_INTERVAL = "TRACEEXEC_WARN_INTERVAL"
"""How often wrapped commands may repeat a destination's delivery problem (default 10m;
0: every command)."""
DEFAULT_WARN_INTERVAL_S = 600.0


EXPORTERS = ("otlp", "console", "none", "traceexec")
"""OTEL_TRACES_EXPORTER values read.  ``traceexec`` (what a Python program's SDK is
given to hand its spans to traceexec) means the configured destination, as ``otlp``."""


class ExportConfig:
    """Where spans go.  ``endpoint is None`` means the embedded local store.

    ``exporters``: a tuple of ``otlp`` and ``console`` (empty: spans are not
    recorded).  ``problems``: one line per setting that was ignored.
    """

    def __init__(self, *, exporters=("otlp",), endpoint=None, protocol=None, headers=None,
                 insecure=False, certificate=None, compression=None,
                 timeout_s=DEFAULT_TIMEOUT_S, service=DEFAULT_SERVICE, resource=None,
                 keep_local=False, home=None, client_certificate=None, client_key=None):
        self.exporters = tuple(exporters)
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
        self.problems = []
        self.wait = False
        self.warn_interval_s = DEFAULT_WARN_INTERVAL_S
        self.span_limits = None           # spanlimits.SpanLimits when OTEL_*_LIMIT is set

    @property
    def exporter(self) -> str:
        """The main exporter: ``otlp`` (the endpoint or the local store), ``console``
        alone, or ``none``."""
        if "otlp" in self.exporters:
            return "otlp"
        return "console" if "console" in self.exporters else "none"

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
    """TRACEEXEC_HOME, else ``$XDG_STATE_HOME/traceexec``: always an absolute path,
    resolved here once against the current directory, so a relative
    ``TRACEEXEC_HOME=.traceexec`` means the same place to every process (the
    detached exporter, a command run with ``-C``, a DAG step)."""
    home = environ.get(TRACEEXEC_HOME)
    if not home:
        state = environ.get("XDG_STATE_HOME") or os.path.join(
            environ.get("HOME") or os.path.expanduser("~"), ".local", "state")
        home = os.path.join(state, "traceexec")
    return os.path.abspath(home)


SETTINGS = frozenset((TRACEEXEC_KEEP_LOCAL, TRACEEXEC_WAIT, TRACEEXEC_WARN_INTERVAL))
"""The TRACEEXEC_* variables ``resolve`` reads (TRACEEXEC_HOME: ``default_home``)."""


def is_unset(flags, otel, environ) -> bool:
    """Whether nothing that ``resolve`` reads is given: no flag, no enabled ``otel:``
    block, no OTEL_* variable, none of ``SETTINGS`` (even an empty one)."""
    if flags or (otel is not None and otel.get("enabled")):
        return False
    for name in environ:
        if name[:5] == "OTEL_" or name in SETTINGS:
            return False
    return True


def resolve(flags: dict | None = None, otel: dict | None = None, environ=None) -> ExportConfig:
    """Export settings from flags, a DAG's otel block, then the environment.

    ``flags`` keys: endpoint, headers (dict), insecure, export_timeout (seconds),
    service, keep_local.  ``otel`` is an already-validated otel block
    (enabled, endpoint, headers, insecure, timeout, resource); when it is
    absent or not enabled it is ignored.

    Never raises: as the OTel specification asks, a value that cannot be used
    is ignored alone, and ``problems`` on the result says so, one line each
    (naming the variable, never a header value).  Flags were checked when
    the command line was read.  With nothing given, the defaults, without
    loading ``settings``.
    """
    environ = os.environ if environ is None else environ
    if is_unset(flags, otel, environ):
        return ExportConfig(resource={"service.name": DEFAULT_SERVICE},
                            home=default_home(environ))
    from .settings import read
    return read(flags, otel, environ)


def __getattr__(name: str):
    """The names of ``settings`` (``parse_duration``, ``Reader``, ``endpoint_protocol``...),
    loading it on first use."""
    from .. import forwarded
    return forwarded(globals(), "settings", name)
