"""Load a DAG file: base config merge, validation, and the static checks.

``load`` reads YAML safely, lays the DAG over its base config, checks every
key (an unknown one gets "did you mean"), resolves ``depends``, finds
dependency cycles and nested-DAG recursion, and returns a ``model.Dag``.
Every problem found is kept; ``DagInvalid`` carries them all, each as
``file:line: message``.  Nothing from the DAG file is executed here.
"""
from __future__ import annotations

import difflib
import os

from . import model
from .checks import Checker, DagInvalid
from .source import Mapping, Sequence, merge, parse
from ..errors import SourceError

TRACEEXEC_BASE_CONFIG = "TRACEEXEC_BASE_CONFIG"
"""Path of the base config laid under every DAG (default $XDG_CONFIG_HOME/traceexec/base.yaml)."""
MAX_DEPTH = 10
"""How deep ``run:`` steps may nest DAGs (the outermost DAG is level 1)."""

DAG_KEYS = ("name", "description", "type", "params", "env", "dotenv", "otel", "maxActiveSteps",
            "timeoutSec", "handlerOn", "steps", "workingDir", "maxCleanUpTimeSec", "processes")
SERVER_KEYS = ("schedule", "skipIfSuccessful", "restartSchedule", "stopSchedule", "tags",
               "group", "histRetentionDays", "mailOn", "errorMail", "infoMail", "smtp",
               "logDir", "maxActiveRuns", "queue", "restartWaitSec", "delaySec",
               "maxOutputSize", "mailOnError")
STEP_KEYS = ("name", "id", "description", "command", "script", "shell", "dir", "env",
             "depends", "output", "stdout", "stderr", "preconditions", "continueOn",
             "retryPolicy", "timeoutSec", "run", "params", "signalOnStop", "processes")
UNSUPPORTED_STEP_KEYS = {
    "executor": "executors are not supported: traceexec runs local commands",
    "repeatPolicy": "repeatPolicy is not supported: use retryPolicy, or a loop in a script",
}
OTEL_KEYS = ("enabled", "endpoint", "headers", "insecure", "timeout", "resource")
CONDITION_KEYS = ("condition", "expected")
CONTINUE_KEYS = ("failure", "skipped", "exitCode", "markSuccess")
RETRY_KEYS = ("limit", "intervalSec", "exitCode", "backoff", "maxIntervalSec")


def find_base(flag, environ) -> str | None:
    """``--base``, else TRACEEXEC_BASE_CONFIG, else $XDG_CONFIG_HOME/traceexec/base.yaml if present."""
    if flag:
        return flag
    if environ.get(TRACEEXEC_BASE_CONFIG):
        return environ[TRACEEXEC_BASE_CONFIG]
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".config")
    candidate = os.path.join(config_home, "traceexec", "base.yaml")
    return candidate if os.path.isfile(candidate) else None


def resolve_dag_file(text: str, directory: str) -> str | None:
    """The file a ``run:`` value names, relative to ``directory``; ``.yaml``/``.yml`` optional."""
    path = os.path.join(directory, os.path.expanduser(text))
    for candidate in (path, path + ".yaml", path + ".yml"):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def load(path: str, *, base: str | None = None) -> model.Dag:
    """The validated DAG in ``path``, laid over ``base``; raises DagInvalid."""
    path = os.path.abspath(path)
    checker = Checker()
    try:
        document = parse(path)
        if base is not None:
            document = merge(parse(os.path.abspath(base)), document)
    except SourceError as error:
        raise DagInvalid([error]) from None
    if not isinstance(document, Mapping):
        raise DagInvalid([SourceError("a DAG file is a mapping of keys like name: and steps:",
                                      path, 1)])
    dag = _dag(document, path, checker)
    if not checker.problems:
        check_nesting(dag, checker, [path])
    checker.raise_if_any()
    return dag


