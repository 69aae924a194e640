"""Whether ``--lines`` can trace a command, and the command line that does it.

``plan`` returns a ``Plan`` (run its ``argv`` with its ``environment``) or
raises ``NotTraceable`` with the reason in a few words; the wrapper then says so
in one line and runs the command as it would without ``--lines``.

Traced: a script whose ``#!`` names bash (``/bin/bash``, ``/usr/bin/env bash``,
with options), ``bash [OPTIONS] SCRIPT ARGS`` or ``bash [OPTIONS] -c STRING ARGS``
(bash reads ``BASH_ENV`` for a command string too: a DAG step's command, a make
recipe line), with bash 5.0 or later.
Refused: anything else; a script that sets ``PS4`` or ``BASH_XTRACEFD`` itself,
reads its options (``$-``, ``SHELLOPTS``, ``set -o``, ``[[ -o xtrace ]]``: tracing
shows there as the ``x`` option, and a script must see what it sees bare) or
redirects descriptor 237 (``TRACE_FD``); a ``BASH_ENV`` already set (the preamble
is read through it).  Only the script file (or the command string) itself is read
for these: what it sources or evals is not.
"""

import os
import re
import subprocess

from ..errors import TraceexecError
from ..wrap import supervise

TRACE_FD = 237
"""The descriptor bash writes its trace to: out of the way of scripts' own
(3-9, ``{var}`` from 10, flock's customary 200, bash's own from 255 down)."""
PREAMBLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "preamble.bash")
OLDEST = (5, 0)
HEAD = 1 << 20
"""How much of a script is read to look for what makes it untraceable."""
_SETS_TRACING = re.compile(rb"\b(PS4|BASH_XTRACEFD)\b")
_READS_OPTIONS = re.compile(
    rb"\$-|\$\{#?-|\bSHELLOPTS\b"                       # $-, ${-}, ${#-}, SHELLOPTS
    rb"|(\[\[?|\btest)\s+-o\s+xtrace"                    # [[ -o xtrace ]]
    rb"|\bset\s+[-+]o\s*($|[;)|&`])"                     # set -o, set +o: the list
    rb"|\bshopt\s+-[a-z]*o", re.M)                      # shopt -po
_TURNS_XTRACE = re.compile(
    rb"\bxtrace\b|\bset\b[^\n;|&]*\s[-+][a-zA-Z]*x"      # set -x, set -o xtrace, set +ex
    rb"|\blocal\s+-(\s|$|;)", re.M)                    # local -: options back at return
_USES_OUR_FD = re.compile(rb"\b%d\s*[<>]|[<>]&\s*%d\b|\{?-?%d\}?\s*>&-" % ((TRACE_FD,) * 3))


class NotTraceable(TraceexecError):
    """``--lines`` cannot trace this command; it runs untraced.  ``quiet``: it would
    not start at all, and the plain run says so in its own words (126/127)."""

    def __init__(self, message, quiet=False):
        super().__init__(message)
        self.quiet = quiet


class Plan:
    """How to run the command traced."""

    def __init__(self, argv, bash, script, author_xtrace, command_string=False,
                 may_untrace=False):
        self.argv = argv
        self.bash = bash
        self.script = script                 # the script's path, or the command string
        self.author_xtrace = author_xtrace   # -x given to bash: the author's trace is on
        self.command_string = command_string  # bash -c STRING
        # its xtrace may be turned off past the span budget (untrace.py): the text
        # never turns xtrace on or off itself, nor brings options back (local -)
        self.may_untrace = may_untrace

    def environment(self, child_env) -> dict:
        env = dict(child_env)
        env["BASH_ENV"] = PREAMBLE
        env["TRACEEXEC_LINES_FD"] = str(TRACE_FD)
        return env


def _is_bash(word: str) -> bool:
    return os.path.basename(word) == "bash"


def _shebang(path: str) -> list:
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return []
    if not head.startswith(b"#!"):
        return []
    return os.fsdecode(head[2:].split(b"\n", 1)[0]).split()


