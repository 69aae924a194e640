"""strace's output, read as a stream: lines in, process-lifecycle events out.

The tracer runs ``strace -f -ttt -s N`` with only execve/execveat and the
clone family traced, signals shown and exit messages kept, so every line we
use is one of::

    PID TS execve("PATH", ["ARG", ...], 0x.. /* N vars */) = 0
    PID TS clone(...flags=...) = CHILD        clone3({flags=...}, 88) = CHILD
    PID TS vfork( <unfinished ...>            PID TS <... vfork resumed>) = CHILD
    PID TS +++ exited with N +++              PID TS +++ killed by SIGX (core dumped) +++
    PID TS --- SIGCHLD {..., si_pid=C, ..., si_utime=U, si_stime=S} ---

A call interrupted by another process's event is split into an
``<unfinished ...>`` line and a ``<... NAME resumed>`` line; the parser joins
them and dates the call at its entry.  Failed calls (``= -1 ...``, ``= ?``)
are no events.  Anything else (strace's own messages, a line cut by a
killed tracer) is skipped: the stream never raises.
"""

from typing import NamedTuple


class Exec(NamedTuple):
    """Process ``pid`` started running ``path`` at ``time_ns``."""
    pid: int
    time_ns: int
    path: str
    argv: list


class Fork(NamedTuple):
    """``pid`` started ``child`` (a thread when ``thread``) in a call entered at ``time_ns``."""
    pid: int
    time_ns: int
    child: int
    thread: bool


class Exit(NamedTuple):
    """``pid`` (or one thread of a process) ended: ``code``, or killed by ``signal``."""
    pid: int
    time_ns: int
    code: object          # int, or None when killed
    signal: object        # "SIGTERM"..., or None
    core: bool


class ChildTimes(NamedTuple):
    """The SIGCHLD that told ``pid`` its ``child`` ended, with the child's CPU clock ticks."""
    pid: int
    time_ns: int
    child: int
    user_ticks: int
    system_ticks: int


FORKS = frozenset(("clone", "clone3", "fork", "vfork"))
EXECS = frozenset(("execve", "execveat"))
_UNFINISHED = " <unfinished ...>"
_ESCAPES = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "e": 27,
            '"': 34, "\\": 92, "'": 39, "?": 63}


def _time_ns(text: str) -> int:
    seconds, _, fraction = text.partition(".")
    return int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])


def _string(text: str, i: int):
    """The C string literal starting at ``text[i] == '"'``: (value, index after it)."""
    end = text.find('"', i + 1)
    if end < 0:
        raise ValueError("unterminated string")
    if "\\" not in text[i + 1:end]:
        value, i = text[i + 1:end], end + 1
    else:
        out = bytearray()
        i += 1
        while True:
            char = text[i]
            if char == '"':
                i += 1
                break
            if char != "\\":
                out += char.encode("utf-8", "surrogateescape")
                i += 1
                continue
            code = text[i + 1]
            if code in "01234567":
                digits = 1
                while digits < 3 and text[i + 1 + digits] in "01234567":
                    digits += 1
                out.append(int(text[i + 1:i + 1 + digits], 8) & 0xFF)
                i += 1 + digits
            elif code == "x":
                digits = 0
                while digits < 2 and text[i + 2 + digits] in "0123456789abcdefABCDEF":
                    digits += 1
                out.append(int(text[i + 2:i + 2 + digits] or "0", 16))
                i += 2 + digits
            else:
                out.append(_ESCAPES.get(code, ord(code) & 0xFF))
                i += 2
        value = out.decode("utf-8", "backslashreplace")  # valid text for any exporter
    if text.startswith("...", i):  # longer than -s: strace printed the start only
        value += "..."
        i += 3
    return value, i


def _array(text: str, i: int):
    """A string array ``["a", "b", ...]`` at ``text[i]``: (list, index after it).

    ``NULL`` or an address (unreadable memory) is an empty list.
    """
    if text[i] != "[":
        end = text.find(",", i)
        return [], (len(text) if end < 0 else end)
    values = []
    i += 1
    while True:
        char = text[i]
        if char == "]":
            return values, i + 1
        if char == '"':
            value, i = _string(text, i)
            values.append(value)
        elif text.startswith("...", i):
            values.append("...")
            i += 3
        else:
            i += 1  # ", " between elements


