"""Delivery: draining a destination's spool, and the detached exporter process.

One exporter works on a destination at a time (flock on
``spool/<destination>/lock``)::

    drain(directory, headers, timeout_s)   # in-process, e.g. flush
    traceexec _export DIRECTORY            # detached, started by spool.start_exporter
    traceexec flush [--json]               # synchronous (module ``flush``)

Spool bodies are sent as they are: a batch is their concatenation.  A file
is deleted only after the collector accepted its spans (a crash means
re-delivery, never loss); when sending stops part-way, the sent part is
marked with one 12-byte ``SKIP`` header written in place, so no file is ever
rewritten and no temporary file is made.  Bytes that hold no readable frame
are copied to ``quarantine/`` and counted.  A request the collector refuses
for its content is split in halves until the span at fault is alone; if the
collector then takes an empty request but not that span, the span goes to
``dead/`` with the reason and everything behind it is delivered.  A failed
export leaves a ``backoff`` mark and a line in the log.  Header values come
from the caller and never reach a log line, a file or an error message.
"""
import marshal
import os
import sys
import time

from . import frames, spool
from ..errors import UsageError, printable
from ..files import append_log, ensure_dir
from .scrubber import Scrubber
from .sender import ACCEPTED, KEPT, ExportFailed, Sender

BATCH_SPANS = 4096
"""Spans per export request at most."""
BATCH_BYTES = 3 * 1024 * 1024
"""Request bytes at most: under the 4 MiB message limit that gRPC servers default to."""
LINGER_S = 1.5
"""A destination's exporter waits this long for more spans before it exits."""
POLL_S = 0.1
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
LOG_LIMIT_BYTES = 1024 * 1024
"""exporter.log is truncated when it is larger than this."""
MAX_RESTARTS = 20
DEAD = "dead"
QUARANTINE = "quarantine"


class DrainResult:
    """What one drain of a destination did.  ``failed`` is a reason, or None."""

    def __init__(self, destination, protocol=None):
        self.destination = destination
        self.protocol = protocol
        self.sent = 0
        self.left = 0
        self.dropped = 0
        self.dead = 0
        self.quarantined = 0
        self.rejected = 0
        self.dead_total = 0
        self.failed = None
        self.missing_headers = []

    @property
    def is_complete(self) -> bool:
        return self.failed is None and self.left == 0

    def as_dict(self) -> dict:
        return {"destination": self.destination, "protocol": self.protocol,
                "sent": self.sent, "left": self.left, "dropped": self.dropped,
                "dead_letters": self.dead_total, "set_aside_now": self.dead,
                "quarantined_bytes": self.quarantined,
                "rejected_by_collector": self.rejected,
                "error": self.failed, "missing_headers": self.missing_headers}

    def summary(self) -> str:
        where = self.destination + (" (%s)" % self.protocol if self.protocol else "")
        text = "%s: sent %d, left %d" % (where, self.sent, self.left)
        if self.dropped:
            text += ", dropped %d (spool over its limit)" % self.dropped
        if self.dead:
            text += ", set aside %d (refused by the collector, see %s/)" % (self.dead, DEAD)
        if self.quarantined:
            text += ", quarantined %d unreadable bytes (see %s/)" % (self.quarantined, QUARANTINE)
        if self.rejected:
            text += ", rejected %d (partial success)" % self.rejected
        if self.failed:
            text += ": " + self.failed
        return text


# --- small state files, written in place (no temporary file to leave behind) --

def _write_small(path: str, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, data)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_number(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return int(handle.read().decode().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Lock:
    """The destination's exporter lock (flock; released when the process dies)."""

    def __init__(self, directory: str):
        self.fd = os.open(os.path.join(ensure_dir(directory), "lock"),
                          os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self, timeout_s: float = 0.0) -> bool:
        import fcntl
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)

    def note_owner(self) -> None:
        """Write this process's id into the lock file (who is exporting, for people and tests)."""
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, b"%d\n" % os.getpid(), 0)
        except OSError:
            pass

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def write_backoff(directory: str, now=None) -> float:
    """Push back the next exporter start: 1 s, doubling per failure, at most 60 s."""
    now = time.time() if now is None else now
    previous = spool.backoff_delay(directory)
    delay = BACKOFF_FIRST_S if previous <= 0 else min(previous * 2, BACKOFF_MAX_S)
    _write_small(os.path.join(directory, "backoff"), ("%.3f %.3f" % (now + delay, delay)).encode())
    return delay


