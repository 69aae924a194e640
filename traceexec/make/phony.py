"""The names a make's makefiles declare in ``.PHONY``, for ``make.reason``.

make 4.3 shows a recipe nothing of ``.PHONY``, and a rule that asks for its
prerequisites (``$^``) would make them, so traceexec reads the ``.PHONY`` rules
from the makefiles make read (``$(MAKEFILE_LIST)``), once per make, when it
asks for its shell's launcher.  It reads text only and runs nothing: a name
written out is taken as it is, a variable reference ``$(NAME)`` goes back to
make as ``$NAME``, which traceexec.mk expands only when that variable holds
plain text (a simple variable, or a recursive one without ``$``), so no
``$(shell ...)`` runs twice.  Anything else (a function call) is left out.
"""

import re

MAX_BYTES = 8 * 1024 * 1024
"""What is read of one makefile at most."""
MAX_NAMES = 100_000
_RULE = re.compile(r"\s*\.PHONY\s*::?(?![:=])(.*)", re.S)
_REFERENCE = re.compile(r"\$(?:\(([^$(){}:=#\s]+)\)|\{([^$(){}:=#\s]+)\})\Z")
_DEFINE = re.compile(r"\s*(?:(?:override|export|private)\s+)*define(?:\s|\Z)")
_ENDEF = re.compile(r"\s*endef(?:\s|\Z)")


def logical_lines(text: str) -> list:
    """make's lines: a backslash-newline joins two lines with a blank."""
    return re.sub(r"\\\n\s*", " ", text).split("\n")


def _uncommented(line: str) -> str:
    """``line`` up to its comment (a '#' without a backslash before it)."""
    at = 0
    while True:
        at = line.find("#", at)
        if at < 0:
            return line
        if at == 0 or line[at - 1] != "\\":
            return line[:at]
        at += 1


def _words(text: str) -> list:
    """``text`` split at blanks outside ``$(...)`` and ``${...}``."""
    words, word, depth = [], [], 0
    for char in text:
        if char in "({" and word and word[-1] == "$" or depth and char in "({":
            depth += 1
        elif char in ")}" and depth:
            depth -= 1
        elif char.isspace() and not depth:
            if word:
                words.append("".join(word))
                word = []
            continue
        word.append(char)
    if word:
        words.append("".join(word))
    return words


def declared(text: str) -> list:
    """The words of ``.PHONY`` rules in one makefile's ``text``: names, and ``$NAME``
    for a variable reference; recipe lines and ``define`` bodies are skipped."""
    found, depth = [], 0
    for line in logical_lines(text):
        if depth:
            depth += bool(_DEFINE.match(line)) - bool(_ENDEF.match(line))
            continue
        if _DEFINE.match(line):
            depth = 1
            continue
        if line.startswith("\t"):
            continue
        rule = _RULE.match(_uncommented(line))
        if not rule:
            continue
        for word in _words(rule.group(1).split(";", 1)[0]):
            if "$" not in word:
                found.append(word)
            else:
                reference = _REFERENCE.match(word)
                if reference:
                    found.append("$" + (reference.group(1) or reference.group(2)))
    return found


def names(paths: list) -> list:
    """The ``.PHONY`` words of these makefiles, each once (unreadable ones left out)."""
    seen = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_BYTES).decode("utf-8", "surrogateescape")
        except OSError:
            continue
        for word in declared(text):
            seen.setdefault(word, None)
            if len(seen) >= MAX_NAMES:
                return list(seen)
    return list(seen)
