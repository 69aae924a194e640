"""Secrets: export header values never written anywhere; secret arguments redacted; TLS checked.

Extends tests/delivery/test_export.py (header values never written; wrong CA) and
tests/test_redact.py (the redaction table) with every way of giving a header,
DAGs, failing endpoints, and the real binary's recorded spans.
"""
import os
import shlex
import shutil
import time

import pytest

import harness
from conftest import run_traceexec
from test_export import TlsServer, make_certificate
from test_load import report
from traceexec.wrap.redact import MASK

TOKEN = "planted-TOKEN-7d1e94b2"
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@needs_openssl
def test_planted_token_is_found_nowhere(tmp_path, receiver):
    figures = harness.planted_token(tmp_path, receiver, TOKEN)
    report("planted token", {k: v for k, v in figures.items() if k != "places"})
    assert figures["places"] == [] and figures["tracebacks"] == 0, figures
    assert figures["received"] >= 4, "the runs against the receiver delivered nothing"


def local_spans(home):
    from traceexec.store import local as store
    return [r for t in store.trace_ids(str(home)) for r in store.read(str(home), t)]


SECRET_ARGS = ["--password", "pw-one", "--token=tk-two", "password=pw-three",
               "Authorization: Bearer tk-four", "https://bob:pw-five@example.com/r.git",
               "key-1234"]
HIDDEN = ["pw-one", "tk-two", "pw-three", "tk-four", "pw-five"]


@pytest.mark.parametrize("options,hidden,kept", [
    ([], HIDDEN, ["key-1234", "bob", "example.com"]),
    (["--redact", r"key-\d+"], HIDDEN + ["key-1234"], ["bob"]),
    (["--no-redact"], [], HIDDEN + ["key-1234"]),
])
def test_command_args_are_recorded_redacted(env, home, options, hidden, kept):
    result = run_traceexec(options + ["--", "sh", "-c", "exit 0"] + SECRET_ARGS, env)
    assert result.returncode == 0, result.stderr
    (record,) = local_spans(home)
    assert_redacted(record, hidden, kept)


def assert_redacted(record, hidden, kept):
    text = repr(record["attributes"]["process.command_args"])
    assert [s for s in hidden if s in text] == [], text
    assert [s for s in kept if s not in text] == [], text
    assert (MASK in text) == bool(hidden)


def test_shell_string_args_are_recorded_redacted(env, home):
    result = run_traceexec(["-c", "exit 0 " + shlex.join(SECRET_ARGS)], env)
    assert result.returncode == 0, result.stderr
    (record,) = local_spans(home)
    assert_redacted(record, HIDDEN, ["key-1234", "bob", "example.com"])


def test_quoted_option_names_in_a_shell_string_are_redacted(env, home):
    assert run_traceexec(["-c", "exit 0 '--password' 'pw-one'"], env).returncode == 0
    (record,) = local_spans(home)
    assert "pw-one" not in repr(record["attributes"]["process.command_args"])


def test_dag_step_args_are_redacted_everywhere_in_the_home(tmp_path, env, home):
    path = tmp_path / "step.yaml"
    path.write_text("steps:\n  - name: login\n    command: sh -c 'exit 0' --password pw-one "
                    "--token=tk-two\n")
    result = run_traceexec(["run", "-q", str(path)], env)
    assert result.returncode == 0, result.stderr
    (step,) = [r for r in local_spans(home) if r["name"] == "Step: login"]
    assert step["attributes"]["process.command_args"][-2:] == ["--password", MASK] or \
        MASK in repr(step["attributes"]["process.command_args"])
    assert harness.find_secret(b"pw-one", [result.stdout, result.stderr], [home]) == []
    assert harness.find_secret(b"tk-two", [result.stdout, result.stderr], [home]) == []


