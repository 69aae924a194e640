"""DAG variables: ``$VAR``/``${VAR}`` expansion, Dagu's references, params, layering.

A step sees, from strongest to weakest: its own ``env``, outputs of earlier
steps, the DAG's ``env``, ``params``, ``dotenv`` files, then the process
environment.  Positional params are ``$1``, ``$2``...  Beyond the shell's
forms, Dagu's references are resolved here, before any shell sees them:

- ``${VAR.path.to[0].field}``: a field of a variable holding JSON;
- ``${step.stdout}``, ``${step.stderr}`` (log file paths), ``${step.exitCode}``,
  ``${step.output}``, ``${step.outputs.KEY}`` (a sub-DAG's outputs);
- ``${VAR:offset}``, ``${VAR:offset:length}``: substrings.

One that cannot be resolved raises ``Unresolved`` (a clear error, not a
shell's "Bad substitution").

    >>> expand("${A}/x $B $C ${D:-d} ${A:1:2}", {"A": "abc", "B": "b"})
    'abc/x b  d bc'
"""
from __future__ import annotations

from .bounds import MAX_VALUE
from ..jsontext import dumps
from ..lazyregex import LazyPattern

# compiled at their first use: a text without '$' needs none (8 million instructions)
_REFERENCE = LazyPattern(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*|[1-9][0-9]*)(:-[^}]*|:[0-9]+(?::[0-9]+)?)?\}"
    r"|([A-Za-z_][A-Za-z0-9_]*|[1-9]))")
_DOTTED = LazyPattern(r"\$\{([A-Za-z0-9_][A-Za-z0-9_]*)((?:\.[^}\s]+|\[[0-9]+\][^}\s]*))\}")
_PATH_PART = LazyPattern(r"\.([^.\[\]]+)|\[([0-9]+)\]")
_NAMED = LazyPattern(r"(?s)^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")  # (?s): re.S, without re
_ESCAPED_DOLLAR = LazyPattern(r"(?<!\\)((?:\\\\)*\\)\$")  # an odd run of backslashes, then $
EVALUATED = LazyPattern("`([^`]*)`|" + _DOTTED.pattern + "|" + _REFERENCE.pattern +
                        "|" + _ESCAPED_DOLLAR.pattern + "|'[^']*'")
_SUBSTRING = LazyPattern(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:[0-9]+(?::[0-9]+)?)\}")
STEP_PROPERTIES = (".stdout", ".stderr", ".exitCode", ".exit_code", ".output")


class Unresolved(ValueError):
    """A ``${...}`` reference that names nothing known."""


class ValueTooLarge(Unresolved):
    """An expansion that would exceed ``bounds.MAX_VALUE`` bytes."""


def _substring(value: str, spec: str) -> str:
    parts = spec[1:].split(":")
    start = int(parts[0])
    if len(parts) > 1:
        return value[start:start + int(parts[1])]
    return value[start:]


def expand(text, lookup, *, positional=(), keep_unknown=False) -> str:
    """``text`` with ``$NAME``, ``${NAME}``, ``${NAME:-default}``, ``${NAME:1:2}`` and ``$1``
    replaced.

    Unknown names become empty, as in the shell, or stay as written with
    ``keep_unknown`` (for script bodies, whose own variables are theirs).
    """
    if not isinstance(text, str) or "$" not in text:
        return text

    return _REFERENCE.sub(lambda m: _plain(m, lookup, positional, 0, keep_unknown), text)


def _plain(match, lookup, positional, base, keep_unknown):
    """The value of a ``$NAME``/``${NAME...}`` match (groups ``base+1`` to ``base+3``)."""
    name = match.group(base + 1) or match.group(base + 3)
    modifier = match.group(base + 2)
    if name.isdigit():
        index = int(name)
        value = positional[index - 1] if 1 <= index <= len(positional) else None
    else:
        value = lookup.get(name)
    if modifier is not None and modifier.startswith(":-"):
        if not value:
            return modifier[2:]
        return value
    if value is None:
        return match.group(0) if keep_unknown else ""
    if modifier is not None:
        return _substring(value, modifier)
    return value


class StepView:
    """What a reference may read of an earlier step: ``${id.stdout}`` and friends."""

    __slots__ = ("stdout", "stderr", "exit_code", "output", "touch")

    def __init__(self, stdout, stderr, exit_code, output, touch=None):
        self.stdout = stdout
        self.stderr = stderr
        self.exit_code = exit_code
        self.output = output
        self.touch = touch          # called with a log path before it is handed out


def walk_json(document, path: str):
    """The value at ``path`` (``.a.b[0]``) in parsed JSON; raises KeyError when missing."""
    value = document
    position = 0
    for match in _PATH_PART.finditer(path):
        if match.start() != position:
            raise KeyError(path)
        position = match.end()
        key, index = match.group(1), match.group(2)
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                raise KeyError(key)
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise KeyError(index)
            value = value[int(index)]
    if position != len(path):
        raise KeyError(path)
    return value


