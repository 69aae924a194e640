"""The durable on-disk spool: finished spans wait here until an exporter sends them.

Layout under TRACEEXEC_HOME (directories 0700, files 0600)::

    spool/<destination>/destination   what the destination is, without secrets
    spool/<destination>/current.log   where writers append (length-prefixed marshal frames)
    spool/<destination>/*.span        claimed logs, waiting for the exporter
    spool/<destination>/lock          held (flock) by the one exporter at work
    spool/<destination>/backoff       no exporter is started before this time
    spool/<destination>/dropped       spans dropped because the spool was full

Writers never wait for delivery: a span is one ``write`` appended to
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
from ..files import append_log, claim_log, ensure_dir, replace_file

SUFFIX = ".span"
DEFAULT_LIMIT_BYTES = 100 * 1024 * 1024
TRACEEXEC_SPOOL_LIMIT = "TRACEEXEC_SPOOL_LIMIT"
"""Spool size bound in bytes (default 100 MB); past it the oldest spans are dropped."""


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
MAX_FRAME = 64 * 1024 * 1024


def frame(records: list) -> bytes:
    """One spool frame: a 4-byte big-endian length, then the marshal of the records."""
    body = marshal.dumps(records)
    return len(body).to_bytes(4, "big") + body


def write(directory: str, records: list) -> str:
    """Append ``records`` to the spool ``directory``; returns the log's path."""
    path = os.path.join(directory, CURRENT)
    try:
        ensure_dir(directory)
        append_log(path, frame(records))
    except OSError as error:
        raise SpoolError("%s: %s" % (directory, error.strerror or error)) from None
    return path


def read(path: str) -> list:
    """The records of one spool file; raises ValueError when it is corrupt."""
    return load(read_bytes(path), path)


def read_bytes(path: str) -> bytes:
    """A spool file's content (plain os calls: half the cost of ``open`` per file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < 1 << 16:
                break
    finally:
        os.close(fd)
    return b"".join(chunks)


def frames(data: bytes, path: str = "") -> list:
    """(frame bytes, records) of each frame in a spool file's content.

    A torn last frame (its writer died mid-write) is left out; any other
    damage raises ValueError.
    """
    found, offset, size = [], 0, len(data)
    while offset + 4 <= size:
        length = int.from_bytes(data[offset:offset + 4], "big")
        if length > MAX_FRAME:
            raise ValueError("corrupt spool file %s: bad frame length" % os.path.basename(path))
        if offset + 4 + length > size:
            break
        try:
            records = marshal.loads(data[offset + 4:offset + 4 + length])
        except (EOFError, ValueError, TypeError) as error:
            raise ValueError("corrupt spool file %s: %s" % (
                os.path.basename(path), error)) from None
        if not isinstance(records, list):
            raise ValueError("corrupt spool file %s" % os.path.basename(path))
        found.append((data[offset:offset + 4 + length], records))
        offset += 4 + length
    return found


def load(data: bytes, path: str = "") -> list:
    """The records in a spool file's content; raises ValueError when it is corrupt."""
    return [record for _, records in frames(data, path) for record in records]


def pending(directory: str) -> list:
    """Spool files waiting in ``directory``, oldest first (claiming ``current.log``)."""
    name = "%020d-%d-%s%s" % (time.time_ns(), os.getpid(), os.urandom(4).hex(), SUFFIX)
    try:
        claim_log(os.path.join(directory, CURRENT), os.path.join(directory, name))
        names = [n for n in os.listdir(directory) if n.endswith(SUFFIX)]
    except OSError:
        return []
    names.sort()
    return [os.path.join(directory, n) for n in names]


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


def start_exporter(directory: str, headers: dict, *, force=False) -> int | None:
    """Start a detached exporter for ``directory`` unless one runs or it is backing off.

    Header values reach it through a pipe on its stdin, never a file or argv.
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
    argv = [sys.executable, "-m", "traceexec", "_export", directory]
    actions = [(os.POSIX_SPAWN_DUP2, read_end, 0),
               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    if log_fd is not None:
        actions.append((os.POSIX_SPAWN_DUP2, log_fd, 2))
    else:
        actions.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP")}
    env["PYTHONPATH"] = _package_parent() + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        pid = os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
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
        return any(SUFFIX in n for n in os.listdir(directory))  # *.span, *.span.helper
    except OSError:
        return False
