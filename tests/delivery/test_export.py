"""Delivery: records as SDK spans, the exporter, flush, and what survives failures.

Real processes throughout: the ``traceexec`` binary, its detached exporter and
a real receiver (``traceexec serve``).  Nothing here asserts performance; the
time bounds are functional (an export timeout is honoured), with wide margins.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import threading
import time

import pytest

import conftest
from conftest import run_traceexec
from traceexec.delivery import config, drain, limit, marks, sender, span, spool
from traceexec.store import local as store

T = "4bf92f3577b34da6a3ce929d0e0e4736"
P = "00f067aa0ba902b7"
SECRET = "planted-SECRET-9f3c1e"


def make_record(i=0, trace_id=None, **extra):
    fields = dict(
        trace_id=trace_id or os.urandom(16).hex(), span_id="%016x" % (0x1000 + i),
        name="step-%d" % i, start_ns=1_700_000_000_000_000_000 + i,
        end_ns=1_700_000_000_500_000_000 + i, attributes={"i": i, "tag": "x" * 40},
        status_code=span.STATUS_OK, resource={"service.name": "export-test"})
    fields.update(extra)
    return span.new_record(**fields)


def spool_for(home, endpoint, headers=None, environ=None):
    """The spool directory (described) that a wrapper would use for ``endpoint``."""
    flags = {"endpoint": endpoint, "headers": headers or {}}
    cfg = config.resolve(flags, None, dict(environ or {}, TRACEEXEC_HOME=str(home)))
    directory = os.path.join(spool.spool_root(cfg.home), spool.destination_id(cfg))
    spool.ensure_dir(directory)
    spool.describe_destination(directory, cfg)
    return directory


def only_spool(home):
    """The one destination directory in ``home``'s spool."""
    root = spool.spool_root(str(home))
    (name,) = os.listdir(root)
    return os.path.join(root, name)


def delivered(receiver):
    """(unique span ids, spans received counting re-deliveries) at the receiver."""
    unique, total = set(), 0
    for trace_id in store.trace_ids(str(receiver.home)):
        for document in store.documents(str(receiver.home), trace_id):
            for record in span.from_otlp_json(document):
                unique.add((record["trace_id"], record["span_id"]))
                total += 1
    return unique, total


def flush(env, *args):
    result = run_traceexec(["flush", "--json"] + list(args), env)
    return result.returncode, json.loads(result.stdout.decode() or "{}"), result


