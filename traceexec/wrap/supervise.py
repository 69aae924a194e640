"""Start a command and watch over it, with the conventions of timeout(1) and env(1).

Everything about processes lives here: resolving the executable (126/127),
exec as execvp does it (a script without ``#!`` runs through /bin/sh),
starting the command with ``posix_spawn``, passing on signals (``signals``),
stop and continue, the timeout (``timeout``), resource usage from wait4, and
exit-status mapping (128+N for signal N).

``run`` waits for the wrapper: on the main thread, signals blocked and taken
with ``sigtimedwait``; the command shares traceexec's process group, so what
the terminal or a group kill sends reaches it directly and is not sent twice.

The command is started with ``posix_spawn`` (a vfork: 1.5 ms less per run than
fork, whose copied pages the wrapper then faults on, and no ``_ctypes`` for the
parent-death signal, 0.6 ms less).  A command still running after 10 ms gets
the signal sentinel (``sentinel.Sentinel``), which also SIGKILLs it if
traceexec dies without a goodbye, as the parent-death signal did.
``forkexec.spawn``, a fork with that signal, remains for ``--tty``, which needs the
pty made the command's controlling terminal between fork and exec.

Only the standard library is imported (and the package's own ``preload`` for
``watch``), at start-up and when a process tree has to be killed (``proctree``
reads it from /proc).
"""

import os
import sys
import time

import _signal  # the C module: ``signal`` would import enum, ~3 ms at start-up

from .. import preload
from . import signals
from .signals import FORWARDED  # noqa: F401 (re-exported)

EXIT_TIMEOUT = 124
DEFAULT_KILL_AFTER = 5.0

EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
SHELL = "/bin/sh"
ENOEXEC = 8
ENOENT = 2


def _problem():
    """``CommandProblem`` (``problems``): the class is made when a command cannot be
    started, not by every start (a class costs about 80,000 instructions).  Also in
    ``except _problem()``, which Python evaluates only for an exception on its way."""
    from .problems import CommandProblem
    return CommandProblem


def __getattr__(name: str):
    """``supervise.CommandProblem`` (``problems``), made on first use, and
    ``supervise.signal_name`` (``signal_names``)."""
    from .. import forwarded
    return forwarded(globals(), "signal_names" if name == "signal_name" else "problems", name)


class Outcome:
    """What happened to a command: how it ended and what it used."""

    __slots__ = ("pid", "exit_status", "returncode", "signal", "timed_out", "problem",
                 "user_cpu", "system_cpu", "max_rss", "start_ns", "end_ns", "timeout", "path")

    def __init__(self, *, pid=0, exit_status=0, returncode=0, signal=None, timed_out=False,
                 problem=None, user_cpu=0.0, system_cpu=0.0, max_rss=0, start_ns=0,
                 end_ns=0, timeout=None):
        self.pid = pid
        self.exit_status = exit_status    # what traceexec exits with
        self.returncode = returncode      # exit code of the command, None if signalled
        self.signal = signal              # number of the signal that ended it
        self.timed_out = timed_out
        self.problem = problem            # CommandProblem when it never started
        self.user_cpu = user_cpu
        self.system_cpu = system_cpu
        self.max_rss = max_rss            # bytes, the largest process of the tree
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.timeout = timeout
        self.path = None                  # the executable that ran

    @property
    def error_type(self) -> str | None:
        """``error.type`` per the semantic conventions; ``None`` on success."""
        if self.problem is not None:
            return self.problem.error_type
        if self.timed_out:
            return "timeout"
        if self.signal is not None:
            from .signal_names import signal_name
            return signal_name(self.signal)
        if self.exit_status:
            return str(self.exit_status)
        return None

    @property
    def description(self) -> str:
        """A short status description for a failed command."""
        if self.problem is not None:
            return str(self.problem)
        if self.timed_out:
            return "timed out after %gs" % self.timeout
        if self.signal is not None:
            from .signal_names import signal_name
            return "killed by %s" % signal_name(self.signal)
        if self.exit_status:
            return "exit status %d" % self.exit_status
        return ""


