"""An OpenSSH client command line, split the way ``ssh`` itself reads it.

``split(["-p", "2222", "host", "ls", "-l"])`` gives options ``["-p", "2222"]``,
the destination ``"host"`` and the remote command words ``["ls", "-l"]``.
Like ssh, options may also follow the destination (``ssh host -v ls``).
"""

from ..errors import UsageError

VALUED = set("bceilmopBDEFIJLOPQRSwW")
"""ssh's option letters that take a value (ssh(1), OpenSSH 9)."""
FLAGS = set("1246afgknqstvxACGKMNTVXYy")
"""ssh's option letters that take none."""
NOT_A_COMMAND = set("NWOQGVs")
"""Options after which the words are not a shell command (a subsystem, a control
request, a query, no command at all): the line goes to ssh untouched."""


class SshLine:
    """``options`` (with the destination among them, in place), ``destination``,
    ``command_at`` (index of the first command word in the whole line, or None),
    ``letters`` (every option letter seen), ``options_end`` (where options could
    be added before the destination: before its ``--`` when there is one)."""

    def __init__(self, args, destination, command_at, letters, options_end=0):
        self.args = list(args)
        self.destination = destination
        self.command_at = command_at
        self.letters = letters
        self.options_end = options_end

    @property
    def command(self) -> list:
        return [] if self.command_at is None else self.args[self.command_at:]

    def carries_context(self) -> bool:
        """True when the line runs a shell command that can carry the context."""
        return self.command_at is not None and not (self.letters & NOT_A_COMMAND)


def split(args: list) -> SshLine:
    """Read ``args`` (what follows ``ssh``); raises UsageError without a destination."""
    destination = None
    options_end = 0
    letters = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            if destination is None and i < len(args):
                destination, options_end, i = args[i], i - 1, i + 1
            break
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter in VALUED:
                    letters.add(letter)
                    if j + 1 == len(arg):  # the value is the next word
                        if i + 1 >= len(args):
                            raise UsageError("ssh: option -%s needs a value" % letter)
                        i += 1
                    break
                if letter not in FLAGS:
                    raise UsageError("ssh: unknown option -%s" % letter)
                letters.add(letter)
                j += 1
            i += 1
            continue
        if destination is not None:
            break
        destination, options_end = arg, i
        i += 1
    if destination is None:
        raise UsageError("ssh: no destination (traceexec ssh [SSH OPTIONS] HOST [CMD...])")
    return SshLine(args, destination, i if i < len(args) else None, letters, options_end)
