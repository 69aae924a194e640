"""Run a loaded DAG: check and set up the run, schedule it, record the trace.

``execute`` refuses recursion, checks the otel block, builds the steps'
environment and the run's directory, and hands over to
``schedule.Scheduler`` (one thread: an event loop driving every step).  Step
spans are spooled as steps end, the DAG's at the very end; the outermost
run then waits (bounded by the export timeout) until they are delivered.

    result = execute(load("pipeline.yaml"))
    result.status, result.exit_status, result.trace_id
"""
from __future__ import annotations

import gc
import os
import time

from . import model, spans, telemetry
from .load import MAX_DEPTH
from .loop import Loop
from .progress import Progress
from .runs import new_run_id, safe_name
from .schedule import Scheduler
from .state import TRACEEXEC_DAG_RESULT, TRACEEXEC_LOCAL_DAG, TRACEEXEC_RUN_ID, RunState
from .variables import Scope, format_params, override_params
from ..delivery import config, otlp_text  # noqa: F401 (the spans' writer: json's text)
from ..errors import TraceexecError
from ..files import ensure_dir, replace_file
from ..jsontext import dumps, float_text, string_text
from ..wrap import context
from ..wrap.supervise import recorded_args as redact_args  # redact only if it may change
from ..wrap.supervise import DEFAULT_KILL_AFTER

TRACEEXEC_PARENT_RUN_ID = "TRACEEXEC_PARENT_RUN_ID"
"""Set for every step: the run id of the DAG run that started it (``dag.parent_run_id``)."""
TRACEEXEC_DAG_STACK = "TRACEEXEC_DAG_STACK"
"""Set for every step: the DAG files (``file#name`` for a local DAG) of the runs above it."""
FULL_PASS_EVERY = 1000
"""Younger collections between two full passes of the garbage collector during a run
(CPython's default is 10: with 3,000 steps running, 12 full passes cost 0.85 s of a
10,000-step run, 0.16 ms a step, where the steps had nothing to free)."""
YOUNG_PASS_AFTER = 10000
"""Allocations (net) between two young passes of the garbage collector during a run, at
least (CPython's default is 700): a step's objects go by reference counting (a test
checks), so a young pass walks the running steps' objects for nothing; about 25,000
instructions a step of a fan-out less, for at most this many more objects alive."""
_OUTPUT, _REUSED = ',"output":', ',"reused":true'  # a step's text (an f-string's parts)


class DagRecursion(TraceexecError):
    """A DAG run would run itself, or nest deeper than MAX_DEPTH."""