def _as_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return dumps(value)
    return str(value)


def _step_property(view: StepView, path: str):
    if path.startswith((".output.", ".output[", ".outputs.", ".outputs[")):
        if view.output is None:
            return None
        rest = path[len(".output"):] if path.startswith(".output.") or \
            path.startswith(".output[") else path
        import json  # a step's JSON output read back: json only where it is
        try:
            return _as_text(walk_json(json.loads(view.output), rest))
        except (ValueError, KeyError):
            return None
    prop, _, spec = path.partition(":")
    if prop in (".stdout", ".stderr"):
        log = view.stdout if prop == ".stdout" else view.stderr
        if view.touch is not None:
            view.touch(log)
        value = log
    elif prop in (".exitCode", ".exit_code"):
        value = "" if view.exit_code is None else str(view.exit_code)
    elif prop == ".output":
        value = view.output
    else:
        return None
    if value is not None and spec:
        value = _substring(value, ":" + spec)
    return value


def _dotted(name, path, values, steps) -> str:
    """The value of ``${name path}``: a step's property or a field of a JSON variable."""
    view = steps.get(name)
    if view is not None and path.split(":")[0].split("[")[0] in STEP_PROPERTIES:
        value = _step_property(view, path)
        if value is not None:
            return value
    if name in values:
        import json
        try:
            return _as_text(walk_json(json.loads(values[name]), path))
        except ValueError:
            raise Unresolved("${%s%s}: %s does not hold JSON" % (name, path, name)) from None
        except KeyError:
            raise Unresolved("${%s%s}: no such field in %s" % (name, path, name)) from None
    if view is not None:
        value = _step_property(view, path)
        if value is not None:
            return value
        raise Unresolved("${%s%s}: step %s has no %s" % (name, path, name, path[1:]))
    raise Unresolved("${%s%s}: no variable or step named %s" % (name, path, name))


def resolve_references(text, values, steps) -> str:
    """``text`` with every ``${NAME.path}`` resolved from JSON variables or step views.

    Raises Unresolved for one that names no variable or step, or a missing field.
    """
    if not isinstance(text, str) or "${" not in text:
        return text
    return _DOTTED.sub(lambda m: _dotted(m.group(1), m.group(2), values, steps), text)


def evaluate(text, values, *, steps=None, positional=(), commands=None, plain=None,
             keep_unknown=False) -> str:
    """``text`` with backticks, Dagu's references and ``$VAR`` forms replaced in one pass.

    What a reference or a command gives is a value: it is never scanned again, so
    a value holding `` `cmd` `` or ``$(cmd)`` stays text.  As in Dagu, ``\\$`` is a
    literal ``$`` and single-quoted text is kept as written.  ``commands`` runs the
    body of a `` `cmd` `` written in ``text`` itself and returns its output (None
    leaves backticks as written, for validate).  ``plain`` (default ``values``) is
    where ``$VAR`` forms are looked up; ``keep_unknown`` leaves unknown ones as written.

        >>> evaluate("${A}-${A:0:1}", {"A": "`x`"})
        '`x`-`'
    """
    if not isinstance(text, str) or ("$" not in text and "`" not in text):
        return text
    steps = {} if steps is None else steps
    plain = values if plain is None else plain
    room = [MAX_VALUE - len(text)]

    def replace(match):
        if match.group(1) is not None:
            value = commands(match.group(1)) if commands is not None else match.group(0)
        elif match.group(7) is not None:  # an odd run of backslashes: \$ is a literal $
            value = match.group(7)[:-1] + "$"
        elif match.group(0).startswith("'"):  # single-quoted text is kept as written
            value = match.group(0)
        elif match.group(2) is not None:
            value = _dotted(match.group(2), match.group(3), values, steps)
        else:
            value = _plain(match, plain, positional, 3, keep_unknown)
        room[0] -= len(value)
        if room[0] < 0:
            raise ValueTooLarge("%r would expand to more than %d bytes" % (
                text if len(text) < 60 else text[:57] + "...", MAX_VALUE))
        return value

    return EVALUATED.sub(replace, text)


def unescape_dollars(text) -> str:
    """``text`` with Dagu's ``\\$`` escapes made plain ``$`` (and nothing else changed)."""
    if not isinstance(text, str) or "\\$" not in text:
        return text
    return _ESCAPED_DOLLAR.sub(lambda m: m.group(1)[:-1] + "$", text)


