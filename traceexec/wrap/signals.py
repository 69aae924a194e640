"""Signals between the caller, traceexec and the command: which to pass on, and when.

The command stays in traceexec's process group, so that a terminal's keys, its
job control and a kill of the whole group reach it exactly as they would reach
it run bare.  traceexec then has to pass on only what was sent to traceexec
alone.  A signal does not say whether it was sent to one process or to a
group, so a *sentinel* tells: a tiny process in the same group that nobody
names, with every watched signal blocked.  A signal sent to the group (or to
every process one by one, as systemd and CI runners stop a job) stays
pending in the sentinel, where ``/proc`` shows it; a signal sent to
traceexec alone does not.  Without a sentinel (it could not be started) a
signal from a process is passed on, as before.

Also here: the dispositions the command inherits (the interpreter ignores
SIGPIPE and SIGXFSZ for itself; the command gets what traceexec's caller gave).
"""

import os
import time

import _signal

FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT,
             _signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGWINCH)
"""Signals that traceexec passes on to the command."""
STOPS = (_signal.SIGTSTP, _signal.SIGTTIN, _signal.SIGTTOU)
"""Stop signals: passed on like FORWARDED; the command's stop then stops traceexec."""
WATCHED = FORWARDED + STOPS + (_signal.SIGCONT, _signal.SIGCHLD)
"""Signals blocked in traceexec and taken with sigtimedwait while the command runs."""
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

SIGNAL_NAMES = {getattr(_signal, n): n for n in dir(_signal)
                if n.startswith("SIG") and not n.startswith("SIG_")
                and n not in ("SIGRTMIN", "SIGRTMAX", "SIGIOT", "SIGCLD", "SIGPOLL")}
INHERITED = (_signal.SIGPIPE, _signal.SIGXFSZ)
"""Signals the Python interpreter ignores at start-up whatever it inherited."""
FAITHFUL_PARENTS = frozenset((
    "sh", "dash", "bash", "zsh", "ksh", "ksh93", "mksh", "ash", "busybox", "yash", "posh",
    "make", "gmake", "env", "timeout", "nice", "nohup", "setsid", "xargs", "time", "stdbuf",
    "flock", "chrt", "ionice", "taskset", "sudo", "su", "runuser", "tini", "dumb-init"))
"""Programs whose own ignored signals are what their children inherit (they do not
ignore SIGPIPE for themselves and reset it for children, as Python, Node and Rust do)."""


def signal_name(number: int) -> str:
    return SIGNAL_NAMES.get(number, "SIG%d" % number)


def signal_number(text: str) -> int:
    """A signal from ``TERM``, ``SIGTERM``, ``term`` or ``15`` (as timeout(1) -s takes it)."""
    name = text.strip().upper()
    if name.isdigit():
        number = int(name)
        if 0 < number < 65:
            return number
        raise ValueError(text)
    if not name.startswith("SIG"):
        name = "SIG" + name
    for number, known in SIGNAL_NAMES.items():
        if known == name:
            return number
    raise ValueError(text)


def _status_masks(pid: int) -> dict:
    """The ``SigPnd``/``ShdPnd``/``SigIgn``... masks of ``pid`` from /proc, its Name and State."""
    try:
        fd = os.open("/proc/%d/status" % pid, os.O_RDONLY)
        try:
            text = os.read(fd, 4096).decode("ascii", "replace")
        finally:
            os.close(fd)
    except OSError:
        return {}
    masks = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key.startswith("Sig") or key.startswith("Shd") or key in ("PPid", "Name", "State"):
            masks[key] = value
    return masks


def _has(mask_hex: str, number: int) -> bool:
    try:
        return bool(int(mask_hex, 16) >> (number - 1) & 1)
    except ValueError:
        return False


def _is_traceexec(pid: int) -> bool:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            words = handle.read(4096).split(b"\0")[:4]
    except OSError:
        return False
    return any(w.rsplit(b"/", 1)[-1] == b"traceexec" for w in words)


def inherited_dispositions() -> dict:
    """{signal: ignored?} for SIGPIPE and SIGXFSZ as traceexec's caller handed them on.

    CPython sets both to SIG_IGN before any Python code runs, so the caller's
    choice is read from the nearest ancestor that hands its own on unchanged
    (a shell, make, env, timeout...; other traceexec processes are skipped).
    Anything else (a Python, Node or Rust program, which reset them for their
    children) means the default.
    """
    pid = os.getppid()
    for _ in range(8):
        if pid <= 0:
            break
        try:
            name = os.path.basename(os.readlink("/proc/%d/exe" % pid))
        except OSError:
            break
        if name in FAITHFUL_PARENTS:
            ignored = _status_masks(pid).get("SigIgn", "0")
            return {number: _has(ignored, number) for number in INHERITED}
        if not name.startswith("python") or not _is_traceexec(pid):
            break
        pid = int(_status_masks(pid).get("PPid", "0") or 0)
    return {number: False for number in INHERITED}


def restore_for_child(dispositions: dict) -> None:
    """In a forked child before exec: the dispositions the command should start with."""
    for number in INHERITED:
        _signal.signal(number, _signal.SIG_IGN if dispositions.get(number) else _signal.SIG_DFL)
    for number in FORWARDED + STOPS:
        if _signal.getsignal(number) != _signal.SIG_IGN:
            _signal.signal(number, _signal.SIG_DFL)


def stat_fields(pid: int):
    """The fields of ``/proc/PID/stat`` after the command name (the state first);
    ``None`` when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            return handle.read().rpartition(b")")[2].split()
    except OSError:
        return None


def process_start(pid: int):
    """When ``pid`` started, in clock ticks after boot: with the pid, it names one process
    for good.  ``None`` when there is no such process."""
    fields = stat_fields(pid) if pid else None
    return fields[19].decode() if fields and len(fields) > 19 else None


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
        masks = _status_masks(self.pid)
        return _has(masks.get("ShdPnd", "0"), number) or _has(masks.get("SigPnd", "0"), number)

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
        masks = _status_masks(pid)
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
