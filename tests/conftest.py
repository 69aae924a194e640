"""Shared fixtures: a private TRACEEXEC_HOME, the real binary, a real receiver."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRACEEXEC = [sys.executable, "-m", "traceexec"]
BIN_DIR = os.path.dirname(sys.executable)
# tests/delivery/test_export.py's fakes (Listener, TlsServer, FakeCollector, make_record...)
# serve the reliability suite too: importable whichever test file runs first or alone.
sys.path.insert(0, os.path.join(ROOT, "tests", "delivery"))

# A suite started in the background by a shell without job control (`cmd &` in a script,
# nohup) inherits SIGINT, SIGQUIT and SIGHUP ignored, and so would every process a test
# starts: bare ssh and make then outlive the SIGINT a test sends them, and comparisons with
# bare compare nothing. The tests start their processes as a terminal or a CI runner does.
import signal  # noqa: E402
signal.signal(signal.SIGINT, signal.default_int_handler)
for _number in (signal.SIGQUIT, signal.SIGHUP):
    signal.signal(_number, signal.SIG_DFL)


def traceexec_env(home, **extra):
    """An environment for running traceexec: private home, no inherited OTEL/trace context."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OTEL_") and k not in ("TRACEPARENT", "TRACESTATE", "BAGGAGE")
           and not k.startswith("TRACEEXEC_")}
    env["TRACEEXEC_HOME"] = str(home)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", os.defpath)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """DAG files loaded in the tests' own process keep their parsed trees
    (``dag/parsecache.py``) here, not in the user's ~/.cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def signal_state_kept():
    """A test leaves the process's signal mask and handlers as it found them: every process
    a later test starts inherits the mask (and ignored signals), so a leak makes some other
    test fail, far from its cause."""
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    numbers = sorted(signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP})
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    handlers = {number: signal.getsignal(number) for number in numbers}
    yield
    now_mask = signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    changed = {number: signal.getsignal(number) for number in numbers
               if signal.getsignal(number) != handlers[number]}
    for number, handler in handlers.items():
        if number in changed and handler is not None:
            signal.signal(number, handler)
    assert now_mask == mask and not changed, "the test left blocked %s and handlers %s" % (
        sorted(signal.Signals(n).name for n in now_mask - mask), changed)


@pytest.fixture
def home(tmp_path):
    """A fresh TRACEEXEC_HOME for the wrapper under test."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(home):
    return traceexec_env(home)


def run_traceexec(args, env, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("timeout", 60)
    return subprocess.run(TRACEEXEC + list(args), env=env, **kwargs)


SMALL_LAUNCHER = """
import os, sys
with open(sys.argv[1], "wb") as out:
    pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1)])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def run_measured(args, env, output, timeout=300) -> tuple:
    """(exit status, peak RSS in MiB, stderr) of one run of the real CLI with its stdout in
    ``output``, started from a small launcher: on Linux a child's peak RSS starts at the
    RSS of the process it was started from (the old memory's high-water mark is carried
    over ``exec``), and a test worker that ran big tests before holds hundreds of MiB."""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", SMALL_LAUNCHER, str(output)]
                          + TRACEEXEC + list(args), env=env, capture_output=True, text=True,
                          timeout=timeout)
    status, peak_kib = done.stdout.split()
    return int(status), int(peak_kib) / 1024, done.stderr


