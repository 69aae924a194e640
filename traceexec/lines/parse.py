"""bash's xtrace lines, as the preamble's PS4 shapes them, into ``Record``s.

Each line starts with PS4 (its first character, ``\\x1e``, repeated once per level
of command substitution), then ``\\x1f``-separated fields, then the command as
bash prints it, which may run over several lines (a quoted newline).  A record
therefore ends where the next ``\\n\\x1e`` begins.

A script can print hundreds of thousands of lines a second, so fields stay
bytes until a line becomes a span (``text``, ``function_name``...).
"""

START = b"\x1e"
SEP = b"\x1f"
FIELDS = 9
LONGEST = 1 << 16
"""A command text longer than this is cut (a huge here-string, say)."""


class Record:
    """One command bash is about to run (bytes as bash printed them, but for the numbers
    every line needs)."""

    __slots__ = ("status", "time_ns", "parent_pid", "pid", "lineno", "depth", "subshell",
                 "function", "source", "raw_text", "level")

    def __init__(self, status, time_ns, parent_pid, pid, lineno, depth, subshell, function,
                 source, raw_text, level):
        self.status = status          # $? before it: the previous command's exit status
        self.time_ns = time_ns
        self.parent_pid = parent_pid  # bytes: the pid whose line ran last before (a fork)
        self.pid = pid                # bytes: $BASHPID
        self.lineno = lineno          # bytes
        self.depth = depth            # ${#BASH_SOURCE[@]}: functions and sourced files
        self.subshell = subshell      # bytes: $BASH_SUBSHELL
        self.function = function      # bytes: ${FUNCNAME[0]}, empty at the top level
        self.source = source          # bytes: ${BASH_SOURCE[0]}
        self.raw_text = raw_text
        self.level = level            # xtrace's indirection level (command substitution)

    @property
    def text(self) -> str:
        return self.raw_text[:LONGEST].decode("utf-8", "replace")

    def __repr__(self):
        return "Record(%s:%s %r)" % (self.pid, self.lineno, self.raw_text)


def number(field: bytes, default=0):
    try:
        return int(field)
    except ValueError:
        return default


def _record(chunk: bytes, level: int):
    parts = chunk.split(SEP, FIELDS)
    if len(parts) <= FIELDS:
        return None
    status, when, parent, pid, lineno, depth, subshell, function, source, text = parts
    stripped = status.lstrip(START)
    level += len(status) - len(stripped)
    seconds, _, fraction = when.replace(b",", b".").partition(b".")  # the locale's point
    try:
        time_ns = int(seconds) * 1_000_000_000 + int((fraction + b"000000000")[:9])
        status = int(stripped)
        depth = int(depth)
    except ValueError:
        return None
    return Record(status, time_ns, parent, pid, lineno, depth, subshell, function, source,
                  text, level)


class Parser:
    """Feed bytes as they come; get the records completed so far."""

    def __init__(self):
        self._pending = b"\n"   # as if a line ended before the first: every record alike

    def feed(self, data: bytes) -> list:
        chunks = (self._pending + data).split(b"\n" + START)
        self._pending = chunks.pop()
        if len(self._pending) > 4 * LONGEST:  # a record without end: keep its head only
            self._pending = self._pending[:2 * LONGEST]
        out = []
        append = out.append
        for chunk in chunks:
            record = _record(chunk, 1)
            if record is not None:
                append(record)
        return out

    def finish(self) -> list:
        """The last record, once the stream has ended."""
        rest, self._pending = self._pending, b""
        if rest.endswith(b"\n"):
            rest = rest[:-1]
        record = _record(rest, 1)
        return [record] if record is not None else []
