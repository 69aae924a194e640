"""traceexec composed with other OpenTelemetry SDKs, through the environment only.

The programs are the ones in examples/interop.  Everything sends OTLP/HTTP to
one real receiver, configured by OTEL_EXPORTER_OTLP_ENDPOINT alone; each
test checks that one trace arrives with the right parents and service names.

The Node.js packages come from tests/integration/node (``npm ci --prefix
tests/integration/node``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conftest import ROOT, TRACEEXEC, traceexec_env

EXAMPLE = os.path.join(ROOT, "examples", "interop")
NODE_MODULES = os.path.join(ROOT, "tests", "integration", "node", "node_modules")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_SPAN_ID = "00f067aa0ba902b7"
UPSTREAM = {"TRACEPARENT": "00-%s-%s-01" % (TRACE_ID, REMOTE_SPAN_ID),
            "TRACESTATE": "vendor=interop"}


def otlp_env(home, receiver, **extra):
    """traceexec's environment, with every SDK's endpoint set to the receiver."""
    base_url = receiver.http_endpoint[:-len("/v1/traces")]
    return traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=base_url, **extra)


def run(argv, env):
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def arrived(receiver, tree, trace_id=None):
    """Wait for the spans of ``tree`` ({name: (parent name or span id, service)}) and check them.

    Returns the spans by name.
    """
    spans = receiver.wait_for(len(tree), trace_id=trace_id)
    named = {s["name"]: s for s in spans}
    assert sorted(named) == sorted(tree) and len(spans) == len(tree), [s["name"] for s in spans]
    assert len({s["trace_id"] for s in spans}) == 1
    for name, (parent, service) in tree.items():
        span = named[name]
        expected = named[parent]["span_id"] if parent in named else parent
        assert span["parent_span_id"] == expected, name
        assert span["resource"]["service.name"] == service, name
    return named


def assert_child_program_joins(receiver, home, command, output, root, step, service, **env):
    """``traceexec --name job -- COMMAND`` under UPSTREAM's context: the program's spans
    ``root`` > ``step`` (service ``service``) nest under job, which nests under UPSTREAM."""
    env = otlp_env(home, receiver, **UPSTREAM, **env)
    result = run(TRACEEXEC + ["--name", "job", "--"] + command, env)
    assert result.stdout == output
    named = arrived(receiver, {"job": (REMOTE_SPAN_ID, "traceexec"),
                               root: ("job", service), step: (root, service)},
                    trace_id=TRACE_ID)
    assert named[root]["trace_state"] == UPSTREAM["TRACESTATE"]


def test_python_sdk_program_joins_the_traceexec_span(receiver, home):
    assert_child_program_joins(
        receiver, home, [sys.executable, os.path.join(EXAMPLE, "python_child.py")],
        "loaded 1000 rows\n", "load-report", "parse", "python-child")


def test_node_sdk_program_joins_the_traceexec_span(receiver, home):
    node = shutil.which("node")
    assert node, "Node.js is needed for this test (CI installs it)"
    assert os.path.isdir(NODE_MODULES), "run: npm ci --prefix tests/integration/node"
    assert_child_program_joins(
        receiver, home, [node, os.path.join(EXAMPLE, "node_child.js")],
        "rendered\n", "render-page", "template", "node-child", NODE_PATH=NODE_MODULES)


def test_traceexec_span_nests_under_an_instrumented_python_program(receiver, home):
    env = otlp_env(home, receiver)
    result = run([sys.executable, os.path.join(EXAMPLE, "python_parent.py")], env)
    assert result.stdout == "migrated\n"
    arrived(receiver, {"deploy": ("", "python-parent"), "migrate": ("deploy", "traceexec")})


def readme_recipe():
    """The lines of the interop recipe in docs/languages.md, exactly as written there."""
    with open(os.path.join(ROOT, "docs", "languages.md")) as handle:
        text = handle.read()
    block = text.split("<!-- interop-recipe:", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    return block.splitlines()


def _isolated_network():
    """A prefix that runs a command with a loopback of its own (fixed ports stay free of
    other tests on a shared machine), or None where unshare is not allowed."""
    probe = subprocess.run(["unshare", "--net", "--map-root-user", "sh", "-c",
                            "ip link set lo up 2>/dev/null || ifconfig lo up"],
                           capture_output=True)
    return ["unshare", "--net", "--map-root-user"] if probe.returncode == 0 else None


def test_readme_recipe_runs_verbatim(home):
    lines = readme_recipe()
    assert lines[0] == "traceexec serve &"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318" in lines[1]
    node = shutil.which("node")
    assert node and os.path.isdir(NODE_MODULES), "scripts/test installs Node.js and its packages"
    prefix = _isolated_network()
    if prefix is None:
        import pytest
        pytest.skip("needs a network namespace (unshare) to use the recipe's fixed ports "
                    "without taking them from other programs on the machine")
    # around the lines: the namespace's loopback up, a moment for serve to listen (as a
    # user typing the next line gives it), and serve stopped at the end
    script = "\n".join(["set -e", "ip link set lo up 2>/dev/null || ifconfig lo up",
                        lines[0], "sleep 3"] + lines[1:] + ["kill %1", "wait"])
    env = traceexec_env(home, NODE_PATH=NODE_MODULES)
    result = subprocess.run(prefix + ["bash", "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded 1000 rows" in result.stdout and "rendered" in result.stdout
    from traceexec.store import local as store
    spans = [s for t in store.trace_ids(str(home)) for s in store.read(str(home), t)]
    by_trace = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span["name"])
    assert sorted(sorted(names) for names in by_trace.values()) == [
        ["load-report", "nightly", "parse"], ["nightly", "render-page", "template"]]
    named = {(s["trace_id"], s["name"]): s for s in spans}
    for (trace_id, name), span in named.items():
        if name in ("load-report", "render-page"):
            assert span["parent_span_id"] == named[(trace_id, "nightly")]["span_id"]


def test_serve_on_localhost_listens_on_both_loopbacks(tmp_path, home):
    import socket
    import time
    from conftest import TRACEEXEC as BINARY, free_port
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        import pytest
        pytest.skip("no IPv6 loopback on this machine")
    grpc_port, http_port = free_port(), free_port()
    proc = subprocess.Popen(BINARY + ["serve", "--grpc", "localhost:%d" % grpc_port,
                                      "--http", "localhost:%d" % http_port],
                            env=traceexec_env(home), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for port in (grpc_port, http_port):
                while True:
                    with socket.socket(family) as sock:
                        if sock.connect_ex((host, port)) == 0:
                            break
                    assert time.monotonic() < deadline, "nothing on %s port %d" % (host, port)
                    time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(30)
