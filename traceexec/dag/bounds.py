"""Bounded expansion: no DAG file may make ``validate``, ``dry`` or ``run`` build a
huge value.

A few bytes can ask for gigabytes: ``B: ${A}${A}${A}...``, ``C: ${B}${B}...``
grows tenfold an entry.  Before anything is expanded, ``check`` works out the
length each params default and env entry would reach, from the lengths of
what it references (the process environment's values, earlier entries), and
refuses the file at the entry's line when one would exceed ``MAX_VALUE`` or
all of them together ``MAX_WORK``.  While running, ``variables.evaluate``
stops any one value at ``MAX_VALUE`` too (a step output, a command's output).
"""
from __future__ import annotations

MAX_VALUE = 4 * 1024 * 1024
"""Bytes one expanded value may hold."""

MAX_WORK = 64 * 1024 * 1024
"""Bytes the expansion of a DAG's params and env entries may produce in all."""


def expanded_length(text, lengths) -> int:
    """The length ``text`` would have once expanded, given the lengths of the variables
    (a backtick command counts as written: its output is bounded when it runs)."""
    from .variables import EVALUATED
    if not isinstance(text, str):
        return len(str(text))
    total = 0
    position = 0
    for match in EVALUATED.finditer(text):
        total += match.start() - position
        position = match.end()
        if match.group(1) is not None:
            total += len(match.group(0))
        elif match.group(2) is not None:
            total += lengths.get(match.group(2), 0)
        else:
            name, modifier = match.group(4) or match.group(6), match.group(5)
            own = lengths.get(name, 0)
            if modifier is not None and modifier.startswith(":-"):
                own = max(own, len(modifier) - 2)
            total += own
    return total + len(text) - position


class Budget:
    """The lengths known so far and the expansion work done, for ``check``."""

    def __init__(self, environ):
        self.lengths = {name: len(value) for name, value in environ.items()}
        self.work = 0

    def check(self, entries, problem, lengths=None) -> bool:
        """Call ``problem(message, place)`` for the first of ``entries`` (name, text,
        place), in the order they are evaluated, whose expansion exceeds a bound; False
        then.  ``lengths`` (default: this budget's own) learns each entry's length."""
        lengths = self.lengths if lengths is None else lengths
        for name, text, place in entries:
            length = expanded_length(text, lengths)
            self.work += length
            if length > MAX_VALUE:
                problem("%s would expand to %d bytes, more than %d" % (
                    name, length, MAX_VALUE), place)
                return False
            if self.work > MAX_WORK:
                problem("expanding the variables up to %s would produce more than %d bytes"
                        % (name, MAX_WORK), place)
                return False
            if name is not None:
                lengths[name] = length
        return True
