"""Typed errors.  Only ``cli.main`` turns them into messages and exit statuses.

``TraceexecError``, ``UsageError``, ``ConfigError`` and ``UnsafeDirectory`` are defined in
``error_types``, the errors of the subcommands (``SourceError``, ``MissingPackage``) in
``subcommand_errors``; both are found here on first use, so that a wrapper that raises
none does not create their classes (about 90,000 instructions each).  The modules on the
wrapper's path name them as ``errors.UsageError`` where they raise or catch them.
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


def __getattr__(name: str):
    if name in ("TraceexecError", "UsageError", "ConfigError", "UnsafeDirectory"):
        from . import error_types
        return getattr(error_types, name)
    if name in ("SourceError", "MissingPackage"):
        from . import subcommand_errors
        return getattr(subcommand_errors, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
