"""Starting a step's process without fork, and keeping it from outliving the driver.

The scheduler is one thread waiting on all its children, so a step is started
with ``posix_spawn`` (glibc uses ``clone(CLONE_VM|CLONE_VFORK)``: the cost does
not grow with the driver's memory), in a session of its own, and waited for
through a pidfd.  What would still grow with the number of running steps, the
kernel's copy of the driver's descriptor table, the ``Spawner`` thread avoids.

The parent-death signal, one way of tying a child to its parent, needs code
run in the child between fork and exec, which ``posix_spawn`` cannot do; the
``Watchdog`` gives the same guarantee another way: a tiny process that holds a
pipe from the driver and SIGKILLs every running step's session when the pipe
closes without a goodbye (the driver was killed).

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
from ..wrap.supervise import CommandProblem, EXIT_CANNOT_EXECUTE, command_candidates, \
    outcome_from_wait, posix_spawn_command, problem_outcome, resolve_command

_home_fd = None


def _invocation_dir() -> int:
    """A descriptor of the driver's own directory, to come back to after each spawn."""
    global _home_fd
    if _home_fd is None:
        _home_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return _home_fd


_pidfds = hasattr(os, "pidfd_open")
"""False once ``pidfd_open`` said ENOSYS (an old kernel, a seccomp filter, valgrind): the
answer will not change, and asking again costs an exception a step."""

_found = {}
"""(name, PATH, directory) -> (the path ``resolve_command`` found, the candidates before
it).  A graph starts the same few commands again and again; the search is a stat and two
access calls for the path found.  The path is kept only while no candidate before it
exists (one access each), and a start from it that fails (the file went away, lost its
x bit) searches again: what runs, or the problem told, is always the search's."""


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


SPAWN_THREAD_FROM = 128
"""Running steps from which new ones start from the ``Spawner`` thread (about 400
descriptors in the driver: there the thread's hand-over, about 40 us of CPU, costs
less than the kernel's copy of the driver's descriptor table)."""

_running = 0
_the_spawner = None


def _spawner():
    """The process's ``Spawner``, started on first use; ``None`` where it cannot run."""
    global _the_spawner
    if _the_spawner is None:
        _the_spawner = Spawner()
    return _the_spawner if _the_spawner.usable else None


