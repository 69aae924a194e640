"""Signals between the caller, traceexec and the command: which to watch and pass on,
their names, and the dispositions the command inherits.

The command stays in traceexec's process group, so that a terminal's keys, its
job control and a kill of the whole group reach it exactly as they would reach
it run bare; traceexec then has to pass on only what was sent to traceexec
alone, which the signal sentinel tells (``sentinel``, imported only for a
command that outlives 10 ms or a signal that comes before).

The dispositions: the interpreter ignores SIGPIPE and SIGXFSZ for itself; the
command gets what traceexec's caller gave.
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
INHERITED = (_signal.SIGPIPE, _signal.SIGXFSZ)
"""Signals the Python interpreter ignores at start-up whatever it inherited."""
FAITHFUL_PARENTS = frozenset((
    "sh", "dash", "bash", "zsh", "ksh", "ksh93", "mksh", "ash", "busybox", "yash", "posh",
    "make", "gmake", "env", "timeout", "nice", "nohup", "setsid", "xargs", "time", "stdbuf",
    "flock", "chrt", "ionice", "taskset", "sudo", "su", "runuser", "tini", "dumb-init"))
"""Programs whose own ignored signals are what their children inherit (they do not
ignore SIGPIPE for themselves and reset it for children, as Python, Node and Rust do)."""


def _status_text(pid: int):
    """``/proc/PID/status``, or ``None`` when there is no such process."""
    try:
        fd = os.open("/proc/%d/status" % pid, os.O_RDONLY)
        try:
            return os.read(fd, 4096).decode("ascii", "replace")
        finally:
            os.close(fd)
    except OSError:
        return None


def status_field(pid: int, key: str):
    """One field of ``/proc/PID/status`` (``SigIgn``, ``PPid``), as ``status_masks`` has it;
    ``None`` when there is no such process or field.  Found, not parsed: the whole file
    costs 0.33 M instructions, which a wrapper started by a shell would pay."""
    text = _status_text(pid)
    at = -1 if text is None else ("\n" + text).find("\n%s:" % key)
    if at < 0:
        return None
    end = text.find("\n", at)
    return text[at + len(key) + 1:end if end >= 0 else len(text)].strip()


def mask_has(mask_hex: str, number: int) -> bool:
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
            ignored = status_field(pid, "SigIgn") or "0"
            return {number: mask_has(ignored, number) for number in INHERITED}
        if not name.startswith("python") or not _is_traceexec(pid):
            break
        pid = int(status_field(pid, "PPid") or 0)
    return {number: False for number in INHERITED}


def __getattr__(name: str):
    """The names of ``signal_names`` (``SIGNAL_NAMES``, ``signal_name``,
    ``signal_number``) and of ``procstat`` (``process_start``, ``stat_fields``,
    ``status_masks``), each module loaded on first use."""
    from .. import forwarded
    return forwarded(globals(), "signal_names" if name in _NAMING else "procstat", name)


_NAMING = frozenset(("SIGNAL_NAMES", "signal_name", "signal_number"))