def clear_backoff(directory: str) -> None:
    _unlink(os.path.join(directory, "backoff"))


# --- the spool limit -----------------------------------------------------------

def spool_limit(environ=None) -> int:
    """TRACEEXEC_SPOOL_LIMIT in spans, else the default; a bad value means the default."""
    environ = os.environ if environ is None else environ
    try:
        value = int(environ.get(spool.TRACEEXEC_SPOOL_LIMIT, "") or spool.DEFAULT_LIMIT_SPANS)
    except ValueError:
        return spool.DEFAULT_LIMIT_SPANS
    return value if value > 0 else spool.DEFAULT_LIMIT_SPANS


def _counted(path: str) -> tuple:
    """(path, spans) of a pending file, naming it by its count the first time (lock held)."""
    count = spool.counted_spans(path)
    if count is not None:
        return path, count
    count = spool.count_file(path)
    target = "%s-n%d%s" % (path[:-len(spool.SUFFIX)], count, spool.SUFFIX)
    try:
        os.rename(path, target)
    except OSError:
        return path, count
    return target, count


def count_spans(paths) -> int:
    return sum(spool.count_file(p) for p in paths)


def take_dropped(directory: str) -> int:
    """Spans dropped for the spool limit since the last call (the count is reset)."""
    path = os.path.join(directory, "dropped")
    count = _read_number(path)
    _unlink(path)
    return count


def enforce_limit(directory: str, limit: int, log=None) -> int:
    """Drop the oldest spans until the spool holds at most ``limit``; spans dropped.

    The caller holds the destination's lock.  Counts come from the files'
    names, so this reads only files it has not counted before.  Dropping is
    loud: a log line, the ``dropped`` count for ``flush``, and the ``full``
    mark that makes every wrapper run print one warning line.
    """
    counted = [_counted(p) for p in spool.pending(directory)]
    total = sum(n for _, n in counted)
    full_mark = os.path.join(directory, spool.FULL)
    if total <= limit:
        return 0  # ``full`` stays until a drain empties the spool
    excess, dropped, files = total - limit, 0, 0
    for path, count in counted:
        if excess <= 0:
            break
        if count <= excess:
            _unlink(path)
            dropped, excess, files = dropped + count, excess - count, files + 1
        else:
            dropped += _skip_first(path, excess)
            excess = 0
    _write_small(os.path.join(directory, "dropped"),
                 str(_read_number(os.path.join(directory, "dropped")) + dropped).encode())
    _write_small(full_mark, str(limit).encode())
    if log is not None:
        log("warning: spool %s holds %d spans, over its limit of %d: dropped the %d oldest "
            "(%d files); raise TRACEEXEC_SPOOL_LIMIT or bring the collector back"
            % (os.path.basename(directory), total, limit, dropped, files))
    return dropped


def _skip_first(path: str, count: int) -> int:
    """Mark the first ``count`` frames of a file as gone; how many were."""
    try:
        found, _ = frames.scan(spool.read_bytes(path))
    except OSError:
        return 0
    count = min(count, len(found))
    if count:
        _mark_done(path, found[count - 1][0], len(found) - count)
    return count


def _mark_skip(path: str, end: int) -> None:
    """Mark a file's first ``end`` bytes as done with one 12-byte write in place."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return
    try:
        os.pwrite(fd, frames.skip_header(end), 0)
    finally:
        os.close(fd)


def _mark_done(path: str, end: int, left: int) -> str:
    """Mark a file's first ``end`` bytes as done, in place; name it by what is left."""
    _mark_skip(path, end)
    stem = path[:-len(spool.SUFFIX)]
    if spool.counted_spans(path) is not None:
        stem = stem.rpartition("-n")[0]
    target = "%s-n%d%s" % (stem, left, spool.SUFFIX)
    try:
        os.rename(path, target)
    except OSError:
        return path
    return target


