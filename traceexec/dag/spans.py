"""The span records of a DAG run: ``DAG: <name>`` and one ``Step: <name>`` per step.

A step's span is its command's span: the same process attributes and status
as ``traceexec -- CMD`` (``supervise.process_attributes``/``command_status``),
plus the step's name, status, exit code, one event per attempt, and one link
per step it waited for (``traceexec.link.type = depends``).  Steps that never
ran get a zero-length span with their status.

Beside traceexec's ``dag.*``/``step.*`` attributes, the CI/CD semantic
conventions (release candidate): the DAG span is a pipeline run
(``cicd.pipeline.*``), each step a task run (``cicd.pipeline.task.*``).
Status words are the file's schema's: ``aborted`` in v2 files where v1 files
(and traceexec) say ``cancelled``.
"""
from __future__ import annotations

import os

from . import model
from .. import __version__
from ..delivery import running, span
from ..wrap.supervise import command_status, process_attributes

STATUS_CODES = {model.SUCCEEDED: span.STATUS_OK, model.PARTIALLY_SUCCEEDED: span.STATUS_OK,
                model.FAILED: span.STATUS_ERROR}
LINK_TYPE = "traceexec.link.type"
TASK_RESULTS = {model.SUCCEEDED: "success", model.PARTIALLY_SUCCEEDED: "failure",
                model.FAILED: "failure", model.SKIPPED: "skip",
                model.CANCELLED: "cancellation"}
"""cicd.pipeline.task.run.result by step status (a timeout is ``timeout``)."""
REDACTED_KEPT = 64
"""How many command lines ``redacted_arguments`` keeps (a DAG's steps repeat theirs)."""

_redacted: dict = {}


def redacted_arguments(argv) -> list:
    """``redact.redact_args(argv)``, a new list each call; the last REDACTED_KEPT
    results are kept (the redaction depends on ``argv`` alone)."""
    key = tuple(argv)
    kept = _redacted.get(key)
    if kept is None:
        from ..wrap.supervise import recorded_args as redact_args  # redact only if it may change
        kept = tuple(redact_args(key))
        if len(_redacted) >= REDACTED_KEPT:
            del _redacted[next(iter(_redacted))]  # the oldest
        _redacted[key] = kept
    return list(kept)


class RunIdentity:
    """Who the run is, for every record: trace, DAG span, run ids, resource."""

    def __init__(self, dag, run_id, ctx, incoming, resource, parent_run_id=None):
        self.dag = dag
        self.run_id = run_id
        self.ctx = ctx                     # the DAG span's context
        self.incoming = incoming           # context.Incoming the driver was started with
        self.resource = resource
        self.parent_run_id = parent_run_id
        self.links = []                    # links of the DAG span (a retry's original run)

    def common(self) -> dict:
        attrs = {"dag.name": self.dag.name, "dag.run_id": self.run_id,
                 "cicd.pipeline.name": self.dag.name, "cicd.pipeline.run.id": self.run_id}
        if self.parent_run_id:
            attrs["dag.parent_run_id"] = self.parent_run_id
        return attrs


def _record(who, *, span_id, parent, name, kind, start_ns, end_ns, attrs, status, message,
            events=(), links=()):
    return span.new_record(
        trace_id=who.ctx.trace_id, span_id=span_id, parent_span_id=parent,
        trace_state=who.incoming.tracestate or "", flags=who.ctx.flags, name=name, kind=kind,
        start_ns=start_ns, end_ns=end_ns, attributes=attrs, status_code=status,
        status_message=message, events=list(events), links=list(links),
        resource=who.resource, scope_version=__version__, owned=True)  # one resource


def depends_link(who, upstream) -> dict:
    return {"trace_id": who.ctx.trace_id, "span_id": upstream.span_id,
            "trace_state": who.incoming.tracestate or "", "attributes": {LINK_TYPE: "depends"}}


def task_result(result) -> str:
    if result.outcome is not None and result.outcome.timed_out:
        return "timeout"
    if result.status == model.FAILED and result.outcome is None and not result.children:
        return "error"  # it could not be run as written (traceexec's problem to report)
    return TASK_RESULTS.get(result.status, "error")


def step_record(who: RunIdentity, result: model.StepResult) -> dict:
    step, status, outcome = result.step, result.status, result.outcome
    code, message = STATUS_CODES.get(status, span.STATUS_UNSET), ""
    if outcome is not None:  # its attributes first, in a dict of their own: the record's
        argv = result.argv or []
        attrs = process_attributes(outcome, argv, cwd=result.cwd, path=outcome.path,
                                   args=redacted_arguments(argv))
        if code == span.STATUS_ERROR:
            message = command_status(outcome)[1]
    else:
        attrs = {}
    exit_code = result.exit_code
    if exit_code is not None:
        attrs["step.exit_code"] = exit_code
    if result.attributes:
        attrs.update(result.attributes)
    attrs.update(who.common())
    attrs["step.name"] = step.name
    attrs["step.status"] = who.dag.word(status)
    attrs["cicd.pipeline.task.name"] = step.name
    attrs["cicd.pipeline.task.run.id"] = "%s/%s" % (who.run_id, result.span_id)
    attrs["cicd.pipeline.task.run.result"] = task_result(result)
    if step.id:
        attrs["step.id"] = step.id
    if step.call is not None:
        attrs["step.nested_dag"] = (os.path.relpath(step.call_path, who.dag.directory)
                                    if step.call_path else step.call)
    if result.children:
        attrs["step.sub_runs"] = [c.get("dagRunId", "") for c in result.children]
    attrs["step.attempts"] = len(result.attempts)
    if result.reason:
        attrs["step.status_reason"] = result.reason
    if result.failure_allowed:
        attrs["step.failure_allowed"] = True
    if result.reused:
        attrs["step.reused"] = True
    if code == span.STATUS_ERROR:
        message = message or result.reason or "failed"
        attrs.setdefault("error.type", str(result.exit_code) if result.exit_code else "failed")
    else:
        message = ""
    events = [{"name": "attempt", "time_ns": a.end_ns, "attributes": _attempt(a)}
              for a in result.attempts]
    if result.status == model.FAILED:
        _explain_failure(result, attrs, events, message)
    links = [depends_link(who, upstream) for upstream in result.waited_for] \
        if result.waited_for else []
    if result.links:
        links += result.links
    return _record(who, span_id=result.span_id, parent=who.ctx.span_id,
                   name="Step: %s" % step.name, kind=span.KIND_CLIENT,
                   start_ns=result.start_ns, end_ns=max(result.end_ns, result.start_ns),
                   attrs=attrs, status=code, message=message, events=events, links=links)