# -- a finished command as span data (a wrapper's span and a DAG step's say the same)

PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789./,+")
"""Characters of which no word is a secret to ``redact``: a secret is named (``-p``,
``--token``, ``KEY=``, ``Authorization:``), has a form (``ghp_``, ``AKIA``, ``PRIVATE
KEY``, ``user:pw@``) or sits in shell text (blanks), and each needs a character more."""


def needs_redactor(argv, patterns=(), redact=True) -> bool:
    """Whether recording ``argv`` takes ``redact``: not for a command whose words are
    all ``PLAIN`` (``true``, ``make all``, ``sleep 0.1``) with no ``--redact`` pattern."""
    return redact and bool(patterns or not all(PLAIN.issuperset(arg) for arg in argv))


def recorded_args(argv, patterns=(), redact=True) -> list:
    """``redact.redact_args``, without loading ``redact`` (0.5 M instructions) where
    it could change nothing (``needs_redactor``)."""
    if not needs_redactor(argv, patterns, redact):
        return list(argv)
    from .redact import redact_args
    return redact_args(argv, patterns, redact)


def process_attributes(outcome, argv, *, cwd, path=None, redact=True, patterns=(),
                       args=None) -> dict:
    """Semantic-convention process attributes of a finished command; ``args``: ``argv``
    already redacted (a DAG's steps keep theirs)."""
    if args is None:
        args = recorded_args(argv, patterns, redact)
    attrs = {
        "process.executable.name": os.path.basename(argv[0]) if argv else "",
        "process.command_args": args,
        "process.working_directory": cwd,
    }
    if path:
        attrs["process.executable.path"] = path
    if outcome.pid:
        attrs["process.pid"] = outcome.pid
    attrs["process.exit.code"] = outcome.exit_status
    if outcome.problem is None:
        attrs["traceexec.process.cpu.user"] = round(outcome.user_cpu, 6)
        attrs["traceexec.process.cpu.system"] = round(outcome.system_cpu, 6)
        attrs["traceexec.process.max_rss"] = outcome.max_rss
    if outcome.signal is not None:
        from .signal_names import signal_name
        attrs["traceexec.process.signal"] = signal_name(outcome.signal)
    if outcome.timed_out:
        attrs["traceexec.timeout"] = outcome.timeout
    error_type = outcome.error_type
    if error_type is not None:
        attrs["error.type"] = error_type
    return attrs


def command_status(outcome) -> tuple:
    """(status code, description): ERROR with a reason when the command failed, else OK."""
    from ..delivery import span
    if outcome.exit_status:
        return span.STATUS_ERROR, outcome.description
    return span.STATUS_OK, ""


def environment() -> dict:
    """``dict(os.environ)``, a third of its cost (0.18 M instructions less for 35
    variables): each value decoded here as ``os.environ`` decodes it, without its
    Python-level ``__getitem__`` and ``decode`` per variable."""
    data = getattr(os.environ, "_data", None)
    if os.name != "posix" or type(data) is not dict:
        return dict(os.environ)
    encoding = sys.getfilesystemencoding()
    return {name.decode(encoding, "surrogateescape"): value.decode(encoding, "surrogateescape")
            for name, value in data.items()}


def command_candidates(name: str, env) -> list:
    """The paths execvp tries for ``name``, in its order: the name itself when it holds
    a slash, else each folder of the child's PATH.

    >>> command_candidates("job", {"PATH": "/bin:sub/:"})
    ['/bin/job', 'sub/job', './job']
    """
    if "/" in name:
        return [name]
    path = env.get("PATH")
    if path is None:
        path = os.defpath
    # os.path.join's result, without its cost: the name holds no slash
    return [d + name if d.endswith("/") else (d or ".") + "/" + name
            for d in path.split(os.pathsep)]


