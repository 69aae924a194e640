"""Supervision with real processes: exit statuses, signals, timeouts, orphans, terminals."""
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from conftest import ROOT, TRACEEXEC, run_traceexec

SIGNAL_CHILD = [sys.executable, os.path.join(ROOT, "tests", "helpers", "signal_child.py")]


@pytest.mark.parametrize("code", [0, 1, 42])
def test_exit_status_is_the_commands(env, code):
    result = run_traceexec(["--", "sh", "-c", "exit %d" % code], env)
    assert result.returncode == code
    assert result.stderr == b""


def test_command_not_found_is_127_with_one_line(env):
    result = run_traceexec(["--", "no-such-command-xyz"], env)
    assert result.returncode == 127
    assert result.stderr.decode() == "traceexec: no-such-command-xyz: command not found\n"


def test_not_executable_is_126(env, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    result = run_traceexec(["--", str(script)], env)
    assert result.returncode == 126
    assert result.stderr.decode().count("\n") == 1 and "script.sh" in result.stderr.decode()


@pytest.mark.parametrize("number", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV])
def test_killed_by_signal_n_gives_128_plus_n(env, number):
    # Like timeout(1), traceexec ends itself by the same signal: a shell sees 128+N.
    cmd = " ".join(TRACEEXEC) + " -- sh -c 'kill -%d $$'; echo status=$?" % number
    result = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, timeout=30)
    assert result.stdout.decode().strip() == "status=%d" % (128 + number)


def _start_with_signal_child(env, tmp_path, *extra):
    log = tmp_path / "signals.log"
    proc = subprocess.Popen(TRACEEXEC + list(extra) + ["--"] + SIGNAL_CHILD + [str(log)],
                            env=env, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    return proc, log


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                                    signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                                    signal.SIGWINCH])
def test_signals_to_traceexec_reach_the_command_once(env, tmp_path, number):
    proc, log = _start_with_signal_child(env, tmp_path)
    proc.send_signal(number)
    assert proc.wait(30) == 10 + number
    assert log.read_text().split() == [signal.Signals(number).name]


def test_ctrl_c_at_a_terminal_interrupts_once_and_the_span_is_recorded(env, tmp_path, home):
    import pexpect
    log = tmp_path / "signals.log"
    child = pexpect.spawn(TRACEEXEC[0], TRACEEXEC[1:] + ["--"] + SIGNAL_CHILD + [str(log)],
                          env=env, timeout=30)
    child.expect("ready")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 10 + signal.SIGINT
    assert log.read_text().split() == ["SIGINT"]
    from traceexec.store import local as store
    records = store.read(str(home), store.resolve(str(home), "last"))
    assert records[0]["attributes"]["process.exit.code"] == 10 + signal.SIGINT


def _marked_processes(marker):
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("TRACEEXEC_TEST_MARK") == marker:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def _wait_gone(marker, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in _marked_processes(marker) if p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def test_timeout_kills_a_tree_of_three_and_exits_124(env):
    marker = uuid.uuid4().hex
    env = dict(env, TRACEEXEC_TEST_MARK=marker)
    started = time.monotonic()
    result = run_traceexec(["--timeout", "1s", "--kill-after", "2s", "--", "sh", "-c",
                            "sh -c 'sleep 101 & sleep 102; wait' & sleep 103; wait"], env)
    assert result.returncode == 124
    assert time.monotonic() - started < 15
    assert _wait_gone(marker) == []


def test_timeout_escalates_to_kill_for_a_tree_that_ignores_term(env):
    marker = uuid.uuid4().hex
    env = dict(env, TRACEEXEC_TEST_MARK=marker)
    result = run_traceexec(["--timeout", "300ms", "--kill-after", "500ms", "--", "sh", "-c",
                            "trap '' TERM; sh -c \"trap '' TERM; sleep 104\" & sleep 105; wait"],
                           env)
    assert result.returncode == 124
    assert _wait_gone(marker) == []


def test_sigkill_of_traceexec_leaves_no_orphan(env):
    marker = uuid.uuid4().hex
    env = dict(env, TRACEEXEC_TEST_MARK=marker)
    proc = subprocess.Popen(TRACEEXEC + ["--", "sleep", "106"], env=env)
    deadline = time.monotonic() + 10
    while not [p for p in _marked_processes(marker) if p.pid != proc.pid and p.name() == "sleep"]:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert _wait_gone(marker) == []


def test_stdio_is_binary_safe_and_unbuffered(env):
    payload = bytes(range(256)) * 4096 + b"\x00tail"
    result = run_traceexec(["--", "cat"], env, input=payload)
    assert result.returncode == 0 and result.stdout == payload
    # unbuffered: the first line reaches us before the command ends
    proc = subprocess.Popen(TRACEEXEC + ["--", "sh", "-c", "echo first; sleep 2; echo second"],
                            env=env, stdout=subprocess.PIPE)
    started = time.monotonic()
    assert proc.stdout.readline() == b"first\n"
    assert time.monotonic() - started < 1.9
    assert proc.stdout.read() == b"second\n"
    assert proc.wait(10) == 0


def test_environment_is_unchanged_but_for_the_context(env):
    result = run_traceexec(["--", "env", "-0"], env)
    seen = dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if item)
    traceparent = seen.pop("TRACEPARENT")
    assert traceparent.startswith("00-") and len(traceparent) == 55
    assert seen == env


def test_tty_option_gives_a_terminal_with_the_callers_size(env):
    import pexpect
    child = pexpect.spawn(TRACEEXEC[0], TRACEEXEC[1:] + [
        "--tty", "--", "sh", "-c", "test -t 0 && test -t 1 && echo TTY; stty size; exit 3"],
        env=env, dimensions=(33, 101), timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    output = child.before.decode()
    assert "TTY" in output and "33 101" in output
    assert child.exitstatus == 3


def test_tty_option_without_a_terminal_still_passes_io(env):
    result = run_traceexec(["--tty", "--", "sh", "-c", "read x; test -t 1 && echo got $x"],
                           env, input=b"hello\n")
    assert result.returncode == 0
    assert b"got hello" in result.stdout
