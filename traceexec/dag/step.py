"""One step, run in its own thread: preconditions, the command, retries.

The thread that starts a step's process is the one that waits for it
(``supervise.Child``: the parent-death signal belongs to the spawning
thread).  The command gets TRACEPARENT of the step's span, whose id was
chosen before the process started.  The step's fate ends up in its
``model.StepResult``; the scheduler hears of it through its queue.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
import time

from . import model
from .variables import expand, format_params, substitute_commands
from ..wrap import context
from ..wrap.supervise import Child, DEFAULT_KILL_AFTER

OUTPUT_GRACE_S = 1.0
"""After a step's process ends, how long to wait for pipes a background child still holds."""
SHELL = "/bin/sh"
SHELL_CHARS = frozenset("$`\\|&;<>()*?[]{}~#\n")
SHELL_WORDS = frozenset((
    ".", ":", "alias", "break", "case", "cd", "command", "continue", "eval", "exec", "exit",
    "export", "for", "getopts", "hash", "if", "jobs", "local", "read", "readonly", "return",
    "set", "shift", "source", "times", "trap", "type", "ulimit", "umask", "unalias", "unset",
    "until", "wait", "while", "!", "{", "function", "select"))


def is_plain(text: str) -> bool:
    """True when ``text`` is words a shell would only split: exec it without a shell."""
    if any(c in SHELL_CHARS for c in text):
        return False
    try:
        words = shlex.split(text)
    except ValueError:
        return False
    return bool(words) and words[0] not in SHELL_WORDS and "=" not in words[0]


class StepFinished:
    """The message a step thread leaves on the scheduler's queue."""

    __slots__ = ("result",)

    def __init__(self, result):
        self.result = result


