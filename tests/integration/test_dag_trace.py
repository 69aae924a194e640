"""``traceexec run`` end to end: the real binary, span trees asserted at a real receiver."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
import urllib.request

import pytest

from conftest import ROOT, TRACEEXEC, Receiver, run_traceexec, traceexec_env
from traceexec.delivery import span
from traceexec.store import local as store

EXAMPLES = os.path.join(ROOT, "examples", "dag")


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    """One receiver for the module; each test reads only its own trace."""
    rec = Receiver(tmp_path_factory.mktemp("collector"))
    yield rec
    rec.stop()


def run_dag(args, env, **kwargs):
    """``traceexec run --json ...`` from the DAG's folder: (completed process, result)."""
    kwargs.setdefault("cwd", os.path.dirname(os.path.abspath(args[0])))
    done = run_traceexec(["run", "--json"] + list(args), env, **kwargs)
    assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
    return done, json.loads(done.stdout)


def spans_of(collector, trace_id, count):
    records = collector.wait_for(count, trace_id=trace_id, timeout=20)
    assert len(records) == count, [r["name"] for r in records]
    return {r["name"]: r for r in records}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def to_collector(home, collector, **extra):
    return traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=collector.grpc_endpoint, **extra)


def test_fan_out_example_hierarchy_and_parallelism(home, collector):
    done, result = run_dag([os.path.join(EXAMPLES, "pipeline.yaml")],
                           to_collector(home, collector))
    assert done.returncode == 0 and result["status"] == "succeeded"
    spans = spans_of(collector, result["trace_id"], 6)
    root = spans["DAG: pipeline"]
    assert root["parent_span_id"] == "" and root["status_code"] == span.STATUS_OK
    for name in ("fetch", "validate", "batch-odd", "batch-even", "aggregate"):
        step = spans["Step: " + name]
        assert step["parent_span_id"] == root["span_id"]
        assert step["attributes"]["step.status"] == "succeeded"
        assert step["resource"]["service.name"] == "pipeline"
    odd, even = spans["Step: batch-odd"], spans["Step: batch-even"]
    assert odd["start_ns"] < even["end_ns"] and even["start_ns"] < odd["end_ns"]  # overlap
    assert spans["Step: validate"]["end_ns"] <= min(odd["start_ns"], even["start_ns"])
    assert spans["Step: aggregate"]["start_ns"] >= max(odd["end_ns"], even["end_ns"])
    assert "total 5050" in done.stderr.decode()  # --json sends step stdout to stderr


def test_three_levels_of_nesting_are_one_trace(home, collector):
    done, result = run_dag([os.path.join(EXAMPLES, "parent.yaml")],
                           to_collector(home, collector))
    assert done.returncode == 0
    spans = spans_of(collector, result["trace_id"], 9)
    assert {r["trace_id"] for r in spans.values()} == {result["trace_id"]}
    parent, child, grandchild = (spans["DAG: %s" % n] for n in ("parent", "child", "grandchild"))
    assert child["parent_span_id"] == spans["Step: run-child"]["span_id"]
    assert grandchild["parent_span_id"] == spans["Step: run-grandchild"]["span_id"]
    assert spans["Step: load"]["parent_span_id"] == grandchild["span_id"]
    assert child["attributes"]["dag.parent_run_id"] == parent["attributes"]["dag.run_id"]
    assert grandchild["attributes"]["dag.parent_run_id"] == child["attributes"]["dag.run_id"]
    assert "dag.parent_run_id" not in parent["attributes"]
    assert spans["Step: run-child"]["attributes"]["step.nested_dag"] == "child.yaml"
    # the step's params reached the child
    assert "extract eu for 2024-01-31" in done.stderr.decode()


def test_failing_step_cancels_downstream(tmp_path, home, collector):
    path = write(tmp_path, "fails.yaml", """\
        steps:
          - {name: extract, command: "true"}
          - {name: transform, command: "sh -c 'exit 4'"}
          - {name: load, command: "true"}
          - {name: report, command: "true"}
        """)
    done, result = run_dag([path], to_collector(home, collector))
    assert done.returncode == 1 and result["status"] == "failed"
    spans = spans_of(collector, result["trace_id"], 5)
    assert spans["DAG: fails"]["status_code"] == span.STATUS_ERROR
    transform = spans["Step: transform"]
    assert transform["status_code"] == span.STATUS_ERROR
    assert transform["attributes"]["step.exit_code"] == 4
    for name in ("load", "report"):
        record = spans["Step: " + name]
        assert record["attributes"]["step.status"] == "cancelled"
        assert record["start_ns"] == record["end_ns"]
        assert record["parent_span_id"] == spans["DAG: fails"]["span_id"]