class RunResult:
    def __init__(self, dag, run_id, trace_id, run_dir):
        self.dag = dag
        self.run_id = run_id
        self.trace_id = trace_id
        self.run_dir = run_dir
        self.status = model.PENDING
        self.exit_status = 0
        self.reason = ""
        self.result = ""             # cicd.pipeline.result
        self.start_ns = time.time_ns()
        self.end_ns = 0
        self.steps = []              # StepResult, in the DAG's order
        self.handlers = []           # StepResult of the handlers that ran
        self.delivered = True
        self.local = True            # spans are in the local store (traceexec show)
        self.home = None
        self.params = []
        self.span_id = ""
        self.retry_of = None
        self.pid_start = None
        self._parts = []             # the record's text of each step (see to_text)
        self._index = {}
        self._dirty = set()
        self._words = {}             # a status -> its word's text in the DAG's schema
        self._ids = None             # (trace id, run id, their text in a step's)
        self._log_keys = {}          # a log's name -> its text and a colon

    def outputs(self) -> dict:
        """The run's outputs as Dagu collects them: each step's ``output:`` variable."""
        found = {}
        for result in self.steps:
            if result.step.output and result.output is not None:
                found[result.step.output] = result.output
        return found

    def _step_json(self, r) -> dict:
        return {"name": r.step.name, "id": r.step.id, "status": self.dag.word(r.status),
                "exit_code": r.exit_code, "attempts": len(r.attempts),
                "duration_s": spans.seconds(max(0, r.end_ns - r.start_ns)),
                "reason": r.reason or None,
                "span_id": r.span_id, "trace_id": self.trace_id, "run_id": self.run_id,
                "logs": r.logs, "start_ns": r.start_ns, "end_ns": r.end_ns,
                **({"output": r.output} if r.output is not None else {}),
                **({"reused": True} if r.reused else {})}

    def _step_text(self, r) -> str:
        """``dumps(self._step_json(r))``, a step of plain values written at once (a
        fan-out's steps are each written once or twice); anything else goes to dumps."""
        step, string = r.step, string_text
        name, step_id, word = step.name, step.id, self._words.get(r.status)
        if word is None:  # the status word's text, kept: a run's steps share a few
            word = self.dag.word(r.status)
            if type(word) is not str or string is None:
                return dumps(self._step_json(r))
            word = self._words[r.status] = string(word)
        code = r.exit_code_override  # r.exit_code, without a property's call
        if code is None and r.outcome is not None:
            code = r.outcome.exit_status
        reason, logs, output = r.reason or None, r.logs, r.output
        span_id, trace_id, run_id = r.span_id, self.trace_id, self.run_id
        start, end = r.start_ns, r.end_ns
        if (type(name) is not str
                or not (step_id is None or type(step_id) is str)
                or not (code is None or type(code) is int)
                or not (reason is None or type(reason) is str)
                or not (output is None or type(output) is str)
                or type(start) is not int or type(end) is not int or type(logs) is not dict
                or type(span_id) is not str or type(trace_id) is not str
                or type(run_id) is not str):
            return dumps(self._step_json(r))
        parts, keys = [], self._log_keys
        for key, path in logs.items():
            if type(path) is not str:
                return dumps(self._step_json(r))
            head = keys.get(key)
            if head is None:  # the log's name (stdout, stderr) as text, kept
                if type(key) is not str:
                    return dumps(self._step_json(r))
                head = keys[key] = string(key) + ":"
            parts.append(head + string(path))
        took = end - start if end > start else 0
        # float_text(spans.seconds(took)) without their calls: a finite float, by its repr
        took = float.__repr__((took + 500) // 1000 / 1e6) if (
            took < 1_000_000_000_000_000 and took % 1000 != 500) else float_text(
            spans.seconds(took))
        ids = self._ids
        if ids is None or ids[0] is not trace_id or ids[1] is not run_id:
            ids = self._ids = (trace_id, run_id, ',"trace_id":%s,"run_id":%s,"logs":{' % (
                string(trace_id), string(run_id)))
        return (f'{{"name":{string(name)},"id":'
                f'{"null" if step_id is None else string(step_id)},"status":{word},'
                f'"exit_code":{"null" if code is None else code},"attempts":{len(r.attempts)},'
                f'"duration_s":{took},"reason":{"null" if reason is None else string(reason)},'
                f'"span_id":{string(span_id)}{ids[2]}{",".join(parts)}}},"start_ns":{start},'
                f'"end_ns":{end}{"" if output is None else _OUTPUT + string(output)}'
                f'{_REUSED if r.reused else ""}}}')

    def to_json(self, *, steps=True) -> dict:
        dag = self.dag
        params = format_params(self.params)
        shown = " ".join(redact_args([params])) if params else ""
        document = {"dag": dag.name, "file": dag.path, "schema": dag.schema,
                    "document": dag.document, "run_id": self.run_id,
                    "trace_id": self.trace_id, "span_id": self.span_id,
                    "status": dag.word(self.status), "exit_status": self.exit_status,
                    "reason": self.reason or None, "result": self.result,
                    "params": shown, "params_redacted": shown != params,
                    "pid": os.getpid(), "pid_start": self.pid_start,
                    "start_ns": self.start_ns, "end_ns": self.end_ns,
                    "duration_s": round((self.end_ns - self.start_ns) / 1e9, 6),
                    "run_dir": self.run_dir, "outputs": self.outputs(),
                    "retry_of": self.retry_of}
        if steps:
            document["steps"] = [self._step_json(r) for r in self.steps]
            document["handlers"] = [self._step_json(r) for r in self.handlers]
        return document

    def touch(self, step_result):
        """``step_result`` changed: its part of the record is made again at the next write."""
        self._dirty.add(id(step_result))

    def to_text(self) -> str:
        """``to_json()`` as compact JSON text.  Only the steps that changed since the last
        write are serialized again, so rewriting the record of a 10,000-step run as it
        goes stays cheap."""
        if len(self._parts) != len(self.steps):
            self._parts = [None] * len(self.steps)
            self._index = {id(r): i for i, r in enumerate(self.steps)}
            self._dirty = {id(r) for r in self.steps}
        for key in self._dirty:
            index = self._index.get(key)
            if index is not None:
                self._parts[index] = self._step_text(self.steps[index])
        self._dirty = set()
        head = dumps(self.to_json(steps=False))
        handlers = ",".join(map(self._step_text, self.handlers))
        return "%s,\"steps\":[%s],\"handlers\":[%s]}" % (head[:-1], ",".join(self._parts),
                                                         handlers)