def harness_wait(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def dead_endpoint():
    return "127.0.0.1:%d" % conftest.free_port()


class Listener:
    """A loopback TCP listener in a thread; ``handle`` gets each connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.handle(conn)

    def handle(self, conn):
        self.held.append(conn)  # a black hole: accepted, never answered

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


# --- what reaches a real receiver ----------------------------------------------

LINK = {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331",
        "trace_state": "vendor=1", "attributes": {"dag.depends": True}}


def test_links_survive_the_otlp_json_form():
    record = make_record(1, trace_id=T, links=[LINK])
    (back,) = span.from_otlp_json(json.loads(span.dumps(span.to_otlp_json([record]))))
    assert back["links"] == [LINK]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_links_reach_a_real_receiver_with_their_trace_state(receiver, env, home, protocol):
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    spool.write(spool_for(home, endpoint), [make_record(2, trace_id=T, links=[LINK])])
    code, report, result = flush(env)
    assert code == 0, result.stderr
    (received,) = receiver.wait_for(1, trace_id=T)
    assert received["links"] == [LINK]  # the SDK's encoder dropped a link's trace_state


# --- delivery by the detached exporter ---------------------------------------

@pytest.mark.parametrize("protocol,compression", [("grpc", "none"), ("http", "none"),
                                                  ("grpc", "gzip"), ("http", "gzip")])
def test_wrapper_span_arrives(receiver, env, home, protocol, compression):
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    env.update(TRACEPARENT="00-%s-%s-01" % (T, P), TRACESTATE="vendor=abc",
               TRACEEXEC_WAIT="1", OTEL_EXPORTER_OTLP_COMPRESSION=compression)
    result = run_traceexec(["--endpoint", endpoint, "--attr", "batch.size=500", "--",
                            "sh", "-c", "exit 3"], env)
    assert result.returncode == 3, result.stderr
    (received,) = receiver.wait_for(1, trace_id=T)
    assert received["parent_span_id"] == P and received["trace_state"] == "vendor=abc"
    assert received["attributes"]["batch.size"] == 500
    assert received["attributes"]["process.exit.code"] == 3
    assert received["status_code"] == span.STATUS_ERROR
    assert received["kind"] == span.KIND_CLIENT
    assert received["resource"]["service.name"] == "traceexec"
    root = spool.spool_root(str(home))
    assert [spool.pending(os.path.join(root, n)) for n in os.listdir(root)] == [[]]


def test_collector_down_then_flush_delivers_all(tmp_path, env, home, monkeypatch):
    grpc_port, http_port = conftest.free_port(), conftest.free_port()
    endpoint = "127.0.0.1:%d" % grpc_port
    for status in range(20):
        result = run_traceexec(["--endpoint", endpoint, "--export-timeout", "1s", "--",
                                "sh", "-c", "exit %d" % status], env)
        assert result.returncode == status, result.stderr
    directory = only_spool(home)
    assert limit.count_spans(spool.pending(directory)) == 20
    deadline = time.monotonic() + 15  # the first exporter gives up and backs off
    while not os.path.exists(os.path.join(directory, "backoff")):
        assert time.monotonic() < deadline, (home / "exporter.log").read_text()
        time.sleep(0.05)
    assert "export to %s failed" % endpoint in (home / "exporter.log").read_text()

    ports = iter([grpc_port, http_port])
    monkeypatch.setattr(conftest, "free_port", lambda: next(ports))
    receiver = conftest.Receiver(tmp_path)
    try:
        status, report, result = flush(env)
        assert status == 0, result
        assert (report["sent"], report["left"]) == (20, 0)
        (entry,) = report["destinations"]
        assert (entry["destination"], entry["sent"], entry["left"]) == (endpoint, 20, 0)
        unique, _ = delivered(receiver)
        assert len(unique) == 20
        assert spool.pending(directory) == []
        assert not os.path.exists(os.path.join(directory, "backoff"))
        text = run_traceexec(["flush"], env)
        assert (text.returncode, text.stdout) == (0, b"nothing to flush\n")
    finally:
        receiver.stop()


def test_exporter_killed_mid_batch_redelivers(receiver, home):
    directory = spool_for(home, receiver.grpc_endpoint)
    expected = set()
    for batch in range(300):
        records = [make_record(batch * 40 + i) for i in range(40)]
        expected.update((r["trace_id"], r["span_id"]) for r in records)
        spool.write(directory, records)
    pid = spool.start_exporter(directory, {})
    deadline = time.monotonic() + 30
    incoming = os.path.join(str(receiver.home), "store", store.INCOMING)
    # kill it as soon as the receiver has taken its first batch (a cheap stat, no parsing)
    while time.monotonic() < deadline:
        try:
            if os.path.getsize(incoming) > 0:
                break
        except OSError:
            pass
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    left_after_kill = len(spool.pending(directory))
    assert left_after_kill > 0, "the exporter finished before it could be killed"

    status, report, result = flush(receiver_env(home))
    assert status == 0, result
    unique, total = delivered(receiver)
    assert unique == expected  # nothing lost
    assert total >= len(expected)  # at least once; re-deliveries are allowed
    print("re-delivered after SIGKILL: %d spans" % (total - len(expected)))


def receiver_env(home):
    return conftest.traceexec_env(home)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_black_hole_costs_the_wrapper_nothing_and_flush_is_bounded(env, home, protocol):
    hole = Listener()
    try:
        endpoint = ("127.0.0.1:%d" if protocol == "grpc" else
                    "http://127.0.0.1:%d/v1/traces") % hole.port
        for _ in range(3):
            started = time.monotonic()
            result = run_traceexec(["--endpoint", endpoint, "--export-timeout", "1s", "--",
                                    "true"], env)
            assert result.returncode == 0, result.stderr
            assert time.monotonic() - started < 5  # nowhere near a wait for the collector
        started = time.monotonic()
        status, report, result = flush(env, "--export-timeout", "1s")
        elapsed = time.monotonic() - started
        assert status == 1
        assert report["left"] == 3 and report["sent"] == 0
        assert report["destinations"][0]["error"]
        # the lock wait (a wrapper's exporter may still be trying) plus one export, each
        # bounded by the 1 s timeout; the margin covers interpreter start-up on slow machines
        assert elapsed < 1 + 1 + 8, elapsed
    finally:
        hole.close()


def test_spool_limit_in_spans_drops_the_oldest_loudly(receiver, env, home):
    directory = spool_for(home, receiver.grpc_endpoint)
    newest = []
    for i in range(30):
        record = make_record(i)
        if i >= 20:
            newest.append(record["trace_id"])
        spool.write(directory, [record])
        if i % 7 == 0:
            spool.pending(directory)  # claimed files, as an exporter makes them
    env["TRACEEXEC_SPOOL_LIMIT"] = "10"
    status, report, result = flush(env)
    assert status == 0, result
    assert report["dropped"] == 20 and report["sent"] == 10
    assert {r["trace_id"] for r in receiver.wait_for(10)} == set(newest)
    assert not os.path.exists(os.path.join(directory, "dropped"))  # reported once
    assert not os.path.exists(os.path.join(directory, spool.FULL))  # emptied: no longer full


def test_a_full_spool_warns_each_wrapper_run_once(env, home):
    env.update(TRACEEXEC_SPOOL_LIMIT="3", OTEL_EXPORTER_OTLP_ENDPOINT=dead_endpoint())
    assert run_traceexec(["--", "true"], env).stderr == b""
    directory = only_spool(home)
    assert harness_wait(lambda: spool.backoff_until(directory) > 0)  # its exporter gave up
    for _ in range(5):
        spool.write(directory, [make_record()])
    lines = []
    assert limit.enforce_limit(directory, 3, log=lines.append) >= 3
    assert "over its limit of 3" in lines[0] and "dropped the" in lines[0], lines
    result = run_traceexec(["--", "sh", "-c", "echo out; exit 4"], env)
    assert (result.returncode, result.stdout) == (4, b"out\n")
    (line,) = result.stderr.decode().splitlines()
    assert line.startswith("traceexec: warning: the spool for ") and "dropped" in line, line
    assert limit.take_dropped(directory) >= 3 and limit.take_dropped(directory) == 0


def test_header_values_never_written(receiver, env, home):
    header = "authorization=Bearer " + SECRET
    env["TRACEEXEC_WAIT"] = "1"
    ok = run_traceexec(["--endpoint", receiver.grpc_endpoint, "--header", header, "-v",
                        "--", "true"], env)
    assert ok.returncode == 0
    assert len(receiver.wait_for(1)) == 1
    down = dead_endpoint()
    failed = run_traceexec(["--endpoint", down, "--header", header, "--export-timeout", "1s",
                            "-v", "--", "true"], env)
    assert failed.returncode == 0
    time.sleep(1.5)  # let its exporter fail and log
    status, report, result = flush(env, "--export-timeout", "1s")
    assert status == 1
    (entry,) = [d for d in report["destinations"] if d["destination"] == down]
    assert entry["missing_headers"] == ["authorization"] and entry["left"] == 1
    status, report, with_value = flush(env, "--endpoint", down, "--header", header,
                                       "--export-timeout", "1s")
    assert status == 1 and report["left"] == 1
    outputs = [ok.stdout, ok.stderr, failed.stdout, failed.stderr, result.stdout,
               result.stderr, with_value.stdout, with_value.stderr]
    assert not any(SECRET.encode() in out for out in outputs)
    for root in (home, receiver.home):
        for folder, _, files in os.walk(root):
            for name in files:
                with open(os.path.join(folder, name), "rb") as handle:
                    assert SECRET.encode() not in handle.read(), os.path.join(folder, name)


def test_spool_and_log_permissions(env, home):
    result = run_traceexec(["--endpoint", dead_endpoint(), "--export-timeout", "1s", "--",
                            "true"], env)
    assert result.returncode == 0
    deadline = time.monotonic() + 10
    directory = only_spool(home)
    while not os.path.exists(os.path.join(directory, "backoff")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for folder, dirs, files in os.walk(home):
        for d in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(folder, d)).st_mode) == 0o700
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(folder, f)).st_mode) == 0o600, f


def test_backoff_doubles_and_is_capped(home):
    directory = spool_for(home, dead_endpoint())
    now = time.time()
    delays = [marks.write_backoff(directory, now=now) for _ in range(9)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0] and delays[-1] == marks.BACKOFF_MAX_S
    assert spool.backoff_until(directory) == pytest.approx(now + marks.BACKOFF_MAX_S, abs=0.01)
    assert spool.start_exporter(directory, {}) is None  # backing off: no exporter
    marks.clear_backoff(directory)
    assert spool.backoff_until(directory) == 0.0


def make_certificate(folder, name):
    """A self-signed certificate for 127.0.0.1 (cert, key) made with openssl."""
    cert, key = os.path.join(folder, name + ".pem"), os.path.join(folder, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class TlsServer(Listener):
    """Completes TLS handshakes with its own certificate, then hangs up."""

    def __init__(self, cert, key):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.context.set_alpn_protocols(["h2", "http/1.1"])
        super().__init__()

    def handle(self, conn):
        try:
            conn.settimeout(2)
            self.context.wrap_socket(conn, server_side=True).close()
        except (OSError, ssl.SSLError):
            conn.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_wrong_ca_fails_export_with_a_clear_message(tmp_path, env, home, protocol):
    cert, key = make_certificate(str(tmp_path), "server")
    other_ca, _ = make_certificate(str(tmp_path), "other")
    server = TlsServer(cert, key)
    try:
        spool.write(spool_for(home, dead_endpoint()), [make_record()])  # unharmed bystander
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT="https://127.0.0.1:%d" % server.port,
                   OTEL_EXPORTER_OTLP_PROTOCOL=protocol, OTEL_EXPORTER_OTLP_CERTIFICATE=other_ca)
        result = run_traceexec(["--export-timeout", "2s", "--", "true"], env)
        assert result.returncode == 0 and result.stderr == b""
        status, report, _ = flush(env, "--export-timeout", "2s")
        assert status == 1 and report["left"] == 2
        (entry,) = [d for d in report["destinations"] if d["destination"].startswith("https")]
        assert "certificate" in entry["error"].lower() or "ssl" in entry["error"].lower(), entry
        # --insecure for that endpoint: no verification (this server then just hangs up)
        status, report, _ = flush(env, "--insecure", "--export-timeout", "2s")
        (entry,) = [d for d in report["destinations"] if d["destination"].startswith("https")]
        assert "CERTIFICATE_VERIFY_FAILED" not in entry["error"], entry
    finally:
        server.close()


def test_flush_rejects_bad_options(env):
    result = run_traceexec(["flush", "--export-timeout", "soon"], env)
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    result = run_traceexec(["flush", "--header", "novalue"], env)
    assert result.returncode == 2 and b"Traceback" not in result.stderr


class FailingSender:
    """A stand-in for ``sender.Sender``: accepts ``accepted`` requests, then fails."""

    def __init__(self, accepted):
        self.accepted = accepted
        self.requests = []

    def send(self, bodies):
        if len(self.requests) >= self.accepted:
            return sender.Outcome(sender.KEPT, "collector said no")
        self.requests.append(list(bodies))
        return sender.Outcome(sender.ACCEPTED)

    def submit(self, bodies):
        outcome = self.send(bodies)
        return lambda: outcome


def test_drain_keeps_what_was_not_accepted_without_rewriting_files(home, monkeypatch):
    monkeypatch.setattr(drain, "BATCH_SPANS", 2)
    directory = spool_for(home, dead_endpoint())
    spool.write(directory, [make_record(i) for i in range(20)])
    (path,) = spool.pending(directory)
    inode = os.stat(path).st_ino
    result = drain.Drainer(directory, FailingSender(accepted=3),
                            drain.DrainResult("test")).run()
    assert (result.sent, result.left, result.failed) == (6, 14, "collector said no")
    (kept,) = spool.pending(directory)
    assert os.stat(kept).st_ino == inode and spool.counted_spans(kept) == 14  # marked in place
    assert limit.count_spans([kept]) == 14
    assert spool.backoff_until(directory) > time.time()
    assert not [n for n in os.listdir(directory) if n.endswith(".tmp")]


# --- spans the collector refuses -------------------------------------------------

class FakeCollector:
    """A small OTLP/HTTP server for answers the real receivers cannot be made to give:
    ``answer(headers, body)`` returns (status, reply body); the default takes everything.
    It counts the spans it accepted (by parsing each request with the protobuf library)."""

    def __init__(self, answer=None, content_type="text/plain"):
        import http.server
        collector = self
        self.answer = answer or (lambda headers, body: (200, b""))
        self.accepted = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, reply = collector.answer(self.headers, body)
                if status == 200:
                    collector.accepted.extend(spans_in(body))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = "http://127.0.0.1:%d/v1/traces" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def spans_in(body):
    from test_otlp import parse
    return [s.name for rs in parse(body).resource_spans for ss in rs.scope_spans
            for s in ss.spans]


def spool_good_and_bad(directory, bad, before=30, after=30):
    records = [make_record(i) for i in range(before)] + [bad] + [
        make_record(i) for i in range(before, before + after)]
    spool.write(directory, records)
    return {r["name"] for r in records if r is not bad}


def dead_reasons(directory):
    return open(os.path.join(directory, drain.DEAD, "reasons.log")).read()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_span_the_receiver_refuses_is_set_aside_and_the_rest_delivered(receiver, env, home,
                                                                        protocol):
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    directory = spool_for(home, endpoint)
    bad = make_record(999, trace_id="0" * 32)  # an invalid trace id: serve refuses it
    good = spool_good_and_bad(directory, bad)
    status, report, result = flush(env)
    assert status == 0, result
    assert (report["sent"], report["left"], report["dead_letters"]) == (60, 0, 1), report
    assert {r["name"] for r in receiver.wait_for(60)} == good
    reasons = dead_reasons(directory)
    assert "span=%s" % bad["span_id"] in reasons and "name=step-999" in reasons
    assert ("INVALID_ARGUMENT" if protocol == "grpc" else "HTTP 400") in reasons
    assert drain.dead_letters(directory) == 1
    text = run_traceexec(["flush"], env)
    assert b"set aside 1" in text.stdout and b"--retry-dead-letters" in text.stdout


def test_a_span_too_large_for_rotel_is_set_aside_and_the_rest_delivered(tmp_path, env, home):
    import sys
    sys.path.insert(0, os.path.join(conftest.ROOT, "tests", "integration"))
    from test_rotel import Rotel
    rotel = Rotel(str(tmp_path))
    try:
        directory = spool_for(home, "127.0.0.1:%d" % rotel.grpc_port)
        huge = make_record(999, attributes={"output": "x" * (5 * 1024 * 1024)})
        good = spool_good_and_bad(directory, huge, 20, 20)
        status, report, result = flush(env)
        assert status == 0, result
        assert (report["sent"], report["dead_letters"]) == (40, 1), report
        assert "OUT_OF_RANGE" in dead_reasons(directory)
        assert harness_wait(lambda: {s["name"] for s in rotel.spans()} >= good), rotel.text()[-2000:]
    finally:
        rotel.stop()


def test_http_413_sets_the_large_span_aside_and_retry_sends_it_later(env, home):
    collector = FakeCollector(lambda headers, body: (413, b"too large") if len(body) > 100_000
                              else (200, b""))
    try:
        directory = spool_for(home, collector.endpoint)
        good = spool_good_and_bad(directory, make_record(999, attributes={"o": "x" * 200_000}))
        status, report, result = flush(env)
        assert (status, report["sent"], report["dead_letters"]) == (0, 60, 1), report
        assert "HTTP 413: too large" in dead_reasons(directory)
        assert set(collector.accepted) == good
        collector.answer = lambda headers, body: (200, b"")  # the limit was raised
        status, report, result = flush(env, "--retry-dead-letters")
        assert (status, report["sent"], report["dead_letters"]) == (0, 1, 0), report
        assert "step-999" in collector.accepted
    finally:
        collector.close()


def test_a_collector_that_refuses_everything_sets_nothing_aside(env, home):
    collector = FakeCollector(lambda headers, body: (400, b"this is no OTLP receiver"))
    try:
        directory = spool_for(home, collector.endpoint)
        spool.write(directory, [make_record(i) for i in range(10)])
        status, report, result = flush(env)
        assert (status, report["sent"], report["left"], report["dead_letters"]) == (1, 0, 10, 0)
        assert "HTTP 400: this is no OTLP receiver" in report["destinations"][0]["error"]
        assert spool.backoff_until(directory) > time.time()
    finally:
        collector.close()


def test_a_non_utf8_command_is_delivered_escaped(tmp_path, receiver, env, home):
    script = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9-job")
    with open(script, "wb") as handle:
        handle.write(b"#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o755)
    env.update(TRACEPARENT="00-%s-%s-01" % (T, P), TRACEEXEC_WAIT="1")
    import subprocess
    result = subprocess.run([os.fsencode(c) for c in conftest.TRACEEXEC] + [
        b"--endpoint", receiver.grpc_endpoint.encode(), b"--", script, b"arg-\xff"],
        env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (received,) = receiver.wait_for(1, trace_id=T)
    assert received["name"] == "caf\\xe9-job"
    assert received["attributes"]["process.command_args"][1:] == ["arg-\\xff"]
    assert not spool._has_pending(only_spool(home))


def test_flush_shows_progress_on_a_terminal_and_empties_a_backlog(receiver, env, home):
    import pty
    directory = spool_for(home, receiver.http_endpoint)
    for start in range(0, 6000, 1000):
        spool.write(directory, [make_record(i) for i in range(start, start + 1000)])
        spool.pending(directory)
    leader, follower = pty.openpty()
    try:
        result = run_traceexec(["flush", "--export-timeout", "5s"], env, stderr=follower,
                               capture_output=False, stdout=subprocess.PIPE)
        os.close(follower)
        follower = None
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower is not None:
            os.close(follower)
    assert result.returncode == 0, result.stdout
    assert b"\rflush: %s: sent " % receiver.http_endpoint.encode() in shown, shown
    assert shown.endswith(b"\r\x1b[K")  # the progress line is wiped at the end
    assert b"sent 6000, left 0" in result.stdout
    assert not spool._has_pending(directory)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_grpc_to_a_grpcio_server_with_its_ca(tmp_path, env, home):
    """HTTP/2 over TLS (ALPN h2) to gRPC's own C-core server, verified against its CA."""
    import grpc
    from concurrent import futures
    cert, key = make_certificate(str(tmp_path), "grpc-server")
    received = []

    def export_call(request, context):
        received.extend(spans_in(request))
        return b""

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export_call)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    with open(cert, "rb") as c, open(key, "rb") as k:
        credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        env.update(OTEL_EXPORTER_OTLP_CERTIFICATE=cert, TRACEEXEC_WAIT="1",
                   OTEL_EXPORTER_OTLP_COMPRESSION="gzip", OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
        result = run_traceexec(["--endpoint", "https://127.0.0.1:%d" % port,
                                "--name", "over-tls", "--", "true"], env)
        assert result.returncode == 0 and result.stderr == b"", result
        assert harness_wait(lambda: received == ["over-tls"]), (home / "exporter.log").read_text()
    finally:
        server.stop(None)


class SilentTls(Listener):
    """Accepts TCP, then never completes a TLS handshake nor answers."""


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_silent_tls_server_costs_one_export_timeout_in_all(env, home, protocol):
    hole = SilentTls()
    try:
        env.update(OTEL_EXPORTER_OTLP_PROTOCOL=protocol)
        spool.write(spool_for(home, "https://127.0.0.1:%d" % hole.port,
                              environ={"OTEL_EXPORTER_OTLP_PROTOCOL": protocol}), [make_record()])
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "https://127.0.0.1:%d" % hole.port
        started = time.monotonic()
        status, report, result = flush(env, "--export-timeout", "2s")
        elapsed = time.monotonic() - started
        assert status == 1 and report["left"] == 1, report
        # connect, handshake and answer share the one bound (plus interpreter start-up)
        assert elapsed < 2 + 2 + 6, elapsed
    finally:
        hole.close()


def test_the_exporter_names_itself_without_ctypes():
    """ps and top show ``traceexec-expor(t)`` (the kernel keeps 15 characters); the name is
    set through /proc, so the forked exporter needs no ``_ctypes`` for it."""
    from traceexec.delivery import export
    pid = os.fork()
    if pid == 0:
        try:
            export._name_process()
            with open("/proc/self/comm") as handle:
                os._exit(0 if handle.read().strip() == "traceexec-expor" else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