class StepRun:
    """Runs ``result.step`` once started; ``cancel`` may be called from any thread."""

    def __init__(self, result: model.StepResult, run, outputs: dict):
        self.result = result
        self.run = run                    # the scheduler's shared state (run.RunState)
        self.outputs = dict(outputs)
        self.cancelled = False
        self._child = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._main, name="step " + result.step.name,
                                       daemon=True)

    def start(self):
        self.thread.start()

    def cancel(self, number, kill_after=DEFAULT_KILL_AFTER):
        with self._lock:
            self.cancelled = True
            child = self._child
        if child is not None:
            child.terminate(self.result.step.signal_on_stop or number, kill_after)

    def _main(self):
        result = self.result
        try:
            self._execute()
        except Exception as error:  # a step never takes the run down with it
            result.status = model.FAILED
            result.reason = "traceexec: %s: %s" % (type(error).__name__, error)
        finally:
            result.end_ns = max(time.time_ns(), result.start_ns)
            self.run.queue.put(StepFinished(result))

    def _execute(self):
        result, step, run = self.result, self.result.step, self.run
        base_dir = run.dag.working_dir or run.dag.directory
        values = run.scope.layered(self.outputs, step.env, base_dir)
        cwd = os.path.join(base_dir, expand(step.dir, values)) if step.dir else base_dir
        result.cwd = cwd
        span_ctx = context.SpanContext(run.identity.ctx.trace_id, result.span_id,
                                       run.identity.ctx.flags)
        env = context.child_environment(values, span_ctx, run.identity.incoming)
        env["DAG_RUN_STEP_NAME"] = step.name
        if not os.path.isdir(cwd):
            result.status, result.reason = model.FAILED, "no such directory: %s" % cwd
            return
        for condition in step.preconditions:
            met, why = self._precondition(condition, values, env, cwd)
            if not met:
                result.status, result.reason = model.SKIPPED, "precondition not met: " + why
                return
        argv = self._argv(values, env, cwd)
        if argv is None:
            return
        result.argv = argv
        processes = step.processes if step.processes is not None else run.dag.processes
        if processes and step.run is None:  # every process of the step a span under it
            from ..processes.session import wrapper_argv
            argv = wrapper_argv(processes) + argv
        sinks = run.open_sinks(result, values, cwd)
        try:
            outcome = self._attempts(argv, env, cwd, sinks)
        finally:
            for sink in sinks.values():
                sink.close()
        if outcome is None:
            result.status, result.reason = model.CANCELLED, run.cancel_reason
            return
        result.outcome = outcome
        if step.output:
            result.output = sinks["stdout"].captured_text()
        self._judge(outcome)

    def _attempts(self, argv, env, cwd, sinks):
        step, run = self.result.step, self.run
        outcome = None
        number = 0
        while True:
            number += 1
            attempt = self._attempt(argv, env, cwd, sinks)
            if attempt is None:
                return outcome
            outcome = attempt
            self.result.attempts.append(model.Attempt(
                number, outcome.start_ns, outcome.end_ns, outcome.exit_status,
                outcome.error_type))
            if outcome.exit_status == 0 or self.cancelled:
                return outcome
            if not step.retry.should_retry(outcome.exit_status, number):
                return outcome
            run.progress.say("%s failed (exit %d), retry %d of %d" % (
                step.name, outcome.exit_status, number, step.retry.limit))
            if run.stop.wait(step.retry.interval(number)) or self.cancelled:
                return outcome

    def _attempt(self, argv, env, cwd, sinks):
        run, step = self.run, self.result.step
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            with self._lock:
                if self.cancelled:
                    for fd in (out_read, err_read):
                        os.close(fd)
                    return None
                child = self._child = Child(argv, env, cwd=cwd, stdin=run.devnull,
                                            stdout=out_write, stderr=err_write)
        finally:
            os.close(out_write)
            os.close(err_write)
        if child.problem is not None:
            sinks["stderr"].feed(("traceexec: %s\n" % child.problem).encode())
        ends = [(run.pump.watch(out_read, sinks["stdout"]), out_read),
                (run.pump.watch(err_read, sinks["stderr"]), err_read)]
        outcome = child.wait(step.timeout_s, run.kill_after)
        with self._lock:
            self._child = None
        for ended, fd in ends:
            if not ended.wait(OUTPUT_GRACE_S):
                run.pump.detach(fd)
                ended.wait(OUTPUT_GRACE_S)
        return outcome

    def _judge(self, outcome):
        result, step = self.result, self.result.step
        if outcome.exit_status == 0:
            result.status = model.SUCCEEDED
        elif self.cancelled:
            result.status, result.reason = model.CANCELLED, self.run.cancel_reason
        elif step.continue_on.allows_failure(outcome.exit_status):
            result.failure_allowed = True
            result.reason = outcome.description
            result.status = model.SUCCEEDED if step.continue_on.mark_success else model.FAILED
        else:
            result.status, result.reason = model.FAILED, outcome.description

    def _precondition(self, condition, values, env, cwd):
        positional = self.run.scope.positional
        if condition.expected is None:
            done = subprocess.run([SHELL, "-c", condition.condition], env=env, cwd=cwd,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            return done.returncode == 0, "%r exited %d" % (condition.condition, done.returncode)
        actual = substitute_commands(expand(condition.condition, values, positional=positional),
                                     env, cwd)
        expected = expand(condition.expected, values, positional=positional)
        if expected.startswith("re:"):
            met = re.fullmatch(expected[3:], actual) is not None
        else:
            met = actual == expected
        return met, "%s is %r, expected %r" % (condition.condition, actual, expected)

    def _argv(self, values, env, cwd):
        """The command line of the step; ``None`` (step failed) when it cannot be built."""
        step, run = self.result.step, self.run
        positional = run.scope.positional
        if step.run is not None:
            return self._nested_argv(values, env)
        if step.script is not None:
            own = dict(run.scope.defined)
            own.update(self.outputs)
            own.update({name: values[name] for name, _ in step.env})
            path = run.script_path(self.result)
            with open(path, "w", encoding="utf-8") as handle:
                # $1... stay: they are the script's own arguments (the positional params)
                handle.write(expand(step.script, own, keep_unknown=True))
            os.chmod(path, 0o700)
            if step.command is not None:
                interpreter = (step.command if isinstance(step.command, list)
                               else shlex.split(expand(step.command, values)))
            elif step.shell:
                interpreter = shlex.split(step.shell)
            else:
                interpreter = [] if step.script.startswith("#!") else [SHELL]
            return interpreter + [path] + positional
        if isinstance(step.command, list):
            return [expand(word, values, positional=positional) for word in step.command]
        if step.shell:
            return shlex.split(step.shell) + ["-c", step.command, run.dag.name] + positional
        if is_plain(step.command):
            return shlex.split(step.command)
        return [SHELL, "-c", step.command, run.dag.name] + positional

    def _nested_argv(self, values, env):
        step, run = self.result.step, self.run
        path = step.run
        if "$" in path:
            from .load import resolve_dag_file
            text = expand(path, values)
            path = resolve_dag_file(text, run.dag.directory)
            if path is None:
                self.result.status = model.FAILED
                self.result.reason = "nested DAG file not found: %s" % text
                return None
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        env["PYTHONPATH"] = package_parent + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        params = [(name, expand(value, values)) for name, value in step.params]
        argv = [sys.executable, "-m", "traceexec", "run", path, "--params", format_params(params)]
        if run.base:
            argv += ["--base", run.base]
        return argv
