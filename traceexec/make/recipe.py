"""A recipe line's side of ``--make``: traceexec started by make as its SHELL.

make runs ``traceexec-shell-<key> <.SHELLFLAGS> <line>`` (see setup and
traceexec.mk); traceexec runs ``<the Makefile's SHELL> <.SHELLFLAGS> <line>``,
the words make would have run bare, in a span named by the target.

With ``.ONESHELL``, make strips the ``@``, ``-`` and ``+`` prefixes of every
recipe line only when SHELL is a POSIX shell by name; traceexec does the same
for the shell it runs (``oneshell_script``), so a recipe means what it means
under that shell without traceexec.
"""

import os

from ..errors import UsageError
from . import names

POSIX_SHELLS = frozenset(("sh", "bash", "ksh", "rksh", "zsh", "ash", "dash"))
"""The shells GNU make treats as POSIX ones (its is_bourne_compatible_shell)."""


def is_launcher(argv0: str) -> bool:
    """True when traceexec was started as a shell launcher (cheap: a name check)."""
    return os.path.basename(argv0).startswith(names.PREFIX)


def is_register(argv0: str) -> bool:
    return os.path.basename(argv0) == names.REGISTER


def shell_words(argv0: str) -> list:
    """The Makefile's SHELL, as words, for this launcher; UsageError when unreadable."""
    try:
        with open(argv0 + names.WORDS, "rb") as handle:
            data = handle.read(1 << 20)
    except OSError as error:
        raise UsageError("%s: no shell recorded (%s)" % (argv0, error.strerror)) from None
    words = [os.fsdecode(word) for word in data.split(b"\0")[:-1]]
    if not words or not data.endswith(b"\0"):
        raise UsageError("%s: no shell recorded" % argv0)
    return words


def exec_shell(argv0: str, args: list) -> None:
    """Become the Makefile's shell with ``args``: for ``$(SHELL) ...`` written in a
    recipe (libtool's ``$(SHELL) ./libtool``), which is part of its line's span."""
    words = shell_words(argv0) + list(args)
    try:
        os.execvp(words[0], words)
    except OSError as error:
        raise UsageError("%s: %s" % (words[0], error.strerror)) from None


def options(argv0: str, args: list, environ):
    """The wrapper's options for a recipe line (or ``$(shell ...)``) make started."""
    from ..wrap.options import Options
    opts = Options()
    opts.make_shell = shell_words(argv0)
    opts.argv = opts.make_shell + list(args)
    target = environ.get(names.TARGET, "")
    if len(args) >= 2:
        opts.shell_string = args[-1]  # the line: the span's name when there is no target
        if "\n" in args[-1] and os.path.basename(opts.make_shell[0]) in POSIX_SHELLS:
            opts.argv[-1] = oneshell_script(args[-1])
    opts.name = line_name(opts.argv[-1] if opts.shell_string is not None else "") or None
    opts.attributes["make.target"] = target
    opts.lines = os.path.exists(os.path.join(environ.get(names.DIRECTORY, ""), names.LINES))
    # make gives its recipes MAKELEVEL one above its own; $(shell ...) gets make's
    # own environment (no target there, and MAKELEVEL absent at the top)
    level = environ.get("MAKELEVEL", "0")
    if level.isdigit():
        opts.attributes["make.level"] = int(level) - (names.TARGET in environ)
    return opts


class TracePipes:
    """The trace pipes of the run's traced recipe lines, as files in the run's directory:
    a sub-make started by a traced recipe line inherits that line's pipe on the trace
    descriptor, which its own recipe lines may then replace (lines/session.start)."""

    def __init__(self, environ):
        self.folder = os.path.join(environ.get(names.DIRECTORY, ""), names.LINES_PIPES)

    def _path(self, status) -> str:
        return os.path.join(self.folder, "%d-%d" % (status.st_dev, status.st_ino))

    def __contains__(self, status) -> bool:
        import stat
        return stat.S_ISFIFO(status.st_mode) and os.path.exists(self._path(status))

    def add(self, status) -> None:
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            os.close(os.open(self._path(status), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW,
                             0o600))
        except OSError:
            pass  # a sub-make's recipe lines then run without line spans, after one line


