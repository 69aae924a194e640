"""Span limits as the OTel specification's variables set them: attribute count and value
length, events and links per span, attributes per event and link.

Applied to finished span records just before they are recorded.  Only when a
limit variable is set: traceexec's own spans carry a bounded set of attributes,
so the specification's default of 128 would never bite and is not applied.
Dropped counts are not carried (the record has no place for them).

    >>> limits = SpanLimits(value_length=3)
    >>> limits.apply([{"attributes": {"a": "abcdef", "n": 5}, "events": [], "links": []}])
    [{'attributes': {'a': 'abc', 'n': 5}, 'events': [], 'links': []}]
"""

VARIABLES = {
    "value_length": ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
    "attribute_count": ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
    "event_count": ("OTEL_SPAN_EVENT_COUNT_LIMIT",),
    "link_count": ("OTEL_SPAN_LINK_COUNT_LIMIT",),
    "event_attribute_count": ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
    "link_attribute_count": ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
}
"""Each limit and its variables, the most specific first."""


class SpanLimits:
    """Limits (None: unlimited) and how to apply them to span records."""

    def __init__(self, **limits):
        for name in VARIABLES:
            setattr(self, name, limits.get(name))

    def _attributes(self, attributes: dict, count) -> dict:
        items = list(attributes.items())
        if count is not None:
            items = items[:count]
        if self.value_length is None:
            return dict(items)
        return {key: self._value(value) for key, value in items}

    def _value(self, value):
        if isinstance(value, str):
            return value[:self.value_length]
        if isinstance(value, (list, tuple)):
            return [v[:self.value_length] if isinstance(v, str) else v for v in value]
        return value

    def apply(self, records: list) -> list:
        """Copies of ``records`` within the limits."""
        out = []
        for record in records:
            record = dict(record)
            record["attributes"] = self._attributes(record.get("attributes") or {},
                                                    self.attribute_count)
            for key, count, inner in (("events", self.event_count, self.event_attribute_count),
                                      ("links", self.link_count, self.link_attribute_count)):
                items = list(record.get(key) or [])
                if count is not None:
                    items = items[:count]
                record[key] = [dict(item, attributes=self._attributes(
                    item.get("attributes") or {}, inner)) for item in items]
            out.append(record)
        return out


def read(reader):
    """SpanLimits from a ``config.Reader``, or None when no limit variable is set.
    A value that is not a whole number >= 0 is warned and ignored."""
    limits, found = {}, False
    for name, variables in VARIABLES.items():
        for variable in variables:
            raw = reader.get(variable)
            if raw is None:
                continue
            if raw.isdigit() and raw.isascii():
                limits[name] = int(raw)
                found = True
                break
            reader.problems.append("%s=%s is not a whole number >= 0: ignored"
                                   % (variable, raw[:64]))
    return SpanLimits(**limits) if found else None
