"""The detached exporter: one process per destination that drains its spool,
waits a little for more, and exits.

    traceexec _export DIRECTORY     # spawned isolated by spool.start_exporter (DAG runs)
    spool.fork_exporter(...)        # forked by a wrapper (run_forked)

One exporter works on a destination at a time (flock on
``spool/<destination>/lock``, which holds its pid).  Its log is
``$TRACEEXEC_HOME/exporter.log`` (its stderr), every line scrubbed of header
values; every failure leaves a line there and a backoff mark.
"""
import marshal
import os
import sys
import time

from . import drain, health, limit, marks, spool
from ..errors import UsageError, printable
from .scrubber import Scrubber
from .sender import ExportFailed, Sender

LINGER_S = 1.5
"""A destination's exporter waits this long for more spans before it exits."""
POLL_S = 0.1
LOG_LIMIT_BYTES = 1024 * 1024
"""exporter.log is truncated when it is larger than this."""
MAX_RESTARTS = 20


class _Log:
    """exporter.log is the exporter's stderr; every line scrubbed of header values."""

    def __init__(self, scrubber=None):
        self.scrubber = scrubber

    def __call__(self, message: str) -> None:
        if self.scrubber is not None:
            message = self.scrubber.scrub(message)
        line = "%s traceexec exporter[%d]: %s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), os.getpid(), printable(message))
        try:
            os.write(2, line.encode("utf-8", "replace"))
        except OSError:
            pass


def _trim_log() -> None:
    """exporter.log is our stderr: start it over when it grew past LOG_LIMIT_BYTES."""
    try:
        if os.fstat(2).st_size > LOG_LIMIT_BYTES:
            os.ftruncate(2, 0)
    except OSError:
        pass


def _read_headers(stream) -> dict:
    try:
        data = stream.buffer.read() if stream is not None and not stream.isatty() else b""
        headers = marshal.loads(data) if data else {}
    except (OSError, EOFError, ValueError, TypeError, AttributeError):
        return {}
    if not isinstance(headers, dict):
        return {}
    return {str(k): str(v) for k, v in headers.items()}


class Stopped(BaseException):
    """The exporter was asked to stop (SIGTERM, SIGINT, SIGHUP)."""

    def __init__(self, number):
        super().__init__(number)
        self.number = number


def _on_signal(number, frame):
    raise Stopped(number)


def _install_signal_handlers() -> None:
    import _signal
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        _signal.signal(getattr(_signal, name), _on_signal)


def exporter_main(args) -> int:
    """``traceexec _export DIRECTORY``: the detached exporter of one destination."""
    if len(args) != 1:
        raise UsageError("usage: traceexec _export SPOOL_DIRECTORY")
    _install_signal_handlers()
    return _run(os.path.abspath(args[0]), _read_headers(sys.stdin))


def run_forked(directory: str, headers: dict) -> int:
    """Become the detached exporter of ``directory`` in a child just forked from a
    wrapper (``spool.fork_exporter``): a session of its own, none of the wrapper's
    files (a pipe held open would keep ``$(traceexec ...)`` waiting), an empty
    signal mask and default dispositions, and no import from the working
    directory or the user's site directory."""
    import _signal
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    try:
        log_fd = os.open(os.path.join(os.path.dirname(os.path.dirname(directory)),
                                      "exporter.log"),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    except OSError:
        log_fd = null
    os.dup2(log_fd, 2)
    os.closerange(3, 1 << 16)
    for name in spool.DEFAULT_SIGNALS:
        number = getattr(_signal, name, None)
        if number is not None:
            _signal.signal(number, _signal.SIG_DFL)
    _install_signal_handlers()
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())
    site = sys.modules.get("site")
    unwanted = {"", ".", os.getcwd(), getattr(site, "USER_SITE", None)}
    sys.path[:] = [p for p in sys.path if p not in unwanted]
    _name_process()
    return _run(directory, headers)


def _name_process() -> None:
    """Call this process ``traceexec-export`` in ps, top and pgrep (its command line
    stays its wrapper's: ``pgrep -f`` sees both); /proc's ``comm`` is what prctl's
    PR_SET_NAME sets, without loading ``_ctypes``."""
    try:
        with open("/proc/self/comm", "w") as handle:
            handle.write("traceexec-export")
    except OSError:  # a name is a courtesy
        pass


def _run(directory: str, headers: dict) -> int:
    _trim_log()
    log = _Log(Scrubber(headers.values()))
    try:
        os.chdir(directory)  # hold no user directory busy
        return _export(directory, headers, log)
    except Stopped as stop:
        log("%s: stopped by signal %d; what was not sent stays in the spool"
            % (os.path.basename(directory), stop.number))
        return 128 + stop.number
    except Exception as error:  # detached: the log is the only place to say it
        log("%s: stopped: %s: %s" % (os.path.basename(directory), type(error).__name__, error))
        try:
            delay = marks.write_backoff(directory)
            log("%s: next try in %.0fs or 'traceexec flush'" % (os.path.basename(directory), delay))
        except Exception:
            pass
        return 1


def _export(directory: str, headers: dict, log) -> int:
    for _ in range(MAX_RESTARTS):
        lock = marks.Lock(directory)
        if not lock.acquire():
            return 0
        lock.note_owner()
        try:
            if not _serve(directory, headers, log):
                return 1
        finally:
            lock.release()
        # A wrapper that wrote just before we let go saw the lock held and
        # started no exporter: look once more after releasing it.
        if not spool._has_pending(directory) or spool.is_exporter_running(directory):
            return 0
    return 0


def _serve(directory: str, headers: dict, log) -> bool:
    """Drain, linger for more, drain again; False when an export failed."""
    name, protocol, dest = drain.describe(directory)
    drain.cleanup(directory)
    if dest is None:
        log("%s: no destination description; spans stay in the spool" % name)
        marks.write_backoff(directory)
        return False
    bound = limit.spool_limit()
    sender = None
    try:
        while True:
            limit.enforce_limit(directory, bound, log)
            if spool.pending(directory):
                if sender is None:
                    try:
                        sender = Sender(dest, headers, float(dest.get("timeout_s") or 10.0))
                    except ExportFailed as error:
                        health.note(directory, str(error))
                        log("%s: %s" % (name, error))
                        log("%s: next try in %.0fs or 'traceexec flush'"
                            % (name, marks.write_backoff(directory)))
                        return False
                result = drain.Drainer(directory, sender, drain.DrainResult(name, protocol), log=log).run()
                if result.failed:
                    return False
            if not _more_within(directory, LINGER_S):
                return True
    finally:
        if sender is not None:
            sender.close()


def _more_within(directory: str, seconds: float) -> bool:
    """Whether spans arrive within ``seconds`` (one stat per poll)."""
    current = os.path.join(directory, spool.CURRENT)
    deadline = time.monotonic() + seconds
    while True:
        try:
            if os.stat(current).st_size > 0:
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
