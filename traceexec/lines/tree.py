"""Records into a tree of nodes: processes, the lines they ran, and function calls.

A line lasts from its record to the next record of the same process (bash
prints a command just before running it).  A line that calls a function or
sources a file (the next record is deeper: ``${#BASH_SOURCE[@]}`` grew) is the
parent of the lines run inside, until the depth comes back.  A process seen
for the first time (a subshell, a command substitution, a pipeline element, a
background job) is a node under the line or call its parent process was in.

Above ``THRESHOLD`` nodes, a line seen more than ``KEEP`` times at the same
place (file, line and command name) under the same parent is folded: it and
everything under it count into one summary node for that place, so a loop of
a million iterations stays a handful of spans (``--processes`` folds the same
way).  The line where the script failed always stays, with its callers.
"""

import itertools

from ..processes.fold import KEEP, THRESHOLD
from .author import xtrace_change

LINE, PROCESS, FOLD, CALL, UNTRACED = "line", "process", "fold", "call", "untraced"
_TRAPPED = {b"EXIT", b"ERR", b"0", b"SIGEXIT"}
PROCESSES_KEPT = 20000
"""Shells remembered; past this, the older half is forgotten (a script that runs a
million command substitutions must not keep a million records of them)."""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class Node:
    """A span to be.  Fields from the trace stay bytes (``raw_*``) until recorded."""

    __slots__ = ("kind", "parent", "start_ns", "end_ns", "pid", "raw_lineno", "raw_source",
                 "raw_function", "raw_text", "status", "calls", "hidden", "error", "summary",
                 "fold", "process_kind", "span_id", "stops_trace", "untraced_after",
                 "sampled")

    def __init__(self, kind, parent, start_ns, record=None):
        self.kind = kind
        self.parent = parent
        self.start_ns = start_ns
        self.end_ns = None
        if record is not None:
            self.pid = record.pid
            self.raw_lineno = record.lineno
            self.raw_source = record.source
            self.raw_function = record.function
            self.raw_text = record.raw_text
        else:
            self.pid = self.raw_lineno = self.raw_source = self.raw_function = b""
            self.raw_text = b""
        self.status = None       # exit status, when known
        self.calls = ""          # the function (or "source") this line called
        self.hidden = False      # folded away
        self.error = False
        self.summary = None      # Summary, for a FOLD node and the lines folded into it
        self.fold = None         # for a folded line: its FOLD node
        self.process_kind = ""   # for a PROCESS node: subshell, command substitution, pipeline
        self.span_id = ""
        self.stops_trace = False  # the author's set +x: bash traces nothing until set -x
        self.untraced_after = 0   # UNTRACED: commands seen when xtrace was turned off
        self.sampled = None       # UNTRACED: {(function, line): count} read meanwhile

    @property
    def text(self) -> str:
        return _text(self.raw_text)

    @property
    def source(self) -> str:
        return _text(self.raw_source)

    @property
    def function(self) -> str:
        return _text(self.raw_function)

    @property
    def lineno(self) -> int:
        try:
            return int(self.raw_lineno)
        except ValueError:
            return 0


class Summary:
    """The lines folded at one place under one parent."""

    __slots__ = ("count", "total_ns", "max_ns", "failed", "nested")

    def __init__(self):
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0
        self.failed = 0
        self.nested = 0      # lines run inside the folded ones (function bodies, subshells)


class _Process:
    __slots__ = ("node", "stack", "last", "last_failed", "subshell", "level")

    def __init__(self, node, depth, subshell, level):
        self.node = node
        self.stack = [(depth, node)]   # (depth, the node lines at that depth go under)
        self.last = None               # the line running now (its end comes with the next)
        self.last_failed = None        # the last line that ended with a non-zero status
        self.subshell = subshell
        self.level = level


def _first_word(text: bytes) -> bytes:
    """The command's name; for an assignment (``i=42``), the variable's (``i=``)."""
    words = text.split(None, 1)
    if not words:
        return b""
    name, equals, _ = words[0].partition(b"=")
    return name + equals if equals and name.replace(b"_", b"a").isalnum() else words[0]


def _is_call(line, record) -> bool:
    """Whether ``line`` is what made bash go one level deeper into ``record``."""
    word = _first_word(line.raw_text)
    if record.function == b"source" or record.source != line.raw_source and \
            record.function == line.raw_function:
        return word in (b"source", b".")
    return word == record.function


