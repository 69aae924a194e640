"""Draining a destination's spool: what ``traceexec flush`` and the exporter do.

Spool bodies are sent as they are: a batch is their concatenation.  A file
is deleted only after the collector accepted its spans (a crash means
re-delivery, never loss); when sending stops part-way, the sent part is
marked in place (``marks.mark_done``), so no file is ever rewritten and no
temporary file is made.  Bytes that hold no readable frame are copied to
``quarantine/`` and counted.  A request the collector refuses for its
content is split in halves until the span at fault is alone; if the
collector then takes an empty request but not that span, the span goes to
``dead/`` with the reason and everything behind it is delivered.  Only a
refusal of the content does that: a busy or unreachable collector keeps the
spans in the spool.  A retryable failure (the OTLP specification's list) is
retried after an exponential backoff with jitter, or after the collector's
``Retry-After``/``RetryInfo``, within a retry budget; then, or on any other
failure, the drain leaves a ``backoff`` mark (at least as long as the
collector asked) and a line in the log.  Header values come
from the caller and never reach a log line, a file or an error message.
"""
import marshal
import os
import time

from . import frames, health, limit, marks, spool
from ..errors import printable
from ..files import append_log, ensure_dir
from .sender import ACCEPTED, KEPT, ExportFailed, Sender

BATCH_SPANS = 4096
"""Spans per export request at most."""
BATCH_BYTES = 3 * 1024 * 1024
"""Request bytes at most: under the 4 MiB message limit that gRPC servers default to."""
DEAD = "dead"
QUARANTINE = "quarantine"
RETRY_FIRST_S = 1.0
"""The first retry of a retryable failure waits about this long, doubling each time."""
RETRY_MAX_S = 30.0
RETRY_BUDGET_S = 30.0
"""Seconds a drain spends waiting to retry, at most (the exporter's; flush gives its own)."""


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
        self.retries = 0
        self.proxy = ""

    def as_dict(self) -> dict:
        return {"destination": self.destination, "protocol": self.protocol,
                "sent": self.sent, "left": self.left, "dropped": self.dropped,
                "dead_letters": self.dead_total, "set_aside_now": self.dead,
                "quarantined_bytes": self.quarantined,
                "rejected_by_collector": self.rejected,
                "error": self.failed, "missing_headers": self.missing_headers,
                "retries": self.retries, "proxy": self.proxy or None}

    def summary(self) -> str:
        where = self.destination + (" (%s)" % self.protocol if self.protocol else "")
        if self.proxy:
            where += " via proxy " + self.proxy
        text = "%s: sent %d, left %d" % (where, self.sent, self.left)
        if self.dropped:
            text += ", dropped %d (spool over its limit)" % self.dropped
        if self.dead:
            text += ", set aside %d (refused by the collector, see %s/)" % (self.dead, DEAD)
        if self.quarantined:
            text += ", quarantined %d unreadable bytes (see %s/)" % (self.quarantined, QUARANTINE)
        if self.rejected:
            text += ", rejected %d (partial success)" % self.rejected
        if self.retries:
            text += ", retried %d times" % self.retries
        if self.failed:
            text += ": " + self.failed
        return text


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
        marks.mark_done(self.path, end, len(self.found) - self.done_count)