def seconds(ns) -> float:
    """``round(ns / 1e9, 6)``, a duration in seconds as the records write it.

    Worked out in whole microseconds for a plain int of 0 to 10**15 ns that is not a tie
    (``ns % 1000 != 500``): there the float ns / 1e9 is too close to ns / 1000 microseconds
    to round to another one, and k / 1e6 is the float round() returns for k microseconds;
    anything else goes to round()."""
    if type(ns) is int and 0 <= ns < 1_000_000_000_000_000 and ns % 1000 != 500:
        return (ns + 500) // 1000 / 1e6
    return round(ns / 1e9, 6)


def _attempt(attempt) -> dict:
    """An attempt event's attributes."""
    attrs = {"attempt": attempt.number, "exit_code": attempt.exit_status,
             "duration_s": seconds(attempt.end_ns - attempt.start_ns)}
    if attempt.error_type:
        attrs["error.type"] = attempt.error_type
    return attrs


def step_start_record(who: RunIdentity, result: model.StepResult) -> dict:
    """The step as it starts (``delivery.running``): replaced by ``step_record`` when it
    ends."""
    attrs = who.common()  # a new dict each time
    attrs["step.name"] = result.step.name
    attrs["step.status"] = "running"
    return running.start_record(
        trace_id=who.ctx.trace_id, span_id=result.span_id, parent_span_id=who.ctx.span_id,
        trace_state=who.incoming.tracestate or "", flags=who.ctx.flags,
        name="Step: %s" % result.step.name, kind=span.KIND_CLIENT, start_ns=result.start_ns,
        attributes=attrs, resource=who.resource, scope_version=__version__,
        links=[depends_link(who, upstream) for upstream in result.waited_for])


def dag_start_record(who: RunIdentity, start_ns: int) -> dict:
    """The DAG run as it starts (``delivery.running``): replaced by ``dag_record``."""
    parent = who.incoming.parent.span_id if who.incoming.parent else ""
    return running.start_record(
        trace_id=who.ctx.trace_id, span_id=who.ctx.span_id, parent_span_id=parent,
        trace_state=who.incoming.tracestate or "", flags=who.ctx.flags,
        name="DAG: %s" % who.dag.name, kind=span.KIND_INTERNAL, start_ns=start_ns,
        attributes=dict(who.common(), **{"dag.status": "running"}), resource=who.resource,
        scope_version=__version__, links=who.links)


def _explain_failure(result, attrs, events, message):
    """A failed step's log paths as attributes and its stderr tail as an exception event."""
    for stream in ("stdout", "stderr"):
        path = result.logs.get(stream)
        if path and os.path.exists(path):
            attrs["step.log.%s" % stream] = path
    if result.stderr_tail:
        from ..stderr_tail import exception_event
        events.append(exception_event("StepFailed", message or result.reason or "failed",
                                      result.stderr_tail, max(result.end_ns, result.start_ns)))


def dag_record(who: RunIdentity, result) -> dict:
    status = result.status
    attrs = who.common()
    attrs["dag.status"] = who.dag.word(status)
    attrs["dag.file"] = os.path.basename(who.dag.path)
    attrs["dag.schema"] = who.dag.schema
    attrs["dag.step_count"] = len(who.dag.steps)
    attrs["dag.exit_status"] = result.exit_status
    attrs["cicd.pipeline.result"] = result.result or "error"
    attrs["cicd.pipeline.action.name"] = "RUN"
    statuses = [r.status for r in result.steps + result.handlers]  # counted in C below
    for state in (model.SUCCEEDED, model.FAILED, model.SKIPPED, model.CANCELLED):
        attrs["dag.steps.%s" % who.dag.word(state)] = statuses.count(state)
    if result.retry_of:
        attrs["dag.retry_of"] = result.retry_of
    if status in (model.FAILED, model.CANCELLED) and result.exit_status:
        code, message = span.STATUS_ERROR, result.reason or who.dag.word(status)
        attrs["error.type"] = attrs["cicd.pipeline.result"]
    elif status == model.PARTIALLY_SUCCEEDED and result.exit_status:
        code, message = span.STATUS_ERROR, result.reason or who.dag.word(status)
        attrs["error.type"] = "failure"
    else:
        code, message = STATUS_CODES.get(status, span.STATUS_UNSET), ""
    if result.reason and code != span.STATUS_ERROR:
        attrs["dag.status_reason"] = result.reason
    parent = who.incoming.parent.span_id if who.incoming.parent else ""
    return _record(who, span_id=who.ctx.span_id, parent=parent, name="DAG: %s" % who.dag.name,
                   kind=span.KIND_INTERNAL, start_ns=result.start_ns, end_ns=result.end_ns,
                   attrs=attrs, status=code, message=message, links=who.links)
