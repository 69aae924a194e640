"""Scenarios of the reliability suite, run small by tests/reliability and full size by stress/.

Each scenario runs the real ``traceexec`` binary (and its detached exporter)
against a real receiver (``traceexec serve``) and returns its figures as a
dict: spans sent, received, lost, duplicated, outcomes changed, seconds,
exporter peak RSS.  Nothing here asserts; the callers decide what must hold.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import re
import subprocess
import threading
import time

import conftest
from conftest import TRACEEXEC, Receiver, traceexec_env
from traceexec.delivery import drain, marks, span, spool
from traceexec.store import local as store

PARENT_SPAN = "00f067aa0ba902b7"
OUTCOMES = 5  # command i exits with i % OUTCOMES


def new_trace_id() -> str:
    return os.urandom(16).hex()


def traceparent(trace_id, span_id=PARENT_SPAN) -> str:
    return "00-%s-%s-01" % (trace_id, span_id)


@contextlib.contextmanager
def ports(*chosen):
    """Within the block, Receiver listens on ``chosen`` ports (a restart keeps its address)."""
    original = conftest.free_port
    queue = iter(chosen)
    conftest.free_port = lambda: next(queue)
    try:
        yield
    finally:
        conftest.free_port = original


def receiver_at(folder, grpc_port, http_port) -> Receiver:
    """A receiver storing under ``folder`` that listens on the given ports."""
    os.makedirs(folder, exist_ok=True)
    with ports(grpc_port, http_port):
        return Receiver(pathlib.Path(folder))


def received(receiver_homes, trace_id=None) -> list:
    """Every span record stored by the receivers, re-deliveries included."""
    records = []
    for home in receiver_homes:
        ids = [trace_id] if trace_id else store.trace_ids(str(home))
        for tid in ids:
            try:
                documents = list(store.documents(str(home), tid))
            except store.UnknownTrace:
                continue
            for document in documents:
                records.extend(span.from_otlp_json(document))
    return records


def tally(expected: set, records: list) -> dict:
    """Sent, received, lost, duplicated and unexpected spans; ``expected`` holds span ids."""
    seen = [r["span_id"] for r in records if r["span_id"] in expected]
    unique = set(seen)
    return {"sent": len(expected), "received": len(seen), "lost": len(expected - unique),
            "duplicated": len(seen) - len(unique),
            "unexpected": len([r for r in records if r["span_id"] not in expected])}


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def spool_health(home) -> dict:
    """Spans left in the spool, stretches of unreadable bytes in pending files, bytes
    quarantined, spans set aside as dead letters, temporaries left behind."""
    from traceexec.delivery import frames
    root = spool.spool_root(str(home))
    figures = {"pending": 0, "unreadable": 0, "corrupt": 0, "dead": 0, "temporaries": 0}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            where = os.path.basename(folder)
            if where == drain.QUARANTINE:
                figures["corrupt"] += os.path.getsize(path)
            elif where == drain.DEAD:
                figures["dead"] += spool.count_file(path) if name == "spans.log" else 0
            elif name.endswith(spool.SUFFIX) or name == spool.CURRENT:
                try:
                    found, bad = frames.scan(spool.read_bytes(path))
                except OSError:
                    figures["unreadable"] += 1
                    continue
                figures["pending"] += len(found)
                figures["unreadable"] += len(bad)
            elif name.endswith(".tmp"):
                figures["temporaries"] += 1
    return figures


def flush(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(TRACEEXEC + ["flush"] + list(args), env=env, capture_output=True,
                          timeout=300)


class ExporterMemory:
    """Samples the resident memory of the exporters working for ``home`` (a thread)."""

    def __init__(self, home, interval=0.05):
        self.home = os.path.abspath(str(home))
        self.interval = interval
        self.samples = []  # (seconds since start, pid, rss bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _exporters(self):
        """The processes named in the destinations' lock files (an exporter writes its pid
        there), whether spawned (``_export``) or forked from a wrapper."""
        import psutil
        for folder, _, names in os.walk(os.path.join(self.home, "spool")):
            if "lock" not in names:
                continue
            try:
                with open(os.path.join(folder, "lock")) as handle:
                    pid = int(handle.read().strip() or 0)
                if pid and psutil.pid_exists(pid):  # not the lock itself: that would race it
                    yield psutil.Process(pid)
            except (OSError, ValueError, psutil.Error):
                continue

    def _run(self):
        import psutil
        while not self._stop.wait(self.interval):
            for proc in self._exporters():
                try:
                    rss = proc.memory_info().rss
                except psutil.Error:
                    continue
                self.samples.append((time.monotonic() - self.started, proc.pid, rss))

    def figures(self) -> dict:
        """Peak RSS, and the median RSS in the first and the last quarter of the run (MiB)."""
        if not self.samples:
            return {"exporter_peak_rss_mib": 0.0, "exporter_rss_first_mib": 0.0,
                    "exporter_rss_last_mib": 0.0, "exporter_processes": 0}
        end = self.samples[-1][0]
        first = sorted(s[2] for s in self.samples if s[0] <= end / 4)
        last = sorted(s[2] for s in self.samples if s[0] >= end * 3 / 4)
        mib = 1024 * 1024
        return {"exporter_peak_rss_mib": round(max(s[2] for s in self.samples) / mib, 1),
                "exporter_rss_first_mib": round(first[len(first) // 2] / mib, 1) if first else 0,
                "exporter_rss_last_mib": round(last[len(last) // 2] / mib, 1) if last else 0,
                "exporter_processes": len({s[1] for s in self.samples})}


# --- load ---------------------------------------------------------------------

def _job_spans(records, trace_id) -> dict:
    return {r["name"]: r for r in records if r["trace_id"] == trace_id}


def _delivered(env, receiver, trace_id, expected_count, timeout):
    """Wait for ``expected_count`` spans of the trace; flush what is left; the records."""
    wait_until(lambda: len(receiver.spans(trace_id)) >= expected_count, timeout)
    flushed = flush(env)
    return received([receiver.home], trace_id), flushed.returncode


def _load_figures(expected_names, records, parent_of, statuses, started, home):
    """Figures for jobs named ``job-I`` that exit I % OUTCOMES, each a child of ``parent_of``."""
    by_name = {}
    for record in records:
        by_name.setdefault(record["name"], []).append(record)
    ids = {r["span_id"] for name in expected_names for r in by_name.get(name, [])}
    figures = tally(ids, [r for r in records if r["name"] in expected_names])
    figures["lost"] = len([n for n in expected_names if n not in by_name])
    figures["sent"] = len(expected_names)
    figures["wrong_parent"] = len([n for n in expected_names for r in by_name.get(n, [])
                                   if r["parent_span_id"] != parent_of])
    figures["wrong_exit_code"] = len([
        n for n in expected_names for r in by_name.get(n, [])
        if r["attributes"].get("process.exit.code") != int(n.split("-")[1]) % OUTCOMES])
    figures["outcome_changed"] = len([i for i, status in statuses.items()
                                      if status != i % OUTCOMES])
    figures["seconds"] = round(time.monotonic() - started, 2)
    figures.update(("spool_" + k, v) for k, v in spool_health(home).items())
    return figures


def concurrent_xargs(workdir, receiver, count, parallel=50, timeout=120) -> dict:
    """``count`` wrapped commands started by ``xargs -P parallel``, all children of one span."""
    home = os.path.join(str(workdir), "xargs-home")
    trace_id = new_trace_id()
    env = traceexec_env(home, TRACEPARENT=traceparent(trace_id),
                        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint)
    # Each job prints "I STATUS": the status traceexec exited with for job I.
    job = ('traceexec --name "job-$1" -- sh -c "exit $(($1 %% %d))"; echo "$1 $?"' % OUTCOMES)
    started = time.monotonic()
    result = subprocess.run(
        ["xargs", "-P", str(parallel), "-n", "1", "sh", "-c", job, "job"],
        input="".join("%d\n" % i for i in range(count)), env=env, capture_output=True,
        text=True, timeout=timeout + 60)
    statuses = dict(map(int, line.split()) for line in result.stdout.splitlines())
    statuses.update((i, -1) for i in range(count) if i not in statuses)
    records, _ = _delivered(env, receiver, trace_id, count, timeout)
    names = ["job-%d" % i for i in range(count)]
    figures = _load_figures(names, records, PARENT_SPAN, statuses, started, home)
    # the one line a wrapper says when its destination failed lately (a collector this
    # loaded can time out a request): not a changed outcome, and every span still arrives
    lines = result.stderr.splitlines()
    warned = [line for line in lines if "are not being delivered (since" in line]
    figures["delivery_warnings"] = len(warned)
    figures["stderr_lines"] = len(lines) - len(warned)
    figures["stderr_sample"] = [line for line in lines if line not in warned][:3]
    return figures


MAKEFILE = """\
SHELL := traceexec
.SHELLFLAGS = --name=$@ -c
JOBS := %s
all: $(JOBS)
job-%%:
\t@exit $$(( $* %% %d ))
.IGNORE: $(JOBS)
"""


def concurrent_make(workdir, receiver, count, jobs=50, timeout=120) -> dict:
    """``make -j jobs`` of ``count`` targets, its recipes run by traceexec under make's span."""
    home = os.path.join(str(workdir), "make-home")
    folder = os.path.join(str(workdir), "make")
    os.makedirs(folder, exist_ok=True)
    names = ["job-%d" % i for i in range(count)]
    with open(os.path.join(folder, "Makefile"), "w") as handle:
        handle.write(MAKEFILE % (" ".join(names), OUTCOMES))
    trace_id = new_trace_id()
    env = traceexec_env(home, TRACEPARENT=traceparent(trace_id),
                        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint)
    started = time.monotonic()
    result = subprocess.run(TRACEEXEC + ["--name", "make", "--", "make", "-s", "-j", str(jobs)],
                            cwd=folder, env=env, capture_output=True, text=True,
                            timeout=timeout + 60)
    records, _ = _delivered(env, receiver, trace_id, count + 1, timeout)
    make_spans = [r for r in records if r["name"] == "make"]
    make_span = make_spans[0]["span_id"] if make_spans else None
    # .IGNORE: make carries on past failing recipes and exits 0; the spans keep each status.
    statuses = {i: i % OUTCOMES for i in range(count)}
    figures = _load_figures(names, records, make_span, statuses, started, home)
    figures["outcome_changed"] += int(result.returncode != 0)
    figures["make_span_parent_ok"] = bool(make_spans) and make_spans[0]["parent_span_id"] == PARENT_SPAN
    return figures


