"""Process trees read from ``/proc``, for ``--timeout`` and a DAG step's stop.

Standard library only, so that a timeout acts in any Python that runs traceexec (a
checkout's ``bin/traceexec`` without the optional packages included). A process is
named by its pid and its start time, and signalled through a pidfd after checking
that start time, so a pid that another process took since it was read is never
signalled.
"""

import os

import _signal

from .procstat import process_start, stat_fields

_GONE = (b"Z", b"X", b"x")
"""States of processes that ended: zombies (waiting for their parent) and the dead."""


class Process:
    """One process, found by ``descendants``: ``pid`` and ``start`` (clock ticks after boot)."""

    __slots__ = ("pid", "start")

    def __init__(self, pid: int, start: str):
        self.pid = pid
        self.start = start

    def send_signal(self, number: int) -> bool:
        """Signal this process, never another that took its pid; True when sent."""
        try:
            fd = os.pidfd_open(self.pid)
        except AttributeError:
            fd = -1
        except OSError:  # gone, or pidfds refused here: by pid, once its start matches
            fd = -1
        try:
            if process_start(self.pid) != self.start:
                return False
            if fd >= 0:
                _signal.pidfd_send_signal(fd, number)
            else:
                os.kill(self.pid, number)
            return True
        except OSError:
            return False
        finally:
            if fd >= 0:
                os.close(fd)

    def kill(self) -> bool:
        return self.send_signal(_signal.SIGKILL)

    def __repr__(self):
        return "Process(%d)" % self.pid


def _table() -> dict:
    """pid -> (parent pid, start) of every live process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = stat_fields(int(name))
        if not fields or len(fields) < 20 or fields[0] in _GONE:
            continue
        table[int(name)] = (int(fields[1]), fields[19].decode())
    return table


def descendants(roots, *, include_roots=()) -> list:
    """The live descendants of ``roots`` (pids), with those of ``include_roots`` that live."""
    table = _table()
    children = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = {}, list(roots)
    for pid in include_roots:
        if pid in table:
            found[pid] = Process(pid, table[pid][1])
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found[child] = Process(child, table[child][1])
                stack.append(child)
    return list(found.values())
