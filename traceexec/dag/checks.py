"""Typed reading of DAG values, each problem kept with its ``file:line``.

A ``Checker`` reads one value at a time from a normalized ``source.Mapping``
(keys in the loader's spelling; messages use the file's own, ``schema.spelled``)
and returns something usable even when the value is wrong, so that
``validate`` can list every problem of a file in one go.
"""
from __future__ import annotations


from . import model, variables
from .schema import spelled
from .source import Mapping, Sequence
from ..errors import ConfigError, SourceError, TraceexecError

MAX_SECONDS = (2 ** 63 - 1) // 10 ** 9
"""The longest duration Dagu can hold (Go's int64 nanoseconds): about 292 years."""


class DagInvalid(TraceexecError):
    """A DAG file has problems; ``problems`` holds every one (SourceError)."""

    def __init__(self, problems):
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid DAG"
        more = len(self.problems) - 1
        super().__init__(first + (" (and %d more problem%s)" % (more, "s" * (more > 1))
                                  if more else ""))


def text_of(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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

    def string(self, mapping, key):
        value = mapping.get(key)
        if value is None:
            return None
        if isinstance(value, (Mapping, Sequence)):
            self.problem("%s must be a string" % spelled(mapping, key), self.place(mapping, key))
            return None
        return text_of(value)

    def string_list(self, mapping, key) -> list:
        value = mapping.get(key)
        if value is None:
            return []
        if isinstance(value, Sequence):
            if any(isinstance(v, (Mapping, Sequence)) for v in value):
                self.problem("%s must be a list of strings" % spelled(mapping, key),
                             self.place(mapping, key))
                return []
            return [text_of(v) for v in value]
        text = self.string(mapping, key)
        return [text] if text else []

    def boolean(self, mapping, key, default=False):
        value = mapping.get(key, default)
        if isinstance(value, str) and "$" in value:
            return value  # decided when expanded
        if not isinstance(value, bool):
            self.problem("%s must be true or false" % spelled(mapping, key),
                         self.place(mapping, key))
            return default
        return value

    def integer(self, mapping, key, default=0, minimum=0):
        value = mapping.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem("%s must be a whole number >= %d" % (spelled(mapping, key), minimum),
                         self.place(mapping, key))
            return default
        return value

    def number_or_variable(self, mapping, key, default=0, *, duration=False):
        """A number (seconds for ``duration``), or a ``${VAR}`` resolved at run time."""
        value = mapping.get(key)
        if value is None:
            return default
        if isinstance(value, str) and "$" in value:
            return value
        if duration:
            seconds = self.duration(mapping, key)
            return default if seconds is None else seconds
        return self.integer(mapping, key, default)

    def duration(self, mapping, key):
        """Seconds from a number of seconds (Dagu) or a duration like ``90s``; refused
        when negative or longer than Dagu can hold."""
        value = mapping.get(key)
        if value is None:
            return None
        name = spelled(mapping, key)
        from ..delivery.config import parse_duration
        try:
            seconds = parse_duration(value, name)
        except (ConfigError, OverflowError, ValueError) as error:
            self.problem(str(error) if isinstance(error, ConfigError) else
                         "bad %s %r" % (name, value), self.place(mapping, key))
            return None
        if not 0 <= seconds <= MAX_SECONDS or seconds != seconds:
            self.problem("%s must be between 0 and %d seconds, not %r" % (
                name, MAX_SECONDS, value), self.place(mapping, key))
            return None
        return float(seconds)

    def choice(self, mapping, key, choices, default):
        value = mapping.get(key, default)
        if isinstance(value, str):
            value = value.strip() or default
        if value not in choices:
            self.problem("%s must be one of %s, not %r" % (spelled(mapping, key),
                                                          ", ".join(choices), value),
                         self.place(mapping, key))
            return default
        return value

    def words(self, mapping, key):
        """A shell given as ``"bash -e"`` or ``[bash, -e]``: its words, or None."""
        value = mapping.get(key)
        if value is None:
            return None
        if isinstance(value, Sequence):
            words = [text_of(v) for v in value if not isinstance(v, (Mapping, Sequence))]
            if len(words) != len(value):
                self.problem("%s must be a string or a list of words" % spelled(mapping, key),
                             self.place(mapping, key))
            return words or None
        text = self.string(mapping, key)
        if text is None or not text.strip():
            return None
        import shlex  # imports re: only for a key written as one string of words
        try:
            return shlex.split(text)
        except ValueError as error:
            self.problem("%s: %s" % (spelled(mapping, key), error), self.place(mapping, key))
            return None

    def signal(self, mapping, key):
        name = self.string(mapping, key)
        if name is None:
            return None
        from ..wrap.signals import SIGNAL_NAMES, signal_number
        try:
            number = signal_number(name)
        except ValueError:
            number = None
        if number not in SIGNAL_NAMES:  # a number, too, must name a signal
            self.problem("unknown signal %r" % name, self.place(mapping, key))
            return None
        return number

    def processes(self, mapping, key):
        """``processes: true | false | all`` (traceexec --processes for the commands):
        None when absent, False, "fold" or "all".  ``1``/``0`` are not booleans here."""
        value = mapping.get(key)
        if value is None:
            return None
        if value is True or value is False or value == "all":
            return "fold" if value is True else value
        self.problem("processes must be true, false or all", self.place(mapping, key))
        return None

    def lines(self, mapping, key):
        """``lines: true | false`` (traceexec --lines for what bash runs): None when
        absent.  ``1``/``0`` are not booleans here."""
        value = mapping.get(key)
        if value is None or value is True or value is False:
            return value
        self.problem("lines must be true or false", self.place(mapping, key))
        return None

    def env(self, mapping, key, places=None) -> list:
        """``[(name, value)]`` from a map, a list of one-key maps, or ``K=V`` strings;
        ``places`` (a list) gets each entry's (path, line)."""
        places = [] if places is None else places
        value = mapping.get(key)
        if value is None:
            return []
        pairs = []
        items = [value] if isinstance(value, Mapping) else value
        if not isinstance(items, Sequence) and not isinstance(value, Mapping):
            self.problem("%s must be a map or a list of NAME: value" % spelled(mapping, key),
                         self.place(mapping, key))
            return []
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                for name, text in item.items():
                    if isinstance(text, (Mapping, Sequence)):
                        self.problem("%s %s must be a string" % (spelled(mapping, key), name),
                                     item.place_of(name))
                    else:
                        pairs.append((str(name), text_of(text)))
                        places.append(item.place_of(name))
            elif isinstance(item, str) and "=" in item:
                name, _, text = item.partition("=")
                pairs.append((name.strip(), text))
                places.append(items.place_of(index) if isinstance(items, Sequence)
                              else self.place(mapping, key))
            else:
                self.problem("%s item must be NAME: value or NAME=value" % spelled(mapping, key),
                             items.place_of(index) if isinstance(items, Sequence) else
                             self.place(mapping, key))
        return pairs

    def params(self, mapping, key) -> list:
        """``[(name or None, value)]`` from a string, a map, or a list (a bare word in a list
        is a named param without a default, as in Dagu 2)."""
        value = mapping.get(key)
        if value is None:
            return []
        if isinstance(value, Mapping):
            return [(str(k), self._param_value(mapping, key, v)) for k, v in value.items()]
        if isinstance(value, Sequence):
            params = []
            for index, item in enumerate(value):
                if isinstance(item, Mapping) and "name" in item and len(item) > 1 and \
                        not isinstance(item.get("name"), (Mapping, Sequence)):
                    # Dagu 2's typed param: {name: X, type:, default:, enum:, ...}
                    params.append((text_of(item["name"]).strip(),
                                   text_of(item.get("default"))))
                elif isinstance(item, Mapping):
                    params.extend((str(k), self._param_value(mapping, key, v))
                                  for k, v in item.items())
                elif isinstance(item, Sequence):
                    self.problem("%s item must be NAME: value or a word" % spelled(mapping, key),
                                 value.place_of(index))
                else:
                    params.extend(self._parse_params(text_of(item), value.place_of(index)))
            return params
        return self._parse_params(text_of(value), self.place(mapping, key))

    def _param_value(self, mapping, key, value):
        if isinstance(value, Mapping):  # Dagu 2's typed params: {default: x, ...}
            return text_of(value.get("default"))
        if isinstance(value, Sequence):
            self.problem("%s values must be strings" % spelled(mapping, key),
                         self.place(mapping, key))
            return ""
        return text_of(value)

    def _parse_params(self, text, place):
        from .step import StepFailed
        from .subdag import child_params
        try:
            return child_params(text) if text.strip().startswith("{") else \
                variables.parse_params(text)
        except (ValueError, StepFailed) as error:
            self.problem("params: %s" % error, place)
            return []

    def preconditions(self, value, place, schema) -> list:
        """Conditions from a string, a mapping (condition/command, expected, negate), or a
        list of them."""
        from .schema import normalize
        if value is None:
            return []
        items = value if isinstance(value, Sequence) else [value]
        result = []
        for index, item in enumerate(items):
            where = items.place_of(index) if isinstance(items, Sequence) else place
            if isinstance(item, Mapping):
                problems, notices = [], []
                lowered = Mapping(item.place)
                for k, v in item.items():  # Dagu reads precondition keys in any case
                    key = k.lower() if isinstance(k, str) else k
                    lowered[key] = v
                    lowered.places[key] = item.place_of(k)
                cond = normalize(lowered, "condition", schema, problems, notices)
                for problem in problems:
                    self.problem(problem.message, problem.place)
                condition = self.string(cond, "condition")
                if condition is None:
                    self.problem("a precondition needs condition: (or command:)", where)
                    continue
                expected = self.string(cond, "expected")
                negate = self.boolean(cond, "negate") if "negate" in cond else False
                result.append(model.Precondition(condition, expected, bool(negate),
                                                 "%s:%s" % where))
            elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
                result.append(model.Precondition(str(item), None, False, "%s:%s" % where))
            else:
                self.problem("a precondition is a command or condition:/expected:", where)
        return result

    def exit_codes(self, mapping, key) -> tuple:
        value = mapping.get(key)
        if value is None:
            return ()
        values = value if isinstance(value, Sequence) else [value]
        codes = []
        for item in values:
            if isinstance(item, str) and item.strip().lstrip("-").isdigit():
                item = int(item)
            if isinstance(item, bool) or not isinstance(item, int):
                self.problem("%s must be an exit code or a list of them" % spelled(mapping, key),
                             self.place(mapping, key))
                return ()
            codes.append(item)
        return tuple(codes)

    def backoff(self, mapping, key):
        value = mapping.get(key)
        if value is None or value is False:
            return 0.0
        if value is True:
            return 2.0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 1:
            self.problem("%s must be true or a factor greater than 1" % spelled(mapping, key),
                         self.place(mapping, key))
            return 0.0
        return float(value)
