"""Turning bash's xtrace off from outside, once the span budget is spent.

Past the budget, every further traced command would only be folded, yet bash
keeps paying for xtrace (formatting PS4, one ``write`` each: 10x to 20x a bare
loop of builtins).  bash offers no way to turn xtrace off from outside (only
``set +x`` in the shell itself), but the flag is a plain exported variable
(``echo_command_at_execute``).  So, for the script's shell and each of its
subshells alive (its descendants running the same bash):

1. ``PTRACE_SEIZE`` and ``PTRACE_INTERRUPT``: it stops without any signal the
   script could see, and a system call it was blocked in (``wait``, ``read``,
   ``sleep``'s wait) is restarted when it goes on;
2. once all are stopped, the caller reads what they wrote to the trace so far
   (the author's own ``set -x`` must be known before deciding);
3. ``turn_off``: a shell stopped outside a system call first goes on to its
   next one (``PTRACE_SYSCALL``): there is none between bash's test of the flag
   and its expansion of PS4, so at a system call no line is on its way, and any
   line the shell prints later is the author's own ``set -x``.  There, where the
   flag is 1 (xtrace on) and the caller says the author's trace is off, write 0
   (subshells forked later inherit it).  bash itself sets the flag to 0 while it
   expands PS4 (most of a traced builtin's time) and back to 1 after: a shell
   stopped then is let go and stopped again in another round (``retry``);
4. ``release``: detach, passing on a signal that arrived while stopped.

Afterwards ``sample`` (every ``SAMPLE_INTERVAL``) reads, without stopping them,
the line each turned-off shell is at (bash's ``line_number``) and its function
(``this_shell_function``), for the hot lines of the untraced part, and notes
when a shell has ended.

Nothing is changed where ptrace is refused (yama, a container), where a shell is
already traced (``--processes`` runs strace), or when anything does not match
(not our child's tree, another program, a flag neither 0 nor 1): tracing goes on
as before.
"""

import os
import sys
import time

from . import elf

FLAG = "echo_command_at_execute"
LINE = "line_number"
FUNCTION = "this_shell_function"
SAMPLE_INTERVAL = 0.01
"""Seconds between two readings of a turned-off shell's line."""
NAME_LONGEST = 128
STOP_WAIT = 2.0
"""The longest wait for a seized shell to stop (it stops at once unless in an
uninterruptible sleep); one still running then is released when it stops."""
PASSES = 4
"""Walks of the process tree, for subshells forked while the others were stopping."""


