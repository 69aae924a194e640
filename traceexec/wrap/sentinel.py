"""Telling a signal sent to traceexec alone from one sent to its group: the sentinel.

A signal does not say whether it was sent to one process or to a group, so a
*sentinel* tells: a tiny process in traceexec's group that nobody names, with
every watched signal blocked.  A signal sent to the group (or to every process
one by one, as systemd and CI runners stop a job) stays pending in the
sentinel, where ``/proc`` shows it; a signal sent to traceexec alone does not.
Without a sentinel (it could not be started) a signal from a process is passed
on, as before.  ``Relay`` decides, for each signal taken, whether the command
must get it from us.

Not on the path of a short command (``traceexec -- true``): ``watch`` imports
this module when the command outlives ``watch.SENTINEL_AFTER`` or a signal
comes before.
"""

import os
import time

import _signal

from .procstat import process_start, stat_fields, status_masks
from .signals import WATCHED, mask_has

SI_USER = 0       # si_code of kill(2)
SI_KERNEL = 0x80  # si_code of a signal the kernel sent (terminal keys, resize)
GRACE = 0.05
"""How long to wait for a sender that signals processes one by one to reach the sentinel."""
GRACE_LONGEST = 10.0
"""How long the grace goes on while the sender is runnable but has not run: preempted
between its kill of us and its kill of the group (GNU timeout sends both), as on a loaded
machine, where a process can wait for a CPU for more than a second."""
SENDER_MOVED_ON = 0.05
"""CPU seconds the sender may use after its signal before it counts as gone on to other
work (its group's signal, if any, comes microseconds of CPU after the first)."""