def stack_entry(dag) -> str:
    return dag.path + ("#" + dag.name if dag.document else "")


def check_ancestry(dag, environ) -> list:
    """The DAGs above this run; raises DagRecursion when ``dag`` is among them."""
    stack = [p for p in environ.get(TRACEEXEC_DAG_STACK, "").split(os.pathsep) if p]

    def key(entry):
        path, _, name = entry.partition("#")
        return os.path.realpath(path), name

    me = stack_entry(dag)
    names = [os.path.basename(p) for p in stack] + [os.path.basename(me)]
    if key(me) in (key(p) for p in stack):
        raise DagRecursion("DAG runs itself: %s" % " -> ".join(names))
    if len(stack) >= MAX_DEPTH:
        raise DagRecursion("nested DAGs deeper than %d levels: %s" % (MAX_DEPTH, " -> ".join(names)))
    return stack


def can_overlap(dag) -> bool:
    """True when two steps may run at once (their output is then prefixed)."""
    if dag.max_active_steps == 1:
        return False
    depth = {}
    for step in dag.steps:
        depth[step.name] = 1 + max((depth[d] for d in step.depends), default=-1) \
            if all(d in depth for d in step.depends) else 0
    levels = {}
    for level in depth.values():
        levels[level] = levels.get(level, 0) + 1
        if levels[level] > 1:
            return True
    return any(s.parallel is not None for s in dag.steps)


def _run_dir(home, dag, run_id, warn):
    """``$TRACEEXEC_HOME/runs/<dag>/<run id>``, or a private temporary one when the home
    cannot be written: ``warn`` says so once, and the run goes on."""
    path = os.path.join(home, "runs", safe_name(dag.name), run_id)
    try:
        ensure_dir(home)  # this user's and private, or refused (files.check_private)
        ensure_dir(path)
        return path, False
    except OSError as error:
        warn("warning: %s is not writable (%s): this run's logs and spans are not kept" % (
            home, error.strerror or error))
        import tempfile  # only here: ~15M instructions at start-up otherwise
        return tempfile.mkdtemp(prefix="traceexec-run-"), True


def run_directories(dag, run_dir) -> dict:
    """Dagu 2's per-run directories, made now: ``DAG_RUN_WORK_DIR`` always (also under
    a ``workingDir`` and in a sub-DAG), ``DAG_RUN_ARTIFACTS_DIR`` when the file names
    it (Dagu then turns artifacts on)."""
    directories = {"DAG_RUN_WORK_DIR": os.path.join(run_dir, "work")}
    try:
        with open(dag.path, encoding="utf-8", errors="replace") as handle:
            if "DAG_RUN_ARTIFACTS_DIR" in handle.read():
                directories["DAG_RUN_ARTIFACTS_DIR"] = os.path.join(run_dir, "artifacts")
    except OSError:
        pass
    made = {}
    for name, path in directories.items():
        try:
            ensure_dir(path)
            made[name] = path
        except OSError:
            pass  # an unwritable home: the run goes on without it
    return made


