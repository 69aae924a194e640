"""DAG variables: ``$VAR``/``${VAR}`` expansion, params, and their layering.

A step sees, from strongest to weakest: its own ``env``, outputs of earlier
steps, the DAG's ``env``, ``params``, ``dotenv`` files, then the process
environment.  ``DAG_NAME`` and ``DAG_RUN_ID`` are always set.  Positional
params are ``$1``, ``$2``...

    >>> expand("${A}/x $B $C ${D:-d}", {"A": "a", "B": "b"})
    'a/x b  d'
"""
from __future__ import annotations

import re
import shlex

_REFERENCE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*|[1-9][0-9]*)(:-[^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*|[1-9]))")
_NAMED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_BACKTICKS = re.compile(r"`([^`]*)`")


def expand(text, lookup, *, positional=(), keep_unknown=False) -> str:
    """``text`` with ``$NAME``, ``${NAME}``, ``${NAME:-default}`` and ``$1`` replaced.

    Unknown names become empty, as in the shell, or stay as written with
    ``keep_unknown`` (for script bodies, whose own variables are theirs).
    """
    if not isinstance(text, str) or "$" not in text:
        return text

    def replace(match):
        name = match.group(1) or match.group(3)
        default = match.group(2)
        if name.isdigit():
            index = int(name)
            value = positional[index - 1] if 1 <= index <= len(positional) else None
        else:
            value = lookup.get(name)
        if default is not None and not value:
            return default[2:]
        if value is None:
            return match.group(0) if keep_unknown else ""
        return value

    return _REFERENCE.sub(replace, text)


def substitute_commands(text, env, cwd) -> str:
    """`` `cmd` `` replaced by the trimmed output of ``sh -c cmd`` (Dagu's env values)."""
    if not isinstance(text, str) or "`" not in text:
        return text
    import subprocess

    def run(match):
        done = subprocess.run(["/bin/sh", "-c", match.group(1)], env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        return done.stdout.decode("utf-8", "replace").strip()

    return _BACKTICKS.sub(run, text)


def parse_params(text) -> list:
    """``[(name or None, value)]`` from ``"A=1 B='two words' pos"``.

    Raises ValueError on unbalanced quotes.
    """
    params = []
    for word in shlex.split(text or ""):
        match = _NAMED.match(word)
        params.append((match.group(1), match.group(2)) if match else (None, word))
    return params


def format_params(params) -> str:
    """The inverse of ``parse_params``: one string for ``--params``."""
    return " ".join(shlex.quote("%s=%s" % (n, v) if n else v) for n, v in params)


def override_params(defaults, overrides) -> list:
    """Named params replaced by name (new ones appended), positional ones by position."""
    result = list(defaults)
    positional_slots = [i for i, (name, _) in enumerate(result) if name is None]
    given_positional = 0
    for name, value in overrides:
        if name is None:
            if given_positional < len(positional_slots):
                result[positional_slots[given_positional]] = (None, value)
            else:
                result.append((None, value))
            given_positional += 1
            continue
        for i, (existing, _) in enumerate(result):
            if existing == name:
                result[i] = (name, value)
                break
        else:
            result.append((name, value))
    return result


def load_dotenv(paths) -> dict:
    """Values from dotenv files, later files winning; missing files are skipped."""
    import os
    values = {}
    for path in paths:
        if not os.path.isfile(path):
            continue
        from dotenv import dotenv_values
        values.update({k: v or "" for k, v in dotenv_values(path).items()})
    return values


class Scope:
    """The variables of one DAG run, layered as documented above."""

    def __init__(self, environ, dag, params, run_id, *, commands=False):
        self.positional = [value for name, value in params if name is None]
        self.commands = commands
        self.values = dict(environ)
        self.defined = {}          # names the DAG itself defines (not the process's)
        self.set("DAG_NAME", dag.name)
        self.set("DAG_RUN_ID", run_id)
        for name, value in load_dotenv(dag.dotenv).items():
            self.set(name, value)
        cwd = dag.working_dir or dag.directory
        for name, value in params:
            if name is not None:
                self.set(name, self.evaluate(value, cwd))
        for name, value in dag.env:
            self.set(name, self.evaluate(value, cwd))

    def set(self, name, value):
        self.values[name] = value
        self.defined[name] = value

    def evaluate(self, text, cwd=None, values=None):
        """``text`` expanded; `` `cmd` `` substituted only when running (never in validate)."""
        values = self.values if values is None else values
        text = expand(str(text), values, positional=self.positional)
        return substitute_commands(text, values, cwd) if self.commands else text

    def layered(self, outputs, step_env, cwd=None) -> dict:
        """A step's variables: this scope, then ``outputs``, then the step's env in order."""
        values = dict(self.values)
        values.update(outputs)
        for name, value in step_env:
            values[name] = self.evaluate(value, cwd, values)
        return values
