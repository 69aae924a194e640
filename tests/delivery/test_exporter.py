"""The detached exporter as a process: isolated, stoppable, tidy, and alive through long outages.

Real processes: the exporter started the way a wrapper starts it
(``spool.start_exporter``), from a parent that blocks and ignores signals
like a supervising wrapper; a working directory full of files named like
standard-library modules; a collector that is down for many exporter
generations, then comes back.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import conftest
from conftest import ROOT, run_traceexec
from test_export import Listener, flush, harness_wait, make_record, spool_for
from traceexec.delivery import drain, frames, limit, spool

SHADOWS = ("typing", "json", "socket", "ssl", "signal", "fcntl", "marshal", "enum", "grpc",
           "zlib", "select", "threading", "traceexec", "http", "encodings", "os", "io")


def shadowing_directory(folder):
    """A directory of modules named like the standard library's; importing one leaves a mark."""
    os.makedirs(folder, exist_ok=True)
    marks = os.path.join(folder, "marks")
    for name in SHADOWS:
        with open(os.path.join(folder, name + ".py"), "w") as handle:
            handle.write("open(%r, 'a').write(%r)\n" % (marks, name + "\n"))
    return marks


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_the_exporter_runs_none_of_the_working_directory(tmp_path, receiver, env, protocol):
    folder = str(tmp_path / "work")
    marks = shadowing_directory(folder)
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    env.update(TRACEEXEC_WAIT="1", TRACEPARENT="00-%s-00f067aa0ba902b7-01" % os.urandom(16).hex())
    script = os.path.join(conftest.BIN_DIR, "traceexec")  # as installed: not ``python -m``
    result = subprocess.run([script, "--endpoint", endpoint, "--", "true"], cwd=folder,
                            env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(receiver.wait_for(1)) == 1
    time.sleep(0.5)
    assert not os.path.exists(marks), open(marks).read()


STARTER = textwrap.dedent("""
    import signal, sys
    sys.path.insert(0, %r)
    from traceexec.delivery import spool
    # as a supervising wrapper leaves things when it starts the exporter
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print(spool.start_exporter(sys.argv[1], {}, force=True), flush=True)
""")


@pytest.mark.parametrize("protocol,number", [("grpc", signal.SIGTERM), ("http", signal.SIGINT),
                                             ("grpc", signal.SIGINT)])
def test_the_exporter_stops_on_sigterm_and_sigint_and_leaves_no_temporaries(home, protocol,
                                                                            number):
    hole = Listener()  # accepts and never answers: the exporter waits in a request
    try:
        endpoint = ("127.0.0.1:%d" if protocol == "grpc"
                    else "http://127.0.0.1:%d/v1/traces") % hole.port
        directory = spool_for(home, endpoint, environ={"OTEL_EXPORTER_OTLP_TIMEOUT": "60000"})
        spool.write(directory, [make_record(i) for i in range(100)])
        result = subprocess.run([sys.executable, "-c", STARTER % ROOT, directory],
                                capture_output=True, text=True, timeout=60)
        pid = int(result.stdout)
        assert harness_wait(lambda: len(hole.held) > 0), "the exporter never connected"
        time.sleep(0.3)
        started = time.monotonic()
        os.kill(pid, number)
        assert harness_wait(lambda: not _alive(pid), timeout=20), "still running after the signal"
        assert time.monotonic() - started < 20
        log = (home / "exporter.log").read_text()
        assert "stopped by signal %d" % number in log, log
        assert not [n for n in os.listdir(directory) if n.endswith(".tmp")]
        assert limit.count_spans(spool.pending(directory)) == 100
    finally:
        hole.close()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of ours is gone for the purpose of the test
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_a_long_outage_keeps_names_and_backoff_then_delivers_everything(tmp_path, env, home,
                                                                        monkeypatch):
    grpc_port, http_port = conftest.free_port(), conftest.free_port()
    endpoint = "127.0.0.1:%d" % grpc_port
    directory = spool_for(home, endpoint)
    # a backlog large enough that the exporter of old split it into files on every start
    for start in range(0, 12_000, 1000):
        spool.write(directory, [make_record(i) for i in range(start, start + 1000)])
    names = None
    generations = 15
    for generation in range(generations):
        spool.write(directory, [make_record(100_000 + generation)])
        pid = spool.start_exporter(directory, {}, force=True)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 1
        assert spool.backoff_until(directory) > time.time()
        now = sorted(n for n in os.listdir(directory) if n.endswith(spool.SUFFIX))
        if names is not None:
            assert set(names) <= set(now), "a pending file was renamed"
        names = now
        assert max(len(n) for n in now) < 60
    log = (home / "exporter.log").read_text()
    assert log.count("export to %s failed" % endpoint) == generations, log
    assert limit.count_spans(spool.pending(directory)) == 12_000 + generations

    ports = iter([grpc_port, http_port])
    monkeypatch.setattr(conftest, "free_port", lambda: next(ports))
    receiver = conftest.Receiver(tmp_path)
    try:
        status, report, result = flush(env)
        assert status == 0 and report["sent"] == 12_000 + generations, report
    finally:
        receiver.stop()


def test_every_exporter_failure_leaves_a_backoff_mark_and_a_log_line(home):
    directory = spool_for(home, "127.0.0.1:%d" % conftest.free_port())
    spool.write(directory, [make_record()])
    os.unlink(os.path.join(directory, "destination"))  # what it sends to is unknown
    pid = spool.start_exporter(directory, {}, force=True)
    os.waitpid(pid, 0)
    assert spool.backoff_until(directory) > time.time()
    assert "no destination description" in (home / "exporter.log").read_text()


def test_temporaries_of_dead_writers_are_removed(home):
    directory = spool_for(home, "127.0.0.1:%d" % conftest.free_port())
    dead = subprocess.run(["true"]).args and _dead_pid()
    stale = os.path.join(directory, "destination.%d.tmp" % dead)
    live = os.path.join(directory, "destination.%d.tmp" % os.getpid())
    for path in (stale, live):
        open(path, "w").close()
    drain.cleanup(directory)
    assert not os.path.exists(stale) and os.path.exists(live)


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_torn_frame_in_the_spool_is_quarantined_and_its_neighbours_sent(receiver, env, home):
    directory = spool_for(home, receiver.grpc_endpoint)
    spool.write(directory, [make_record(i) for i in range(5)])
    torn = spool.encode([make_record(5)])[:100]
    with open(os.path.join(directory, spool.CURRENT), "ab") as handle:
        handle.write(torn)  # a writer killed mid-write
    spool.write(directory, [make_record(i) for i in range(6, 10)])
    status, report, result = flush(env)
    assert status == 0, result
    assert (report["sent"], report["quarantined_bytes"]) == (9, len(torn)), report
    (kept,) = os.listdir(os.path.join(directory, drain.QUARANTINE))
    with open(os.path.join(directory, drain.QUARANTINE, kept), "rb") as handle:
        assert handle.read() == torn
    assert frames.count(torn) == 0
    assert len(receiver.wait_for(9)) == 9


def _blocked_and_ignored():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_wrappers_own_exporter_is_detached_and_stops_on_sigterm(env, home, protocol):
    hole = Listener()
    try:
        endpoint = ("127.0.0.1:%d" if protocol == "grpc"
                    else "http://127.0.0.1:%d/v1/traces") % hole.port
        env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "60000"
        # the wrapper's output is a pipe read to its end: a held pipe would hang this
        result = run_traceexec(["--endpoint", endpoint, "--", "echo", "out"], env,
                               preexec_fn=_blocked_and_ignored, timeout=30)
        assert (result.returncode, result.stdout) == (0, b"out\n")
        (directory,) = [os.path.join(home, "spool", n) for n in os.listdir(home / "spool")]
        assert harness_wait(lambda: len(hole.held) > 0), "the exporter never connected"
        with open(os.path.join(directory, "lock")) as handle:
            pid = int(handle.read())
        with open("/proc/%d/status" % pid) as handle:
            status = dict(line.split(":\t", 1) for line in handle.read().splitlines())
        assert int(status["SigBlk"], 16) == 0, status["SigBlk"]
        assert status["Name"] == "traceexec-expor"  # ps and top show it for what it is
        assert os.getsid(pid) == pid  # a session of its own
        os.kill(pid, signal.SIGTERM)
        assert harness_wait(lambda: not _alive(pid), timeout=20)
        assert "stopped by signal 15" in (home / "exporter.log").read_text()
        assert limit.count_spans(spool.pending(directory)) == 1
    finally:
        hole.close()