# --- reading spool files ---------------------------------------------------------

def _legacy_records(data: bytes):
    """The records of a spool file written by traceexec before the frame format
    (length-prefixed marshal lists), or None when it is not one."""
    records, offset = [], 0
    while offset + 4 <= len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        if offset + 4 + length > len(data):
            break
        try:
            chunk = marshal.loads(data[offset + 4:offset + 4 + length])
        except (EOFError, ValueError, TypeError):
            return None
        if not isinstance(chunk, list) or not all(isinstance(r, dict) for r in chunk):
            return None
        records.extend(chunk)
        offset += 4 + length
    return records if records else None


def _load(path: str) -> tuple:
    """(frames, bad) of a spool file, as ``frames.scan`` gives them; None when it is gone.

    A file from an older traceexec is read as records and encoded now; its
    frames carry offset 0, so it is only ever deleted whole.
    """
    try:
        data = spool.read_bytes(path)
    except FileNotFoundError:
        return None
    if data[:4] not in (frames.MAGIC, frames.SKIP) and data:
        records = _legacy_records(data)
        if records is not None:
            from .otlp import encode
            found = []
            for record in records:
                try:
                    found.append((0, encode(record)))
                except (KeyError, ValueError, TypeError):
                    continue
            return found, []
    found, bad = frames.scan(data)
    return found, [(start, end, data[start:end]) for start, end in bad]


class _File:
    """A spool file being sent: its frames, its unreadable stretches, how many frames
    are done (delivered or set aside)."""

    def __init__(self, path, found, bad):
        self.path, self.found, self.bad = path, found, bad
        self.done_count = 0

    def keep(self, drainer) -> None:
        """Sending stopped: mark what is done, quarantine what lies before it."""
        if not self.done_count:
            return
        end = self.found[self.done_count - 1][0]
        if not end:
            return  # a file of an older format: only ever deleted whole
        drainer._quarantine(self.path, [b for b in self.bad if b[1] <= end])
        _mark_done(self.path, end, len(self.found) - self.done_count)


