"""Proxies (issue 24, point 5): a real tinyproxy from Debian, started here, between
the exporter and a real receiver (``traceexec serve``).

https_proxy/http_proxy/grpc_proxy are read as curl and gRPC read them; gRPC
and TLS go through ``CONNECT``, plain OTLP/HTTP as an absolute URL; NO_PROXY is
honoured; ``flush`` and ``-v`` name the proxy used.
"""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from conftest import free_port, run_traceexec
from test_export import make_record, spool_for
from traceexec.delivery import proxy, spool

pytestmark = pytest.mark.skipif(shutil.which("tinyproxy") is None,
                                reason="needs Debian's tinyproxy (scripts/test installs it)")


class Tinyproxy:
    def __init__(self, tmp_path):
        folder = tmp_path / "tinyproxy"
        folder.mkdir()
        self.port = free_port()
        self.log = folder / "log"
        (folder / "conf").write_text(
            "Port %d\nListen 127.0.0.1\nUser nobody\nGroup nogroup\nTimeout 30\n"
            "LogLevel Connect\nMaxClients 20\nAllow 127.0.0.1\n" % self.port)
        with open(self.log, "wb") as log:  # in the foreground, it logs on its stdout
            self.proc = subprocess.Popen(["tinyproxy", "-d", "-c", str(folder / "conf")],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while "Reloading config file finished" not in self.text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()  # never leave it running
                raise AssertionError("tinyproxy did not start: %s" % self.text())
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%d" % self.port

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


@pytest.fixture
def tinyproxy(tmp_path):
    server = Tinyproxy(tmp_path)
    yield server
    server.stop()


@pytest.mark.parametrize("protocol,variable", [("grpc", "grpc_proxy"), ("grpc", "HTTPS_PROXY"),
                                               ("http", "http_proxy")])
def test_spans_go_through_the_proxy_and_flush_names_it(receiver, env, home, tinyproxy,
                                                       protocol, variable):
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    directory = spool_for(home, endpoint)
    record = make_record(1)
    spool.write(directory, [record])
    env[variable] = tinyproxy.url
    result = run_traceexec(["flush"], env)
    assert result.returncode == 0, result
    assert b"via proxy 127.0.0.1:%d" % tinyproxy.port in result.stdout, result.stdout
    receiver.wait_for(1, record["trace_id"])
    port = endpoint.rsplit(":", 1)[1].split("/")[0]
    expected = "CONNECT 127.0.0.1:%s" % port if protocol == "grpc" else "POST %s" % endpoint
    assert expected in tinyproxy.text(), tinyproxy.text()


def test_no_proxy_is_honoured_and_verbose_says_which_way(receiver, env, home, tinyproxy):
    env.update(HTTPS_PROXY=tinyproxy.url, http_proxy=tinyproxy.url, NO_PROXY="localhost,127.0.0.1")
    before = tinyproxy.text().count("Connect (file descriptor")
    result = run_traceexec(["-v", "--wait", "--endpoint", receiver.http_endpoint, "--", "true"],
                           env)
    assert result.returncode == 0 and b"via proxy" not in result.stderr, result
    receiver.wait_for(1)
    assert tinyproxy.text().count("Connect (file descriptor") == before, tinyproxy.text()
    env["NO_PROXY"] = "example.com"
    result = run_traceexec(["-v", "--endpoint", receiver.http_endpoint, "--", "true"], env)
    assert b"via proxy 127.0.0.1:%d" % tinyproxy.port in result.stderr, result


@pytest.mark.parametrize("host,port,no_proxy,excluded", [
    ("collector.example.com", 4317, "example.com", True),
    ("collector.example.com", 4317, ".example.com", True),
    ("collector.example.com", 4317, "*.example.com", True),
    ("example.com", 4317, ".example.com", True),
    ("notexample.com", 4317, "example.com", False),
    ("10.1.2.3", 4317, "10.0.0.0/8", True),
    ("10.1.2.3", 4317, "10.1.2.3:4318", False),
    ("10.1.2.3", 4318, "10.1.2.3:4318", True),
    ("::1", 4317, "[::1]", True),
    ("anything", 1, "*", True),
    ("anything", 1, "", False),
])
def test_no_proxy_matching_as_curl_reads_it(host, port, no_proxy, excluded):
    assert proxy.is_excluded(host, port, no_proxy) is excluded


def test_proxy_credentials_are_sent_but_never_shown():
    found = proxy.proxy_for("https", "collector", 443,
                            {"https_proxy": "http://user:s%40cret@proxy.internal:3128"})
    assert found.name == "proxy.internal:3128" and "cret" not in repr(found)
    assert found.authorization == "Basic dXNlcjpzQGNyZXQ="
    assert proxy.proxy_for("https", "c", 443, {"HTTPS_PROXY": "p:1", "https_proxy": "q:2"}).name \
        == "q:2"


def test_tls_goes_end_to_end_through_the_proxy_tunnel(tmp_path, env, home, tinyproxy):
    """An https:// gRPC endpoint behind the proxy: CONNECT, then TLS with the collector
    itself, verified against the collector's CA (the proxy sees only ciphertext)."""
    trustme = pytest.importorskip("trustme", reason="trustme comes with the test extra")
    from test_tls import GrpcCollector
    ca = trustme.CA()
    server_pem, ca_pem = str(tmp_path / "server.pem"), str(tmp_path / "ca.pem")
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(server_pem)
    ca.cert_pem.write_to_path(ca_pem)
    server = GrpcCollector(tmp_path, "--cert", server_pem, "--key", server_pem)
    try:
        endpoint = "https://127.0.0.1:%d" % server.port
        env.update(OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_CERTIFICATE=ca_pem,
                   HTTPS_PROXY=tinyproxy.url)
        spool.write(spool_for(home, endpoint, environ=env), [make_record(name="tunnelled")])
        result = run_traceexec(["flush"], env)
        assert result.returncode == 0 and b"via proxy" in result.stdout, result
        assert server.received() == ["tunnelled"]
        assert "CONNECT 127.0.0.1:%d" % server.port in tinyproxy.text(), tinyproxy.text()
    finally:
        server.stop()


@pytest.mark.parametrize("protocol,variable", [("grpc", "grpc_proxy"), ("http", "http_proxy")])
def test_doctor_goes_through_the_proxy_and_names_it(receiver, env, tinyproxy, protocol,
                                                    variable):
    """doctor checks the way the exporter would go: through the proxy the variables name."""
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    env[variable] = tinyproxy.url
    result = run_traceexec(["doctor", "--endpoint", endpoint], env)
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "proxy: through 127.0.0.1:%d" % tinyproxy.port in out, out
    assert "via 127.0.0.1:%d" % tinyproxy.port in out, out
    port = endpoint.rsplit(":", 1)[1].split("/")[0]
    assert "CONNECT 127.0.0.1:%s" % port in tinyproxy.text(), tinyproxy.text()


def test_doctor_names_a_proxy_that_is_down(receiver, env):
    env["grpc_proxy"] = "http://127.0.0.1:%d" % free_port()
    result = run_traceexec(["doctor", "--endpoint", receiver.grpc_endpoint], env)
    out = result.stdout.decode()
    assert result.returncode == 1, out
    assert "FAIL  connect" in out and "via 127.0.0.1:" in out, out