def warn_once(environ, warn):
    """``warn`` for the first recipe line of the run that calls it; silence after."""
    def once(message):
        try:
            os.close(os.open(os.path.join(environ.get(names.DIRECTORY, ""), names.LINES_TOLD),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        except OSError:
            return
        warn(message)
    return once


def line_name(line: str) -> str:
    """A recipe line's span name: its command's name (``$(SHELL) ./libtool``: libtool)."""
    for word in line.split():
        word = os.path.basename(word.strip(";&|()'\""))
        if word and "=" not in word and not is_launcher(word):
            return word
    return ""


def child_environment(child_env: dict) -> None:
    """The recipe's environment as make gives it bare (less what we were told)."""
    for name in names.TOLD:
        child_env.pop(name, None)


def is_forced(environ) -> bool:
    """make -B (--always-make): a single-letter flag in MAKEFLAGS's first word."""
    flags = environ.get("MAKEFLAGS", "")
    return bool(flags) and flags[0] not in " -" and "B" in flags.split()[0]


def adopt(opts, incoming, environ) -> dict | None:
    """Make the line a child of its target's span; the note to write when it ends.

    Every line of a target works out the same span id (targets.target_span_id);
    the outermost traceexec records that span from the notes when make ends."""
    target = opts.attributes.get("make.target")
    parent = incoming.parent
    directory = environ.get(names.DIRECTORY)
    if not target or parent is None or not directory:
        return None
    from ..wrap.context import SpanContext
    from . import targets
    make_pid = os.getppid()
    span_id = targets.target_span_id(parent.trace_id, parent.span_id, make_pid, target)
    incoming.parent = SpanContext(parent.trace_id, span_id, parent.flags)
    return {"id": span_id, "trace": parent.trace_id, "parent": parent.span_id,
            "flags": parent.flags, "pid": make_pid, "target": target,
            "level": opts.attributes.get("make.level", 0),
            "missing": not os.path.lexists(target), "forced": is_forced(environ),
            "phony": environ.get(names.PHONY) == "1",
            "newer": environ.get(names.NEWER, "").split(),
            "prereqs": environ.get(names.PREREQUISITES, "").split(),
            "path": os.path.join(directory, names.NOTES)}


def finish(note: dict, outcome) -> None:
    """Append the line's note (never raises: telemetry never harms the build)."""
    from . import targets
    note.update(start=outcome.start_ns, end=outcome.end_ns, status=outcome.exit_status)
    try:
        targets.note(note.pop("path"), note)
    except (OSError, ValueError):
        pass


def register(args: list, environ) -> str:
    """``traceexec-register [FLAGS...] 'SHELL traceexec:makefiles FILE...'``: the
    launcher for SHELL, then the words of the makefiles' ``.PHONY`` rules (phony.py).

    traceexec.mk runs this through ``$(shell ...)`` with the Makefile's SHELL as
    the command, which make passes as one argument, no shell between."""
    import shlex
    from . import phony, setup
    directory = environ.get(names.DIRECTORY, "")
    if not args or not directory:
        raise UsageError("%s: traceexec --make runs this, with a shell" % names.REGISTER)
    shell, mark, makefiles = args[-1].rpartition(names.MAKEFILES_MARK)
    if not mark:
        shell, makefiles = makefiles, ""
    try:
        words = shlex.split(shell)
    except ValueError:
        words = shell.split()
    if not words:
        words = list(names.DEFAULT_SHELL)
    return " ".join([setup.launcher(directory, words)] + phony.names(makefiles.split()))


def is_run_by_make() -> bool:
    """True when make itself started this process."""
    try:
        name = os.path.basename(os.readlink("/proc/%d/exe" % os.getppid()))
    except OSError:
        return False
    return name in ("make", "gmake") or name.endswith("-make")


def is_make_recipe(script: str) -> bool:
    """True when ``script`` is a .ONESHELL recipe that make handed to traceexec
    (``SHELL := traceexec`` in an edited Makefile).

    make never passes an unescaped newline except for a .ONESHELL recipe.
    """
    return "\n" in script.replace("\\\n", "") and "MAKELEVEL" in os.environ \
        and is_run_by_make()


def oneshell_script(script: str) -> str:
    """``script`` with the prefix characters of each recipe line removed, as make
    does for a POSIX shell: blanks and any of ``@-+`` at the start of each line
    that does not continue the previous one (backslash-newline)."""
    out = []
    i, n = 0, len(script)
    while i < n:
        while i < n and script[i] in " \t@-+":
            i += 1
        escaped = False
        while i < n:
            char = script[i]
            out.append(char)
            i += 1
            if char == "\\":
                escaped = not escaped
                continue
            if char == "\n" and not escaped:
                break
            escaped = False
    return "".join(out)


def command_line_shell(environ) -> str | None:
    """The ``SHELL=...`` given on make's command line, as MAKEFLAGS passes it on."""
    flags = environ.get("MAKEFLAGS", "")
    if flags.startswith("-- "):
        assignments = flags[3:]
    else:
        assignments = flags.partition(" -- ")[2]
    for word in assignments.split():
        if word.startswith("SHELL="):
            return word[6:]
    return None


def check_command_line_form(shell_flags: list, environ) -> None:
    """Refuse ``make SHELL=traceexec`` where it would change what the recipes mean.

    On make's command line, SHELL replaces the Makefile's own shell, but its
    ``.SHELLFLAGS`` stay: options written for that shell (``-o pipefail``...)
    would go to /bin/sh, and a failing build could pass.  Raises UsageError.
    """
    if not shell_flags or command_line_shell(environ) is None or not is_run_by_make():
        return
    raise UsageError(
        "make SHELL=traceexec replaces this Makefile's own SHELL, for which its "
        ".SHELLFLAGS are '%s -c': run 'traceexec --make -- make ...' instead"
        % " ".join(shell_flags))