class Drainer:
    """Sends what waits in one destination directory (the caller holds its lock)."""

    def __init__(self, directory, sender, result, *, log=None, progress=None):
        self.directory = directory
        self.sender = sender
        self.result = result
        self.log = log or (lambda message: None)
        self.progress = progress
        self._probed = False

    def run(self) -> DrainResult:
        """Send until the spool is empty or a request fails (then: a backoff mark, a log line)."""
        result = self.result
        while result.failed is None:
            paths = spool.pending(self.directory)
            if not paths:
                clear_backoff(self.directory)
                _unlink(os.path.join(self.directory, spool.FULL))
                break
            self._send(paths)
        if result.failed is not None:
            result.left = count_spans(spool.pending(self.directory))
            delay = write_backoff(self.directory)
            self.log("export to %s failed, %d spans kept, next try in %.0fs or "
                     "'traceexec flush': %s" % (result.destination, result.left, delay,
                                                result.failed))
        return result

    def _batches(self, paths):
        """(bodies, [(file, index of its last frame in the batch)]) across files, in order."""
        bodies, marks, size = [], [], 0
        for path in paths:
            loaded = _load(path)
            if loaded is None:
                continue
            item = _File(path, *loaded)
            if not item.found:
                self._finish(item)
                continue
            for index, (_, body) in enumerate(item.found):
                if bodies and (len(bodies) >= BATCH_SPANS or size + len(body) > BATCH_BYTES):
                    yield bodies, marks
                    bodies, marks, size = [], [], 0
                bodies.append(body)
                size += len(body)
                if marks and marks[-1][0] is item:
                    marks[-1] = (item, index)
                else:
                    marks.append((item, index))
        if bodies:
            yield bodies, marks

    def _send(self, paths) -> None:
        """Send the files ``paths``, ``IN_FLIGHT`` requests at a time, settled in order, so
        what each file has marked done is always a prefix of it."""
        from .sender import IN_FLIGHT
        flight = []  # a few at most: a list is cheaper to import than a deque
        batches = self._batches(paths)
        while True:
            while len(flight) < IN_FLIGHT:
                batch = next(batches, None)
                if batch is None:
                    break
                flight.append((batch, self.sender.submit(batch[0])))
            if not flight:
                return
            (bodies, marks), waiting = flight.pop(0)
            failure = self._settle(bodies, waiting())
            if failure is not None:
                for _, later in flight:
                    later()  # let them finish; what they delivered is sent again later
                self.result.failed = failure
                opened = {id(item): item for (_, later_marks), _ in flight
                          for item, _ in later_marks}
                opened.update((id(item), item) for item, _ in marks)
                for item in opened.values():
                    item.keep(self)
                return
            for item, last in marks:
                item.done_count = last + 1
                if item.done_count == len(item.found):
                    self._finish(item)
                else:
                    _mark_skip(item.path, item.found[last][0])  # a kill re-sends one window
            if self.progress is not None:
                self.progress(self.result)

    def _finish(self, item) -> None:
        self._quarantine(item.path, item.bad)
        _unlink(item.path)

    def _deliver(self, bodies) -> str | None:
        """Deliver ``bodies`` now; None, or why it failed."""
        return self._settle(bodies, self.sender.send(bodies))

    def _settle(self, bodies, outcome) -> str | None:
        """Act on ``outcome`` of sending ``bodies``, splitting a refused request in halves
        until the span at fault is alone; None, or why sending failed."""
        if outcome.kind == ACCEPTED:
            self.result.sent += len(bodies)
            if outcome.rejected:
                self.result.rejected += outcome.rejected
                self.log("%s accepted a request but rejected %d of its %d spans: %s" % (
                    self.result.destination, outcome.rejected, len(bodies), outcome.reason))
            return None
        if outcome.kind == KEPT:
            return outcome.reason
        if len(bodies) > 1:
            half = len(bodies) // 2
            return self._deliver(bodies[:half]) or self._deliver(bodies[half:])
        if not self._collector_takes_something():
            return outcome.reason  # the collector refuses everything: keep, back off
        self._set_aside(bodies[0], outcome.reason)
        return None

    def _collector_takes_something(self) -> bool:
        """Whether the collector accepts an empty request (asked once per drain)."""
        if not self._probed:
            self._probed = self.sender.send([]).kind == ACCEPTED
        return self._probed

    def _set_aside(self, body: bytes, reason: str) -> None:
        from .otlp import describe
        folder = ensure_dir(os.path.join(self.directory, DEAD))
        what = describe(body)
        line = "%s trace=%s span=%s name=%s bytes=%d: %s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), what["trace_id"], what["span_id"],
            printable(what["name"])[:200], len(body), reason)
        append_log(os.path.join(folder, "spans.log"), frames.frame(body))
        append_log(os.path.join(folder, "reasons.log"), line.encode("utf-8", "replace"), line=True)
        self.result.dead += 1
        self.log("%s refused span %s of trace %s (%d bytes) on its own: set aside in %s/: %s" % (
            self.result.destination, what["span_id"], what["trace_id"], len(body), DEAD, reason))

    def _quarantine(self, path: str, bad) -> None:
        if not bad:
            return
        folder = ensure_dir(os.path.join(self.directory, QUARANTINE))
        size = sum(end - start for start, end, _ in bad)
        append_log(os.path.join(folder, os.path.basename(path)), b"".join(b for _, _, b in bad))
        self.result.quarantined += size
        self.log("%s: %d bytes in %d places held no readable span (a torn or damaged write): "
                 "quarantined in %s/" % (os.path.basename(path), size, len(bad), QUARANTINE))


def dead_letters(directory: str) -> int:
    """Spans set aside in ``directory``'s dead-letter file."""
    return spool.count_file(os.path.join(directory, DEAD, "spans.log"))


def retry_dead_letters(directory: str) -> int:
    """Put the set-aside spans back in the spool (lock held); how many."""
    path = os.path.join(directory, DEAD, "spans.log")
    count = spool.count_file(path)
    if count:
        target = os.path.join(directory, "%020d-%d-dead-n%d%s" % (
            time.time_ns(), os.getpid(), count, spool.SUFFIX))
        os.rename(path, target)
    return count