def test_continue_on_and_retries(tmp_path, home, collector):
    path = write(tmp_path, "lenient.yaml", """\
        steps:
          - name: optional
            command: sh -c 'exit 3'
            continueOn: {failure: true}
          - name: flaky
            command: sh -c 'echo . >> tries; [ $(wc -l < tries) -ge 2 ]'
            retryPolicy: {limit: 2, intervalSec: 0.1}
        """)
    done, result = run_dag([path], to_collector(home, collector))
    # Dagu exits 1 for a run with an allowed failure (only markSuccess hides it)
    assert done.returncode == 1 and result["status"] == "partially_succeeded"
    spans = spans_of(collector, result["trace_id"], 3)
    assert spans["Step: optional"]["status_code"] == span.STATUS_ERROR
    assert spans["Step: optional"]["attributes"]["step.failure_allowed"] is True
    assert spans["Step: flaky"]["attributes"]["step.status"] == "succeeded"
    assert spans["Step: flaky"]["attributes"]["step.attempts"] == 2
    assert [e["name"] for e in spans["Step: flaky"]["events"]] == ["attempt", "attempt"]
    assert spans["DAG: lenient"]["attributes"]["dag.status"] == "partially_succeeded"


def test_step_timeout(tmp_path, home, collector):
    path = write(tmp_path, "slow.yaml", """\
        steps:
          - {name: slow, command: sleep 30, timeoutSec: 0.5}
        """)
    done, result = run_dag([path], to_collector(home, collector))
    assert done.returncode == 1
    spans = spans_of(collector, result["trace_id"], 2)
    slow = spans["Step: slow"]
    assert slow["attributes"]["step.exit_code"] == 124
    assert slow["attributes"]["error.type"] == "timeout"
    assert slow["end_ns"] - slow["start_ns"] < 5e9


def test_sigterm_cancels_and_delivers_every_span(tmp_path, home, collector):
    path = write(tmp_path, "long.yaml", """\
        type: graph
        steps:
          - {name: sleeper, command: sleep 61.7}
          - {name: waiter, command: sleep 61.7}
          - {name: after, command: "true", depends: [sleeper]}
        handlerOn:
          cancel: {command: "true"}
        """)
    proc = subprocess.Popen(TRACEEXEC + ["run", "--json", path],
                            env=to_collector(home, collector),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path))
    deadline = time.monotonic() + 20
    runs = os.path.join(str(home), "runs", "long")
    while time.monotonic() < deadline and not _started(runs, 2):
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err.decode()
    result = json.loads(out)
    spans = spans_of(collector, result["trace_id"], 5)
    assert spans["DAG: long"]["attributes"]["dag.status"] == "cancelled"
    assert spans["DAG: long"]["status_code"] == span.STATUS_ERROR
    for name in ("sleeper", "waiter", "after"):
        assert spans["Step: " + name]["attributes"]["step.status"] == "cancelled"
    assert spans["Step: sleeper"]["attributes"]["step.exit_code"] == 143
    assert spans["Step: onCancel"]["attributes"]["step.status"] == "succeeded"
    assert "sleep 61.7" not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                            text=True).stdout


def _started(runs, count):
    """True when ``count`` steps of the run are running, as its run record says."""
    try:
        run_dir = os.path.join(runs, os.listdir(runs)[0])
        with open(os.path.join(run_dir, "status.json")) as handle:
            steps = json.load(handle)["steps"]
        return len([s for s in steps if s["status"] == "running"]) >= count
    except (OSError, IndexError, ValueError, KeyError):
        return False


def test_base_merge_and_enabled_false(home, collector):
    base = os.path.join(EXAMPLES, "config", "base.yaml")
    env = traceexec_env(home, TRACEEXEC_OTEL="true", OTEL_COLLECTOR=collector.grpc_endpoint)
    done, result = run_dag([os.path.join(EXAMPLES, "inherits-base.yaml"), "--base", base], env)
    assert done.returncode == 0
    spans = spans_of(collector, result["trace_id"], 2)
    resource = spans["DAG: inherits-base"]["resource"]
    assert resource["team"] == "data-platform"
    assert resource["deployment.environment"] == "staging"
    assert resource["service.name"] == "inherits-base"
    # the same base, switched off by the DAG: nothing reaches the collector
    done, result = run_dag([os.path.join(EXAMPLES, "opt-out.yaml"), "--base", base], env)
    assert done.returncode == 0
    names = {r["name"] for r in store.read(str(home), result["trace_id"])}
    assert names == {"DAG: opt-out", "Step: local-only"}
    time.sleep(0.5)
    assert collector.spans(result["trace_id"]) == []