def resolve_command(name: str, env) -> str:
    """The path that execve will run for ``name``, searching the child's PATH.

    Raises CommandProblem (127 not found, 126 not executable).
    """
    if not name:
        raise _problem()("empty command name", EXIT_NOT_FOUND, "command_not_found")
    found_unexecutable = None
    for candidate in command_candidates(name, env):
        try:  # missing: no OSError made and dropped, as os.path.isdir and exists would
            if not os.access(candidate, os.F_OK):
                continue
        except ValueError:  # a NUL in the name: no such file
            continue
        try:  # one stat, where os.path.isdir and then exists made two
            mode = os.stat(candidate).st_mode
        except OSError:  # gone since, or a broken link: no such file
            continue
        if mode & 0o170000 != 0o040000 and os.access(candidate, os.X_OK):  # not a folder
            return candidate
        found_unexecutable = found_unexecutable or candidate
    if found_unexecutable is not None:
        raise _problem()("%s: permission denied or not executable" % name,
                             EXIT_CANNOT_EXECUTE, "command_not_executable")
    raise _problem()("%s: command not found" % name, EXIT_NOT_FOUND, "command_not_found")


def script_command(path: str, argv) -> tuple:
    """What to exec when ``path`` is not an executable format (execve fails with ENOEXEC).

    The execvp rule that env(1), timeout(1), nice(1) and shells follow: a
    script without ``#!`` runs through /bin/sh, with the path as its $0.
    Anything that spawns commands (the wrapper, DAG steps) retries with this.

    >>> script_command("./job", ["./job", "a"])
    ('/bin/sh', ['/bin/sh', './job', 'a'])
    """
    return SHELL, [SHELL, path] + list(argv[1:])


def posix_spawn_command(path: str, argv, env, **options) -> int:
    """``os.posix_spawn`` of ``path`` as execvp would run it (ENOEXEC: through
    /bin/sh); returns the pid.  An exec that fails raises CommandProblem with
    the message and status traceexec gives (127 not found, 126 otherwise)."""
    try:
        try:
            return os.posix_spawn(path, argv, env, **options)
        except OSError as error:
            if error.errno != ENOEXEC:
                raise
            return os.posix_spawn(*script_command(path, argv), env, **options)
    except OSError as error:
        missing = error.errno == ENOENT  # as the forked start had it; ENOTDIR is 126, as in sh
        raise _problem()("%s: %s" % (argv[0], error.strerror),
                             EXIT_NOT_FOUND if missing else EXIT_CANNOT_EXECUTE,
                             "command_not_found" if missing else "command_not_executable")


def default_signals(dispositions: dict) -> list:
    """The signals a spawned command must get at their default: those of
    ``signals.INHERITED`` that the caller had not ignored (the interpreter
    ignores them for itself).  Handlers traceexec set are reset by exec."""
    return [number for number in signals.INHERITED if not dispositions.get(number)]


_dispositions = None


def child_dispositions() -> dict:
    """SIGPIPE/SIGXFSZ as the command should get them (read once per process)."""
    global _dispositions
    if _dispositions is None:
        _dispositions = signals.inherited_dispositions()
    return _dispositions


def outcome_from_wait(pid, status, rusage, *, timed_out=False, start_ns=0, end_ns=0,
                      timeout=None, killed=False, preserve_status=False) -> Outcome:
    """Map a wait status to traceexec's exit status as timeout(1) does: the command's
    code, 128+N for signal N, 124 on timeout, 137 when the KILL pass was needed
    (``preserve_status``: the command's own status even after a timeout)."""
    outcome = Outcome(pid=pid, timed_out=timed_out, start_ns=start_ns, end_ns=end_ns,
                      timeout=timeout)
    if os.WIFSIGNALED(status):
        outcome.signal = os.WTERMSIG(status)
        outcome.returncode = None
        outcome.exit_status = 128 + outcome.signal
    else:
        outcome.returncode = os.WEXITSTATUS(status)
        outcome.exit_status = outcome.returncode
    if timed_out and not preserve_status:
        killed_by_us = killed and outcome.signal == _signal.SIGKILL
        outcome.exit_status = 128 + _signal.SIGKILL if killed_by_us else EXIT_TIMEOUT
    if rusage is not None:
        outcome.user_cpu = rusage.ru_utime
        outcome.system_cpu = rusage.ru_stime
        outcome.max_rss = rusage.ru_maxrss * 1024
    return outcome