def sequential(workdir, receiver, count, timeout=120) -> dict:
    """``count`` wrapped commands one after another; the exporter's memory sampled throughout."""
    home = os.path.join(str(workdir), "sequential-home")
    trace_id = new_trace_id()
    env = traceexec_env(home, TRACEPARENT=traceparent(trace_id),
                        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint)
    statuses = {}
    started = time.monotonic()
    with ExporterMemory(home) as memory:
        for i in range(count):
            statuses[i] = subprocess.run(
                ["traceexec", "--name", "job-%d" % i, "--", "sh", "-c", "exit %d" % (i % OUTCOMES)],
                env=env, stdin=subprocess.DEVNULL).returncode
        records, _ = _delivered(env, receiver, trace_id, count, timeout)
    figures = _load_figures(["job-%d" % i for i in range(count)], records, PARENT_SPAN,
                            statuses, started, home)
    figures.update(memory.figures())
    return figures


def dag_document(steps, max_active, endpoint, command="true") -> str:
    lines = ["name: load", "type: graph", "maxActiveSteps: %d" % max_active,
             "otel:", "  enabled: true", "  endpoint: %s" % endpoint, "steps:"]
    for i in range(steps):
        lines.append("  - name: s%d\n    command: %s" % (i, command))
    return "\n".join(lines) + "\n"