def test_dotenv_params_and_the_http_endpoint_form(home, collector):
    env = traceexec_env(home, TRACEEXEC_OTEL="true", OTEL_COLLECTOR=collector.http_endpoint)
    done, result = run_dag([os.path.join(EXAMPLES, "full-config.yaml"),
                            "--params", "REGION=us-east-2"], env)
    assert done.returncode == 0, done.stderr.decode()
    spans = spans_of(collector, result["trace_id"], 3)
    resource = spans["DAG: full-config"]["resource"]
    assert resource["deployment.environment"] == "staging"      # from the dotenv file
    assert resource["cloud.region"] == "us-east-2"              # from --params
    assert resource["service.name"] == "nightly-report"         # from env
    assert "report for staging in us-east-2" in done.stderr.decode()
    assert "inner tools send to %s" % collector.http_endpoint in done.stderr.decode()


def test_output_variable_in_the_next_steps_command(tmp_path, home, collector):
    path = write(tmp_path, "out.yaml", """\
        steps:
          - {name: version, command: "echo 1.2.3", output: VERSION}
          - {name: tag, command: [echo, "release-${VERSION}"]}
        """)
    done, result = run_dag([path], to_collector(home, collector))
    spans = spans_of(collector, result["trace_id"], 3)
    assert spans["Step: tag"]["attributes"]["process.command_args"] == ["echo", "release-1.2.3"]
    assert result["steps"][0]["output"] == "1.2.3"


def test_script_calling_traceexec_nests_under_its_step(home, collector):
    done, result = run_dag([os.path.join(EXAMPLES, "script-calls-traceexec.yaml")],
                           to_collector(home, collector))
    assert done.returncode == 0, done.stderr.decode()
    spans = spans_of(collector, result["trace_id"], 5)
    step = spans["Step: backup"]
    for name in ("compress", "checksum", "cleanup"):
        assert spans[name]["parent_span_id"] == step["span_id"]
        assert spans[name]["attributes"]["process.exit.code"] == 0


def test_incoming_traceparent_and_local_store_default(tmp_path, home):
    path = write(tmp_path, "joined.yaml", "steps:\n  - {name: a, command: 'true'}\n")
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    done = run_traceexec(["run", path], traceexec_env(home, TRACEPARENT=parent))
    assert done.returncode == 0
    err = done.stderr.decode()
    assert "trace id  4bf92f3577b34da6a3ce929d0e0e4736" in err
    assert "Step: a" in err  # the tree from the local store
    records = store.read(str(home), "4bf92f3577b34da6a3ce929d0e0e4736")
    root = next(r for r in records if r["name"] == "DAG: joined")
    assert root["parent_span_id"] == "00f067aa0ba902b7"
    shown = run_traceexec(["show", "last"], traceexec_env(home))
    assert "DAG: joined" in shown.stdout.decode()


def test_recursion_is_refused_before_anything_runs(tmp_path, home):
    write(tmp_path, "b.yaml", "steps:\n  - {name: back, run: a.yaml}\n")
    path = write(tmp_path, "a.yaml", "steps:\n  - {name: mark, command: touch ran}\n"
                 "  - {name: loop, run: b.yaml}\n")
    done = run_traceexec(["run", path], traceexec_env(home))
    assert done.returncode == 2
    assert "DAG runs itself: a.yaml -> b.yaml -> a.yaml" in done.stderr.decode()
    assert not (tmp_path / "ran").exists()


# -- Dagu's CLI for local runs: status, history, retry, stop, restart ---------------------

def cli(args, env, **kwargs):
    done = run_traceexec(list(args), env, **kwargs)
    assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
    return done


