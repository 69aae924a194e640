"""Starting a command by fork and exec, for ``--tty`` (``tty``): the pseudo-terminal is
made the command's controlling terminal between the two, which ``posix_spawn`` cannot
do; and prctl(2) (the child's parent-death signal, this process a subreaper for
``--timeout``'s process tree).

Apart from ``supervise``, whose ``posix_spawn`` start a plain ``traceexec -- CMD``
takes: it does not load this.
"""

import os

import _signal

from . import signals
from .supervise import (ENOEXEC, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, child_dispositions,
                        script_command)

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

_libc_prctl = None


def _prctl():
    """libc's prctl(2), through _ctypes directly.

    The ``ctypes`` package costs about 2.4 ms to import, more than the rest of
    the wrapper's own start-up; the three definitions below cost 1 ms.
    """
    global _libc_prctl
    if _libc_prctl is None:
        import _ctypes

        class _Int(_ctypes._SimpleCData):
            _type_ = "i"

        class _Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = _Int

        class _Libc:
            _handle = _ctypes.dlopen(None, 0)

        _libc_prctl = _Function(("prctl", _Libc()))
    return _libc_prctl


def become_subreaper() -> None:
    """Orphaned descendants are reparented to this process, so a tree can be found whole."""
    try:
        _prctl()(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def spawn(path: str, argv, env, *, terminal: int, sigmask=None) -> int:
    """Fork and exec ``path`` on a pseudo-terminal (``--tty``); the child gets SIGKILL
    if this thread dies.

    ``terminal``: the slave side, which becomes the command's controlling terminal
    and standard streams (in a new session).  ``sigmask`` is the signal mask the
    command starts with (default: empty).
    """
    prctl = _prctl()
    parent = os.getpid()
    dispositions = child_dispositions()
    pid = os.fork()
    if pid:
        return pid
    # In the child: only async-signal-tolerant steps until exec.
    try:
        prctl(_PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(EXIT_CANNOT_EXECUTE)
        restore_for_child(dispositions)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, sigmask or ())
        os.setsid()
        import fcntl
        import termios
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)
        for target in (0, 1, 2):
            if terminal != target:
                os.dup2(terminal, target)
        try:
            os.execve(path, argv, env)
        except OSError as error:
            if error.errno != ENOEXEC:
                raise
            os.execve(*script_command(path, argv), env)
    except OSError as error:
        try:
            os.write(2, ("traceexec: %s: %s\n" % (argv[0], error.strerror)).encode())
        except OSError:
            pass
        os._exit(EXIT_NOT_FOUND if isinstance(error, FileNotFoundError) else EXIT_CANNOT_EXECUTE)
    except BaseException:
        os._exit(EXIT_CANNOT_EXECUTE)
    os._exit(EXIT_CANNOT_EXECUTE)


def restore_for_child(dispositions: dict) -> None:
    """In a forked child before exec: the dispositions the command should start with."""
    for number in signals.INHERITED:
        _signal.signal(number, _signal.SIG_IGN if dispositions.get(number) else _signal.SIG_DFL)
    for number in signals.FORWARDED + signals.STOPS:
        if _signal.getsignal(number) != _signal.SIG_IGN:
            _signal.signal(number, _signal.SIG_DFL)
