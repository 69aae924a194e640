"""The tracer: strace following the command's whole process tree, read as a stream.

The command is started as ``strace -DD -f --seccomp-bpf ... -- CMD`` by the
same supervise code as a plain run. With ``-D`` the process traceexec starts
*becomes* the command (strace forks the tracer off as a grandchild in a
process group of its own), so the command's pid, exit status, signals,
resource usage, timeout and terminal are those of a plain run. The tracer
stays in the command's session (not ``-DDD``): with autogroups a session is a
scheduling group, and a tracer in a group of its own, scheduled apart from the
processes that wait on it at every stop, made a fork-heavy script 1.4x to 2.6x
slower on a loaded machine. The seccomp-bpf filter stops the traced processes
only at execve/execveat and the clone family; strace also reports each exit
and each signal (a SIGCHLD carries the child's CPU time; strace reports a
death by signal only for signals it shows, so all are shown).

Its output goes through a pipe traceexec made (strace opens it as
``/proc/<traceexec's pid>/fd/<n>``, so the command never inherits it) and a
reader thread parses it as it comes.  When the command ends, traceexec reads
until strace has reported the command's exit, then returns.  A process that
outlives the command (a background job, a daemon) keeps its tracer: a
process under a seccomp filter whose tracer went away gets ENOSYS from
fork and exec, so strace must follow it to its end.  Its output then goes
to a small drainer (``cat > /dev/null`` in its own session) in place of
traceexec, which exits as a plain run would.
"""

import os
import threading
import time

import _signal

from ..wrap import signals, supervise
from .stream import Parser
from .tree import Tree

STRACE_VARIABLE = "TRACEEXEC_STRACE"
"""The strace to run (a name looked up in PATH, or a path); default ``strace``."""
TRACED_CALLS = "trace=?execve,?execveat,?clone,?clone3,?fork,?vfork"
STRING_LIMIT = 4096
"""Longer arguments, and argument lists longer than this, are cut (marked ``...``)."""
PIPE_SIZE = 1 << 20
READ_SIZE = 1 << 16
GATHER_S = 0.01
"""After a read that left the pipe empty, the reader lets strace's lines gather this long
(with a ``PIPE_SIZE`` pipe; less with a smaller one) before reading again.  strace writes a
line per event: read as each came, they woke the reader about six times per command, and
the wakeups (not the parsing) made a traced build of 5,000 commands up to 1.5x slower."""
ROOT_EXIT_WAIT_S = 10.0
"""After the command ends, the longest wait for strace to report it."""
SETTLE_WAIT_S = 1.0
"""When everything has ended, the longest wait for strace to exit."""
PROBE_WAIT_S = 30.0


class NotTraceable(Exception):
    """Processes cannot be traced here (no strace, ptrace refused...); says why."""


def options(output: str) -> list:
    """strace's options, writing to ``output``."""
    return ["-DD", "-f", "-q", "--seccomp-bpf", "-ttt", "-s", str(STRING_LIMIT),
            "-e", TRACED_CALLS, "-o", output, "--"]


def find_strace(environ) -> str:
    """The strace executable (``TRACEEXEC_STRACE``, else ``strace`` in PATH)."""
    name = environ.get(STRACE_VARIABLE) or "strace"
    try:
        return supervise.resolve_command(name, environ)
    except supervise.CommandProblem:
        raise NotTraceable("%s not found (install strace)" % name) from None


def tracer_of_this_process() -> int:
    """The pid tracing traceexec itself (0: none)."""
    try:
        with open("/proc/self/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"TracerPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def is_our_tracer(pid: int) -> bool:
    """True when ``pid`` is a strace that a ``traceexec --processes`` started."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            words = handle.read().split(b"\0")
    except OSError:
        return False
    return ((b"-DD" in words or b"-DDD" in words)  # -DDD: an older traceexec
            and any(w.startswith(b"/proc/") and b"/fd/" in w for w in words))


def probe(strace: str, environ) -> None:
    """Trace ``true`` the way the command will be; raises NotTraceable with strace's reason."""
    true = next((p for p in ("/bin/true", "/usr/bin/true") if os.access(p, os.X_OK)), None)
    argv = [strace] + options(os.devnull) + ([true] if true else ["/bin/sh", "-c", ":"])
    read_end, write_end = os.pipe()
    try:
        pid = os.posix_spawn(strace, argv, dict(environ), file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, write_end, 2)])
    except OSError as error:
        os.close(read_end)
        raise NotTraceable("cannot start %s: %s" % (strace, error.strerror)) from None
    finally:
        os.close(write_end)
    # strace's messages; the tracer holds the pipe until it exits, right after ``true``
    message = _read_all(read_end, time.monotonic() + PROBE_WAIT_S)
    _, status = os.waitpid(pid, 0)
    text = message.decode("utf-8", "replace").strip()
    if status != 0 or text:
        lines = [line for line in text.splitlines() if line.strip()]
        raise NotTraceable(lines[-1] if lines else "strace failed (wait status %d)" % status)