@needs_openssl
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("ca", ["default", "wrong"])
def test_tls_is_verified_and_a_bad_certificate_leaves_the_command_unharmed(tmp_path, env, home,
                                                                          protocol, ca):
    cert, key = make_certificate(str(tmp_path), "server")
    server = TlsServer(cert, key)
    try:
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT="https://127.0.0.1:%d" % server.port,
                   OTEL_EXPORTER_OTLP_PROTOCOL=protocol)
        if ca == "wrong":
            env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = make_certificate(str(tmp_path), "other")[0]
        started = time.monotonic()
        result = run_traceexec(["--wait", "--export-timeout", "2s", "--", "sh", "-c",
                                "echo out; exit 7"], env)
        assert result.returncode == 7 and result.stdout == b"out\n", result
        assert time.monotonic() - started < 2 + 8
        log = harness.wait_until(lambda: (home / "exporter.log").exists() and "failed" in (
            home / "exporter.log").read_text(), 15) and (home / "exporter.log").read_text()
        assert log, "the exporter logged no failure"
        line = [l for l in log.splitlines() if "failed" in l][-1]
        assert "certificate" in line.lower() or "ssl" in line.lower(), line
        assert "1 spans kept" in line and "traceexec flush" in line, line
    finally:
        server.close()


@needs_openssl
def test_token_with_line_breaks_quotes_and_non_ascii_is_found_nowhere(tmp_path, receiver):
    figures = harness.planted_token_variants(tmp_path, receiver, TOKEN, full=False)
    report("token variants", {k: v for k, v in figures.items() if k != "places"})
    assert figures["places"] == [] and figures["tracebacks"] == 0, figures["places"][:5]
    assert figures["received"] >= 3, "the runs against the receiver delivered nothing"
    assert figures["refusals_logged"] > 0, "the 401/403 servers were never reached"


def test_a_header_value_with_a_line_break_is_left_out_without_showing_it(env):
    result = run_traceexec(["--endpoint", "127.0.0.1:9", "--header",
                            "authorization=Bearer %s\nx" % TOKEN, "--", "sh", "-c", "exit 4"],
                           env)
    assert result.returncode == 4 and TOKEN.encode() not in result.stderr
    assert b"export header authorization" in result.stderr and b"left out" in result.stderr
    env["OTEL_EXPORTER_OTLP_HEADERS"] = "authorization=Bearer%%20%s%%0Ax" % TOKEN
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "127.0.0.1:9"
    result = run_traceexec(["--", "sh", "-c", "exit 3"], env)
    assert result.returncode == 3 and TOKEN.encode() not in result.stderr
    assert b"left out" in result.stderr


PASSWORD = "url-PASSWORD-5c1e"


def test_a_password_in_the_endpoint_url_is_found_nowhere(tmp_path, receiver, env, home):
    """https://user:PASSWORD@host: sent as Basic authorization, never a name or a line."""
    import base64
    from conftest import free_port
    secrets = [PASSWORD.encode(), base64.b64encode(("ana:" + PASSWORD).encode())]
    down = "http://ana:%s@127.0.0.1:%d/v1/traces" % (PASSWORD, free_port())
    up = "http://ana:%s@127.0.0.1:%d/v1/traces" % (PASSWORD, receiver.http_port)
    outputs = []
    for args, extra in (
            (["-v", "--wait", "--export-timeout", "1s", "--endpoint", down, "--", "true"], {}),
            (["-v", "--", "true"], {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": down}),
            (["flush", "--endpoint", down, "--export-timeout", "1s"], {}),
            (["flush", "--json"], {}),
            (["-v", "--wait", "--endpoint", up, "--", "true"], {}),
            (["-v", "--endpoint", up + "#frag", "--", "true"], {}),
            (["-v", "--", "true"], {"OTEL_EXPORTER_OTLP_ENDPOINT": up + "?q=1"})):
        result = run_traceexec(args, dict(env, **extra))
        outputs += [result.stdout, result.stderr]
    assert receiver.wait_for(1), "the endpoint with userinfo delivered nothing"
    harness.wait_until(lambda: (home / "exporter.log").exists(), 15)
    places = [p for s in secrets for p in harness.find_secret(s, outputs, [home, receiver.home])]
    names = [os.path.join(folder, name) for root in (home, receiver.home)
             for folder, dirs, files in os.walk(str(root)) for name in dirs + files
             if PASSWORD in name or "ana" in name]
    assert places == [] and names == [], (places, names)