def dag_load(workdir, receiver, steps, max_active=16, timeout=120) -> dict:
    """A ``steps``-step DAG, ``max_active`` at a time, exporting to the receiver."""
    import json
    home = os.path.join(str(workdir), "dag-home")
    path = os.path.join(str(workdir), "load.yaml")
    with open(path, "w") as handle:
        handle.write(dag_document(steps, max_active, receiver.grpc_endpoint))
    env = traceexec_env(home)
    started = time.monotonic()
    result = subprocess.run(TRACEEXEC + ["run", "--json", "--quiet", path], env=env,
                            capture_output=True, text=True, timeout=timeout + 300)
    report = json.loads(result.stdout or "{}")
    trace_id = report.get("trace_id", "")
    ids = {s["span_id"] for s in report.get("steps", []) if s.get("span_id")}
    wait_until(lambda: len(receiver.spans(trace_id)) >= steps + 1, timeout)
    flush(env)
    records = received([receiver.home], trace_id)
    figures = tally(ids, records)
    figures["sent"] = steps
    figures["lost"] = steps - len({r["span_id"] for r in records if r["span_id"] in ids})
    dag_spans = [r for r in records if r["span_id"] not in ids]
    figures["dag_span"] = len(dag_spans)
    figures["unexpected"] = max(0, len(dag_spans) - 1)  # the one DAG span is expected
    figures["wrong_parent"] = len([r for r in records if r["span_id"] in ids and (
        not dag_spans or r["parent_span_id"] != dag_spans[0]["span_id"])])
    figures["outcome_changed"] = int(result.returncode != 0) + len(
        [s for s in report.get("steps", []) if s.get("exit_code") != 0])
    figures["seconds"] = round(time.monotonic() - started, 2)
    figures["tracebacks"] = result.stderr.count("Traceback")
    figures.update(("spool_" + k, v) for k, v in spool_health(home).items())
    return figures


# --- faults -------------------------------------------------------------------

