"""The classes of ``errors``, made when one is first used: ``traceexec -- CMD`` raises
none, and a class costs about 90,000 instructions to create (four: 0.35 M).

Name them through ``errors`` (``errors.UsageError``, ``from .errors import
UsageError``); they are the same classes.
"""


class TraceexecError(Exception):
    """Bad input from the user: one line of message, exit status 2."""

    exit_status = 2


class UsageError(TraceexecError):
    """The command line is wrong."""


class ConfigError(TraceexecError):
    """An export setting (flag, otel block or OTEL_* variable) is wrong."""


class UnsafeDirectory(OSError):
    """A directory traceexec would write in belongs to someone else, or others may
    write in it (where they could plant links or read spans)."""
