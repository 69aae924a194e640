"""Typed reading of DAG keys, each problem kept with its ``file:line``.

A ``Checker`` reads one value at a time from a ``source.Mapping`` and
returns something usable even when the value is wrong, so that ``validate``
can list every problem of a file in one go.
"""
from __future__ import annotations

import difflib

from . import model, variables
from .source import Mapping, Sequence
from ..errors import ConfigError, SourceError, TraceexecError


class DagInvalid(TraceexecError):
    """A DAG file has problems; ``problems`` holds every one (SourceError)."""

    def __init__(self, problems):
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid DAG"
        more = len(self.problems) - 1
        super().__init__(first + (" (and %d more problem%s)" % (more, "s" * (more > 1))
                                  if more else ""))


class Checker:
    def __init__(self):
        self.problems = []

    def problem(self, message, place):
        path, line = place
        self.problems.append(SourceError(message, path, line))

    def raise_if_any(self):
        if self.problems:
            self.problems.sort(key=lambda e: (str(e.path), e.line or 0))
            raise DagInvalid(self.problems)

    @staticmethod
    def place(mapping, key):
        return mapping.place_of(key) if isinstance(mapping, (Mapping, Sequence)) else (None, None)

    def where(self, mapping, key) -> str:
        return "%s:%s" % self.place(mapping, key)

    def keys(self, mapping, known, ignored, context, unsupported=None):
        for key in mapping:
            if key in known or key in ignored:
                continue
            if unsupported and key in unsupported:
                self.problem(unsupported[key], mapping.place_of(key))
                continue
            close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = " (did you mean %r?)" % close[0] if close else ""
            self.problem("unknown %s key %r%s" % (context, key, hint), mapping.place_of(key))

    def string(self, mapping, key):
        value = mapping.get(key)
        if value is None:
            return None
        if isinstance(value, (Mapping, Sequence)):
            self.problem("%s must be a string" % key, self.place(mapping, key))
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def string_list(self, mapping, key) -> list:
        value = mapping.get(key)
        if value is None:
            return []
        if isinstance(value, Sequence):
            if any(isinstance(v, (Mapping, Sequence)) for v in value):
                self.problem("%s must be a list of strings" % key, self.place(mapping, key))
                return []
            return [str(v) for v in value]
        return [self.string(mapping, key)] if self.string(mapping, key) else []

    def boolean(self, mapping, key, default=False) -> bool:
        value = mapping.get(key, default)
        if isinstance(value, str) and "$" in value:
            return value  # decided when expanded
        if not isinstance(value, bool):
            self.problem("%s must be true or false" % key, self.place(mapping, key))
            return default
        return value

    def integer(self, mapping, key, default=0) -> int:
        value = mapping.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem("%s must be a whole number >= 0" % key, self.place(mapping, key))
            return default
        return value

    def duration(self, mapping, key):
        """Seconds from a number of seconds (Dagu) or a duration like ``90s``."""
        if mapping.get(key) is None:
            return None
        from ..delivery.config import parse_duration
        try:
            return parse_duration(mapping[key], key)
        except ConfigError as error:
            self.problem(str(error), self.place(mapping, key))
            return None

    def choice(self, mapping, key, choices, default):
        value = mapping.get(key, default)
        if value not in choices:
            self.problem("%s must be one of %s, not %r" % (key, ", ".join(choices), value),
                         self.place(mapping, key))
            return default
        return value

    def command(self, mapping, key):
        value = mapping.get(key)
        if value is None:
            return None
        if isinstance(value, Sequence):
            if not value or any(isinstance(v, (Mapping, Sequence)) for v in value):
                self.problem("command must be a string or a list of words",
                             self.place(mapping, key))
                return None
            return [str(v) for v in value]
        text = self.string(mapping, key)
        if text is not None and not text.strip():
            self.problem("command is empty", self.place(mapping, key))
            return None
        return text

    def signal(self, mapping, key):
        name = self.string(mapping, key)
        if name is None:
            return None
        from ..wrap.supervise import SIGNAL_NAMES
        by_name = {v: k for k, v in SIGNAL_NAMES.items()}
        upper = name.upper()
        number = by_name.get(upper) or by_name.get("SIG" + upper)
        if number is None:
            self.problem("unknown signal %r" % name, self.place(mapping, key))
        return number

    def env(self, mapping, key) -> list:
        """``[(name, value)]`` from a map, a list of one-key maps, or ``K=V`` strings."""
        value = mapping.get(key)
        if value is None:
            return []
        pairs = []
        items = [value] if isinstance(value, Mapping) else value
        if not isinstance(items, Sequence) and not isinstance(value, Mapping):
            self.problem("%s must be a map or a list of NAME: value" % key,
                         self.place(mapping, key))
            return []
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                for name, text in item.items():
                    if isinstance(text, (Mapping, Sequence)):
                        self.problem("%s %s must be a string" % (key, name), item.place_of(name))
                    else:
                        pairs.append((str(name), "" if text is None else _text(text)))
            elif isinstance(item, str) and "=" in item:
                name, _, text = item.partition("=")
                pairs.append((name.strip(), text))
            else:
                self.problem("%s item must be NAME: value or NAME=value" % key,
                             items.place_of(index) if isinstance(items, Sequence) else
                             self.place(mapping, key))
        return pairs

    def params(self, mapping, key) -> list:
        """``[(name or None, value)]`` from a string, a map, or a list."""
        value = mapping.get(key)
        if value is None:
            return []
        if isinstance(value, Mapping):
            return [(str(k), _text(v)) for k, v in value.items()]
        if isinstance(value, Sequence):
            params = []
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    params.extend((str(k), _text(v)) for k, v in item.items())
                elif isinstance(item, Sequence):
                    self.problem("%s item must be NAME: value or a word" % key,
                                 value.place_of(index))
                else:
                    params.extend(self._parse_params(_text(item), value.place_of(index)))
            return params
        return self._parse_params(_text(value), self.place(mapping, key))

    def _parse_params(self, text, place):
        try:
            return variables.parse_params(text)
        except ValueError as error:
            self.problem("params: %s" % error, place)
            return []

    def preconditions(self, mapping, key, known) -> list:
        value = mapping.get(key)
        if value is None:
            return []
        items = value if isinstance(value, Sequence) else [value]
        result = []
        for index, item in enumerate(items):
            place = items.place_of(index) if isinstance(items, Sequence) else self.place(mapping, key)
            if isinstance(item, Mapping):
                self.keys(item, known, (), "precondition")
                condition = self.string(item, "condition")
                if condition is None:
                    self.problem("a precondition needs condition:", place)
                    continue
                expected = self.string(item, "expected")
                result.append(model.Precondition(condition, expected, "%s:%s" % place))
            elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
                result.append(model.Precondition(str(item), None, "%s:%s" % place))
            else:
                self.problem("a precondition is a command or condition:/expected:", place)
        return result

    def _section(self, mapping, key, known, context):
        value = mapping.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problem("%s must be a mapping (%s)" % (key, ", ".join(known)),
                         self.place(mapping, key))
            return None
        self.keys(value, known, (), context)
        return value

    def exit_codes(self, mapping, key) -> tuple:
        value = mapping.get(key)
        if value is None:
            return ()
        values = value if isinstance(value, Sequence) else [value]
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            self.problem("%s must be an exit code or a list of them" % key,
                         self.place(mapping, key))
            return ()
        return tuple(values)

    def continue_on(self, mapping, key, known) -> model.ContinueOn:
        section = self._section(mapping, key, known, "continueOn")
        if section is None:
            return model.ContinueOn()
        return model.ContinueOn(failure=self.boolean(section, "failure"),
                                skipped=self.boolean(section, "skipped"),
                                exit_codes=self.exit_codes(section, "exitCode"),
                                mark_success=self.boolean(section, "markSuccess"))

    def retry(self, mapping, key, known) -> model.RetryPolicy:
        section = self._section(mapping, key, known, "retryPolicy")
        if section is None:
            return model.RetryPolicy()
        backoff = section.get("backoff", 1.0)
        if backoff is True:
            backoff = 2.0
        if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or backoff < 1:
            self.problem("backoff must be true or a factor >= 1", self.place(section, "backoff"))
            backoff = 1.0
        return model.RetryPolicy(limit=self.integer(section, "limit", 0),
                                 interval_s=self.duration(section, "intervalSec") or 0.0,
                                 exit_codes=self.exit_codes(section, "exitCode"),
                                 backoff=float(backoff),
                                 max_interval_s=self.duration(section, "maxIntervalSec"))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
