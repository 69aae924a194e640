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
import json
import os
import re
import shutil
from collections import ChainMap
import sys
import tempfile
import time

from . import commands, model, spans, telemetry
from .load import MAX_DEPTH, resolve_dag_file
from .loop import Loop
from .output import Sink
from .process import Watchdog
from .progress import Progress
from .schedule import Scheduler
from .variables import Scope, StepView, expand, format_params, override_params
from ..delivery import config
from ..errors import TraceexecError
from ..files import ensure_dir, replace_file
from ..wrap import context
from ..wrap.redact import redact_args
from ..wrap.supervise import DEFAULT_KILL_AFTER

TRACEEXEC_PARENT_RUN_ID = "TRACEEXEC_PARENT_RUN_ID"
"""Set for every step: the run id of the DAG run that started it (``dag.parent_run_id``)."""
TRACEEXEC_DAG_STACK = "TRACEEXEC_DAG_STACK"
"""Set for every step: the DAG files (``file#name`` for a local DAG) of the runs above it."""
TRACEEXEC_DAG_RESULT = "TRACEEXEC_DAG_RESULT"
"""Given to a sub-DAG run only: where to write its result for the calling step."""
TRACEEXEC_LOCAL_DAG = "TRACEEXEC_LOCAL_DAG"
"""Given to a sub-DAG run only: which ``---`` document of the file to run."""
TRACEEXEC_RUN_ID = "TRACEEXEC_RUN_ID"
"""Given to a sub-DAG run only: the run id its caller chose for it."""
PRIVATE_VARIABLES = (TRACEEXEC_DAG_RESULT, TRACEEXEC_LOCAL_DAG, TRACEEXEC_RUN_ID)


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
                "duration_s": round(r.duration_s, 6), "reason": r.reason or None,
                "span_id": r.span_id, "trace_id": self.trace_id, "run_id": self.run_id,
                "logs": r.logs, "start_ns": r.start_ns, "end_ns": r.end_ns,
                **({"output": r.output} if r.output is not None else {}),
                **({"reused": True} if r.reused else {})}

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
                self._parts[index] = json.dumps(self._step_json(self.steps[index]),
                                                separators=(",", ":"))
        self._dirty = set()
        head = json.dumps(self.to_json(steps=False), separators=(",", ":"))
        handlers = ",".join(json.dumps(self._step_json(r), separators=(",", ":"))
                            for r in self.handlers)
        return "%s,\"steps\":[%s],\"handlers\":[%s]}" % (head[:-1], ",".join(self._parts),
                                                         handlers)