def _read_all(fd: int, deadline: float) -> bytes:
    import select
    chunks = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


class Session:
    """One traced command: ``argv`` to run instead of the command, then ``finish``."""

    def __init__(self, strace: str, command_argv: list):
        self._read_end, self._write_end = os.pipe()
        try:
            import fcntl
            fcntl.fcntl(self._read_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # room for bursts
            size = fcntl.fcntl(self._read_end, fcntl.F_GETPIPE_SZ)
        except (ImportError, OSError, AttributeError):
            size = 1 << 16
        # strace blocks on a full pipe: never let the gathering fill it
        self._gather_s = GATHER_S * min(size, PIPE_SIZE) / PIPE_SIZE
        output = "/proc/%d/fd/%d" % (os.getpid(), self._write_end)
        self.argv = [strace] + options(output) + list(command_argv)
        self.tree = Tree()
        self.parser = Parser()
        self.problem = None          # what went wrong reading, if anything
        self.handed_off = False
        self._lock = threading.Lock()
        self._frozen = False
        self._ended = threading.Event()       # end of the stream: strace exited
        self._root_ended = threading.Event()
        self._hurry = threading.Event()       # the command ended: read without gathering
        self._thread = threading.Thread(target=self._read, name="traceexec-tracer", daemon=True)

    def start(self) -> None:
        """Start reading.  The reader keeps every signal supervise waits for blocked
        (stop and continue too), so that the kernel never hands one to this thread:
        a SIGTSTP it took would stop traceexec without the command being told."""
        blocked = set(signals.WATCHED)
        previous = _signal.pthread_sigmask(_signal.SIG_BLOCK, blocked)
        try:
            self._thread.start()
        finally:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, previous)

    def _read(self) -> None:
        # Never stop reading before the end: strace would block, and the build with it.
        while True:
            try:
                data = os.read(self._read_end, READ_SIZE)
            except InterruptedError:
                continue
            except OSError as error:
                self.problem = self.problem or "reading strace: %s" % error.strerror
                break
            if not data:
                break
            try:
                events = self.parser.feed(data)
                with self._lock:
                    if not self._frozen:
                        self.tree.apply(events)
                        if self.tree.root_ended:
                            self._root_ended.set()
            except Exception as error:  # a bug here must not hang the traced build
                self.problem = self.problem or "parsing strace: %r" % error
                with self._lock:
                    self._frozen = True
            if len(data) < READ_SIZE:
                self._hurry.wait(self._gather_s)
        self._ended.set()
        self._root_ended.set()

    def finish(self) -> int:
        """After the command ended: read what strace says about it; returns the cut-off time.

        Processes still running then are left to strace and a drainer.
        """
        os.close(self._write_end)
        self._hurry.set()
        self._root_ended.wait(ROOT_EXIT_WAIT_S)
        if not self._ended.is_set():
            with self._lock:
                quiet = not self.tree.running() and not self.parser.pending_forks()
            if quiet:
                self._ended.wait(SETTLE_WAIT_S)
        with self._lock:
            self._frozen = True
            if not self._ended.is_set():
                self._hand_off()
        return time.time_ns()

    def _hand_off(self) -> None:
        """Leave strace's output to a drainer that outlives traceexec."""
        self.handed_off = True
        cat = next((p for p in ("/bin/cat", "/usr/bin/cat") if os.access(p, os.X_OK)), None)
        if cat is not None:
            try:
                os.posix_spawn(cat, ["cat"], {}, setsid=True, file_actions=[
                    (os.POSIX_SPAWN_DUP2, self._read_end, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
                return
            except OSError:
                pass
        if os.fork() == 0:  # no cat: a forked reader does the same
            try:
                os.setsid()
                while os.read(self._read_end, 1 << 16):
                    pass
            finally:
                os._exit(0)
