"""Remote spans brought home over the same ssh connection.

    python -m traceexec.remote.homecoming [--settings] [--fetch[-after] AT HOST] ssh ...

With ``--settings``, ssh's stdin is ours after this host's collector settings
(``settings.block``), which the remote script reads first; the remote spans
then go to the collector, and no frame comes back.  With ``--fetch``, a later
connection brings the spans when this one was cut after the command started;
with ``--fetch-after`` (a terminal: stderr is no channel), always (``Fetch``).

Runs ssh with its stderr through this process: everything passes on to our
stderr at once, except the frame the remote script writes after the command
(``carrier.HOMECOMING_MARK`` + one OTLP/JSON line of the trace, at most
FRAME_LIMIT bytes).  Its spans under our span (TRACEPARENT here names the
``ssh HOST`` span) are delivered where this host's spans go: the local store,
or the collector.  Exit status and signals are ssh's.
"""

import os
import signal
import subprocess
import sys
import threading
import time

from .carrier import HOMECOMING_MARK, STARTED, fetch_line

FRAME_LIMIT = 16 * 1024 * 1024
"""The most bytes of remote spans taken in; a larger frame is dropped with one line."""
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class FrameFilter:
    """Splits a byte stream into what passes through and the one frame taken out."""

    def __init__(self, write):
        self.write = write
        self.held = b""        # bytes that may be the start of the mark
        self.frame = None      # the frame's bytes, while inside it
        self.frames = []
        self.too_big = False

    def feed(self, data: bytes) -> None:
        data = self.held + data
        self.held = b""
        while data:
            if self.frame is not None:
                end = data.find(b"\n")
                part = data if end < 0 else data[:end]
                if len(self.frame) + len(part) > FRAME_LIMIT:
                    self.too_big = True
                else:
                    self.frame += part
                if end < 0:
                    return
                if not self.too_big:
                    self.frames.append((bytes(self.frame), time.time_ns()))
                self.frame, data = None, data[end + 1:]
                continue
            at = data.find(HOMECOMING_MARK)
            if at >= 0:
                self.write(data[:at])
                self.frame, data = bytearray(), data[at + len(HOMECOMING_MARK):]
                continue
            keep = _partial_mark(data)
            self.write(data[:len(data) - keep])
            self.held = data[len(data) - keep:]
            return

    def close(self) -> None:
        if self.held:
            self.write(self.held)
            self.held = b""


def _partial_mark(data: bytes) -> int:
    """How many bytes at the end of ``data`` begin the mark."""
    for size in range(min(len(HOMECOMING_MARK) - 1, len(data)), 0, -1):
        if HOMECOMING_MARK.startswith(data[-size:]):
            return size
    return 0


def subtree(records: list, root_span_id: str) -> list:
    """The records that descend from ``root_span_id`` (earlier sessions' spans of the
    same trace in the remote store are not ours to bring)."""
    children = {}
    for record in records:
        children.setdefault(record["parent_span_id"], []).append(record)
    found, parents = [], [root_span_id]
    while parents:
        for record in children.pop(parents.pop(), []):
            found.append(record)
            parents.append(record["span_id"])
    return found


OFFSET = "traceexec.host.clock_offset_ms"
"""On each span brought home whose parent is ours: the remote clock minus ours, in
ms, measured when the frame arrived (the remote reading is earlier by the one-way
latency, so the true offset is this or up to that latency more).  Shown, never
used to move a span."""


def clock_offset_ms(frame: bytes, arrived_ns: int):
    """(offset in ms or None, the frame's JSON) of a frame ``NANOSECONDS JSON``."""
    clock, _, document = frame.partition(b" ")
    if not clock.isdigit():
        return None, frame if clock.startswith(b"{") else document
    return round((int(clock) - arrived_ns) / 1e6, 3), document