def run_many(env, count, parallel, command=("true",), extra=()) -> dict:
    """``count`` wrappers, ``parallel`` at a time; {i: (exit status, seconds, stderr)}."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        started = time.monotonic()
        proc = subprocess.run(
            TRACEEXEC + list(extra) + ["--name", "job-%d" % i, "--", "sh", "-c",
                                       "exit %d" % (i % OUTCOMES)],
            env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
        return i, (proc.returncode, time.monotonic() - started, proc.stderr)

    with ThreadPoolExecutor(parallel) as pool:
        return dict(pool.map(one, range(count)))


def collector_down_then_up(workdir, count, parallel=8) -> dict:
    """Every span recorded while the collector is down, then delivered by ``traceexec flush``."""
    grpc_port, http_port = conftest.free_port(), conftest.free_port()
    home = os.path.join(str(workdir), "down-home")
    trace_id = new_trace_id()
    env = traceexec_env(home, TRACEPARENT=traceparent(trace_id),
                        OTEL_EXPORTER_OTLP_ENDPOINT="127.0.0.1:%d" % grpc_port)
    started = time.monotonic()
    results = run_many(env, count, parallel, extra=["--export-timeout", "1s"])
    receiver = receiver_at(os.path.join(str(workdir), "down-receiver"), grpc_port, http_port)
    try:
        flushed = flush(env)
        records = received([receiver.home], trace_id)
    finally:
        receiver.stop()
    figures = _load_figures(["job-%d" % i for i in range(count)], records, PARENT_SPAN,
                            {i: r[0] for i, r in results.items()}, started, home)
    figures["flush_status"] = flushed.returncode
    lines = [l for r in results.values() for l in r[2].decode(errors="replace").splitlines()]
    # the one line a destination's problem is worth (per TRACEEXEC_WARN_INTERVAL) counts apart
    problems = [l for l in lines if "are not being delivered" in l]
    figures["problem_lines"] = len(problems)
    figures["wrapper_stderr_lines"] = len(lines) - len(problems)
    return figures


def black_hole(workdir, count, export_timeout=1.0, parallel=4) -> dict:
    """Wrappers against a collector that accepts TCP and never answers.

    Without ``--wait`` a wrapper does not wait for the collector at all; with
    ``--wait`` it waits at most the export timeout.
    """
    from test_export import Listener
    hole = Listener()
    figures = {"export_timeout_s": export_timeout}
    try:
        for wait in (False, True):
            home = os.path.join(str(workdir), "hole-home-%s" % ("wait" if wait else "nowait"))
            env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT="127.0.0.1:%d" % hole.port)
            extra = ["--export-timeout", "%gs" % export_timeout] + (["--wait"] if wait else [])
            results = run_many(env, count, parallel, extra=extra)
            key = "wait" if wait else "nowait"
            figures["max_seconds_" + key] = round(max(r[1] for r in results.values()), 2)
            figures["outcome_changed_" + key] = len(
                [i for i, r in results.items() if r[0] != i % OUTCOMES])
            figures["spool_pending_" + key] = spool_health(home)["pending"]
    finally:
        hole.close()
    return figures


def kill_mid_export(workdir, files, per_file=100) -> dict:
    """The collector SIGKILLed during an export, then the exporter SIGKILLed mid-batch.

    Every span is delivered afterwards (``traceexec flush``), duplicates counted.
    """
    import signal
    from test_export import make_record, spool_for
    grpc_port, http_port = conftest.free_port(), conftest.free_port()
    endpoint = "127.0.0.1:%d" % grpc_port
    home = os.path.join(str(workdir), "kill-home")
    receivers = [receiver_at(os.path.join(str(workdir), "kill-receiver-1"), grpc_port, http_port)]
    directory = spool_for(home, endpoint, environ={"OTEL_EXPORTER_OTLP_TIMEOUT": "1000"})
    expected = set()
    figures = {}

    def fill(offset):
        for n in range(files):
            records = [make_record(offset + n * per_file + i) for i in range(per_file)]
            for record in records:
                record["span_id"] = os.urandom(8).hex()
                expected.add(record["span_id"])
            spool.write(directory, records)

    def stored_bytes():  # cheap enough to poll every few milliseconds
        return sum(os.path.getsize(os.path.join(folder, name)) for r in receivers
                   for folder, _, names in os.walk(str(r.home)) for name in names)

    def poll(predicate):
        deadline = time.monotonic() + 60
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.002)

    try:
        # 1. the collector dies while the exporter is sending
        fill(0)
        exporter = spool.start_exporter(directory, {})
        poll(lambda: stored_bytes() > 0)
        receivers[0].proc.send_signal(signal.SIGKILL)
        receivers[0].stop()
        figures["left_after_collector_kill"] = spool_health(home)["pending"]
        os.waitpid(exporter, 0)  # it gives up after its export timeout and backs off
        receivers.append(receiver_at(os.path.join(str(workdir), "kill-receiver-2"),
                                     grpc_port, http_port))
        # 2. more spans; the exporter is killed mid-batch
        fill(10 ** 7)
        marks.clear_backoff(directory)
        exporter = spool.start_exporter(directory, {})
        before = stored_bytes()
        poll(lambda: stored_bytes() > before)
        os.kill(exporter, signal.SIGKILL)
        os.waitpid(exporter, 0)
        figures["left_after_exporter_kill"] = spool_health(home)["pending"]
        flushed = flush(traceexec_env(home))
        figures["flush_status"] = flushed.returncode
        figures.update(tally(expected, received([r.home for r in receivers])))
        figures.update(("spool_" + k, v) for k, v in spool_health(home).items())
    finally:
        for receiver in receivers:
            receiver.stop()
    return figures


def sigkill_wrappers(workdir, count) -> dict:
    """Wrappers SIGKILLed while their commands run: orphans left, and the spool's health."""
    import signal
    import psutil
    home = os.path.join(str(workdir), "sigkill-home")
    marker = os.urandom(8).hex()
    env = traceexec_env(home, TRACEEXEC_TEST_MARK=marker,
                        OTEL_EXPORTER_OTLP_ENDPOINT="127.0.0.1:%d" % conftest.free_port())
    wrappers = [subprocess.Popen(TRACEEXEC + ["--", "sleep", "300"], env=env,
                                 stdin=subprocess.DEVNULL) for _ in range(count)]

    def marked():
        found = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.environ().get("TRACEEXEC_TEST_MARK") == marker:
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    wait_until(lambda: len([p for p in marked() if p.name() == "sleep"]) >= count, 60)
    # and short wrappers killed at random moments, some while writing the spool
    short = []
    for i in range(count):
        proc = subprocess.Popen(TRACEEXEC + ["--", "true"], env=env, stdin=subprocess.DEVNULL)
        time.sleep((i % 10) / 200)
        short.append(proc)
    for proc in wrappers + short:
        proc.send_signal(signal.SIGKILL)
    for proc in wrappers + short:
        proc.wait()
    orphans = wait_until(lambda: [p for p in marked() if p.name() == "sleep"] == [], 15)
    left = [p for p in marked() if p.name() == "sleep"]
    for proc in left:
        proc.kill()
    health = spool_health(home)
    return {"killed": 2 * count, "orphans": len(left) if not orphans else 0,
            "spool_unreadable": health["unreadable"], "spool_corrupt": health["corrupt"],
            "spool_temporaries": health["temporaries"]}


# --- secrets -------------------------------------------------------------------

