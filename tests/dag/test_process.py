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

import pytest

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
    out = b""
    try:
        while select.select([read_end], [], [], 30)[0]:  # never hangs on a pipe held open
            data = os.read(read_end, 65536)
            if not data:
                return outcome, out
            out += data
    finally:
        os.close(read_end)
    raise AssertionError("the step's output never reached its end")


@pytest.fixture(params=["loop", "spawner"])
def spawn_from(request, monkeypatch):
    """Each start test runs both ways: from the loop's thread, and from the ``Spawner``
    thread that takes over once many steps run (here from the first step)."""
    if request.param == "spawner":
        monkeypatch.setattr(process, "SPAWN_THREAD_FROM", 0)
        assert process._spawner() is not None and process._spawner().usable
    return request.param


def test_a_file_without_shebang_runs_through_sh_like_execvp(tmp_path, spawn_from):
    script = tmp_path / "plain"
    script.write_text("echo from-plain $1\n")
    script.chmod(0o755)
    outcome, out = started(["./plain", "arg"], tmp_path)
    assert outcome.exit_status == 0 and out == b"from-plain arg\n"
    # the same file through the shell's own execvp gives the same, for comparison
    assert subprocess.run(["sh", "-c", "./plain arg"], cwd=tmp_path,
                          capture_output=True).stdout == out


def test_exit_statuses_are_the_wrappers(tmp_path, spawn_from):
    assert started(["no-such-program-x"], tmp_path)[0].exit_status == 127
    text = tmp_path / "text"
    text.write_text("not executable")
    assert started(["./text"], tmp_path)[0].exit_status == 126
    outcome, _ = started(["sh", "-c", "kill -TERM $$"], tmp_path)
    assert outcome.exit_status == 128 + signal.SIGTERM and outcome.signal == signal.SIGTERM
    assert started(["sh", "-c", "exit 7"], tmp_path)[0].exit_status == 7


def test_relative_commands_and_paths_resolve_in_the_steps_directory(tmp_path, spawn_from,
                                                                     monkeypatch):
    # as in a new driver, whose first start learns where it is: the test passed only after
    # another start had (alone, the driver stayed in the first step's directory)
    monkeypatch.setattr(process, "_home_fd", None)
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


def test_each_step_gets_a_session_of_its_own(tmp_path, spawn_from):
    outcome, out = started([sys.executable, "-c", "import os; print(os.getsid(0) == os.getpid())"],
                           tmp_path)
    assert out == b"True\n"


def test_steps_inherit_the_same_descriptors_from_either_thread(tmp_path, spawn_from,
                                                               monkeypatch):
    """Inheritable descriptors the driver was given reach the step (as with posix_spawn
    from the loop); close-on-exec ones, and the copies that carried the step's
    streams, do not."""
    kept_r, kept_w = os.pipe()
    os.set_inheritable(kept_w, True)
    private_r, private_w = os.pipe()
    monkeypatch.setattr(process, "_the_spawner", None)  # born now, as in a driver: after them
    expected = [fd for fd in range(4096) if fd < 3 or _inheritable(fd)]
    try:
        outcome, out = started([sys.executable, "-c", _LIST_OPEN], tmp_path)
    finally:
        for fd in (kept_r, kept_w, private_r, private_w):
            os.close(fd)
    assert outcome.exit_status == 0 and kept_w in expected
    assert eval(out) == expected


_LIST_OPEN = """import os
def is_open(fd):
    try:
        return bool(os.fstat(fd))
    except OSError:
        return False
print([fd for fd in range(4096) if is_open(fd)])
"""


def _inheritable(fd) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:
        return False


def test_the_spawner_holds_no_pipe_of_the_driver_open(tmp_path):
    """The spawner's table starts as a copy of the driver's: the step being started
    when it was born had its pipes copied too, and they must still reach their end."""
    read_end, write_end = os.pipe()
    spawner = process.Spawner()
    try:
        assert spawner.usable
        os.close(write_end)
        assert select.select([read_end], [], [], 10)[0] and os.read(read_end, 1) == b""
    finally:
        os.close(read_end)


def test_without_unshare_steps_start_from_the_loop(tmp_path, monkeypatch):
    """A seccomp filter may refuse ``unshare``: then there is no spawner, and no change."""
    def refused(flags):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(process, "_unshare", refused)
    monkeypatch.setattr(process, "_the_spawner", None)
    monkeypatch.setattr(process, "SPAWN_THREAD_FROM", 0)
    assert process._spawner() is None
    outcome, out = started(["sh", "-c", "echo plain; exit 4"], tmp_path)
    assert outcome.exit_status == 4 and out == b"plain\n"


def test_a_spawner_that_dies_is_left_without_hanging_the_driver(tmp_path, monkeypatch):
    """Neither a thread gone before it answered nor one gone between starts may leave the
    loop waiting for an answer: steps then start from the loop, each exactly once."""
    def broken(flags):
        raise RuntimeError("died before it spoke")

    monkeypatch.setattr(process, "_unshare", broken)
    assert not process.Spawner().usable
    monkeypatch.undo()

    def dies(self, sock):
        raise RuntimeError("died between starts")

    monkeypatch.setattr(process.Spawner, "_serve_one", dies)
    monkeypatch.setattr(process, "_the_spawner", process.Spawner())
    monkeypatch.setattr(process, "SPAWN_THREAD_FROM", 0)
    process._the_spawner._thread.join(10)
    outcome, out = started(["sh", "-c", "echo once"], tmp_path)
    assert outcome.exit_status == 0 and out == b"once\n"
    assert process._spawner() is None  # not tried again


def test_a_wide_run_of_long_steps_starts_from_the_spawner_and_stops_on_sigterm(tmp_path, home):
    """More steps at once than ``SPAWN_THREAD_FROM``: the later ones start from the
    spawner thread; their output is kept, and the driver (whose other thread blocks
    every signal) still takes SIGTERM and stops them all."""
    marker = "sleep 60.%d" % os.getpid()
    wide = process.SPAWN_THREAD_FROM + 10
    dag = tmp_path / "wide.yaml"
    dag.write_text("type: graph\nsteps:\n" + "".join(
        "  - {name: s%d, command: \"%s\"}\n" % (i, marker) for i in range(wide)) +
        "  - {name: last, command: \"sh -c 'echo from-the-spawner; exec %s'\"}\n" % marker)
    driver = subprocess.Popen(TRACEEXEC + ["run", "-q", str(dag)], env=traceexec_env(home),
                              cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count(marker) < wide + 1:
        time.sleep(0.1)
    assert _count(marker) == wide + 1
    driver.send_signal(signal.SIGTERM)
    out, _ = driver.communicate(timeout=60)
    assert driver.returncode == 128 + signal.SIGTERM
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _count(marker):
        time.sleep(0.1)
    assert _count(marker) == 0
    logs = [p for p in home.rglob("*") if p.is_file() and b"from-the-spawner" in p.read_bytes()]
    assert logs, "the last step's stdout was not logged"


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
