"""Span records from the nodes of ``tree``: one per line, call, process and fold."""

from ..delivery import span
from ..processes.spans import span_ids
from ..wrap.redact import redact_text

NAME_LENGTH = 80
COMMAND_LENGTH = 4096
"""``traceexec.line.command`` is cut here (after redaction)."""


def _redacted(text: str, patterns, enabled) -> str:
    if not enabled:
        return text
    text = redact_text(text)
    if patterns:
        import re
        for pattern in patterns:
            text = re.sub(pattern, "[REDACTED]", text)
    return text


def _name(node, text) -> str:
    first = text.split("\n", 1)[0]
    if len(first) > NAME_LENGTH or first != text:
        first = first[:NAME_LENGTH] + "…"
    return "%d: %s" % (node.lineno, first)


SAMPLED_KEPT = 10


def _sampled(counts) -> dict:
    """The hottest lines of an untraced run, as sampling saw them (untrace.py)."""
    from .untrace import SAMPLE_INTERVAL
    hottest = sorted(counts.items(), key=lambda item: -item[1])[:SAMPLED_KEPT]
    return {"traceexec.line.sampled.count": sum(counts.values()),
            "traceexec.line.sampled.interval_ms": round(SAMPLE_INTERVAL * 1000),
            "traceexec.line.sampled.lines": ["%d (%s): %d" % (line, function or "main", count)
                                             for (function, line), count in hottest]}


def _attributes(node, text) -> dict:
    attrs = {"code.lineno": node.lineno, "code.filepath": node.source,
             "code.function": node.function or "main"}
    if node.kind == "process":
        attrs["process.pid"] = node.pid
        attrs["traceexec.line.process"] = node.process_kind
        return attrs
    if node.kind == "untraced":
        attrs["traceexec.line.untraced_after"] = node.untraced_after
        if node.sampled:
            attrs.update(_sampled(node.sampled))
        return attrs
    attrs["traceexec.line.command"] = text if len(text) <= COMMAND_LENGTH else \
        text[:COMMAND_LENGTH] + "…"
    if node.calls:
        attrs["traceexec.line.calls"] = node.calls
    if node.stops_trace:
        attrs["traceexec.line.stops_trace"] = True  # its span lasts until set -x
    if node.status is not None:
        attrs["traceexec.line.exit.code"] = node.status
    if node.summary is not None and node.kind == "fold":
        summary = node.summary
        attrs.update({"traceexec.fold.count": summary.count,
                      "traceexec.fold.failed": summary.failed,
                      "traceexec.fold.nested": summary.nested,
                      "traceexec.fold.duration.total": round(summary.total_ns / 1e9, 6),
                      "traceexec.fold.duration.max": round(summary.max_ns / 1e9, 6)})
    return attrs


def records(root_span_id, nodes, *, trace_id, flags=1, trace_state="", resource=None,
            scope_version="", redact=True, patterns=()):
    """Span records of ``nodes`` (parents first), one at a time; ``root_span_id`` is the
    span that stands for the script (the wrapper's)."""
    for node, span_id in zip(nodes, span_ids(len(nodes))):
        node.span_id = span_id
    for node in nodes:
        text = _redacted(node.text, patterns, redact)
        if node.kind == "process":
            name = node.process_kind
        elif node.kind == "fold":
            name = _name(node, text) + " (folded)"
        elif node.kind == "untraced":
            name = "untraced: xtrace turned off after %d commands" % node.untraced_after
        else:
            name = _name(node, text)
        status, message = span.STATUS_UNSET, ""
        if node.error:
            status = span.STATUS_ERROR
            message = "the script failed here (exit status %s)" % node.status
            if node.kind == "untraced":
                message = "the script failed after xtrace was turned off (line unknown)"
        parent = node.parent.span_id if node.parent is not None and node.parent.span_id \
            else root_span_id
        yield span.new_record(
            trace_id=trace_id, span_id=node.span_id, parent_span_id=parent,
            trace_state=trace_state, flags=flags, name=name, kind=span.KIND_INTERNAL,
            start_ns=node.start_ns, end_ns=max(node.end_ns or node.start_ns, node.start_ns),
            attributes=_attributes(node, text), status_code=status, status_message=message,
            resource=resource, scope_version=scope_version)
