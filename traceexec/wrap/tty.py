"""``--tty``: run the command on a new pseudo-terminal, for tools that behave
differently without one.

The command starts through ``forkexec.spawn`` (parent-death signal, the same
exec rules) as the leader of a session on the pty.  traceexec copies its input
to the pty and the pty's output to its own, never blocking on either side (a
command that is slow to read cannot stall its output), keeps the window size
in step with its own terminal, and passes on signals sent to it.  The outer
terminal is switched to raw mode only while traceexec is in its foreground,
so Ctrl-C, Ctrl-Z and the like reach the command through the pty, and a
``--tty`` job started in the background is not stopped for touching it.
When the command stops, traceexec restores the terminal and stops too, so the
shell's job control works; when continued, it continues the command.
"""

import errno
import os
import select
import time

import _signal

from . import forkexec, signals, stops, supervise
from .timeout import DEFAULT_KILL_AFTER, Timeout

POLL = 0.05
"""How often signals are looked at while copying (they stay blocked meanwhile)."""
HANGUP_AFTER = 1.0
"""After our output closed and SIGPIPE was sent: how long before the pty is hung up."""


def _window_size():
    import fcntl
    import termios
    for fd in (0, 1, 2):
        try:
            return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        except OSError:
            continue
    return None


def _set_window_size(fd, size) -> None:
    if size is not None:
        import fcntl
        import termios
        try:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, size)
        except OSError:
            pass


def _is_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


class Terminal:
    """Our own terminal on stdin: raw while we are its foreground, restored otherwise."""

    def __init__(self):
        self.saved = None

    def take(self) -> bool:
        if self.saved is None and _is_foreground():
            import termios
            import tty
            try:
                self.saved = termios.tcgetattr(0)
                tty.setraw(0, termios.TCSANOW)
            except OSError:
                self.saved = None
        return self.saved is not None

    def give_back(self) -> None:
        if self.saved is not None:
            import termios
            try:
                termios.tcsetattr(0, termios.TCSADRAIN, self.saved)
            except OSError:
                pass
            self.saved = None


class Copier:
    """Non-blocking copies: stdin -> pty, pty -> stdout."""

    def __init__(self, master: int, pid: int):
        self.master = master
        self.pid = pid
        self.to_pty = b""
        self.last_sent = b"\n"
        self.input_open = True
        self.eof_pending = 0
        self.output_closed_at = None
        self.suspended = False    # stopped by the suspend key: stop ourselves by SIGTSTP too
        os.set_blocking(master, False)

    def from_stdin(self) -> None:
        try:
            data = os.read(0, 65536)
        except OSError:  # EIO: a terminal read from the background; not the end of input
            return
        suspend = self._suspend_char()
        if suspend and suspend in data:
            # The command leads a session of its own on the pty, so its process group
            # is orphaned and the kernel drops the SIGTSTP the pty would send: stop it
            # with SIGSTOP, which an orphaned group still obeys.
            data = data.replace(suspend, b"")
            self.suspended = True
            if self._echoes_control():  # what the pty's line discipline would show
                self._write_out(b"^" + bytes([suspend[0] ^ 0x40]))
            _signal_group(self.pid, _signal.SIGSTOP)
            if not data:
                return
        if data:
            self.to_pty += data
            self.last_sent = data[-1:]
            return
        self.input_open = False
        # ^D ends a line without its newline, a second ^D is then the end of input
        self.eof_pending = 1 if self.last_sent == b"\n" else 2

    def _suspend_char(self) -> bytes:
        import termios
        try:
            attrs = termios.tcgetattr(self.master)
        except (OSError, termios.error):
            return b""
        char = attrs[6][termios.VSUSP]
        char = char if isinstance(char, bytes) else bytes([char])
        return char if attrs[3] & termios.ISIG and char not in (b"\0", b"\xff") else b""

    def _echoes_control(self) -> bool:
        import termios
        try:
            lflag = termios.tcgetattr(self.master)[3]
        except (OSError, termios.error):
            return False
        return bool(lflag & termios.ECHO and lflag & termios.ECHOCTL)

    def to_command(self) -> None:
        import termios
        if not self.to_pty and self.eof_pending:
            try:
                eof = termios.tcgetattr(self.master)[6][termios.VEOF]
            except (OSError, termios.error):
                eof = b"\x04"
            self.to_pty = (eof if isinstance(eof, bytes) else bytes([eof])) * self.eof_pending
            self.eof_pending = 0
        try:
            written = os.write(self.master, self.to_pty)
        except BlockingIOError:
            return
        except OSError:
            self.to_pty = b""
            return
        self.to_pty = self.to_pty[written:]

    def from_command(self) -> bool:
        """Copy what the pty has; False when it is closed."""
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        if self.output_closed_at is None:
            self._write_out(data)
        return True

    def _write_out(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(1, view):]
            except BlockingIOError:
                select.select([], [1], [], POLL)
            except OSError as error:
                if error.errno == errno.EPIPE:
                    # as a pipe reader going away would have done to the command
                    self.output_closed_at = time.monotonic()
                    try:
                        os.killpg(os.getpgid(self.pid), _signal.SIGPIPE)
                    except OSError:
                        pass
                return

    def drain(self) -> None:
        """What the pty holds now (a descendant may keep it open: do not wait for EOF)."""
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            if self.output_closed_at is None:
                self._write_out(data)


