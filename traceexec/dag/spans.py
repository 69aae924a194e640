"""The span records of a DAG run: ``DAG: <name>`` and one ``Step: <name>`` per step.

A step's span is its command's span: the same process attributes and status
as ``traceexec -- CMD`` (``command.process_attributes``/``command_status``),
plus the step's name, status, exit code and one event per attempt.  Steps
that never ran get a zero-length span with their status.
"""
from __future__ import annotations

import os

from . import model
from .. import __version__
from ..delivery import span
from ..wrap.command import command_status, process_attributes

STATUS_CODES = {model.SUCCEEDED: span.STATUS_OK, model.PARTIALLY_SUCCEEDED: span.STATUS_OK,
                model.FAILED: span.STATUS_ERROR}


class RunIdentity:
    """Who the run is, for every record: trace, DAG span, run ids, resource."""

    def __init__(self, dag, run_id, ctx, incoming, resource, parent_run_id=None):
        self.dag = dag
        self.run_id = run_id
        self.ctx = ctx                     # the DAG span's context
        self.incoming = incoming           # context.Incoming the driver was started with
        self.resource = resource
        self.parent_run_id = parent_run_id

    def common(self) -> dict:
        attrs = {"dag.name": self.dag.name, "dag.run_id": self.run_id}
        if self.parent_run_id:
            attrs["dag.parent_run_id"] = self.parent_run_id
        return attrs


def _record(who, *, span_id, parent, name, kind, start_ns, end_ns, attrs, status, message,
            events=()):
    return span.new_record(
        trace_id=who.ctx.trace_id, span_id=span_id, parent_span_id=parent,
        trace_state=who.incoming.tracestate or "", flags=who.ctx.flags, name=name, kind=kind,
        start_ns=start_ns, end_ns=end_ns, attributes=attrs, status_code=status,
        status_message=message, events=list(events), resource=who.resource,
        scope_version=__version__)


def step_record(who: RunIdentity, result: model.StepResult) -> dict:
    step = result.step
    attrs = {}
    code, message = STATUS_CODES.get(result.status, span.STATUS_UNSET), ""
    if result.outcome is not None:
        attrs.update(process_attributes(result.outcome, result.argv or [], cwd=result.cwd,
                                         path=result.outcome.path))
        attrs["step.exit_code"] = result.outcome.exit_status
        if code == span.STATUS_ERROR:
            message = command_status(result.outcome)[1]
    attrs.update(who.common())
    attrs["step.name"] = step.name
    attrs["step.status"] = result.status
    if step.id:
        attrs["step.id"] = step.id
    if step.run:
        attrs["step.nested_dag"] = os.path.relpath(step.run, who.dag.directory)
    attrs["step.attempts"] = len(result.attempts)
    if result.reason:
        attrs["step.status_reason"] = result.reason
    if result.failure_allowed:
        attrs["step.failure_allowed"] = True
    if code == span.STATUS_ERROR and not message:
        message = result.reason or "failed"
    if code != span.STATUS_ERROR:
        message = ""
    events = [{"name": "attempt", "time_ns": a.end_ns,
               "attributes": dict({"attempt": a.number, "exit_code": a.exit_status,
                                   "duration_s": round((a.end_ns - a.start_ns) / 1e9, 6)},
                                  **({"error.type": a.error_type} if a.error_type else {}))}
              for a in result.attempts]
    return _record(who, span_id=result.span_id, parent=who.ctx.span_id,
                   name="Step: %s" % step.name, kind=span.KIND_CLIENT,
                   start_ns=result.start_ns, end_ns=max(result.end_ns, result.start_ns),
                   attrs=attrs, status=code, message=message, events=events)


def dag_record(who: RunIdentity, status, reason, start_ns, end_ns, results) -> dict:
    attrs = who.common()
    attrs["dag.status"] = status
    attrs["dag.file"] = os.path.basename(who.dag.path)
    attrs["dag.step_count"] = len(who.dag.steps)
    for state in (model.SUCCEEDED, model.FAILED, model.SKIPPED, model.CANCELLED):
        attrs["dag.steps.%s" % state] = sum(1 for r in results if r.status == state)
    if status in (model.FAILED, model.CANCELLED):
        code, message = span.STATUS_ERROR, reason or status
    else:
        code, message = STATUS_CODES.get(status, span.STATUS_UNSET), ""
    parent = who.incoming.parent.span_id if who.incoming.parent else ""
    return _record(who, span_id=who.ctx.span_id, parent=parent, name="DAG: %s" % who.dag.name,
                   kind=span.KIND_INTERNAL, start_ns=start_ns, end_ns=end_ns, attrs=attrs,
                   status=code, message=message)
