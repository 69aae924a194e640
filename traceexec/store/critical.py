"""The critical path of a trace, with each span's slack and drag.

Where a span's children are DAG steps with ``depends`` links (a step's span
links to each step span it waited for), the path comes from the
critical-path method over those links, with each step's measured duration:
a forward pass gives each step its earliest start and finish, a backward
pass its latest, and the steps whose earliest and latest start agree (no
slack) are on the path.  Lifecycle handlers (``onFailure``, ``onExit``, ...)
depend on nothing and nothing depends on them: they are never on the path.

* **slack**: how much a span could take longer without making the run
  longer (0 on the path);
* **drag**: how much shorter the run would be if a span on the path took no
  time at all (its duration, less what a parallel branch would then need).

Elsewhere (wrapped commands, make builds, process trees, SDK spans) only
timing is known: from a span's end, the child that finished last before that
point, then the child that finished last before that one started, and so on,
each followed down the same way.  Of that chain only the children that
really held their parent up are marked: those whose drag is at least 1% of
the trace (in a sequential script, the commands that took the time, not
every ``echo``).

One module for ``show``, the web page, the HTML file and ``history``::

    path = critical.critical_path(spans)
    path.span_ids, path.method   # {"00f0...", ...}, "depends" | "timing" | "depends+timing"
    path.slack[span_id], path.drag[span_id]   # nanoseconds (absent: not worked out)
"""
from __future__ import annotations

import bisect

from . import trace as _trace

BY_DEPENDS, BY_TIMING = "depends", "timing"
HANDLER_STEPS = frozenset("Step: " + name for name in (
    "onInit", "onSuccess", "onFailure", "onCancel", "onAbort", "onExit", "onWait"))
"""Span names of a DAG's lifecycle handlers (``dag.model.HANDLER_NAMES``)."""
MAX_DRAG_WORK = 4_000_000
"""Above this many node visits, drag in a DAG is not recomputed step by step."""


class CriticalPath:
    """The spans on the critical path, how it was found, and each span's slack and drag."""

    def __init__(self, span_ids: list, used: set, slack=None, drag=None, handlers=()):
        self.order = span_ids
        """Span ids from the root down, in the order the chain was found."""
        self.span_ids = set(span_ids)
        self.used = used
        self.slack = slack if slack is not None else {}
        """{span id: ns it could take longer without delaying the trace}."""
        self.drag = drag if drag is not None else {}
        """{span id: ns the trace would be shorter without it} for spans on the path."""
        self.handlers = set(handlers)
        """DAG lifecycle handlers: outside the dependency graph."""

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
        how = {BY_DEPENDS: "from depends links",
               BY_TIMING: "by timing (no links)",
               BY_DEPENDS + "+" + BY_TIMING: "from depends links, by timing within steps"
               }[self.method]
        return "critical path: %d span%s, %s" % (
            len(self.span_ids), "" if len(self.span_ids) == 1 else "s", how)

    def largest_drag(self, spans, count: int = 3) -> list:
        """The ``count`` spans on the path (the root aside) with the most drag, largest
        first: what to shorten first."""
        by_id = {s.span_id: s for s in spans}
        ranked = sorted(((d, i) for i, d in self.drag.items()
                         if i in by_id and i != (self.order[0] if self.order else None)
                         and d > 0), reverse=True)
        return [(by_id[i], d) for d, i in ranked[:count]]


