"""``--processes`` for one wrapped command: decide, trace, turn the tree into spans.

``start`` returns a ``Traced`` (run ``traced.argv`` instead of the command)
or ``None``: when tracing is not possible it says why in one line and the
command runs exactly as without ``--processes``.  It also returns ``None``,
silently, when the command would not start at all (not found, not
executable, a missing interpreter: the plain run gives the usual 126/127 and
message) and when a traceexec tracer above already follows this process.
"""

import os
import sys

from ..delivery.span import with_valid_text
from ..wrap import supervise
from . import fold, spans, tracer

BATCH = 1000
"""Process spans are delivered this many at a time."""
BINFMT_MISC = "/proc/sys/fs/binfmt_misc"


class Traced:
    """A command running under the tracer."""

    def __init__(self, session, path, keep_all):
        self.session = session
        self.argv = session.argv
        self.path = path             # the command's executable, for the wrapper's span
        self.keep_all = keep_all

    def deliver(self, outcome, own, send, *, trace_id, span_id, flags=1, trace_state="",
                resource=None, scope_version="", redact=True, patterns=()) -> None:
        """Once the command ended: the process spans, with ``own`` (the wrapper's span,
        if any) in the first batch, given to ``send(records, last)`` ``BATCH`` at a
        time, so that a huge tree never becomes one huge document.  After a failed
        ``send`` (which has warned) the rest is dropped.  The wrapper's span gets
        the counts (``traceexec.processes.*``).

        Never raises: a problem here costs process spans, never the command's
        outcome nor the wrapper's span.
        """
        try:
            # strace's strings come out of stream.py as valid text; only the resource,
            # shared by every record, may hold what the environment could not decode
            resource = with_valid_text(resource) if resource else resource
            records, attrs = self.records(outcome, trace_id, span_id, flags, trace_state,
                                          resource, scope_version, redact, patterns)
        except Exception as error:
            records, attrs = iter(()), {
                "traceexec.processes.error": "%s: %s" % (type(error).__name__, error)}
        send_in_batches(own, attrs, records, send)

    def records(self, outcome, trace_id, span_id, flags, trace_state, resource,
                scope_version, redact, patterns):
        """(an iterator of the process span records, attributes for the wrapper's span)."""
        end_ns = max(self.session.finish(), outcome.end_ns)
        tree = self.session.tree
        if tree.root is None:
            return iter(()), {"traceexec.processes.error": self.session.problem or
                              "no process seen"}
        root, nodes = spans.build(tree, end_ns)
        folded = 0
        if not self.keep_all:
            nodes, folded = fold.fold(root, nodes)
        attrs = {"traceexec.processes.count": len(tree.processes),
                 "traceexec.processes.spans": len(nodes),
                 "traceexec.processes.folded": folded,
                 "traceexec.processes.running": len(tree.running())}
        if self.session.problem:
            attrs["traceexec.processes.error"] = self.session.problem
        return spans.records(root, nodes, trace_id=trace_id, root_span_id=span_id, flags=flags,
                             trace_state=trace_state, resource=resource,
                             scope_version=scope_version, redact=redact, patterns=patterns,
                             wrapper_pid=os.getpid()), attrs


def send_in_batches(own, attrs, records, send) -> None:
    """``own`` (with ``attrs`` added) then ``records``, given to ``send(batch, last)``
    ``BATCH`` at a time; after a failed ``send`` (which has warned) the rest is
    dropped; a record that cannot be made ends the records, the ones made still go."""
    for record in own:
        record["attributes"].update(attrs)
    batch = list(own)
    try:
        for record in records:
            if len(batch) >= BATCH:
                if not send(batch, False):
                    return
                batch = []
            batch.append(record)
    except Exception:  # the spans made so far still go
        pass
    if batch:
        send(batch, True)


def command_argv(argv, env):
    """What strace should run for ``argv``; ``None`` when it would not start.

    strace reports an exec failure in its own words (exit 1), so the failures
    a plain run turns into 126/127 are left to the plain run.  A file with
    neither ``#!`` nor an ELF header runs with /bin/sh, as a shell (and the
    wrapper) would run it.
    """
    try:
        path = supervise.resolve_command(argv[0], env)
    except supervise.CommandProblem:
        return None, None
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return list(argv), path  # execute-only: a binary; exec will tell
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].split()
        interpreter = os.fsdecode(words[0]) if words else ""
        if not interpreter or not os.access(interpreter, os.X_OK):
            return None, None
        return list(argv), path
    if head.startswith(b"\x7fELF"):
        return list(argv), path
    if binfmt_misc_knows(path, head):  # the kernel runs it: leave it to a plain run
        return None, None
    return supervise.script_command(path, argv)[1], path


def binfmt_misc_knows(path: str, head: bytes, folder=BINFMT_MISC) -> bool:
    """True when an enabled binfmt_misc entry matches the file (by magic or extension)."""
    try:
        names = [n for n in os.listdir(folder) if n not in ("register", "status")]
    except OSError:
        return False
    for name in names:
        try:
            with open(os.path.join(folder, name)) as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        fields = dict(line.partition(" ")[::2] for line in lines[1:])
        if not lines or lines[0] != "enabled":
            continue
        if "extension" in fields:
            if path.endswith(fields["extension"]):
                return True
            continue
        try:
            magic = bytes.fromhex(fields.get("magic", ""))
            mask = bytes.fromhex(fields.get("mask", "")) or b"\xff" * len(magic)
            offset = int(fields.get("offset", "0"))
        except ValueError:
            return True  # an entry we cannot read: be safe
        window = head[offset:offset + len(magic)]
        if magic and len(window) == len(magic) and all(
                (a & m) == (b & m) for a, b, m in zip(window, magic, mask)):
            return True
    return False


def start(argv, child_env, environ, *, keep_all=False, verbose=False, warn=None):
    """A started ``Traced`` for ``argv``, or ``None`` (see the module docstring)."""
    warn = warn or (lambda message: None)
    command, path = command_argv(argv, child_env)
    if command is None:
        if verbose:
            warn("--processes: %s would not start; running it without tracing" % argv[0])
        return None
    tracer_pid = tracer.tracer_of_this_process()
    if tracer_pid and tracer.is_our_tracer(tracer_pid):
        if verbose:
            warn("--processes: already traced by a traceexec above (pid %d)" % tracer_pid)
        return None
    try:
        if tracer_pid:
            raise tracer.NotTraceable("traceexec is itself traced (by pid %d)" % tracer_pid)
        strace = tracer.find_strace(environ)
        tracer.probe(strace, child_env)
    except tracer.NotTraceable as error:
        warn("--processes: cannot trace processes here: %s; running without process spans"
             % error)
        return None
    session = tracer.Session(strace, command)
    session.start()
    return Traced(session, path, keep_all)


def wrapper_argv(mode, lines=False) -> list:
    """The words that run a command under ``traceexec --processes-only`` (``mode``
    "fold" or "all"; none when false) and/or ``--lines-only`` (``lines``): for a caller
    whose own span stands for the command, such as a DAG step.  The command's
    environment is left as it is (no PYTHONPATH)."""
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys; sys.path.insert(0, %r); from traceexec.cli import main; "
            "sys.exit(main(sys.argv[1:]))" % package_parent)
    options = ["--processes-only" + ("=all" if mode == "all" else "")] if mode else []
    return [sys.executable, "-c", code] + options + (["--lines-only"] if lines else []) + ["--"]