class Drainer:
    """Sends what waits in one destination directory (the caller holds its lock)."""

    def __init__(self, directory, sender, result, *, log=None, progress=None,
                 retry_budget_s=RETRY_BUDGET_S, sleep=None):
        self.directory = directory
        self.sender = sender
        self.result = result
        self.log = log or (lambda message: None)
        self.progress = progress
        self._probed = False
        self.retry_budget_s = retry_budget_s
        self.sleep = sleep or time.sleep
        self.last = None   # the Outcome of the request that failed last
        self._first_failure = None
        result.proxy = getattr(getattr(sender, "proxy", None), "name", "")

    def run(self) -> DrainResult:
        """Send until the spool is empty or a request fails (then: a backoff mark, a log line)."""
        result = self.result
        while result.failed is None:
            paths = spool.pending(self.directory)
            if not paths:
                health.clear(self.directory)
                marks.clear_backoff(self.directory)
                marks.unlink(os.path.join(self.directory, spool.FULL))
                break
            self._send(paths)
            if result.failed is not None and self._wait_to_retry():
                result.failed = None
        if result.failed is not None:
            result.left = limit.count_spans(spool.pending(self.directory))
            asked = self.last.retry_after if self.last is not None else None
            delay = marks.write_backoff(self.directory, at_least=asked)
            health.note(self.directory, result.failed)
            self.log("export to %s failed, %d spans kept, next try in %.0fs or "
                     "'traceexec flush': %s" % (result.destination, result.left, delay,
                                                result.failed))
        return result

    def _wait_to_retry(self) -> bool:
        """After a retryable failure from a collector that was reached (busy, or it broke
        the exchange), wait (backoff with jitter, or what the collector asked) and say
        True, unless the retry budget (time since the first failure) is spent.  A
        collector that cannot be reached or stays silent is tried again by the next
        exporter, after the spool's backoff mark, rather than by one that lingers."""
        outcome = self.last
        if outcome is None or not outcome.retryable or not outcome.answered:
            return False
        import random
        delay = min(RETRY_FIRST_S * 2 ** self.result.retries, RETRY_MAX_S)
        delay *= random.uniform(0.5, 1.0)  # jitter: exporters that failed together part
        if outcome.retry_after is not None:
            delay = outcome.retry_after
        if self._first_failure is None:
            self._first_failure = time.monotonic()
        if time.monotonic() - self._first_failure + delay > self.retry_budget_s:
            return False
        self.result.retries += 1
        self.log("%s: %s; retry %d in %.1fs" % (self.result.destination, outcome.reason,
                                                 self.result.retries, delay))
        self.sleep(delay)
        self.last = None
        return True

    def _batches(self, paths):
        """(bodies, [(file, index of its last frame in the batch)]) across files, in order."""
        bodies, touched, size = [], [], 0
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
                    yield bodies, touched
                    bodies, touched, size = [], [], 0
                bodies.append(body)
                size += len(body)
                if touched and touched[-1][0] is item:
                    touched[-1] = (item, index)
                else:
                    touched.append((item, index))
        if bodies:
            yield bodies, touched

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
            (bodies, touched), waiting = flight.pop(0)
            failure = self._settle(bodies, waiting())
            if failure is not None:
                for _, later in flight:
                    later()  # let them finish; what they delivered is sent again later
                self.result.failed = failure
                opened = {id(item): item for (_, later), _ in flight
                          for item, _ in later}
                opened.update((id(item), item) for item, _ in touched)
                for item in opened.values():
                    item.keep(self)
                return
            for item, last in touched:
                item.done_count = last + 1
                if item.done_count == len(item.found):
                    self._finish(item)
                else:
                    marks.mark_skip(item.path, item.found[last][0])  # a kill re-sends one window
            if self.progress is not None:
                self.progress(self.result)

    def _finish(self, item) -> None:
        self._quarantine(item.path, item.bad)
        marks.unlink(item.path)

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
            self.last = outcome
            return outcome.reason
        if len(bodies) > 1:
            half = len(bodies) // 2
            return self._deliver(bodies[:half]) or self._deliver(bodies[half:])
        if not self._collector_takes_something():
            self.last = outcome
            return outcome.reason  # the collector refuses everything: keep, back off
        self._set_aside(bodies[0], outcome.reason)
        return None

    def _collector_takes_something(self) -> bool:
        """Whether the collector accepts an empty request (asked once per drain)."""
        if not self._probed:
            self._probed = self.sender.send([]).kind == ACCEPTED
        return self._probed

    def _set_aside(self, body: bytes, reason: str) -> None:
        from .otlpexchange import describe
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
    result.left = limit.count_spans(spool.pending(directory))
    return result


def drain(directory: str, headers: dict, timeout_s: float, *, dest=None, log=None,
          bound=None, progress=None, lock_wait_s=None, retry_dead=False,
          retry_budget_s=None) -> DrainResult:
    """Deliver everything waiting in one spool directory, synchronously.

    Waits for the destination's lock (another exporter at work) at most
    ``lock_wait_s`` (default ``timeout_s``), then sends until the spool is
    empty; ``timeout_s`` bounds each request, and the waits to retry a retryable
    failure (``retry_budget_s``, default ``timeout_s``).  ``dest`` overrides the stored
    description (e.g. a fixed certificate); ``headers`` supplies the values.
    """
    name, protocol, stored = describe(directory)
    result = DrainResult(name, protocol)
    bound = limit.spool_limit() if bound is None else bound
    lock = marks.Lock(directory)
    try:
        if not lock.acquire(timeout_s if lock_wait_s is None else lock_wait_s):
            return _give_up(result, directory,
                            "another exporter is still sending to this destination")
        cleanup(directory)
        if retry_dead:
            retry_dead_letters(directory)
        result.dropped = limit.enforce_limit(directory, bound, log)
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
            budget = timeout_s if retry_budget_s is None else retry_budget_s
            return Drainer(directory, sender, result, log=log, progress=progress,
                           retry_budget_s=budget).run()
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
                marks.unlink(path)
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
