"""One step, as a program the scheduler drives: preconditions, commands, retries,
repeats, outputs, sub-DAGs.

``program(run, result)`` is a generator.  It reads like a thread would, but
it never waits itself: it yields a request (``Run`` a process, ``Sleep``,
``Fan`` out several processes) and the scheduler's event loop resumes it with
the answer (an ``Outcome``, or whether the sleep was cut short by a stop).  So
a DAG of any width is one thread, and a step's fate is decided in the order
Dagu decides it:

1. preconditions (all of them; one not met skips the step);
2. the command lines, in order, the first failure ending the attempt;
3. a failure is retried (``retryPolicy``: limit, exit codes, interval with
   backoff); a timeout is not;
4. a finished run is repeated while/until its ``repeatPolicy`` says so;
5. a final failure may be allowed (``continueOn``: failure, exit codes, output
   patterns; ``markSuccess`` makes it a success).
"""
from __future__ import annotations

import os

from . import commands, model
from .layers import Layers
from .output import log_text
from .variables import Unresolved, command_runner, evaluate, expand, shell_text
from ..remote.slurmstep import step_argvs
from ..wrap import context



class Run:
    """Request: run one process; answered with its ``supervise.Outcome`` (``None`` if the
    step was stopped before it started)."""

    __slots__ = ("argv", "env", "cwd", "sinks", "timeout")

    def __init__(self, argv, env, cwd, sinks, timeout=None):
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.sinks = sinks
        self.timeout = timeout


class Sleep:
    """Request: wait ``seconds``; answered True when a stop cut it short."""

    __slots__ = ("seconds",)

    def __init__(self, seconds):
        self.seconds = seconds


class Fan:
    """Request: run several processes, at most ``limit`` at once; answered with their
    outcomes in order (``None`` for those a stop kept from starting)."""

    __slots__ = ("runs", "limit")

    def __init__(self, runs, limit):
        self.runs = runs
        self.limit = max(1, limit)


def environment(values, span, incoming):
    """A step's environment: a function making it afresh for each process the step
    starts (and then dropped).  A closure, not an object with ``__call__``: less to make
    and to call, once a step each."""
    def make() -> dict:
        if hasattr(values, "maps"):  # Layers: merge its layers, weakest first (fast)
            merged = {}
            for layer in reversed(values.maps):
                merged.update(layer)
        else:
            merged = dict(values)
        return context.child_environment(merged, span, incoming, own=True)
    return make


class StepFailed(Exception):
    """The step cannot run as written (a bad reference, a missing sub-DAG, ...)."""


# -- conditions -------------------------------------------------------------------------

def matches(text, patterns, *, exact) -> bool:
    """Dagu's line matching: a line equal to (``exact``) or containing a literal pattern,
    or a ``re:`` pattern found in a line."""
    lines = text.split("\n") if text else [""]
    for pattern in patterns:
        if pattern.startswith("re:"):
            import re  # only for re: patterns (a warm plain run imports neither re nor json)
            try:
                regex = re.compile(pattern[3:])
            except re.error:
                continue
            if any(regex.search(line) for line in lines):
                return True
        elif any((line == pattern) if exact else (pattern in line) for line in lines):
            return True
    return False


def check(run, condition, values, env, cwd, shell):
    """(met, why) of one precondition or repeat condition; may run a command."""
    if condition.expected is not None:
        actual = evaluate(condition.condition, values, steps=run.views,
                          positional=run.scope.positional, commands=command_runner(env(), cwd))
        expected = evaluate(condition.expected, values, positional=run.scope.positional)
        met = matches(actual, [expected], exact=True)
        why = "%s is %r, expected %r" % (condition.condition, actual, expected)
    else:
        line, more = shell_text(condition.condition, values, run.views)
        argv = list(shell) + (["-c"] if "-c" not in shell[1:] else []) + [line]
        outcome = yield Run(argv, dict(env(), **more), cwd, run.quiet_sinks(), None)
        if outcome is None:
            return False, "stopped"
        met = outcome.exit_status == 0
        why = "%r exited %d" % (condition.condition, outcome.exit_status)
    if condition.negate:
        return not met, ("negated: " + why)
    return met, why


