"""Where a DAG run's spans go: the otel block, the steps' OTEL_* variables, the recorder.

The otel block is expanded and checked before anything runs.  Its settings
are also handed to every step as standard OTEL_EXPORTER_OTLP_TRACES_*
variables, so a nested DAG, a ``traceexec`` inside a script or any
OpenTelemetry program sends to the same place.  ``enabled: false`` is the
most specific setting of all: it also drops OTLP endpoints inherited from
the environment, and the run records to the local store.
"""
from __future__ import annotations

import time

from . import spans
from .. import __version__
from ..delivery import config, span
from ..errors import ConfigError, SourceError

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
EXPORTER_THROTTLE_S = 0.5  # start an exporter at most this often while steps end
TEMPLATE_AFTER = 8
"""Steps whose span text is written from their records before the run's template
(``steptext``) is made: its module costs what writing a few does."""


def otel_settings(otel, scope, dag_name) -> dict | None:
    """The otel block with ``${VAR}`` expanded and checked: ``None`` when absent."""
    if otel is None:
        return None

    def value(key):
        raw = otel.get(key)
        return scope.evaluate(raw) if isinstance(raw, str) else raw

    def fail(message, key):
        path, line = otel.place_of(key)
        raise SourceError(message, path, line)

    resource = {"service.name": dag_name}
    for key, raw in (otel.get("resource") or {}).items():
        resource[str(key)] = scope.evaluate(raw) if isinstance(raw, str) else raw
    enabled = value("enabled")
    enabled = config.is_true(enabled) if isinstance(enabled, str) else bool(enabled)
    if not enabled:
        return {"enabled": False, "resource": resource}
    endpoint = value("endpoint")
    if not endpoint:
        fail("otel.endpoint is required when otel.enabled is true", "enabled")
    try:
        config.endpoint_protocol(str(endpoint), "otel.endpoint")
    except ConfigError as error:
        fail(str(error), "endpoint")
    timeout = value("timeout")
    if timeout is not None:
        try:
            timeout = config.parse_duration(timeout, "otel.timeout")
        except ConfigError as error:
            fail(str(error), "timeout")
    insecure = value("insecure")
    return {"enabled": True, "endpoint": str(endpoint),
            "headers": {str(k): scope.evaluate("" if v is None else str(v))
                        for k, v in (otel.get("headers") or {}).items()},
            "insecure": config.is_true(insecure) if isinstance(insecure, str) else bool(insecure),
            "timeout": timeout, "resource": resource}


def without_endpoints(environ) -> dict:
    return {k: v for k, v in environ.items() if k not in ENDPOINT_VARIABLES}


def export_config(settings, environ, dag_name) -> config.ExportConfig:
    """ExportConfig from the checked otel block, then OTEL_* in ``environ``."""
    enabled = settings is not None and settings["enabled"]
    if settings is not None and not enabled:
        environ = without_endpoints(environ)
    cfg = config.resolve({}, settings if enabled else None, environ)
    if not enabled:  # the resource describes the run wherever its spans go
        block = dict((settings or {}).get("resource") or {"service.name": dag_name})
        if settings is None and cfg.service != config.DEFAULT_SERVICE:
            del block["service.name"]  # named by OTEL_RESOURCE_ATTRIBUTES
        cfg.resource.update(block)
        cfg.service = environ.get("OTEL_SERVICE_NAME") or cfg.resource["service.name"]
        cfg.resource["service.name"] = cfg.service
    return cfg


def step_environment(settings, cfg, environ) -> dict:
    """``environ`` with the run's export settings as OTEL_* variables for the steps."""
    if settings is None:
        return dict(environ)
    env = without_endpoints(environ)
    if not settings["enabled"]:
        return env
    env.update(config.as_variables(cfg))
    return env


