r"""Values written into a script that no shell runs (python3, node...).

Dagu writes the DAG's values into such a script's text (``print("${NAME}")``);
there no environment variable can stand in for them, since the text is another
language's.  So a value is written only where it cannot be code:

- inside a string literal on its line (``"..."``, ``'...'`` or a backtick
  template) of Python or JavaScript (python3, node; for JavaScript only before
  any ``/`` on the line, since a regular expression's quotes are not strings), any value, every character
  but letters, digits, spaces and ``_.,:+=@%-`` (and ``/`` for Python) written
  as ``\xNN`` or ``\uNNNN``: both languages read those back as the character,
  and none of them can end a string, a comment, a template or a regular
  expression, or open an f-string's ``{``;
- inside a string literal of another interpreter (ruby, perl...), whose strings
  may interpolate, a value made of letters, digits, spaces and ``_.,:/+=@%-``;
- anywhere else, a number (``42``, ``-1.5``).

Any other value fails the step with one line that names the reference; the step's
environment carries the DAG's variables, so the script can read them from there
(``os.environ["NAME"]``, ``process.env.NAME``).  As in Dagu, a reference written
between single quotes alone (``'${NAME}'``) and ``\$`` stay as written, and a
name the DAG does not define is the script's own.

    >>> paste('print("${A}", ${N})', {"A": "it's", "N": "3"}, {}, "python3")
    'print("it\\x27s", 3)'
"""
from __future__ import annotations

from ..lazyregex import LazyPattern
from .variables import (_DOTTED, _ESCAPED_DOLLAR, _REFERENCE, Unresolved, _dotted, _plain)

# compiled when a step first pastes (a script for python, node...): most runs never do
_PASTED = LazyPattern(_ESCAPED_DOLLAR.pattern + "|" + _DOTTED.pattern + "|" + _REFERENCE.pattern)
_QUOTES = "\"'`"
_WORD_MARKS = frozenset(" _.,:/+=@%-")
_NUMBER = LazyPattern(r"-?[0-9]+(?:\.[0-9]+)?\Z")
_ESCAPING = ("python", "pypy", "node")
"""Interpreters whose string literals read ``\\xNN`` and ``\\uNNNN`` alike."""
_PLAIN_IN_ESCAPED = frozenset(" _.,:+=@%-")


class CodeValue(Unresolved):
    """A value that the script's interpreter could read as code where it would be written."""


def is_inert_word(value: str) -> bool:
    """True when ``value`` cannot end or escape a string literal in any common language."""
    return all(c.isalnum() or c in _WORD_MARKS for c in value)


def _is_raw_or_bytes(text, quote_at) -> bool:
    """True when the quote at ``quote_at`` opens Python's r"..." or b"..." (rb, Rb, fr...)."""
    start = quote_at
    while start > 0 and quote_at - start < 2 and text[start - 1].isalpha():
        start -= 1
    prefix = text[start:quote_at]
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return False  # the end of a name (JavaScript's return"..."), not a prefix
    return any(c in "rRbB" for c in prefix)


class _QuoteState:
    """Which quote the text is inside at a position, scanning forward once, line by line."""

    def __init__(self, text):
        self.text = text
        self.position = 0
        self.quote = None
        self.prefixed = False   # r"..." or b"...": escapes do not give the characters
        self.slashed = False    # a / outside quotes on this line: JavaScript's regular
        #                         expressions (/'/) make the quotes after it unreliable

    def at(self, end):
        text, quote, i = self.text, self.quote, self.position
        while i < end:
            c = text[i]
            if c == "\n":
                quote = None
                self.slashed = False
            elif quote is None:
                if c == "/":
                    self.slashed = True
                elif c in _QUOTES:
                    quote = c
                    self.prefixed = _is_raw_or_bytes(text, i)
            elif c == "\\":
                i += 1
            elif c == quote:
                quote = None
            i += 1
        self.position, self.quote = max(i, end), quote
        return quote

    def skip(self, end):
        """The text up to ``end`` is a reference: no quote in it."""
        self.position = end


def paste(text, defined, steps, interpreter, positional=()) -> str:
    """``text`` with the DAG's references replaced by values that cannot be code.

    ``defined`` holds the variables the DAG defines (params, env, dotenv, outputs,
    positional params as ``"1"``...); ``steps`` the step views for ``${id.stdout}``;
    ``interpreter`` names the interpreter in errors.
    Raises ``CodeValue`` for a value that could be code where it stands, and
    ``variables.Unresolved`` for a missing field of a known variable or step.
    """
    if not isinstance(text, str) or "$" not in text:
        return text
    state = _QuoteState(text)

    def replace(match):
        whole = match.group(0)
        start, end = match.span()
        quote = state.at(start)
        state.skip(end)
        if state.slashed and interpreter.startswith("node"):
            quote = None  # after a / the quotes may be a regular expression's: not a string
        if match.group(1) is not None:  # \$: stays as written, for the interpreter
            return whole
        if start > 0 and text[start - 1:start] == "'" and text[end:end + 1] == "'":
            return whole  # '${NAME}': Dagu leaves it alone
        if match.group(2) is not None:
            name = match.group(2)
            if name not in defined and name not in steps:
                return whole
            value = _dotted(name, match.group(3), defined, steps)
        else:
            name = match.group(4) or match.group(6)
            modifier = match.group(5)
            if name not in defined:
                if modifier is not None and modifier.startswith(":-"):
                    return modifier[2:]  # the script's own default, as written
                return whole
            value = _plain(match, defined, positional, 3, False)
        if quote is not None and not state.prefixed and interpreter.startswith(_ESCAPING):
            # JavaScript's / could end a regular expression or a /* comment */ it is in
            return escaped(value, "/" if not interpreter.startswith("node") else "")
        _check(whole, value, quote, interpreter)
        return value

    return _PASTED.sub(replace, text)


def escaped(value: str, plain: str = "") -> str:
    """``value`` for a Python or JavaScript string literal: letters, digits, spaces,
    ``_.,:+=@%-`` and ``plain`` as they are, every other character as an escape both
    languages read."""
    out = []
    for c in value:
        if c.isalnum() or c in _PLAIN_IN_ESCAPED or c in plain or ord(c) > 0xFFFF:
            out.append(c)
        elif ord(c) < 0x100:
            out.append("\\x%02x" % ord(c))
        else:
            out.append("\\u%04x" % ord(c))
    return "".join(out)


def _check(reference, value, quote, interpreter):
    if quote is None:
        if _NUMBER.match(value):
            return
        raise CodeValue(
            "not writing %s into the %s script: it stands outside a string, where only a "
            "number is written; read it from the environment instead" % (reference, interpreter))
    if is_inert_word(value):
        return
    bad = next(c for c in value if not (c.isalnum() or c in _WORD_MARKS))
    raise CodeValue(
        "not writing %s into the %s script: its value holds %r (inside a string only letters, "
        "digits, spaces and _.,:/+=@%%- are written); read it from the environment instead"
        % (reference, interpreter, bad))