def docs_dir(name, environ) -> str:
    """Dagu 2's ``DAG_DOCS_DIR`` for the DAG ``name``: its docs folder (``DAGU_DOCS_DIR``,
    else ``docs`` in its DAGs folder: ``DAGU_DAGS_DIR``, ``DAGU_DAGS``, ``$DAGU_HOME/dags``,
    ``~/.dagu/dags`` when ``~/.dagu`` exists, else ``$XDG_CONFIG_HOME/dagu/dags``), then the
    name; nothing is created (cmn/config/loader.go, core/exec/context.go)."""
    given = environ.get("DAGU_DOCS_DIR")
    if given:
        return os.path.join(os.path.abspath(given), name)
    dags = environ.get("DAGU_DAGS_DIR") or environ.get("DAGU_DAGS")
    if not dags:
        user_home = environ.get("HOME") or os.path.expanduser("~")
        legacy = os.path.join(user_home, ".dagu")
        if environ.get("DAGU_HOME"):
            dags = os.path.join(environ["DAGU_HOME"], "dags")
        elif os.path.isdir(legacy):
            dags = os.path.join(legacy, "dags")
        else:
            config = environ.get("XDG_CONFIG_HOME") or os.path.join(user_home, ".config")
            dags = os.path.join(config, "dagu", "dags")
    return os.path.join(os.path.abspath(dags), "docs", name)