class Recorder:
    """Spools span records as steps end; delivers at the end.

    Each call writes one spool file (atomic, durable), but an exporter is
    started at most every EXPORTER_THROTTLE_S, not once per step.
    """

    def __init__(self, cfg: config.ExportConfig, clock=time.monotonic, warn=None):
        self.cfg = cfg
        self.clock = clock
        self.warn = warn
        self._last_start = None
        self._warned = False
        self._directory = None
        self._store = None  # delivery.incoming, once a record goes to the local store
        self._document = None  # (head, tail) of the store's line of step span texts
        self._template = None  # steptext.StepTexts, once TEMPLATE_AFTER steps have ended
        self._before_template = TEMPLATE_AFTER

    def _spool_dir(self) -> str:
        """The endpoint's spool directory (a hash of the settings: worked out once)."""
        if self._directory is None:
            from ..delivery import spool  # with its codec and health: for an endpoint only
            self._directory = spool.destination_dir(self.cfg)
        return self._directory

    def step_span(self, who, result):
        """What ``record`` takes for the step ``result`` that ended: its span record, or,
        when the local store alone keeps the run's spans, its span's text (the same
        bytes, without the record: ``steptext``)."""
        if self._template is not None:
            return self._template.text(result)
        from ..delivery import otlp_text  # here: loaded after the scheduler (subcommand)
        if self._document is None:  # the first step: are texts enough?
            self._document = self._texts_enough(who) and otlp_text.spans_document(
                who.resource, span.SCOPE, __version__)
        if not self._document:
            return spans.step_record(who, result)
        self._before_template -= 1
        if self._before_template <= 0:
            from .steptext import StepTexts
            self._template = StepTexts(who)
        return otlp_text.span_text(spans.step_record(who, result))

    def _texts_enough(self, who) -> bool:
        """True when the local store alone keeps the run's spans, as ``record`` would
        write them (a bad trace id: the records, and ``record``'s warning)."""
        from ..delivery.incoming import is_trace_id
        return self.cfg.is_local and self.cfg.span_limits is None and \
            is_trace_id(who.ctx.trace_id)

    def record(self, records, starts=()):
        """Deliver finished span records; ``starts``, start records that began since the
        last call, go to the local store in the same write (as ``record_start`` would).
        ``records`` may be the step spans' texts of ``step_span`` instead."""
        if records and type(records[0]) is str:
            self._store_texts(records, starts)
            return
        if self.cfg.exporter != "otlp":  # console or none: the wrapper's way, limits and all
            from ..wrap.command import deliver
            deliver(records, self.cfg)
            return
        if self.cfg.span_limits is not None:  # OTEL_*_LIMIT
            records = self.cfg.span_limits.apply(records)
        if self.cfg.endpoint is None or self.cfg.keep_local:
            store = self._store
            if store is None:  # imported here once, not at each step's record
                from ..delivery import incoming as store
                self._store = store
            try:
                store.append(self.cfg.home, records, incoming=True, before=starts)
            except (OSError, ValueError) as error:
                self._warn("warning: spans not recorded in the local store: %s" % error)
        if self.cfg.endpoint is None:
            return
        from ..delivery import spool
        directory = self._spool_dir()
        try:
            spool.write(directory, records)
            spool.describe_destination(directory, self.cfg)
        except spool.SpoolError as error:
            self._warn("warning: spans not recorded: %s" % error)
        now = self.clock()
        if self._last_start is None or now - self._last_start >= EXPORTER_THROTTLE_S:
            self._last_start = now
            self._start_exporters()

    def _store_texts(self, texts, starts):
        """``record``'s write of the step spans' texts: the line ``incoming.trace_lines``
        makes of their records (one trace, one resource, one scope)."""
        from ..delivery import incoming as store
        head, tail = self._document
        texts = list(texts)  # the line copied once: the document's ends joined to the spans
        texts[0] = head + texts[0]
        texts[-1] += tail + "\n"
        try:  # start records first, in the same write, as in ``record``
            lines = store.trace_lines(starts) if starts else []
            lines.append(",".join(texts).encode("utf-8", "surrogatepass"))
            store.append_lines(self.cfg.home, lines, incoming=True)
        except (OSError, ValueError) as error:
            self._warn("warning: spans not recorded in the local store: %s" % error)

    def record_start(self, records):
        """Start records of a DAG run and its steps: to the local store only."""
        from ..delivery import running
        running.deliver_start(records, self.cfg)

    def _start_exporters(self):
        if self.cfg.endpoint is not None:
            from ..delivery import spool
            spool.start_exporter(self._spool_dir(), self.cfg.headers)

    def silence(self):
        """No warning from here on (the caller already warned about the same cause)."""
        self._warned = True

    def _warn(self, message):
        if not self._warned:
            self._warned = True
            if self.warn is not None:
                self.warn(message)
                return
            from ..wrap.command import warn
            warn(message)

    def finish(self, wait: bool) -> bool:
        """Hand everything to its destination; with ``wait``, bounded by the export timeout.

        The local store was written as each step ended: it has no exporter.
        """
        if self.cfg.exporter != "otlp":
            return True
        waiting = wait and self.cfg.endpoint is not None
        started = time.time()
        if waiting:  # even while the destination backs off: the run asked to wait
            from ..delivery import spool
            spool.start_exporter(self._spool_dir(), self.cfg.headers, force=True)
        else:
            self._start_exporters()
        delivered = True
        if waiting:
            delivered = spool.wait_delivered(spool.pending(self._spool_dir()),
                                             self.cfg.timeout_s, since=started)
            if not delivered:
                from ..delivery import health
                reason = health.problem_since(self._spool_dir(), started) or (
                    "not sent within %gs" % self.cfg.timeout_s)
                self._warn("warning: spans not delivered to %s: %s; they stay spooled"
                           % (self.cfg.endpoint, reason))
        return delivered


class MemoryRecorder:
    """Keeps the records in a list (for tests and --dry-run)."""

    def __init__(self):
        self.records = []

    @staticmethod
    def step_span(who, result):
        return spans.step_record(who, result)

    def record(self, records):
        self.records.extend(records)

    def finish(self, wait: bool) -> bool:
        return True
