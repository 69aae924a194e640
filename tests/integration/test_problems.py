"""Delivery problems a person sees: the next wrapped commands warn in one line (at most
once per destination per interval), ``--wait`` says why it was not delivered,
``flush --list``/``--discard`` show and drop a destination's spool, ``show`` says
where spans went, and ``doctor`` checks a destination end to end.  The command's
output and status never change.
"""
import shutil
import socket

import pytest

from conftest import free_port, run_traceexec
from test_export import FakeCollector, TlsServer, make_certificate

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def down_endpoint():
    """A loopback port nothing listens on: connections are refused."""
    return "127.0.0.1:%d" % free_port()


def warnings(result):
    return [l for l in result.stderr.decode().splitlines() if l.startswith("traceexec:")]


def test_a_down_destination_is_reported_by_wait_then_by_the_next_commands(env, home):
    endpoint = down_endpoint()
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    result = run_traceexec(["--wait", "--", "sh", "-c", "echo out; exit 6"], env)
    assert (result.returncode, result.stdout) == (6, b"out\n")
    (line,) = warnings(result)
    assert "not delivered to %s" % endpoint in line and "refused" in line.lower(), line
    second = run_traceexec(["--", "sh", "-c", "exit 7"], env)
    assert second.returncode == 7
    (line,) = warnings(second)
    assert endpoint in line and "not being delivered" in line and "refused" in line.lower()
    third = run_traceexec(["--", "true"], env)  # within the interval: said once is enough
    assert third.returncode == 0 and warnings(third) == []
    env["TRACEEXEC_WARN_INTERVAL"] = "0"
    assert len(warnings(run_traceexec(["--", "true"], env))) == 1


def test_the_spool_of_a_mistyped_destination_can_be_listed_and_discarded(env, home):
    endpoint = down_endpoint()
    for _ in range(2):
        run_traceexec(["--wait", "--endpoint", endpoint, "--", "true"], env)
    listed = run_traceexec(["flush", "--list"], env)
    assert listed.returncode == 0
    (line,) = listed.stdout.decode().splitlines()
    assert line.startswith("%s (grpc): 2 spans waiting; failing since " % endpoint), line
    assert run_traceexec(["flush"], env).returncode == 1  # nothing can be sent there
    gone = run_traceexec(["flush", "--discard", endpoint], env)
    assert (gone.returncode, gone.stdout) == (0, b"discarded %s: 2 spans, 0 set aside\n"
                                              % endpoint.encode())
    assert run_traceexec(["flush", "--list"], env).stdout == b"the spool is empty\n"
    assert run_traceexec(["flush"], env).returncode == 0
    unknown = run_traceexec(["flush", "--discard", "nowhere:1"], env)
    assert unknown.returncode == 2 and b"no spool for 'nowhere:1'" in unknown.stderr


def test_show_says_where_spans_went_when_an_endpoint_is_set(env, home):
    endpoint = down_endpoint()
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    run_traceexec(["--wait", "--", "true"], env)
    result = run_traceexec(["show"], env)
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()
    assert "go to %s (OTEL_EXPORTER_OTLP_*)" % endpoint in line and "refused" in line.lower(), line


def doctor(env, *args):
    """(exit status, {step: ok/FAIL/warn/skip}, the report's lines with the FAIL line
    (if any) last but one)."""
    result = run_traceexec(["doctor"] + list(args), env)
    lines = result.stdout.decode().splitlines()
    failed = [l for l in lines if l.split()[:1] == ["FAIL"]]
    lines = [l for l in lines if l not in failed[:1]]
    lines[-1:-1] = failed[:1]
    return result.returncode, {l.split()[1].rstrip(":"): l.split()[0] for l in lines[1:-1]}, lines


def test_doctor_healthy_receiver_over_grpc_and_http(receiver, env):
    for endpoint in (receiver.grpc_endpoint, receiver.http_endpoint):
        status, steps, lines = doctor(env, "--endpoint", endpoint)
        assert status == 0 and lines[-1] == "all good", lines
        assert [steps[s] for s in ("resolve", "connect", "empty")] == ["ok"] * 3, lines
        assert steps["TLS"] == "skip", lines


def test_doctor_down_destination(env):
    status, steps, lines = doctor(env, "--endpoint", down_endpoint())
    assert status == 1 and steps["connect"] == "FAIL" and "refused" in lines[-2], lines


def test_doctor_unknown_host(env):
    status, steps, lines = doctor(env, "--endpoint", "https://collector.invalid/v1/traces")
    assert status == 1 and steps["resolve"] == "FAIL", lines


def test_doctor_refusing_receiver_says_authentication_failed(env):
    collector = FakeCollector(lambda headers, body: (401, b"bad token"))
    try:
        status, steps, lines = doctor(env, "--endpoint", collector.endpoint,
                                      "--header", "authorization=Bearer wrong-token-7f3")
    finally:
        collector.close()
    assert status == 1 and steps["empty"] == "FAIL", lines
    assert "HTTP 401" in lines[-2] and "authentication" in lines[-2], lines
    assert "wrong-token-7f3" not in "\n".join(lines)


@needs_openssl
@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_doctor_tls_misconfigured_receiver(tmp_path, env, scheme):
    cert, key = make_certificate(str(tmp_path), "server")
    server = TlsServer(cert, key)
    try:
        endpoint = "https://127.0.0.1:%d" % server.port
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc" if scheme == "grpc" else "http/protobuf"
        status, steps, lines = doctor(env, "--endpoint", endpoint)
        assert status == 1 and steps["TLS"] == "FAIL", lines
        assert "certificate" in lines[-2].lower(), lines
        # with its CA given, the handshake passes (then the server hangs up: export fails)
        env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = cert
        status, steps, lines = doctor(env, "--endpoint", endpoint, "--export-timeout", "2s")
        assert steps["TLS"] == "ok" and steps["empty"] == "FAIL", lines
    finally:
        server.close()


def test_doctor_local_store_and_ignored_settings(env):
    env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "soon"
    status, steps, lines = doctor(env)
    assert status == 0, lines
    assert steps["setting"] == "warn" and "OTEL_EXPORTER_OTLP_TIMEOUT" in lines[1], lines
    assert steps["destination"] == "ok" and "local store" in lines[-2], lines


def test_a_dag_run_says_why_its_spans_were_not_delivered(tmp_path, env):
    (tmp_path / "dag.yaml").write_text("steps:\n  - {name: one, command: echo one}\n")
    endpoint = down_endpoint()
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    result = run_traceexec(["run", "-q", "dag.yaml"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = [l for l in result.stderr.decode().splitlines() if "not delivered" in l]
    assert endpoint in line and "refused" in line.lower(), line