def _bash_and_script(argv, env) -> tuple:
    """(bash as named, its path, its options, the script or command string, its
    arguments, whether it is a command string)."""
    try:
        path = supervise.resolve_command(argv[0], env)
    except supervise.CommandProblem:
        raise NotTraceable("%s would not start" % argv[0], quiet=True) from None
    if _is_bash(path) or _is_bash(argv[0]):
        options, i, string = [], 1, False
        while i < len(argv) and argv[i][:1] in "-+" and argv[i] not in ("-", "--"):
            word = argv[i]
            if word.startswith("--"):
                if word in ("--rcfile", "--init-file"):
                    options.append(word)
                    i += 1
            elif set(word[1:]) & set("si") or word[0] == "+" and "c" in word:
                raise NotTraceable("bash %s: only a script file or -c STRING can be traced"
                                   % word)
            elif "c" in word[1:]:
                string = True
            elif word in ("-o", "+o", "-O", "+O"):
                options.append(word)
                i += 1
            if i < len(argv):
                options.append(argv[i])
            i += 1
        if i < len(argv) and argv[i] == "--":
            options.append("--")
            i += 1
        if i >= len(argv):
            if string:
                raise NotTraceable("bash -c needs a command string", quiet=True)
            raise NotTraceable("bash reads its commands from stdin: only a script file "
                               "can be traced")
        return argv[0], path, options, argv[i], list(argv[i + 1:]), string
    words = _shebang(path)
    if not words:
        raise NotTraceable("%s is not a bash script" % argv[0])
    interpreter, options = words[0], words[1:]
    if os.path.basename(interpreter) == "env" and options:
        if options[0] == "-S":
            options = options[1:]
        interpreter, options = options[0], options[1:]
    if not _is_bash(interpreter):
        raise NotTraceable("%s is not a bash script (#!%s)" % (argv[0], " ".join(words)))
    try:
        bash = supervise.resolve_command(interpreter, env)
    except supervise.CommandProblem:
        raise NotTraceable("%s: %s not found" % (argv[0], interpreter)) from None
    if os.path.basename(words[0]) != "env":
        # the kernel passes everything after the interpreter as one argument
        options = [" ".join(options)] if options else []
    return interpreter, bash, options, path, list(argv[1:]), False


def bash_version(bash: str, env) -> tuple:
    try:
        out = subprocess.run([bash, "-c", 'echo "${BASH_VERSINFO[0]} ${BASH_VERSINFO[1]}"'],
                             env={"PATH": env.get("PATH", os.defpath)}, capture_output=True,
                             timeout=10, stdin=subprocess.DEVNULL).stdout.split()
        return tuple(int(part) for part in out[:2])
    except (OSError, ValueError, subprocess.SubprocessError):
        return ()


def check_script(script: str) -> bytes:
    """Raise NotTraceable when the script's own text rules tracing out; its text."""
    try:
        with open(script, "rb") as handle:
            text = handle.read(HEAD)
    except OSError:
        return b""  # bash will say why, as bare
    check_text(text, script)
    return text


def check_text(text: bytes, name: str) -> None:
    """Raise NotTraceable when ``text`` (a script's, ``name``) rules tracing out."""
    if _SETS_TRACING.search(text):
        raise NotTraceable("%s sets PS4 or BASH_XTRACEFD itself" % name)
    if _READS_OPTIONS.search(text):
        raise NotTraceable("%s reads its options ($-, SHELLOPTS, set -o), where tracing "
                           "would show" % name)
    if _USES_OUR_FD.search(text):
        raise NotTraceable("%s uses descriptor %d, which carries the trace" % (name, TRACE_FD))


def plan(argv, env) -> Plan:
    """The traced command line for ``argv``; raises NotTraceable."""
    if "BASH_ENV" in env:
        raise NotTraceable("BASH_ENV is set")
    if not os.path.isfile(PREAMBLE):
        raise NotTraceable("%s is missing (a broken install)" % PREAMBLE)
    named, bash, options, script, args, string = _bash_and_script(argv, env)
    version = bash_version(bash, env)
    if not version:
        raise NotTraceable("%s does not run" % bash)
    if version < OLDEST:
        raise NotTraceable("bash %d.%d is older than 5.0" % version)
    if string:
        text = os.fsencode(script)[:HEAD]
        check_text(text, "the command string")
    else:
        text = check_script(script)
    words = " ".join(options).split()
    author_xtrace = any(o.startswith("-") and not o.startswith("--") and "x" in o[1:]
                        for o in words) or "xtrace" in words
    return Plan([named] + options + [script] + args, bash, script, author_xtrace, string,
                may_untrace=bool(text) and not author_xtrace and
                len(text) < HEAD and not _TURNS_XTRACE.search(text))