def describe(directory: str):
    """(destination text, protocol, description dict or None) for a spool directory."""
    dest = spool.read_destination(directory)
    if not dest or not dest.get("endpoint"):
        return os.path.basename(directory), None, None
    return dest["endpoint"], dest.get("protocol"), dest


def _give_up(result: DrainResult, directory: str, reason: str) -> DrainResult:
    result.failed = reason
    result.left = count_spans(spool.pending(directory))
    return result


def drain(directory: str, headers: dict, timeout_s: float, *, dest=None, log=None,
          limit=None, progress=None, lock_wait_s=None, retry_dead=False) -> DrainResult:
    """Deliver everything waiting in one spool directory, synchronously.

    Waits for the destination's lock (another exporter at work) at most
    ``lock_wait_s`` (default ``timeout_s``), then sends until the spool is
    empty; ``timeout_s`` bounds each request.  ``dest`` overrides the stored
    description (e.g. a fixed certificate); ``headers`` supplies the values.
    """
    name, protocol, stored = describe(directory)
    result = DrainResult(name, protocol)
    limit = spool_limit() if limit is None else limit
    lock = Lock(directory)
    try:
        if not lock.acquire(timeout_s if lock_wait_s is None else lock_wait_s):
            return _give_up(result, directory,
                            "another exporter is still sending to this destination")
        cleanup(directory)
        if retry_dead:
            retry_dead_letters(directory)
        result.dropped = enforce_limit(directory, limit, log)
        dest = dest or stored
        if dest is None:
            return _give_up(result, directory, "unknown destination (no description in the spool)")
        result.missing_headers = [n for n in dest.get("header_names") or () if n not in headers]
        if result.missing_headers:
            return _give_up(result, directory, "needs header values for %s (give --header "
                            "NAME=VALUE or OTEL_EXPORTER_OTLP_HEADERS)"
                            % ", ".join(result.missing_headers))
        if not spool.pending(directory):
            return result
        try:
            sender = Sender(dest, headers, timeout_s)
        except ExportFailed as error:
            return _give_up(result, directory, str(error))
        try:
            return Drainer(directory, sender, result, log=log, progress=progress).run()
        finally:
            sender.close()
    finally:
        lock.release()


def cleanup(directory: str) -> None:
    """Tidy what killed processes left (lock held): temporaries of dead writers,
    and the helper files of the exporter of older versions."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(".tmp"):
            pid = name[:-len(".tmp")].rpartition(".")[2]
            if pid.isdigit() and not _is_alive(int(pid)):
                _unlink(path)
        elif name.endswith(spool.SUFFIX + ".helper"):
            try:
                os.rename(path, path[:-len(".helper")])
            except OSError:
                pass


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# --- the detached exporter ---------------------------------------------------

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


def _log(message: str) -> None:
    _Log()(message)


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
                                      "exporter.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                         0o600)
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
    return _run(directory, headers)


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
            delay = write_backoff(directory)
            log("%s: next try in %.0fs or 'traceexec flush'" % (os.path.basename(directory), delay))
        except Exception:
            pass
        return 1


def _export(directory: str, headers: dict, log) -> int:
    for _ in range(MAX_RESTARTS):
        lock = Lock(directory)
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
    name, protocol, dest = describe(directory)
    cleanup(directory)
    if dest is None:
        log("%s: no destination description; spans stay in the spool" % name)
        write_backoff(directory)
        return False
    limit = spool_limit()
    sender = None
    try:
        while True:
            enforce_limit(directory, limit, log)
            if spool.pending(directory):
                if sender is None:
                    try:
                        sender = Sender(dest, headers, float(dest.get("timeout_s") or 10.0))
                    except ExportFailed as error:
                        log("%s: %s" % (name, error))
                        log("%s: next try in %.0fs or 'traceexec flush'"
                            % (name, write_backoff(directory)))
                        return False
                result = Drainer(directory, sender, DrainResult(name, protocol), log=log).run()
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
