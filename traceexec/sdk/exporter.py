"""An OpenTelemetry SDK span exporter that hands a Python program's spans to traceexec.

Registered under the SDK's ``opentelemetry_traces_exporter`` entry point, so a
program configured by the SDK (``opentelemetry-instrument``, the distro's
configurator) picks it with one variable::

    OTEL_TRACES_EXPORTER=traceexec traceexec -- opentelemetry-instrument python app.py

or in code::

    provider.add_span_processor(BatchSpanProcessor(TraceexecSpanExporter()))

The spans go where traceexec's own go, configured the same way
(``OTEL_EXPORTER_OTLP_*``, ``TRACEEXEC_HOME``): with an endpoint, into its
spool, from which a detached exporter sends them with OTLP's retry rules;
without one, into the local store for ``traceexec show``.  ``export`` writes a
file and returns: no network, no retries in the program, so a program is not
slowed when no collector runs (the SDK's OTLP exporter retries for seconds),
and its spans are not lost when it exits before they could be sent.

This module is loaded by the SDK inside the program, never by traceexec.
"""
from __future__ import annotations

import os

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..delivery import config, span

NAME = "traceexec"
"""The exporter's name: ``OTEL_TRACES_EXPORTER=traceexec``."""


def record_of(readable) -> dict:
    """A traceexec span record of an SDK ``ReadableSpan``."""
    context = readable.context
    parent = readable.parent
    scope = readable.instrumentation_scope
    return span.new_record(
        trace_id="%032x" % context.trace_id, span_id="%016x" % context.span_id,
        parent_span_id="%016x" % parent.span_id if parent is not None else "",
        trace_state=context.trace_state.to_header() if context.trace_state else "",
        flags=int(context.trace_flags), name=readable.name,
        kind=readable.kind.value + 1,  # the SDK counts from INTERNAL = 0, OTLP from 1
        start_ns=readable.start_time or 0, end_ns=readable.end_time or 0,
        attributes=_plain(readable.attributes),
        status_code=readable.status.status_code.value,
        status_message=readable.status.description or "",
        events=[{"name": e.name, "time_ns": e.timestamp, "attributes": _plain(e.attributes)}
                for e in readable.events],
        links=[{"trace_id": "%032x" % link.context.trace_id,
                "span_id": "%016x" % link.context.span_id,
                "trace_state": link.context.trace_state.to_header()
                if link.context.trace_state else "",
                "attributes": _plain(link.attributes)} for link in readable.links],
        resource=_plain(readable.resource.attributes),
        scope=scope.name if scope is not None else "",
        scope_version=(scope.version or "") if scope is not None else "")


def _plain(attributes) -> dict:
    """Attributes as plain values: the SDK keeps sequences as tuples."""
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in (attributes or {}).items()}


def export_config(environ=None) -> config.ExportConfig:
    """traceexec's destination as the environment describes it, this exporter aside."""
    environ = dict(os.environ if environ is None else environ)
    environ["OTEL_TRACES_EXPORTER"] = "otlp"  # that is us: spans go where traceexec's go
    return config.resolve(None, None, environ)


class TraceexecSpanExporter(SpanExporter):
    """Hands finished spans to traceexec's spool or local store (see the module)."""

    def __init__(self, environ=None):
        self._environ = environ
        self._config = None
        self._stopped = False

    def export(self, spans) -> SpanExportResult:
        if self._stopped:
            return SpanExportResult.FAILURE
        records = [record_of(s) for s in spans]
        try:
            if self._config is None:
                self._config = export_config(self._environ)
            from ..wrap.command import deliver
            delivered = deliver(records, self._config)  # one warning line when it cannot
        except Exception:  # a bad setting: the program goes on, as traceexec's own commands
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if delivered else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._stopped = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # nothing is held: every export is written before it returns
