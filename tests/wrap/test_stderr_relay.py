"""``traceexec --stderr-tail N``: stderr relayed as it comes, a failed span keeps its tail.

The real binary, a real receiver (``traceexec serve`` in another process).
"""
from __future__ import annotations

import pytest

from conftest import Receiver, run_traceexec, traceexec_env


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    rec = Receiver(tmp_path_factory.mktemp("collector"))
    yield rec
    rec.stop()


SCRIPT = "for i in 1 2 3 4 5; do echo line $i >&2; done; echo out; " \
         "echo \"key $DB_PASSWORD\" >&2; exit 5"


def test_failed_command_span_has_its_stderr_tail(tmp_path, home, collector):
    env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=collector.grpc_endpoint,
                        DB_PASSWORD="hunter2-xyz")
    done = run_traceexec(["--stderr-tail", "3", "--wait", "--name", "job", "--",
                          "sh", "-c", SCRIPT], env)
    assert done.returncode == 5
    assert done.stdout == b"out\n"
    assert done.stderr.decode().splitlines() == ["line %d" % i for i in range(1, 6)] + \
        ["key hunter2-xyz"]  # relayed whole and unchanged
    record = collector.wait_for(1, timeout=20)[-1]
    assert record["name"] == "job"
    event = next(e for e in record["events"] if e["name"] == "exception")
    assert event["attributes"]["exception.stacktrace"] == "line 4\nline 5\nkey [REDACTED]"
    assert event["attributes"]["exception.type"] == "CommandFailed"
    assert event["attributes"]["exception.message"] == "exit status 5"


def test_off_by_default_and_nothing_kept_on_success(tmp_path, home, collector):
    env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=collector.grpc_endpoint)
    for args in ([], ["--stderr-tail", "5"]):
        code = "0" if args else "1"
        done = run_traceexec(args + ["--wait", "--name", "quiet-%s" % code, "--",
                                     "sh", "-c", "echo oops >&2; exit %s" % code], env)
        assert done.returncode == int(code) and done.stderr == b"oops\n"
    records = {r["name"]: r for r in collector.wait_for(3, timeout=20)}
    for name in ("quiet-1", "quiet-0"):
        assert all(e["name"] != "exception" for e in records[name]["events"]), name


def test_help_says_it_and_bad_values_are_refused(home):
    env = traceexec_env(home)
    assert "--stderr-tail N" in run_traceexec(["--help"], env).stdout.decode()
    done = run_traceexec(["--stderr-tail", "many", "--", "true"], env)
    assert done.returncode == 2
    assert done.stderr.decode().strip() == \
        "traceexec: --stderr-tail: 'many' is not a number of lines from 1 to 200"
