"""Span records from a process tree.

Each program a process ran is a span (``Node``): a process's first program
sits under the span of whatever its parent was running when it forked, and
each later exec nests under the program it replaced (``sh -c 'exec gcc'``
gives ``sh`` with ``gcc`` inside), all ending when the process ends.  A
forked process that never execs (a subshell) is a span of its parent's
program marked ``traceexec.process.forked``; so is the time before a
forked process's exec, when it started children of its own meanwhile.  The
traced command's first program is the wrapper's span itself (``root``).
"""

import os

from ..delivery import span
from ..wrap.redact import redact_args
from ..wrap.signals import SIGNAL_NAMES

_SIGNAL_NUMBERS = {name: number for number, name in SIGNAL_NAMES.items()}
try:
    CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
except (ValueError, OSError, AttributeError):
    CLOCK_TICKS = 100


class Node:
    """One span to be: a program of a process, or (``fold``) a summary of folded ones."""

    __slots__ = ("proc", "index", "parent", "children", "start_ns", "end_ns", "span_id",
                 "fold")

    def __init__(self, proc, index, parent, start_ns, end_ns):
        self.proc = proc
        self.index = index          # which of proc.images
        self.parent = parent
        self.children = []
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.span_id = ""
        self.fold = None            # fold.Summary for a summary span

    @property
    def image(self):
        return self.proc.images[self.index]

    @property
    def is_process_top(self) -> bool:
        """The outermost span of its process (the others are its later execs)."""
        return self.parent is None or self.parent.proc is not self.proc


def _shown_images(proc, is_root: bool) -> list:
    """Indexes of the images of ``proc`` that become spans."""
    if not proc.images:
        return []
    indexes = list(range(len(proc.images)))
    first = proc.images[0]
    if first.forked and len(proc.images) > 1 and not is_root:
        if not any(child.parent_image == 0 for child in proc.children):
            indexes.pop(0)  # fork-then-exec: the exec is the process's program
    return indexes


def build(tree, end_ns: int):
    """The node tree: (root node standing for the wrapper span, all nodes).

    Processes still running get ``end_ns`` as their end.
    """
    root = Node(tree.root, 0, None, tree.root.images[0].start_ns if tree.root else 0, end_ns)
    nodes = []
    by_process = {}                  # id(proc) -> [(image index, node)]
    for proc in _parents_first(tree):
        is_root = proc is tree.root
        end = proc.end_ns if proc.end_ns is not None else end_ns
        placed = []
        for index in _shown_images(proc, is_root):
            if is_root and index == 0:
                placed.append((0, root))
                continue
            if placed:
                parent = placed[-1][1]
            else:
                parent = _node_at(by_process, proc.parent, proc.parent_image, root)
            node = Node(proc, index, parent, proc.images[index].start_ns, max(end, 0))
            parent.children.append(node)
            nodes.append(node)
            placed.append((index, node))
        by_process[id(proc)] = placed
    return root, nodes


def _parents_first(tree) -> list:
    """Every process, each after its parent (the stream may name a child first)."""
    order, seen = [], set()
    starts = ([tree.root] if tree.root is not None else []) + [
        p for p in tree.processes if p.parent is None and p is not tree.root]
    for start in starts:
        stack = [start]
        while stack:
            proc = stack.pop()
            if id(proc) in seen:
                continue
            seen.add(id(proc))
            order.append(proc)
            stack.extend(reversed(proc.children))
    return order


def _node_at(by_process, parent_proc, image_index, root):
    """The span of ``parent_proc`` that was running its image ``image_index``."""
    while parent_proc is not None:
        placed = by_process.get(id(parent_proc))
        if placed:
            best = placed[0][1]
            for index, node in placed:
                if index <= image_index:
                    best = node
            return best
        # a parent with no program seen (lines lost): its own parent then
        image_index = parent_proc.parent_image
        parent_proc = parent_proc.parent
    return root


def exit_attributes(proc) -> tuple:
    """(attributes, status code, status message) for how ``proc`` ended."""
    if not proc.ended:
        return {"traceexec.process.running": True}, span.STATUS_UNSET, ""
    if proc.signal is not None:
        number = _SIGNAL_NUMBERS.get(proc.signal)
        attrs = {"traceexec.process.signal": proc.signal, "error.type": proc.signal}
        if number is not None:
            attrs["process.exit.code"] = 128 + number
        if proc.core:
            attrs["traceexec.process.core_dumped"] = True
        return attrs, span.STATUS_ERROR, "killed by %s" % proc.signal
    attrs = {"process.exit.code": proc.exit_code}
    if proc.exit_code:
        attrs["error.type"] = str(proc.exit_code)
        return attrs, span.STATUS_ERROR, "exit status %d" % proc.exit_code
    return attrs, span.STATUS_OK, ""


def cpu_attributes(user_ticks, system_ticks) -> dict:
    return {"traceexec.process.cpu.user": round(user_ticks / CLOCK_TICKS, 6),
            "traceexec.process.cpu.system": round(system_ticks / CLOCK_TICKS, 6)}


def span_ids(count: int) -> list:
    """``count`` random span ids."""
    raw = os.urandom(8 * count).hex()
    ids = [raw[i * 16:(i + 1) * 16] for i in range(count)]
    return [i if i != "0" * 16 else "0000000000000001" for i in ids]


def records(root, nodes, *, trace_id, root_span_id, flags=1, trace_state="", resource=None,
            scope_version="", redact=True, patterns=(), wrapper_pid=0):
    """Span records of ``nodes`` (not the root), parented as built, one at a time."""
    root.span_id = root_span_id
    for node, span_id in zip(nodes, span_ids(len(nodes))):
        node.span_id = span_id
    for node in nodes:
        if node.fold is not None:
            # only successful processes are folded (failures stay spans of their own)
            attrs, code, message = node.fold.attributes(), span.STATUS_OK, ""
            name = node.fold.name
        else:
            proc, image = node.proc, node.image
            attrs = {
                "process.pid": proc.pid,
                "process.parent_pid": proc.parent.pid if proc.parent else wrapper_pid,
                "process.executable.name": image.name,
                "process.executable.path": image.path,
                "process.command_args": redact_args(image.argv, patterns, redact),
            }
            if image.forked:
                attrs["traceexec.process.forked"] = True
            more, code, message = exit_attributes(proc)
            attrs.update(more)
            if proc.cpu_ticks is not None and node.is_process_top:
                attrs.update(cpu_attributes(*proc.cpu_ticks))
            name = image.name
        yield span.new_record(
            trace_id=trace_id, span_id=node.span_id, parent_span_id=node.parent.span_id,
            trace_state=trace_state, flags=flags, name=name, kind=span.KIND_INTERNAL,
            start_ns=node.start_ns, end_ns=max(node.end_ns, node.start_ns), attributes=attrs,
            status_code=code, status_message=message, resource=resource,
            scope_version=scope_version)