class Spawner:
    """A thread with a descriptor table and a working directory of its own, from which
    steps start once the driver holds many descriptors.

    Starting a process copies its starter's descriptor table in the kernel (a
    reference taken on every open descriptor) and its exec closes the close-on-exec
    ones again: with 3,000 steps running, each holding two pipes and a pidfd, that
    doubled the cost of every start (0.55 ms from an empty table, 1.36 ms with
    9,000 open).  This thread unshares its table (``CLONE_FILES``) and directory
    (``CLONE_FS``) at birth, so the starts it makes copy a table of a few
    descriptors.  Each start hands it the child's stdin, stdout and stderr over a
    socket (``SCM_RIGHTS``) and waits for the answer; the thread closes its copies.
    Processes started by any thread are the driver's children (``wait4`` and
    pidfds work from the loop), and the thread blocks every signal, so handlers
    and the loop's wake-up descriptor stay with the main thread.

    Where ``unshare`` is refused (a seccomp filter), ``usable`` is false and steps
    start from the loop as before.
    """

    def __init__(self):
        import socket
        import threading
        self._socket = socket
        ours, theirs = socket.socketpair()
        self._ours, self._theirs_fd = ours, theirs.detach()
        ours.settimeout(1.0)
        self._jobs = {}     # sequence byte -> (child, env, cwd), then the error or None
        self._sequence = 0
        _invocation_dir()  # in both tables: the thread comes back to it after each start
        self._thread = threading.Thread(target=self._serve, name="traceexec-spawner",
                                        daemon=True)
        self._thread.start()
        answer = self._wait_answer()
        self.usable = answer == b"1"
        if answer != b"0":  # "1": the thread has its own copy now; "": it died before
            os.close(self._theirs_fd)  # so that its end closes when the thread does
        if not self.usable:
            self._ours.close()

    def _wait_answer(self) -> bytes:
        """The thread's next byte; ``b""`` once it is gone (EOF, or dead before it spoke)."""
        while True:
            try:
                return self._ours.recv(1)
            except TimeoutError:  # our end has a 1 s timeout: a long wait looks again
                if not self._thread.is_alive():
                    return b""

    def start(self, child, env, cwd, fds) -> None:
        """``_start(child, env, cwd, *fds)`` in the thread; returns once it is done."""
        self._sequence = self._sequence % 255 + 1
        tag = bytes((self._sequence,))
        self._jobs[tag] = (child, env, cwd)
        try:
            self._socket.send_fds(self._ours, [tag], list(fds))
            answer = self._wait_answer()
            while answer and answer != tag:  # left by a start that was interrupted
                answer = self._wait_answer()
        except OSError:  # its end is closed: the thread is gone
            answer = b""
        outcome = self._jobs.pop(tag, None)
        if not answer:  # the thread is gone (it never should): start from here
            self.usable = False
            if not child.pid and child.problem is None:
                _start(child, env, cwd, *fds)
        elif isinstance(outcome, BaseException):
            raise outcome

    def _serve(self):
        sock = None
        try:
            import signal
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            try:
                _unshare(0x400 | 0x200)  # CLONE_FILES | CLONE_FS
            except OSError:
                os.write(self._theirs_fd, b"0")
                os.close(self._theirs_fd)  # the one copy: the table is still shared
                return
            # Our own copy of the socket's end, in our own table (the driver closes its one)
            sock = self._socket.socket(fileno=self._theirs_fd)
            _close_private_copies((self._theirs_fd, _invocation_dir()))
            sock.send(b"1")
            while self._serve_one(sock):
                pass
        except Exception:  # never a traceback: the driver starts steps itself from now on
            pass
        finally:
            if sock is not None:
                sock.close()

    def _serve_one(self, sock) -> bool:
        space = self._socket.CMSG_SPACE(3 * 4)
        # close-on-exec from the start: the child gets them as 0, 1 and 2 only
        tag, ancillary, _, _ = sock.recvmsg(1, space, self._socket.MSG_CMSG_CLOEXEC)
        if not tag:
            return False
        fds = []
        for level, kind, data in ancillary:
            if level == self._socket.SOL_SOCKET and kind == self._socket.SCM_RIGHTS:
                fds.extend(int.from_bytes(data[i:i + 4], sys.byteorder)
                           for i in range(0, len(data) - len(data) % 4, 4))
        try:
            _start(*self._jobs[tag], *fds)
            self._jobs[tag] = None
        except BaseException as error:  # given to the caller, in the main thread
            self._jobs[tag] = error
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(tag)
        return True


def _close_private_copies(keep) -> None:
    """In the spawner, just unshared: close the copies of the driver's close-on-exec
    descriptors (the pipes of the step being started among them, which would never
    reach their end otherwise), except ``keep``.  Inheritable ones stay, so a step
    inherits the same descriptors from either thread."""
    try:
        names = os.listdir("/proc/thread-self/fd")
    except OSError:
        names = [str(fd) for fd in range(3, os.sysconf("SC_OPEN_MAX"))]  # no /proc
    for name in names:
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                if not os.get_inheritable(fd):
                    os.close(fd)
            except OSError:
                pass


def _unshare(flags: int) -> None:
    if hasattr(os, "unshare"):  # Python 3.12
        os.unshare(flags)
        return
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


def spawn(argv, env, *, cwd, stdin, stdout, stderr) -> Spawned:
    """Start ``argv`` in ``cwd`` in a new session; never raises for the command's sake.

    Relative paths (``./run.sh``, a ``.`` in PATH) are found from ``cwd``, as the
    child would find them.  Once many steps run at once, the start happens in the
    ``Spawner`` thread (see there); the process is the driver's child either way.
    """
    global _running, _pidfds
    child = Spawned(list(argv), 0)  # start_ns: set by _start, just before the process
    spawner = _spawner() if _running >= SPAWN_THREAD_FROM else None
    if spawner is not None:
        spawner.start(child, env, cwd, (stdin, stdout, stderr))
    else:
        _start(child, env, cwd, stdin, stdout, stderr)
    if child.pid:
        _running += 1
        if _pidfds:
            try:
                child.pidfd = os.pidfd_open(child.pid)
            except OSError as error:  # None: the scheduler waits by SIGCHLD instead
                if error.errno == errno.ENOSYS:
                    _pidfds = False
    return child