def critical_path(spans, children=None) -> CriticalPath:
    """The critical path of a trace, from its root that ended last; the slack of each
    child of a span on the path, the drag of each span on it."""
    spans = _trace.as_spans(spans)
    if not spans:
        return CriticalPath([], set())
    children = _trace.children_of(spans) if children is None else children
    roots = _trace.roots_of(spans) or spans[:1]
    root = max(roots, key=lambda s: (s.end_ns, -s.start_ns))
    order, used, handlers = [], set(), set()
    slack, drag = {}, {}
    for top in roots:
        slack[top.span_id] = 0 if top is root else max(0, root.end_ns - top.end_ns)
    drag[root.span_id] = root.duration_ns
    floor = max(1, root.duration_ns // 100)
    # (span on the path, the time by which it mattered): the stack replaces recursion, for
    # deep trees.  Only the path's spans are looked into: their children get their slack
    # (and drag); spans under a span off the path get none (it would cost a pass over
    # every parent of a 100,000-span build, for numbers nobody reads there)
    stack = [(root, root.end_ns)]
    seen = set()
    get_kids = children.get
    while stack:
        item, limit = stack.pop()
        item_id = item.span_id
        if item_id in seen:
            continue
        seen.add(item_id)
        order.append(item_id)
        kids = get_kids(item_id)
        if not kids:
            continue
        kids = [k for k in kids if k.span_id not in seen]
        end = min(item.end_ns, limit)
        if any(kid.depends for kid in kids):
            local = _by_depends(kids, item.start_ns)
            method = BY_DEPENDS
            handlers.update(local.handlers)
        else:
            local = _by_timing(kids, end, floor)
            method = BY_TIMING
        slack.update(local.slack)  # the parent is on the path: its own slack is 0
        path_kids = local.path
        if path_kids:
            used.add(method)
            base_drag = drag.get(item_id, 0)
            local_drag = local.drag
            for kid in path_kids:
                drag[kid.span_id] = min(base_drag, local_drag.get(kid.span_id, 0))
            stack.extend((kid, min(kid.end_ns, end)) for kid in
                         sorted(path_kids, key=lambda k: (k.start_ns, k.end_ns), reverse=True))
    return CriticalPath(order, used, slack, drag, handlers)


class _Local:
    """One parent's children: which are on its path, and their slack and drag."""

    def __init__(self, path, slack, drag, handlers=()):
        self.path, self.slack, self.drag, self.handlers = path, slack, drag, handlers


# --- by timing --------------------------------------------------------------------

def _by_timing(kids, end: int, floor: int) -> _Local:
    if len(kids) == 1:  # the common case: one child, on the chain if it ends in time
        kid = kids[0]
        kid_end = kid.end_ns if kid.end_ns < end else end
        if kid.start_ns < end:
            held = kid_end - kid.start_ns
            if held >= floor:
                return _Local((kid,), {kid.span_id: 0}, {kid.span_id: held})
            return _Local((), {kid.span_id: 0}, {})
        return _Local((), {kid.span_id: 0}, {})
    ends = [k.end_ns if k.end_ns < end else end for k in kids]
    chain, cursor = [], end
    for kid_end, _, at in sorted(zip(ends, [k.start_ns for k in kids], range(len(kids))),
                                 reverse=True):
        kid = kids[at]
        if kid_end <= cursor and kid.start_ns < cursor:
            chain.append(at)
            cursor = kid.start_ns
    chain.reverse()
    starts = [kids[at].start_ns for at in chain]
    ends_sorted = sorted(ends)
    on = set(chain)
    slack, drag, path = {}, {}, []
    for at, kid in enumerate(kids):
        kid_end = ends[at]
        if at in on:
            slack[kid.span_id] = 0
            # without it, what waited for it could start when the latest other sibling
            # that ended during it ended
            place = bisect.bisect_right(ends_sorted, kid_end)  # [place - 1] is its own
            latest = ends_sorted[place - 2] if place >= 2 else kid.start_ns
            held = kid_end - max(kid.start_ns, latest)
            if held >= floor:  # else it held its parent up, but negligibly: not marked
                drag[kid.span_id] = held
        else:
            after = bisect.bisect_left(starts, kid_end)
            bound = starts[after] if after < len(starts) else end
            slack[kid.span_id] = bound - kid_end if bound > kid_end else 0
    path = [kids[at] for at in chain if kids[at].span_id in drag]
    return _Local(path, slack, drag)


# --- by depends (the critical-path method) ----------------------------------------

def is_handler(kid) -> bool:
    """A DAG lifecycle handler: named as one, and waiting for nothing."""
    return kid.name in HANDLER_STEPS and not kid.depends


def _by_depends(kids, start: int) -> _Local:
    handlers = [k for k in kids if is_handler(k)]
    nodes = [k for k in kids if not is_handler(k)]
    index = {k.span_id: i for i, k in enumerate(nodes)}
    count = len(nodes)
    preds = [sorted({index[d] for d in k.depends if d in index and index[d] != i})
             for i, k in enumerate(nodes)]
    order = _topological(preds)
    rank = {node: position for position, node in enumerate(order)}
    # a cycle (never written by traceexec, but a file may hold anything) is cut where found
    preds = [[p for p in preds[i] if rank[p] < rank[i]] for i in range(count)]
    succs = [[] for _ in range(count)]
    for i in range(count):
        for p in preds[i]:
            succs[p].append(i)
    weights = [k.duration_ns for k in nodes]
    finish = _forward(order, preds, weights)
    total = max(finish) if finish else 0
    latest_finish = [total] * count
    for i in reversed(order):
        if succs[i]:
            latest_finish[i] = min(latest_finish[s] - weights[s] for s in succs[i])
    slack, drag, path = {}, {}, []
    earliest = [finish[i] - weights[i] for i in range(count)]
    work = count + sum(len(p) for p in preds)
    critical = [i for i in range(count) if latest_finish[i] - finish[i] == 0]
    exact = work * len(critical) <= MAX_DRAG_WORK
    for i, kid in enumerate(nodes):
        slack[kid.span_id] = latest_finish[i] - finish[i]
    for i in critical:
        path.append(nodes[i])
        if exact:
            saved, weights[i] = weights[i], 0
            without = _forward(order, preds, weights)
            weights[i] = saved
            drag[nodes[i].span_id] = total - max(without)
        else:
            drag[nodes[i].span_id] = weights[i]
    path.sort(key=lambda k: (earliest[index[k.span_id]], k.start_ns))
    for kid in handlers:
        slack.pop(kid.span_id, None)
    return _Local(path, slack, drag, [k.span_id for k in handlers])


def _topological(preds) -> list:
    """Nodes in an order where each follows its predecessors; nodes in a cycle follow in
    their given order once nothing else can go."""
    count = len(preds)
    waiting = [len(p) for p in preds]
    succs = [[] for _ in range(count)]
    for i, group in enumerate(preds):
        for p in group:
            succs[p].append(i)
    ready = [i for i in range(count) if not waiting[i]]
    ready.reverse()
    order, placed = [], [False] * count
    cut = 0
    while len(order) < count:
        if not ready:
            while placed[cut]:
                cut += 1
            ready.append(cut)  # a cycle: take the first node left
            waiting[cut] = 0
        node = ready.pop()
        if placed[node]:
            continue
        placed[node] = True
        order.append(node)
        for s in succs[node]:
            waiting[s] -= 1
            if waiting[s] == 0 and not placed[s]:
                ready.append(s)
    return order


def _forward(order, preds, weights) -> list:
    """Earliest finish of each node: its weight after its latest predecessor."""
    finish = [0] * len(weights)
    for i in order:
        finish[i] = max((finish[p] for p in preds[i]), default=0) + weights[i]
    return finish
