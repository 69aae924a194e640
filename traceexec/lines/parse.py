"""bash's xtrace lines, as the preamble's PS4 shapes them, into ``Record``s.

Each line starts with PS4 (its first character, ``\\x1e``, repeated once per level
of command substitution), then ``\\x1f``-separated fields, then the command as
bash prints it, which may run over several lines (a quoted newline).  A record
therefore ends where the next ``\\n\\x1e`` begins.
"""

START = b"\x1e"
SEP = b"\x1f"
FIELDS = 9
LONGEST = 1 << 16
"""A command text longer than this is cut (a huge here-string, say)."""


class Record:
    """One command bash is about to run."""

    __slots__ = ("status", "time_ns", "parent_pid", "pid", "lineno", "depth", "subshell",
                 "function", "source", "text", "level")

    def __init__(self, status, time_ns, parent_pid, pid, lineno, depth, subshell, function,
                 source, text, level):
        self.status = status          # $? before it: the previous command's exit status
        self.time_ns = time_ns
        self.parent_pid = parent_pid  # the pid whose line ran last before this one (fork)
        self.pid = pid                # $BASHPID
        self.lineno = lineno
        self.depth = depth            # ${#BASH_SOURCE[@]}: functions and sourced files
        self.subshell = subshell      # $BASH_SUBSHELL
        self.function = function      # ${FUNCNAME[0]}, "" at the top level
        self.source = source          # ${BASH_SOURCE[0]}
        self.text = text
        self.level = level            # xtrace's indirection level (command substitution)

    def __repr__(self):
        return "Record(%d:%d %r)" % (self.pid, self.lineno, self.text)


def _number(field: bytes, default=0) -> int:
    try:
        return int(field)
    except ValueError:
        return default


def parse_record(raw: bytes):
    """A ``Record`` from one record's bytes (leading ``\\x1e`` included), or ``None``."""
    body = raw.lstrip(START)
    level = len(raw) - len(body)
    parts = body.split(SEP, FIELDS)
    if len(parts) <= FIELDS:
        return None
    status, when, parent, pid, lineno, depth, subshell, function, source, text = parts
    seconds, _, fraction = when.replace(b",", b".").partition(b".")  # the locale's point
    if not seconds.isdigit():
        return None
    time_ns = int(seconds) * 1_000_000_000 + int((fraction + b"000000000")[:9] or 0)
    if text.endswith(b"\n"):
        text = text[:-1]
    return Record(_number(status, None), time_ns, _number(parent, None), _number(pid),
                  _number(lineno), _number(depth), _number(subshell),
                  function.decode("utf-8", "replace"), source.decode("utf-8", "replace"),
                  text[:LONGEST].decode("utf-8", "replace"), level)


class Parser:
    """Feed bytes as they come; get the records completed so far."""

    def __init__(self):
        self._pending = b""

    def feed(self, data: bytes) -> list:
        buffer = self._pending + data
        out = []
        start = 0
        while True:
            cut = buffer.find(b"\n" + START, start)
            if cut < 0:
                break
            out.append(buffer[start:cut + 1])
            start = cut + 1
        self._pending = buffer[start:]
        if len(self._pending) > 4 * LONGEST:  # a record without end: keep its head only
            self._pending = self._pending[:2 * LONGEST]
        return [r for r in map(parse_record, out) if r is not None]

    def finish(self) -> list:
        """The last record, once the stream has ended."""
        rest, self._pending = self._pending, b""
        if not rest.startswith(START):
            return []
        record = parse_record(rest)
        return [record] if record is not None else []
