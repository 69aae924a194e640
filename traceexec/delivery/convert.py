"""Span records as OpenTelemetry SDK ``ReadableSpan``s, for the SDK's OTLP exporters.

Imports the SDK only when a converter is made (never on the wrapper's path).
"""


class SpanConverter:
    """Turns span records into SDK ``ReadableSpan``s, sharing resources and scopes."""

    def __init__(self):
        from opentelemetry import trace as api
        from opentelemetry.sdk import trace as sdk
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        class HashedResource(Resource):
            """The SDK encoder hashes the resource of every span, and a Resource
            hashes by dumping its attributes to JSON: do that once."""

            def __init__(self, attributes):
                super().__init__(attributes)
                self._digest = Resource.__hash__(self)

            def __hash__(self):
                return self._digest

        self._api, self._sdk = api, sdk
        self._Resource, self._Scope = HashedResource, InstrumentationScope
        self._kinds = {0: api.SpanKind.INTERNAL, 1: api.SpanKind.INTERNAL,
                       2: api.SpanKind.SERVER, 3: api.SpanKind.CLIENT,
                       4: api.SpanKind.PRODUCER, 5: api.SpanKind.CONSUMER}
        self._unset = api.Status(api.StatusCode.UNSET)
        self._ok = api.Status(api.StatusCode.OK)
        self._resources, self._scopes, self._states = {}, {}, {}

    def _resource(self, attributes):
        key = tuple(sorted((k, repr(v)) for k, v in attributes.items()))
        found = self._resources.get(key)
        if found is None:
            found = self._resources[key] = self._Resource(attributes)
        return found

    def _scope(self, name, version):
        key = (name, version)
        found = self._scopes.get(key)
        if found is None:
            found = self._scopes[key] = self._Scope(name, version or None)
        return found

    def _trace_state(self, header):
        found = self._states.get(header)
        if found is None:
            found = self._states[header] = self._api.TraceState.from_header([header])
        return found

    def _status(self, code, message):
        if code == 2:
            return self._api.Status(self._api.StatusCode.ERROR, message or None)
        return self._ok if code == 1 else self._unset

    def convert(self, record):
        """One record as a ``ReadableSpan``."""
        api = self._api
        trace_id = int(record["trace_id"], 16)
        flags = api.TraceFlags(record.get("flags", 1) & 0xFF)
        state = self._trace_state(record["trace_state"]) if record.get("trace_state") else None
        context = api.SpanContext(trace_id, int(record["span_id"], 16), is_remote=False,
                                  trace_flags=flags, trace_state=state)
        parent = None
        if record.get("parent_span_id"):
            parent = api.SpanContext(trace_id, int(record["parent_span_id"], 16),
                                     is_remote=True, trace_flags=flags, trace_state=state)
        events = [self._sdk.Event(e["name"], e.get("attributes") or {}, e["time_ns"])
                  for e in record.get("events") or ()]
        links = [api.Link(api.SpanContext(
                     int(link["trace_id"], 16), int(link["span_id"], 16), is_remote=True,
                     trace_state=(self._trace_state(link["trace_state"])
                                  if link.get("trace_state") else None)),
                     link.get("attributes") or {})
                 for link in record.get("links") or ()]
        return self._sdk.ReadableSpan(
            name=record["name"], context=context, parent=parent, links=links,
            resource=self._resource(record.get("resource") or {}),
            attributes=record.get("attributes") or {}, events=events,
            kind=self._kinds.get(record.get("kind", 1), api.SpanKind.INTERNAL),
            status=self._status(record.get("status_code", 0), record.get("status_message")),
            start_time=record["start_ns"], end_time=record["end_ns"],
            instrumentation_scope=self._scope(record.get("scope") or "traceexec",
                                              record.get("scope_version") or ""))

    def convert_all(self, records) -> list:
        convert = self.convert
        return [convert(r) for r in records]


def to_readable_spans(records) -> list:
    """SDK ``ReadableSpan``s for span records (ids, parent, status, events, resource kept)."""
    return SpanConverter().convert_all(records)
