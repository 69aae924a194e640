"""Typed errors of the subcommands: a problem in a DAG file, a missing package.

Importable as ``traceexec.errors.SourceError`` and ``traceexec.errors.MissingPackage``
too; kept apart so that ``traceexec -- CMD`` does not create these classes.
"""

from .errors import TraceexecError


class MissingPackage(TraceexecError):
    """A subcommand needs a Python package that this interpreter does not have."""

    def __init__(self, subcommand: str, package: str, module: str):
        self.subcommand, self.package, self.module = subcommand, package, module
        super().__init__("%s needs the Python package %s (no module %s here): pip install %s, "
                         "or pip install . in traceexec's checkout for everything"
                         % (subcommand, package, module, package))



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
