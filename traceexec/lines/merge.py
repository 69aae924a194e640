"""``--lines`` with ``--processes``: a line's span is the parent of the processes it started.

A process span whose process was started by a traced bash (its parent pid, or
its own pid once a traced subshell execs a program, is one of the script's
shells) moves under the line that shell was running when the process began.
strace's span for a subshell that a traced bash forked
(``traceexec.process.forked``) is left out: the line tree has that subshell
already (when it ran a line), and what it started goes under its lines.
"""

import bisect


class LineIndex:
    """For each shell pid, its line spans by start time."""

    def __init__(self, nodes):
        self._starts = {}
        self._ids = {}
        for node in sorted((n for n in nodes if n.kind in ("line", "fold")),
                           key=lambda n: n.start_ns):
            try:
                pid = int(node.pid)
            except ValueError:
                continue
            self._starts.setdefault(pid, []).append(node.start_ns)
            self._ids.setdefault(pid, []).append(node.span_id)

    def __contains__(self, pid) -> bool:
        return pid in self._starts

    def line_at(self, pid, time_ns):
        """The span id of the line ``pid`` was running at ``time_ns`` (None: before any)."""
        starts = self._starts.get(pid)
        if not starts:
            return None
        at = bisect.bisect_right(starts, time_ns) - 1
        return self._ids[pid][at] if at >= 0 else None


def reparent(records, index: LineIndex):
    """``records`` (process spans), each under the line that started it; forked
    copies of traced shells left out, their children moved up with the rest."""
    moved = {}   # span id of a left-out span -> where its children go instead
    for record in records:
        attrs = record["attributes"]
        pid, parent_pid = attrs.get("process.pid"), attrs.get("process.parent_pid")
        if attrs.get("traceexec.process.forked") and (pid in index or parent_pid in index):
            moved[record["span_id"]] = record["parent_span_id"]
            continue
        shell = pid if pid in index else parent_pid if parent_pid in index else None
        line = index.line_at(shell, record["start_ns"]) if shell is not None else None
        if line is not None:
            record["parent_span_id"] = line
        else:
            parent = record["parent_span_id"]
            while parent in moved:
                parent = moved[parent]
            record["parent_span_id"] = parent
        yield record
