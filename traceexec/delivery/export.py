"""Delivery: draining a destination's spool, and the detached exporter process.

The SDK is used through ``sender`` (the OTLP exporter) and ``convert``
(records as SDK spans), only when something is sent.  One exporter works on a destination at a time (flock on
``spool/<destination>/lock``)::

    drain(directory, headers, timeout_s)   # in-process, e.g. from the DAG driver
    traceexec _export DIRECTORY            # detached, started by spool.start_exporter
    traceexec flush [--json]               # synchronous (module ``flush``)

A spool file is deleted only after the collector accepted its spans: a crash
means re-delivery (at least once), never loss.  A failed export leaves a
``backoff`` file so that wrappers stop starting exporters while the collector
is down.  Header values come from the caller (the exporter's stdin, flush's
configuration) and never reach a log line, a file or an error message.
"""
import marshal
import os
import sys
import time

from . import config, spool
from ..errors import UsageError
from ..files import ensure_dir, replace_file
from .sender import ExportFailed, Sender, scrub

BATCH_SPANS = 2048
"""Spans per export request (well under a collector's usual 4 MiB gRPC message limit)."""
BATCH_BYTES = 2 * 1024 * 1024
"""Spool bytes per export request, for files holding large spans."""
LINGER_S = 1.5
"""A remote destination's exporter waits this long for more spans before it exits."""
POLL_S = 0.02
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
LOG_LIMIT_BYTES = 1024 * 1024
"""exporter.log is truncated when it is larger than this."""
MAX_RESTARTS = 20
HELPER_SUFFIX = ".helper"
"""Spool files handed to the exporter's helper process carry this after ``.span``."""
PARALLEL_MIN_SPANS = 4 * BATCH_SPANS
"""A backlog this large is sent by two processes: the SDK's encoding is pure Python,
one core's worth per process (measured: 17,000 spans/s with one, 24,000 with two)."""


class DrainResult:
    """What one drain of a destination did.  ``failed`` is a reason, or None."""

    def __init__(self, destination, protocol=None):
        self.destination = destination
        self.protocol = protocol
        self.sent = 0
        self.left = 0
        self.dropped = 0
        self.failed = None
        self.missing_headers = []

    @property
    def is_complete(self) -> bool:
        return self.failed is None and self.left == 0

    def as_dict(self) -> dict:
        return {"destination": self.destination, "protocol": self.protocol,
                "sent": self.sent, "left": self.left, "dropped": self.dropped,
                "error": self.failed, "missing_headers": self.missing_headers}

    def summary(self) -> str:
        where = self.destination + (" (%s)" % self.protocol if self.protocol else "")
        text = "%s: sent %d, left %d" % (where, self.sent, self.left)
        if self.dropped:
            text += ", dropped %d (spool over its limit)" % self.dropped
        if self.failed:
            text += ": " + self.failed
        return text


# --- the spool side ----------------------------------------------------------

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
                time.sleep(POLL_S)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def spool_limit(environ=None) -> int:
    """TRACEEXEC_SPOOL_LIMIT in bytes, else 100 MB; a bad value means the default."""
    environ = os.environ if environ is None else environ
    try:
        value = int(environ.get(spool.TRACEEXEC_SPOOL_LIMIT, "") or spool.DEFAULT_LIMIT_BYTES)
    except ValueError:
        return spool.DEFAULT_LIMIT_BYTES
    return value if value > 0 else spool.DEFAULT_LIMIT_BYTES


def count_spans(paths) -> int:
    total = 0
    for path in paths:
        try:
            total += len(spool.read(path))
        except (OSError, ValueError):
            continue
    return total


def _add_counter(path: str, amount: int) -> int:
    try:
        with open(path, "rb") as handle:
            amount += int(handle.read().decode() or 0)
    except (OSError, ValueError):
        pass
    replace_file(path, str(amount).encode())
    return amount


def take_dropped(directory: str) -> int:
    """Spans dropped for the spool limit since the last call (the count is reset)."""
    path = os.path.join(directory, "dropped")
    try:
        with open(path, "rb") as handle:
            count = int(handle.read().decode() or 0)
        os.unlink(path)
    except (OSError, ValueError):
        return 0
    return count


def _trim_oldest_frames(path: str, excess: int, total: int) -> tuple:
    """Drop a spool file's oldest frames until ``excess`` bytes are gone; (spans, new total)."""
    try:
        data = spool.read_bytes(path)
        found = spool.frames(data, path)
    except (OSError, ValueError):
        return 0, total
    count = dropped = removed = 0
    for chunk, records in found:
        if removed >= excess:
            break
        count, dropped, removed = count + 1, dropped + len(records), removed + len(chunk)
    _drop_frames(path, count)
    return dropped, total - removed


