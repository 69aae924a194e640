"""``--lines`` for one wrapped command: plan, read the trace while it runs, spans after.

``start`` returns a ``Traced`` (run ``traced.argv`` with ``traced.env``) or
``None`` after one line saying why the command runs untraced.  The trace
comes through a pipe on ``launch.TRACE_FD``; a thread reads it as it comes, so
that bash never waits on a full pipe, and builds the tree (``tree``), folding
as it goes.  When the script has ended, what is left in the pipe is read;
if background jobs still hold the pipe, a ``cat`` keeps draining it for them
(without it their next traced line would meet a closed pipe).
"""

import os
import select
import threading
import time

import _signal

from ..wrap import signals
from . import author, launch, parse, tree, untrace

POLL = 0.1
PIPE_SIZE = 1 << 20
BATCH_WAIT = 0.01
"""After a read that did not fill half the pipe: how long the reader lets the trace
gather (at a full pipe's size; less in a smaller pipe).  bash's write into a pipe
nobody waits on is a copy; one that wakes the reader costs a switch each, and the
reader's per-read work comes with it: reading a 200,000-command loop every line or
so doubled the CPU time of the whole run (bench/lines.py)."""
BATCH_RATE = 100 << 20
"""Bytes a second that the wait is sized for, far above what bash prints (about
12 MB/s on the builtin loop): bash never waits on a full pipe for long."""
DRAIN_WAIT = 0.2
"""After the script ended: how long the reader waits for more (background jobs)."""
DRAIN_LONGEST = 1.0
"""After the script ended: how long the reader reads at most."""
KEEP_XTRACE = "TRACEEXEC_LINES_KEEP_XTRACE"
"""``true`` (``1``, ``yes``, ``on``): never turn the script's xtrace off past the span
budget (untrace.py); every further line is read and folded."""
UNTRACE_ROUNDS = 40
UNTRACE_PASSES = 25
"""Rounds of stops in one go, and goes: a shell still inside PS4 after a go's rounds is
tried again after the next read of the trace (bash has moved on by then)."""
"""How many times a shell found inside PS4's expansion (xtrace flag at 0 for
that time) is stopped again."""
UNTRACE_READ_MOST = 64 << 20
"""While the script's shells are stopped: the most read from the trace."""


