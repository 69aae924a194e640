"""What a DAG file says, as plain record classes (``record.Record``; filled in by ``load``).

Both of Dagu's schemas (v1 camelCase, v2 snake_case) load into these same
classes; ``Dag.schema`` remembers which one a file was written in, for the
words its results are reported with.  Durations are seconds, ``depends``
names real steps, file paths are absolute.  ``where`` is the ``file:line`` a
thing was written at, ``place`` its ``(file, line)``, for messages.
"""
from __future__ import annotations

import os
from .record import Record, field

V1 = "v1"
V2 = "v2"

# Step statuses (the words of v1 files; ``status_word`` gives v2's)
PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
PARTIALLY_SUCCEEDED = "partially_succeeded"   # a step whose sub-DAG partly succeeded; a DAG
V2_WORDS = {CANCELLED: "aborted"}
"""Dagu 2.x says ``aborted`` where traceexec (and the v1 seed) say ``cancelled``."""

HANDLER_EVENTS = ("init", "success", "failure", "cancel", "exit", "wait")
HANDLER_NAMES = {"init": "onInit", "success": "onSuccess", "failure": "onFailure",
                 "cancel": "onCancel", "exit": "onExit", "wait": "onWait"}
V2_HANDLER_NAMES = dict(HANDLER_NAMES, cancel="onAbort")


def status_word(status: str, schema: str) -> str:
    """The word Dagu's schema ``schema`` uses for ``status``."""
    return V2_WORDS.get(status, status) if schema == V2 else status


class Precondition(metaclass=Record):
    """Met when ``condition`` (expanded; `` `cmd` `` substituted) equals ``expected``
    (``re:PATTERN`` for a regular expression); without ``expected`` the
    condition is a shell command whose exit status decides.  ``negate`` flips it."""
    condition: str
    expected: str | None = None
    negate: bool = False
    where: str = ""


class ContinueOn(metaclass=Record):
    failure: bool = False
    skipped: bool = False
    exit_codes: tuple = ()
    output: tuple = ()              # patterns looked for in the step's output (re: prefix)
    mark_success: bool = False

    @property
    def is_set(self) -> bool:
        return bool(self.failure or self.skipped or self.exit_codes or self.output
                    or self.mark_success)


class RetryPolicy(metaclass=Record):
    limit: int | str = 0            # a string is a variable, resolved when the step runs
    interval_s: float | str = 0.0
    exit_codes: tuple = ()          # empty: retry on any failure
    backoff: float = 0.0            # 0: fixed interval; else a factor > 1
    max_interval_s: float | None = None


class RepeatPolicy(metaclass=Record):
    mode: str | None = None         # "while" | "until" | None (no repeat)
    condition: Precondition | None = None
    exit_codes: tuple = ()
    limit: int | str = 0            # at most this many runs (0: no limit)
    interval_s: float | str = 0.0
    backoff: float = 0.0
    max_interval_s: float | None = None
    legacy_repeat: bool = False     # v1 ``repeat: true`` without conditions
    finishes_on_signal: bool = False  # v1 ``repeat: true``: a stop lets the run under way end


class OutputEntry(metaclass=Record):
    """One key of a v2 object-form ``output``: a literal, or read from a source."""
    value: object = None
    literal: bool = True
    source: str | None = None       # "stdout" | "stderr" | "file"
    path: str | None = None
    decode: str = "text"            # "text" | "json" | "yaml"
    select: str | None = None       # ".field.path" into the decoded value


class Parallel(metaclass=Record):
    items: list | None = None       # [str or {name: value}]
    variable: str | None = None     # ``${ITEMS}``: a JSON list (or words) at run time
    max_concurrent: int = 10


NO_CONTINUE, NO_RETRY, NO_REPEAT = ContinueOn(), RetryPolicy(), RepeatPolicy()
"""The policies of a step that sets none: one of each, shared by every such step (a policy
is never changed once built), not three records made per step."""


class Step(metaclass=Record):
    name: str
    id: str | None = None
    description: str = ""
    command: str | None = None            # one shell command line (unexpanded)
    commands: list = field(default_factory=list)   # v2: several command lines, in order
    argv: list | None = None              # words run without a shell (v1 list, v2 exec:)
    script: str | None = None
    interpreter: list | None = None       # v1 ``command`` naming what runs the script
    shell: list | None = None             # this step's shell, argv form
    dir: str | None = None                # unexpanded
    env: list = field(default_factory=list)          # [(name, unexpanded value)]
    env_places: list = field(default_factory=list)   # [(path, line)] of each env entry
    depends: list = field(default_factory=list)      # step names (ids resolved)
    depends_given: bool = False           # the file said ``depends`` (even ``[]``)
    depends_place: tuple = (None, None)   # (path, line) of ``depends``
    output: str | None = None
    outputs: dict | None = None           # v2 object-form output: key -> literal or source
    stdout: str | None = None
    stderr: str | None = None
    preconditions: list = field(default_factory=list)
    continue_on: ContinueOn = NO_CONTINUE
    retry: RetryPolicy = NO_RETRY
    repeat: RepeatPolicy = NO_REPEAT
    timeout_s: float | None = None
    call: str | None = None               # a sub-DAG: a local DAG's name or a file (unexpanded)
    call_path: str | None = None          # the file, when it was found at load time
    params: list = field(default_factory=list)      # for ``call``: [(name or None, value)]
    parallel: Parallel | None = None
    signal_on_stop: int | None = None
    place: tuple = (None, None)           # (path, line) of the step, for messages
    call_line: int = 0                    # line of its ``run:``/``call:`` key
    processes: object = None              # None (as the DAG), False, "fold" or "all"
    lines: bool | None = None             # None (as the DAG): bash's commands as spans
    remote: object = None                 # ssh executor: a remote.dagstep.SshTarget

    @property
    def is_nested(self) -> bool:
        return self.call is not None

    @property
    def label(self) -> str:
        """What other steps call it: its id when it has one, else its name."""
        return self.id or self.name


