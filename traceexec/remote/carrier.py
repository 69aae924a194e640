"""The remote command line that carries the trace context to the other host.

ssh hands its command words, joined by spaces, to the remote user's login shell.
``remote_line`` wraps that string, unchanged, in a fixed script: the context
goes in as ``env NAME=VALUE`` words and the user's string as the script's
argument, every value single-quoted, so no value is ever read as shell syntax
by either shell.  On the remote host the script runs the string under
``traceexec`` (its span a child of ours, with ``host.name``) when traceexec is
on PATH or in ~/.local/bin, else with the login shell as ssh would.
"""

import shlex

CARRIED = ("TRACEPARENT", "TRACESTATE", "BAGGAGE")
"""The variables written into the remote command line when set."""

def _settings_script() -> str:
    from .settings import REPLACED, SENT
    return ('if [ -n "$TRACEEXEC_SETTINGS" ]; then unset TRACEEXEC_SETTINGS %s; '
            'while IFS= read -r kv && [ -n "$kv" ]; do case $kv in %s) export "$kv";; '
            'esac; done; fi; ' % (" ".join(REPLACED), "|".join(n + "=*" for n in SENT)))


SETTINGS_SCRIPT = _settings_script()
"""With TRACEEXEC_SETTINGS set, reads ``settings.block`` from stdin up to its empty
line (``read`` takes one line and no byte more, so the command's stdin follows
intact) and exports the variables it names from ``settings.SENT`` only."""

SCRIPT = SETTINGS_SCRIPT + (
    'shell=${SHELL:-/bin/sh}; '
    'for t in traceexec "$HOME/.local/bin/traceexec"; do '
    'if command -v "$t" >/dev/null 2>&1; then '
    'if [ -z "$TRACEEXEC_HOMECOMING" ]; then '
    'exec "$t" --attr "host.name=$(uname -n)" --shell "$shell" -c "$1"; fi; '
    "printf '\\036traceexec-spans started\\n' >&2; "
    '"$t" --attr "host.name=$(uname -n)" --shell "$shell" -c "$1"; s=$?; '
    'id=${TRACEPARENT#*-}; j=$("$t" show "${id%%-*}" --json 2>/dev/null); '
    "printf '\\036traceexec-spans %s %s\\n' \"$(date +%s%N)\" \"$j\" >&2; exit $s; fi; done; "
    'exec "$shell" -c "$1"')
"""Runs $1 (the user's command string) under traceexec when there is one.  With
TRACEEXEC_HOMECOMING set, it says so first in a frame (STARTED), then writes the
trace's spans from the remote store to stderr as one frame (HOMECOMING_MARK, the
remote clock in nanoseconds, the OTLP/JSON line) for ``homecoming`` to take out."""
HOMECOMING_MARK = b"\x1etraceexec-spans "
STARTED = b"started"
"""The frame the remote script sends before the command: a later connection may
find its spans even when this one is cut."""

FETCH_SCRIPT = (
    'for t in traceexec "$HOME/.local/bin/traceexec"; do '
    'if command -v "$t" >/dev/null 2>&1; then '
    'id=${TRACEPARENT#*-}; p=${id#*-}; p=${p%%-*}; n=0; '
    'while :; do j=$("$t" show "${id%%-*}" --json 2>/dev/null); '
    'case $j in *"\\"$p\\""*) break;; esac; '
    'n=$((n+1)); [ "$n" -ge 50 ] && break; sleep 0.2; done; '
    "printf '\\036traceexec-spans %s %s\\n' \"$(date +%s%N)\" \"$j\"; exit 0; fi; done; "
    "printf '\\036traceexec-spans none\\n'")
"""Run on a later connection (after one with a terminal, or cut): writes the trace's
spans from the remote store to stdout as one frame, once a span under TRACEPARENT's
is there (it may be recorded just after a cut), or after about 10 s of looking; a
host without traceexec answers with an empty frame (``none``): nothing is kept there."""


def fetch_line(environ) -> str:
    """The command for a later connection that brings the spans under ours."""
    words = ["exec", "env"] + [shlex.quote("%s=%s" % (name, environ[name]))
                               for name in ("TRACEPARENT",) if environ.get(name)]
    return " ".join(words + ["sh", "-c", shlex.quote(FETCH_SCRIPT)])


def remote_line(command_words: list, environ, homecoming=False, settings=False) -> str:
    """The one string for ssh's command position, e.g.
    ``exec env TRACEPARENT='00-…' sh -c '<SCRIPT>' traceexec-ssh 'ls -l'``."""
    words = ["exec", "env"]
    for name in CARRIED:
        value = environ.get(name)
        if value:
            words.append(shlex.quote("%s=%s" % (name, value)))
    if homecoming:
        words.append("TRACEEXEC_HOMECOMING=1")
    elif settings:  # this host's collector settings come first on stdin
        words.append("TRACEEXEC_SETTINGS=1")
    words += ["sh", "-c", shlex.quote(SCRIPT), "traceexec-ssh",
              shlex.quote(" ".join(command_words))]
    return " ".join(words)