def _dag(doc: Mapping, path: str, check: Checker) -> model.Dag:
    check.keys(doc, DAG_KEYS, SERVER_KEYS, "DAG")
    stem = os.path.splitext(os.path.basename(path))[0]
    dag = model.Dag(name=check.string(doc, "name") or stem, path=path)
    dag.description = check.string(doc, "description") or ""
    for key in SERVER_KEYS:
        if key in doc:
            dag.notices.append("%s: %s is for a scheduler server and is ignored%s" % (
                check.where(doc, key), key,
                " (schedule with cron; traceexec runs one DAG run)" if "chedule" in key else ""))
    dag.params = check.params(doc, "params")
    dag.env = check.env(doc, "env")
    dag.dotenv = [os.path.join(os.path.dirname(check.place(doc, "dotenv")[0] or path), p)
                  for p in check.string_list(doc, "dotenv")]
    dag.max_active_steps = check.integer(doc, "maxActiveSteps", 0)
    dag.timeout_s = check.duration(doc, "timeoutSec")
    dag.kill_after_s = check.duration(doc, "maxCleanUpTimeSec")
    dag.processes = _processes(doc, check)
    working_dir = check.string(doc, "workingDir")
    if working_dir:
        dag.working_dir = os.path.join(os.path.dirname(path), working_dir)
    if "otel" in doc:
        dag.otel = _otel(doc, check)
    steps_value = doc.get("steps")
    if steps_value is None:
        check.problem("a DAG needs steps:", doc.place)
        steps_value = Sequence(doc.place)
    elif not isinstance(steps_value, Sequence):
        check.problem("steps must be a list of steps", check.place(doc, "steps"))
        steps_value = Sequence(doc.place)
    for index, item in enumerate(steps_value):
        step = _step(item, steps_value.place_of(index), dag, check)
        if step is not None:
            dag.steps.append(step)
    _check_names(dag, steps_value, check)
    dag.type = check.choice(doc, "type", ("chain", "graph"),
                            "graph" if any("depends" in s for s in steps_value
                                           if isinstance(s, Mapping)) else "chain")
    _resolve_depends(dag, steps_value, check)
    handlers = doc.get("handlerOn")
    if handlers is not None:
        if not isinstance(handlers, Mapping):
            check.problem("handlerOn must map success/failure/cancel/exit to a step",
                          check.place(doc, "handlerOn"))
        else:
            check.keys(handlers, model.HANDLER_EVENTS, (), "handlerOn")
            for event in model.HANDLER_EVENTS:
                if event in handlers:
                    step = _step(handlers[event], handlers.place_of(event), dag, check,
                                 default_name=model.HANDLER_NAMES[event])
                    if step is not None:
                        step.depends = []
                        dag.handlers[event] = step
    return dag


def _otel(doc, check) -> Mapping | None:
    otel = doc["otel"]
    if not isinstance(otel, Mapping):
        check.problem("otel must be a mapping (enabled, endpoint, headers, ...)",
                      check.place(doc, "otel"))
        return None
    check.keys(otel, OTEL_KEYS, (), "otel")
    check.boolean(otel, "enabled")
    check.boolean(otel, "insecure")
    for key in ("headers", "resource"):
        if key in otel and not isinstance(otel[key], Mapping):
            check.problem("otel.%s must be a mapping" % key, check.place(otel, key))
    return otel


def _step(item, place, dag, check, default_name=None) -> model.Step | None:
    if not isinstance(item, Mapping):
        check.problem("a step must be a mapping with name: and command:", place)
        return None
    check.keys(item, STEP_KEYS, (), "step", UNSUPPORTED_STEP_KEYS)
    name = check.string(item, "name") or default_name
    if not name:
        check.problem("a step needs a name:", item.place)
        name = "<step at line %d>" % item.place[1]
    step = model.Step(name=str(name), where="%s:%d" % item.place)
    step.id = check.string(item, "id")
    step.description = check.string(item, "description") or ""
    if "mailOnError" in item:
        dag.notices.append("%s: mailOnError is for a scheduler server and is ignored"
                           % check.where(item, "mailOnError"))
    step.command = check.command(item, "command")
    step.script = check.string(item, "script")
    step.shell = check.string(item, "shell")
    step.dir = check.string(item, "dir")
    step.env = check.env(item, "env")
    step.output = check.string(item, "output")
    step.stdout = check.string(item, "stdout")
    step.stderr = check.string(item, "stderr")
    step.timeout_s = check.duration(item, "timeoutSec")
    step.signal_on_stop = check.signal(item, "signalOnStop")
    step.preconditions = check.preconditions(item, "preconditions", CONDITION_KEYS)
    step.continue_on = check.continue_on(item, "continueOn", CONTINUE_KEYS)
    step.retry = check.retry(item, "retryPolicy", RETRY_KEYS)
    step.params = check.params(item, "params")
    step.processes = _processes(item, check)
    run = check.string(item, "run")
    if run is not None:
        step.run_line = check.place(item, "run")[1]
        if step.command is not None or step.script is not None:
            check.problem("step %r: run: starts a nested DAG and cannot have command: or "
                          "script:" % step.name, check.place(item, "run"))
        if "$" in run:
            step.run = run  # resolved when the step runs
        else:
            step.run = resolve_dag_file(run, dag.directory)
            if step.run is None:
                check.problem("nested DAG file not found: %s" % run, check.place(item, "run"))
    elif step.command is None and step.script is None:
        check.problem("step %r has nothing to run: give command:, script: or run:"
                      % step.name, item.place)
    if "params" in item and run is None:
        check.problem("step %r: params: is for nested DAGs (run:); use env: for a command"
                      % step.name, check.place(item, "params"))
    return step


