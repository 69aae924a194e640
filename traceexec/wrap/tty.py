"""``--tty``: run the command under a pseudo-terminal (pexpect), for tools that
behave differently without one.  The terminal's input is copied to the command
and its output to ours; the window size follows ours (SIGWINCH); exit status,
timeout and resource usage come from the same supervise code as without a tty.
"""
from __future__ import annotations

import os
import select
import signal
import time

from . import supervise


def _window_size(default=(24, 80)):
    for fd in (0, 1, 2):
        try:
            size = os.get_terminal_size(fd)
            return size.lines, size.columns
        except OSError:
            continue
    return default


def _copy(source: int, target: int) -> bool:
    """Copy what is available from ``source`` to ``target``; False at end of input."""
    try:
        data = os.read(source, 65536)
    except OSError:
        return False
    if not data:
        return False
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(target, view):]
        except BlockingIOError:
            select.select([], [target], [], 1.0)
        except OSError:
            return True  # reader went away; keep draining the source
    return True


def run(argv, env, *, timeout=None, kill_after=supervise.DEFAULT_KILL_AFTER) -> supervise.Outcome:
    """Run ``argv`` on a new pty; returns its Outcome."""
    import pexpect

    start_ns = time.time_ns()
    try:
        path = supervise.resolve_command(argv[0], env)
    except supervise.CommandProblem as problem:
        return supervise.problem_outcome(problem, start_ns)
    rows, cols = _window_size()
    start_ns = time.time_ns()
    child = pexpect.spawn(path, list(argv[1:]), env=dict(env), dimensions=(rows, cols),
                          echo=False, use_poll=True)
    pid, pty_fd = child.pid, child.child_fd

    def forward(number, _frame):
        if number == signal.SIGWINCH:
            child.setwinsize(*_window_size((rows, cols)))
        try:
            os.kill(pid, number)
        except OSError:
            pass

    previous = {n: signal.signal(n, forward) for n in supervise.FORWARDED}
    stdin_is_tty = os.isatty(0)
    saved_mode = None
    if stdin_is_tty:
        import termios
        import tty as ttymod
        saved_mode = termios.tcgetattr(0)
        ttymod.setraw(0)
    reading_stdin = True
    deadline = time.monotonic() + timeout if timeout is not None else None
    timed_out = False
    tree = []
    try:
        while True:
            wait_for = None if deadline is None else max(0.0, deadline - time.monotonic())
            sources = [pty_fd] + ([0] if reading_stdin else [])
            try:
                ready, _, _ = select.select(sources, [], [], wait_for)
            except InterruptedError:
                continue
            if pty_fd in ready and not _copy(pty_fd, 1):
                break
            if 0 in ready and not _copy(0, pty_fd):
                reading_stdin = False
                try:
                    child.sendeof()
                except OSError:
                    pass
            if deadline is not None and time.monotonic() >= deadline:
                if not timed_out:
                    timed_out = True
                    tree = supervise.signal_tree(pid, signal.SIGTERM)
                    deadline = time.monotonic() + kill_after
                else:
                    supervise.signal_tree(pid, signal.SIGKILL)
                    deadline = None
    finally:
        if saved_mode is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, saved_mode)
    _, status, rusage = os.wait4(pid, 0)
    end_ns = time.time_ns()
    for number, handler in previous.items():
        signal.signal(number, handler)
    if timed_out:
        supervise.kill_leftovers(tree, time.monotonic() + kill_after)
    try:
        child.close(force=False)
    except Exception:
        pass
    outcome = supervise.outcome_from_wait(pid, status, rusage, timed_out=timed_out,
                                          start_ns=start_ns, end_ns=end_ns, timeout=timeout)
    outcome.path = path
    return outcome
