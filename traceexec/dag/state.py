"""What the step programs share with the scheduler during one run: ``RunState``.

Directories (the run's base and each step's working directory, as each schema
sets them), each step's variables (a layered view of the run's, its outputs
so far and its own), its logs, script file and output sinks, what later steps
may read of earlier ones (``${id.stdout}``...), and how a sub-DAG child is
started.
"""
from __future__ import annotations

import errno
import os
import sys

from . import commands, model
from .layers import Layers
from .load import resolve_dag_file
from .output import Sink
from .process import Watchdog
from .runs import new_run_id, safe_name
from .variables import StepView, expand, format_params
from ..files import ensure_dir
from ..wrap import context

TRACEEXEC_DAG_RESULT = "TRACEEXEC_DAG_RESULT"
"""Given to a sub-DAG run only: where to write its result for the calling step."""
TRACEEXEC_LOCAL_DAG = "TRACEEXEC_LOCAL_DAG"
"""Given to a sub-DAG run only: which ``---`` document of the file to run."""
TRACEEXEC_RUN_ID = "TRACEEXEC_RUN_ID"
"""Given to a sub-DAG run only: the run id its caller chose for it."""


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
        if is_directory(path):
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
        result = model.new_step_result(step, context.new_span_id())
        name = safe_name(step.name)
        while name in self._names:
            name += "_"
        self._names.add(name)
        head = log_head(self.run_dir, name)
        result.logs = {"stdout": head + ".out", "stderr": head + ".err"}
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
        # no outputs yet (a fan-out's every step): no empty layer to look through
        values = Layers(own, dict(self.outputs), self.scope.values) if self.outputs \
            else Layers(own, self.scope.values)
        for name, value in step.env:
            own[name] = self.scope.evaluate(value, self.base_dir, values)
        return values

    def defined_for(self, values, step):
        defined = dict(self.scope.defined)
        if self.outputs:
            defined.update(self.outputs)
        if step.env:  # most steps have none: no comprehension to run
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


def log_head(run_dir, name: str) -> str:
    """``os.path.join(run_dir, name)`` for ``name`` of ``runs.safe_name`` (no separator in
    it): a str folder that does not end with one is joined at once, anything else by
    os.path.join (a step's two log paths, once per step)."""
    if type(run_dir) is str and run_dir and run_dir[-1] != "/" and "/" not in name:
        return run_dir + "/" + name
    return os.path.join(run_dir, name)


_O_PATH = getattr(os, "O_PATH", 0)  # Linux: a descriptor that only names a file
_NO_FDS = frozenset((errno.EMFILE, errno.ENFILE))


def is_directory(path) -> bool:
    """``os.path.isdir(path)``, asked once a step: opening the directory only to name it
    costs less than the ``os.stat`` result isdir makes (about 3 k instructions against
    8 k).  Without O_PATH, or out of descriptors, isdir itself answers."""
    if not _O_PATH:
        return os.path.isdir(path)
    try:
        os.close(os.open(path, _O_PATH | os.O_DIRECTORY))
    except OSError as error:
        return os.path.isdir(path) if error.errno in _NO_FDS else False
    except ValueError:  # a NUL in the path: isdir says False too
        return False
    return True


def _touch(path):
    """A step's log handed out by ``${id.stdout}`` exists, even when the step was quiet."""
    if path and not os.path.exists(path):
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            pass
