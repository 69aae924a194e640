"""lines.merge: process spans moved under the line that started them."""
from __future__ import annotations

from traceexec.lines import merge, tree


def line(pid, start, span_id, kind=tree.LINE):
    node = tree.Node(kind, None, start)
    node.pid, node.span_id = str(pid).encode(), span_id
    return node


def process(span_id, parent, pid, parent_pid, start, forked=False):
    attrs = {"process.pid": pid, "process.parent_pid": parent_pid}
    if forked:
        attrs["traceexec.process.forked"] = True
    return {"span_id": span_id, "parent_span_id": parent, "start_ns": start,
            "attributes": attrs}


INDEX = merge.LineIndex([line(10, 100, "l1"), line(10, 200, "l2"), line(11, 150, "s1"),
                         line(10, 50, "p0", kind=tree.PROCESS)])


def test_line_at():
    assert [INDEX.line_at(10, t) for t in (99, 100, 199, 250)] == [None, "l1", "l1", "l2"]
    assert 11 in INDEX and 12 not in INDEX


def test_reparent():
    records = [
        process("a", "root", 20, 10, 120),                 # started by the main shell
        process("f", "root", 11, 10, 140, forked=True),    # the subshell's forked copy
        process("b", "f", 21, 11, 160),                    # started by the subshell
        process("c", "f", 11, 10, 170),                    # the subshell exec'd a program
        process("d", "root", 30, 99, 180),                 # not a shell's: as it was
        process("e", "d", 31, 30, 190),
    ]
    moved = {r["span_id"]: r["parent_span_id"] for r in merge.reparent(records, INDEX)}
    assert moved == {"a": "l1", "b": "s1", "c": "s1", "d": "root", "e": "d"}
