"""Dagu's http executor in both schemas against a service instrumented with the
OpenTelemetry Python SDK, both exporting to ``traceexec serve``: the service's
span is a child of the step's span, in the DAG's trace."""

import json
import os
import subprocess
import sys

import pytest

from conftest import TRACEEXEC, Receiver, traceexec_env

HERE = os.path.dirname(os.path.abspath(__file__))
V2_DAG = """\
steps:
  - name: call
    type: http
    with:
      headers: {Authorization: "Bearer s3cret-token"}
      query: {q: "a b"}
      body: hello
      silent: true
      json: true
    command: POST http://127.0.0.1:%(port)d/items
    stdout: %(out)s/call.out
  - name: missing
    type: http
    command: GET http://127.0.0.1:%(port)d/missing
    stdout: %(out)s/missing.out
"""
V1_DAG = """\
steps:
  - name: call
    executor:
      type: http
      config: {timeout: 30, silent: true}
    command: GET http://127.0.0.1:%(port)d/v1
    stdout: %(out)s/v1.out
"""


@pytest.fixture
def service(tmp_path):
    receiver = Receiver(tmp_path)
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "traced_service.py"),
                             receiver.http_endpoint], stdout=subprocess.PIPE, text=True)
    try:
        yield receiver, int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
        receiver.stop()


def run_dag(tmp_path, receiver, port, text):
    trace_id = os.urandom(16).hex()
    dag = tmp_path / "http.yaml"
    dag.write_text(text % dict(port=port, out=tmp_path))
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = traceexec_env(home, TRACEPARENT="00-%s-%s-01" % (trace_id, "2" * 16),
                        OTEL_EXPORTER_OTLP_ENDPOINT="http://" + receiver.http_endpoint.split(
                            "//")[1].split("/")[0], TRACEEXEC_WAIT="1")
    done = subprocess.run(TRACEEXEC + ["run", str(dag)], env=env, capture_output=True,
                          text=True, timeout=120)
    return done, trace_id


def by_name(records):
    return {record["name"]: record for record in records}


def test_v2_http_steps_pass_the_context_and_fail_on_a_bad_status(service, tmp_path):
    receiver, port = service
    done, trace_id = run_dag(tmp_path, receiver, port, V2_DAG)
    assert done.returncode == 1, done.stderr  # /missing answers 404
    spans = by_name(receiver.wait_for(5, trace_id))
    call, served = spans["Step: call"], spans["handle /items"]
    assert served["parent_span_id"] == call["span_id"]
    assert spans["handle /missing"]["parent_span_id"] == spans["Step: missing"]["span_id"]
    answer = json.loads((tmp_path / "call.out").read_text())
    assert answer == {"body": {"path": "/items?q=a+b", "body": "hello",
                               "auth": "Bearer s3cret-token"}}
    assert "s3cret" not in json.dumps(call)  # the header went in a 0600 file, not argv
    missing = (tmp_path / "missing.out").read_text()
    assert missing.startswith("404 Not Found\n"), missing
    assert spans["Step: missing"]["attributes"]["process.exit.code"] == 1
    # the OTel HTTP client conventions on the step span
    attributes = call["attributes"]
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.full"] == "http://127.0.0.1:%d/items?q=a+b" % port
    assert (attributes["server.address"], attributes["server.port"]) == ("127.0.0.1", port)
    assert 0 < attributes["traceexec.http.request.duration_s"] <= (
        call["end_ns"] - call["start_ns"]) / 1e9
    missing = spans["Step: missing"]["attributes"]
    assert (missing["http.request.method"], missing["http.response.status_code"],
            missing["error.type"]) == ("GET", 404, "404")


def test_v1_http_step(service, tmp_path):
    receiver, port = service
    done, trace_id = run_dag(tmp_path, receiver, port, V1_DAG)
    assert done.returncode == 0, done.stderr
    spans = by_name(receiver.wait_for(3, trace_id))
    assert spans["handle /v1"]["parent_span_id"] == spans["Step: call"]["span_id"]
    assert json.loads((tmp_path / "v1.out").read_text())["path"] == "/v1"


SECRET_URL_DAG = """\
steps:
  - name: call
    type: http
    with: {query: {api_key: q-secret-1, page: "2"}}
    command: GET http://someone:pw-secret-2@127.0.0.1:%(port)d/v1?sig=s-secret-3&token=t-secret-4&x=1
    stdout: %(out)s/v1.out
  - name: refused
    type: http
    command: PATCH http://127.0.0.1:%(closed)d/
"""


def test_url_full_is_redacted_and_userinfo_is_basic_authentication(service, tmp_path):
    from conftest import free_port
    receiver, port = service
    done, trace_id = run_dag(tmp_path, receiver, port, SECRET_URL_DAG.replace(
        "%(closed)d", str(free_port())))
    assert done.returncode == 1, done.stderr  # nothing listens for "refused"
    spans = by_name(receiver.wait_for(4, trace_id))
    seen = json.loads(_body(tmp_path / "v1.out"))
    assert seen["auth"] == "Basic c29tZW9uZTpwdy1zZWNyZXQtMg=="  # someone:pw-secret-2
    assert seen["path"] == "/v1?sig=s-secret-3&token=t-secret-4&x=1&api_key=q-secret-1&page=2"
    call = spans["Step: call"]["attributes"]
    assert call["url.full"] == ("http://REDACTED:REDACTED@127.0.0.1:%d/v1?sig=REDACTED&"
                                "token=REDACTED&x=1&api_key=REDACTED&page=2" % port)
    leaks = [(span["name"], key) for span in spans.values()
             for key, value in span["attributes"].items() if "secret" in json.dumps(value)]
    assert leaks == [] and "secret" not in json.dumps(list(spans.values()))
    refused = spans["Step: refused"]["attributes"]
    assert refused["http.request.method"] == "PATCH"
    assert "http.response.status_code" not in refused
    assert refused["error.type"] == "ConnectionRefusedError"


def _body(path):
    """The JSON body of a step's output (status line and headers first)."""
    text = path.read_text()
    return text[text.index("{"):]


def test_an_http_command_that_is_not_method_and_url_fails_the_step(tmp_path):
    dag = tmp_path / "bad.yaml"
    dag.write_text("steps:\n  - name: call\n    type: http\n    command: GET\n")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(TRACEEXEC + ["run", str(dag)], env=traceexec_env(home),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "METHOD URL" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("config,problem", [
    ("{timeout: soon}", "timeout must be whole seconds"),
    ("{headers: [a]}", "headers must be a mapping of strings"),
    ("{silent: maybe}", "silent must be true or false"),
    ("{skipTLSVerify: true}", "unknown key 'skipTLSVerify'"),
])
def test_bad_v2_http_settings_are_one_line_with_file_and_line(tmp_path, env, config, problem):
    dag = tmp_path / "bad.yaml"
    dag.write_text("steps:\n  - name: call\n    type: http\n    with: %s\n"
                   "    command: GET http://127.0.0.1:9/\n" % config)
    done = subprocess.run(TRACEEXEC + ["validate", str(dag)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "bad.yaml:4: " in done.stderr, done.stderr
    assert problem in done.stderr