def test_retry_reruns_the_failed_steps_reusing_outputs_as_a_linked_trace(tmp_path, home,
                                                                        collector):
    path = write(tmp_path, "flow.yaml", """\
        type: graph
        steps:
          - name: produce
            command: sh -c 'echo . >> produced; echo version-7'
            output: VERSION
          - name: check
            command: test -f ready
            depends: produce
          - name: publish
            command: echo "published ${VERSION}"
            depends: check
            output: PUBLISHED
        """)
    env = to_collector(home, collector)
    first, failed = run_dag([path], env)
    assert first.returncode == 1 and failed["status"] == "failed"
    (tmp_path / "ready").write_text("")
    again = cli(["retry", path, "--run-id", failed["run_id"][:13], "--json", "-q"], env,
                cwd=tmp_path)
    retried = json.loads(again.stdout)
    assert again.returncode == 0 and retried["status"] == "succeeded"
    assert (tmp_path / "produced").read_text() == ".\n"  # produce did not run again
    assert retried["outputs"]["PUBLISHED"] == "published version-7"  # its output was reused
    assert retried["trace_id"] != failed["trace_id"] and retried["retry_of"] == failed["run_id"]
    spans = spans_of(collector, retried["trace_id"], 4)
    root = spans["DAG: flow"]
    assert root["links"] == [{"trace_id": failed["trace_id"], "span_id": failed["span_id"],
                              "trace_state": "",
                              "attributes": {"traceexec.link.type": "retry_of"}}]
    assert root["attributes"]["dag.retry_of"] == failed["run_id"]
    assert spans["Step: produce"]["attributes"]["step.reused"] is True
    assert spans["Step: publish"]["attributes"]["step.status"] == "succeeded"
    # history lists both, newest first, with their trace ids; status shows the steps
    history = cli(["history", path], env).stdout.decode().splitlines()
    assert [line.split()[0] for line in history[1:]] == [retried["run_id"], failed["run_id"]]
    assert failed["trace_id"] in history[2] and "failed" in history[2]
    status = cli(["status", "flow", "--run-id", failed["run_id"]], env).stdout.decode()
    assert "check" in status and "failed" in status and failed["trace_id"] in status
    latest = json.loads(cli(["status", path, "--json"], env).stdout)
    assert latest["run_id"] == retried["run_id"]
    # --step: that step runs again even though it had succeeded; the others are reused
    again = cli(["retry", path, "--run-id", retried["run_id"], "--step", "produce", "-q"],
                env, cwd=tmp_path)
    assert again.returncode == 0 and (tmp_path / "produced").read_text() == ".\n.\n"