def enforce_limit(directory: str, limit: int, log=None) -> int:
    """Drop the oldest spool files until the spool fits ``limit`` bytes; spans dropped.

    The caller holds the destination's lock.  The count is added to ``dropped``.
    """
    sizes = []
    total = 0
    for path in spool.pending(directory):
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        sizes.append((path, size))
        total += size
    if total <= limit:
        return 0
    before = total
    dropped = files = 0
    for path, size in sizes:
        if total <= limit:
            break
        if total - size >= limit:
            dropped += count_spans([path])
            try:
                os.unlink(path)
            except OSError:
                pass
            total -= size
            files += 1
        else:
            dropped_here, total = _trim_oldest_frames(path, total - limit, total)
            dropped += dropped_here
    _add_counter(os.path.join(directory, "dropped"), dropped)
    if log is not None:
        log("warning: spool %s over its limit (%d > %d bytes): dropped the %d oldest spans "
            "(%d files)" % (os.path.basename(directory), before, limit, dropped, files))
    return dropped


def write_backoff(directory: str, now=None) -> float:
    """Push back the next exporter start: 1 s, doubling per failure, at most 60 s."""
    now = time.time() if now is None else now
    previous = spool.backoff_delay(directory)
    delay = BACKOFF_FIRST_S if previous <= 0 else min(previous * 2, BACKOFF_MAX_S)
    try:
        replace_file(os.path.join(directory, "backoff"),
                           ("%.3f %.3f" % (now + delay, delay)).encode())
    except OSError:
        pass
    return delay


def clear_backoff(directory: str) -> None:
    try:
        os.unlink(os.path.join(directory, "backoff"))
    except FileNotFoundError:
        pass


def _read_frames(directory, path):
    """The frames of a spool file; None when it vanished or was corrupt (moved to corrupt/)."""
    try:
        data = spool.read_bytes(path)
        return spool.frames(data, path)
    except FileNotFoundError:
        return None
    except ValueError:
        corrupt = ensure_dir(os.path.join(directory, "corrupt"))
        try:
            os.replace(path, os.path.join(corrupt, os.path.basename(path)))
        except OSError:
            pass
        return None


def _batches(directory, paths, convert):
    """(SDK spans, span count, files finished, partial) of at most BATCH_SPANS spans or
    BATCH_BYTES.  A spool file may span several batches: it is listed in the batch that
    holds its last frame; ``partial`` is (file, frames sent so far) for one that goes on."""
    records, files, size = [], [], 0
    for path in paths:
        found = _read_frames(directory, path)
        if found is None:
            continue
        for index, (chunk, chunk_records) in enumerate(found):
            records.extend(chunk_records)
            size += len(chunk)
            last = index == len(found) - 1
            if last:
                files.append(path)
            if len(records) >= BATCH_SPANS or size >= BATCH_BYTES:
                yield convert(records), len(records), files, None if last else (path, index + 1)
                records, files, size = [], [], 0
    if records or files:
        yield convert(records), len(records), files, None


def _drop_frames(path: str, count: int) -> None:
    """Remove the first ``count`` frames of a spool file (they were delivered)."""
    try:
        found = spool.frames(spool.read_bytes(path), path)
    except (OSError, ValueError):
        return
    rest = b"".join(chunk for chunk, _ in found[count:])
    if not rest:
        os.unlink(path)
        return
    replace_file(path, rest)


class _Pipeline:
    """Reads and converts the next batch, and deletes the files of sent ones, in
    threads, while the SDK exporter waits for the collector (the GIL is free then)."""

    def __init__(self, directory, paths, convert):
        import queue
        import threading
        self._ready = queue.Queue(maxsize=2)
        self._doomed = queue.Queue()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, args=(directory, paths, convert),
                                        daemon=True)
        self._deleter = threading.Thread(target=self._delete, daemon=True)
        self._reader.start()
        self._deleter.start()

    def _read(self, directory, paths, convert):
        try:
            for batch in _batches(directory, paths, convert):
                if not self._offer(batch):
                    return
        except Exception as error:  # raised in the consumer
            self._offer(error)
            return
        self._offer(None)

    def _offer(self, item) -> bool:
        """Queue ``item`` for the consumer unless it stopped; False when it did."""
        import queue
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _delete(self):
        while True:
            files = self._doomed.get()
            if files is None:
                return
            for path in files:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    def __iter__(self):
        while True:
            batch = self._ready.get()
            if batch is None:
                return
            if isinstance(batch, Exception):
                raise batch
            yield batch

    def delete(self, files):
        self._doomed.put(files)

    def close(self):
        """Stop reading; return once every file handed to ``delete`` is gone."""
        self._stop.set()
        self._doomed.put(None)
        self._deleter.join()
        self._reader.join()


