"""Run a loaded DAG: check and set up the run, schedule it, record the trace.

``execute`` refuses recursion, checks the otel block, builds the steps'
environment and the run's directory, installs the signal handlers and hands
over to ``schedule.Scheduler`` (ready steps in threads of their own, up to
``maxActiveSteps``).  Each step's span is spooled as the step ends, the
DAG's at the very end; the outermost run then waits (bounded by the export
timeout) until the spans are delivered.

    result = execute(load("pipeline.yaml"))
    result.status, result.exit_status, result.trace_id
"""
from __future__ import annotations

import graphlib
import json
import os
import queue
import signal
import threading
import time

from . import model, spans, telemetry
from .load import MAX_DEPTH
from .output import Pump, Sink
from .progress import Progress
from .schedule import Scheduler
from .variables import Scope, expand, override_params
from ..delivery import config
from ..wrap import context
from ..errors import TraceexecError
from ..wrap.supervise import DEFAULT_KILL_AFTER

TRACEEXEC_PARENT_RUN_ID = "TRACEEXEC_PARENT_RUN_ID"
"""Set for every step: the run id of the DAG run that started it (``dag.parent_run_id``)."""
TRACEEXEC_DAG_STACK = "TRACEEXEC_DAG_STACK"
"""Set for every step: the DAG files of the runs above it, os.pathsep-separated."""
CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that cancel a run; it then exits 128+N (130 for SIGINT, 143 for SIGTERM)."""


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
        self.start_ns = time.time_ns()
        self.end_ns = 0
        self.steps = []              # StepResult, in the DAG's order
        self.handlers = []           # StepResult of the handlers that ran
        self.delivered = True
        self.local = True            # spans are in the local store (traceexec show)
        self.home = None

    def to_json(self) -> dict:
        def step_json(r):
            return {"name": r.step.name, "status": r.status, "exit_code": r.exit_code,
                    "attempts": len(r.attempts), "duration_s": round(r.duration_s, 6),
                    "reason": r.reason or None, "span_id": r.span_id, "logs": r.logs,
                    **({"output": r.output} if r.output is not None else {})}
        return {"dag": self.dag.name, "file": self.dag.path, "run_id": self.run_id,
                "trace_id": self.trace_id, "status": self.status,
                "exit_status": self.exit_status, "reason": self.reason or None,
                "duration_s": round((self.end_ns - self.start_ns) / 1e9, 6),
                "run_dir": self.run_dir, "steps": [step_json(r) for r in self.steps],
                "handlers": [step_json(r) for r in self.handlers]}


def new_run_id() -> str:
    """A time-ordered UUID (version 7), like Dagu's run ids."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    text = "%032x" % value
    return "-".join((text[:8], text[8:12], text[12:16], text[16:20], text[20:]))


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip(".") or "_"


def check_ancestry(path, environ) -> list:
    """The DAG files above this run; raises DagRecursion when ``path`` is among them."""
    stack = [p for p in environ.get(TRACEEXEC_DAG_STACK, "").split(os.pathsep) if p]
    real = os.path.realpath(path)
    names = [os.path.basename(p) for p in stack] + [os.path.basename(path)]
    if real in (os.path.realpath(p) for p in stack):
        raise DagRecursion("DAG runs itself: %s" % " -> ".join(names))
    if len(stack) >= MAX_DEPTH:
        raise DagRecursion("nested DAGs deeper than %d levels: %s" % (MAX_DEPTH, " -> ".join(names)))
    return stack


def can_overlap(dag) -> bool:
    """True when two steps may run at once (their output is then prefixed)."""
    if dag.max_active_steps == 1:
        return False
    sorter = graphlib.TopologicalSorter({s.name: s.depends for s in dag.steps})
    sorter.prepare()
    while sorter.is_active():
        ready = sorter.get_ready()
        if len(ready) > 1:
            return True
        sorter.done(*ready)
    return False