def test_stop_cancels_a_running_run_and_it_exits_as_on_sigterm(tmp_path, home, collector):
    path = write(tmp_path, "slow.yaml", """\
        steps:
          - {name: first, command: "true"}
          - {name: wait, command: sleep 60.25}
          - {name: later, command: "true"}
        handlerOn:
          cancel: {command: echo cancelled}
        """)
    env = to_collector(home, collector)
    proc = subprocess.Popen(TRACEEXEC + ["start", "--json", path], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        record = json.loads(cli(["status", path, "--json"], env).stdout or "{}") \
            if os.path.isdir(os.path.join(str(home), "runs", "slow")) else {}
        if any(s["name"] == "first" and s["status"] == "succeeded"
               for s in record.get("steps", [])):
            break
        time.sleep(0.1)
    assert record.get("status") == "running", record
    stopped = cli(["stop", "slow"], env)
    assert stopped.returncode == 0, stopped.stderr
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()
    result = json.loads(out)
    spans = spans_of(collector, result["trace_id"], 5)
    assert spans["DAG: slow"]["attributes"]["dag.status"] == "cancelled"
    assert spans["DAG: slow"]["attributes"]["cicd.pipeline.result"] == "cancellation"
    assert spans["Step: wait"]["attributes"]["step.status"] == "cancelled"
    assert spans["Step: later"]["attributes"]["step.status"] == "cancelled"
    assert spans["Step: onCancel"]["attributes"]["step.status"] == "succeeded"
    assert cli(["stop", "slow"], env).returncode == 1  # nothing runs any more
    assert json.loads(cli(["status", "slow", "--json"], env).stdout)["status"] == "cancelled"


def test_concurrent_runs_of_one_dag_keep_their_own_records(tmp_path, home):
    path = write(tmp_path, "same.yaml", """\
        steps:
          - {name: a, command: "sleep 0.2"}
          - {name: b, command: echo "run $DAG_RUN_ID", output: SAID}
        """)
    env = traceexec_env(home)
    procs = [subprocess.Popen(TRACEEXEC + ["run", "-q", path], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    lines = cli(["history", "same", "--json"], env).stdout.decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 4 and {r["status"] for r in records} == {"succeeded"}
    for record in records:
        status = json.loads(cli(["status", "same", "-r", record["run_id"], "--json"],
                                env).stdout)
        assert status["outputs"]["SAID"] == "run " + record["run_id"]


def test_start_is_run_and_dry_runs_nothing(tmp_path, home):
    path = write(tmp_path, "tiny.yaml", "steps:\n  - {name: a, command: touch made}\n")
    env = traceexec_env(home)
    dry = cli(["dry", path], env, cwd=tmp_path)
    assert dry.returncode == 0 and "1. a: touch made" in dry.stdout.decode()
    assert not (tmp_path / "made").exists()
    assert cli(["start", "-q", path], env, cwd=tmp_path).returncode == 0
    assert (tmp_path / "made").exists()
    assert cli(["status", "no-such-dag"], env).returncode == 2
    assert cli(["retry", path, "--run-id", "nope"], env).returncode == 2


def test_a_wide_run_is_one_thread(tmp_path, home):
    """20 steps running at once, and the driver (each step's parent) has one thread."""
    steps = "".join("  - {name: s%d, command: \"sh -c 'sleep 0.5; ls /proc/$PPID/task "
                    "| wc -l'\", output: T%d}\n" % (i, i) for i in range(20))
    path = write(tmp_path, "wide.yaml", "type: graph\nsteps:\n" + steps)
    done, result = run_dag([path], traceexec_env(home))
    assert done.returncode == 0
    threads = {step["output"] for step in result["steps"]}
    assert threads == {"1"}, threads


def test_unwritable_home_warns_once_and_runs(tmp_path):
    path = write(tmp_path, "plain.yaml", """\
        steps:
          - {name: a, command: echo out}
          - {name: b, command: "sh -c 'exit 3'"}
        """)
    env = traceexec_env("/proc/traceexec-cannot-write-here")
    done = run_traceexec(["run", "-q", path], env, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == b"out\n"
    warnings = [l for l in done.stderr.decode().splitlines() if "warning" in l]
    assert len(warnings) == 1 and "not writable" in warnings[0], done.stderr.decode()


def test_validate_refuses_what_is_not_a_dag_file_at_once(tmp_path, home):
    env = traceexec_env(home)
    started = time.monotonic()
    done = run_traceexec(["validate", "/dev/zero"], env, timeout=30)
    assert done.returncode == 2 and time.monotonic() - started < 20
    assert done.stderr.decode().startswith("traceexec: /dev/zero: not a regular file")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    done = run_traceexec(["validate", str(fifo)], env, timeout=30)
    assert done.returncode == 2 and "not a regular file" in done.stderr.decode()


def test_a_secret_in_nested_dag_params_is_found_nowhere(tmp_path, home, collector):
    secret = "s3cr3t-%d-token" % os.getpid()
    write(tmp_path, "child.yaml", """\
        params: "API_TOKEN=none"
        steps:
          - {name: use, command: sh -c 'test -n "$API_TOKEN"'}
        """)
    path = write(tmp_path, "parent.yaml", """\
        steps:
          - name: call
            run: child.yaml
            params: "API_TOKEN=%s"
        """ % secret)
    done, result = run_dag([path], to_collector(home, collector))
    assert done.returncode == 0, done.stderr.decode()
    spans = collector.wait_for(4, trace_id=result["trace_id"])  # DAG, Step, DAG, Step
    assert len(spans) == 4
    assert secret not in json.dumps(spans)
    for folder in (home, collector.home):
        for root, _, files in os.walk(str(folder)):
            for name in files:
                with open(os.path.join(root, name), "rb") as handle:
                    assert secret.encode() not in handle.read(), os.path.join(root, name)


def test_restart_runs_again_with_the_same_params_but_never_a_secret_it_did_not_keep(tmp_path,
                                                                                   home):
    path = write(tmp_path, "again.yaml", """\
        params: "WHO=nobody"
        steps:
          - {name: greet, command: echo "hi $WHO", output: SAID}
        """)
    env = traceexec_env(home)
    assert cli(["run", "-q", path, "--params", "WHO=ana"], env, cwd=tmp_path).returncode == 0
    again = json.loads(cli(["restart", path, "--json", "-q"], env, cwd=tmp_path).stdout)
    assert again["outputs"]["SAID"] == "hi ana" and again["params"] == "WHO=ana"
    assert cli(["run", "-q", path, "--params", "WHO=ana PASSWORD=hunter2"], env,
               cwd=tmp_path).returncode == 0
    refused = cli(["restart", path], env, cwd=tmp_path)
    assert refused.returncode == 2 and "give them with --params" in refused.stderr.decode()
    for root, _, files in os.walk(str(home)):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                assert b"hunter2" not in handle.read(), name


def test_a_signal_stops_a_hanging_handler_too(tmp_path, home):
    path = write(tmp_path, "hang.yaml", """\
        steps:
          - {name: a, command: "true"}
        handlerOn:
          exit: {command: sleep 60.75}
        """)
    proc = subprocess.Popen(TRACEEXEC + ["run", "-q", path], env=traceexec_env(home),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "sleep 60.75" not in subprocess.run(
            ["ps", "-eo", "args"], capture_output=True, text=True).stdout:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 143  # the steps had succeeded; the handler was stopped
    assert "sleep 60.75" not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                             text=True).stdout


FAILING = """\
    name: explain
    type: graph
    steps:
      - name: extract
        env:
          - API_TOKEN: s3cr3t-value-42
        command: >-
          sh -c 'seq 1 30 >&2; echo "using $API_TOKEN, --password hunter2" >&2;
          echo "disk full: /data" >&2; exit 3'
      - name: fine
        command: "true"
    handlerOn:
      failure:
        command: sh -c 'echo handler saw it >&2; exit 4'
    """


def test_a_failed_step_says_why_in_its_span_the_summary_show_and_html(tmp_path, home,
                                                                     collector):
    """The stderr tail (last 10 lines, redacted) is an exception event on the failed step
    and handler spans at a real receiver, with the log paths as attributes; the end-of-run
    summary, ``show`` and ``show --html`` print it beside the failed step."""
    path = write(tmp_path, "explain.yaml", FAILING)
    env = to_collector(home, collector, TRACEEXEC_KEEP_LOCAL="1")
    done = run_traceexec(["run", path], env, cwd=str(tmp_path))
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "  extract failed: exit status 3" in err, err
    assert "    | disk full: /data" in err and "    | 23\n" in err and "    | 22\n" not in err
    assert "s3cr3t-value-42" not in err.split("extract failed")[1].split("trace id")[0]
    trace_id = next(line.split()[-1] for line in err.splitlines()
                    if line.startswith("  trace id"))
    spans = spans_of(collector, trace_id, 4)
    for name, last in (("Step: extract", "disk full: /data"), ("Step: onFailure", None)):
        record = spans[name]
        event = next(e for e in record["events"] if e["name"] == "exception")
        tail = event["attributes"]["exception.stacktrace"]
        assert event["attributes"]["exception.type"] == "StepFailed"
        assert event["attributes"]["exception.message"].startswith("exit status")
        assert tail.splitlines()[-1] == (last or "handler saw it"), tail
        assert len(tail.splitlines()) <= 10
        assert os.path.isfile(record["attributes"]["step.log.stderr"])
    tail = next(e for e in spans["Step: extract"]["events"]
                if e["name"] == "exception")["attributes"]["exception.stacktrace"]
    assert "s3cr3t-value-42" not in tail and "hunter2" not in tail, tail
    assert "using [REDACTED], --password [REDACTED]" in tail, tail
    assert "exception" not in [e["name"] for e in spans["Step: fine"]["events"]]
    shown = run_traceexec(["show", trace_id], env).stdout.decode()
    rows = shown.splitlines()
    at = next(i for i, line in enumerate(rows) if "Step: extract" in line)
    assert rows[at + 10].strip() == "| disk full: /data", shown
    html = run_traceexec(["show", "--html", "-", trace_id], env).stdout.decode()
    served = urllib.request.urlopen(collector.web_url.rstrip("/") + "/trace/" + trace_id,
                                    timeout=30).read().decode()
    for page in (html, served):  # show --html, and the viewer of the receiver
        section = page.split("Failed: why", 1)[1].split("</section>", 1)[0]
        assert "disk full: /data" in section and "handler saw it" in section
        assert "hunter2" not in section and "[REDACTED]" in section


# Statuses and exit codes as Dagu gives them (v1.17.4 scheduler.go Status/isPartialSuccess,
# v2.6.5 runtime/runner.go Status/isPartialSuccess/handleNodeExecutionError/isReady, node.go
# ShouldContinue, cmd/main.go: any last error exits 1).  Each case: the file, the exit status,
# the run's status, each step's, each handler's, and the DAG_RUN_STATUS the exit handler saw.
STATUS_CASES = {
    "all-succeed": ("""\
        handlerOn: {success: {command: "true"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "true"}
          - {name: b, command: "true", depends: [a]}
        """, 0, "succeeded", {"a": "succeeded", "b": "succeeded"},
        {"onSuccess": "succeeded", "onExit": "succeeded"}),
    "a-step-fails": ("""\
        handlerOn: {failure: {command: "true"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "false"}
          - {name: b, command: "true", depends: [a]}
        """, 1, "failed", {"a": "failed", "b": "cancelled"},
        {"onFailure": "succeeded", "onExit": "succeeded"}),
    "allowed-beside-a-success": ("""\
        handlerOn: {success: {command: "true"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "false", continueOn: {failure: true}}
          - {name: b, command: "true", depends: [a]}
        """, 1, "partially_succeeded", {"a": "failed", "b": "succeeded"},
        {"onSuccess": "succeeded", "onExit": "succeeded"}),
    "allowed-alone": ("""\
        handlerOn: {failure: {command: "true"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "false", continueOn: {failure: true}}
        """, 1, "failed", {"a": "failed"}, {"onFailure": "succeeded", "onExit": "succeeded"}),
    "mark-success": ("""\
        steps:
          - {name: a, command: "false", continueOn: {failure: true, markSuccess: true}}
          - {name: b, command: "true", depends: [a]}
        """, 0, "succeeded", {"a": "succeeded", "b": "succeeded"}, {}),
    "allowed-exit-code": ("""\
        steps:
          - {name: a, command: "sh -c 'exit 3'", continueOn: {exitCode: [3]}}
          - {name: b, command: "true", depends: [a]}
        """, 1, "partially_succeeded", {"a": "failed", "b": "succeeded"}, {}),
    "skipped-by-precondition": ("""\
        steps:
          - {name: a, command: "true", preconditions: [{condition: "x", expected: "y"}]}
          - {name: b, command: "true", depends: [a]}
        """, 0, "succeeded", {"a": "skipped", "b": "skipped"}, {}),
    "skipped-allowed": ("""\
        steps:
          - name: a
            command: "true"
            preconditions: [{condition: "x", expected: "y"}]
            continueOn: {skipped: true}
          - {name: b, command: "true", depends: [a]}
        """, 0, "succeeded", {"a": "skipped", "b": "succeeded"}, {}),
    "dag-precondition-unmet": ("""\
        preconditions: [{condition: "x", expected: "y"}]
        handlerOn: {cancel: {command: "true"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "true"}
        """, 0, "cancelled", {"a": "cancelled"},
        {"onCancel": "succeeded", "onExit": "succeeded"}),
    # Status() says aborted (canceled, not every step succeeded); the handler's error is
    # the run's last error, so dagu start exits 1
    "dag-precondition-unmet-handler-fails": ("""\
        preconditions: [{condition: "x", expected: "y"}]
        handlerOn: {cancel: {command: "false"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "true"}
        """, 1, "cancelled", {"a": "cancelled"},
        {"onCancel": "failed", "onExit": "succeeded"}),
    "retried": ("""\
        steps:
          - name: a
            command: sh -c 'echo . >> tries; [ $(wc -l < tries) -ge 2 ]'
            retryPolicy: {limit: 2, intervalSec: 0.1}
        """, 0, "succeeded", {"a": "succeeded"}, {}),
    "step-timeout": ("""\
        steps:
          - {name: a, command: sleep 30, timeoutSec: 0.5}
          - {name: b, command: "true", depends: [a]}
        """, 1, "failed", {"a": "failed", "b": "cancelled"}, {}),
    "dag-timeout": ("""\
        timeoutSec: 1
        handlerOn: {failure: {command: "true"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: sleep 30}
          - {name: b, command: "true", depends: [a]}
        """, 1, "failed", {"a": "cancelled", "b": "cancelled"},
        {"onFailure": "succeeded", "onExit": "succeeded"}),
    "a-handler-fails-a-success": ("""\
        handlerOn: {success: {command: "false"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "true"}
        """, 1, "failed", {"a": "succeeded"}, {"onSuccess": "failed", "onExit": "succeeded"}),
    # Status() asks isPartialSuccess before isError: a failed handler leaves it partial
    "a-handler-fails-a-partial-success": ("""\
        handlerOn: {success: {command: "false"}, exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "false", continueOn: {failure: true}}
          - {name: b, command: "true"}
        """, 1, "partially_succeeded", {"a": "failed", "b": "succeeded"},
        {"onSuccess": "failed", "onExit": "succeeded"}),
    # ShouldContinue looks at the status, whatever made the step fail
    "failed-before-it-started-allowed": ("""\
        steps:
          - {name: a, command: "echo '{\\"x\\": 1}'", output: O}
          - {name: b, command: "echo ${O.y}", depends: [a], continueOn: {failure: true}}
          - {name: c, command: "true", depends: [b]}
        """, 1, "partially_succeeded", {"a": "succeeded", "b": "failed", "c": "succeeded"}, {}),
    "v2-init-fails": ("""\
        type: graph
        handler_on: {init: {command: "false"}, abort: {command: "true"},
                     exit: {command: 'echo "$DAG_RUN_STATUS"'}}
        steps:
          - {name: a, command: "true"}
        """, 1, "aborted", {"a": "aborted"},
        {"onInit": "failed", "onAbort": "succeeded", "onExit": "succeeded"}),
    "v2-upstream-failed": ("""\
        type: graph
        max_active_steps: 2
        steps:
          - {name: a, command: "false"}
          - {name: b, command: "true", depends: [a]}
        """, 1, "failed", {"a": "failed", "b": "aborted"}, {}),
    # runner.go shouldRepeatNode: the limit counts runs; the last run's outcome is the step's
    "v2-repeat-and-retries-run-out": ("""\
        type: graph
        steps:
          - name: a
            command: "false"
            repeat_policy: {repeat: until, exit_code: [0], limit: 3, interval_sec: 0}
          - {name: b, command: "false", retry_policy: {limit: 2, interval_sec: 0}}
          - {name: c, command: "true", depends: [a]}
        """, 1, "failed", {"a": "failed", "b": "failed", "c": "aborted"}, {}),
    # builtin/dag/dag.go DetermineNodeStatus: a sub-DAG's partial success is the step's,
    # anything else but a success fails it; a partly succeeded step alone exits 0
    "sub-dag-partial-and-aborted": ("""\
        type: graph
        steps:
          - {name: p, run: partial}
          - {name: c, run: skipped}
          - {name: d, command: "true", depends: [p]}
        ---
        name: partial
        steps:
          - {name: x, command: "false", continueOn: {failure: true}}
          - {name: y, command: "true"}
        ---
        name: skipped
        preconditions: [{condition: "x", expected: "y"}]
        steps:
          - {name: z, command: "true"}
        """, 1, "failed", {"p": "partially_succeeded", "c": "failed", "d": "succeeded"}, {},
        3 + 2),
    "sub-dag-partial-alone": ("""\
        steps:
          - {name: p, run: partial}
        ---
        name: partial
        steps:
          - {name: x, command: "false", continueOn: {failure: true}}
          - {name: y, command: "true"}
        """, 0, "partially_succeeded", {"p": "partially_succeeded"}, {}, 3),
}
SPAN_STATUS = {"succeeded": span.STATUS_OK, "partially_succeeded": span.STATUS_OK,
               "failed": span.STATUS_ERROR, "skipped": span.STATUS_UNSET,
               "cancelled": span.STATUS_UNSET, "aborted": span.STATUS_UNSET}


@pytest.mark.parametrize("case", sorted(STATUS_CASES))
def test_statuses_and_exit_codes_as_dagu_gives_them(case, tmp_path, home, collector):
    text, exit_status, status, steps, handlers, *more = STATUS_CASES[case]
    nested = more[0] if more else 0  # the spans of sub-DAG runs
    path = write(tmp_path, "%s.yaml" % case, text)
    env = to_collector(home, collector)
    done, result = run_dag([path], env)
    assert (done.returncode, result["status"]) == (exit_status, status), done.stderr.decode()
    assert {s["name"]: s["status"] for s in result["steps"]} == steps
    if case.startswith("v2-repeat"):
        assert [s["attempts"] for s in result["steps"]] == [3, 3, 0]
    assert {h["name"]: h["status"] for h in result["handlers"]} == handlers
    if "onExit" in handlers:  # DAG_RUN_STATUS is the run's status when the handler starts
        with open(next(h for h in result["handlers"] if h["name"] == "onExit")["logs"][
                "stdout"], encoding="utf-8") as handle:
            assert handle.read() == status + "\n"
    spans = spans_of(collector, result["trace_id"], 1 + len(steps) + len(handlers) + nested)
    root = spans["DAG: " + case]
    assert root["attributes"]["dag.status"] == status
    assert root["attributes"]["dag.exit_status"] == exit_status
    assert root["status_code"] == (span.STATUS_ERROR if exit_status else SPAN_STATUS[status])
    for name, word in list(steps.items()) + list(handlers.items()):
        record = spans.get("Step: " + name) or spans["Handler: " + name]
        assert record["attributes"]["step.status"] == word, name
        assert record["status_code"] == SPAN_STATUS[word], (name, record["status_message"])
    shown = cli(["status", path], env).stdout.decode()
    for name, word in steps.items():
        assert any(name in line and word in line for line in shown.splitlines()), shown
    history = cli(["history", path], env).stdout.decode().splitlines()
    assert result["run_id"] in history[1] and status in history[1], history
