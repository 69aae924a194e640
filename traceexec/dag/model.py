"""What a DAG file says, as plain dataclasses (filled in by ``load``).

Every value here is already validated: durations are seconds, ``depends``
names real steps, paths are absolute.  ``where`` is the ``file:line`` a thing
was written at, for messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Step statuses
PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
# DAG statuses (with SUCCEEDED, FAILED, CANCELLED)
PARTIALLY_SUCCEEDED = "partially_succeeded"

HANDLER_EVENTS = ("success", "failure", "cancel", "exit")
HANDLER_NAMES = {"success": "onSuccess", "failure": "onFailure",
                 "cancel": "onCancel", "exit": "onExit"}


@dataclass
class Precondition:
    """Met when ``condition`` (expanded; `` `cmd` `` substituted) equals ``expected``
    (``re:PATTERN`` for a regular expression); without ``expected`` the
    condition is a shell command whose exit status decides."""
    condition: str
    expected: str | None = None
    where: str = ""


@dataclass
class ContinueOn:
    failure: bool = False
    skipped: bool = False
    exit_codes: tuple = ()
    mark_success: bool = False

    def allows_failure(self, exit_code) -> bool:
        return self.failure or (exit_code is not None and exit_code in self.exit_codes)


@dataclass
class RetryPolicy:
    limit: int = 0
    interval_s: float = 0.0
    exit_codes: tuple = ()        # empty: retry on any failure
    backoff: float = 1.0
    max_interval_s: float | None = None

    def should_retry(self, exit_code, attempts_done: int) -> bool:
        if attempts_done > self.limit:
            return False
        return not self.exit_codes or exit_code in self.exit_codes

    def interval(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first)."""
        seconds = self.interval_s * (self.backoff ** (retry_number - 1))
        if self.max_interval_s is not None:
            seconds = min(seconds, self.max_interval_s)
        return seconds


@dataclass
class Step:
    name: str
    id: str | None = None
    description: str = ""
    command: str | list | None = None     # unexpanded: a string or an argv list
    script: str | None = None
    shell: str | None = None
    dir: str | None = None                # unexpanded, relative to the DAG's directory
    env: list = field(default_factory=list)          # [(name, unexpanded value)]
    depends: list = field(default_factory=list)      # step names (ids resolved)
    output: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    preconditions: list = field(default_factory=list)
    continue_on: ContinueOn = field(default_factory=ContinueOn)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float | None = None
    run: str | None = None                # absolute path of a nested DAG file
    params: list = field(default_factory=list)      # for ``run``: [(name or None, value)]
    signal_on_stop: int | None = None
    where: str = ""                       # file:line of the step
    run_line: int = 0                     # line of its ``run:`` key
    processes: object = None              # None (as the DAG), False, "fold" or "all"

    @property
    def is_nested(self) -> bool:
        return self.run is not None


@dataclass
class Dag:
    name: str
    path: str                             # absolute path of the DAG file
    description: str = ""
    type: str = "chain"
    params: list = field(default_factory=list)       # [(name or None, value)] in order
    env: list = field(default_factory=list)          # [(name, unexpanded value)]
    dotenv: list = field(default_factory=list)       # absolute paths
    otel: dict | None = None              # the merged otel block, unexpanded
    max_active_steps: int = 0
    timeout_s: float | None = None
    kill_after_s: float | None = None
    working_dir: str | None = None
    handlers: dict = field(default_factory=dict)     # event -> Step
    steps: list = field(default_factory=list)
    notices: list = field(default_factory=list)      # one-line notices from loading
    processes: object = None              # every step's processes as spans: "fold", "all"

    @property
    def directory(self) -> str:
        import os
        return os.path.dirname(self.path)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


@dataclass
class Attempt:
    """One process run of a step (a step retried has several)."""
    number: int
    start_ns: int
    end_ns: int
    exit_status: int
    error_type: str | None = None


@dataclass
class StepResult:
    """What became of one step in one run; the scheduler's and the span's view."""
    step: Step
    span_id: str
    status: str = PENDING
    start_ns: int = 0
    end_ns: int = 0
    outcome: object = None        # supervise.Outcome of the last attempt, if a process ran
    argv: list | None = None
    cwd: str | None = None
    attempts: list = field(default_factory=list)
    reason: str = ""              # why it failed, was skipped or cancelled
    failure_allowed: bool = False  # failed, but continueOn lets the run go on
    output: str | None = None
    logs: dict = field(default_factory=dict)     # "stdout"/"stderr" -> path

    @property
    def exit_code(self):
        return self.outcome.exit_status if self.outcome is not None else None

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9

    @property
    def ran(self) -> bool:
        return self.outcome is not None