def find_secret(secret: bytes, outputs=(), roots=()) -> list:
    """Where ``secret`` occurs: indexes of ``outputs``, and files (or files under) ``roots``."""
    places = ["output %d" % i for i, out in enumerate(outputs) if secret in out]
    for root in roots:
        paths = [str(root)] if os.path.isfile(str(root)) else [
            os.path.join(folder, name) for folder, _, files in os.walk(str(root)) for name in files]
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    if secret in handle.read():
                        places.append(path)
            except OSError:
                continue
    return places


TRACEBACK = re.compile(rb"Traceback \(most recent call last\)")


def _run(args, env, **kwargs):
    kwargs.setdefault("timeout", 120)
    return subprocess.run(list(args), env=env, capture_output=True, stdin=subprocess.DEVNULL,
                          **kwargs)


def planted_token(workdir, receiver, token) -> dict:
    """Export header values carrying ``token``, given every way, to every kind of endpoint.

    Runs wrappers with ``--verbose`` and DAGs against the receiver, a collector
    that is down, endpoints that are wrong and a TLS server with a wrong CA, then
    ``flush`` and ``show``; returns where ``token`` was found in anything written.
    """
    from test_export import TlsServer, make_certificate
    workdir = str(workdir)
    home = os.path.join(workdir, "secret-home")
    header = "authorization=Bearer " + token
    down = "127.0.0.1:%d" % conftest.free_port()
    cert, key = make_certificate(workdir, "server")
    other_ca, _ = make_certificate(workdir, "other")
    tls = TlsServer(cert, key)
    base = traceexec_env(home)
    as_variable = dict(base, OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20" + token +
                       ",x-api-key=" + token)
    wrapper = TRACEEXEC + ["-v", "--export-timeout", "1s"]
    runs = []
    try:
        for endpoint in (receiver.grpc_endpoint, receiver.http_endpoint, down,
                         "https://127.0.0.1:%d" % tls.port, "no-such-host.invalid:4317",
                         "not an endpoint"):
            runs.append(_run(wrapper + ["--wait", "--endpoint", endpoint, "--header", header,
                                        "--", "true"], base))
            runs.append(_run(wrapper + ["--wait", "--", "true"], dict(
                as_variable, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                OTEL_EXPORTER_OTLP_CERTIFICATE=other_ca)))
        runs.append(_run(wrapper + ["--", "true"], dict(base, OTEL_EXPORTER_OTLP_ENDPOINT=down,
                                                        OTEL_EXPORTER_OTLP_HEADERS=token)))
        for endpoint, insecure in ((receiver.grpc_endpoint, "true"), (down, "true"),
                                   ("https://127.0.0.1:%d" % tls.port, "false")):
            path = os.path.join(workdir, "secret-%d.yaml" % len(runs))
            with open(path, "w") as handle:
                handle.write(
                    "otel:\n  enabled: true\n  endpoint: %s\n  insecure: %s\n  timeout: 1s\n"
                    "  headers:\n    Authorization: \"Bearer %s\"\n    X-From-Env: ${API_TOKEN}\n"
                    "steps:\n  - name: step\n    command: echo step\n"
                    "  - name: inner\n    command: traceexec -v --name inner -- true\n"
                    % (endpoint, insecure, token))
            runs.append(_run(TRACEEXEC + ["run", path], dict(base, API_TOKEN=token)))
            runs.append(_run(TRACEEXEC + ["run", "--dry-run", path], dict(base, API_TOKEN=token)))
            runs.append(_run(TRACEEXEC + ["validate", path], dict(base, API_TOKEN=token)))
        time.sleep(1.5)  # the detached exporters fail and write their log
        for args in (["flush"], ["flush", "--json", "--export-timeout", "1s"],
                     ["flush", "--endpoint", down, "--header", header, "--export-timeout", "1s"]):
            runs.append(_run(TRACEEXEC + args, base))
        for args in (["show", "--list"], ["show", "last"], ["show", "last", "--json"]):
            runs.append(_run(TRACEEXEC + args, base))
            runs.append(_run(TRACEEXEC + args, traceexec_env(receiver.home)))
    finally:
        tls.close()
    outputs = [r.stdout for r in runs] + [r.stderr for r in runs]
    places = find_secret(token.encode(), outputs, [home, receiver.home, receiver.log.name])
    return {"runs": len(runs), "secrets_found": len(places), "places": places,
            "tracebacks": sum(len(TRACEBACK.findall(out)) for out in outputs),
            "received": len(received([receiver.home]))}


def refusing_server(status, as_json=False):
    """An OTLP/HTTP server that refuses every request with ``status`` and quotes the
    request's credentials back in its error (as careless servers do): 401 and 403
    cannot be had from the real receivers."""
    import json
    from test_export import FakeCollector

    def answer(headers, body):
        quoted = "invalid credentials %r for %s" % (headers.get("Authorization"),
                                                    headers.get("X-Api-Key"))
        return status, (json.dumps({"message": quoted}) if as_json else quoted).encode()
    return FakeCollector(answer, "application/json" if as_json else "text/plain")


def token_values(token: str) -> list:
    """Header values carrying ``token`` in the shapes that leaked before: a CRLF file's
    line, surrounding spaces, quotes, non-ASCII text, a line break inside."""
    return ["Bearer %s\r\n" % token, "  %s  " % token, '"%s"' % token,
            "Bearer %s-caf\u00e9-\u2713" % token, "%s\r" % token, "Bearer %s\nsecond" % token]


