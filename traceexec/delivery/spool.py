"""The durable on-disk spool: finished spans wait here until an exporter sends them.

Layout under TRACEEXEC_HOME (directories 0700, files 0600)::

    spool/<destination>/destination   what the destination is, without secrets
    spool/<destination>/current.log   where writers append (frames: see ``frames``)
    spool/<destination>/*.span        claimed logs, waiting for the exporter
    spool/<destination>/lock          held (flock) by the one exporter at work
    spool/<destination>/backoff       no exporter is started before this time
    spool/<destination>/dropped       spans dropped because the spool was full (a count)
    spool/<destination>/full          present while the spool is over its limit
    spool/<destination>/dead/         spans the collector refused alone, and why
    spool/<destination>/quarantine/   bytes of spool files that held no readable span

Writers never wait for delivery: a span is encoded once, in the OTLP wire
form the exporter sends as it is, and appended with one ``write`` to
``current.log`` under an exclusive flock (safe with any number of concurrent
writers), then an exporter is started if none is running.  Readers claim the
log by renaming it to a ``.span`` file under the same lock; a writer that
finds its file renamed appends to a new one.  Appending to a file that exists
costs microseconds, where creating a file costs most of a millisecond on the
machines measured.  The exporter deletes a file only
after the collector accepted its spans, so a crash means re-delivery, not loss.
Standard library only: this module is on the wrapper's path.
"""

import marshal
import os
import sys
import time

from . import config as _config
from . import frames, otlp
from ..files import append_log, claim_log, ensure_dir, replace_file

SUFFIX = ".span"
DEFAULT_LIMIT_SPANS = 2_000_000
TRACEEXEC_SPOOL_LIMIT = "TRACEEXEC_SPOOL_LIMIT"
"""Spool bound per destination, in spans (default 2,000,000: see docs/reference.md, the spool limit);
past it the oldest spans are dropped, loudly."""


class SpoolError(Exception):
    """A span could not be written to the spool."""


def spool_root(home: str) -> str:
    return os.path.join(home, "spool")


def destination_id(cfg: _config.ExportConfig) -> str:
    """A directory name for where ``cfg`` sends spans.

    Header values are part of the identity (two tokens, two queues) but only
    as a checksum: the spool never holds a secret.
    """
    desc = cfg.describe()
    text = repr(sorted(desc.items())) + repr(sorted(cfg.headers.items()))
    readable = "".join(c if c.isalnum() else "_" for c in cfg.endpoint.split("://")[-1])[:48]
    return "%s-%08x" % (readable, _fnv1a(text.encode()))


def _fnv1a(data: bytes) -> int:
    """A stable 32-bit FNV-1a hash (zlib would cost the wrapper 0.4 ms to import)."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def describe_destination(directory: str, cfg: _config.ExportConfig) -> None:
    """Write the destination's description (no header values) once."""
    path = os.path.join(directory, "destination")
    if os.path.exists(path):
        return
    try:
        replace_file(path, marshal.dumps(cfg.describe()))
    except OSError:
        pass