def _exec_args(name: str, args: str):
    """(path, argv) of an execve/execveat argument text ``(...)``."""
    i = 1
    if name == "execveat":  # dirfd first
        i = args.index(", ", i) + 2
    if args[i] == '"':
        path, i = _string(args, i)
    else:  # an address: the path was unreadable
        path, i = "", args.index(",", i)
    argv, _ = _array(args, args.index(", ", i) + 2)
    return path, argv


class Parser:
    """Turns chunks of strace output into events (see the module docstring)."""

    def __init__(self):
        self._rest = b""
        self._pending = {}  # pid -> (name, entry time_ns, text before "<unfinished ...>")

    def pending_forks(self) -> int:
        """How many fork-like calls have been entered and not yet returned."""
        return sum(1 for name, _, _ in self._pending.values() if name in FORKS)

    def feed(self, data: bytes) -> list:
        """Events of the complete lines in ``data`` (a partial line waits for the next chunk)."""
        if self._rest:
            data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()
        out = []
        for raw in lines:
            try:
                event = self._line(raw.decode("utf-8", "surrogateescape"))
            except (ValueError, IndexError, KeyError):
                continue  # not a line of ours: strace's own message, or cut short
            if event is not None:
                out.append(event)
        return out

    def _line(self, line: str):
        pid_text, _, rest = line.partition(" ")
        ts_text, _, body = rest.lstrip(" ").partition(" ")
        pid, time_ns = int(pid_text), _time_ns(ts_text)
        head = body[:3]
        if head == "+++":
            return self._exit(pid, time_ns, body)
        if head == "---":
            return self._signal(pid, time_ns, body)
        if head == "<..":
            name = body[5:body.index(" resumed>")]
            entry = self._pending.pop(pid, None)
            if entry is None or entry[0] != name:
                if name not in EXECS:
                    return None
                # A thread's exec resumes in the leader's pid ("superseded by execve").
                entry = next((self._pending.pop(p) for p, e in list(self._pending.items())
                              if e[0] in EXECS), None)
                if entry is None:
                    return None
            name, time_ns, head_text = entry
            return self._call(pid, time_ns, name, head_text + body[body.index("resumed>") + 8:])
        paren = body.find("(")
        if paren <= 0:
            return None
        name = body[:paren]
        if name not in FORKS and name not in EXECS:
            return None
        if body.endswith(_UNFINISHED):
            self._pending[pid] = (name, time_ns, body[paren:-len(_UNFINISHED)])
            return None
        return self._call(pid, time_ns, name, body[paren:])

    @staticmethod
    def _call(pid, time_ns, name, text):
        """A finished call ``(ARGS) = RESULT``; only successful ones are events."""
        cut = text.rfind(" = ")
        result = text[cut + 3:].split(" ", 1)[0]
        if not result.isdigit():  # -1 ERRNO, or ? (restarted, or the process died)
            return None
        args = text[:cut].rstrip()
        if name in EXECS:
            path, argv = _exec_args(name, args)
            return Exec(pid, time_ns, path, argv)
        return Fork(pid, time_ns, int(result), "CLONE_THREAD" in args)

    @staticmethod
    def _exit(pid, time_ns, body):
        if body.startswith("+++ exited with "):
            return Exit(pid, time_ns, int(body[16:].split(" ", 1)[0]), None, False)
        if body.startswith("+++ killed by "):
            name = body[14:].split(" ", 1)[0]
            return Exit(pid, time_ns, None, name, "(core dumped)" in body)
        return None  # "superseded by execve": the exec itself says it

    @staticmethod
    def _signal(pid, time_ns, body):
        if not body.startswith("--- SIGCHLD {"):
            return None
        fields = dict(item.partition("=")[::2]
                      for item in body[13:body.rindex("}")].split(", "))
        if fields.get("si_code") not in ("CLD_EXITED", "CLD_KILLED", "CLD_DUMPED"):
            return None
        return ChildTimes(pid, time_ns, int(fields["si_pid"]), int(fields["si_utime"]),
                          int(fields["si_stime"]))
