"""Starting a step's process without fork, and keeping it from outliving the driver.

The scheduler is one thread waiting on all its children, so a step is started
with ``posix_spawn`` (glibc uses ``clone(CLONE_VM|CLONE_VFORK)``: the cost does
not grow with the driver's memory or its number of steps), in a session of its
own, and waited for through a pidfd.  The wrapper's way of tying a child to its
parent, the parent-death signal, needs code run in the child between fork and
exec, which ``posix_spawn`` cannot do; the ``Watchdog`` gives the same
guarantee another way: a tiny process that holds a pipe from the driver and
SIGKILLs every running step's session when the pipe closes without a goodbye
(the driver was killed).

    child = spawn(["make", "all"], env, cwd="/src", stdin=0, stdout=w1, stderr=w2)
    child.pidfd   # readable when it has ended; then ``reap(child)``

Exit statuses are the wrapper's: 126 not executable, 127 not found (no process
is started), 128+N when killed by signal N; a file without ``#!`` runs through
``/bin/sh``, as execvp does.
"""
from __future__ import annotations

import errno
import os
import sys
import time

from ..wrap.signals import INHERITED
from ..wrap.supervise import CommandProblem, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, \
    outcome_from_wait, problem_outcome, resolve_command, script_command

_home_fd = None


def _invocation_dir() -> int:
    """A descriptor of the driver's own directory, to come back to after each spawn."""
    global _home_fd
    if _home_fd is None:
        _home_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return _home_fd


class Spawned:
    """One process started for a step (or why it could not be)."""

    __slots__ = ("pid", "pidfd", "path", "argv", "start_ns", "problem")

    def __init__(self, argv, start_ns):
        self.pid = 0
        self.pidfd = None
        self.path = None
        self.argv = argv
        self.start_ns = start_ns
        self.problem = None


def spawn(argv, env, *, cwd, stdin, stdout, stderr) -> Spawned:
    """Start ``argv`` in ``cwd`` in a new session; never raises for the command's sake.

    The driver is single-threaded, so changing its directory around the spawn is
    safe: the child starts where it should, and relative paths (``./run.sh``, a
    ``.`` in PATH) are found as the child would find them.
    """
    child = Spawned(list(argv), time.time_ns())
    try:
        os.chdir(cwd)
    except OSError as error:
        child.problem = CommandProblem("cannot enter %s: %s" % (cwd, error.strerror),
                                       EXIT_CANNOT_EXECUTE, "working_directory")
        return child
    try:
        child.path = resolve_command(child.argv[0], env)
        actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1),
                   (os.POSIX_SPAWN_DUP2, stderr, 2)]
        child.start_ns = time.time_ns()
        try:
            child.pid = _posix_spawn(child.path, child.argv, env, actions)
        except OSError as error:
            if error.errno != errno.ENOEXEC:
                raise
            # Not a binary and no "#!": the shell reads it, as execvp does.
            child.pid = _posix_spawn(*script_command(child.path, child.argv), env, actions)
    except CommandProblem as problem:
        child.problem = problem
    except OSError as error:
        missing = error.errno in (errno.ENOENT, errno.ENOTDIR)
        child.problem = CommandProblem(
            "%s: %s" % (child.argv[0], error.strerror),
            EXIT_NOT_FOUND if missing else EXIT_CANNOT_EXECUTE,
            "command_not_found" if missing else "command_not_executable")
    finally:
        os.fchdir(_invocation_dir())
    if child.pid:
        try:
            child.pidfd = os.pidfd_open(child.pid)
        except (OSError, AttributeError):
            child.pidfd = None  # an old kernel: the scheduler polls instead
    return child


def _posix_spawn(path, argv, env, actions) -> int:
    return os.posix_spawn(path, argv, env, file_actions=actions, setsid=True,
                          setsigdef=INHERITED, setsigmask=())  # Python ignores them


def reap(child: Spawned, *, block=True, timed_out=False, timeout=None):
    """The child's ``supervise.Outcome`` once it has ended; ``None`` if it has not yet."""
    if child.problem is not None:
        return problem_outcome(child.problem, child.start_ns)
    pid, status, rusage = os.wait4(child.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    if child.pidfd is not None:
        os.close(child.pidfd)
        child.pidfd = None
    outcome = outcome_from_wait(child.pid, status, rusage, timed_out=timed_out,
                                start_ns=child.start_ns, end_ns=time.time_ns(),
                                timeout=timeout)
    outcome.path = child.path
    return outcome


def signal_session(pid: int, number: int) -> list:
    """Send ``number`` to the step's session and to descendants that left it.

    Returns the psutil processes found outside the session (to SIGKILL later).
    """
    try:
        os.killpg(pid, number)
    except OSError:
        pass
    from ..wrap.timeout import signal_tree
    return signal_tree(pid, number)


def kill_processes(procs) -> None:
    """SIGKILL what is left of ``procs`` (psutil processes); never waits."""
    for proc in procs:
        try:
            proc.kill()
        except Exception:
            pass


class Watchdog:
    """A small process that kills the driver's running steps if the driver dies.

    ``started(pid)``/``ended(pid)`` tell it which step sessions are alive;
    ``close()`` says goodbye.  If its pipe closes without the goodbye (the driver
    was SIGKILLed), it SIGKILLs every session still registered.  It lives in a
    session of its own and ignores terminal signals, so a Ctrl-C meant for the
    run does not take the guarantee away.
    """

    PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "watchdog.py")

    def __init__(self):
        self.pid = None
        self._fd = None

    def _start(self):
        read_end, write_end = os.pipe()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            self.pid = os.posix_spawn(
                sys.executable, [sys.executable, "-I", "-S", self.PROGRAM], {},
                file_actions=[(os.POSIX_SPAWN_DUP2, read_end, 0),
                              (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)],
                setsid=True, setsigmask=())
            self._fd = write_end
        except OSError:
            os.close(write_end)
        finally:
            os.close(read_end)
            os.close(null)

    def _say(self, text):
        if self._fd is None and self.pid is None:
            self._start()
        if self._fd is None:
            return
        try:
            os.write(self._fd, text.encode())
        except OSError:
            os.close(self._fd)
            self._fd = None

    def started(self, pid: int):
        self._say("+%d\n" % pid)

    def ended(self, pid: int):
        if self._fd is not None:
            self._say("-%d\n" % pid)

    def close(self):
        """Goodbye: the driver ends normally; the watchdog exits without killing."""
        if self._fd is not None:
            self._say("end\n")
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        if self.pid:
            try:
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None