def new_run_id() -> str:
    """A time-ordered UUID (version 7), like Dagu's run ids."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    text = "%032x" % value
    return "-".join((text[:8], text[8:12], text[12:16], text[16:20], text[20:]))


_SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def safe_name(name: str) -> str:
    """``name`` fit for a file name (run folders, step logs)."""
    if _SAFE.fullmatch(name) and not name.endswith("."):
        return name
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip(".") or "_"


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


class RunState:
    """What the step programs share with the scheduler."""

    def __init__(self, dag, scope, identity, progress, run_dir, base, kill_after, *,
                 invocation_dir, nested):
        self.dag = dag
        self.scope = scope
        self.identity = identity
        self.progress = progress
        self.run_dir = run_dir
        self.base = base
        self.kill_after = kill_after
        self.invocation_dir = invocation_dir
        self.nested = nested
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.watchdog = Watchdog()
        self.stopping = False
        self.cancel_reason = ""
        self.handler_status = None
        self.outputs = {}                  # output variable -> value, as steps end
        self.views = {}                    # label -> StepView, for ${id.stdout} and friends
        self.base_dir = self._base_dir()
        self._names = set()
        self._child_runs = 0

    # -- directories --------------------------------------------------------------------

    def _base_dir(self):
        dag = self.dag
        if dag.working_dir:
            return os.path.expanduser(expand(dag.working_dir, self.scope.values))
        if dag.schema == model.V2 and not self.nested:
            work = os.path.join(self.run_dir, "work")
            try:
                ensure_dir(work)
            except OSError:
                return self.invocation_dir
            return work
        return self.invocation_dir

    def cwd_for(self, step, values):
        """The step's working directory; ``None`` when it does not exist (v1)."""
        if not step.dir:
            path = self.base_dir
        else:
            path = os.path.join(self.base_dir, os.path.expanduser(expand(step.dir, values)))
        if os.path.isdir(path):
            return path
        if self.dag.schema == model.V2:  # Dagu 2 creates a missing working directory
            try:
                os.makedirs(path, exist_ok=True)
                return path
            except OSError:
                return None
        return None

    def missing_dir(self, step, values):
        return os.path.join(self.base_dir, expand(step.dir or "", values))

    # -- step views -------------------------------------------------------------------------

    def new_result(self, step):
        result = model.StepResult(step=step, span_id=context.new_span_id())
        name = safe_name(step.name)
        while name in self._names:
            name += "_"
        self._names.add(name)
        result.logs = {"stdout": os.path.join(self.run_dir, name + ".out"),
                       "stderr": os.path.join(self.run_dir, name + ".err")}
        return result

    def view_of(self, result):
        return StepView(result.logs["stdout"], result.logs["stderr"], result.exit_code,
                        result.output, touch=_touch)

    def outputs_from(self, result):
        """Make a finished step's output and properties visible to later steps."""
        step = result.step
        if step.output and result.output is not None:
            self.outputs[step.output] = result.output
        view = self.view_of(result)
        self.views[step.name] = view
        if step.id:
            self.views[step.id] = view

    def values_for(self, result):
        """A step's variables: its own over the outputs so far over the run's.  A layered
        view, not a copy: 3,000 steps running at once would otherwise hold 3,000 copies
        of the environment."""
        step = result.step
        own = {"DAG_RUN_STEP_NAME": step.name,
               "DAG_RUN_STEP_STDOUT_FILE": result.logs["stdout"],
               "DAG_RUN_STEP_STDERR_FILE": result.logs["stderr"]}
        if self.handler_status is not None:
            own["DAG_RUN_STATUS"] = self.dag.word(self.handler_status)
        values = ChainMap(own, dict(self.outputs) if self.outputs else {}, self.scope.values)
        for name, value in step.env:
            own[name] = self.scope.evaluate(value, self.base_dir, values)
        return values

    def defined_for(self, values, step):
        defined = dict(self.scope.defined)
        defined.update(self.outputs)
        defined.update({name: values[name] for name, _ in step.env})
        return defined

    def dag_shell(self, values):
        shell, _ = commands.shell_for(model.Step(name=""), self.dag, values)
        return commands.default_shell(values) if shell[0] == commands.DIRECT else shell

    # -- files ------------------------------------------------------------------------------

    def script_path(self, result):
        return result.logs["stdout"][:-len(".out")] + ".script"

    def write_script(self, path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)

    def open_sinks(self, result, values, cwd):
        step = result.step
        sinks = {}
        for stream in ("stdout", "stderr"):
            target = getattr(step, stream)
            sinks[stream] = Sink(
                step.name, stream, self.progress, log_path=result.logs[stream],
                file_path=os.path.join(cwd, expand(target, values)) if target else None,
                capture_limit=self.dag.max_output_size
                if stream == "stdout" and step.output is not None else None,
                by_line=self.progress.prefix)
        return sinks

    def quiet_sinks(self):
        return {"stdout": Sink("", "stdout", None), "stderr": Sink("", "stderr", None)}

    # -- sub-DAGs ---------------------------------------------------------------------------

    def new_child_run_id(self):
        return new_run_id()

    def resolve_call(self, step, values):
        """(file, local DAG name or None) of a ``run:``/``call:`` step."""
        from .step import StepFailed
        name = expand(step.call, values)
        if name in self.dag.local_dags:
            return self.dag.path, name
        if step.call_path and "$" not in step.call:
            return step.call_path, None
        path = resolve_dag_file(name, self.dag.directory)
        if path is None:
            raise StepFailed("sub-DAG not found: %s" % name)
        return path, None

    def child_command(self, target, params, env, child_id, result_path):
        path, local = target
        argv = [sys.executable, "-m", "traceexec", "run", path, "--params",
                format_params(params)]
        if self.base:
            argv += ["--base", self.base]
        child_env = dict(env)
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        child_env["PYTHONPATH"] = package_parent + (
            os.pathsep + child_env["PYTHONPATH"] if child_env.get("PYTHONPATH") else "")
        child_env[TRACEEXEC_DAG_RESULT] = result_path
        child_env[TRACEEXEC_RUN_ID] = child_id
        if local:
            child_env[TRACEEXEC_LOCAL_DAG] = local
        return argv, child_env

    def close(self):
        self.watchdog.close()
        os.close(self.devnull)