class Traced:
    """A script running with its trace coming in."""

    def __init__(self, plan, env, write_end, read_end, *, author_xtrace=False,
                 stderr_fd=2, threshold=tree.THRESHOLD):
        self.plan = plan
        self.argv = plan.argv
        self.env = env
        self._write_end = write_end
        self._read_end = read_end
        self.pipe_size = 1 << 16
        self.root = tree.Node("root", None, 0)
        self.builder = tree.Builder(self.root, skip_source=launch.PREAMBLE,
                                    threshold=threshold,
                                    command_string=plan.command_string)
        self.parser = parse.Parser()
        self.problem = None
        self.author_xtrace = author_xtrace
        self._author = {}          # pid -> the author's set -x is on
        self._stopped = set()      # pids whose bash stopped tracing at the author's set +x
        self._stderr = stderr_fd
        self.threshold = threshold
        self.may_untrace = plan.may_untrace  # past the budget, xtrace may be turned off
        self.untracer = None
        self._untrace_rounds = 0
        self._untrace_passes = 0
        self._next_sample = 0.0
        self._turned_off = {}      # pid -> when its xtrace was turned off (ns)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, name="traceexec-lines",
                                        daemon=True)

    def start(self) -> None:
        """Start reading, with the signals supervise waits for blocked in the reader."""
        previous = _signal.pthread_sigmask(_signal.SIG_BLOCK, set(signals.WATCHED))
        try:
            self._thread.start()
        finally:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, previous)

    def close_write_end(self) -> None:
        """traceexec's copy of the write end, closed once the command ended (supervise
        gives no moment between spawn and wait), so that the end of the trace shows."""
        if self._write_end is not None:
            os.close(self._write_end)
            self._write_end = None

    def _read(self) -> None:
        # Never stop reading while the script runs: bash would block on the pipe.  Once
        # it ended, read what is there, and what background jobs add until none came
        # for DRAIN_WAIT (DRAIN_LONGEST at most); the pipe is then handed over.
        quiet_since = drain_end = None
        while True:
            now = time.monotonic()
            if self._done.is_set() and drain_end is None:
                drain_end = now + DRAIN_LONGEST
            untracer = self.untracer
            sampling = untracer is not None and (untracer.samples or untracer.late)
            if sampling and now >= self._next_sample:
                self._next_sample = now + untrace.SAMPLE_INTERVAL
                try:
                    if untracer.late:  # seized, stopped only now: let go (they may be
                        untracer.release()  # all that would write, or end, the script)
                    untracer.sample()
                except Exception as error:  # never the reader's end: bash would block
                    untracer.problem = "%s: %s" % (type(error).__name__, error)
                    untracer.samples = {}
            try:
                ready, _, _ = select.select([self._read_end], [], [],
                                            untrace.SAMPLE_INTERVAL if sampling else POLL)
            except InterruptedError:
                continue
            if not ready:
                if drain_end is not None:
                    quiet_since = quiet_since or now
                    if now - quiet_since >= DRAIN_WAIT or now >= drain_end:
                        break
                continue
            quiet_since = None
            if drain_end is not None and now >= drain_end:
                break
            try:
                data = os.read(self._read_end, PIPE_SIZE)
            except InterruptedError:
                continue
            except OSError as error:
                self.problem = self.problem or "reading the trace: %s" % error.strerror
                break
            if not data:
                break
            if drain_end is None and len(data) < self.pipe_size // 2 and \
                    not self.may_untrace:
                # (not while the budget is being spent: every line read late would be
                # a line more that bash traces before it is turned off)
                time.sleep(min(BATCH_WAIT, self.pipe_size / BATCH_RATE))
            if self.problem is None:
                try:
                    self._take(self.parser.feed(data))
                except Exception as error:  # spans are lost, never the script's run
                    self.problem = "%s: %s" % (type(error).__name__, error)
            if self.may_untrace and drain_end is None:
                if len(self.builder.nodes) >= self.threshold:
                    self._untrace()
                elif self.untracer is None and len(self.builder.nodes) >= self.threshold // 2:
                    self._untracer()  # the ELF read and ctypes, before bash races on

    def _untracer(self):
        """The Untracer for the script's shell (made once), or None."""
        if self.untracer is None:
            try:
                main_pid = int(self.builder.main_pid)
            except ValueError:
                return None
            self.untracer = untrace.Untracer(main_pid, self.plan.bash)
            try:
                self.untracer.prepare()
            except Exception as error:
                self.untracer.problem = "%s: %s" % (type(error).__name__, error)
        return self.untracer

    def _untrace(self) -> None:
        """The span budget is spent: turn xtrace off in the script's shells (untrace.py).
        A shell stopped inside PS4's expansion is tried again at once (it is there for
        most of a traced builtin's time), up to ``UNTRACE_ROUNDS`` rounds, and in
        ``UNTRACE_PASSES`` goes at most (under load each stop can land there).  Never
        raises; never leaves a shell stopped."""
        self.may_untrace = False
        untracer = self._untracer()
        if untracer is None:
            return
        self._untrace_passes += 1
        rounds = 0
        while rounds < UNTRACE_ROUNDS and untracer.problem is None:
            rounds += 1
            self._untrace_rounds += 1
            try:
                stopped = untracer.stop_shells()
                if stopped:
                    self._read_now()  # what they wrote before they stopped: set -x?
                    for pid in stopped:
                        if self.problem is not None or \
                                self._author_on(pid, untracer.parents):
                            untracer.decline(pid)
                        elif untracer.turn_off(pid):
                            when_ns = untracer.turned_off[pid]
                            self._turned_off[str(pid).encode()] = when_ns
                            self.builder.stopped_tracing(str(pid).encode(), when_ns)
            except Exception as error:
                untracer.problem = "%s: %s" % (type(error).__name__, error)
            finally:
                untracer.release()
            if not untracer.retry:
                break
        if untracer.retry and untracer.problem is None:
            if self._untrace_passes < UNTRACE_PASSES:
                self.may_untrace = True  # again after the next read
            else:
                untracer.problem = "bash was inside PS4 at each of %d stops" % \
                    self._untrace_rounds

    def _read_now(self) -> None:
        """Read and take what the trace holds now, without waiting."""
        got = 0
        os.set_blocking(self._read_end, False)
        try:
            while got < UNTRACE_READ_MOST:
                try:
                    data = os.read(self._read_end, PIPE_SIZE)
                except (BlockingIOError, InterruptedError):
                    break
                if not data:
                    break
                got += len(data)
                self._take(self.parser.feed(data))
        finally:
            os.set_blocking(self._read_end, True)

    def _author_on(self, pid: int, parents) -> bool:
        """Whether the author's own xtrace is on in ``pid`` (as its nearest traced
        ancestor's, for a shell that printed nothing yet)."""
        seen = 0
        while pid and seen < 1000:
            on = self._author.get(str(pid).encode())
            if on is not None:
                return on
            pid, seen = parents.get(pid), seen + 1
        return self.author_xtrace

    def _take(self, records) -> None:
        for record in records:
            self._echo(record)
            self.builder.add(record)

    def _echo(self, record) -> None:
        """Print what bare bash would, while the author's ``set -x`` is on."""
        pid = record.pid
        on = self._author.get(pid)
        if on is None:  # a new process: as its parent was when it forked
            on = self._author.get(record.parent_pid, self.author_xtrace)
            off_at = self._turned_off.get(record.parent_pid)
            if off_at is not None and record.time_ns > off_at and \
                    parse.number(pid, -1) not in self.untracer.parents:
                on = True  # forked after we turned xtrace off, with it on: the author's
            self._author[pid] = on
        if self._stopped and pid in self._stopped:
            self._stopped.discard(pid)  # bash had stopped at the author's set +x: set -x
            on = self._author[pid] = True
        elif self._turned_off and pid in self._turned_off and \
                record.time_ns > self._turned_off[pid]:
            # xtrace is on again where we turned it off (at a system call, so no line
            # was on its way): the author's (a sourced file's) set -x
            del self._turned_off[pid]
            on = self._author[pid] = True
        if on:
            try:
                os.write(self._stderr, author.echo_line(record.level, record.text))
            except OSError:
                pass
        if record.raw_text.startswith(b"set "):
            change = author.xtrace_change(record.text)
            if change is not None:
                self._author[pid] = change
                if not change:
                    self._stopped.add(pid)

    def finish(self, outcome) -> tuple:
        """Once the script ended: (nodes, attributes for the wrapper's span)."""
        self.close_write_end()
        self._done.set()
        self._thread.join(timeout=DRAIN_LONGEST + DRAIN_WAIT + 2 * POLL + 1.0)
        if not self._thread.is_alive():
            try:
                self._take(self.parser.finish())
            except Exception as error:
                self.problem = self.problem or "%s: %s" % (type(error).__name__, error)
            self._hand_over()
            if self.untracer is not None:
                for pid, counts in self.untracer.samples.items():
                    self.builder.sampled(str(pid).encode(), counts,
                                         self.untracer.ended.get(pid))
            nodes = self.builder.finish(outcome.end_ns, outcome.exit_status)
        else:  # never build while the reader still adds
            self.problem = self.problem or "the trace reader did not stop"
            nodes = []
        attrs = {"traceexec.lines.count": self.builder.lines,
                 "traceexec.lines.spans": len(nodes),
                 "traceexec.lines.folded": self.builder.folded}
        if self.builder.untraced:
            attrs["traceexec.lines.untraced"] = len(self.builder.untraced)
            attrs["traceexec.lines.untraced_after"] = min(
                after for _, after in self.builder.untraced.values())
        elif self.untracer is not None and self.untracer.problem:
            attrs["traceexec.lines.untrace_problem"] = self.untracer.problem
        if self.problem:
            attrs["traceexec.lines.error"] = self.problem
        return nodes, attrs

    def _hand_over(self) -> None:
        """Leave the pipe to a ``cat`` if writers remain, else close it."""
        try:
            os.set_blocking(self._read_end, False)
            data = os.read(self._read_end, 1)
        except BlockingIOError:
            data = None
        except OSError:
            data = b""
        if data is None or data:
            try:
                os.set_blocking(self._read_end, True)  # shared with cat's stdin
                import subprocess
                subprocess.Popen(["cat"], stdin=self._read_end, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
            except OSError:
                pass
        os.close(self._read_end)

    def deliver(self, outcome, own, send, *, trace_id, span_id, flags=1, trace_state="",
                resource=None, scope_version="", redact=True, patterns=(),
                processes=None) -> None:
        """The line spans, with ``own`` (the wrapper's span) first, given to
        ``send(records, last)`` in batches (processes.session.send_in_batches); with
        ``processes`` (a
        processes.session.Traced), its process spans too, each under the line that
        started it (``merge``).  Never raises."""
        import itertools
        from ..delivery.span import with_valid_text
        from ..processes.session import send_in_batches
        from . import merge, spans
        try:
            nodes, attrs = self.finish(outcome)
            resource = with_valid_text(resource) if resource else resource
            records = list(spans.records(span_id, nodes, trace_id=trace_id, flags=flags,
                                         trace_state=trace_state, resource=resource,
                                         scope_version=scope_version, redact=redact,
                                         patterns=patterns))
            if processes is not None:
                more, process_attrs = processes.records(
                    outcome, trace_id, span_id, flags, trace_state, resource, scope_version,
                    redact, patterns)
                attrs.update(process_attrs)
                records = itertools.chain(records, merge.reparent(more,
                                                                  merge.LineIndex(nodes)))
        except Exception as error:
            records, attrs = iter(()), {"traceexec.lines.error": "%s: %s" % (
                type(error).__name__, error)}
        send_in_batches(own, attrs, map(with_valid_text, records), send)


def _pipe_size(fd) -> int:
    try:
        import fcntl
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    except (ImportError, AttributeError, OSError):
        return 1 << 16


def start(argv, child_env, *, warn, verbose=False, stderr_fd=2, pipes=None):
    """A started ``Traced`` for ``argv``, or ``None`` after one line saying why not.

    ``pipes`` (``--make --lines``: make.recipe.TracePipes) knows the trace pipes of
    the run's traced recipe lines: one inherited on ``TRACE_FD`` (a sub-make started by
    a traced recipe line) is ours to replace; this one's is added to it."""
    try:
        plan = launch.plan(argv, child_env)
    except launch.NotTraceable as error:
        if verbose or not error.quiet:
            warn("--lines: %s; running it without line spans" % error)
        return None
    try:
        inherited = os.fstat(launch.TRACE_FD)
    except OSError:
        inherited = None
    if inherited is not None and not (pipes is not None and inherited in pipes):
        # the caller's, passed on to the script: not ours to take
        warn("--lines: descriptor %d is in use; running it without line spans"
             % launch.TRACE_FD)
        return None
    read_end, write_end = os.pipe()
    if pipes is not None:
        pipes.add(os.fstat(read_end))
    try:  # fewer switches between bash and the reader; the pipe's size if refused
        import fcntl
        fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass
    pipe_size = _pipe_size(read_end)
    try:
        os.dup2(write_end, launch.TRACE_FD, inheritable=True)
    except OSError as error:
        os.close(read_end)
        os.close(write_end)
        warn("--lines: descriptor %d: %s; running it without line spans"
             % (launch.TRACE_FD, error.strerror))
        return None
    os.close(write_end)
    from ..delivery.config import is_true
    if is_true(child_env.get(KEEP_XTRACE, "")):
        plan.may_untrace = False
    traced = Traced(plan, plan.environment(child_env), launch.TRACE_FD, read_end,
                    author_xtrace=plan.author_xtrace, stderr_fd=stderr_fd)
    traced.pipe_size = pipe_size
    traced.start()
    if verbose:
        warn("--lines: tracing %s with %s" % ("a command string" if plan.command_string
                                               else plan.script, plan.argv[0]))
    return traced