def drain_locked(directory: str, sender: Sender, result: DrainResult, *,
                 deadline=None, log=None, listing=spool.pending) -> DrainResult:
    """Send what waits in ``directory`` until it is empty, a send fails or ``deadline``.

    The caller holds the lock.  Files are deleted only after their spans were accepted.
    ``listing(directory)`` names the files to send (default: the spool's pending files).
    """
    while True:
        paths = listing(directory)
        if not paths:
            clear_backoff(directory)
            return result
        pipeline = _Pipeline(directory, paths, sender.converter.convert_all)
        delivered_part = None
        try:
            for spans, count, files, partial in pipeline:
                if deadline is not None and time.monotonic() >= deadline:
                    result.failed = "export timeout reached"
                    break
                if not sender.send(spans):
                    result.failed = sender.failure
                    break
                pipeline.delete(files)
                result.sent += count
                delivered_part = partial
        finally:
            pipeline.close()
        if result.failed and delivered_part is not None:
            _drop_frames(*delivered_part)  # keep only what was not accepted
        if result.failed:
            _give_up(result, directory, result.failed)
            if result.failed != "export timeout reached":
                delay = write_backoff(directory)
                if log is not None:
                    log("export to %s failed, %d spans kept, next try in %.0fs or "
                        "'traceexec flush': %s" % (result.destination, result.left, delay,
                                                   result.failed))
            return result


def describe(directory: str):
    """(destination text, protocol, description dict or None) for a spool directory."""
    dest = spool.read_destination(directory)
    if not dest or not dest.get("endpoint"):
        return os.path.basename(directory), None, None
    return dest["endpoint"], dest.get("protocol"), dest


def _give_up(result: DrainResult, directory: str, reason: str) -> DrainResult:
    """``result`` failed for ``reason``, with what stays in the spool counted."""
    result.failed = reason
    result.left = count_spans(spool.pending(directory))
    return result


def drain(directory: str, headers: dict, timeout_s: float, *, dest=None, log=None,
          limit=None) -> DrainResult:
    """Deliver everything waiting in one spool directory, synchronously.

    Waits for the destination's lock (another exporter at work) and sends for
    at most about ``timeout_s``.  ``dest`` overrides the stored description
    (e.g. a fixed certificate); ``headers`` supplies the header values.
    """
    name, protocol, stored = describe(directory)
    result = DrainResult(name, protocol)
    limit = spool_limit() if limit is None else limit
    deadline = time.monotonic() + timeout_s
    lock = Lock(directory)
    try:
        if not lock.acquire(timeout_s):
            return _give_up(result, directory,
                            "another exporter is still sending to this destination")
        recover_helper_files(directory)
        result.dropped = enforce_limit(directory, limit, log)
        dest = dest or stored
        if dest is None:
            return _give_up(result, directory, "unknown destination (no description in the spool)")
        result.missing_headers = [n for n in dest.get("header_names") or () if n not in headers]
        if result.missing_headers:
            return _give_up(result, directory, "needs header values for %s (give --header "
                            "NAME=VALUE or OTEL_EXPORTER_OTLP_HEADERS)"
                            % ", ".join(result.missing_headers))
        try:  # what the lock wait left of the bound
            sender = Sender(dest, headers, max(deadline - time.monotonic(), 0.5))
        except ExportFailed as error:
            return _give_up(result, directory, str(error))
        try:
            return drain_locked(directory, sender, result, deadline=deadline, log=log)
        finally:
            sender.close()
    finally:
        lock.release()


# --- the detached exporter ---------------------------------------------------

def _log(message: str) -> None:
    line = "%s traceexec exporter[%d]: %s\n" % (
        time.strftime("%Y-%m-%dT%H:%M:%S"), os.getpid(), message)
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
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(headers, dict):
        return {}
    return {str(k): str(v) for k, v in headers.items()}


