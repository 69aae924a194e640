"""This host's collector settings, passed to the remote traceexec over the ssh
connection itself: never in a command line, where ``ps`` on either host would
show the headers (a token, often).

``block(environ)`` is a few ``NAME=VALUE`` lines and an empty one, written to
ssh's stdin before the command's own stdin (``homecoming.main`` relays it);
the remote script (``carrier.SETTINGS_SCRIPT``) reads them with the shell's
``read``, which takes no byte past the empty line, and exports each by name
from a fixed list (a value is never read as code).  The remote traceexec then
exports to this host's collector, with its headers, in its environment (which
only its user can read).  TLS files are not sent: they name files of this host.
"""

SENT = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_TRACES_EXPORTER")
"""The variables a settings block may set on the remote host."""
REPLACED = SENT + ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
                   "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_INSECURE",
                   "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_COMPRESSION",
                   "OTEL_SDK_DISABLED")
"""Unset on the remote host before the block is read: the remote host's own
exporter settings would otherwise mix with ours."""


def variables(cfg) -> dict:
    """The remote variables that make a traceexec export as ``cfg`` (a resolved
    ExportConfig with an endpoint) does."""
    from ..delivery.config import as_variables
    # tracing switched off here is off there too (console output would mix with the
    # command's own on that host: it is not asked for there)
    exporter = "otlp" if "otlp" in cfg.exporters else "none"
    return dict(as_variables(cfg), OTEL_TRACES_EXPORTER=exporter)


def block(environ) -> bytes:
    """The settings lines for this host's collector, and the empty line that ends
    them (alone when there is none to send: the remote side reads up to it)."""
    from ..delivery import config
    try:
        cfg = config.resolve({}, None, environ)
    except Exception:  # telemetry never changes the outcome: the command's stdin follows
        return b"\n"
    if cfg.endpoint is None:
        return b"\n"
    lines = ["%s=%s\n" % item for item in variables(cfg).items()
             if not any(c in item[1] for c in "\r\n\0")]
    return ("".join(lines) + "\n").encode()


def feed(pipe, settings: bytes, source_fd: int = 0) -> None:
    """Write ``settings`` to ``pipe`` (ssh's stdin), then everything from
    ``source_fd`` as it comes, byte for byte (moved by the kernel with splice(2)
    from a file or a pipe); close ``pipe`` at its end
    (ssh then sends EOF) or when ssh stops reading."""
    import os
    target = pipe.fileno()
    try:
        while settings:
            settings = settings[os.write(target, settings):]
        _copy(source_fd, target)
    except OSError:
        pass  # ssh has ended, or our stdin is not readable: as for ssh's own reading
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _copy(source_fd: int, target: int) -> None:
    import os
    if hasattr(os, "splice") and _splices(os.fstat(source_fd).st_mode):
        while True:
            try:
                if not os.splice(source_fd, target, 1 << 20):
                    return
            except InterruptedError:
                continue
    while True:
        try:
            data = os.read(source_fd, 65536)
        except InterruptedError:
            continue
        if not data:
            return
        while data:
            data = data[os.write(target, data):]


def _splices(mode: int) -> bool:
    """Only from a file or a pipe: splice(2) from a terminal or socket that has no
    input yet holds the target pipe's lock while it waits, so ssh could not read
    what came before."""
    import stat
    return stat.S_ISREG(mode) or stat.S_ISFIFO(mode)
