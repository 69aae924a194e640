"""The scheduler of a DAG run: ready steps start, finished ones are recorded, and a
``Cancel`` (signal or timeout) stops everything; then the handlers run.

It lives on the main thread and hears from step threads, signal handlers
and the clock through one queue of plain records (``StepFinished``, ``Cancel``).
"""
from __future__ import annotations

import graphlib
import queue
import signal
import threading
import time
from collections import deque

from . import model, spans
from .step import StepFinished, StepRun
from ..wrap import context
from ..wrap.supervise import EXIT_TIMEOUT, signal_name

EXIT_FAILED = 1
TICK_S = 0.25  # redraw period of the in-place progress line on a terminal
SIGNAL_POLL_S = 0.2  # longest the main thread sleeps before it looks for a signal


class Cancel:
    """Stop the run: from a signal handler, or the DAG's timeout."""

    __slots__ = ("reason", "exit_status")

    def __init__(self, reason, exit_status):
        self.reason = reason
        self.exit_status = exit_status


class Scheduler:
    def __init__(self, state, recorder, result):
        self.state = state
        self.recorder = recorder
        self.result = result
        self.results = {}
        self.running = {}
        self.outputs = {}

    def on_signal(self, number, frame):
        self.state.queue.put(Cancel("cancelled by %s" % signal_name(number), 128 + number))

    def run(self):
        state, dag = self.state, self.state.dag
        for step in dag.steps:
            self.results[step.name] = self._new_result(step)
        self.result.steps = [self.results[s.name] for s in dag.steps]
        sorter = graphlib.TopologicalSorter({s.name: s.depends for s in dag.steps})
        sorter.prepare()
        waiting = deque()
        limit = dag.max_active_steps or float("inf")
        deadline = (time.monotonic() + dag.timeout_s) if dag.timeout_s else None
        while True:
            if state.cancelled is None:
                self._take_ready(sorter, waiting)
                while waiting and len(self.running) < limit:
                    self._start(waiting.popleft())
            else:
                self._cancel_unstarted()
            if not self.running and (state.cancelled is not None or not sorter.is_active()):
                break
            message = self._next(deadline)
            if message is None:
                deadline = None
                message = Cancel("timed out after %gs (timeoutSec)" % dag.timeout_s,
                                 EXIT_TIMEOUT)
            if isinstance(message, StepFinished):
                self._finished(message.result)
                sorter.done(message.result.step.name)
            elif isinstance(message, Cancel):
                self._cancel(message)
        self._judge()
        self._run_handlers()

    def _new_result(self, step):
        result = model.StepResult(step=step, span_id=context.new_span_id())
        self.state.assign_logs(result)
        return result

    def _next(self, deadline):
        """The next record; ``None`` when the DAG's deadline passed first."""
        is_tty = self.state.progress.is_tty
        while True:
            # Never an unbounded wait: the kernel may hand SIGTERM to a step's thread,
            # and Python runs the handler only when the main thread wakes up.
            wait = TICK_S if is_tty else SIGNAL_POLL_S
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                wait = min(wait, left)
            try:
                return self.state.queue.get(timeout=wait)
            except queue.Empty:
                if is_tty:
                    self.state.progress.tick()

    def _take_ready(self, sorter, waiting):
        while True:
            ready = sorter.get_ready()
            if not ready:
                return
            for name in ready:
                blocked = self._blocked(self.results[name].step)
                if blocked is None:
                    waiting.append(name)
                else:
                    self._never_ran(self.results[name], *blocked)
                    sorter.done(name)

    def _blocked(self, step):
        """(status, reason) when an upstream step keeps ``step`` from running."""
        skipped = None
        for name in step.depends:
            upstream = self.results[name]
            if upstream.status == model.SUCCEEDED or upstream.failure_allowed:
                continue
            if upstream.status == model.SKIPPED:
                if not upstream.step.continue_on.skipped:
                    skipped = skipped or (model.SKIPPED, "upstream step %r was skipped" % name)
                continue
            return model.CANCELLED, "upstream step %r %s" % (name, upstream.status)
        return skipped

    def _start(self, name):
        result = self.results[name]
        result.status = model.RUNNING
        result.start_ns = time.time_ns()
        worker = StepRun(result, self.state, self.outputs)
        self.running[name] = worker
        self.state.progress.started(name)
        worker.start()

    def _finished(self, result):
        self.running.pop(result.step.name, None)
        if result.output is not None and result.step.output:
            self.outputs[result.step.output] = result.output
        self._record(result)

    def _never_ran(self, result, status, reason):
        result.status, result.reason = status, reason
        result.start_ns = result.end_ns = time.time_ns()
        self._record(result)

    def _record(self, result):
        self.state.progress.finished(result)
        self.recorder.record([spans.step_record(self.state.identity, result)])

    def _cancel(self, cancel):
        state = self.state
        first = state.cancelled is None
        if first:
            state.cancelled = cancel
            state.cancel_reason = cancel.reason
            state.stop.set()
            state.progress.notice("%s: stopping %d running step%s" % (
                cancel.reason, len(self.running), "" if len(self.running) == 1 else "s"))
        number = signal.SIGTERM if first else signal.SIGKILL
        for worker in list(self.running.values()):
            worker.cancel(number, state.kill_after)

    def _cancel_unstarted(self):
        for result in self.result.steps:
            if result.status == model.PENDING:
                self._never_ran(result, model.CANCELLED, self.state.cancel_reason)

    def _judge(self):
        result, state = self.result, self.state
        failures = [r for r in result.steps if r.status == model.FAILED]
        if state.cancelled is not None:
            result.status, result.reason = model.CANCELLED, state.cancelled.reason
            result.exit_status = state.cancelled.exit_status
        elif any(not r.failure_allowed for r in failures):
            result.status, result.exit_status = model.FAILED, EXIT_FAILED
            result.reason = "step %r failed" % next(
                r.step.name for r in failures if not r.failure_allowed)
        elif failures and any(r.status == model.SUCCEEDED for r in result.steps):
            result.status = model.PARTIALLY_SUCCEEDED
        elif failures:
            result.status, result.exit_status = model.FAILED, EXIT_FAILED
            result.reason = "every step failed"
        else:
            result.status = model.SUCCEEDED

    def _run_handlers(self):
        """handlerOn: success/failure/cancel by the DAG's status, then exit; one at a time."""
        event = {model.SUCCEEDED: "success", model.PARTIALLY_SUCCEEDED: "success",
                 model.FAILED: "failure", model.CANCELLED: "cancel"}[self.result.status]
        state = self.state
        for name in (event, "exit"):
            step = state.dag.handlers.get(name)
            if step is None:
                continue
            state.stop = threading.Event()
            stopped_before = state.cancelled
            state.cancelled = None
            result = self._new_result(step)
            self.result.handlers.append(result)
            self._start_handler(result)
            state.cancelled = state.cancelled or stopped_before

    def _start_handler(self, result):
        self.results[result.step.name] = result
        self._start(result.step.name)
        while True:
            try:
                message = self.state.queue.get(timeout=SIGNAL_POLL_S)
            except queue.Empty:
                continue
            if isinstance(message, StepFinished):
                self._finished(message.result)
                return
            self._cancel(message)