def shell_text(text, values, steps=None, prefix="TRACEEXEC_VALUE_"):
    """(text, env): ``text`` for a shell, Dagu's references in it turned into references
    to environment variables that hold their values.

    A shell cannot resolve ``${VAR.field}`` or (dash) ``${VAR:1:2}``; pasting their
    values into the text would let the shell parse them.  Each becomes
    ``${TRACEEXEC_VALUE_n}`` (inside single quotes, ``'"${...}"'``), and ``env``
    holds the values the step's environment must carry.  ``$VAR`` stays the shell's.
    """
    if not isinstance(text, str) or "${" not in text:
        return text, {}
    steps = {} if steps is None else steps
    env = {}
    out = []
    quote = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and quote != "'":
            out.append(text[i:i + 2])
            i += 2
            continue
        if c in "'\"" and quote in (None, c):
            quote = None if quote else c
        elif c == "$":
            dotted = _DOTTED.match(text, i)
            match = dotted or _SUBSTRING.match(text, i)
            value = None
            if dotted is not None:
                value = _dotted(match.group(1), match.group(2), values, steps)
            elif match is not None and match.group(1) in values:
                value = _substring(values[match.group(1)], match.group(2))
            if value is not None:
                name = "%s%d" % (prefix, len(env) + 1)
                env[name] = value
                out.append(("'\"${%s}\"'" if quote == "'" else "${%s}") % name)
                i = match.end()
                continue
        out.append(c)
        i += 1
    return "".join(out), env


def references(text) -> list:
    """The names used as ``${NAME.path}`` in ``text`` (for validate)."""
    if not isinstance(text, str) or "${" not in text:
        return []
    return [m.group(1) for m in _DOTTED.finditer(text)]


def command_runner(env, cwd):
    """A function running `` `cmd` `` bodies with ``sh -c`` (Dagu's substitution in
    values written in the DAG file): it returns the trimmed output."""
    def run(body):
        import subprocess  # only where a value has `cmd` in it
        done = subprocess.run(["/bin/sh", "-c", body], env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        return done.stdout.decode("utf-8", "replace").strip()
    return run


def parse_params(text) -> list:
    """``[(name or None, value)]`` from ``"A=1 B='two words' pos"``.

    Raises ValueError on unbalanced quotes.
    """
    if not text:
        return []
    import shlex  # imports re: only for a run given params
    params = []
    for word in shlex.split(text):
        match = _NAMED.match(word)
        params.append((match.group(1), match.group(2)) if match else (None, word))
    return params


def format_params(params) -> str:
    """The inverse of ``parse_params``: one string for ``--params``."""
    if not params:
        return ""
    import shlex
    return " ".join(shlex.quote("%s=%s" % (n, v) if n else v) for n, v in params)


def params_json(params) -> str:
    """``DAG_PARAMS_JSON``: the named params as a JSON object ('' without any)."""
    named = {name: value for name, value in params if name is not None}
    return dumps(named) if named else ""


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

    def __init__(self, environ, dag, params, run_id, *, commands=False, cwd=None,
                 given=()):
        self.positional = [value for name, value in params if name is None]
        self.commands = commands
        self.values = dict(environ)
        self.defined = {}          # names the DAG itself defines (not the process's)
        self.set("DAG_NAME", dag.name)
        self.set("DAG_RUN_ID", run_id)
        for name, value in load_dotenv(dag.dotenv).items():
            self.set(name, value)
        cwd = cwd or dag.directory
        given = {name for name, _ in given}
        for name, value in params:
            if name is not None:  # a value the caller gave is data; the file's is evaluated
                self.set(name, value if name in given else
                         self._entry(name, value, cwd, dag.params_place))
        for index, value in enumerate(self.positional, 1):
            self.defined[str(index)] = value
        json_params = params_json([(n, self.values.get(n, v)) for n, v in params])
        if json_params:
            self.set("DAG_PARAMS_JSON", json_params)
            self.set("DAGU_PARAMS_JSON", json_params)
        places = list(dag.env_places) + [(dag.path, None)] * len(dag.env)
        for (name, value), place in zip(dag.env, places):
            self.set(name, self._entry(name, value, cwd, place))

    def _entry(self, name, value, cwd, place):
        """One params default or env entry evaluated; too large a value is the file's
        problem, at the entry's line."""
        try:
            return self.evaluate(value, cwd)
        except ValueTooLarge as error:
            from ..errors import SourceError
            raise SourceError("%s: %s" % (name, error), *place) from None

    def set(self, name, value):
        self.values[name] = value
        self.defined[name] = value

    def evaluate(self, text, cwd=None, values=None):
        """``text`` evaluated in one pass; `` `cmd` `` run only when running (never in
        validate)."""
        values = self.values if values is None else values
        return evaluate(str(text), values, positional=self.positional,
                        commands=command_runner(values, cwd) if self.commands else None)

    def layered(self, outputs, step_env, cwd=None) -> dict:
        """A step's variables: this scope, then ``outputs``, then the step's env in order."""
        values = dict(self.values)
        values.update(outputs)
        for name, value in step_env:
            values[name] = self.evaluate(value, cwd, values)
        return values
