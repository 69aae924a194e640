"""Typed errors.  Only ``cli.main`` turns them into messages and exit statuses.

The errors of the subcommands (``SourceError``, ``MissingPackage``) are defined in
``subcommand_errors`` and found here on first use, so that the wrapper does not
create their classes (a class costs about 175,000 instructions at start-up).
"""


def printable(text) -> str:
    r"""``text`` with control characters and lone surrogates escaped, safe for a terminal
    and sure to stay on one line.

    >>> print(printable("red \x1b[31m"))
    red \x1b[31m
    """
    text = str(text)
    if text.isprintable():  # lone surrogates are not printable either
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class TraceexecError(Exception):
    """Bad input from the user: one line of message, exit status 2."""

    exit_status = 2


class UsageError(TraceexecError):
    """The command line is wrong."""


class ConfigError(TraceexecError):
    """An export setting (flag, otel block or OTEL_* variable) is wrong."""


def __getattr__(name: str):
    if name in ("SourceError", "MissingPackage"):
        from . import subcommand_errors
        return getattr(subcommand_errors, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
