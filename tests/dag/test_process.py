"""Starting steps without fork: posix_spawn's rules, pidfds, and the watchdog.

Real processes throughout; the watchdog test kills a real driver with SIGKILL.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time

from conftest import TRACEEXEC, traceexec_env
from traceexec.dag import process


def started(argv, cwd, env=None):
    """Spawn ``argv`` and wait for it through its pidfd: (outcome, stdout)."""
    read_end, write_end = os.pipe()
    try:
        child = process.spawn(argv, env or dict(os.environ), cwd=str(cwd), stdin=0,
                              stdout=write_end, stderr=write_end)
    finally:
        os.close(write_end)
    if child.pidfd is not None:
        assert select.select([child.pidfd], [], [], 30)[0]
    outcome = process.reap(child)
    with os.fdopen(read_end, "rb") as handle:
        return outcome, handle.read()


def test_a_file_without_shebang_runs_through_sh_like_execvp(tmp_path):
    script = tmp_path / "plain"
    script.write_text("echo from-plain $1\n")
    script.chmod(0o755)
    outcome, out = started(["./plain", "arg"], tmp_path)
    assert outcome.exit_status == 0 and out == b"from-plain arg\n"
    # the same file through the shell's own execvp gives the same, for comparison
    assert subprocess.run(["sh", "-c", "./plain arg"], cwd=tmp_path,
                          capture_output=True).stdout == out


def test_exit_statuses_are_the_wrappers(tmp_path):
    assert started(["no-such-program-x"], tmp_path)[0].exit_status == 127
    text = tmp_path / "text"
    text.write_text("not executable")
    assert started(["./text"], tmp_path)[0].exit_status == 126
    outcome, _ = started(["sh", "-c", "kill -TERM $$"], tmp_path)
    assert outcome.exit_status == 128 + signal.SIGTERM and outcome.signal == signal.SIGTERM
    assert started(["sh", "-c", "exit 7"], tmp_path)[0].exit_status == 7


def test_relative_commands_and_paths_resolve_in_the_steps_directory(tmp_path):
    (tmp_path / "sub").mkdir()
    tool = tmp_path / "sub" / "tool"
    tool.write_text("#!/bin/sh\npwd\n")
    tool.chmod(0o755)
    here = os.getcwd()
    outcome, out = started(["./tool"], tmp_path / "sub")
    assert outcome.exit_status == 0 and out.decode().strip() == str(tmp_path / "sub")
    assert os.getcwd() == here  # the driver is back where it was
    missing = process.spawn(["true"], dict(os.environ), cwd=str(tmp_path / "gone"), stdin=0,
                            stdout=1, stderr=2)
    assert missing.problem is not None and missing.problem.exit_status == 126


def test_each_step_gets_a_session_of_its_own(tmp_path):
    outcome, out = started([sys.executable, "-c", "import os; print(os.getsid(0) == os.getpid())"],
                           tmp_path)
    assert out == b"True\n"


def test_killing_the_driver_kills_its_running_steps(tmp_path, home):
    """SIGKILL leaves no handler to run: the watchdog takes the steps down."""
    marker = "sleep 60.%d" % os.getpid()  # unique to this test in ps
    dag = tmp_path / "long.yaml"
    dag.write_text(textwrap.dedent("""\
        type: graph
        steps:
          - {name: one, command: "%s"}
          - {name: two, command: "sh -c '%s; echo never'"}
        """ % (marker, marker)))
    driver = subprocess.Popen(TRACEEXEC + ["run", "-q", str(dag)], env=traceexec_env(home),
                              cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _count(marker) < 2:
        time.sleep(0.05)
    assert _count(marker) == 2
    driver.kill()
    driver.wait(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _count(marker):
        time.sleep(0.05)
    assert _count(marker) == 0


def _count(marker) -> int:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return sum(1 for line in ps.splitlines() if line.strip() == marker)
