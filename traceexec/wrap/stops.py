"""Job-control stops of a watched command: whether the kernel would stop traceexec too,
stopping it as the command stopped, telling a job-control stop from a ptrace one.

Apart from ``watch``: loaded only for a command that stops or is continued.
"""

import os

import _signal

JOB_STOPS = (_signal.SIGSTOP, _signal.SIGTSTP, _signal.SIGTTIN, _signal.SIGTTOU)


def can_stop_by(number: int) -> bool:
    """Whether the kernel would stop us with ``number`` (TSTP/TTIN/TTOU are dropped
    in an orphaned process group: then only SIGSTOP stops)."""
    if number == _signal.SIGSTOP:
        return True
    try:
        parent = os.getppid()
        return (os.getpgid(parent) != os.getpgrp() and os.getsid(parent) == os.getsid(0))
    except OSError:
        return False


def stop_like(number: int) -> None:
    """Stop this process as the command stopped, so that a job-control shell sees it."""
    if not can_stop_by(number):
        number = _signal.SIGSTOP
    previous = _signal.signal(number, _signal.SIG_DFL) if number != _signal.SIGSTOP else None
    try:
        os.kill(os.getpid(), number)
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {number})
        _signal.pthread_sigmask(_signal.SIG_BLOCK, {number})
    finally:
        if previous is not None:
            _signal.signal(number, previous)


def is_stopped(pid: int) -> bool:
    from .procstat import stat_fields
    fields = stat_fields(pid)
    return bool(fields) and fields[0] in (b"T", b"t")


def is_ptrace_stop(pid: int, status: int) -> bool:
    """Whether a stop of ``pid`` that wait reported is none of job control's: a
    ptrace event (bits above the signal), a signal that stops nothing, or a stop
    while one of our threads has it under ptrace (``--lines`` turning xtrace off,
    lines/untrace.py)."""
    if status >> 16 or os.WSTOPSIG(status) not in JOB_STOPS:
        return True
    try:
        with open("/proc/%d/status" % pid, "rb") as handle:
            for line in handle:
                if line.startswith(b"TracerPid:"):
                    tracer = int(line.split()[1])
                    return tracer != 0 and os.path.exists("/proc/self/task/%d" % tracer)
    except (OSError, ValueError, IndexError):
        pass
    return False
