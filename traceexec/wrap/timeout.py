"""``--timeout`` with the conventions of timeout(1): a first signal at expiry, KILL
``kill_after`` later, exit 124 (137 when KILL was needed).

The whole process tree is signalled: the command's descendants, read from
/proc (``proctree``), and the orphans they left, which come to traceexec because it is a
child subreaper.  After the KILL pass, whatever the tree still forks is
killed by further passes, for at most ``LAST_PASSES`` seconds; then traceexec
gives up waiting, so it never outlives ``timeout + kill_after`` by more.
"""

import os
import time

import _signal

from .. import errors
from .supervise import DEFAULT_KILL_AFTER, EXIT_TIMEOUT  # noqa: F401 (used by callers too)

LAST_PASSES = 1.0
"""For how long, after the KILL, traceexec goes on killing what the tree still forks."""
PASS_INTERVAL = 0.05
LONGEST = 2.0 ** 31
"""Durations are capped here (68 years), as timeout(1) caps what it cannot represent."""


def parse_timeout(text: str, option: str):
    """Seconds for ``--timeout``/``--kill-after`` as timeout(1) reads them; ``None`` = never.

    Units ``ms``, ``s``, ``m``, ``h``, ``d`` (a bare number is seconds); 0 and ``inf``
    disable; anything longer than 68 years is capped.

    >>> parse_timeout("1.5d", "--timeout"), parse_timeout("0", "--timeout")
    (129600.0, None)
    """
    from ..delivery import config
    raw = text.strip().lower()
    if raw in ("inf", "infinity"):
        return None
    if raw.endswith("d"):
        try:
            seconds = float(raw[:-1]) * 86400.0
        except ValueError:
            raise errors.UsageError("bad %s %r: use a number with ms, s, m, h or d, like 30s"
                             % (option, text)) from None
        if seconds != seconds or seconds < 0:
            raise errors.UsageError("bad %s %r: must be a number >= 0" % (option, text))
    else:
        seconds = config.parse_duration(raw, option)
    if seconds == 0 or seconds == float("inf"):
        return None
    return min(seconds, LONGEST)


def tree(pid: int, adopted: bool) -> list:
    """Live processes of ``pid``'s tree, and (``adopted``) every other child of ours."""
    from .proctree import descendants
    return descendants([pid] + ([os.getpid()] if adopted else []), include_roots=(pid,))


def signal_tree(pid: int, number: int, *, adopted=False) -> list:
    """Send ``number`` to ``pid`` and all its descendants; returns the processes signalled."""
    procs = tree(pid, adopted)
    for proc in procs:
        proc.send_signal(number)
    if not procs:
        try:
            os.kill(pid, number)
        except OSError:
            pass
    return procs


def reap_adopted() -> None:
    """Collect the exit status of orphans we adopted (only once the command is reaped)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Timeout:
    """The timeout of one running command; ``act`` at each ``next_at``."""

    def __init__(self, pid: int, seconds: float, *, kill_after=DEFAULT_KILL_AFTER,
                 number=_signal.SIGTERM, foreground=False, sentinel_pid=0):
        self.pid = pid
        self.seconds = seconds
        self.kill_after = kill_after
        self.number = number
        self.foreground = foreground   # timeout(1) --foreground: only the command itself
        self.sentinel_pid = sentinel_pid
        self.timed_out = False
        self.killed = False            # the KILL pass was needed
        self.next_at = time.monotonic() + min(seconds, LONGEST)
        self._give_up_at = None

    def _send(self, number: int) -> None:
        if self.foreground:
            try:
                os.kill(self.pid, number)
            except OSError:
                pass
            return
        for proc in tree(self.pid, adopted=True):
            if proc.pid != self.sentinel_pid:
                proc.send_signal(number)

    def act(self, now: float) -> None:
        """Do what is due at ``now``: the first signal, the KILL, or another KILL pass."""
        if not self.timed_out:
            self.timed_out = True
            self._send(self.number)
            if self.number != _signal.SIGCONT:
                self._send(_signal.SIGCONT)  # a stopped tree could not act on it
            self.next_at = now + min(self.kill_after, LONGEST) if self.kill_after else None
            return
        if self._give_up_at is None:
            self.killed = True
            self._give_up_at = now + LAST_PASSES
        self._send(_signal.SIGKILL)
        self.next_at = now + PASS_INTERVAL if now < self._give_up_at else None

    def finish(self) -> None:
        """After the command ended: let the rest of the tree end, kill it when due, reap it."""
        if not self.timed_out or self.foreground:
            return
        while True:
            reap_adopted()
            left = [p for p in tree(self.pid, adopted=True) if p.pid != self.sentinel_pid]
            now = time.monotonic()
            if not left or self.next_at is None:
                break
            if now >= self.next_at:
                self.act(now)
            else:
                time.sleep(min(PASS_INTERVAL, self.next_at - now))
        reap_adopted()