# -- the program ------------------------------------------------------------------------

def program(run, result):
    """The generator the scheduler drives for ``result.step``; a failed step keeps the
    last lines of its stderr (``stderr_tail``)."""
    values = run.values_for(result)
    try:
        yield from _program(run, result, values)
    finally:
        if result.status == model.FAILED and result.logs.get("stderr"):
            from ..stderr_tail import redacted, tail_of_file
            result.stderr_tail = redacted(tail_of_file(result.logs["stderr"]), values)


def _program(run, result, values):
    step = result.step
    cwd = run.cwd_for(step, values)
    result.cwd = cwd
    span_ctx = context.SpanContext(run.identity.ctx.trace_id, result.span_id,
                                   run.identity.ctx.flags)
    env = environment(values, span_ctx, run.identity.incoming)
    shell, named = commands.shell_for(step, run.dag, values)
    # build's own, read again only after preconditions ran (other steps may end meanwhile)
    given = None if step.preconditions else (shell, named)
    if shell[0] == commands.DIRECT:
        shell = commands.default_shell(values)
    try:
        if cwd is None:
            raise StepFailed("no such directory: %s" % run.missing_dir(step, values))
        for condition in step.preconditions:
            met, why = yield from check(run, condition, values, env, cwd, shell)
            if not met:
                result.status, result.reason = model.SKIPPED, "precondition not met: " + why
                return
        if step.is_nested:
            from .subdag import call
            yield from call(run, result, values, env, cwd)
            return
        if step.outputs and step.command is None and step.script is None \
                and step.argv is None and not step.commands:
            result.output = publish(run, result, values, cwd)
            result.status = model.SUCCEEDED
            return
        invocation = commands.build(step, run.dag, values, run.views,
                                    defined=run.defined_for,
                                    positional=run.scope.positional,
                                    script_path=None if step.script is None
                                    else run.script_path(result), cwd=cwd, shell=given)
        if step.remote is not None:  # ssh and http executors: traceexec/remote/steps.py
            from ..remote.steps import apply
            apply(step.remote, invocation, env(), shell,
                  [run.dag.name] + list(run.scope.positional), run.script_path(result))
        else:  # sbatch and srun: the context inside the job (traceexec/remote/slurm.py)
            invocation.argvs = step_argvs(invocation.argvs, env)
    except (StepFailed, Unresolved) as problem:
        result.status, result.reason = model.FAILED, str(problem)
        run.progress.say("%s: %s" % (step.name, problem))
        allow(run, result, {})  # continueOn looks at the status, whatever the cause (Dagu)
        return
    if invocation.env:  # the values of Dagu's references in a shell's text
        env = environment(Layers(invocation.env, *getattr(values, "maps", [values])),
                          span_ctx, run.identity.incoming)
    if invocation.script_path is not None:
        run.write_script(invocation.script_path, invocation.script_text)
    result.argv = invocation.argvs[-1] if invocation.argvs else []
    sinks = run.open_sinks(result, values, cwd)
    try:
        yield from attempts(run, result, invocation, env, cwd, sinks, values, shell)
    finally:
        for sink in sinks.values():
            sink.close()


def _number(value, values, what, step):
    """A policy's number, resolving a ``${VAR}`` given as a string."""
    if isinstance(value, str):
        text = expand(value, values).strip()
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            raise StepFailed("%s of step %r is %r, not a number" % (what, step.name, text)) \
                from None
    return value


def backoff_interval(interval, backoff, max_interval, count) -> float:
    """Dagu's interval before the next run: ``interval * backoff ** count``, capped."""
    if backoff and backoff > 0:
        seconds = interval * (backoff ** max(0, count))
        if max_interval:
            seconds = min(seconds, max_interval)
        return seconds
    return interval


