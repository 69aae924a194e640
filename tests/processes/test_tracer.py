"""The strace engine with real processes: streaming, ends, daemons, refusals.

The command is started here with posix_spawn, as supervise would start it:
with ``-D`` the spawned process becomes the command itself.
"""
import os
import stat
import subprocess
import sys
import time

import pytest

from conftest import needs_ptrace
from traceexec.processes import tracer

STRACE = tracer.find_strace(os.environ)


def start(argv):
    session = tracer.Session(STRACE, argv)
    session.start()
    pid = os.posix_spawn(session.argv[0], session.argv, dict(os.environ))
    return session, pid


def names(session):
    return [image.name for proc in session.tree.processes for image in proc.images]


@needs_ptrace
def test_the_stream_is_read_while_the_command_runs():
    session, pid = start(["sh", "-c", "/bin/true; /bin/sleep 1.5"])
    deadline = time.monotonic() + 30
    while "true" not in names(session) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "true" in names(session) and os.waitpid(pid, os.WNOHANG) == (0, 0)
    _, status = os.waitpid(pid, 0)
    session.finish()
    tree = session.tree
    assert os.waitstatus_to_exitcode(status) == 0 and tree.root.pid == pid
    assert tree.root_ended and tree.running() == [] and not session.handed_off
    assert names(session) == ["sh", "sh", "true", "sh", "sleep"]


@needs_ptrace
def test_a_process_that_outlives_the_command_keeps_its_tracer(tmp_path):
    # A seccomp-filtered process whose tracer left gets ENOSYS from fork: the
    # daemon must still be able to start programs after traceexec is done.  It waits
    # on a FIFO the test opens only after finish(), so it is still a plain forked sh
    # (nothing forked or exec'd yet) when finish() looks, however loaded the machine.
    done, fifo = tmp_path / "done", tmp_path / "go"
    os.mkfifo(fifo)
    script = "(read line < %s; /bin/echo alive > %s) & exit 0" % (fifo, done)
    session, pid = start(["sh", "-c", script])
    os.waitpid(pid, 0)
    session.finish()
    assert session.handed_off                       # finished while the daemon waits
    running = session.tree.running()
    assert [p.images[0].name for p in running] == ["sh"]
    assert not done.exists()
    with open(fifo, "w") as go:
        go.write("go\n")
    deadline = time.monotonic() + 30
    while (not done.exists() or done.read_text() != "alive\n") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done.read_text() == "alive\n"


def test_a_missing_strace_is_named():
    with pytest.raises(tracer.NotTraceable, match="no-such-strace not found"):
        tracer.find_strace({"TRACEEXEC_STRACE": "no-such-strace", "PATH": os.defpath})


def test_the_probe_reports_what_strace_said(tmp_path):
    fake = tmp_path / "strace"
    fake.write_text("#!/bin/sh\necho 'strace: attach: ptrace(PTRACE_SEIZE, 1): Operation "
                    "not permitted' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(tracer.NotTraceable, match="Operation not permitted$"):
        tracer.probe(str(fake), os.environ)


@needs_ptrace
def test_the_probe_refuses_when_ptrace_is_denied():
    # Under another tracer the kernel refuses strace's ptrace: a real denial.
    code = ("from traceexec.processes import tracer\n"
            "try:\n    tracer.probe(%r, __import__('os').environ)\n"
            "except tracer.NotTraceable as e:\n    print('refused:', e)\n" % STRACE)
    result = subprocess.run([STRACE, "-f", "-o", os.devnull, sys.executable, "-c", code],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("refused: "), result.stdout + result.stderr
    assert "not permitted" in result.stdout


def test_the_reader_thread_blocks_every_signal_the_wrapper_waits_for():
    """A process-directed signal goes to any thread that does not block it: a stop signal
    taken by the reader would stop traceexec without passing it on to the command."""
    from traceexec.wrap import signals
    session, pid = start(["sh", "-c", "sleep 0.5"])
    try:
        with open("/proc/self/task/%d/status" % session._thread.native_id) as handle:
            blocked = int(next(line for line in handle if line.startswith("SigBlk:"))
                          .split(":")[1], 16)
        missing = [signals.signal_name(n) for n in signals.WATCHED if not blocked >> (n - 1) & 1]
        assert missing == []
    finally:
        os.waitpid(pid, 0)
        session.finish()


def thread_switches(tid):
    with open("/proc/self/task/%d/status" % tid) as handle:
        return int(next(line for line in handle if line.startswith("voluntary_ctxt_switches:"))
                   .split(":")[1])


@needs_ptrace
def test_the_reader_gathers_lines_instead_of_waking_for_each(tmp_path):
    """strace writes a line per event; a reader woken for each (about six a command)
    slowed a traced build of 5,000 commands by up to 1.5x.  The reader's own sleeps
    (kernel counter) stay at about two per gathering interval, however many lines."""
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    loop = 'i=0; while [ $i -lt 400 ]; do /bin/true; i=$((i+1)); done; read x < %s' % fifo
    started = time.monotonic()
    session, pid = start(["sh", "-c", loop])
    try:
        deadline = time.monotonic() + 120
        while names(session).count("true") < 400 and time.monotonic() < deadline:
            time.sleep(0.05)
        switches = thread_switches(session._thread.native_id)  # alive: the root waits
        elapsed = time.monotonic() - started
    finally:
        with open(fifo, "w") as go:
            go.write("go\n")
        os.waitpid(pid, 0)
        session.finish()
    assert names(session).count("true") == 400
    assert switches <= 2 * elapsed / tracer.GATHER_S + 20, (switches, elapsed)


@needs_ptrace
def test_the_tracer_stays_in_the_session_in_a_process_group_of_its_own(tmp_path):
    """A group of its own: signals for the command's group (Ctrl-C, ``kill 0``) miss it.
    The command's session, not one of its own: with autogroups, a session is a scheduling
    group, and every stop of a traced process waits for the tracer to be scheduled (a
    session of its own made a fork-heavy script 1.4x to 2.6x slower under load)."""
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    session, pid = start(["sh", "-c", "read x < %s" % fifo])
    try:
        tracer_pid = 0
        deadline = time.monotonic() + 60
        while not tracer_pid and time.monotonic() < deadline:
            with open("/proc/%d/status" % pid) as handle:
                tracer_pid = int(next(line for line in handle
                                      if line.startswith("TracerPid:")).split()[1])
            time.sleep(0.02)
        assert tracer_pid and tracer.is_our_tracer(tracer_pid)
        assert os.getsid(tracer_pid) == os.getsid(0)
        assert os.getpgid(tracer_pid) == tracer_pid != os.getpgid(pid)
    finally:
        with open(fifo, "w") as go:
            go.write("go\n")
        os.waitpid(pid, 0)
        session.finish()