class Receiver:
    """``traceexec serve`` in another process, storing into its own home."""

    def __init__(self, tmp_path, extra_args=(), *, grpc_port=None, http_port=None):
        self.home = tmp_path / "receiver"
        self.home.mkdir(exist_ok=True)
        self.log = open(tmp_path / "receiver.log", "wb")
        # A free port can be taken by another process before serve binds it (the
        # machine is shared): then again with new ones, unless the test chose them.
        for attempt in range(1 if grpc_port or http_port else 5):
            self.grpc_port = grpc_port or free_port()
            self.http_port = http_port or free_port()
            if self._start(extra_args):
                return
        raise RuntimeError("traceexec serve exited: %s" % self.read_log())

    def _start(self, extra_args) -> bool:
        """Start serve; False when it found a port taken (said in its log)."""
        self.log.seek(0)
        self.log.truncate()
        self.proc = subprocess.Popen(
            TRACEEXEC + ["serve", "--grpc", "127.0.0.1:%d" % self.grpc_port,
                         "--http", "127.0.0.1:%d" % self.http_port,
                         "--web", "127.0.0.1:0"] + list(extra_args),  # viewer: any free port
            env=traceexec_env(self.home), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "cannot listen on" in self.read_log():
                    return False
                raise RuntimeError("traceexec serve exited: %s" % self.read_log())
            if all(self._is_open(p) for p in (self.grpc_port, self.http_port)):
                return True
            time.sleep(0.05)
        raise RuntimeError("traceexec serve did not listen: %s" % self.read_log())

    @staticmethod
    def _is_open(port):
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    def read_log(self):
        return (self.log.name and open(self.log.name, "rb").read().decode(errors="replace"))

    @property
    def web_url(self):
        """The web viewer's address, as ``serve`` announced it."""
        import re
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"web viewer on (http://\S+/)", self.read_log())
            if found:
                return found.group(1)
            time.sleep(0.05)
        raise RuntimeError("no web viewer: %s" % self.read_log())

    @property
    def grpc_endpoint(self):
        return "127.0.0.1:%d" % self.grpc_port

    @property
    def http_endpoint(self):
        return "http://127.0.0.1:%d/v1/traces" % self.http_port

    def spans(self, trace_id=None):
        """Span records received (all traces, or one)."""
        from traceexec.store import local as store
        ids = [trace_id] if trace_id else store.trace_ids(str(self.home))
        records = []
        for tid in ids:
            try:
                records.extend(store.read(str(self.home), tid))
            except store.UnknownTrace:
                pass
        return records

    def wait_for(self, count, trace_id=None, timeout=30.0):
        """Wait until at least ``count`` spans arrived; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.spans(trace_id)
            if len(records) >= count or time.monotonic() > deadline:
                return records
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def receiver(tmp_path):
    """A real OTLP receiver (``traceexec serve``) on free loopback ports."""
    rec = Receiver(tmp_path)
    yield rec
    rec.stop()


@pytest.fixture(scope="module")
def module_receiver(tmp_path_factory):
    """One receiver for a whole table of cases, each finding its spans by its own
    trace id (starting ``serve`` per case would cost the table seconds)."""
    rec = Receiver(tmp_path_factory.mktemp("receiver"))
    yield rec
    rec.stop()


def spans_by_name(spans) -> dict:
    """Span records grouped by name: {name: [record, ...]}."""
    found = {}
    for record in spans:
        found.setdefault(record["name"], []).append(record)
    return found


def only_trace(home) -> list:
    """The span records of the one trace in ``home``'s local store."""
    from traceexec.store import local as store
    ids = store.trace_ids(str(home))
    assert len(ids) == 1, ids
    return store.read(str(home), ids[0])


def _ptrace_refusal():
    """Why strace cannot trace here (ptrace refused, e.g. in a container), or None.

    A missing strace is no reason to skip: scripts/test installs it.
    """
    import shutil
    from traceexec.processes import tracer
    strace = shutil.which("strace")
    if strace is None:
        return None
    try:
        tracer.probe(strace, os.environ)
    except tracer.NotTraceable as error:
        return str(error)
    return None


PTRACE_REFUSAL = _ptrace_refusal()
needs_ptrace = pytest.mark.skipif(PTRACE_REFUSAL is not None,
                                  reason="ptrace is refused here: %s" % PTRACE_REFUSAL)
"""For tests of ``--processes`` that need strace to trace (the fallback tests do not)."""