def attempts(run, result, invocation, env, cwd, sinks, values, shell):
    step, dag = result.step, run.dag
    retry, repeat = step.retry, step.repeat
    # a policy's numbers as given (most steps: the defaults), or its variables resolved
    retry_limit, retry_interval, repeat_limit, repeat_interval = (
        retry.limit, retry.interval_s, repeat.limit, repeat.interval_s)
    if isinstance(retry_limit, str) or isinstance(retry_interval, str) or \
            isinstance(repeat_limit, str) or isinstance(repeat_interval, str):
        retry_limit = _number(retry_limit, values, "retryPolicy.limit", step)
        retry_interval = _number(retry_interval, values, "retryPolicy.intervalSec", step)
        repeat_limit = _number(repeat_limit, values, "repeatPolicy.limit", step)
        repeat_interval = _number(repeat_interval, values, "repeatPolicy.intervalSec", step)
    processes = step.processes if step.processes is not None else dag.processes
    lines = step.lines if step.lines is not None else dag.lines
    if processes or lines:
        from ..processes.session import wrapper_argv
    retries = 0
    done = 0
    outputs = []
    while True:
        if sinks["stdout"].capture is not None:
            sinks["stdout"].capture = bytearray()
            sinks["stdout"].exceeded = False
        outcome = None
        for argv in invocation.argvs:
            result.argv = argv
            # every process (--processes), every command bash runs (--lines) a span
            traced_lines = bool(lines) and commands.is_shell(argv)
            if processes or traced_lines:
                argv = wrapper_argv(processes, traced_lines) + argv
            outcome = yield Run(argv, env(), cwd, sinks, step.timeout_s)
            if outcome is None:
                break
            result.outcome = outcome
            result.attempts.append(model.Attempt(len(result.attempts) + 1, outcome.start_ns,
                                                 outcome.end_ns, outcome.exit_status,
                                                 outcome.error_type))
            if step.remote is not None:  # an http request's status and url (remote/steps.py)
                from ..remote.steps import span_attributes
                result.attributes = span_attributes(step.remote, run.script_path(result))
            if outcome.exit_status != 0:
                break
        if outcome is None or (run.stopping and not repeat.finishes_on_signal):
            result.status, result.reason = model.CANCELLED, run.cancel_reason
            return
        exceeded = step.output is not None and sinks["stdout"].exceeded
        if step.output is not None and not (exceeded and dag.schema == model.V1):
            text = sinks["stdout"].captured_text()
            if text:
                outputs.append(text)
            result.output = "\n".join(outputs)
        failed = outcome.exit_status != 0
        if exceeded:  # both schemas fail the step (v1.17.4: node.go capturedOutput's error)
            failed = True
            reason = "%soutput exceeded maximum size limit of %d bytes" % (
                "failed to capture output: " if dag.schema == model.V1 else "",
                dag.max_output_size)
        elif failed:
            reason = outcome.description + _work_dir_hint(run.dag, result.argv, cwd, outcome)
        if failed:
            result.status, result.reason = model.FAILED, reason
            if (not outcome.timed_out and retries < retry_limit
                    and (outcome.exit_status in retry.exit_codes if retry.exit_codes
                         else outcome.exit_status != 0)):
                retries += 1
                run.progress.say("%s failed (%s), retry %d of %d" % (
                    step.name, reason, retries, retry_limit))
                interval = backoff_interval(retry_interval, retry.backoff, retry.max_interval_s,
                                            retries - 1)
                if (yield Sleep(interval)):
                    result.status, result.reason = model.CANCELLED, run.cancel_reason
                    return
                continue
        else:
            result.status, result.reason = model.SUCCEEDED, ""
        done += 1
        again = repeat.mode is not None and (  # no repeat policy: no generator to run
            yield from _repeats(run, result, repeat, repeat_limit, done, failed, values, env,
                                cwd, shell))
        if not again:
            break
        interval = backoff_interval(repeat_interval, repeat.backoff, repeat.max_interval_s,
                                    done)
        if (yield Sleep(interval)):
            break
    if result.status == model.SUCCEEDED and step.outputs:
        try:
            result.output = publish(run, result, values, cwd)
        except StepFailed as problem:
            result.status, result.reason = model.FAILED, str(problem)
    if result.status == model.FAILED:
        allow(run, result, sinks)