def _start(child, env, cwd, stdin, stdout, stderr) -> None:
    """``posix_spawn`` from ``cwd``: the calling thread's directory is changed for the
    call and restored (the driver's loop is one thread; the spawner has its own)."""
    home = _invocation_dir()  # before the first chdir: it names the directory we are in
    # Entered by name at every start, the driver's own directory too: one replaced or
    # removed meanwhile is the new one, or "cannot enter", as a chdir in Dagu's child has it
    try:
        os.chdir(cwd)
    except OSError as error:
        child.start_ns = time.time_ns()
        child.problem = CommandProblem("cannot enter %s: %s" % (cwd, error.strerror),
                                       EXIT_CANNOT_EXECUTE, "working_directory")
        return
    try:
        actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1),
                   (os.POSIX_SPAWN_DUP2, stderr, 2)]
        key = (child.argv[0], env.get("PATH"), cwd)
        known = _found.get(key)
        if known is not None and not (known[1] and _any_exists(known[1])):
            child.path = known[0]
            child.start_ns = time.time_ns()
            try:
                child.pid = _posix_spawn(child.path, child.argv, env, actions)
                return
            except CommandProblem:  # changed since it was found: as if never found
                del _found[key]
        child.start_ns = time.time_ns()
        child.path = _resolve(key, env)
        child.start_ns = time.time_ns()
        child.pid = _posix_spawn(child.path, child.argv, env, actions)
    except CommandProblem as problem:
        child.problem = problem
    except ValueError as error:  # what execve cannot carry (a NUL byte, a name with "="):
        # the step fails alone, as Dagu's does (exec's "invalid argument"), not the run
        child.problem = CommandProblem("%s: %s" % (child.argv[0], error),
                                       EXIT_CANNOT_EXECUTE, "command_not_executable")
    finally:
        os.fchdir(home)


def _posix_spawn(path, argv, env, actions) -> int:
    # SIGPIPE and SIGXFSZ at their default, as Dagu's steps get them
    return posix_spawn_command(path, argv, env, file_actions=actions, setsid=True,
                               setsigdef=INHERITED, setsigmask=())


def _resolve(key, env) -> str:
    """``resolve_command`` of ``key``'s name, from the directory we are in; kept in
    ``_found`` with the candidates before it."""
    name = key[0]
    path = resolve_command(name, env)
    candidates = command_candidates(name, env)
    _found[key] = (path, tuple(candidates[:candidates.index(path)]))
    return path


def _any_exists(paths) -> bool:
    for path in paths:
        try:
            if os.access(path, os.F_OK):
                return True
        except ValueError:  # a NUL in the name: no such file, as resolve_command has it
            pass
    return False


def reap(child: Spawned, *, block=True, timed_out=False, timeout=None):
    """The child's ``supervise.Outcome`` once it has ended; ``None`` if it has not yet."""
    if child.problem is not None:
        return problem_outcome(child.problem, child.start_ns)
    global _running
    pid, status, rusage = os.wait4(child.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    _running -= 1
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

    Returns the processes found outside the session (``proctree.Process``, to SIGKILL later).
    """
    try:
        os.killpg(pid, number)
    except OSError:
        pass
    from ..wrap.timeout import signal_tree
    return signal_tree(pid, number)


def kill_processes(procs) -> None:
    """SIGKILL what is left of ``procs`` (``proctree.Process``); never waits."""
    for proc in procs:
        proc.kill()


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
        _reap(_ENDING)

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

    def _say(self, line: bytes):
        if self._fd is None and self.pid is None:
            self._start()
        if self._fd is None:
            return
        try:
            os.write(self._fd, line)
        except OSError:
            os.close(self._fd)
            self._fd = None

    def started(self, pid: int):
        self._say(b"+%d\n" % pid)

    def ended(self, pid: int):
        if self._fd is not None:
            self._say(b"-%d\n" % pid)

    def close(self):
        """Goodbye: the driver ends normally; the watchdog exits without killing."""
        if self._fd is not None:
            self._say(b"end\n")
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        if self.pid:  # not waited for (nor polled): its start, an interpreter's, outlasts
            _ENDING.append(self.pid)  # a short run
            self.pid = None


_ENDING = []
"""Watchdogs told ``end`` and not yet reaped: reaped by the next ``Watchdog`` of this
process, or by init when the process exits (``traceexec run`` exits right after)."""


def _reap(pids):
    for pid in list(pids):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        except OSError:
            pass
        pids.remove(pid)