def bring_home(frames: list, environ, warn) -> int:
    """Deliver the spans of ``frames`` (each with the time it arrived) under our span;
    returns how many."""
    from ..store.receive import Refused, records_from_json
    from ..wrap import context
    from ..delivery import config
    from ..wrap.command import deliver
    ours = context.parse_traceparent(environ.get("TRACEPARENT"))
    if ours is None:
        return 0
    records = []
    for frame, arrived_ns in frames:
        offset, document = clock_offset_ms(frame, arrived_ns)
        if not document.strip():
            continue  # the remote store had none (its traceexec exports elsewhere)
        try:
            found = subtree(records_from_json(document), ours.span_id)
        except Refused as problem:
            warn("remote spans not brought home: %s" % problem)
            continue
        for record in found:
            if offset is not None and record["parent_span_id"] == ours.span_id:
                record["attributes"][OFFSET] = offset
        records += found
    records = [r for r in records if r["trace_id"] == ours.trace_id]
    if records:
        # the settings as the wrapper read them (it already said what it ignored)
        deliver(records, config.resolve({}, None, environ))
    return len(records)


def main(argv: list) -> int:
    def warn(message):
        os.write(2, ("traceexec: warning: %s\n" % message).encode())

    sending = argv[:1] == ["--settings"]
    if sending:
        from .settings import block, feed
        argv = argv[1:]
    fetch = None
    if argv[:1] in (["--fetch"], ["--fetch-after"]):  # a later connection may be needed
        fetch = Fetch(int(argv[1]), argv[2], always=argv[0] == "--fetch-after")
        argv = argv[3:]
    ssh = subprocess.Popen(argv, stderr=subprocess.PIPE,
                           stdin=subprocess.PIPE if sending else None)
    for number in FORWARDED:  # ours go to ssh; we end when ssh ends
        signal.signal(number, lambda signum, _frame: ssh.send_signal(signum))
    if sending:  # the settings, then our stdin: a thread, as ssh reads stdin at any time
        import threading
        threading.Thread(target=feed, args=(ssh.stdin, block(os.environ)), daemon=True).start()
    frames = FrameFilter(lambda data: _write_all(2, data))
    _pump(ssh.stderr.fileno(), frames)
    status = ssh.wait()
    found = frames.frames
    if fetch is not None and fetch.is_needed(found, status):
        found = fetch.run(argv, os.environ, warn)
    if frames.too_big:
        warn("remote spans not brought home: more than %d bytes" % FRAME_LIMIT)
    try:
        bring_home(found, os.environ, warn)
    except Exception as problem:  # telemetry never changes the outcome
        warn("remote spans not brought home: %s" % problem)
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    return status


def _pump(fd: int, frames: FrameFilter) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not data:
            break
        frames.feed(data)
    frames.close()


class Fetch:
    """The remote spans fetched on a later connection (``carrier.fetch_line``): after
    one with a terminal (``always``: its stderr was the terminal), or after one cut
    once the remote command had started.  ssh's options get ``-T -o BatchMode=yes``
    at ``at`` (before the destination): no terminal, no prompt."""

    TIMEOUT_S = 60
    """The most the later connection may take (its remote side looks for about 10 s)."""

    def __init__(self, at: int, destination: str, always: bool):
        self.at, self.destination, self.always = at, destination, always

    def is_needed(self, frames: list, status: int) -> bool:
        if self.always:
            return True
        started = any(frame == STARTED for frame, _ in frames)
        spans = [frame for frame, _ in frames if frame != STARTED]
        return started and not spans and status == 255

    def run(self, argv: list, environ, warn) -> list:
        """The frames of the later connection (one line said when there are none)."""
        at = self.at + 1  # after the client's name
        command = (argv[:at] + ["-T", "-o", "BatchMode=yes"] + argv[at:-1]
                   + [fetch_line(environ)])
        frames = FrameFilter(lambda data: None)
        try:
            later = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        except OSError:
            later = None
        if later is not None:
            timer = threading.Timer(self.TIMEOUT_S, later.kill)
            timer.start()
            try:
                _pump(later.stdout.fileno(), frames)
                status = later.wait()
            finally:
                timer.cancel()
        if later is None or status != 0 or not frames.frames:
            trace = (environ.get("TRACEPARENT") or "").split("-")
            warn("remote spans not brought home: kept on %s (traceexec show %s there)"
                 % (self.destination, trace[1] if len(trace) > 2 else "TRACE"))
        return frames.frames


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data):]
        except InterruptedError:
            continue
        except OSError:
            return  # our stderr is gone: ssh's output goes nowhere, as it would


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
