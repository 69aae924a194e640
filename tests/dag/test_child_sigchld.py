"""A ``Child`` waited for by SIGCHLD (no pidfd): its end is looked for after the I/O of
the turn, so a quiet command's pipes are drained by then and no grace period is armed;
a command whose background child keeps the pipes still gets the grace period."""
from __future__ import annotations

import os
import time

import pytest

from traceexec.dag import child as child_module
from traceexec.dag import process
from traceexec.dag.child import Child
from traceexec.dag.loop import Loop
from traceexec.dag.output import Sink


@pytest.fixture
def loop(monkeypatch):
    monkeypatch.setattr(process, "_pidfds", False)  # as under an old kernel, or valgrind
    made = Loop()
    armed = []
    real = made.call_later

    def call_later(delay, callback):
        armed.append(delay)
        return real(delay, callback)

    made.call_later = call_later
    made.armed = armed
    yield made
    made.close()


def start(loop, argv, cwd):
    ended = []
    sinks = {"stdout": Sink("s", "stdout", None, capture_limit=1024),
             "stderr": Sink("s", "stderr", None)}
    child = Child(loop, argv, dict(os.environ), cwd=str(cwd), stdin=0, sinks=sinks,
                  done=ended.append)
    return child, ended


def test_a_quiet_command_that_ended_before_the_turn_arms_no_grace_period(loop, tmp_path):
    child, ended = start(loop, ["true"], tmp_path)
    assert child.spawned.pidfd is None
    time.sleep(0.3)  # ended, its SIGCHLD handled, before the loop turns
    loop.run(lambda: ended, max_wait=5)
    assert ended == [child] and child.outcome.exit_status == 0
    assert child_module.OUTPUT_GRACE_S not in loop.armed


def test_output_written_just_before_the_end_is_all_kept(loop, tmp_path):
    child, ended = start(loop, ["sh", "-c", "echo out; echo err >&2"], tmp_path)
    time.sleep(0.3)
    loop.run(lambda: ended, max_wait=5)
    assert ended == [child] and child.outcome.exit_status == 0
    assert bytes(child.sinks["stdout"].capture) == b"out\n"
    assert child.sinks["stderr"].written == 4


def test_pipes_a_background_process_keeps_are_let_go_after_the_grace_period(loop, tmp_path):
    child, ended = start(loop, ["sh", "-c", "sleep 30 & echo out"], tmp_path)
    began = time.monotonic()
    loop.run(lambda: ended, max_wait=5)
    took = time.monotonic() - began
    assert ended == [child] and child.outcome.exit_status == 0
    assert bytes(child.sinks["stdout"].capture) == b"out\n"
    assert child_module.OUTPUT_GRACE_S in loop.armed
    assert child_module.OUTPUT_GRACE_S <= took < 10
    os.killpg(child.pid, 9)  # the sleep, in the command's session
