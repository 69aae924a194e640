"""The critical path: the chain of spans that determined a trace's total duration.

Where a span's children are DAG steps with ``depends`` links (a step's span
links to each step span it waited for), the chain follows those real edges:
the step that finished last ended the DAG, and it could start only when the
dependency that finished last was done, and so on back to a step that waited
for nothing.  Elsewhere (wrapped commands, make builds, process trees, SDK
spans) only timing is known, and the chain is the usual estimate: from a
span's end, the child that finished last before that point, then the child
that finished last before that child started, and so on, each followed down
the same way.

One module for ``show``, the web page and the HTML file::

    path = critical.critical_path(spans)
    path.span_ids, path.method   # {"00f0...", ...}, "depends" | "timing" | "depends+timing"
"""
from __future__ import annotations

from . import trace as _trace

BY_DEPENDS, BY_TIMING = "depends", "timing"


class CriticalPath:
    """The spans on the critical path, and how it was found."""

    def __init__(self, span_ids: list, used: set):
        self.order = span_ids
        """Span ids from the root down, in the order the chain was found."""
        self.span_ids = set(span_ids)
        self.used = used

    @property
    def method(self) -> str:
        """``depends``, ``timing``, or ``depends+timing`` when both were used."""
        if self.used == {BY_DEPENDS}:
            return BY_DEPENDS
        if BY_DEPENDS in self.used:
            return BY_DEPENDS + "+" + BY_TIMING
        return BY_TIMING

    def describe(self) -> str:
        """One line for a viewer to print under the trace."""
        if not self.span_ids:
            return ""
        how = {BY_DEPENDS: "from the DAG's depends links",
               BY_TIMING: "by timing: this trace has no dependency links",
               BY_DEPENDS + "+" + BY_TIMING:
                   "from the DAG's depends links, and by timing inside the steps"}[self.method]
        return "critical path: %d span%s, %s" % (
            len(self.span_ids), "" if len(self.span_ids) == 1 else "s", how)


def critical_path(spans, children=None) -> CriticalPath:
    """The critical path of a trace, from its root that ended last."""
    spans = _trace.as_spans(spans)
    if not spans:
        return CriticalPath([], set())
    children = _trace.children_of(spans) if children is None else children
    roots = _trace.roots_of(spans) or spans[:1]
    root = max(roots, key=lambda s: (s.end_ns, -s.start_ns))
    order, used = [], set()
    # (span, the time by which it mattered): the stack replaces recursion, for deep trees
    stack = [(root, root.end_ns)]
    while stack:
        item, limit = stack.pop()
        order.append(item.span_id)
        kids = children.get(item.span_id, ())
        if not kids:
            continue
        end = min(item.end_ns, limit)
        if any(kid.depends for kid in kids):
            chain = _by_depends(kids, end)
            used.add(BY_DEPENDS)
        else:
            chain = _by_timing(kids, end)
            if chain:
                used.add(BY_TIMING)
        stack.extend(chain)  # latest first, so the earliest is taken next
    return CriticalPath(order, used)


def _clamped_end(kid, end: int) -> int:
    return min(kid.end_ns, end)


def _by_timing(kids, end: int) -> list:
    """(child, limit) pairs, latest first: each finished last before the next one started."""
    chain = []
    cursor = end
    for kid in sorted(kids, key=lambda k: (_clamped_end(k, end), k.start_ns), reverse=True):
        kid_end = _clamped_end(kid, end)
        if kid_end <= cursor and kid.start_ns < cursor:
            chain.append((kid, kid_end))
            cursor = kid.start_ns
    return chain


def _by_depends(kids, end: int) -> list:
    """(step, limit) pairs: the step that ended last, then the dependency it waited for
    longest, back to a step that waited for nothing."""
    by_id = {kid.span_id: kid for kid in kids}
    step = max(kids, key=lambda k: (_clamped_end(k, end), -k.start_ns))
    chain, seen = [], set()
    while step is not None and step.span_id not in seen:
        seen.add(step.span_id)
        chain.append((step, _clamped_end(step, end)))
        waited = [by_id[d] for d in step.depends if d in by_id]
        step = max(waited, key=lambda k: (_clamped_end(k, end), -k.start_ns)) \
            if waited else None
    return chain
