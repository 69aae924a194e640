"""The scheduler of a DAG run: one thread, one event loop, every step a program.

Ready steps start as their dependencies end (up to ``maxActiveSteps``, and
never more than the process's file descriptors allow); each step runs as a
``step.program`` the loop drives.  A signal or the DAG's ``timeoutSec`` stops
every running step's session (``signalOnStop``, then SIGKILL after the
grace period) and marks what never started.  Then the handlers run, one at
a time: ``init`` before the steps (v2), then ``success``/``failure``/``cancel``
by the run's status, then ``exit``.

The run's status and exit status follow Dagu: a step that failed, even one
``continueOn`` allowed, makes the run exit 1 (``partially_succeeded`` when
some other step succeeded); ``markSuccess`` does not; a DAG timeout fails the
run (exit 1) and stops its steps; unmet DAG preconditions cancel the run
(exit 0); a signal cancels it and exits 128+N, like the wrapper.
"""
from __future__ import annotations

import gc
import resource
import _signal as signal  # the C module: signal imports enum (20 M instructions)
import time
from _collections import deque  # collections.deque itself, without collections
from _functools import partial  # functools.partial itself, without functools

from . import model, spans
from ..delivery import running
from .child import Child
from .step import Fan, Run, Sleep, check, program

EXIT_FAILED = 1
TICK_S = 0.25  # redraw period of the in-place progress line on a terminal
FDS_PER_STEP = 6  # two pipes, a pidfd, two lazily opened logs, a spare
CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
START_BATCH = 64
"""Steps started per turn of the loop: a wide fan-out reaps the steps that ended
between batches, instead of holding every one's pipes, pidfd and zombie until the
last has started."""


def _wake():
    """A timer's callback whose only work is the loop's turn it causes."""