def plain_step(name: str, place: tuple, command: str) -> Step:
    """``Step(name=name, place=place, command=command)``, made about 4.6 k instructions
    (half) cheaper: the most common step of a DAG file is this one, made once per step of
    every run.  Each field set by hand, without the generated ``__init__``'s 34 keyword
    defaults and the call through ``type``; a test holds it equal to ``Step(...)`` (a
    field added to ``Step`` and not here leaves it unset: that test fails)."""
    step = _new_record(Step)
    step.name = name
    step.id = None
    step.description = ""
    step.command = command
    step.commands = []
    step.argv = None
    step.script = None
    step.interpreter = None
    step.shell = None
    step.dir = None
    step.env = []
    step.env_places = []
    step.depends = []
    step.depends_given = False
    step.depends_place = (None, None)
    step.output = None
    step.outputs = None
    step.stdout = None
    step.stderr = None
    step.preconditions = []
    step.continue_on = NO_CONTINUE
    step.retry = NO_RETRY
    step.repeat = NO_REPEAT
    step.timeout_s = None
    step.call = None
    step.call_path = None
    step.params = []
    step.parallel = None
    step.signal_on_stop = None
    step.place = place
    step.call_line = 0
    step.processes = None
    step.lines = None
    step.remote = None
    return step


_new_record = object.__new__


class Dag(metaclass=Record):
    name: str
    path: str                             # absolute path of the DAG file
    schema: str = V1
    description: str = ""
    type: str = "chain"
    params: list = field(default_factory=list)       # [(name or None, value)] in order
    params_place: tuple = (None, None)                # (path, line) of params:
    env: list = field(default_factory=list)          # [(name, unexpanded value)]
    env_places: list = field(default_factory=list)   # [(path, line)] of each env entry
    dotenv: list = field(default_factory=list)       # absolute paths
    otel: dict | None = None              # the merged otel block, unexpanded
    ssh: object = None                    # v2's DAG-level ssh: (a remote.dagstep.SshTarget)
    max_active_steps: int = 0
    timeout_s: float | None = None
    kill_after_s: float | None = None
    working_dir: str | None = None        # unexpanded; relative ones are made absolute
    shell: list | None = None             # the DAG's shell, argv form
    preconditions: list = field(default_factory=list)
    max_output_size: int = 1024 * 1024
    schedule: list = field(default_factory=list)     # cron lines, checked, never run
    handlers: dict = field(default_factory=dict)     # event -> Step
    steps: list = field(default_factory=list)
    local_dags: dict = field(default_factory=dict)   # name -> Dag, from ``---`` documents
    notices: list = field(default_factory=list)      # one-line notices from loading
    document: int = 0                     # which YAML document of the file it is
    processes: object = None              # every step's processes as spans: "fold", "all"
    lines: bool | None = None             # what bash runs in every step as spans

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def word(self, status: str) -> str:
        return status_word(status, self.schema)


class Attempt(metaclass=Record):
    """One process run of a step (a step retried or repeated has several)."""
    number: int
    start_ns: int
    end_ns: int
    exit_status: int
    error_type: str | None = None


class StepResult(metaclass=Record):
    """What became of one step in one run; the scheduler's and the span's view."""
    step: Step
    span_id: str
    status: str = PENDING
    start_ns: int = 0
    end_ns: int = 0
    outcome: object = None        # supervise.Outcome of the last process, if one ran
    argv: list | None = None
    cwd: str | None = None
    attempts: list = field(default_factory=list)
    reason: str = ""              # why it failed, was skipped or cancelled
    failure_allowed: bool = False  # failed, but continueOn lets the run go on
    output: str | None = None
    logs: dict = field(default_factory=dict)     # "stdout"/"stderr" -> path
    waited_for: list = field(default_factory=list)   # StepResults it depended on
    children: list = field(default_factory=list)     # sub-DAG run results (dicts)
    reused: bool = False          # a retry took this step's outcome from the earlier run
    links: list = field(default_factory=list)        # more span links (the reused step)
    exit_code_override: int | None = None
    stderr_tail: str = ""         # a failed step's last stderr lines, redacted
    attributes: dict = field(default_factory=dict)   # the executor's (http: status, url)

    @property
    def exit_code(self):
        if self.exit_code_override is not None:
            return self.exit_code_override
        return self.outcome.exit_status if self.outcome is not None else None

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9

    @property
    def ran(self) -> bool:
        return self.outcome is not None


def new_step_result(step: Step, span_id: str) -> StepResult:
    """``StepResult(step=step, span_id=span_id)``, made about 2.9 k instructions cheaper:
    one a step of every run.  Each field set by hand, as ``plain_step`` does; a test holds
    it equal to ``StepResult(...)`` (a field added there and not here fails it)."""
    result = _new_record(StepResult)
    result.step = step
    result.span_id = span_id
    result.status = PENDING
    result.start_ns = 0
    result.end_ns = 0
    result.outcome = None
    result.argv = None
    result.cwd = None
    result.attempts = []
    result.reason = ""
    result.failure_allowed = False
    result.output = None
    result.logs = {}
    result.waited_for = []
    result.children = []
    result.reused = False
    result.links = []
    result.exit_code_override = None
    result.stderr_tail = ""
    result.attributes = {}
    return result