def _touch(path):
    """A step's log handed out by ``${id.stdout}`` exists, even when the step was quiet."""
    if path and not os.path.exists(path):
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            pass


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
        ensure_dir(path)
        return path, False
    except OSError as error:
        warn("warning: %s is not writable (%s): this run's logs and spans are not kept" % (
            home, error.strerror or error))
        return tempfile.mkdtemp(prefix="traceexec-run-"), True


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
    params = override_params(dag.params, params)
    cwd = cwd or os.getcwd()
    settings = telemetry.otel_settings(dag.otel, Scope(environ, dag, params, run_id), dag.name)
    cfg = telemetry.export_config(settings, environ, dag.name)
    # Checked: from here on, things from the DAG file run.
    scope = Scope(environ, dag, params, run_id, commands=True, cwd=cwd)
    if any("`" in str(v) for _, v in dag.env + params):
        settings = telemetry.otel_settings(dag.otel, scope, dag.name)
        cfg = telemetry.export_config(settings, environ, dag.name)
    incoming = context.read_environment(environ)
    ctx = context.start_span_context(incoming)
    parent_run_id = environ.get(TRACEEXEC_PARENT_RUN_ID)
    identity = spans.RunIdentity(dag, run_id, ctx, incoming, cfg.resource,
                                 parent_run_id=parent_run_id)
    if not ctx.is_sampled or cfg.exporter == "none":
        recorder = telemetry.MemoryRecorder()
    home = home or cfg.home
    progress = progress or Progress(dag.name, prefix=can_overlap(dag))
    progress.schema = dag.schema
    recorder = recorder or telemetry.Recorder(cfg, warn=progress.notice)
    run_dir, temporary = _run_dir(home, dag, run_id, progress.notice)
    if temporary and hasattr(recorder, "silence"):
        recorder.silence()  # the same cause: one warning is enough
    progress.log_path = None if temporary else os.path.join(run_dir, "dag.log")
    step_env = telemetry.step_environment(settings, cfg, scope.values)
    step_env[TRACEEXEC_PARENT_RUN_ID] = run_id
    step_env[TRACEEXEC_DAG_STACK] = os.pathsep.join(stack + [stack_entry(dag)])
    step_env[config.TRACEEXEC_HOME] = home
    step_env["DAG_RUN_LOG_FILE"] = os.path.join(run_dir, "dag.log")
    scope.values = step_env
    for notice in dag.notices:
        progress.notice(notice)
    state = RunState(dag, scope, identity, progress, run_dir, base,
                     dag.kill_after_s if dag.kill_after_s is not None else DEFAULT_KILL_AFTER,
                     invocation_dir=cwd, nested=bool(parent_run_id))
    if dag.schema == model.V2 and state.base_dir.startswith(run_dir):
        scope.values["DAG_RUN_WORK_DIR"] = state.base_dir
    result = RunResult(dag, run_id, ctx.trace_id, run_dir)
    result.home = home
    result.params = params
    result.span_id = ctx.span_id
    result.local = cfg.exporter == "otlp" and (cfg.endpoint is None or cfg.keep_local)
    loop = Loop()
    scheduler = Scheduler(state, recorder, result, loop)
    if reuse:
        scheduler.reuse = reuse
    from .runs import process_start
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
    # them again and again (its full passes grow with the DAG).
    gc.freeze()
    try:
        scheduler.start()
    finally:
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
        replace_file(path, json.dumps(document).encode())
    except OSError:
        pass