class Sentinel:
    """A process in traceexec's group that nobody names: it keeps group signals pending,
    and it takes the command down if traceexec dies.

    It is a fork of traceexec that blocks every watched signal and waits on a
    pipe.  A byte asks it to take what is pending, so that the next signal can
    be told apart again; ``GOODBYE`` ends it.  EOF without the goodbye means
    traceexec died (SIGKILL, a crash): it SIGKILLs the command, through a pidfd
    opened before the fork (so never another process that took the pid), as the
    parent-death signal would have.  Where pidfds are refused (kernels before 5.3,
    some container profiles) it kills by pid, once the process there still has
    the command's start time.
    """

    GOODBYE = b"q"

    def __init__(self, command_pid: int = 0):
        self.pid = 0
        self._pipe = -1
        started = None
        try:
            command = os.pidfd_open(command_pid) if command_pid else -1
        except (OSError, AttributeError):
            command = -1
            started = process_start(command_pid)
        reader, writer = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (reader, writer, command):
                if fd >= 0:
                    os.close(fd)
            return
        if pid == 0:  # the sentinel: signals are already blocked (inherited mask)
            try:
                os.close(writer)
                for fd in (0, 1, 2):  # hold no one's pipe open
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                watched = set(WATCHED)
                while True:
                    byte = os.read(reader, 1)
                    if byte == self.GOODBYE:
                        break
                    if not byte:
                        if command >= 0:
                            _signal.pidfd_send_signal(command, _signal.SIGKILL)
                        elif started is not None and process_start(command_pid) == started:
                            os.kill(command_pid, _signal.SIGKILL)
                        break
                    while _signal.sigtimedwait(watched, 0) is not None:
                        pass
            finally:
                os._exit(0)
        os.close(reader)
        if command >= 0:
            os.close(command)
        self.pid, self._pipe = pid, writer

    def has_pending(self, number: int) -> bool:
        """True when ``number`` was sent to the sentinel too (to the group, or to everyone)."""
        if not self.pid:
            return False
        masks = status_masks(self.pid)
        return (mask_has(masks.get("ShdPnd", "0"), number)
                or mask_has(masks.get("SigPnd", "0"), number))

    def clear(self) -> None:
        if self._pipe >= 0:
            try:
                os.write(self._pipe, b"x")
            except OSError:
                pass

    def close(self) -> None:
        """Goodbye: the command ended (or traceexec ends normally), nothing to kill."""
        if self._pipe >= 0:
            try:
                os.write(self._pipe, self.GOODBYE)
            except OSError:
                pass
            os.close(self._pipe)
            self._pipe = -1
        if self.pid:
            try:
                os.kill(self.pid, _signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0


def cpu_ticks(pid: int):
    """The user and system CPU time ``pid`` has used, in clock ticks (``None``: no such
    process)."""
    fields = stat_fields(pid)
    try:
        return int(fields[11]) + int(fields[12])
    except (TypeError, IndexError, ValueError):
        return None


def sender_is_held(pid: int, ticks_then) -> bool:
    """True while ``pid`` is runnable (or in an uninterruptible wait) and has used less than
    SENDER_MOVED_ON of CPU since it had ``ticks_then``: a sender preempted between its two
    kills, not one asleep, gone, or busy with other work."""
    fields = stat_fields(pid)
    if not fields or fields[0] not in (b"R", b"D") or ticks_then is None:
        return False
    try:
        used = int(fields[11]) + int(fields[12]) - ticks_then
    except (IndexError, ValueError):
        return False
    return used < SENDER_MOVED_ON * os.sysconf("SC_CLK_TCK")


def _is_in_tree(pid: int, root: int) -> bool:
    """True when ``pid`` is ``root`` or one of its descendants."""
    for _ in range(64):
        if pid == root:
            return True
        if pid <= 1:
            return False
        masks = status_masks(pid)
        if not masks:
            return False
        pid = int(masks.get("PPid", "0") or 0)
    return False


class Relay:
    """Decides, for each signal traceexec takes, whether the command must get it from us.

    ``take`` is called with each siginfo; ``due`` returns the signals to pass
    on now (after the grace period), ``next_deadline`` when to look again.
    """

    def __init__(self, command_pid: int, sentinel):
        self.command_pid = command_pid
        self.sentinel = sentinel
        self.waiting = []  # (decide at, number, (sender pid, its CPU ticks) or 0, give up at)

    def take(self, info) -> None:
        number = info.si_signo
        if info.si_code == SI_KERNEL and self._shares_group():
            return  # from the terminal: the command, in our process group, has it too
        now = time.monotonic()
        if info.si_code < 0 or info.si_pid <= 0:  # sigqueue, tkill, timers: to us alone
            self.waiting.append((now, number, 0, now))
            return
        if info.si_pid == os.getpid() or _is_in_tree(info.si_pid, self.command_pid):
            return  # the command (or its children) signalled its own group or us
        if any(waiting[1] == number for waiting in self.waiting):
            return  # the same signal again before we decided: one event
        if self._has_sentinel():
            self.waiting.append((now + GRACE, number, (info.si_pid, cpu_ticks(info.si_pid)),
                                 now + GRACE_LONGEST))
        else:
            self.waiting.append((now, number, 0, now))

    def next_deadline(self):
        return min(waiting[0] for waiting in self.waiting) if self.waiting else None

    def due(self) -> list:
        now = time.monotonic()
        self.waiting = [  # a sender held between its two kills gets more time
            (max(at, now + 0.01), number, sender, longest)
            if at <= now and sender and now < longest and sender_is_held(*sender)
            else (at, number, sender, longest) for at, number, sender, longest in self.waiting]
        ready = [number for at, number, _, _ in self.waiting if at <= now]
        self.waiting = [waiting for waiting in self.waiting if waiting[0] > now]
        out = []
        for number in ready:
            if self._has_sentinel() and self.sentinel.has_pending(number) \
                    and self._shares_group():
                self.sentinel.clear()
                continue
            out.append(number)
        return out

    def _has_sentinel(self) -> bool:
        return self.sentinel is not None and self.sentinel.pid > 0

    def _shares_group(self) -> bool:
        try:
            return os.getpgid(self.command_pid) == os.getpgrp()
        except OSError:
            return False
