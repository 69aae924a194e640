"""A destination's last delivery problem, so that people see it.

The exporter (and ``flush``) notes why sending failed in
``spool/<destination>/problem`` and clears it once the spool is empty; the next
wrapped commands for that destination print it as one warning line on
stderr, at most once per destination per interval (``warned`` notes when it
was last said).  Reasons come from ``sender``, already scrubbed of header values.
Standard library only: read on the wrapper's path.

    >>> import tempfile; folder = tempfile.mkdtemp()
    >>> note(folder, "connection refused"); last_problem(folder)[1]
    'connection refused'
"""
import os
import time

from ..errors import printable
from ..files import replace_file

PROBLEM = "problem"
WARNED = "warned"
REASON_LIMIT = 300


def note(directory: str, reason: str) -> None:
    """Record why sending to ``directory``'s destination failed (never raises)."""
    text = "%.3f %s" % (time.time(), printable(reason)[:REASON_LIMIT])
    try:
        replace_file(os.path.join(directory, PROBLEM), text.encode("utf-8", "replace"))
    except OSError:
        pass


def clear(directory: str) -> None:
    """The destination took everything: no problem to report any more."""
    for name in (PROBLEM, WARNED):
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def last_problem(directory: str):
    """(unix time, reason) of the last failure still standing, or None."""
    try:
        fd = os.open(os.path.join(directory, PROBLEM), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        text = os.read(fd, 4 * REASON_LIMIT).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    when, _, reason = text.partition(" ")
    try:
        return float(when), reason.strip()
    except ValueError:
        return None


def problem_since(directory: str, since: float):
    """The standing reason if it was noted at ``since`` or later, else None."""
    problem = last_problem(directory)
    return problem[1] if problem is not None and problem[0] >= since else None


def warning(directory: str, destination: str, interval_s: float, now=None):
    """The line a wrapped command prints about ``destination``, or None (no problem,
    or it was said less than ``interval_s`` ago).

    Whether and when it was said is the ``warned`` file (not empty, and its
    modification time), read and written under its flock, so that of any number
    of commands started together one says it.  ``interval_s`` 0: every command.
    """
    problem = last_problem(directory)
    if problem is None:
        return None
    if interval_s > 0 and _said_lately(os.path.join(directory, WARNED), interval_s, now):
        return None
    return ("warning: spans for %s are not being delivered (since %s): %s; they wait in "
            "the spool ('traceexec doctor' checks the destination)"
            % (destination, time.strftime("%H:%M:%S", time.localtime(problem[0])), problem[1]))


def _said_lately(path: str, interval_s: float, now=None) -> bool:
    """True when ``path`` says it was said less than ``interval_s`` ago; else notes now."""
    import fcntl
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return False  # cannot note it: say it all the same
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        stat = os.fstat(fd)
        now = time.time() if now is None else now
        if stat.st_size and now - stat.st_mtime < interval_s:
            return True
        os.ftruncate(fd, 0)
        os.write(fd, b"said\n")
        os.utime(fd, (now, now))
        return False
    except OSError:
        return False
    finally:
        os.close(fd)


def elsewhere(environ):
    """Where this environment's spans go when not to the local store (for ``show``),
    with what waits for that destination and its last problem; None when they
    are kept locally."""
    from . import config, spool
    cfg = config.resolve({}, None, environ)
    if cfg.endpoint is None or cfg.keep_local or "otlp" not in cfg.exporters:
        return None
    text = ("spans of commands run with these settings go to %s (OTEL_EXPORTER_OTLP_*), "
            "not straight into this store" % cfg.endpoint)
    directory = spool.destination_dir(cfg)
    problem = last_problem(directory)
    if problem is not None:
        text += "; delivery there is failing: %s" % problem[1]
    if os.path.isdir(directory):
        text += "; 'traceexec flush --list' shows what waits"
    return text + "; TRACEEXEC_KEEP_LOCAL=true keeps a copy here too"