def _processes(mapping, check):
    """``processes: true | false | all`` (traceexec --processes for the commands)."""
    value = mapping.get("processes")
    if value is None:
        return None
    if value is True or value is False or value == "all":
        return "fold" if value is True else value
    check.problem("processes must be true, false or all", check.place(mapping, "processes"))
    return None


def _check_names(dag, items, check):
    seen = {}
    for step, item in zip(dag.steps, [i for i in items if isinstance(i, Mapping)]):
        for label in (step.name, step.id):
            if label is None or (label is step.id and step.id == step.name):
                continue
            if label in seen:
                check.problem("duplicate step name %r (first at %s)" % (label, seen[label]),
                              item.place)
            else:
                seen[label] = step.where


def _resolve_depends(dag, items, check):
    by_label = {}
    for step in dag.steps:
        by_label.setdefault(step.name, step.name)
        if step.id:
            by_label.setdefault(step.id, step.name)
    mappings = [i for i in items if isinstance(i, Mapping)]
    previous = None
    for step, item in zip(dag.steps, mappings):
        if "depends" in item:
            for label in check.string_list(item, "depends"):
                if label in by_label:
                    step.depends.append(by_label[label])
                else:
                    check.problem("step %r depends on unknown step %r%s" % (
                        step.name, label, suggestion(label, list(by_label))),
                        check.place(item, "depends"))
        elif dag.type == "chain" and previous is not None:
            step.depends.append(previous.name)
        previous = step
    if check.problems:
        return
    import graphlib
    try:
        graphlib.TopologicalSorter({s.name: s.depends for s in dag.steps}).prepare()
    except graphlib.CycleError as error:
        loop = list(reversed(error.args[1]))
        first = dag.step(loop[0])
        check.problem("dependency cycle: %s" % " -> ".join(loop),
                      (dag.path, int(first.where.rsplit(":", 1)[1])))


def suggestion(word, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, else empty."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return " (did you mean %r?)" % close[0] if close else ""


def check_nesting(dag, checker, stack):
    """Refuse a DAG that runs itself through ``run:`` steps, and nesting past MAX_DEPTH.

    Follows ``run:`` files statically (only their steps' ``run:`` keys are read).
    """
    for step in dag.steps:
        if step.run is None or "$" in step.run:
            continue
        _follow(step.run, (dag.path, step.run_line), checker, stack)


def _follow(path, place, checker, stack):
    real = os.path.realpath(path)
    if real in [os.path.realpath(p) for p in stack]:
        names = [os.path.basename(p) for p in stack] + [os.path.basename(path)]
        checker.problem("DAG runs itself: %s" % " -> ".join(names), place)
        return
    if len(stack) >= MAX_DEPTH:
        checker.problem("nested DAGs deeper than %d levels: %s" % (
            MAX_DEPTH, " -> ".join(os.path.basename(p) for p in stack + [path])), place)
        return
    try:
        document = parse(path)
    except SourceError as error:
        checker.problems.append(error)
        return
    steps = document.get("steps") if isinstance(document, Mapping) else None
    for index, item in enumerate(steps if isinstance(steps, Sequence) else []):
        run = item.get("run") if isinstance(item, Mapping) else None
        if not isinstance(run, str) or "$" in run:
            continue
        target = resolve_dag_file(run, os.path.dirname(path))
        child_place = item.place_of("run")
        if target is None:
            checker.problem("nested DAG file not found: %s" % run, child_place)
        else:
            _follow(target, child_place, checker, stack + [path])
