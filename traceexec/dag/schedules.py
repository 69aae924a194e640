"""``schedule:`` checked as cron expressions, never run: traceexec makes one run per
invocation (put ``traceexec run`` in a crontab for schedules).

The forms Dagu accepts (robfig/cron's standard parser): five fields (minute,
hour, day of month, month, day of week) with ``*``, ``?``, lists, ranges,
steps and month/day names; an optional ``CRON_TZ=Zone`` or ``TZ=Zone`` prefix;
the descriptors ``@yearly``... ``@hourly`` and ``@every DURATION``.  The value
is one line, a list of lines, or ``start``/``stop``/``restart`` lists.
"""
from __future__ import annotations

from ..lazyregex import LazyPattern
from .checks import text_of
from .source import Mapping, Sequence

FIELDS = (("minute", 0, 59, None), ("hour", 0, 23, None), ("day of month", 1, 31, None),
          ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP",
                            "OCT", "NOV", "DEC")),
          ("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")))
DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_GO_DURATION = LazyPattern(  # compiled for an ``@every`` only
    r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def cron_problem(line: str) -> str | None:
    """Why ``line`` is not a cron expression Dagu would accept, or None."""
    text = line.strip()
    if text.startswith(("CRON_TZ=", "TZ=")):
        zone, _, text = text.partition(" ")
        if not zone.partition("=")[2]:
            return "empty time zone"
        text = text.strip()
    if text.startswith("@"):
        if text in DESCRIPTORS:
            return None
        if text.startswith("@every "):
            return None if _GO_DURATION.match(text[7:].strip()) else \
                "bad duration in %r" % text
        return "unknown descriptor %r" % text
    fields = text.split()
    if len(fields) != 5:
        return "expected 5 fields (minute hour day-of-month month day-of-week), got %d" \
            % len(fields)
    for field, (name, low, high, names) in zip(fields, FIELDS):
        problem = _field_problem(field, low, high, names, name)
        if problem:
            return problem
    return None


def _value(text, names, low):
    if names and text.upper() in names:
        return names.index(text.upper()) + (1 if low == 1 else 0)
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def _field_problem(field, low, high, names, name):
    for part in field.split(","):
        range_part, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            return "bad step %r in the %s field" % (part, name)
        if range_part in ("*", "?"):
            continue
        first, dash, last = range_part.partition("-")
        try:
            start = _value(first, names, low)
            end = _value(last, names, low) if dash else start
        except ValueError:
            return "bad value %r in the %s field" % (part, name)
        if not (low <= start <= high and low <= end <= high) or end < start:
            return "%r is out of range %d-%d in the %s field" % (part, low, high, name)
    return None


def read(mapping, key, check) -> list:
    """The schedule's lines (every one checked); problems go to ``check``."""
    value = mapping.get(key)
    place = check.place(mapping, key)
    lines = []
    if isinstance(value, Mapping):
        for kind in value:
            if kind not in ("start", "stop", "restart"):
                check.problem("schedule keys are start, stop and restart, not %r" % kind, place)
                continue
            lines.extend(_lines(value[kind], place, check))
    else:
        lines = _lines(value, place, check)
    for line in lines:
        problem = cron_problem(line)
        if problem:
            check.problem("schedule %r is not a cron expression: %s" % (line, problem), place)
    return lines


def _lines(value, place, check) -> list:
    if value is None:
        return []
    if isinstance(value, Sequence):
        if any(isinstance(v, (Mapping, Sequence)) for v in value):
            check.problem("schedule must be cron lines", place)
            return []
        return [text_of(v) for v in value]
    if isinstance(value, Mapping):
        check.problem("schedule must be cron lines", place)
        return []
    return [text_of(value)]