def token_forms(token: str) -> list:
    """Every way ``token`` (and the non-ASCII value around it) may be printed."""
    from traceexec.delivery.scrubber import _forms
    forms = set()
    for value in (token, "%s-caf\u00e9-\u2713" % token):
        forms.update(_forms(value))
    return sorted(f.encode("utf-8", "surrogateescape") for f in forms if len(f) >= 8)


def planted_token_variants(workdir, receiver, token, full=True) -> dict:
    """Each of ``token_values`` as ``--header`` and as OTEL_EXPORTER_OTLP_HEADERS, to the
    receiver (gRPC, HTTP), a collector that is down, a TLS server with the wrong CA, an
    unknown host, and servers answering 401 and 403 with the credentials quoted back;
    then ``flush`` (text and JSON, with the header given again) and the exporter's log.
    Returns where any form of the token (``token_forms``) was found.  Not ``full``:
    each value one way, to fewer endpoints (the CI size)."""
    from test_export import TlsServer, make_certificate
    from urllib.parse import quote
    workdir = str(workdir)
    home = os.path.join(workdir, "variants-home")
    cert, key = make_certificate(workdir, "variants-server")
    other_ca, _ = make_certificate(workdir, "variants-other")
    tls = TlsServer(cert, key)
    refusing = [refusing_server(401), refusing_server(403, as_json=True)]
    base = traceexec_env(home, OTEL_EXPORTER_OTLP_CERTIFICATE=other_ca)
    endpoints = [receiver.grpc_endpoint, receiver.http_endpoint,
                 "127.0.0.1:%d" % conftest.free_port(), "https://127.0.0.1:%d" % tls.port,
                 "no-such-host.invalid:4317"] + [r.endpoint for r in refusing]
    if not full:
        endpoints = endpoints[1:4] + endpoints[5:]
    runs = []
    try:
        for number, value in enumerate(token_values(token)):
            for endpoint in endpoints:
                if full or number % 2 == 0:
                    runs.append(_run(TRACEEXEC + ["-v", "--wait", "--export-timeout", "1s",
                                                  "--endpoint", endpoint, "--header",
                                                  "authorization=" + value, "--", "true"], base))
                if full or number % 2 == 1:
                    runs.append(_run(TRACEEXEC + ["-v", "--export-timeout", "1s", "--", "true"],
                                     dict(base, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                                          OTEL_EXPORTER_OTLP_HEADERS="x-api-key=%s" % quote(
                                              value, safe=""))))
        time.sleep(1.5)  # the detached exporters fail and write their log
        for endpoint in endpoints[2:] if full else endpoints[1:2] + endpoints[-2:]:
            for value in token_values(token)[:2]:
                for extra in ([], ["--json"]):
                    runs.append(_run(TRACEEXEC + ["flush", "--export-timeout", "1s",
                                                  "--endpoint", endpoint, "--header",
                                                  "authorization=" + value] + extra, base))
    finally:
        tls.close()
        for server in refusing:
            server.close()
    outputs = [r.stdout for r in runs] + [r.stderr for r in runs]
    places = []
    for form in token_forms(token):
        places.extend("%s: %r" % (place, form) for place in find_secret(
            form, outputs, [home, receiver.home, receiver.log.name]))
    log = os.path.join(home, "exporter.log")
    logged = open(log, "rb").read() if os.path.exists(log) else b""
    return {"runs": len(runs), "secrets_found": len(places), "places": places,
            "tracebacks": sum(len(TRACEBACK.findall(out)) for out in outputs),
            "refusals_logged": logged.count(b"HTTP 401") + logged.count(b"HTTP 403"),
            "received": len(received([receiver.home]))}


# --- delivery faults: full disk, long outages, poison, killed exporters, hostile cwd ----

def log_tracebacks(home) -> int:
    """Python tracebacks in ``home``'s exporter.log (there must be none: every failure
    is one line)."""
    path = os.path.join(str(home), "exporter.log")
    try:
        with open(path, "rb") as handle:
            return len(TRACEBACK.findall(handle.read()))
    except OSError:
        return 0