class RunState:
    """What the step threads share with the scheduler."""

    def __init__(self, dag, scope, identity, progress, run_dir, base, kill_after):
        self.dag = dag
        self.scope = scope
        self.identity = identity
        self.progress = progress
        self.run_dir = run_dir
        self.base = base
        self.kill_after = kill_after
        self.queue = queue.SimpleQueue()   # reentrant put: safe from signal handlers
        self.pump = Pump()
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.stop = threading.Event()
        self.cancelled = None              # the Cancel that stopped the run
        self.cancel_reason = ""
        self._names = set()

    def assign_logs(self, result):
        name = safe_name(result.step.name)
        while name in self._names:
            name += "_"
        self._names.add(name)
        result.logs = {"stdout": os.path.join(self.run_dir, name + ".out"),
                       "stderr": os.path.join(self.run_dir, name + ".err")}

    def script_path(self, result):
        return result.logs["stdout"][:-len(".out")] + ".script"

    def open_sinks(self, result, values, cwd):
        step = result.step
        sinks = {}
        for stream in ("stdout", "stderr"):
            target = getattr(step, stream)
            sinks[stream] = Sink(
                step.name, stream, self.progress, log_path=result.logs[stream],
                file_path=os.path.join(cwd, expand(target, values)) if target else None,
                capture=stream == "stdout" and step.output is not None,
                by_line=self.progress.prefix)
        return sinks

    def close(self):
        self.pump.stop()
        os.close(self.devnull)


def execute(dag, *, environ=None, params=(), base=None, recorder=None, progress=None,
            home=None, install_signals=False, run_id=None) -> RunResult:
    """Run ``dag`` and return what happened; raises TraceexecError before anything runs."""
    environ = dict(os.environ if environ is None else environ)
    stack = check_ancestry(dag.path, environ)
    params = override_params(dag.params, params)
    run_id = run_id or new_run_id()
    settings = telemetry.otel_settings(dag.otel, Scope(environ, dag, params, run_id), dag.name)
    cfg = telemetry.export_config(settings, environ, dag.name)
    # Checked: from here on, things from the DAG file run.
    scope = Scope(environ, dag, params, run_id, commands=True)
    if any("`" in str(v) for _, v in dag.env + params):
        settings = telemetry.otel_settings(dag.otel, scope, dag.name)
        cfg = telemetry.export_config(settings, environ, dag.name)
    incoming = context.read_environment(environ)
    ctx = context.start_span_context(incoming)
    identity = spans.RunIdentity(dag, run_id, ctx, incoming, cfg.resource,
                                 parent_run_id=environ.get(TRACEEXEC_PARENT_RUN_ID))
    if not ctx.is_sampled or cfg.exporter == "none":
        recorder = telemetry.MemoryRecorder()
    recorder = recorder or telemetry.Recorder(cfg)
    home = home or cfg.home
    step_env = telemetry.step_environment(settings, cfg, scope.values)
    step_env[TRACEEXEC_PARENT_RUN_ID] = run_id
    step_env[TRACEEXEC_DAG_STACK] = os.pathsep.join(stack + [dag.path])
    step_env[config.TRACEEXEC_HOME] = home
    scope.values = step_env
    run_dir = os.path.join(home, "runs", safe_name(dag.name), run_id)
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    progress = progress or Progress(dag.name, prefix=can_overlap(dag))
    for notice in dag.notices:
        progress.notice(notice)
    state = RunState(dag, scope, identity, progress, run_dir, base,
                     dag.kill_after_s if dag.kill_after_s is not None else DEFAULT_KILL_AFTER)
    result = RunResult(dag, run_id, ctx.trace_id, run_dir)
    result.home = home
    result.local = cfg.exporter == "otlp" and (cfg.endpoint is None or cfg.keep_local)
    scheduler = Scheduler(state, recorder, result)
    previous = {}
    if install_signals:
        for number in CANCEL_SIGNALS:
            previous[number] = signal.signal(number, scheduler.on_signal)
    try:
        scheduler.run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        state.close()
    result.end_ns = time.time_ns()
    recorder.record([spans.dag_record(identity, result.status, result.reason, result.start_ns,
                                      result.end_ns, result.steps + result.handlers)])
    _write_status(result)
    result.delivered = recorder.finish(wait=not identity.parent_run_id)
    return result


def _write_status(result):
    try:
        with open(os.path.join(result.run_dir, "status.json"), "w") as handle:
            json.dump(result.to_json(), handle, indent=2)
    except OSError:
        pass
