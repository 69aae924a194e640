"""The command lines of a step: which shell, which words, as Dagu builds them.

- The shell is the step's ``shell``, else (v2) the DAG's, else Dagu's default:
  ``$DAGU_DEFAULT_SHELL``, ``$SHELL``, else ``sh``.  ``shell: direct`` (and
  v2's ``exec:``) means no shell at all.
- v2 runs command lines and scripts with ``-e`` when the shell is a Unix one
  and the step did not name its own shell; v1 does not.
- A command line with no shell syntax is started directly, as the shell
  itself would (same process tree, same exit statuses, one exec fewer).
- Positional params are the shell's ``$1``...: ``shell -c LINE DAG_NAME ARG1...``.

Values are data.  ``$VAR`` is the shell's, from the environment the step gets;
Dagu's own forms (``${step.stdout}``, ``${VAR.field}``, ``${VAR:0:3}``), which
a shell cannot resolve, reach it as references to environment variables that
hold their values (``variables.shell_text``), never as pasted text.  Without a
shell the words are split first and each is evaluated once: a value is never
split, parsed or evaluated again.
"""
from __future__ import annotations

import os

from . import model
from .shellwords import split as split_words
from .variables import command_runner, evaluate, expand, shell_text, unescape_dollars

SHELL_CHARS = frozenset("$`\\|&;<>()*?[]{}~#\n'\"")
SHELL_WORDS = frozenset((
    ".", ":", "alias", "break", "case", "cd", "command", "continue", "eval", "exec", "exit",
    "export", "for", "getopts", "hash", "if", "jobs", "local", "read", "readonly", "return",
    "set", "shift", "source", "times", "trap", "type", "ulimit", "umask", "unalias", "unset",
    "until", "wait", "while", "!", "{", "function", "select", "[[", "echo", "printf", "test",
    "[", "true", "false", "pwd", "kill"))
UNIX_SHELLS = frozenset(("sh", "bash", "zsh", "ksh", "ash", "dash"))
OTHER_SHELLS = frozenset(("fish", "csh", "tcsh", "mksh", "yash", "nu", "xonsh", "elvish",
                          "pwsh", "powershell", "nix-shell", "busybox"))
KNOWN_SHELLS = UNIX_SHELLS | OTHER_SHELLS
DIRECT = "direct"


def is_plain(text: str) -> bool:
    """True when ``text`` is words a shell would only split: start it without a shell."""
    if not SHELL_CHARS.isdisjoint(text):
        return False
    words = text.split()
    return bool(words) and words[0] not in SHELL_WORDS and "=" not in words[0]


def default_shell(environ) -> list:
    """Dagu's default shell: ``$DAGU_DEFAULT_SHELL``, ``$SHELL``, else ``sh``."""
    # a step's layered variables (Layers) looked through layer by layer, here: the
    # Mapping's own ``get`` costs a generator and three calls, for each name each step
    layers = getattr(environ, "maps", (environ,))
    for name in ("DAGU_DEFAULT_SHELL", "SHELL"):
        for layer in layers:
            if name in layer:
                text = layer[name]
                if text:  # its words kept by text: a run's steps share one shell
                    return list(_WORDS.get(text) or _words(text))
                break
    return ["sh"]


_WORDS = {}
"""``$SHELL`` texts and their words, the oldest first (functools' lru_cache imports
functools, 3.4 M instructions of a warm 1-step run); a text found is not moved, so a
hit is one lookup (``default_shell``)."""
WORDS_KEPT = 64


def _words(text) -> tuple:
    words = _WORDS.get(text)
    if words is None:
        try:
            words = tuple(split_words(text)) or ("sh",)
        except ValueError:
            words = ("sh",)
        _keep(_WORDS, text, words, WORDS_KEPT)
    return words


def _keep(cache, key, value, limit):
    """``value`` kept for ``key`` in ``cache`` (this module's answers kept by text), the
    oldest let go once ``limit`` are kept; returns ``value``.  Found ones are not moved:
    a hit is one lookup."""
    if len(cache) >= limit:
        cache.pop(next(iter(cache)), None)
    cache[key] = value
    return value


class Invocation:
    """What one step runs: the argv of each process, in order, and how to describe it."""

    __slots__ = ("argvs", "script_path", "script_text", "env")

    def __init__(self, argvs, script_path=None, script_text=None, env=None):
        self.argvs = argvs
        self.script_path = script_path
        self.script_text = script_text
        self.env = env or {}        # values the processes' environment must carry


def shell_for(step, dag, values):
    """(shell argv, named by the step) for ``step``."""
    if step.shell:
        return [expand(w, values) for w in step.shell], True
    if dag.schema == model.V2 and dag.shell:
        return [expand(w, values) for w in dag.shell], False
    return default_shell(values), False


def _with_errexit(shell, dag, named) -> list:
    shell = list(shell)
    if (dag.schema == model.V2 and not named and os.path.basename(shell[0]) in UNIX_SHELLS
            and "-e" not in shell[1:]):
        shell.append("-e")
    return shell


def _shell_line(shell, line, dag, positional) -> list:
    words = list(shell)
    if "-c" not in words[1:]:
        words.append("-c")
    return words + [line, dag.name] + list(positional)