def run(argv, env, *, timeout=None, kill_after=DEFAULT_KILL_AFTER,
        timeout_signal=_signal.SIGTERM, foreground=False,
        preserve_status=False) -> supervise.Outcome:
    """Run ``argv`` on a new pty; returns its Outcome."""
    start_ns = time.time_ns()
    try:
        path = supervise.resolve_command(argv[0], env)
    except supervise.CommandProblem as problem:
        return supervise.problem_outcome(problem, start_ns)
    master, slave = os.openpty()
    _set_window_size(slave, _window_size())
    if not os.isatty(0):  # piped input must not come back as output
        import termios
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    original_mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, signals.WATCHED)
    if timeout:
        forkexec.become_subreaper()
    start_ns = time.time_ns()
    pid = forkexec.spawn(path, list(argv), env, sigmask=original_mask, terminal=slave)
    os.close(slave)
    terminal = Terminal()
    copier = Copier(master, pid)
    timer = Timeout(pid, timeout, kill_after=kill_after, number=timeout_signal,
                    foreground=foreground) if timeout else None
    watched = set(signals.WATCHED)
    try:
        status, rusage = _loop(pid, copier, terminal, timer, watched)
    finally:
        terminal.give_back()
    end_ns = time.time_ns()
    copier.drain()
    os.close(master)
    if timer is not None:
        timer.finish()
    outcome = supervise.outcome_from_wait(
        pid, status, rusage, timed_out=bool(timer and timer.timed_out), start_ns=start_ns,
        end_ns=end_ns, timeout=timeout, killed=bool(timer and timer.killed),
        preserve_status=preserve_status)
    outcome.path = path
    return outcome


def _loop(pid, copier, terminal, timer, watched):
    reading = terminal.take() or not os.isatty(0)
    while True:
        waited, status, rusage = os.wait4(pid, os.WNOHANG | os.WUNTRACED)
        if waited == pid:
            if not os.WIFSTOPPED(status):
                return status, rusage
            if stops.is_ptrace_stop(pid, status):
                continue  # --lines turning xtrace off: not a job stop
            if not copier.suspended and not stops.can_stop_by(_signal.SIGTSTP):
                continue  # paused by someone else, with no job control to continue us
            terminal.give_back()
            number = _signal.SIGTSTP if copier.suspended else os.WSTOPSIG(status)
            copier.suspended = False
            stops.stop_like(number)
            reading = terminal.take() or not os.isatty(0)
            _set_window_size(copier.master, _window_size())
            _signal_group(pid, _signal.SIGCONT)
            continue
        now = time.monotonic()
        if timer is not None and timer.next_at is not None and timer.next_at <= now:
            timer.act(now)
        if copier.output_closed_at is not None and now - copier.output_closed_at > HANGUP_AFTER:
            copier.output_closed_at = now + 3600.0  # hang up once
            _signal_group(pid, _signal.SIGHUP)
        info = _signal.sigtimedwait(watched, 0)
        while info is not None:
            _on_signal(info.si_signo, pid, copier, terminal)
            if info.si_signo == _signal.SIGCONT:
                reading = terminal.take() or not os.isatty(0)
            info = _signal.sigtimedwait(watched, 0)
        readers = [copier.master]
        if reading and copier.input_open and not copier.to_pty and not copier.eof_pending:
            readers.append(0)
        writers = [copier.master] if copier.to_pty or copier.eof_pending else []
        wait_for = POLL
        if timer is not None and timer.next_at is not None:
            wait_for = max(0.0, min(wait_for, timer.next_at - now))
        try:
            ready, can_write, _ = select.select(readers, writers, [], wait_for)
        except InterruptedError:
            continue
        if copier.master in ready and not copier.from_command():
            time.sleep(POLL)  # pty closed: the command is ending; wait4 will tell
        if 0 in ready:
            copier.from_stdin()
        if can_write:
            copier.to_command()


def _on_signal(number, pid, copier, terminal) -> None:
    if number == _signal.SIGCHLD:
        return
    if number == _signal.SIGWINCH:  # the kernel tells the command's group itself
        _set_window_size(copier.master, _window_size())
        return
    if number == _signal.SIGCONT:
        if stops.is_stopped(pid):
            _signal_group(pid, _signal.SIGCONT)
        return
    if number in signals.STOPS:  # dropped in the pty's orphaned group: SIGSTOP is not
        number = _signal.SIGSTOP
        copier.suspended = True
    try:
        os.kill(pid, number)
    except OSError:
        pass


def _signal_group(pid: int, number: int) -> None:
    try:
        os.killpg(os.getpgid(pid), number)
    except OSError:
        pass