def _stat(pid):
    """(state, parent pid, start time in ticks) from /proc/PID/stat, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(b")") + 2:].split()
    try:
        return fields[0], int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _tracer(pid) -> int:
    try:
        with open("/proc/%d/status" % pid, "rb") as handle:
            for line in handle:
                if line.startswith(b"TracerPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _in_system_call(pid) -> bool:
    """For a stopped process: whether it stopped inside a system call."""
    try:
        with open("/proc/%d/syscall" % pid, "rb") as handle:
            return not handle.read().startswith((b"-1", b"running"))
    except OSError:
        return False


def _children(pid) -> list:
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid), "rb") as handle:
            return [int(word) for word in handle.read().split()]
    except (OSError, ValueError):
        return []


class Untracer:
    """The script's shells, stopped and turned off one round at a time (the thread
    that calls ``stop_shells`` must make every later call)."""

    def __init__(self, main_pid: int, bash: str):
        self.main_pid = main_pid
        self.bash = bash
        self.problem = None       # why nothing more is tried
        self.address = None
        self.size = 0
        self.parents = {}         # pid -> parent pid, for the shells found
        self.stopped = {}         # pid -> start time (ticks), seized and stopped
        self.late = {}            # pid -> start time: seized, not stopped in time
        self.turned_off = {}      # pid -> when its xtrace was turned off (ns)
        self.declined = set()     # pids left alone (the author's trace is on...)
        self.starts = {}          # pid -> start time (ticks), of every shell seized
        self.samples = {}         # pid -> {(function, line): count}, turned-off shells
        self.ended = {}           # pid -> when sampling found it gone (ns)
        self.places = {}          # variable -> (address, size): line, function
        self.retry = set()        # pids stopped with the flag at 0 (inside PS4)
        try:
            st = os.stat(bash)
            self.exe = (st.st_dev, st.st_ino)
        except OSError as error:
            self.exe = None
            self.problem = "%s: %s" % (bash, error.strerror)

    def _same_bash(self, pid) -> bool:
        try:
            st = os.stat("/proc/%d/exe" % pid)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.exe

    def _locate(self, pid) -> bool:
        """The flag's address in our bash's processes (the same for all: forks)."""
        if self.address is not None:
            return True
        try:
            with open("/proc/%d/exe" % pid, "rb") as handle:
                image = elf.read_image(handle, {FLAG, LINE, FUNCTION})
            symbol = image.symbols.get(FLAG)
            if symbol is None or symbol.size not in (1, 2, 4):
                self.problem = "%s exports no %s" % (self.bash, FLAG)
                return False
            path = os.fsencode(os.readlink("/proc/%d/exe" % pid))
            bias = elf.load_bias(pid, self.exe[0], self.exe[1], path, image)
        except (OSError, elf.NotElf) as error:
            self.problem = "%s: %s" % (self.bash, error)
            return False
        self.address, self.size = bias + symbol.value, symbol.size
        for name in (LINE, FUNCTION):
            found = image.symbols.get(name)
            if found is not None:
                self.places[name] = (bias + found.value, found.size)
        return True

    def prepare(self) -> None:
        """What the first round needs, ahead of it: the flag's address, ctypes."""
        from . import ptrace  # noqa: F401  (ctypes: some milliseconds)
        if self.problem is None and self.exe is not None and \
                self._same_bash(self.main_pid):
            self._locate(self.main_pid)

    def _candidates(self) -> list:
        """The main shell and its descendants running our bash, not seen yet; the
        main shell only while it is our child."""
        main = _stat(self.main_pid)
        if main is None or main[1] != os.getpid():
            return []
        out, todo = [], [self.main_pid]
        self.parents.setdefault(self.main_pid, os.getpid())
        while todo and len(out) < 10000:
            pid = todo.pop()
            if pid not in self.stopped and pid not in self.late and \
                    pid not in self.turned_off and pid not in self.declined and \
                    self._same_bash(pid):
                out.append(pid)
            for child in _children(pid):
                self.parents[child] = pid
                todo.append(child)
        return out

    def stop_shells(self) -> list:
        """Seize and stop the script's shells (those not turned off or declined yet);
        the pids stopped now."""
        from . import ptrace
        self.retry = set()
        for _ in range(PASSES):
            if self.problem is not None:
                break
            seized = {}
            for pid in self._candidates():
                stat = _stat(pid)
                if stat is None or stat[0] not in b"RSD" or _tracer(pid) != 0:
                    continue  # stopped, ending, or traced by someone else: left alone
                if not self._locate(pid):
                    break
                try:
                    ptrace.seize(pid)
                except OSError as error:
                    if error.errno == 3:  # ESRCH: it ended
                        continue
                    self.problem = "ptrace: %s" % error.strerror
                    break
                seized[pid] = self.starts[pid] = stat[2]
                try:
                    ptrace.interrupt(pid)
                except OSError:
                    pass
            if not seized:
                break
            self._wait_stopped(seized)
        return list(self.stopped)

    def _wait_stopped(self, seized) -> None:
        from . import ptrace
        deadline = time.monotonic() + STOP_WAIT
        pause = 0.0002
        while seized:
            for pid in list(seized):
                try:
                    ptrace.peek(pid, self.address)
                except OSError:
                    stat = _stat(pid)
                    if stat is None or stat[0] in b"ZX":
                        del seized[pid]
                        self._reap(pid)
                    continue
                self.stopped[pid] = seized.pop(pid)
            if not seized or time.monotonic() >= deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        self.late.update(seized)

    def _reap(self, pid) -> None:
        """A shell that died while seized is reported to us first; its parent then
        learns of it.  (The main shell's end is the main thread's to take.)"""
        if pid != self.main_pid:
            try:
                from . import ptrace
                os.waitpid(pid, os.WNOHANG | ptrace.WALL)
            except OSError:
                pass

    def _to_system_call(self, pid) -> bool:
        """A shell stopped outside a system call may be between bash's test of the flag
        and its expansion of PS4 (no system call lies between them): turned off there,
        it would still print that line, which could not be told from an author's set -x.
        So it goes on to its next system call (in a traced shell, soon: the trace's
        write); whether it stopped there."""
        from . import ptrace
        try:
            if ptrace.stop_signal(pid):
                return False  # a signal to pass on: released as it is
            ptrace.to_next_system_call(pid)
        except OSError:
            return False
        deadline = time.monotonic() + STOP_WAIT
        pause = 0.0001
        while True:
            try:
                ptrace.peek(pid, self.address)
                break
            except OSError:
                stat = _stat(pid)
                if stat is None or stat[0] in b"ZX" or time.monotonic() >= deadline:
                    self.late[pid] = self.stopped.pop(pid)  # let go when it stops
                    if stat is None or stat[0] in b"ZX":
                        self.late.pop(pid, None)
                        self._reap(pid)
                    return False
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        return _in_system_call(pid)

    def decline(self, pid) -> None:
        """Leave ``pid`` alone from now on."""
        self.declined.add(pid)

    def turn_off(self, pid) -> bool:
        """For a stopped shell: xtrace off if it is on and the same process; whether done
        (a flag at 0 puts ``pid`` in ``retry``)."""
        from . import ptrace
        stat = _stat(pid)  # the same process (start time), still where it was found
        if pid not in self.stopped or stat is None or stat[2] != self.stopped[pid] or \
                stat[1] != self.parents.get(pid) or not self._same_bash(pid):
            self.declined.add(pid)
            return False
        if not _in_system_call(pid) and not self._to_system_call(pid):
            if pid in self.stopped:  # a signal came first: again in another round
                self.retry.add(pid)
            return False
        try:
            word = ptrace.peek(pid, self.address)
            value = int.from_bytes(word[:self.size], sys.byteorder)
            if value == 0:
                self.retry.add(pid)
                return False
            if value != 1:
                self.declined.add(pid)
                return False
            ptrace.poke(pid, self.address, bytes(self.size) + word[self.size:])
        except (OSError, ValueError):
            self.declined.add(pid)
            return False
        self.turned_off[pid] = time.time_ns()
        self.samples[pid] = {}
        return True

    def release(self) -> None:
        """Detach every stopped shell, passing on a signal it stopped to receive; and
        those that stopped late."""
        from . import ptrace
        for pid in list(self.stopped) + [p for p in list(self.late) if self._has_stopped(p)]:
            self.stopped.pop(pid, None)
            self.late.pop(pid, None)
            try:
                signal = ptrace.stop_signal(pid)
            except OSError:
                signal = 0
            try:
                ptrace.detach(pid, signal)
            except OSError:
                self._reap(pid)

    def _has_stopped(self, pid) -> bool:
        from . import ptrace
        try:
            ptrace.peek(pid, self.address)
            return True
        except OSError:
            stat = _stat(pid)
            if stat is None or stat[0] in b"ZX":
                self.late.pop(pid, None)
                self._reap(pid)
            return False

    def is_on(self, pid) -> bool:
        """Whether a shell's xtrace flag reads 1 now (bash zeroes it while it expands
        PS4); False if unreadable."""
        from . import ptrace
        try:
            word = ptrace.read(pid, self.address, self.size)
        except OSError:
            return False
        return int.from_bytes(word, sys.byteorder) == 1

    def sample(self) -> None:
        """One reading of each turned-off shell still running: its function and line."""
        from . import ptrace
        line_at = self.places.get(LINE)
        for pid, counts in self.samples.items():
            if pid in self.ended:
                continue
            stat = _stat(pid)
            try:
                if stat is None or stat[2] != self.starts[pid] or stat[0] in b"ZX":
                    raise OSError(3, "ended")
                if line_at is None:
                    continue
                line = int.from_bytes(ptrace.read(pid, *line_at), sys.byteorder)
                function = self._function(pid)
            except (OSError, ValueError):
                self.ended[pid] = time.time_ns()
                continue
            key = (function, line)
            counts[key] = counts.get(key, 0) + 1

    def _function(self, pid) -> str:
        """The function a shell is in ("" at the top level): the name of the SHELL_VAR
        that ``this_shell_function`` points to."""
        from . import ptrace
        where = self.places.get(FUNCTION)
        if where is None or where[1] != ptrace.WORD:
            return ""
        var = int.from_bytes(ptrace.read(pid, *where), sys.byteorder)
        if not var:
            return ""
        name_at = int.from_bytes(ptrace.read(pid, var, ptrace.WORD), sys.byteorder)
        name, at = b"", name_at
        try:
            while len(name) < NAME_LONGEST:  # never read across a page: it may be the last
                chunk = ptrace.read(pid, at, min(32, 4096 - at % 4096))
                name += chunk.split(b"\0", 1)[0]
                if b"\0" in chunk:
                    break
                at += len(chunk)
        except OSError:
            return "?"
        return name[:NAME_LONGEST].decode("utf-8", "replace")
