"""Supervision with real processes: exit statuses, signals, timeouts, orphans, terminals."""
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from conftest import BIN_DIR as BIN, ROOT, TRACEEXEC, run_traceexec
from traceexec.wrap import signals

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
    assert result.returncode == 137  # as timeout(1): KILL was needed
    assert _wait_gone(marker) == []


@pytest.mark.parametrize("options", [[], ["--tty"]], ids=["plain", "tty"])
def test_sigkill_of_traceexec_leaves_no_orphan(env, options):
    marker = uuid.uuid4().hex
    env = dict(env, TRACEEXEC_TEST_MARK=marker)
    # ignoring SIGHUP: a closed pty alone would not end it
    proc = subprocess.Popen(TRACEEXEC + options + ["--", "sh", "-c", "trap '' HUP; exec sleep 106"],
                            env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not [p for p in _marked_processes(marker) if p.pid != proc.pid and p.name() == "sleep"]:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    if not options:  # the guard is the sentinel, there from the command's 10th ms
        while len(psutil.Process(proc.pid).children()) < 2:
            assert time.monotonic() < deadline, "no sentinel"
            time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert _wait_gone(marker) == []


def test_a_fault_while_watching_kills_the_command_rather_than_leave_it(env, tmp_path):
    # A fault inside traceexec while the command runs ends traceexec; here the module that
    # --timeout needs at expiry cannot be imported, as psutil could not be in a checkout's
    # bare Python. The command (pid and start time, as exec keeps them) must not run on.
    pidfile = tmp_path / "pid"
    code = ("import sys; sys.modules['traceexec.wrap.proctree'] = None\n"
            "from traceexec.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    script = "echo $$ $(cut -d' ' -f22 /proc/$$/stat) > %s; exec sleep 300" % pidfile
    result = subprocess.run([sys.executable, "-c", code, "--timeout", "0.3", "--", "sh", "-c",
                             script], env=env, capture_output=True, timeout=60)
    assert result.returncode == 1 and b"proctree halted" in result.stderr, result.stderr
    pid, start = pidfile.read_text().split()
    assert signals.process_start(int(pid)) != start, "the command runs on"


def test_stdio_is_binary_safe_and_unbuffered(env):
    payload = bytes(range(256)) * 4096 + b"\x00tail"
    result = run_traceexec(["--", "cat"], env, input=payload)
    assert result.returncode == 0 and result.stdout == payload
    # unbuffered: the first line reaches us while the command waits for us to answer it
    proc = subprocess.Popen(TRACEEXEC + ["--", "sh", "-c", "echo first; read x; echo second"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"first\n"
    proc.stdin.write(b"go\n")
    proc.stdin.close()
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


# --- exec like a shell: scripts without #! -------------------------------------------------

def _no_shebang_script(tmp_path):
    script = tmp_path / "job"
    script.write_text('echo "ran as $0 with $#: $*"\nexit 7\n')
    script.chmod(0o755)
    return script


def test_script_without_shebang_runs_through_sh_like_env(env, tmp_path):
    script = _no_shebang_script(tmp_path)
    bare = subprocess.run(["env", str(script), "a", "b c"], capture_output=True, env=env)
    traced = run_traceexec(["--", str(script), "a", "b c"], env)
    assert bare.returncode == 7 and bare.stdout.decode() == "ran as %s with 2: a b c\n" % script
    assert (traced.returncode, traced.stdout, traced.stderr) == (7, bare.stdout, b"")


def test_posix_spawn_command_runs_a_script_without_shebang_through_sh(env, tmp_path):
    """The start that the wrapper and DAG steps share: execvp's ENOEXEC rule, and
    exec failures as CommandProblem with the wrapper's statuses."""
    from traceexec.wrap.supervise import CommandProblem, posix_spawn_command, script_command
    script = _no_shebang_script(tmp_path)
    assert script_command(str(script), [str(script), "x"]) == ("/bin/sh", ["/bin/sh", str(script), "x"])
    out = tmp_path / "out"
    with open(out, "wb") as handle:
        pid = posix_spawn_command(str(script), [str(script), "x"], env,
                                  file_actions=[(os.POSIX_SPAWN_DUP2, handle.fileno(), 1)])
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7
    assert out.read_text() == "ran as %s with 1: x\n" % script
    broken = tmp_path / "broken"
    broken.write_text("#!/no/such/interpreter\n")
    broken.chmod(0o755)
    with pytest.raises(CommandProblem) as raised:
        posix_spawn_command(str(broken), [str(broken)], env)
    assert raised.value.exit_status == 127 and str(raised.value).startswith(str(broken) + ": ")
    broken.write_text("#!/etc/passwd/x\n")  # an interpreter under a file: 126, as bash says
    with pytest.raises(CommandProblem) as raised:
        posix_spawn_command(str(broken), [str(broken)], env)
    assert raised.value.exit_status == 126
    from traceexec.wrap.supervise import run
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    try:
        outcome = run([str(broken)], env)  # the span still names the file that failed
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # run leaves them blocked
    assert outcome.exit_status == 126 and outcome.path == str(broken)


def test_status_field_reads_one_line_of_proc_status_as_status_masks_does():
    """The caller's ignored signals are read once per wrapped command under a shell: one
    field, found without parsing the whole file (status_masks: 0.33 M instructions)."""
    pid = os.getpid()
    masks = signals.status_masks(pid)
    for key in ("SigIgn", "SigBlk", "PPid", "Name", "State"):
        assert signals.status_field(pid, key) == masks[key]
    assert signals.status_field(pid, "PPid") == str(os.getppid())
    assert signals.status_field(pid, "Sig") is None  # a whole key, not a prefix
    assert signals.status_field(2 ** 22 + 1, "SigIgn") is None  # no such process


WHILE_RUNNING = """
import sys
from traceexec.wrap.supervise import run
calls = []
def while_running():
    with open(sys.argv[1], "w") as handle:  # blocks until the command opened it to read
        handle.write("go\\n")
    calls.append(1)
outcome = run(["sh", "-c", 'read line < "$1"; test "$line" = go', "sh", sys.argv[1]],
              {"PATH": "/usr/bin:/bin"}, while_running=while_running)
print(outcome.exit_status, len(calls))
"""


def test_while_running_is_called_once_the_command_runs_and_before_it_is_reaped(env, tmp_path):
    """The wrapper loads what recording the span takes while the command runs (on the other
    core), not before it starts nor after it ends: the command here waits for a line that
    only ``while_running`` writes, so any other moment would hang.  In a process of its own:
    ``run`` takes SIGCHLD on the main thread, which pytest's other threads would not block."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-c", WHILE_RUNNING, str(fifo)], env=env,
                            capture_output=True, timeout=60)
    assert result.stdout == b"0 1\n", result.stderr


BROKEN_RECORDING = """
import sys
sys.modules["traceexec.delivery.span"] = None  # an install missing a module: import fails
from traceexec.cli import main
sys.exit(main(["--", "sh", "-c", 'sleep 0.3; echo ran to its end > "$1"; exit 3', "sh",
               sys.argv[1]]))
"""


def test_a_module_recording_cannot_load_does_not_end_the_running_command(env, tmp_path):
    """What recording takes is loaded while the command runs; a module that cannot be
    loaded then (a broken install) must not end the command: it runs to its end, its
    status is traceexec's, and the recording, after it, says in one line that the span
    was not recorded."""
    done = tmp_path / "done"
    result = subprocess.run([sys.executable, "-c", BROKEN_RECORDING, str(done)], env=env,
                            capture_output=True, timeout=60)
    assert done.read_text() == "ran to its end\n"
    assert result.returncode == 3, result.stderr
    assert result.stderr.decode().splitlines() == [
        "traceexec: the span was not recorded: ModuleNotFoundError: import of "
        "traceexec.delivery.span halted; None in sys.modules"]


# --- signals sent to a whole group, or to every process, arrive once -----------------------

def _ready(proc, traced=False):
    """Wait for the command's "ready"; under traceexec also for its signal sentinel (a second
    child, started once the command has run for 10 ms), so that the test does not depend on
    how fast a loaded machine schedules traceexec."""
    assert proc.stdout.readline() == b"ready\n"
    deadline = time.monotonic() + 20
    while traced and len(psutil.Process(proc.pid).children()) < 2:
        assert time.monotonic() < deadline, "no sentinel"
        time.sleep(0.01)


def _group_signal(env, tmp_path, traced, send):
    """Start signal_child (under traceexec when ``traced``) as a new session; ``send(proc)``."""
    log = tmp_path / ("traced.log" if traced else "bare.log")
    argv = (TRACEEXEC + ["--"] if traced else []) + SIGNAL_CHILD + [str(log)]
    proc = subprocess.Popen(["setsid"] + argv, env=env, stdout=subprocess.PIPE)
    _ready(proc, traced)
    send(proc)
    status = proc.wait(30)
    return status, log.read_text().split() if log.exists() else []


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_kill_of_the_process_group_reaches_the_command_once(env, tmp_path, number):
    def send(proc):
        os.killpg(os.getpgid(proc.pid), number)
    bare = _group_signal(env, tmp_path, False, send)
    assert bare == (10 + number, [signal.Signals(number).name])
    assert _group_signal(env, tmp_path, True, send) == bare


def test_every_process_signalled_one_by_one_like_systemd_reaches_the_command_once(env, tmp_path):
    # systemd's KillMode=control-group and CI tree killers send to each process, the
    # main one first, then SIGCONT to each
    def send(proc):
        session = os.getsid(proc.pid)
        pids = [proc.pid] + sorted(p.pid for p in psutil.process_iter()
                                   if p.pid != proc.pid and _session(p) == session)
        for number in (signal.SIGTERM, signal.SIGCONT):
            for pid in pids:
                os.kill(pid, number)
    bare = _group_signal(env, tmp_path, False, send)
    assert bare == (10 + signal.SIGTERM, ["SIGTERM"])
    assert _group_signal(env, tmp_path, True, send) == bare


def _session(proc):
    try:
        return os.getsid(proc.pid)
    except OSError:
        return None


def test_timeout_dash_s_int_around_traceexec_interrupts_once(env, tmp_path):
    results = []
    for traced in (False, True):
        log = tmp_path / ("t%d.log" % traced)
        argv = ["timeout", "-s", "INT", "2"] + (TRACEEXEC + ["--"] if traced else []) \
            + SIGNAL_CHILD + [str(log)]
        status = subprocess.run(argv, env=env, capture_output=True, timeout=60).returncode
        results.append((status, log.read_text().split()))
    # Bare, the command gets timeout's kill of it and then its kill of the group: one SIGINT
    # when both come before the handler runs, two when timeout is preempted in between (a
    # suite run beside a CPU burner saw it). Traced, traceexec gets the first and the command
    # only the group's: once, whatever the timing.
    assert results[0] in ((124, ["SIGINT"]), (124, ["SIGINT", "SIGINT"]))
    assert results[1] == (124, ["SIGINT"])


TWO_KILLS = r"""
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, lambda *_: None)  # as GNU timeout: a handler, reset by exec
os.setpgid(0, 0)
held, between, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
wrapper = subprocess.Popen(argv, stdout=subprocess.PIPE)
assert wrapper.stdout.readline() == b"ready\n"
children = "/proc/%d/task/%d/children" % (wrapper.pid, wrapper.pid)
while "traceexec" in argv[0] and len(open(children).read().split()) < 2:
    time.sleep(0.01)  # the command and the signal sentinel
if held != "-":  # from here on this process gets 1% of a CPU: runnable, hardly running
    with open(os.path.join(held, "cgroup.procs"), "w") as procs:
        procs.write(str(os.getpid()))
os.kill(wrapper.pid, signal.SIGINT)
# held: `between` seconds of wall time; not held (busy): that much CPU time as well, so that
# the sender has really worked in between however loaded the machine (at load 9 a 0.3 s
# wall-clock spin got less than the 50 ms of CPU that make it a sender that moved on)
until = time.monotonic() + between
cpu_until = time.process_time() + (between if held == "-" else 0)
while time.monotonic() < until or time.process_time() < cpu_until:
    pass
os.killpg(0, signal.SIGINT)
open(argv[-1], "w").close()  # all sent: signal_child's moment for a duplicate starts
sys.exit(wrapper.wait())
"""


def _two_kills(env, log, held, between, traced=True):
    argv = [sys.executable, "-c", TWO_KILLS, held, str(between)] \
        + (TRACEEXEC + ["--"] if traced else []) + SIGNAL_CHILD + [str(log), str(log) + ".sent"]
    status = subprocess.run(argv, env=env, timeout=120).returncode
    return status, log.read_text().split()


@pytest.fixture
def cpu_quota():
    """A CPU cgroup that lets its processes run 1 ms in every 100 (cgroup v1's cpu controller or
    v2's cpu.max): a process put there is held runnable without running, as a loaded machine
    holds a preempted one."""
    for root, settings in (("/sys/fs/cgroup/cpu", {"cpu.cfs_period_us": "100000",
                                                   "cpu.cfs_quota_us": "1000"}),
                           ("/sys/fs/cgroup", {"cpu.max": "1000 100000"})):
        if not os.path.exists(os.path.join(root, next(iter(settings)))):
            continue
        path = os.path.join(root, "traceexec-test-%s" % uuid.uuid4().hex[:8])
        try:
            os.mkdir(path)
        except OSError:  # not root, or a read-only cgroup tree
            continue
        try:
            for name, value in settings.items():
                with open(os.path.join(path, name), "w") as handle:
                    handle.write(value)
            yield path
        finally:
            deadline = time.monotonic() + 10
            while True:
                try:
                    os.rmdir(path)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the held process should have ended"
                    time.sleep(0.05)
        return
    pytest.skip("no writable CPU cgroup (cgroup v1 cpu or v2 cpu.max) to hold a process runnable")


def test_timeout_held_between_its_two_kills_interrupts_once(env, tmp_path, cpu_quota):
    """GNU timeout kills the command, then its whole group. On a loaded machine it can be
    preempted between the two for more than a second (a suite run beside a CPU burner saw the
    command get SIGINT twice): while the sender is runnable and has not run, traceexec waits
    for the group's signal rather than passing its own on."""
    status, got = _two_kills(env, tmp_path / "held.log", cpu_quota, 1.2)
    assert (status, got) == (10 + signal.SIGINT, ["SIGINT"])


def test_a_sender_busy_between_two_kills_gets_what_bare_gets(env, tmp_path):
    """A sender that goes on working between its kill of traceexec and its kill of the group
    sent two signals: the command gets both, as it does bare (traceexec passes its own on once
    the sender has used 50 ms of CPU since)."""
    bare = _two_kills(env, tmp_path / "bare.log", "-", 0.3, traced=False)
    assert bare == (10 + signal.SIGINT, ["SIGINT", "SIGINT"])
    assert _two_kills(env, tmp_path / "traced.log", "-", 0.3) == bare


def test_sigtstp_to_traceexec_stops_the_command_and_sigcont_resumes_both(env, tmp_path):
    # In a process group of its own, whose parent (this test) is in another group of the
    # same session, as a job-control shell starts a job: a group that is not orphaned.
    # In an orphaned group (a test run started by setsid, a CI runner, a daemon) the kernel
    # drops SIGTSTP, for the bare command as for traceexec: nothing would stop.
    proc = subprocess.Popen(TRACEEXEC + ["--", "sh", "-c", "echo ready; read x; echo resumed"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            preexec_fn=os.setpgrp)
    _ready(proc)
    [command] = [p for p in psutil.Process(proc.pid).children() if p.name() == "sh"]
    proc.send_signal(signal.SIGTSTP)
    deadline = time.monotonic() + 20
    while not (command.status() == psutil.STATUS_STOPPED
               and psutil.Process(proc.pid).status() == psutil.STATUS_STOPPED):
        assert time.monotonic() < deadline, "traceexec and the command should both stop"
        time.sleep(0.02)
    proc.send_signal(signal.SIGCONT)
    proc.stdin.write(b"go\n")
    proc.stdin.close()
    assert proc.stdout.read() == b"resumed\n"
    assert proc.wait(30) == 0


GLIBC_INTERNAL = 1 << 31 | 1 << 32
"""Signals 32 and 33, which glibc keeps for itself (thread cancellation, set*id across
threads): its posix_spawn leaves them ignored in the new program, and no program can
see or set them through sigaction (glibc refuses them; it installs its own handlers
when it needs them)."""


@pytest.mark.parametrize("trap", ["PIPE", "XFSZ", "PIPE XFSZ", ""])
def test_inherited_ignored_signals_stay_ignored(env, trap):
    def ignored(prefix, trap=trap):
        line = "trap '' %s; %s grep SigIgn /proc/self/status" % (trap, prefix) if trap else \
            "%s grep SigIgn /proc/self/status" % prefix
        out = subprocess.run(["sh", "-c", line], env=env, capture_output=True).stdout
        return int(out.split(b":")[1], 16) & ~GLIBC_INTERNAL
    already = ignored("", trap="")  # what the suite's own caller ignores (under nohup: SIGHUP)
    bare = ignored("")
    assert bare == already | sum(1 << (getattr(signal, "SIG" + n) - 1) for n in trap.split())
    assert ignored(" ".join(TRACEEXEC) + " --") == bare
    # and through a nested traceexec
    assert ignored(" ".join(TRACEEXEC) + " -- " + " ".join(TRACEEXEC) + " --") == bare


def test_broken_pipe_behaves_as_bare_when_sigpipe_is_ignored(env):
    def run(prefix):
        line = "trap '' PIPE; %s yes | head -1; echo ${PIPESTATUS[0]}" % prefix
        result = subprocess.run(["bash", "-c", line], env=env, capture_output=True)
        return result.stdout, result.stderr.replace(b"traceexec", b"")
    assert run(" ".join(TRACEEXEC) + " --") == run("")


# --- closed streams, odd places, any timeout ----------------------------------------------

@pytest.mark.parametrize("redirect", [">&-", "2>&-", "<&-", ">&- 2>&-"])
def test_closed_standard_streams_keep_the_status(env, redirect):
    probe = "for fd in 0 1 2; do [ -e /proc/self/fd/$fd ] && echo $fd >> \"$OUT\"; done; exit 3"
    results = []
    for prefix in ("", " ".join(TRACEEXEC) + " --"):
        out = "%s/fds-%d" % (env["TRACEEXEC_HOME"], len(results))
        line = "%s sh -c '%s' %s; echo status=$?" % (prefix, probe, redirect)
        result = subprocess.run(["sh", "-c", line], env=dict(env, OUT=out), capture_output=True)
        fds = open(out).read().split() if os.path.exists(out) else []
        results.append((result.stdout, fds, b"Traceback" in result.stderr))
    assert results[0][0] == b"status=3\n"
    assert results[1] == results[0]


def test_deleted_working_directory_runs_the_command_as_a_shell_would(env, tmp_path):
    results = []
    for prefix in ("", os.path.join(BIN, "traceexec") + " --"):
        gone = tmp_path / ("gone%d" % len(results))
        gone.mkdir()
        line = "cd %s && rmdir %s && %s sh -c 'echo in; exit 4'; echo status=$?" % (
            gone, gone, prefix)
        result = subprocess.run(["sh", "-c", line], env=env, capture_output=True, cwd=tmp_path)
        results.append((result.stdout, result.stderr))
    assert results[0][0] == b"in\nstatus=4\n"
    assert results[1] == results[0]


@pytest.mark.parametrize("duration", ["1e300", "99999999999d", "inf", "0", "2d", "0.5d"])
def test_any_accepted_timeout_works(env, duration):
    result = run_traceexec(["--timeout", duration, "--", "sh", "-c", "exit 5"], env)
    assert (result.returncode, result.stderr) == (5, b"")


# --- timeout(1)'s conventions, GNU timeout side by side -----------------------------------

TIMEOUT_CASES = [
    ("exits on TERM", ["1"], "sleep 30"),
    ("ignores TERM, needs KILL", ["-k", "0.5", "1"], "trap '' TERM; sleep 30"),
    ("cleans up on TERM", ["1"], "trap 'exit 3' TERM; sleep 30 & wait"),
    ("preserve status", ["--preserve-status", "1"], "trap 'exit 3' TERM; sleep 30 & wait"),
    ("preserve status, killed", ["--preserve-status", "1"], "sleep 30"),
    ("signal INT", ["-s", "INT", "1"], "trap 'exit 9' INT; sleep 3 & wait"),
    ("signal by number", ["--signal=2", "1"], "trap 'exit 9' INT; sleep 3 & wait"),
    ("foreground", ["--foreground", "1"], "exec sleep 30"),
    ("finishes in time", ["10"], "exit 6"),
    ("days", ["1d"], "exit 0"),
]


@pytest.mark.parametrize("label,options,script", TIMEOUT_CASES, ids=[c[0] for c in TIMEOUT_CASES])
def test_timeout_options_and_statuses_match_gnu_timeout(env, label, options, script):
    # (a background sleep ignores SIGINT in sh: output goes nowhere, so nobody waits for it)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    gnu = subprocess.run(["timeout"] + options + ["sh", "-c", script], env=env, **quiet).returncode
    gnu = 128 - gnu if gnu < 0 else gnu  # timeout(1) kills itself with the KILL: a shell sees 137
    ours_options = []
    args = list(options)
    while args:
        arg = args.pop(0)
        if arg in ("-k", "-s"):
            ours_options += [arg, args.pop(0)]
        elif arg.startswith("--"):
            ours_options.append(arg)
        else:
            ours_options += ["--timeout", arg]
    ours = subprocess.run(TRACEEXEC + ours_options + ["--", "sh", "-c", script], env=env,
                          **quiet).returncode
    assert ours == gnu, label


def test_a_tree_that_keeps_forking_is_killed_soon_after_the_kill_pass(env):
    marker = uuid.uuid4().hex
    env = dict(env, TRACEEXEC_TEST_MARK=marker)
    forker = "trap '' TERM; while :; do (trap '' TERM; sleep 100) & sleep 0.01; done"
    started = time.monotonic()
    result = run_traceexec(["--timeout", "0.5", "--kill-after", "0.5", "--", "sh", "-c", forker],
                           env)
    took = time.monotonic() - started
    assert result.returncode == 137
    assert took < 15, "traceexec must give up soon after timeout + kill-after, took %.1fs" % took
    assert _wait_gone(marker) == []


# --- --tty as solid as the plain mode -----------------------------------------------------

TTY = TRACEEXEC + ["--tty", "--"]


@pytest.mark.parametrize("line,expected", [
    ("%s yes | head -1", b"y\n"),
    ("printf abc | %s cat", b"abc"),
    ("seq 50000 | %s cat | tail -1", b"50000\n"),
    ("seq 50000 | %s cat | wc -l", b"50000\n"),
])
def test_tty_pipelines_end(env, line, expected):
    result = subprocess.run(["sh", "-c", line % " ".join(TTY)], env=env, capture_output=True,
                            timeout=60)
    assert result.stdout.replace(b"\r\n", b"\n") == expected


def test_tty_with_unread_input_ends_on_sigterm(env):
    proc = subprocess.Popen(["sh", "-c", "seq 50000 | exec %s sh -c 'echo ready; sleep 100'"
                             % " ".join(TTY)], env=env, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.2)
    [traceexec] = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if "--tty" in p.cmdline()] or [psutil.Process(proc.pid)]
    traceexec.send_signal(signal.SIGTERM)
    assert proc.wait(30) in (128 + signal.SIGTERM, -signal.SIGTERM)


def test_tty_timeout_kills_setsid_grandchildren(env):
    marker = uuid.uuid4().hex
    env = dict(env, TRACEEXEC_TEST_MARK=marker)
    started = time.monotonic()
    result = run_traceexec(["--tty", "--timeout", "0.5", "--kill-after", "0.5", "--", "sh", "-c",
                            "setsid sh -c 'trap \"\" TERM HUP; sleep 108' & sleep 109"], env)
    assert result.returncode in (124, 137)
    assert time.monotonic() - started < 15
    assert _wait_gone(marker) == []


def test_a_command_paused_and_continued_by_someone_else_does_not_hang_traceexec(env):
    # no job control around traceexec: nobody would continue it had it stopped too
    proc = subprocess.Popen(TRACEEXEC + ["--", "sh", "-c", "echo ready; sleep 1; echo done"],
                            env=env, stdout=subprocess.PIPE)
    _ready(proc)
    [command] = [p for p in psutil.Process(proc.pid).children() if p.name() == "sh"]
    command.suspend()
    time.sleep(0.3)
    command.resume()
    assert proc.stdout.read() == b"done\n"
    assert proc.wait(30) == 0


@pytest.mark.parametrize("pidfds", [True, False], ids=["pidfd", "pid-and-start-time"])
def test_the_sentinel_kills_the_command_when_traceexec_goes_without_goodbye(monkeypatch, pidfds):
    """EOF on the sentinel's pipe without the goodbye byte: traceexec died, the command
    is SIGKILLed (through a pidfd, or where those are refused by pid and start time);
    after the goodbye, nothing is killed."""
    from traceexec.wrap import sentinel as wrap_sentinel
    if not pidfds:
        def refused(pid):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(os, "pidfd_open", refused)
    for goodbye in (True, False):
        command = subprocess.Popen(["sleep", "60"])
        try:
            sentinel = wrap_sentinel.Sentinel(command.pid)
            assert sentinel.pid
            if goodbye:
                sentinel.close()
            else:  # as a SIGKILLed traceexec leaves it: the pipe closes, nothing said
                os.close(sentinel._pipe)
                sentinel._pipe = -1
                os.waitpid(sentinel.pid, 0)
                sentinel.pid = 0
            try:
                status = command.wait(timeout=0.5 if goodbye else 10)
            except subprocess.TimeoutExpired:
                status = None
            assert status == (None if goodbye else -signal.SIGKILL)
        finally:
            command.kill()
            command.wait()


def test_the_environment_is_os_environs_with_its_changes_and_undecodable_bytes(monkeypatch):
    monkeypatch.setenv("TRACEEXEC_TEST_SET", "café")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setitem(os.environb, b"TRACEEXEC_TEST_RAW\xff", b"caf\xe9")
    from traceexec.wrap import supervise
    copy = supervise.environment()
    assert copy == dict(os.environ) and type(copy) is dict
    assert copy["TRACEEXEC_TEST_RAW\udcff"] == "caf\udce9" and "HOME" not in copy
    monkeypatch.setattr(os, "environ", {"ONLY": "this"})  # not an os._Environ: copied as it is
    assert supervise.environment() == {"ONLY": "this"}
