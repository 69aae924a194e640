"""Watching a started command from the main thread: signals, stops, the timeout.

``Watch.wait`` takes the blocked signals with ``sigtimedwait`` while the
command runs: what was sent to traceexec alone is passed on (``sentinel.Relay``
decides; made, and its module imported, for the first signal or sentinel), a
stop of the command stops traceexec the same way when a job-control shell (``stops``)
waits on it, a SIGCONT continues both, and the timeout (``timeout.Timeout``)
acts when due.
"""

import os
import time

import _signal

from . import signals
from .supervise import DEFAULT_KILL_AFTER

SENTINEL_AFTER = 0.01
"""A command still running this long after its start gets a signal sentinel (sentinel.py),
which also SIGKILLs it should traceexec die."""


class Watch:
    """A started command watched from the main thread: signals, stops, timeout."""

    def __init__(self, pid: int, *, timeout=None, kill_after=DEFAULT_KILL_AFTER,
                 timeout_signal=_signal.SIGTERM, foreground=False, on_running=None,
                 running_after=0.5):
        self.pid = pid
        # called once if the command is still running after ``running_after`` seconds
        self.on_running = on_running
        self.running_at = time.monotonic() + running_after if on_running else None
        self.sentinel = None
        # Started only for commands that outlive SENTINEL_AFTER: ``traceexec -- true``
        # does not pay the fork; a signal before then is passed on as before.
        self.sentinel_at = time.monotonic() + SENTINEL_AFTER
        self.relay = None  # sentinel.Relay, made when first needed (``_relay``)
        self.stop_requested = False  # a stop signal reached traceexec itself
        self.timer = None
        if timeout:
            from .timeout import Timeout
            self.timer = Timeout(pid, timeout, kill_after=kill_after, number=timeout_signal,
                                 foreground=foreground)

    def _relay(self):
        """The relay, made on first use: a short command imports no ``sentinel``."""
        if self.relay is None:
            from .sentinel import Relay
            self.relay = Relay(self.pid, self.sentinel)
        return self.relay

    def _start_sentinel(self) -> None:
        from .sentinel import Sentinel
        self.sentinel_at = None
        self.sentinel = Sentinel(self.pid)
        self._relay().sentinel = self.sentinel
        if self.timer is not None:
            self.timer.sentinel_pid = self.sentinel.pid

    def close(self) -> None:
        if self.sentinel is not None:
            self.sentinel.close()

    def wait(self):
        """Block until the command ends; returns ``(status, rusage)``."""
        forward = self._forward
        watched = set(signals.WATCHED)
        while True:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG | os.WUNTRACED)
            if pid == self.pid:
                if os.WIFSTOPPED(status):
                    from .stops import can_stop_by, is_ptrace_stop, is_stopped, stop_like
                    if is_ptrace_stop(pid, status):
                        continue
                    # Stop with it when a stop signal reached us too, or when a job-control
                    # shell waits on us (it must see the job stop); not when someone else
                    # paused the command alone, since nobody would continue us then.
                    if self.stop_requested or can_stop_by(_signal.SIGTSTP):
                        self.stop_requested = False
                        stop_like(os.WSTOPSIG(status))
                        if is_stopped(self.pid):  # SIGCONT reached us alone: resume both
                            forward(_signal.SIGCONT)
                    continue
                return status, rusage
            now = time.monotonic()
            if self.sentinel_at is not None and self.sentinel_at <= now:
                self._start_sentinel()
            if self.running_at is not None and self.running_at <= now:
                self.running_at = None
                self.on_running()
            relay = self.relay
            deadlines = [d for d in (self.timer and self.timer.next_at, self.sentinel_at,
                                     self.running_at, relay and relay.next_deadline())
                         if d is not None]
            if self.timer is not None and self.timer.next_at is not None \
                    and self.timer.next_at <= now:
                self.timer.act(now)
                continue
            for number in relay.due() if relay is not None else ():
                forward(number)
            wait_for = max(0.0, min(deadlines) - now) if deadlines else None
            info = (_signal.sigtimedwait(watched, wait_for) if wait_for is not None
                    else _signal.sigwaitinfo(watched))
            if info is None or info.si_signo == _signal.SIGCHLD:
                continue
            if info.si_signo == _signal.SIGCONT:
                from .stops import is_stopped
                if is_stopped(self.pid):
                    forward(_signal.SIGCONT)
                continue
            if info.si_signo in signals.STOPS:
                self.stop_requested = True
            self._relay().take(info)

    def _forward(self, number: int) -> None:
        try:
            os.kill(self.pid, number)
        except OSError:
            pass