def problem_outcome(problem, start_ns: int) -> Outcome:
    return Outcome(exit_status=problem.exit_status, returncode=problem.exit_status,
                   problem=problem, start_ns=start_ns, end_ns=time.time_ns())


def run(argv, env, *, timeout=None, kill_after=DEFAULT_KILL_AFTER,
        timeout_signal=_signal.SIGTERM, foreground=False, preserve_status=False,
        on_running=None, stderr_fd=None, while_running=None) -> Outcome:
    """Run ``argv`` in the foreground and wait, passing on signals (main thread only).

    ``on_running(start_ns)`` is called once if the command is still running after
    ``watch``'s running delay (the start record of ``delivery.running``).

    Signals stay blocked when this returns, so that the caller can record the
    span without being interrupted; ``reraise`` ends the process the way the
    command ended.  ``stderr_fd``: the command's stderr instead of ours.
    ``while_running()`` is called once the command started and before it is
    waited for (signals stay blocked meanwhile: none is lost, only taken later).
    """
    start_ns = time.time_ns()
    try:
        path = resolve_command(argv[0], env)
    except _problem() as problem:
        return problem_outcome(problem, start_ns)
    original_mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, signals.WATCHED)
    if timeout:
        from .forkexec import become_subreaper
        become_subreaper()
    start_ns = time.time_ns()
    try:
        pid = posix_spawn_command(path, list(argv), env, setsigmask=original_mask,
                                  setsigdef=default_signals(child_dispositions()),
                                  **({"file_actions": [(os.POSIX_SPAWN_DUP2, stderr_fd, 2)]}
                                     if stderr_fd is not None else {}))
    except _problem() as problem:
        outcome = problem_outcome(problem, start_ns)
        outcome.path = path
        return outcome
    preload(sys.modules[__package__.rpartition(".")[0]], ("wrap.watch",))
    from .watch import Watch  # after the start: its loading overlaps the command's
    watch = Watch(pid, timeout=timeout, kill_after=kill_after, timeout_signal=timeout_signal,
                  foreground=foreground,
                  on_running=(lambda: on_running(start_ns)) if on_running else None)
    reaped = False
    try:
        if while_running is not None:
            while_running()
        status, rusage = watch.wait()
        reaped = True
        end_ns = time.time_ns()
        if watch.timer is not None:
            watch.timer.finish()
    except BaseException:
        # traceexec cannot watch the command any more (a bug, a missing module): it must
        # not outlive traceexec, and the sentinel, told goodbye below, would not kill it
        if not reaped:
            try:
                os.kill(pid, _signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        raise
    finally:
        watch.close()
    timer = watch.timer
    outcome = outcome_from_wait(pid, status, rusage, timed_out=bool(timer and timer.timed_out),
                                start_ns=start_ns, end_ns=end_ns, timeout=timeout,
                                killed=bool(timer and timer.killed),
                                preserve_status=preserve_status)
    outcome.path = path
    return outcome


def reraise(outcome: Outcome) -> None:
    """End this process by the signal that ended the command, as timeout(1) does.

    The caller's shell then sees the same thing as without traceexec; the
    status is still 128+N where only a number is kept.  Returns if the
    signal does not end processes by default.
    """
    if outcome.signal is None or outcome.timed_out:
        return
    number = outcome.signal
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    try:
        _signal.signal(number, _signal.SIG_DFL)
        os.kill(os.getpid(), number)
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {number})
    except (OSError, ValueError):
        pass