def read_destination(directory: str) -> dict | None:
    try:
        with open(os.path.join(directory, "destination"), "rb") as handle:
            return marshal.loads(handle.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None


CURRENT = "current.log"
FULL = "full"
"""Present while the spool is over its limit and the oldest spans are being dropped."""


def encode(records: list) -> bytes:
    """The frames of ``records``, one span each (see ``frames``)."""
    return b"".join(frames.frame(otlp.encode(record)) for record in records)


def write(directory: str, records: list) -> str:
    """Append ``records`` to the spool ``directory``; returns the log's path."""
    path = os.path.join(directory, CURRENT)
    data = encode(records)  # a record that cannot be encoded fails before any write
    try:
        ensure_dir(directory)
        append_log(path, data)
    except OSError as error:
        raise SpoolError("%s: %s" % (directory, error.strerror or error)) from None
    return path


def read_bytes(path: str) -> bytes:
    """A spool file's content (plain os calls: half the cost of ``open`` per file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def count_file(path: str) -> int:
    """Spans waiting in one spool file (0 when it is gone)."""
    try:
        return frames.count(read_bytes(path))
    except OSError:
        return 0


def pending(directory: str) -> list:
    """Spool files waiting in ``directory``, oldest first (claiming ``current.log``).

    A claimed file keeps its name until it is sent: ``<ns>-<pid>-<random>.span``,
    then, once an exporter counted it, ``<ns>-<pid>-<random>-n<spans>.span``.
    """
    name = "%020d-%d-%s%s" % (time.time_ns(), os.getpid(), os.urandom(4).hex(), SUFFIX)
    try:
        claim_log(os.path.join(directory, CURRENT), os.path.join(directory, name))
        names = [n for n in os.listdir(directory) if n.endswith(SUFFIX)]
    except OSError:
        return []
    names.sort()
    return [os.path.join(directory, n) for n in names]


def counted_spans(path: str):
    """The span count in a counted file's name, else None."""
    stem = os.path.basename(path)[:-len(SUFFIX)]
    _, _, tail = stem.rpartition("-n")
    return int(tail) if tail.isdigit() and stem.count("-") >= 3 else None


def full_notice(directory: str):
    """A warning line when the spool is over its limit (``FULL``), else None."""
    try:
        with open(os.path.join(directory, FULL), "rb") as handle:
            limit = handle.read().decode(errors="replace").strip()
    except OSError:
        return None
    return ("warning: the spool for %s is over its limit of %s spans: its oldest spans are "
            "being dropped (see 'traceexec flush')" % (os.path.basename(directory), limit))


def _backoff(directory: str) -> list:
    """The ``backoff`` file: ``UNTIL DELAY`` (unix time, seconds), written by the exporter."""
    try:
        with open(os.path.join(directory, "backoff"), "rb") as handle:
            return [float(x) for x in handle.read().decode().split()[:2]]
    except (OSError, ValueError):
        return []


def backoff_until(directory: str) -> float:
    """No exporter is started for ``directory`` before this unix time."""
    fields = _backoff(directory)
    return fields[0] if fields else 0.0


def backoff_delay(directory: str) -> float:
    """The delay of the last backoff (0 when none): the next one doubles it."""
    fields = _backoff(directory)
    return fields[1] if len(fields) > 1 else 0.0


def is_exporter_running(directory: str) -> bool:
    """True when some process holds the destination's exporter lock."""
    import fcntl
    try:
        fd = os.open(os.path.join(directory, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases the lock if we took it
    return False


# The exporter's interpreter runs isolated (-I: no working directory, no user
# site, no PYTHON* variables on sys.path) and finds this package by the path
# handed to it, appended after the standard library so nothing can shadow it.
_BOOT = ("import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
         "sys.path.append(sys.argv.pop(1)); "
         "from traceexec.delivery.export import exporter_main; "
         "sys.exit(exporter_main(sys.argv[2:]))")
DEFAULT_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM",
                   "SIGPIPE", "SIGXFSZ", "SIGCHLD", "SIGWINCH")
"""Signals the exporter starts with at their default disposition, whatever its starter did."""


def exporter_argv(directory: str) -> list:
    """How to start the exporter of ``directory``: it needs only the standard library,
    so no site-packages either (-S)."""
    return [sys.executable, "-I", "-S", "-c", _BOOT, _package_parent(), "_export", directory]


def start_exporter(directory: str, headers: dict, *, force=False) -> int | None:
    """Start a detached exporter for ``directory`` unless one runs or it is backing off.

    Header values reach it through a pipe on its stdin, never a file or argv.
    It starts with an empty signal mask and default dispositions, whatever
    this process blocks or ignores, so SIGTERM and SIGINT stop it.
    Returns the exporter's pid when one was started.
    """
    if not force and backoff_until(directory) > time.time():
        return None
    if is_exporter_running(directory):
        return None
    home = os.path.dirname(os.path.dirname(directory))
    read_end, write_end = os.pipe()
    try:
        log_fd = os.open(os.path.join(home, "exporter.log"),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        log_fd = None
    actions = [(os.POSIX_SPAWN_DUP2, read_end, 0),
               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    if log_fd is not None:
        actions.append((os.POSIX_SPAWN_DUP2, log_fd, 2))
    else:
        actions.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP")}
    import _signal
    defaults = [getattr(_signal, name) for name in DEFAULT_SIGNALS if hasattr(_signal, name)]
    try:
        pid = os.posix_spawn(sys.executable, exporter_argv(directory), env,
                             file_actions=actions, setsid=True, setsigmask=(),
                             setsigdef=defaults)
    except OSError:
        pid = None
    finally:
        os.close(read_end)
        if log_fd is not None:
            os.close(log_fd)
    try:
        os.write(write_end, marshal.dumps(dict(headers)))
    except OSError:
        pass
    os.close(write_end)
    return pid


def fork_exporter(directory: str, headers: dict) -> int | None:
    """Start the exporter of ``directory`` by forking this process, unless one runs or
    it is backing off: what a wrapper does, since its interpreter and the modules the
    exporter needs are loaded already (a new interpreter would cost more than the
    wrapper itself).  Only from a process with one thread; returns the child's pid."""
    if backoff_until(directory) > time.time() or is_exporter_running(directory):
        return None
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid:
        return pid
    status = 1
    try:
        from .export import run_forked
        status = run_forked(directory, headers)
    except BaseException as error:  # before its log was set up: say it there anyway
        _note_failure(directory, error)
    finally:
        os._exit(status)


def _note_failure(directory: str, error) -> None:
    try:
        fd = os.open(os.path.join(os.path.dirname(os.path.dirname(directory)), "exporter.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, ("%s traceexec exporter[%d]: could not start: %s\n" % (
                time.strftime("%Y-%m-%dT%H:%M:%S"), os.getpid(),
                type(error).__name__)).encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def _is_single_threaded() -> bool:
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _package_parent() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def destination_dir(cfg: _config.ExportConfig) -> str:
    """The spool directory of ``cfg``'s endpoint (the local store has no spool)."""
    return os.path.join(spool_root(cfg.home), destination_id(cfg))


def record(records: list, cfg: _config.ExportConfig, *, wait: bool = False) -> list:
    """Spool ``records`` for ``cfg``'s endpoint and see that they get sent.

    Returns the log written.  Raises SpoolError when it could not be written.
    With ``wait``, returns once they were delivered or the export timeout passed.
    """
    directory = destination_dir(cfg)
    path = write(directory, records)
    describe_destination(directory, cfg)
    notice = full_notice(directory)
    if notice is not None:  # once per run, while the exporter drops the oldest spans
        try:
            os.write(2, ("traceexec: %s\n" % notice).encode("utf-8", "replace"))
        except OSError:
            pass
    if _is_single_threaded():
        fork_exporter(directory, cfg.headers)
    else:
        start_exporter(directory, cfg.headers)
    if wait:
        wait_delivered([path], cfg.timeout_s)
    return [path]


def wait_delivered(paths, timeout_s: float) -> bool:
    """Poll until the spools holding ``paths`` are empty, at most ``timeout_s``.

    ``paths`` are what ``write`` returned; the wait ends when their
    destinations have nothing left to send (spans of others included).
    """
    directories = {os.path.dirname(p) for p in paths}
    deadline = time.monotonic() + timeout_s
    while True:
        if not any(_has_pending(d) for d in directories):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _has_pending(directory: str) -> bool:
    try:
        if os.path.getsize(os.path.join(directory, CURRENT)) > 0:
            return True
    except OSError:
        pass
    try:
        return any(n.endswith(SUFFIX) for n in os.listdir(directory))
    except OSError:
        return False
