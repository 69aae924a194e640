"""The script's own ``set -x``: what bash would have printed on its stderr.

Under ``--lines`` xtrace is always on and goes to traceexec's descriptor, so the
author's ``set -x`` changes nothing in bash; the reader prints, for the lines
run while the author's trace is on, what bare bash would have printed (PS4's
default ``+ ``, repeated per level of command substitution) on traceexec's
stderr, which is the script's unless the script redirected its own.
"""


def xtrace_change(text: str):
    """True (``set -x``), False (``set +x``) or None for a command's text.

    >>> xtrace_change("set -eux"), xtrace_change("set +o xtrace"), xtrace_change("echo -x")
    (True, False, None)
    """
    words = text.split()
    if not words or words[0] != "set":
        return None
    change = None
    for i, word in enumerate(words[1:], 1):
        if word == "--" or word[:1] not in "-+":
            break
        if word in ("-o", "+o"):
            if i + 1 < len(words) and words[i + 1] == "xtrace":
                change = word == "-o"
        elif "x" in word[1:] and word[1:].isalpha():
            change = word[0] == "-"
    return change


def echo_line(level: int, text: str) -> bytes:
    """The line bare bash prints for ``text`` at xtrace level ``level``."""
    return ("+" * max(1, level) + " " + text + "\n").encode("utf-8", "surrogateescape")