def concurrency_budget(reserve=64) -> int:
    """How many processes may run at once: file descriptors, raised to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(1, (soft - reserve) // FDS_PER_STEP)


class Task:
    """A step program being driven: its live processes, its pending sleep."""

    __slots__ = ("result", "program", "children", "sleep", "fan", "on_end")

    def __init__(self, result, gen, on_end):
        self.result = result
        self.program = gen
        self.children = []
        self.sleep = None
        self.fan = None
        self.on_end = on_end


class FanState:
    __slots__ = ("runs", "outcomes", "next", "limit", "live")

    def __init__(self, runs, limit):
        self.runs = runs
        self.outcomes = [None] * len(runs)
        self.next = 0
        self.limit = limit
        self.live = 0


class Scheduler:
    def __init__(self, run, recorder, result, loop):
        self.run = run                     # run.RunState
        self.recorder = recorder
        self.result = result               # run.RunResult
        self.loop = loop
        self.results = {}
        self.tasks = {}                    # name -> Task of running steps
        self.ready = deque()
        self.pending_deps = {}
        self.dependents = {}
        self.cancelled = None              # (reason, exit status) of a signal
        self.timed_out = False
        self._stopping = False             # cancelled or timed out: nothing more starts
        self.unmet = None                  # why DAG preconditions were not met
        self.init_failed = False
        self.handler_failed = False
        self.budget = concurrency_budget()
        self.live_processes = 0
        self.reuse = {}                    # step name -> its record in the run a retry redoes
        self.checkpoint = None             # called after records are spooled
        self._records = []
        self._starts = deque()  # (when due, result) of running steps without a start record
        self._starts_timer = None  # (when, Timer): wakes the loop when the first is due
        self._signals = 0

    # -- entry ----------------------------------------------------------------------------

    def start(self):
        """Run everything; returns when the handlers are done."""
        dag = self.run.dag
        for step in dag.steps:
            self.results[step.name] = self.run.new_result(step)
        self.result.steps = [self.results[s.name] for s in dag.steps]
        gc.freeze()  # the run's results are long-lived too (see run.execute)
        for step in dag.steps:
            self.pending_deps[step.name] = len(step.depends)
            self.results[step.name].waited_for = [self.results[d] for d in step.depends]
            for dep in step.depends:
                self.dependents.setdefault(dep, []).append(step.name)
        self.loop.handle_signals(CANCEL_SIGNALS, self.on_signal)
        deadline = None
        if dag.timeout_s:
            deadline = self.loop.call_later(dag.timeout_s, self._on_timeout)
        if dag.preconditions:
            self._preconditions()
        if self.unmet is None and "init" in dag.handlers:
            handler = self._handler("init")
            self.init_failed = handler.status == model.FAILED
        if self.unmet is None and not self.init_failed and self.cancelled is None:
            for step in dag.steps:
                if self.pending_deps[step.name] == 0:
                    self.ready.append(step.name)
            self._steps()
        self._cancel_unstarted(self._stop_reason())
        if deadline is not None:
            deadline.cancel()
        self._flush()
        self._judge()
        self._run_handlers()
        self._flush()

    # -- phases -----------------------------------------------------------------------------

    def _preconditions(self):
        run = self.run
        values = dict(run.scope.values)
        holder = model.StepResult(step=model.Step(name="preconditions"), span_id="")
        shell = run.dag_shell(values)

        def env():
            return dict(values)
        cwd = run.base_dir
        outcome = {}

        def checks():
            for condition in run.dag.preconditions:
                met, why = yield from check(run, condition, values, env, cwd, shell)
                if not met:
                    outcome["why"] = why
                    return

        self._drive(Task(holder, checks(), lambda task: None))
        self.loop.run(lambda: not self.tasks and not holder.status == model.RUNNING,
                      self._max_wait())
        if "why" in outcome:
            self.unmet = "DAG precondition not met: " + outcome["why"]

    def _steps(self):
        limit = self.run.dag.max_active_steps or float("inf")
        while True:
            started = 0
            if not self._stopping:
                while self.ready and len(self.tasks) < limit and \
                        self.live_processes < self.budget and started < START_BATCH:
                    self._start(self.ready.popleft())
                    started += 1
                if started and self.checkpoint is not None:
                    self.checkpoint()  # `traceexec status` shows what runs now
            if not self.tasks and (self._stopping or not self.ready):
                return
            self._flush()
            # A full batch: more may be ready, so look at what ended without waiting.
            self.loop.run_once(0 if started == START_BATCH else self._max_wait())
            self._tick()

    def _max_wait(self):
        return TICK_S if self.run.progress.is_tty else None

    def _tick(self):
        if self.run.progress.is_tty:
            self.run.progress.tick()

    # -- steps ------------------------------------------------------------------------------

    def _start(self, name):
        result = self.results[name]
        result.status = model.RUNNING
        result.start_ns = time.time_ns()
        self.result.touch(result)
        if name in self.reuse:
            self._reused(result, self.reuse[name])
            return
        self.run.progress.started(name)
        self._starts.append((self.loop.clock() + running.RUNNING_AFTER, result))
        self._drive(Task(result, program(self.run, result), self._step_ended))

    def _reused(self, result, earlier):
        """A step a retry does not run again: its earlier outcome, output and logs."""
        result.status = model.SUCCEEDED
        result.reused = True
        result.end_ns = result.start_ns
        result.output = earlier.get("output")
        result.exit_code_override = earlier.get("exit_code")
        result.logs = dict(earlier.get("logs") or result.logs)
        result.reason = "reused from run %s" % earlier["run_id"]
        if earlier.get("span_id") and earlier.get("trace_id"):
            result.links.append({"trace_id": earlier["trace_id"], "span_id": earlier["span_id"],
                                 "trace_state": "",
                                 "attributes": {spans.LINK_TYPE: "retry_of"}})
        self._step_ended(Task(result, None, None))

    def _step_ended(self, task):
        result = task.result
        self.run.outputs_from(result)
        self._record(result)
        self._release(result.step.name)

    def _release(self, name):
        """Dependents of a finished step: ready, or never to run (and theirs after them)."""
        if name not in self.dependents:  # a leaf (all of a fan-out's steps): none
            return
        queue = deque([name])
        while queue:
            current = queue.popleft()
            for child in self.dependents.get(current, ()):
                self.pending_deps[child] -= 1
                if self.pending_deps[child]:
                    continue
                blocked = self._blocked(self.results[child].step)
                if blocked is None:
                    self.ready.append(child)
                else:
                    self._never_ran(self.results[child], *blocked)
                    queue.append(child)

    def _blocked(self, step):
        """(status, reason) when an upstream step keeps ``step`` from running (Dagu's order)."""
        for name in step.depends:
            upstream = self.results[name]
            status = upstream.status
            if status in (model.SUCCEEDED, model.PARTIALLY_SUCCEEDED) or upstream.failure_allowed:
                continue
            if status == model.SKIPPED:
                if upstream.step.continue_on.skipped:
                    continue
                return model.SKIPPED, "upstream step %r was skipped" % name
            return model.CANCELLED, "upstream step %r %s" % (
                name, self.run.dag.word(status))
        return None

    def _never_ran(self, result, status, reason):
        result.status, result.reason = status, reason
        result.start_ns = result.end_ns = time.time_ns()
        self._record(result)

    def _record(self, result):
        self.result.touch(result)
        self.run.progress.finished(result)
        self._records.append(self.recorder.step_span(self.run.identity, result))
        if len(self._records) >= 256:
            self._flush()

    def _flush(self):
        """Spool the span records of the steps that ended since the last turn, and the
        start records of steps that have run RUNNING_AFTER seconds by now."""
        starts = self._due_starts()
        records, self._records = self._records, []
        if records:  # the starts with them: one write to the store, not two, in a chain
            if starts:
                self.recorder.record(records, starts=starts)
            else:
                self.recorder.record(records)
            if self.checkpoint is not None:
                self.checkpoint()
        elif starts:
            self.recorder.record_start(starts)

    def _due_starts(self) -> list:
        """The start records due: a step's once it has run RUNNING_AFTER seconds, as a
        wrapped command's (``delivery.running``); a step that ended sooner never pays for
        one, its span written in its place.  The loop is woken when the next is due."""
        pending = self._starts
        if not pending:
            return []
        if not hasattr(self.recorder, "record_start"):  # a recorder that keeps none
            pending.clear()
            return []
        now = self.loop.clock()
        due = []
        while pending and (pending[0][0] <= now or pending[0][1].status != model.RUNNING):
            result = pending.popleft()[1]
            if result.status == model.RUNNING:
                due.append(spans.step_start_record(self.run.identity, result))
        when = pending[0][0] if pending else None
        if self._starts_timer is not None and self._starts_timer[0] != when:
            self._starts_timer[1].cancel()
            self._starts_timer = None
        if when is not None and self._starts_timer is None:  # a turn then: _steps flushes
            self._starts_timer = (when, self.loop.call_later(when - now, _wake))
        return due

    def _cancel_unstarted(self, reason):
        for result in self.result.steps:
            if result.status == model.PENDING:
                self._never_ran(result, model.CANCELLED, reason)

    def _stop_reason(self):
        if self.unmet:
            return self.unmet
        if self.init_failed:
            return "the init handler failed"
        return self.run.cancel_reason

    # -- driving programs -----------------------------------------------------------------

    def _drive(self, task):
        self.tasks[task.result.step.name] = task
        self._advance(task, None)

    def _advance(self, task, value):
        try:
            request = task.program.send(value)
        except StopIteration:
            self._end(task)
            return
        except Exception as error:  # a step never takes the run down with it
            task.result.status = model.FAILED
            task.result.reason = "traceexec: %s: %s" % (type(error).__name__, error)
            task.result.exit_code_override = None
            self._end(task)
            return
        if isinstance(request, Run):
            if self._stopping and task.on_end == self._step_ended:
                self.loop.call_soon(self._advance, task, None)
                return
            self._spawn(task, request)
        elif isinstance(request, Sleep):
            if self._stopping and task.on_end == self._step_ended:
                self.loop.call_soon(self._advance, task, True)
                return
            task.sleep = self.loop.call_later(request.seconds, lambda: self._wake(task, False))
        elif isinstance(request, Fan):
            task.fan = FanState(request.runs, request.limit)
            self._fan_more(task)
        else:
            raise TypeError("unknown request %r" % (request,))

    def _wake(self, task, stopped):
        if task.sleep is not None:
            task.sleep.cancel()
            task.sleep = None
            self._advance(task, stopped)

    def _spawn(self, task, request, index=None):
        """Start ``request``'s process for ``task``; its outcome goes on to ``_advance``,
        or to ``_fan_done`` for the run at ``index`` of a fan."""
        run = self.run
        self.live_processes += 1
        child = Child(self.loop, request.argv, request.env, cwd=request.cwd,
                      stdin=run.devnull, sinks=request.sinks,
                      done=partial(self._child_ended, task, index),
                      timeout=request.timeout, kill_after=run.kill_after,
                      watchdog=run.watchdog)
        if child.running:
            task.children.append(child)
            if self._stopping and task.on_end == self._step_ended:
                child.stop(self._stop_signal(task.result.step))

    def _child_ended(self, task, index, child):
        # (a child that could not start ends inside Child(): it was never among them)
        self.live_processes -= 1
        if child in task.children:
            task.children.remove(child)
        if index is None:
            self.loop.call_soon(self._advance, task, child.outcome)
        else:
            self.loop.call_soon(self._fan_done, task, index, child.outcome)

    def _fan_more(self, task):
        fan = task.fan
        while fan.next < len(fan.runs) and fan.live < fan.limit and not self._stopping:
            index = fan.next
            fan.next += 1
            fan.live += 1
            self._spawn(task, fan.runs[index], index)
        if fan.live == 0:
            task.fan = None
            self._advance(task, fan.outcomes)

    def _fan_done(self, task, index, outcome):
        task.fan.outcomes[index] = outcome
        task.fan.live -= 1
        self._fan_more(task)

    def _end(self, task):
        result = task.result
        if result.status == model.RUNNING:
            result.status = model.SUCCEEDED
        result.end_ns = max(time.time_ns(), result.start_ns)
        self.tasks.pop(result.step.name, None)
        task.on_end(task)

    # -- stopping ---------------------------------------------------------------------------

    def on_signal(self, number):
        self._signals += 1
        if self.cancelled is None and not self.timed_out:
            from ..wrap.supervise import signal_name  # its names: built when a signal came
            self.cancelled = ("cancelled by %s" % signal_name(number), 128 + number)
            self._stopping = True
            self.run.cancel_reason = self.cancelled[0]
        self._stop_everything(number if self._signals == 1 else signal.SIGKILL,
                              self.cancelled[0] if self.cancelled else "", handlers=True)

    def _on_timeout(self):
        if self._stopping:
            return
        self.timed_out = True
        self._stopping = True
        self.run.cancel_reason = "DAG timed out after %gs (timeoutSec)" % self.run.dag.timeout_s
        self._stop_everything(signal.SIGTERM, self.run.cancel_reason)

    def _stop_everything(self, number, reason, handlers=False):
        """Stop the running steps (and, for a signal, a running handler too: a hanging
        handler must not make the run unstoppable but by SIGKILL)."""
        run = self.run
        run.stopping = True
        if reason and number != signal.SIGKILL:
            run.progress.notice("%s: stopping %d running step%s" % (
                reason, len(self.tasks), "" if len(self.tasks) == 1 else "s"))
        for task in list(self.tasks.values()):
            if task.on_end != self._step_ended and not handlers:
                continue  # a timeout leaves the handlers (they run after it) alone
            graceful = handlers and number != signal.SIGKILL and \
                task.result.step.repeat.finishes_on_signal
            for child in [] if graceful else list(task.children):
                child.stop(signal.SIGKILL if number == signal.SIGKILL
                           else self._stop_signal(task.result.step, number))
            if task.sleep is not None:
                self.loop.call_soon(self._wake, task, True)

    @staticmethod
    def _stop_signal(step, number=signal.SIGTERM):
        return step.signal_on_stop or number

    # -- the verdict and the handlers -----------------------------------------------------

    def _judge(self):
        result = self.result
        steps = result.steps
        failed = [r for r in steps if r.status == model.FAILED]
        statuses = {r.status for r in steps}  # one pass, not a generator's step per result
        all_good = statuses <= {model.SUCCEEDED, model.SKIPPED, model.PARTIALLY_SUCCEEDED}
        if self.unmet is not None:
            result.status, result.reason, result.exit_status = \
                model.CANCELLED, self.unmet, 0
            result.result = "skip"
        elif (self.cancelled is not None or self.init_failed) and not all_good:
            result.status = model.CANCELLED
            if self.cancelled is not None:
                result.reason, result.exit_status = self.cancelled
                result.result = "cancellation"
            else:
                result.reason, result.exit_status = "the init handler failed", EXIT_FAILED
                result.result = "error"
        elif self.timed_out:
            result.status, result.exit_status = model.FAILED, EXIT_FAILED
            result.reason = self.run.cancel_reason
            result.result = "timeout"
        elif failed and all(r.failure_allowed for r in failed) and (
                model.SUCCEEDED in statuses or model.PARTIALLY_SUCCEEDED in statuses):
            result.status, result.exit_status = model.PARTIALLY_SUCCEEDED, EXIT_FAILED
            result.reason = "step %r failed (allowed by continueOn)" % failed[0].step.name
            result.result = "failure"
        elif failed:
            result.status, result.exit_status = model.FAILED, EXIT_FAILED
            first = next((r for r in failed if not r.failure_allowed), failed[0])
            result.reason = "step %r failed" % first.step.name
            result.result = "failure"
        elif model.PARTIALLY_SUCCEEDED in statuses:
            result.status, result.exit_status = model.PARTIALLY_SUCCEEDED, 0
            result.result = "success"
        else:
            result.status, result.exit_status = model.SUCCEEDED, 0
            result.result = "success"

    def _run_handlers(self):
        """success/failure/cancel by the run's status, then exit; one at a time."""
        status = self.result.status
        event = {model.SUCCEEDED: "success", model.PARTIALLY_SUCCEEDED: "success",
                 model.FAILED: "failure", model.CANCELLED: "cancel"}[status]
        for name in (event, "exit"):
            if name in self.run.dag.handlers:
                handler = self._handler(name)
                if handler.status == model.CANCELLED and self.cancelled is not None:
                    self.result.exit_status = self.cancelled[1]  # stopped like the wrapper
                if handler.status == model.FAILED and self.result.status in (
                        model.SUCCEEDED, model.PARTIALLY_SUCCEEDED):
                    # Dagu's Status() asks isPartialSuccess before isError: a failed
                    # handler fails a success and leaves a partial success partial
                    if self.result.status == model.SUCCEEDED:
                        self.result.status = model.FAILED
                    self.result.result = "failure"
                    self.result.reason = "handler %r failed" % handler.step.name
                    self.result.exit_status = EXIT_FAILED
                elif handler.status == model.FAILED and self.result.exit_status == 0:
                    # a run cancelled by its preconditions: Dagu's last error, exit 1
                    self.result.exit_status = EXIT_FAILED

    def _handler(self, event):
        """Run one handler to its end (signals still stop it) and record it."""
        run = self.run
        step = run.dag.handlers[event]
        result = run.new_result(step)
        self.result.handlers.append(result)
        run.handler_status = self.result.status if event != "init" else None
        result.status = model.RUNNING
        result.start_ns = time.time_ns()
        run.progress.started(step.name)
        was_stopping, run.stopping = run.stopping, False

        def ended(task):
            self._record(task.result)

        task = Task(result, program(run, result), ended)
        self.tasks[step.name] = task
        self._advance(task, None)
        self.loop.run(lambda: step.name not in self.tasks, self._max_wait())
        run.stopping = was_stopping
        self._flush()
        return result
