"""Shared pieces of the benchmarks: collectors to talk to, and timing a child process."""
from __future__ import annotations

import contextlib
import marshal
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRACEEXEC = [sys.executable, "-m", "traceexec"]


def plain_interpreter(folder: str) -> str:
    """A Python like a user's after ``pip install .``: the project's code compiled, and no
    editable-install hook in ``site`` (that hook imports pathlib, about 10 ms per start,
    which would make every ratio look better than it is).

    A bare venv whose one ``.pth`` line-list puts this checkout and the project venv's
    site-packages on ``sys.path``; the package is byte-compiled first, as pip would.
    """
    import compileall
    import sysconfig
    import venv
    target = os.path.join(folder, "plain-venv")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    python = os.path.join(target, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "traceexec-bench.pth"), "w") as handle:
        handle.write("%s\n%s\n" % (ROOT, sysconfig.get_paths()["purelib"]))
    compileall.compile_dir(os.path.join(ROOT, "traceexec"), quiet=1)
    return python


def installed_script(python: str) -> str:
    """``traceexec`` as ``pip install .`` leaves it in the venv of ``python``: the
    package (compiled) in its site-packages and ``bin/traceexec`` beside the
    interpreter, its ``#!`` line naming that interpreter (as pip rewrites it)."""
    import compileall
    import shutil
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    package = os.path.join(site, "traceexec")
    shutil.copytree(os.path.join(ROOT, "traceexec"), package,
                    ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    compileall.compile_dir(package, quiet=1)
    script = os.path.join(os.path.dirname(python), "traceexec")
    with open(os.path.join(ROOT, "bin", "traceexec")) as source:
        text = source.read()
    with open(script, "w") as installed:
        installed.write("#!%s\n%s" % (python, text.split("\n", 1)[1]))
    os.chmod(script, 0o755)
    return script


@contextlib.contextmanager
def work_folder(prefix="traceexec-bench-"):
    """A temporary folder for homes and stores, removed at the end after the exporters
    that wrappers detached into it (one per spool destination, its pid in the
    destination's ``lock``) are stopped: one still retrying a dead collector would
    otherwise write into the folder while it is being removed."""
    import shutil
    import signal
    import tempfile
    folder = tempfile.mkdtemp(prefix=prefix)
    try:
        yield folder
    finally:
        pids = []
        for parent, _, names in os.walk(folder):
            if "lock" in names and os.path.basename(os.path.dirname(parent)) == "spool":
                with contextlib.suppress(OSError, ValueError, IndexError):  # no pid: none
                    with open(os.path.join(parent, "lock")) as handle:
                        pids.append(int(handle.read().split()[0]))
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        while pids and time.monotonic() < deadline:
            pids = [pid for pid in pids if _alive(pid)]
            time.sleep(0.02)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child (a subreaper's)
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(home=None, checkout=True, **extra) -> dict:
    """The environment for a measured run: no inherited OTEL/trace settings.  With
    ``checkout`` the checkout comes first on ``PYTHONPATH``; without it (the installed
    script of ``installed_script``, and the interpreter it is compared with) nothing is
    added, so the package is found where pip put it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "TRACEEXEC_"))
           and k not in ("TRACEPARENT", "TRACESTATE", "BAGGAGE", "PYTHONPATH")}
    if checkout:
        env["PYTHONPATH"] = ROOT + (os.pathsep + os.environ["PYTHONPATH"]
                                    if os.environ.get("PYTHONPATH") else "")
    if home is not None:
        env["TRACEEXEC_HOME"] = str(home)
    env.update(extra)
    return env


def wait_listening(port, proc, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("%s exited with status %s" % (what, proc.returncode))
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("%s did not listen on port %d" % (what, port))


class Collector:
    """A collector process on a loopback gRPC port: ``traceexec serve`` or rotel."""

    def __init__(self, kind, folder):
        self.kind = kind
        self.port = free_port()
        self.http_port = free_port()
        self.log = open(os.path.join(folder, kind + ".log"), "wb")
        if kind == "serve":
            home = os.path.join(folder, "receiver")
            os.makedirs(home, exist_ok=True)
            argv = TRACEEXEC + ["serve", "--grpc", "127.0.0.1:%d" % self.port,
                                "--http", "127.0.0.1:%d" % self.http_port]
            env = clean_env(home)
        elif kind == "rotel":
            import rotel
            argv = [os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"), "start",
                    "--otlp-grpc-endpoint", "127.0.0.1:%d" % self.port,
                    "--otlp-http-endpoint", "127.0.0.1:%d" % self.http_port,
                    "--exporter", "blackhole",
                    "--pid-file", os.path.join(folder, "rotel.pid"),
                    "--log-file", os.path.join(folder, "rotel.log")]
            env = dict(os.environ)
        elif kind == "blackhole":
            argv = [sys.executable, "-c", BLACK_HOLE, str(self.port)]
            env = dict(os.environ)
        else:
            raise ValueError(kind)
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_listening(self.port, self.proc, kind)

    @property
    def endpoint(self) -> str:
        return "127.0.0.1:%d" % self.port

    @property
    def http_endpoint(self) -> str:
        """Its OTLP/HTTP endpoint, as a URL."""
        return "http://127.0.0.1:%d/v1/traces" % self.http_port

    def stop(self):
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.proc.kill()  # no-op when it has exited
        self.proc.wait()
        self.log.close()


BLACK_HOLE = """
import socket, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen(128)
held = []
while True:
    held.append(sock.accept()[0])  # accepted, never answered
"""


LAUNCHER = """
import marshal, os, resource, sys, time
rusage_unit = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0
reap = sys.argv[1:] == ["reap"]
if reap:  # PR_SET_CHILD_SUBREAPER: orphans (strace -D's tracer) come back to be counted
    import ctypes
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
           (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
           (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
requests, replies = os.fdopen(0, "rb"), os.fdopen(1, "wb")
while True:
    try:
        path, argv, env = marshal.load(requests)
    except EOFError:
        break
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    pid = os.posix_spawn(path, argv, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    try:
        while reap:  # until every descendant has ended and its CPU is counted
            os.waitpid(-1, 0)
    except ChildProcessError:
        pass
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(after, f) - getattr(before, f) for f in ("ru_utime", "ru_stime"))
    marshal.dump((wall, usage.ru_maxrss / rusage_unit, os.waitstatus_to_exitcode(status), cpu),
                 replies)
    replies.flush()
"""


class Launcher:
    """Starts measured commands from a small, idle process.

    A child's ru_maxrss starts at the RSS of the process it was started from
    (Linux carries the old memory's high-water mark over ``exec``), so a
    benchmark process full of results would inflate every figure.  The
    launcher stays at a few MiB; the ``true`` row shows that floor.
    """

    def __init__(self, reap=False):
        """``reap``: also wait for every descendant of each run (orphans included) and
        count their CPU (``run_cpu``)."""
        self.proc = subprocess.Popen([sys.executable, "-S", "-I", "-c", LAUNCHER]
                                     + (["reap"] if reap else []),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, argv, env):
        """(wall seconds, peak RSS in MiB, exit status) of one run of ``argv``."""
        return self.run_cpu(argv, env)[:3]

    def run_cpu(self, argv, env):
        """(wall seconds, peak RSS in MiB, exit status, CPU seconds of what it started)."""
        path = argv[0] if os.sep in argv[0] else _which(argv[0])
        marshal.dump((path, list(argv), dict(env)), self.proc.stdin)
        self.proc.stdin.flush()
        return marshal.load(self.proc.stdout)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def _which(name):
    import shutil
    found = shutil.which(name)
    if found is None:
        raise SystemExit("%s not found" % name)
    return found


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def interleaved(launcher, cases, command, env, runs, title, clean=None) -> dict:
    """{case name: [wall seconds, ...]} of ``runs`` rounds of every (name, prefix) in
    ``cases`` running ``prefix + command``; each round starts with another case, so
    that no case always runs first.  ``clean`` (argv) runs before each run."""
    times = {name: [] for name, _ in cases}
    for round_ in range(runs):
        shift = round_ % len(cases)
        for name, prefix in cases[shift:] + cases[:shift]:
            if clean:
                subprocess.run(clean, env=env, check=True, stdout=subprocess.DEVNULL)
            wall, _, status = launcher.run(prefix + command, env)
            if status != 0:
                raise SystemExit("%s: %s exited %d" % (title, name, status))
            times[name].append(wall)
    return times


def print_ratios(cases, times, reference, label) -> None:
    """A table of the median of each case, against ``bare`` and against ``reference``."""
    bare = median(times["bare"])
    other = median(times[reference])
    print("| case | median s | vs bare | vs %s |" % label)
    print("|---|---:|---:|---:|")
    for name, _ in cases:
        value = median(times[name])
        print("| %s | %.3f | %.2fx | %.2fx |" % (name, value, value / bare, value / other))


def side_by_side(workloads, cases, env, runs, reference, label, verdict) -> None:
    """Each (title, command, clean) of ``workloads`` run under every case, interleaved;
    a ratio table each (``print_ratios`` against ``reference``), then one line per
    workload: ``verdict(times)``."""
    launcher = Launcher()
    print("%d run(s) of each, interleaved (rotating which goes first); median wall seconds;"
          " spans to the local store" % runs)
    verdicts = []
    try:
        for letter, (title, command, clean) in zip("abcdefgh", workloads):
            times = interleaved(launcher, cases, command, env, runs, title, clean)
            print("\n(%s) %s" % (letter, title))
            print_ratios(cases, times, reference, label)
            verdicts.append("%s: %s" % (title, verdict(times)))
    finally:
        launcher.close()
    print()
    for line in verdicts:
        print(line)


def load_note() -> str:
    """The line each benchmark ends with: the load average while it measured."""
    load = os.getloadavg()
    return "load average while measuring: %.2f %.2f %.2f on %d CPUs" % (
        load[0], load[1], load[2], os.cpu_count() or 0)


def instructions(argv, env) -> int:
    """Instructions callgrind counts in the process ``argv`` starts, its children apart."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           "--trace-children=no"] + argv, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit("%s exited %d under callgrind: %s"
                         % (argv, done.returncode, done.stderr[-500:]))
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise SystemExit("no instruction count from callgrind for %s" % argv)
