"""Regular expressions compiled at their first use, for modules that compile many at import.

Compiling a pattern runs ``re``'s compiler, written in Python: PyYAML's import
compiles ten (its resolver's implicit types, a timestamp, a printable check),
65 million instructions, two thirds of its import and a quarter of a one-step
DAG's start, while a DAG file usually needs two or three of them.

    yaml = import_lazily("yaml")   # its patterns compile when first matched

A ``LazyPattern`` is not the pattern object: ``match.re is PATTERN`` and
``isinstance(PATTERN, re.Pattern)`` are false, and ``re.sub(PATTERN, ...)`` refuses
it; only for code that calls its methods (PyYAML's does).
"""
from __future__ import annotations


class LazyPattern:
    """Stands for ``re.compile(pattern, flags)``; compiles on the first attribute used,
    then keeps the pattern's attributes as its own, so later uses cost what a pattern's do."""

    def __init__(self, pattern, flags=0):
        self._arguments = (pattern, flags)
        self.pattern = pattern  # known without compiling (patterns are built from others)

    def __getattr__(self, name):
        import re
        compiled = re.compile(*self._arguments)
        for attribute in _ATTRIBUTES:
            setattr(self, attribute, getattr(compiled, attribute))
        return getattr(compiled, name)


_ATTRIBUTES = ("match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer",
               "flags", "groups", "groupindex")


def import_lazily(name: str):
    """Import module ``name`` with every ``re.compile`` of its import made lazy.

    For modules that only call the methods of their compiled patterns (``match``,
    ``search``...), as PyYAML does.  While the import runs, ``re.compile`` is replaced
    for the whole process: call it before other threads start.  Already imported:
    the module as it is.
    """
    import importlib
    import re
    import sys
    if name in sys.modules:
        return sys.modules[name]
    real = re.compile
    re.compile = LazyPattern
    try:
        return importlib.import_module(name)
    finally:
        re.compile = real