class Builder:
    """Feed records in the order they came; ``finish`` once the script has ended."""

    def __init__(self, root, *, threshold=THRESHOLD, keep=KEEP, skip_source=None,
                 processes_kept=PROCESSES_KEPT, command_string=False):
        self.root = root
        self.nodes = []              # the nodes that will be spans (not root)
        self.processes = {}
        self.main = None
        self.threshold = threshold
        self.keep = keep
        self.processes_kept = processes_kept
        self.skip_source = skip_source.encode() if isinstance(skip_source, str) \
            else skip_source        # the preamble's own lines
        self._seen = {}              # place -> count
        self._folds = {}             # place -> FOLD node
        self._waiting = []           # subshells whose last line has no end yet
        self._trapped = False        # the script set an EXIT or ERR trap
        self.lines = 0               # every line seen, folded or not
        self.main_pid = b""
        self.untraced = {}           # pid -> (ns, lines seen): xtrace turned off (untrace)
        self._samples = {}           # pid -> ({(function, line): count}, ended ns or None)
        self.folded = 0
        # the preamble is one level deeper than a script's top level, which BASH_SOURCE
        # counts as one; a command string's top level counts none
        self._base_offset = 1 if command_string else 0

    def add(self, record) -> None:
        if self.skip_source and record.source == self.skip_source:
            if self.main is None:  # the preamble's last line: the script's own shell
                self.main_pid = record.pid
                self._new_process(record)
                self.main.stack[0] = (record.depth - self._base_offset, self.root)
            return
        self.lines += 1
        proc = self.processes.get(record.pid)
        if proc is None:
            proc = self._new_process(record)
        prev = proc.last
        stack = proc.stack
        top_depth = stack[-1][0]
        depth = record.depth
        if depth == top_depth:
            if prev is not None:
                self._end_line(proc, prev, record.time_ns, record.status)
        else:
            calls = depth > top_depth and prev is not None and \
                prev.parent is stack[-1][1] and _is_call(prev, record)
            if prev is not None and not calls:  # a call ends when its function returns
                self._end_line(proc, prev, record.time_ns, record.status)
            if depth < top_depth:
                while len(stack) > 1 and stack[-1][0] > depth:
                    self._end_line(proc, stack.pop()[1], record.time_ns, record.status)
            else:
                if calls:
                    frame = prev
                else:  # no line of ours called it (the call was not traced)
                    frame = self._node(CALL, stack[-1][1], record.time_ns, record)
                    frame.raw_text = record.function or record.source
                frame.calls = _text(record.function) or "source"
                stack.append((depth, frame))
        proc.last = self._node(LINE, stack[-1][1], record.time_ns, record)
        if record.raw_text.startswith(b"set ") and xtrace_change(record.text) is False:
            proc.last.stops_trace = True
        if proc is self.main and record.raw_text.startswith(b"trap ") and \
                _TRAPPED.intersection(record.raw_text.split()[-3:]):
            self._trapped = True
        # a subshell's last line ends when its process does, which xtrace does not
        # show: it gets the time of the next line anyone printed (for a background
        # job whose last command runs on, too early)
        if self._waiting:
            for other in self._waiting:
                if other is not proc and other.last.end_ns is None:
                    other.last.end_ns = record.time_ns
            self._waiting = []
        if proc is not self.main:
            self._waiting.append(proc)

    def _new_process(self, record):
        parent = self.processes.get(record.parent_pid) if record.parent_pid != record.pid \
            else None
        subshell = _number(record.subshell)
        if self.main is None or parent is None:
            if self.main is None:
                proc = _Process(self.root, record.depth, subshell, record.level)
                self.main = proc
                self.processes[record.pid] = proc
                return proc
            parent = self.main
        # its first line's depth tells which of the parent's calls it was forked in
        # (the parent's later returns may not have shown yet, nor its call, when the
        # function begins with a command substitution)
        last = parent.last
        if record.depth > parent.stack[-1][0] and last is not None and \
                last.parent is parent.stack[-1][1] and _is_call(last, record):
            last.calls = _text(record.function) or "source"
            parent.stack.append((record.depth, last))
        base, under = parent.stack[0]
        for depth, frame in parent.stack[1:]:
            if depth > record.depth:
                break
            base, under = depth, frame
        node = self._node(PROCESS, under, record.time_ns, record)
        node.raw_text = b""
        if record.level > parent.level:
            node.process_kind = "command substitution"
        elif subshell > parent.subshell:
            node.process_kind = "subshell"
        else:
            node.process_kind = "pipeline"
        proc = _Process(node, base, subshell, record.level)
        if len(self.processes) >= self.processes_kept:  # the oldest are over by now
            for pid in list(itertools.islice(self.processes, self.processes_kept // 2)):
                if self.processes[pid] is not self.main:
                    del self.processes[pid]
        self.processes[record.pid] = proc
        return proc

    def _node(self, kind, parent, start_ns, record):
        node = Node(kind, parent, start_ns, record)
        if parent.hidden:
            node.hidden = True
            self._count_nested(parent)
            return node
        if len(self.nodes) < self.threshold:
            self.nodes.append(node)
            self._count(parent, node)
            return node
        key = (id(parent), node.raw_source, node.raw_lineno, kind, _first_word(node.raw_text))
        seen = self._seen.get(key, 0) + 1
        self._seen[key] = seen
        if seen <= self.keep:
            self.nodes.append(node)
            return node
        node.hidden = True
        fold = self._folds.get(key)
        if fold is None:
            fold = Node(FOLD, parent, start_ns, record)
            fold.summary = Summary()
            self._folds[key] = fold
            self.nodes.append(fold)
        fold.summary.count += 1
        node.summary = fold.summary  # where its time goes when it ends
        node.fold = fold
        self.folded += 1
        return node

    def _count(self, parent, node):
        """Below the threshold: count the places seen, for when folding starts."""
        key = (id(parent), node.raw_source, node.raw_lineno, node.kind,
               _first_word(node.raw_text))
        self._seen[key] = self._seen.get(key, 0) + 1

    @staticmethod
    def _count_nested(node):
        while node is not None and node.summary is None:
            node = node.parent
        if node is not None:
            node.summary.nested += 1

    def _end_line(self, proc, line, end_ns, status):
        line.end_ns = end_ns
        line.status = status
        if status and line.kind == LINE:
            proc.last_failed = line
        if line.fold is not None:
            summary, duration = line.summary, end_ns - line.start_ns
            summary.total_ns += duration
            if duration > summary.max_ns:
                summary.max_ns = duration
            if status:
                summary.failed += 1
            fold = line.fold
            if fold.end_ns is None or end_ns > fold.end_ns:
                fold.end_ns = end_ns

    def stopped_tracing(self, pid: bytes, when_ns: int) -> None:
        """xtrace was turned off in ``pid`` at ``when_ns`` (lines/untrace.py)."""
        self.untraced[pid] = (when_ns, self.lines)

    def sampled(self, pid: bytes, counts, ended_ns) -> None:
        """What sampling saw of a turned-off shell: its lines, and when it ended."""
        self._samples[pid] = (counts, ended_ns)

    def _untraced_node(self, proc, when_ns, after, end_ns):
        """After the last line a shell traced: one node for the rest of its run."""
        last = proc.last
        if last is not None and last.end_ns is None:  # it ran on, untraced: end unknown
            self._end_line(proc, last, max(when_ns, last.start_ns), None)
        parent = proc.stack[-1][1]
        while parent.hidden:
            parent = parent.parent
        node = Node(UNTRACED, parent, max(when_ns, last.start_ns if last else when_ns))
        if last is not None:
            node.pid, node.raw_lineno = last.pid, last.raw_lineno
            node.raw_source, node.raw_function = last.raw_source, last.raw_function
        node.untraced_after = after
        node.sampled = self._samples.get(proc.last.pid if last is not None else None,
                                         (None, None))[0]
        node.end_ns = max(end_ns, node.start_ns)
        self.nodes.append(node)
        return node

    def finish(self, end_ns: int, exit_status: int) -> list:
        """The nodes to record, every end filled in; the failing line marked."""
        failed_untraced = None
        for proc in self.processes.values():
            last_end = end_ns
            if proc is not self.main:
                last_end = proc.last.end_ns if proc.last and proc.last.end_ns else None
                if last_end is None:
                    last_end = proc.last.start_ns if proc.last else end_ns
            pid = proc.last.pid if proc.last is not None else None
            if pid in self.untraced:
                when_ns, after = self.untraced[pid]
                ended_ns = self._samples.get(pid, (None, None))[1]
                if proc is not self.main:  # when sampling found it gone, if it did
                    last_end = ended_ns or when_ns
                last_end = max(last_end, when_ns)
                node = self._untraced_node(proc, when_ns, after, last_end)
                if proc is self.main:
                    failed_untraced = node
            last = proc.last
            if last is not None and last.end_ns is None:
                failed = proc.last_failed  # a status seen by no next line is not one
                self._end_line(proc, last, last_end, exit_status if proc is self.main else None)
                proc.last_failed = failed
            for _, frame in proc.stack[1:]:
                if frame.end_ns is None or frame.end_ns < last_end:
                    frame.end_ns = last_end
            if proc is not self.main:
                proc.node.end_ns = max(last_end, proc.node.start_ns)
        if exit_status and failed_untraced is not None:  # where, xtrace no longer says
            self._mark_error(failed_untraced)
        elif exit_status and self.main is not None:
            self._mark_failure(self.main)
        for node in self.nodes:
            if node.end_ns is None:
                node.end_ns = node.start_ns
        return [n for n in self.nodes if not n.hidden]

    def _mark_failure(self, main):
        """The line the script failed on: its last, unless the script set an EXIT or
        ERR trap, whose handler ran after it: then the last line whose next one
        began with ``$?`` at the script's exit status."""
        failing = main.last
        if failing is None:
            return
        if self._trapped and main.last_failed is not None and main.last_failed is not failing:
            failing = main.last_failed
        self._mark_error(failing)

    def _mark_error(self, node):
        while node is not None and node is not self.root:
            node.error = True
            if node.hidden:
                node.hidden = False
                self.nodes.append(node)
            node = node.parent


def _number(field: bytes) -> int:
    try:
        return int(field)
    except ValueError:
        return 0