def recover_helper_files(directory: str) -> None:
    """Give back to the spool what a helper that ended early did not send (lock held)."""
    try:
        names = [n for n in os.listdir(directory) if n.endswith(spool.SUFFIX + HELPER_SUFFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        os.replace(path, path[:-len(HELPER_SUFFIX)])


def _split_backlog(directory: str) -> list:
    """When the backlog is large, cut it into files of BATCH_SPANS spans and hand every
    other one to a helper (renamed ``*.span.helper``); returns the helper's files.

    New files are in place before an old one is removed: a crash between means
    re-delivery, never loss.
    """
    paths = spool.pending(directory)
    if sum(os.path.getsize(p) for p in paths) < PARALLEL_MIN_SPANS * 64:
        return []  # cheaper than counting: far too small to be worth two processes
    chunks = []
    for path in paths:
        found = _read_frames(directory, path)
        if not found:
            continue
        stem = path[:-len(spool.SUFFIX)]
        groups, group, spans = [], [], 0
        for chunk_bytes, records in found:  # groups of whole frames, about BATCH_SPANS spans
            group.append(chunk_bytes)
            spans += len(records)
            if spans >= BATCH_SPANS:
                groups.append((group, spans))
                group, spans = [], 0
        if group:
            groups.append((group, spans))
        for index, (group, spans) in enumerate(groups):
            chunk = "%s-%06d%s" % (stem, index, spool.SUFFIX)
            replace_file(chunk, b"".join(group))
            chunks.append((chunk, spans))
        os.unlink(path)
    if sum(count for _, count in chunks) < PARALLEL_MIN_SPANS:
        return []
    helper_files = []
    for chunk, _ in chunks[1::2]:
        os.replace(chunk, chunk + HELPER_SUFFIX)
        helper_files.append(chunk + HELPER_SUFFIX)
    return helper_files


def _start_helper(directory: str, files: list, dest: dict, headers: dict) -> int:
    """Fork a process that sends ``files`` (before this one opens any gRPC channel)."""
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        name, protocol, _ = describe(directory)
        sender = Sender(dest, headers, float(dest.get("timeout_s") or config.DEFAULT_TIMEOUT_S))
        try:
            result = drain_locked(directory, sender, DrainResult(name, protocol), log=_log,
                                  listing=lambda _: [f for f in files if os.path.exists(f)])
            status = 1 if result.failed else 0
        finally:
            sender.close()
    except BaseException as error:  # a helper never raises into its parent's code
        _log("%s: helper stopped: %s" % (os.path.basename(directory),
                                         scrub(str(error), headers.values())))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _serve(directory: str, headers: dict) -> bool:
    """Drain, linger for more, drain again; False when an export failed."""
    name, protocol, dest = describe(directory)
    if dest is None:
        _log("%s: no destination description; spans stay in the spool" % name)
        return False
    limit = spool_limit()
    enforce_limit(directory, limit, _log)
    helper_files = _split_backlog(directory)
    helper = _start_helper(directory, helper_files, dest, headers) if helper_files else None
    try:
        return _send_and_linger(directory, headers, name, protocol, dest, limit)
    finally:
        if helper is not None:
            _, status = os.waitpid(helper, 0)
            recover_helper_files(directory)
            if status != 0:
                _log("%s: the helper could not send everything; its spans stay in the spool"
                     % name)


def _send_and_linger(directory, headers, name, protocol, dest, limit) -> bool:
    try:
        sender = Sender(dest, headers, float(dest.get("timeout_s") or config.DEFAULT_TIMEOUT_S))
    except ExportFailed as error:
        _log("%s: %s" % (name, error))
        write_backoff(directory)
        return False
    try:
        while True:
            enforce_limit(directory, limit, _log)
            result = drain_locked(directory, sender, DrainResult(name, protocol), log=_log)
            if result.failed:
                return False
            idle_until = time.monotonic() + LINGER_S
            while time.monotonic() < idle_until and not spool.pending(directory):
                time.sleep(POLL_S)
            if not spool.pending(directory):
                return True
    finally:
        sender.close()


def exporter_main(args) -> int:
    """``traceexec _export DIRECTORY``: the detached exporter of one destination."""
    if len(args) != 1:
        raise UsageError("usage: traceexec _export SPOOL_DIRECTORY")
    directory = os.path.abspath(args[0])
    _trim_log()
    headers = _read_headers(sys.stdin)
    try:
        return _export(directory, headers)
    except Exception as error:  # detached: the log is the only place to say it
        _log("%s: stopped: %s: %s" % (os.path.basename(directory), type(error).__name__,
                                      scrub(str(error), headers.values())))
        return 1


def _export(directory: str, headers: dict) -> int:
    for _ in range(MAX_RESTARTS):
        lock = Lock(directory)
        if not lock.acquire():
            return 0
        try:
            recover_helper_files(directory)  # from a helper whose exporter was killed
            if not _serve(directory, headers):
                return 1
        finally:
            lock.release()
        # A wrapper that wrote a file just before we let go saw the lock held and
        # started no exporter: look once more after releasing it.
        if not spool.pending(directory) or spool.is_exporter_running(directory):
            return 0
    return 0