def _work_dir_hint(dag, argv, cwd, outcome) -> str:
    """Why ``./script`` beside the DAG file is not found: Dagu 2 runs steps in the run's
    work directory unless the file sets workingDir (runtime/agent evaluateWorkingDir)."""
    if outcome.exit_status != 127 or not argv or dag.working_dir or \
            not argv[0].startswith(("./", "../")) or cwd == dag.directory or \
            not os.path.exists(os.path.join(dag.directory, argv[0])):
        return ""
    return " (steps of a Dagu 2 file run in the run's work directory, as in Dagu; " \
        "working_dir: . runs them beside the DAG file)"


def publish(run, result, values, cwd) -> str:
    """A v2 object-form output as the JSON Dagu gives ``${id.output...}``."""
    def literal(value):
        if isinstance(value, str):
            return evaluate(value, values, steps=run.views)
        if isinstance(value, dict):
            return {k: literal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [literal(v) for v in value]
        return value

    document = {}
    for key, entry in result.step.outputs.items():
        if entry.literal:
            document[key] = literal(entry.value)
            continue
        if entry.source == "file":
            path = os.path.join(cwd, expand(str(entry.path), values))
            try:
                with open(path, "rb") as handle:
                    raw = handle.read(run.dag.max_output_size).decode("utf-8", "replace")
            except OSError as error:
                raise StepFailed("output.%s: cannot read %s: %s" % (key, path,
                                                                    error.strerror)) from None
        else:
            raw = log_text(result.logs[entry.source], run.dag.max_output_size)
        document[key] = _decoded(key, raw, entry)
    import json
    return json.dumps(document, separators=(",", ":"))


def _decoded(key, raw, entry):
    if entry.decode == "text":
        return raw.strip()
    try:
        if entry.decode == "json":
            import json
            value = json.loads(raw)
        else:
            import yaml
            value = yaml.safe_load(raw)
    except Exception:
        raise StepFailed("output.%s: not valid %s" % (key, entry.decode.upper())) from None
    if entry.select:
        from .variables import walk_json
        try:
            value = walk_json(value, entry.select.strip())
        except KeyError:
            raise StepFailed("output.%s: %s selects nothing" % (key, entry.select)) from None
    return value


def _repeats(run, result, repeat, limit, done, failed, values, env, cwd, shell):
    """Whether the step runs again (Dagu's repeat rules for the file's schema)."""
    if run.stopping or (limit and done >= limit):
        return False
    code = result.exit_code
    if repeat.mode is None:
        return False
    if repeat.condition is not None:
        run.views[result.step.label] = run.view_of(result)
        values = dict(values)
        if result.step.output and result.output is not None:
            values[result.step.output] = result.output
        met, _ = yield from check(run, repeat.condition, values, env, cwd, shell)
        if repeat.legacy_repeat or run.dag.schema == model.V1:
            # v1: with expected, repeat until it matches; without, while the command succeeds
            return (not met) if repeat.condition.expected is not None else met
        return met if repeat.mode == "while" else not met
    if repeat.exit_codes:
        inside = code in repeat.exit_codes
        return inside if repeat.mode == "while" else not inside
    if repeat.legacy_repeat:
        return not failed or result.step.continue_on.failure
    return (not failed) if repeat.mode == "while" else failed


def allow(run, result, sinks):
    """continueOn: whether a failed step lets the run go on (and markSuccess)."""
    step = result.step
    cont = step.continue_on
    allowed = cont.failure or (result.exit_code is not None and result.exit_code
                               in cont.exit_codes)
    if not allowed and cont.output:
        text = log_text(result.logs["stdout"], run.dag.max_output_size)
        allowed = matches(text, list(cont.output), exact=False)
    if allowed:
        result.failure_allowed = True
        if cont.mark_success:
            result.status = model.SUCCEEDED