def build(step, dag, values, steps, *, defined=None, positional=(), script_path=None,
          cwd=None, shell=None) -> Invocation:
    """The processes ``step`` runs.  Raises ``variables.Unresolved`` for a bad reference.

    ``defined(values, step)`` gives the variables the DAG itself defines (params, env,
    outputs), asked only where they are needed: Dagu writes those into a script's text,
    for interpreters that are not shells.  ``shell``: ``shell_for(step, dag, values)``
    when the caller has it already.  ``script_path`` is needed for a script only.
    """
    shell, named = shell if shell is not None else shell_for(step, dag, values)
    direct = shell[0] == DIRECT
    if step.script is None and step.argv is None and not direct and not step.shell:
        # the most common step: command lines run by the DAG's shell
        lines = step.commands or ([step.command] if step.command is not None else [])
        if len(lines) == 1 and not is_language(shell):
            words = plain_words(lines[0])
            if words is not None:
                return Invocation([list(words)])
    full = _evaluator(values, steps, positional, cwd)
    if step.script is not None:
        if step.interpreter is not None:
            runner = [full(w) for w in step.interpreter]
        elif step.script.startswith("#!"):
            # Run by the interpreter it names, as Dagu does: the script file needs no
            # execute bit (files under TRACEEXEC_HOME are 0600).
            import shlex  # imports re: only where a line is split or quoted
            runner = shlex.split(step.script[2:].split("\n", 1)[0]) or ["/bin/sh"]
        elif direct:
            runner = []
        else:
            runner = _with_errexit(shell, dag, named)
        if is_shell(runner):
            # under shell: direct, Dagu evaluates the script first: \$ is then a plain $
            text, env = shell_text(unescape_dollars(step.script) if direct else step.script,
                                   values, steps)
        else:
            # Dagu writes values into the text for interpreters that are not shells
            # (python, node...): only where they cannot be code (pasting.py)
            from .pasting import paste  # only for scripts no shell runs
            env = {}
            text = paste(step.script, defined(values, step) if defined is not None else {},
                         steps, interpreter_name(runner), positional)
        return Invocation([runner + [script_path] + list(positional)], script_path, text, env)
    if step.argv is not None:
        return Invocation([[full(w) for w in step.argv]])
    lines = step.commands or ([step.command] if step.command is not None else [])
    argvs = []
    env = {}
    for line in lines:
        if direct:
            argvs.append([full(w) for w in direct_words(line)])
            continue
        if is_language(shell):  # shell: python3 runs the line as Python (Dagu pastes)
            from .pasting import paste  # only for lines no shell runs
            line = paste(line, defined(values, step) if defined is not None else {}, steps,
                         interpreter_name(shell), positional)
            argvs.append(_shell_line(shell, line, dag, positional))
            continue
        line, more = shell_text(line, values, steps, "TRACEEXEC_VALUE_%d_" % len(argvs))
        env.update(more)
        if is_plain(line) and not step.shell:
            argvs.append(line.split())
        else:
            argvs.append(_shell_line(_with_errexit(shell, dag, named), line, dag, positional))
    return Invocation(argvs, env=env)


def _evaluator(values, steps, positional, cwd):
    """The function evaluating one word of a step in full (`` `cmd` `` run in ``cwd``)."""
    run_commands = command_runner(values, cwd)

    def full(word):
        return evaluate(word, values, steps=steps, positional=positional, commands=run_commands)
    return full


_PLAIN = {}
"""Command lines and their words (None: not plain), the oldest first: the words of a
plain line depend on its text alone, and a run's steps share a few texts."""
PLAIN_KEPT = 256


def plain_words(line) -> tuple | None:
    """The words of ``line`` when it is plain (``is_plain``), else None; a line with a
    value of Dagu's in it (``${...}``) is never plain."""
    words = _PLAIN.get(line, False)
    if words is False:
        words = _keep(_PLAIN, line, tuple(line.split()) if is_plain(line) else None,
                      PLAIN_KEPT)
    return words


def _program(runner) -> list:
    """``runner`` without a leading ``env [-opts]``."""
    words = list(runner)
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return words


def is_shell(runner) -> bool:
    """True when ``runner`` (an argv prefix, [] for the kernel's choice) is a Unix shell."""
    words = _program(runner)
    return not words or os.path.basename(words[0]) in UNIX_SHELLS


def direct_words(line) -> list:
    """The words of a ``shell: direct`` line, split before any value is put in."""
    import shlex  # imports re: only where a line is split or quoted
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


_LANGUAGE = {}
"""Runners (as tuples) and whether each is a language's interpreter: a run has a few, and
each step with a command line asks (two basenames a step otherwise)."""


def is_language(runner) -> bool:
    """True when ``runner`` is another language's interpreter (python3, node), no shell."""
    key = tuple(runner)
    known = _LANGUAGE.get(key)
    if known is None:
        words = _program(key)
        known = _keep(_LANGUAGE, key,
                      bool(words) and os.path.basename(words[0]) not in KNOWN_SHELLS,
                      WORDS_KEPT)
    return known


def interpreter_name(runner) -> str:
    """The name of the program that runs a script (``python3``), for messages."""
    words = _program(runner)
    return os.path.basename(words[0]) if words else "script's"


def describe(step, dag) -> str:
    """One line saying what the step would run (dry run, graph)."""
    if step.call is not None:
        params = " ".join("%s=%s" % (n, v) if n else v for n, v in step.params)
        fan = " for each of %s" % (step.parallel.variable or "%d items" % len(
            step.parallel.items or [])) if step.parallel else ""
        return "%s %s%s%s" % ("run" if dag.schema == model.V1 else "call", step.call,
                              " with params " + params if params else "", fan)
    if step.script is not None:
        runner = step.interpreter or step.shell or (dag.shell if dag.schema == model.V2
                                                    else None) or ["$SHELL"]
        lines = step.script.count("\n") + 1
        return "script of %d line%s, run by %s" % (lines, "" if lines == 1 else "s",
                                                   " ".join(runner))
    if step.argv is not None:
        import shlex  # imports re: only where a line is split or quoted
        return " ".join(shlex.quote(w) for w in step.argv)
    lines = step.commands or [step.command]
    return " && ".join(lines)