def _rlimit_fsize(limit):
    def apply():
        import resource
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def full_disk_moment(workdir, count, every=10) -> dict:
    """``count`` wrappers in a row while the collector is down; every ``every``-th runs
    out of file space in the middle of appending its span (RLIMIT_FSIZE just past the
    spool's size: a short write, then EFBIG, as on a disk that fills up).  Then the
    collector comes up and ``flush`` runs: only the spans that warned may be missing.

    Meanwhile the destination's exporter lock is held, as by an exporter at work, so no
    exporter claims ``current.log`` between the moment its size is read and the wrapper's
    append (a claim there would give the wrapper a fresh file, room enough for its span,
    and no warning)."""
    import fcntl
    from traceexec.delivery import config
    grpc_port, http_port = conftest.free_port(), conftest.free_port()
    home = os.path.join(str(workdir), "disk-home")
    trace_id = new_trace_id()
    env = traceexec_env(home, TRACEPARENT=traceparent(trace_id),
                        OTEL_EXPORTER_OTLP_ENDPOINT="127.0.0.1:%d" % grpc_port)
    cfg = config.resolve({"export_timeout": 1.0}, None, env)
    directory = os.path.join(spool.spool_root(cfg.home), spool.destination_id(cfg))
    spool.ensure_dir(directory)
    lock = os.open(os.path.join(directory, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    warned, outcome_changed, other_lines = set(), 0, 0
    for i in range(count):
        limit = None
        if i % every == every - 1:
            current = os.path.join(home, "spool")
            sizes = [os.path.getsize(os.path.join(folder, spool.CURRENT))
                     for folder, _, names in os.walk(current) if spool.CURRENT in names]
            limit = (sizes[0] if sizes else 0) + 40
        result = subprocess.run(
            TRACEEXEC + ["--export-timeout", "1s", "--name", "job-%d" % i, "--", "sh", "-c",
                         "echo out; exit %d" % (i % OUTCOMES)],
            env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
            preexec_fn=None if limit is None else _rlimit_fsize(limit))
        lines = result.stderr.decode(errors="replace").splitlines()
        if any("span not recorded" in line for line in lines):
            warned.add("job-%d" % i)
        other_lines += len([line for line in lines if "span not recorded" not in line])
        outcome_changed += int(result.returncode != i % OUTCOMES or result.stdout != b"out\n")
    os.close(lock)
    destinations = os.listdir(spool.spool_root(cfg.home))
    health_before = spool_health(home)
    receiver = receiver_at(os.path.join(str(workdir), "disk-receiver"), grpc_port, http_port)
    try:
        flushed = flush(env, "--json")
        records = received([receiver.home], trace_id)
    finally:
        receiver.stop()
    names = {r["name"] for r in records}
    expected = {"job-%d" % i for i in range(count)}
    import json
    report = json.loads(flushed.stdout or b"{}")
    return {"sent": count, "warned": len(warned), "delivered": len(names & expected),
            "lost": len(expected - warned - names), "quarantined_bytes":
            report.get("quarantined_bytes", 0), "outcome_changed": outcome_changed,
            "other_stderr_lines": other_lines, "flush_status": flushed.returncode,
            "torn_stretches_in_spool": health_before["unreadable"],
            "spool_pending": spool_health(home)["pending"], "tracebacks": log_tracebacks(home),
            "unlocked_destinations": len(set(destinations) - {os.path.basename(directory)})}


def long_outage(workdir, generations, backlog=20_000) -> dict:
    """A collector down for ``generations`` exporter starts (each one forced, as the
    backoff would allow over hours), a backlog growing meanwhile; then it comes back."""
    from test_export import make_record, spool_for
    grpc_port, http_port = conftest.free_port(), conftest.free_port()
    endpoint = "127.0.0.1:%d" % grpc_port
    home = os.path.join(str(workdir), "outage-home")
    directory = spool_for(home, endpoint)
    expected = set()

    def add(records):
        expected.update(r["span_id"] for r in records)
        spool.write(directory, records)

    for start in range(0, backlog, 1000):
        add([make_record(i) for i in range(start, start + 1000)])
    renamed, longest, backoff_missing, silent = 0, 0, 0, 0
    before = set()
    started = time.monotonic()
    for generation in range(generations):
        add([make_record(10 ** 7 + generation)])
        log_size = os.path.getsize(os.path.join(home, "exporter.log")) if os.path.exists(
            os.path.join(home, "exporter.log")) else 0
        pid = spool.start_exporter(directory, {}, force=True)
        os.waitpid(pid, 0)
        backoff_missing += int(spool.backoff_until(directory) <= time.time())
        silent += int(os.path.getsize(os.path.join(home, "exporter.log")) == log_size)
        names = {n for n in os.listdir(directory) if n.endswith(spool.SUFFIX)}
        renamed += len(before - names)
        longest = max([longest] + [len(n) for n in names])
        before = names
    outage_seconds = round(time.monotonic() - started, 2)
    receiver = receiver_at(os.path.join(str(workdir), "outage-receiver"), grpc_port, http_port)
    try:
        flushed = flush(traceexec_env(home))
        figures = tally(expected, received([receiver.home]))
    finally:
        receiver.stop()
    figures.update({"generations": generations, "files_renamed": renamed,
                    "longest_name": longest, "backoff_missing": backoff_missing,
                    "silent_failures": silent, "outage_seconds": outage_seconds,
                    "flush_status": flushed.returncode, "tracebacks": log_tracebacks(home),
                    "spool_pending": spool_health(home)["pending"]})
    return figures


def poison(workdir, receiver) -> dict:
    """Poison spans of each kind among good ones: a non-UTF-8 command (wrapper), an
    invalid trace id that ``serve`` refuses (gRPC and HTTP), a span too large for rotel
    (gRPC OUT_OF_RANGE).  Everything else must be delivered; the refused ones set aside."""
    import sys
    from test_export import make_record, spool_for
    sys.path.insert(0, os.path.join(conftest.ROOT, "tests", "integration"))
    from test_rotel import Rotel
    home = os.path.join(str(workdir), "poison-home")
    env = traceexec_env(home)
    figures = {"sent": 0, "delivered": 0, "set_aside": 0, "lost": 0, "outcome_changed": 0}
    # a command whose name and argument are not UTF-8, through the real wrapper
    script = os.path.join(os.fsencode(str(workdir)), b"poison-caf\xe9")
    with open(script, "wb") as handle:
        handle.write(b"#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o755)
    trace_id = new_trace_id()
    result = subprocess.run([os.fsencode(c) for c in TRACEEXEC] + [
        b"--wait", b"--endpoint", receiver.grpc_endpoint.encode(), b"--", script, b"\xff"],
        env=dict(env, TRACEPARENT=traceparent(trace_id)), capture_output=True, timeout=120)
    figures["outcome_changed"] += int(result.returncode != 0)
    got = wait_until(lambda: receiver.spans(trace_id), 30)
    figures["sent"] += 1
    figures["delivered"] += len(got)
    figures["non_utf8_recorded_escaped"] = int(bool(got) and got[0]["name"] == "poison-caf\\xe9")
    rotel = Rotel(str(workdir))
    try:
        cases = [(receiver.grpc_endpoint, make_record(1, trace_id="0" * 32)),
                 (receiver.http_endpoint, make_record(2, trace_id="0" * 32)),
                 ("127.0.0.1:%d" % rotel.grpc_port,
                  make_record(3, attributes={"output": "x" * (5 * 1024 * 1024)}))]
        good_names = set()
        for number, (endpoint, bad) in enumerate(cases):
            directory = spool_for(home, endpoint)
            records = [make_record(100 * number + i, name="good-%d-%d" % (number, i))
                       for i in range(50)]
            good_names.update(r["name"] for r in records)
            spool.write(directory, records[:25] + [bad] + records[25:])
            figures["sent"] += 51
        flushed = flush(env, "--json")
        import json
        report = json.loads(flushed.stdout or b"{}")
        figures["set_aside"] = report.get("dead_letters", 0)
        figures["flush_status"] = flushed.returncode
        figures["tracebacks"] = log_tracebacks(home) + len(TRACEBACK.findall(
            flushed.stderr + result.stderr))
        at_rotel = {s["name"] for s in rotel.spans()}
        at_serve = {r["name"] for r in received([receiver.home])}
        delivered = good_names & (at_rotel | at_serve)
        figures["delivered"] += len(delivered)
        figures["lost"] = len(good_names - delivered) + int(not got)
        reasons = "".join(open(os.path.join(folder, "reasons.log")).read()
                          for folder, _, names in os.walk(spool.spool_root(home))
                          if "reasons.log" in names)
        figures["reasons"] = sorted({word for word in ("INVALID_ARGUMENT", "HTTP 400",
                                                       "OUT_OF_RANGE") if word in reasons})
    finally:
        rotel.stop()
    return figures


def exporter_kill_loop(workdir, receiver, rounds, spans=20_000) -> dict:
    """The exporter killed (SIGKILL or SIGTERM, alternately) at random points, ``rounds``
    times, while it sends a backlog; then ``flush``.  At least once, no temporaries."""
    import random
    import signal
    from test_export import make_record, spool_for
    home = os.path.join(str(workdir), "killloop-home")
    directory = spool_for(home, receiver.grpc_endpoint)
    expected = set()
    for start in range(0, spans, 500):
        records = [make_record(i) for i in range(start, start + 500)]
        for record in records:
            record["span_id"] = os.urandom(8).hex()
        expected.update(r["span_id"] for r in records)
        spool.write(directory, records)
    chance = random.Random(7)
    killed = 0
    for number in range(rounds):
        marks.clear_backoff(directory)
        pid = spool.start_exporter(directory, {}, force=True)
        if pid is None:
            continue
        time.sleep(chance.uniform(0.05, 0.6))
        try:
            os.kill(pid, signal.SIGKILL if number % 2 else signal.SIGTERM)
            killed += 1
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    health = spool_health(home)
    flushed = flush(traceexec_env(home))
    figures = tally(expected, received([receiver.home]))
    figures.update({"rounds": rounds, "killed": killed, "flush_status": flushed.returncode,
                    "spool_temporaries": health["temporaries"],
                    "spool_unreadable": health["unreadable"], "tracebacks": log_tracebacks(home),
                    "spool_pending": spool_health(home)["pending"]})
    return figures


def shadowed_working_directory(workdir, receiver, count) -> dict:
    """Wrappers (the installed script) run from a directory full of modules named like
    the standard library's, sending over gRPC and HTTP: none of them may run."""
    from test_exporter import shadowing_directory
    folder = os.path.join(str(workdir), "shadowed")
    marks = shadowing_directory(folder)
    home = os.path.join(str(workdir), "shadow-home")
    trace_id = new_trace_id()
    script = os.path.join(conftest.BIN_DIR, "traceexec")
    outcome_changed = 0
    for i in range(count):
        endpoint = receiver.grpc_endpoint if i % 2 else receiver.http_endpoint
        result = subprocess.run([script, "--endpoint", endpoint, "--name", "job-%d" % i, "--",
                                 "sh", "-c", "exit %d" % (i % OUTCOMES)], cwd=folder,
                                env=traceexec_env(home, TRACEPARENT=traceparent(trace_id)),
                                capture_output=True, timeout=120)
        outcome_changed += int(result.returncode != i % OUTCOMES)
    wait_until(lambda: len(receiver.spans(trace_id)) >= count, 60)
    flush(traceexec_env(home))
    names = {r["name"] for r in received([receiver.home], trace_id)}
    return {"sent": count, "delivered": len(names), "lost": count - len(names),
            "modules_run_from_cwd": len(open(marks).read().split()) if os.path.exists(marks)
            else 0, "outcome_changed": outcome_changed}