def execute(dag, *, environ=None, params=(), base=None, recorder=None, progress=None,
            home=None, install_signals=False, run_id=None, cwd=None,
            reuse=None, retry_of=None) -> RunResult:
    """Run ``dag`` and return what happened; raises TraceexecError before anything runs.

    ``cwd`` is the directory the run was started from (v1 steps run there);
    ``reuse`` maps step names to their records in the run a retry redoes
    (``retry_of``), whose outcome and output they keep.
    """
    environ = dict(os.environ if environ is None else environ)
    result_file = environ.pop(TRACEEXEC_DAG_RESULT, None)
    environ.pop(TRACEEXEC_LOCAL_DAG, None)
    run_id = run_id or environ.pop(TRACEEXEC_RUN_ID, None) or new_run_id()
    environ.pop(TRACEEXEC_RUN_ID, None)
    stack = check_ancestry(dag, environ)
    given, params = params, override_params(dag.params, params)
    cwd = cwd or os.getcwd()
    settings = telemetry.otel_settings(dag.otel, Scope(environ, dag, params, run_id,
                                                       given=given), dag.name)
    cfg = telemetry.export_config(settings, environ, dag.name)
    # Checked: from here on, things from the DAG file run.
    scope = Scope(environ, dag, params, run_id, commands=True, cwd=cwd, given=given)
    if any("`" in str(v) for _, v in dag.env + params):
        settings = telemetry.otel_settings(dag.otel, scope, dag.name)
        cfg = telemetry.export_config(settings, environ, dag.name)
    sampler, propagators = context.trace_choices(environ, cfg.problems)
    incoming = context.read_environment(environ, propagators)
    ctx = context.start_span_context(incoming, sampler)
    parent_run_id = environ.get(TRACEEXEC_PARENT_RUN_ID)
    identity = spans.RunIdentity(dag, run_id, ctx, incoming, cfg.resource,
                                 parent_run_id=parent_run_id)
    if not ctx.is_sampled or cfg.exporter == "none":
        recorder = telemetry.MemoryRecorder()
    home = home or cfg.home
    progress = progress or Progress(dag.name, prefix=can_overlap(dag))
    progress.schema = dag.schema
    recorder = recorder or telemetry.Recorder(cfg, warn=progress.notice)
    for problem in cfg.problems:  # settings ignored alone (OTEL_* as the spec reads them)
        progress.notice("warning: %s" % problem)
    run_dir, temporary = _run_dir(home, dag, run_id, progress.notice)
    if temporary and hasattr(recorder, "silence"):
        recorder.silence()  # the same cause: one warning is enough
        cfg.exporters = tuple(e for e in cfg.exporters if e != "otlp")  # nothing in that home
    progress.log_path = None if temporary else os.path.join(run_dir, "dag.log")
    step_env = telemetry.step_environment(settings, cfg, scope.values)
    step_env[TRACEEXEC_PARENT_RUN_ID] = run_id
    step_env[TRACEEXEC_DAG_STACK] = os.pathsep.join(stack + [stack_entry(dag)])
    step_env[config.TRACEEXEC_HOME] = home
    step_env["DAG_RUN_LOG_FILE"] = os.path.join(run_dir, "dag.log")
    if "DAG_DOCS_DIR" not in scope.defined:  # Dagu sets it before the DAG's own values
        step_env["DAG_DOCS_DIR"] = docs_dir(dag.name, environ)
    scope.values = step_env
    for notice in dag.notices:
        progress.notice(notice)
    state = RunState(dag, scope, identity, progress, run_dir, base,
                     dag.kill_after_s if dag.kill_after_s is not None else DEFAULT_KILL_AFTER,
                     invocation_dir=cwd, nested=bool(parent_run_id))
    scope.values.update(run_directories(dag, run_dir))
    result = RunResult(dag, run_id, ctx.trace_id, run_dir)
    result.home = home
    result.params = params
    result.span_id = ctx.span_id
    result.local = cfg.exporter == "otlp" and (cfg.endpoint is None or cfg.keep_local)
    loop = Loop()
    scheduler = Scheduler(state, recorder, result, loop)
    if reuse:
        scheduler.reuse = reuse
    from ..wrap.signals import process_start
    result.pid_start = process_start(os.getpid())
    if retry_of:
        result.retry_of = retry_of["run_id"]
        identity.links.append({"trace_id": retry_of["trace_id"], "span_id": retry_of["span_id"],
                               "trace_state": "",
                               "attributes": {spans.LINK_TYPE: "retry_of"}})
    if not install_signals:
        loop.handle_signals = lambda numbers, callback: None
    status_path = None if temporary else os.path.join(run_dir, "status.json")
    result.status = model.RUNNING
    _write_status(status_path, result)
    last_write = [time.monotonic()]
    pending = []

    every = [1.0]

    def write_now():
        pending.clear()
        began = time.monotonic()
        _write_status(status_path, result)
        last_write[0] = time.monotonic()
        every[0] = max(1.0, 20 * (last_write[0] - began))  # at most ~5% of the run

    def checkpoint():
        """Steps ended: the record on disk follows, at most once a second."""
        wait = every[0] - (time.monotonic() - last_write[0])
        if wait <= 0:
            write_now()
        elif not pending:
            pending.append(loop.call_later(wait, write_now))

    scheduler.checkpoint = checkpoint
    # The DAG and its results live for the whole run: keep the collector from walking
    # them again and again (its full passes grow with the DAG).  Steps leave no
    # reference cycles behind (a test checks), so a full pass during the run would only
    # walk the running steps again: at most one per FULL_PASS_EVERY younger passes, and
    # those come only every YOUNG_PASS_AFTER allocations.
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_PASS_AFTER), thresholds[1],
                     max(thresholds[2], FULL_PASS_EVERY))
    if hasattr(recorder, "record_start"):
        recorder.record_start([spans.dag_start_record(identity, result.start_ns)])
    try:
        scheduler.start()
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        loop.close()
        state.close()
        progress.close()
    result.end_ns = time.time_ns()
    recorder.record([spans.dag_record(identity, result)])
    _write_status(status_path, result)
    if result_file:
        _write_report(result_file, result)
    if temporary:
        import shutil
        shutil.rmtree(run_dir, ignore_errors=True)
        result.run_dir, result.local = None, False
    result.delivered = recorder.finish(wait=not identity.parent_run_id)
    return result


def _write_status(path, result):
    if path is None:
        return
    try:
        replace_file(path, result.to_text().encode())
    except (OSError, TypeError, ValueError):
        pass


def _write_report(path, result):
    """The result a calling step reads: Dagu's RunStatus (name, dagRunId, params,
    outputs, status)."""
    document = {"name": result.dag.name, "dagRunId": result.run_id,
                "params": " ".join(redact_args([format_params(result.params)])),
                "outputs": result.outputs(), "status": result.dag.word(result.status)}
    try:
        replace_file(path, dumps(document, compact=False).encode())
    except OSError:
        pass
