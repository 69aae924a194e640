"""Typed errors.  Only ``cli.main`` turns them into messages and exit statuses."""


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


class MissingPackage(TraceexecError):
    """A subcommand needs a Python package that this interpreter does not have."""

    def __init__(self, subcommand: str, package: str, module: str):
        self.subcommand, self.package, self.module = subcommand, package, module
        super().__init__("%s needs the Python package %s (no module %s here): pip install %s, "
                         "or pip install . in traceexec's checkout for everything"
                         % (subcommand, package, module, package))


class ConfigError(TraceexecError):
    """An export setting (flag, otel block or OTEL_* variable) is wrong."""


class SourceError(TraceexecError):
    """A problem in a file, with the place it is at (``file:line[:column]``)."""

    def __init__(self, message, path=None, line=None, column=None):
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        super().__init__(str(self))

    @property
    def where(self):
        if self.path is None:
            return ""
        where = str(self.path)
        if self.line is not None:
            where += ":%d" % self.line
            if self.column is not None:
                where += ":%d" % self.column
        return where

    def __str__(self):
        where = self.where
        return "%s: %s" % (where, self.message) if where else self.message
