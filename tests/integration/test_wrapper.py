"""The real binary: the span it records, and context across processes."""
import os

import pytest

from conftest import run_traceexec
from traceexec.store import local as store

T = "4bf92f3577b34da6a3ce929d0e0e4736"
P = "00f067aa0ba902b7"


def local_spans(home):
    ids = store.trace_ids(str(home))
    return [r for t in ids for r in store.read(str(home), t)]


def only_span(home):
    spans = local_spans(home)
    assert len(spans) == 1, spans
    return spans[0]


def test_traceparent_round_trip(env, home):
    env["TRACEPARENT"] = "00-%s-%s-01" % (T, P)
    env["TRACESTATE"] = "vendor=abc"
    result = run_traceexec(["--", "sh", "-c", 'echo "$TRACEPARENT $TRACESTATE"'], env)
    traceparent, tracestate = result.stdout.decode().split()
    version, trace_id, span_id, flags = traceparent.split("-")
    assert (version, trace_id, flags, tracestate) == ("00", T, "01", "vendor=abc")
    assert span_id != P
    span = only_span(home)
    assert (span["trace_id"], span["span_id"], span["parent_span_id"]) == (T, span_id, P)
    assert span["trace_state"] == "vendor=abc"


def test_span_of_a_failing_command(env, home):
    result = run_traceexec(["--attr", "batch=7", "--attr", "dry=false", "--service", "nightly",
                            "--", "sh", "-c", "exit 3"], env)
    assert result.returncode == 3
    span = only_span(home)
    attrs = span["attributes"]
    assert span["name"] == "sh" and span["kind"] == 3  # CLIENT
    assert span["status_code"] == 2 and span["status_message"] == "exit status 3"
    assert attrs["process.exit.code"] == 3 and attrs["error.type"] == "3"
    assert attrs["process.executable.name"] == "sh"
    assert attrs["process.executable.path"].endswith("/sh")
    assert attrs["process.command_args"] == ["sh", "-c", "exit 3"]
    assert attrs["process.working_directory"] == os.getcwd()
    assert attrs["process.pid"] > 0
    assert attrs["batch"] == 7 and attrs["dry"] is False
    assert {"traceexec.process.cpu.user", "traceexec.process.cpu.system",
            "traceexec.process.max_rss"} <= set(attrs)
    assert span["resource"]["service.name"] == "nightly"
    assert span["parent_span_id"] == "" and span["end_ns"] >= span["start_ns"]


def test_successful_span_is_ok_and_named(env, home):
    env["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test,team=data"
    env["OTEL_SERVICE_NAME"] = "svc"
    assert run_traceexec(["--name", "backup", "--", "true"], env).returncode == 0
    span = only_span(home)
    assert span["name"] == "backup" and span["status_code"] == 1
    assert "error.type" not in span["attributes"]
    assert span["resource"] == {"deployment.environment": "test", "team": "data",
                                "service.name": "svc"}


def test_timeout_and_signal_spans(env, home):
    assert run_traceexec(["--timeout", "200ms", "--", "sleep", "30"], env).returncode == 124
    assert run_traceexec(["--", "sh", "-c", "kill -TERM $$"], env).returncode == -15
    spans = sorted(local_spans(home), key=lambda s: s["start_ns"])
    timeout, signalled = spans
    assert timeout["attributes"]["error.type"] == "timeout" and timeout["status_code"] == 2
    assert signalled["attributes"]["error.type"] == "SIGTERM"
    assert signalled["attributes"]["process.exit.code"] == 143


def test_not_found_is_recorded(env, home):
    assert run_traceexec(["--", "no-such-command-xyz"], env).returncode == 127
    span = only_span(home)
    assert span["attributes"]["error.type"] == "command_not_found"
    assert span["attributes"]["process.exit.code"] == 127


def test_unsampled_parent_records_nothing_but_propagates(env, home):
    env["TRACEPARENT"] = "00-%s-%s-00" % (T, P)
    result = run_traceexec(["--", "sh", "-c", 'echo "$TRACEPARENT"'], env)
    assert result.stdout.decode().startswith("00-%s-" % T)
    assert result.stdout.decode().strip().endswith("-00")
    assert local_spans(home) == []


def test_invalid_traceparent_starts_a_new_trace_quietly(env, home):
    env["TRACEPARENT"] = "00-%s-%s-01" % (T.upper(), P)
    quiet = run_traceexec(["--", "true"], env)
    assert quiet.returncode == 0 and quiet.stderr == b""
    loud = run_traceexec(["-v", "--", "true"], env)
    assert b"invalid TRACEPARENT" in loud.stderr
    assert all(s["trace_id"] != T.lower() and not s["parent_span_id"] for s in local_spans(home))


def test_nested_wrappers_form_one_trace(env, home):
    assert run_traceexec(["--name", "outer", "--", "python3", "-m", "traceexec", "--name",
                          "inner", "--", "true"], env).returncode == 0
    spans = {s["name"]: s for s in local_spans(home)}
    assert spans["inner"]["trace_id"] == spans["outer"]["trace_id"]
    assert spans["inner"]["parent_span_id"] == spans["outer"]["span_id"]


def test_secret_arguments_are_redacted(env, home):
    run_traceexec(["--", "sh", "-c", "true", "--password", "hunter2", "token=abc123"], env)
    args = only_span(home)["attributes"]["process.command_args"]
    assert "hunter2" not in str(args) and "abc123" not in str(args)


def test_unwritable_home_warns_once_and_keeps_the_outcome(env):
    env["TRACEEXEC_HOME"] = "/proc/traceexec-cannot-write-here"  # unwritable even for root
    result = run_traceexec(["--", "sh", "-c", "echo out; exit 5"], env)
    assert result.returncode == 5 and result.stdout == b"out\n"
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("traceexec: warning: span not recorded")
    assert lines[0].endswith("(the command ran untraced)")


@pytest.mark.parametrize("exporter", ["none"])
def test_export_switched_off_records_nothing(env, home, exporter):
    env["OTEL_TRACES_EXPORTER"] = exporter
    assert run_traceexec(["--", "true"], env).returncode == 0
    assert local_spans(home) == []


def test_a_megabyte_of_environment_passes_through_unchanged(env, home):
    # Linux caps one variable at 128 KiB (MAX_ARG_STRLEN), so the megabyte is ten variables.
    for i in range(10):
        env["BIG%d" % i] = str(i) * 100_000
    env["BAGGAGE"] = "k=" + "v" * 100_000  # over the W3C limit: dropped, not passed on
    result = run_traceexec(["--", "sh", "-c", 'printf %s "$BIG0$BIG9" | wc -c; echo "[$BAGGAGE]"'],
                           env)
    assert result.returncode == 0
    assert result.stdout.decode().split() == ["200000", "[]"]
    assert len(only_span(home)["trace_id"]) == 32


def test_a_dag_step_runs_a_script_without_shebang(env, home, tmp_path):
    # the DAG driver spawns steps through wrap.supervise, so the execvp rule holds there too
    script = tmp_path / "job"
    script.write_text("echo step-ran\n")
    script.chmod(0o755)
    (tmp_path / "dag.yaml").write_text("name: noshebang\nsteps:\n  - name: job\n"
                                       "    command: %s\n" % script)
    result = run_traceexec(["run", str(tmp_path / "dag.yaml"), "--quiet"], env)
    assert result.returncode == 0, result.stderr
    step = [s for s in local_spans(home) if s["name"] == "Step: job"]
    assert step and step[0]["attributes"]["step.exit_code"] == 0
