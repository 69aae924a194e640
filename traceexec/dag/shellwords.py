"""``shlex.split`` without importing ``shlex`` (it imports ``re``) for the common text.

A text of printable characters without quotes or backslashes is, to ``shlex.split``,
words between spaces: ``$SHELL`` (``/bin/bash``), which every step without a shell of
its own is run by, is one.  Anything else goes to ``shlex.split`` itself.

    split("/bin/bash -e")   # ['/bin/bash', '-e']
"""
from __future__ import annotations

_QUOTING = frozenset("\"'\\")


def split(text: str) -> list:
    """``shlex.split(text)``; raises ValueError as it does (unbalanced quotes)."""
    if text.isprintable() and _QUOTING.isdisjoint(text):
        return [word for word in text.split(" ") if word]
    import shlex
    return shlex.split(text)
