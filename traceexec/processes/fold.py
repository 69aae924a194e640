"""Folding huge process trees, so that a 50,000-process build stays readable.

Above ``THRESHOLD`` spans, the children of one span that are the same
program (the same chain of executables, e.g. ``sh`` then ``gcc``) are folded
when there are more than ``GROUP`` of them: the ``KEEP`` longest stay as
spans (with everything under them), and so does every child whose subtree
failed or was still running; the others become one summary span with their
count, total and longest duration, how many processes they and their
descendants were, and their CPU time.  ``--processes=all`` keeps everything.
"""

THRESHOLD = 1000
"""Fold only trees with more spans than this."""
GROUP = 10
"""Fold a group of same-program siblings only when it has more members than this."""
KEEP = 5
"""The longest members of a folded group that stay as spans."""


class Summary:
    """What a summary span says about the siblings it replaces."""

    __slots__ = ("name", "path", "count", "processes", "total_ns", "max_ns", "user_ticks",
                 "system_ticks")

    def __init__(self, name, path):
        self.name = name + " (folded)"
        self.path = path
        self.count = 0
        self.processes = 0
        self.total_ns = 0
        self.max_ns = 0
        self.user_ticks = 0
        self.system_ticks = 0

    def attributes(self) -> dict:
        from .spans import cpu_attributes
        attrs = {"process.executable.name": self.name[:-len(" (folded)")],
                 "process.executable.path": self.path,
                 "traceexec.fold.count": self.count,
                 "traceexec.fold.processes": self.processes,
                 "traceexec.fold.duration.total": round(self.total_ns / 1e9, 6),
                 "traceexec.fold.duration.max": round(self.max_ns / 1e9, 6)}
        attrs.update(cpu_attributes(self.user_ticks, self.system_ticks))
        return attrs


def _subtree(node):
    stack, out = [node], []
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(current.children)
    return out


def _key(node) -> tuple:
    return tuple(image.name for image in node.proc.images)


def _must_stay(members) -> bool:
    return any(n.fold is None and (not n.proc.ended or n.proc.failed) for n in members)


def fold(root, nodes, *, threshold=THRESHOLD, group=GROUP, keep=KEEP):
    """Nodes after folding (summary nodes included); ``nodes`` as is when small enough.

    Returns (nodes, processes folded away).
    """
    from .spans import Node
    if len(nodes) <= threshold:
        return nodes, 0
    removed = set()
    folded_processes = 0
    stack = [root]
    while stack:
        parent = stack.pop()
        groups = {}
        for child in parent.children:
            if child.is_process_top:
                groups.setdefault(_key(child), []).append(child)
        for key, members in groups.items():
            if len(members) <= group:
                continue
            subtrees = [(child, _subtree(child)) for child in members]
            staying = {id(c) for c, sub in subtrees if _must_stay(sub)}
            by_length = sorted(members, key=lambda c: c.end_ns - c.start_ns, reverse=True)
            staying.update(id(c) for c in by_length[:keep])
            going = [(c, sub) for c, sub in subtrees if id(c) not in staying]
            if len(going) < 2:
                continue
            last = going[0][0].proc.images[-1]
            summary = Summary(key[-1], last.path)
            start, end = None, None
            for child, sub in going:
                duration = child.end_ns - child.start_ns
                summary.count += 1
                summary.total_ns += duration
                summary.max_ns = max(summary.max_ns, duration)
                start = child.start_ns if start is None else min(start, child.start_ns)
                end = child.end_ns if end is None else max(end, child.end_ns)
                for member in sub:
                    removed.add(id(member))
                    if member.is_process_top:
                        summary.processes += 1
                        if member.proc.cpu_ticks:
                            summary.user_ticks += member.proc.cpu_ticks[0]
                            summary.system_ticks += member.proc.cpu_ticks[1]
            folded_processes += summary.processes
            node = Node(going[0][0].proc, len(going[0][0].proc.images) - 1, parent, start, end)
            node.fold = summary
            parent.children = [c for c in parent.children if id(c) not in removed]
            parent.children.append(node)
        stack.extend(c for c in parent.children if c.fold is None)
    kept = [n for n in nodes if id(n) not in removed]
    kept.extend(n for n in _subtree(root) if n.fold is not None)
    return kept, folded_processes
