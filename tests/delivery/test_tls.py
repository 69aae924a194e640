"""TLS that never downgrades, client certificates (issue 24, point 4) and a busy
server (point 3), against a grpcio server with opentelemetry-proto in another
process, with certificates made here by ``trustme``.

``insecure`` means "no certificate check" for a TLS endpoint (an ``https://`` one)
and "plaintext" only for a scheme-less gRPC ``host:port``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from conftest import run_traceexec

trustme = pytest.importorskip("trustme", reason="trustme comes with the test extra")
HERE = os.path.dirname(os.path.abspath(__file__))


class GrpcCollector:
    def __init__(self, tmp_path, *args):
        self.names = tmp_path / "names"
        self.names.write_text("")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "grpc_collector.py"),
                                      str(self.names)] + list(args), stdout=subprocess.PIPE)
        self.port = int(self.proc.stdout.readline())

    def received(self, timeout=20) -> list:
        deadline = time.monotonic() + timeout
        while not self.names.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.names.read_text().split()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def certificates(tmp_path):
    """(CA file, server certificate+key file, client certificate file, client key file)."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("traceexec-client@example.com")
    paths = {name: str(tmp_path / (name + ".pem")) for name in ("ca", "server", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    server.private_key_and_cert_chain_pem.write_to_path(paths["server"])
    client.cert_chain_pems[0].write_to_path(paths["cert"])
    client.private_key_pem.write_to_path(paths["key"])
    return paths


@pytest.fixture
def mtls_server(tmp_path, certificates):
    """A grpcio server that asks for a client certificate issued by the test's CA."""
    server = GrpcCollector(tmp_path, "--cert", certificates["server"], "--key",
                           certificates["server"], "--client-ca", certificates["ca"])
    yield server
    server.stop()


def send(env, endpoint, *flags, name="over-tls"):
    return run_traceexec(["--wait", "--endpoint", endpoint, "--name", name] + list(flags)
                         + ["--", "true"], env)


def test_https_with_insecure_is_still_tls_without_the_check(tmp_path, env, home, certificates):
    """The server's CA is unknown to the exporter: only skipping the check lets it in, and
    the span travels over TLS (the server speaks nothing else)."""
    server = GrpcCollector(tmp_path, "--cert", certificates["server"],
                           "--key", certificates["server"])
    try:
        env.update(OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_INSECURE="true")
        result = send(env, "https://127.0.0.1:%d" % server.port)
        assert result.returncode == 0, result
        assert server.received() == ["over-tls"], (home / "exporter.log").read_text()
    finally:
        server.stop()


def test_a_scheme_less_host_with_insecure_is_plaintext(tmp_path, env, home):
    server = GrpcCollector(tmp_path)
    try:
        env.update(OTEL_EXPORTER_OTLP_INSECURE="true")
        assert send(env, "localhost:%d" % server.port).returncode == 0
        assert server.received() == ["over-tls"], (home / "exporter.log").read_text()
    finally:
        server.stop()


def test_mtls_with_a_client_certificate_from_the_environment(env, home, certificates,
                                                           mtls_server):
    server = mtls_server
    env.update(OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
               OTEL_EXPORTER_OTLP_CERTIFICATE=certificates["ca"],
               OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE=certificates["cert"],
               OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=certificates["key"])
    assert send(env, "https://127.0.0.1:%d" % server.port).returncode == 0
    assert server.received() == ["over-tls"], (home / "exporter.log").read_text()


def test_mtls_without_a_client_certificate_keeps_the_span_and_says_why(
        env, home, certificates, mtls_server):
    server = mtls_server
    from test_export import make_record, spool_for
    from traceexec.delivery import spool
    env.update(OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
               OTEL_EXPORTER_OTLP_CERTIFICATE=certificates["ca"])
    endpoint = "https://127.0.0.1:%d" % server.port
    spool.write(spool_for(home, endpoint, environ=env), [make_record(name="over-tls")])
    result = run_traceexec(["flush", "--endpoint", endpoint], env)
    assert result.returncode == 1 and b"left 1" in result.stdout, result
    result = run_traceexec(["flush", "--endpoint", endpoint, "--client-certificate",
                            certificates["cert"], "--client-key", certificates["key"]], env)
    assert result.returncode == 0 and b"sent 1, left 0" in result.stdout, result
    assert server.received() == ["over-tls"]


def test_a_client_key_without_a_certificate_is_refused_in_one_line(env):
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT="https://127.0.0.1:9", OTEL_EXPORTER_OTLP_CLIENT_KEY="k")
    result = run_traceexec(["--", "true"], env)
    assert result.returncode == 0 and b"client key" in result.stderr, result
    assert b"Traceback" not in result.stderr


def test_a_busy_grpcio_server_never_gets_healthy_spans_set_aside(tmp_path, env, home):
    """grpcio over its call limit answers RESOURCE_EXHAUSTED without RetryInfo: the spans
    stay in the spool (the specification does not retry that code) and a later flush
    delivers them; none goes to dead letters, which nothing retries on its own."""
    from test_export import make_record, spool_for
    from traceexec.delivery import spool
    server = GrpcCollector(tmp_path, "--max-rpcs", "1", "--delay", "0.3")
    try:
        directory = spool_for(home, "127.0.0.1:%d" % server.port)
        names = {"busy-%d" % i for i in range(9000)}  # three requests in flight at once
        spool.write(directory, [make_record(i, name="busy-%d" % i) for i in range(9000)])
        reports = [run_traceexec(["flush"], env).stdout]
        while b"left 0" not in reports[-1] and len(reports) < 6:
            reports.append(run_traceexec(["flush"], env).stdout)
        assert b"set aside" not in b"".join(reports), reports
        assert b"RESOURCE_EXHAUSTED" in reports[0] and b"left 0" in reports[-1], reports
        assert set(server.received()) == names
    finally:
        server.stop()


def test_doctor_presents_the_client_certificate(env, certificates, mtls_server):
    """doctor makes the handshake as the exporter does: with the client certificate the
    mTLS server accepts the empty export; without it, doctor fails."""
    server = mtls_server
    env.update(OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
               OTEL_EXPORTER_OTLP_CERTIFICATE=certificates["ca"])
    endpoint = "https://127.0.0.1:%d" % server.port
    without = run_traceexec(["doctor", "--endpoint", endpoint], env)
    assert without.returncode == 1, without
    result = run_traceexec(["doctor", "--endpoint", endpoint, "--client-certificate",
                            certificates["cert"], "--client-key", certificates["key"]], env)
    out = result.stdout.decode()
    assert result.returncode == 0, out
    assert "client certificate %s presented" % certificates["cert"] in out, out
