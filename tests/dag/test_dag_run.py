"""DAG runs in-process with real processes: statuses, retries, timeouts, outputs, spans.

Spans go to an in-memory recorder; the integration tests check them at a
real receiver.
"""
from __future__ import annotations

import io
import os
import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from conftest import traceexec_env
from traceexec.delivery import span
from traceexec.dag import load, model, run, schedule, telemetry
from traceexec.dag.progress import Progress
from traceexec.wrap.supervise import Outcome


class Done:
    """One finished run: its result, its span records by name, what it printed."""

    def __init__(self, result, records, err, out):
        self.result = result
        self.records = records
        self.err = err
        self.out = out

    def span(self, name):
        return next(r for r in self.records if r["name"] == name)

    def step(self, name):
        return next(r for r in self.result.steps + self.result.handlers if r.step.name == name)


@pytest.fixture
def run_dag(tmp_path, home):
    def run_dag(text, *, params=(), environ=None, progress_prefix=None, name="dag.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        dag = load.load(str(path))
        recorder = telemetry.MemoryRecorder()
        err, out = io.BytesIO(), io.BytesIO()
        prefix = run.can_overlap(dag) if progress_prefix is None else progress_prefix
        progress = Progress(dag.name, err=err, out=out, prefix=prefix)
        result = run.execute(dag, environ=environ or traceexec_env(home), params=params,
                             recorder=recorder, progress=progress, home=str(home),
                             cwd=str(tmp_path))
        return Done(result, recorder.records, err.getvalue().decode(), out.getvalue().decode())
    return run_dag


def test_steps_spans_and_traceparent(run_dag, tmp_path):
    done = run_dag("""\
        name: simple
        steps:
          - name: first
            command: sh -c 'echo "$TRACEPARENT" > tp'
          - name: second
            command: "true"
        """)
    assert done.result.status == model.SUCCEEDED and done.result.exit_status == 0
    root = done.span("DAG: simple")
    first = done.span("Step: first")
    assert root["parent_span_id"] == ""
    assert root["status_code"] == span.STATUS_OK
    assert root["attributes"]["dag.status"] == "succeeded"
    assert root["attributes"]["dag.run_id"] == done.result.run_id
    assert first["parent_span_id"] == root["span_id"]
    assert first["attributes"]["step.exit_code"] == 0
    assert first["attributes"]["process.exit.code"] == 0
    # a command line with shell syntax runs through Dagu's default shell, $SHELL
    assert first["attributes"]["process.executable.name"] == os.path.basename(
        os.environ.get("SHELL") or "sh")
    # the command got TRACEPARENT of its own step span
    assert (tmp_path / "tp").read_text().strip() == "00-%s-%s-01" % (
        root["trace_id"], first["span_id"])
    assert first["start_ns"] < done.span("Step: second")["start_ns"]
    assert "first started" in done.err and "first succeeded" in done.err


def test_incoming_traceparent_is_the_dag_span_parent(run_dag, home):
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    done = run_dag("steps:\n  - {name: a, command: 'true'}\n",
                   environ=traceexec_env(home, TRACEPARENT=parent))
    root = done.span("DAG: dag")
    assert root["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert root["parent_span_id"] == "00f067aa0ba902b7"


def test_failure_cancels_downstream_and_spans_cover_unrun_steps(run_dag):
    done = run_dag("""\
        steps:
          - {name: ok, command: "true"}
          - {name: bad, command: "sh -c 'exit 3'", depends: ok}
          - {name: next, command: "touch never", depends: bad}
          - {name: last, command: "touch never", depends: next}
          - {name: side, command: "true", depends: ok}
        """)
    assert done.result.status == model.FAILED and done.result.exit_status == 1
    bad = done.span("Step: bad")
    assert bad["status_code"] == span.STATUS_ERROR
    assert bad["attributes"]["step.exit_code"] == 3
    for name in ("next", "last"):
        record = done.span("Step: " + name)
        assert record["attributes"]["step.status"] == "cancelled"
        assert record["start_ns"] == record["end_ns"]
        assert "step.exit_code" not in record["attributes"]
    assert done.step("next").reason == "upstream step 'bad' failed"
    assert done.step("side").status == model.SUCCEEDED
    assert done.span("DAG: dag")["status_code"] == span.STATUS_ERROR


def test_continue_on_gives_partial_success_and_exit_1_as_in_dagu(run_dag):
    done = run_dag("""\
        steps:
          - name: flaky
            command: sh -c 'exit 2'
            continueOn: {exitCode: [2]}
          - name: marked
            command: sh -c 'exit 1'
            continueOn: {failure: true, markSuccess: true}
            depends: []
          - name: after
            command: "true"
            depends: [flaky, marked]
        """)
    assert done.result.status == model.PARTIALLY_SUCCEEDED
    assert done.result.exit_status == 1  # Dagu's start returns the allowed failure's error
    assert done.step("flaky").status == model.FAILED and done.step("flaky").failure_allowed
    assert done.step("marked").status == model.SUCCEEDED
    assert done.step("after").status == model.SUCCEEDED
    assert done.span("DAG: dag")["attributes"]["dag.status"] == "partially_succeeded"


def test_preconditions_skip_and_continue_on_skipped(run_dag):
    done = run_dag("""\
        params: "MODE=full"
        steps:
          - name: only-quick
            command: "true"
            preconditions:
              - condition: "$MODE"
                expected: "quick"
          - name: skipped-too
            command: "true"
            depends: only-quick
          - name: by-command
            command: "true"
            preconditions: ["test -d /"]
            continueOn: {skipped: true}
            depends: []
          - name: regex
            command: "true"
            preconditions:
              - condition: "`echo v12`"
                expected: "re:v[0-9]+"
            depends: []
        """)
    assert done.step("only-quick").status == model.SKIPPED
    assert "expected 'quick'" in done.step("only-quick").reason
    assert done.step("skipped-too").status == model.SKIPPED
    assert done.step("by-command").status == model.SUCCEEDED
    assert done.step("regex").status == model.SUCCEEDED
    assert done.result.status == model.SUCCEEDED


def test_retries_are_one_span_with_an_event_per_attempt(run_dag, tmp_path):
    done = run_dag("""\
        steps:
          - name: third-time
            command: sh -c 'echo x >> tries; [ $(wc -l < tries) -ge 3 ]'
            retryPolicy: {limit: 4, intervalSec: 0}
          - name: wrong-code
            command: sh -c 'exit 5'
            retryPolicy: {limit: 3, exitCode: [1]}
            depends: []
        """)
    record = done.span("Step: third-time")
    assert record["attributes"]["step.attempts"] == 3
    assert [e["attributes"]["attempt"] for e in record["events"]] == [1, 2, 3]
    assert [e["attributes"]["exit_code"] for e in record["events"]] == [1, 1, 0]
    assert record["status_code"] == span.STATUS_OK
    assert done.span("Step: wrong-code")["attributes"]["step.attempts"] == 1


def test_step_timeout_fails_with_124(run_dag):
    done = run_dag("""\
        steps:
          - name: slow
            command: sleep 20
            timeoutSec: 0.3
        """)
    slow = done.span("Step: slow")
    assert slow["attributes"]["step.exit_code"] == 124
    assert slow["attributes"]["error.type"] == "timeout"
    assert slow["status_code"] == span.STATUS_ERROR
    assert done.result.status == model.FAILED
    assert (slow["end_ns"] - slow["start_ns"]) / 1e9 < 5


def test_dag_timeout_fails_the_run_and_cancels_its_steps_as_in_dagu(run_dag):
    done = run_dag("""\
        timeoutSec: 0.3
        steps:
          - {name: slow, command: sleep 20}
          - {name: after, command: "true"}
        handlerOn:
          failure: {command: "true"}
          cancel: {command: "true"}
        """)
    assert done.result.status == model.FAILED and done.result.exit_status == 1
    assert done.step("slow").status == model.CANCELLED
    assert done.step("after").status == model.CANCELLED
    assert done.step("onFailure").status == model.SUCCEEDED
    assert [h.step.name for h in done.result.handlers] == ["onFailure"]
    root = done.span("DAG: dag")
    assert "timed out" in root["status_message"]
    assert root["attributes"]["cicd.pipeline.result"] == "timeout"


def test_output_variables_reach_later_steps(run_dag, tmp_path):
    done = run_dag("""\
        steps:
          - name: produce
            command: sh -c 'echo "  v-$DAG_NAME  "'
            output: VALUE
          - name: consume
            command: [sh, -c, 'echo "$0" > got', "${VALUE}"]
        """)
    assert done.step("produce").output == "v-dag"
    assert (tmp_path / "got").read_text() == "v-dag\n"
    assert done.span("Step: consume")["attributes"]["process.command_args"][-1] == "v-dag"


def test_params_env_and_positional(run_dag, tmp_path):
    done = run_dag("""\
        params: "GREETING=hi first"
        env:
          - TARGET: ${GREETING}-there
        steps:
          - name: say
            command: echo "$TARGET $1" > said
        """, params=[("GREETING", "yo"), (None, "one")])
    assert done.result.status == model.SUCCEEDED
    assert (tmp_path / "said").read_text() == "yo-there one\n"


def test_max_active_steps_one_runs_steps_one_at_a_time(run_dag):
    done = run_dag("""\
        maxActiveSteps: 1
        type: graph
        steps:
          - {name: a, command: sleep 0.1}
          - {name: b, command: sleep 0.1}
          - {name: c, command: sleep 0.1}
        """)
    spans = sorted((done.span("Step: " + n) for n in "abc"), key=lambda r: r["start_ns"])
    for earlier, later in zip(spans, spans[1:]):
        assert earlier["end_ns"] <= later["start_ns"]


def test_a_wide_fan_out_reaps_ended_steps_between_batches(run_dag, monkeypatch):
    """Starting every ready step in one turn held each one's pipes, pidfd and zombie
    until the last had started; in batches, steps that ended are reaped in between."""
    from traceexec.dag import process
    running_at_start = []
    spawn = process.spawn

    def counted(*args, **kwargs):
        running_at_start.append(process._running)
        return spawn(*args, **kwargs)

    monkeypatch.setattr(process, "spawn", counted)
    steps = 3 * schedule.START_BATCH
    done = run_dag("type: graph\nsteps:\n" + "".join(
        "  - {name: s%d, command: \"true\"}\n" % i for i in range(steps)))
    assert done.result.status == model.SUCCEEDED and len(running_at_start) == steps
    assert max(running_at_start) < steps - 1  # some ended and were reaped meanwhile
    assert process._running == 0


def test_steps_leave_no_reference_cycles(run_dag):
    """A step's objects must go when it ends, by reference counting: the run keeps the
    collector's full passes rare (run.FULL_PASS_EVERY), so cycles would pile up."""
    import gc
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        done = run_dag("type: graph\nsteps:\n" + "".join(
            "  - {name: s%d, command: \"echo %d\"}\n" % (i, i) for i in range(20)) +
            "  - {name: late, command: \"sleep 0.2\", timeoutSec: 10, depends: [s0]}\n")
        gc.collect()
        left = sorted({type(o).__name__ for o in gc.garbage} &
                      {"Child", "Task", "Spawned", "Sink", "FanState", "generator"})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert done.result.status == model.SUCCEEDED
    assert left == []


def test_the_collector_passes_rarely_during_a_run_and_as_before_after(tmp_path, home):
    """Young passes every run.YOUNG_PASS_AFTER allocations at least, full passes every
    run.FULL_PASS_EVERY younger ones, during the run only."""
    import gc
    seen = []

    class Watching(telemetry.MemoryRecorder):
        def record(self, records):
            seen.append(gc.get_threshold())
            super().record(records)

    path = tmp_path / "dag.yaml"
    path.write_text("steps:\n  - {name: one, command: \"true\"}\n")
    before = gc.get_threshold()
    run.execute(load.load(str(path)), environ=traceexec_env(home), recorder=Watching(),
                progress=Progress("dag", err=io.BytesIO(), out=io.BytesIO()),
                home=str(home), cwd=str(tmp_path))
    assert seen[0] == (max(before[0], run.YOUNG_PASS_AFTER), before[1],
                       max(before[2], run.FULL_PASS_EVERY))
    assert gc.get_threshold() == before


class _Word(str):
    pass


@pytest.mark.parametrize("change", [
    {}, {"reason": "upstream step 'x' failed"}, {"output": "caf\u00e9 \"q\""},
    {"reused": True}, {"logs": {}}, {"logs": {"stdout": "/tmp/\u00e9.out", "stderr": None}},
    {"exit_code_override": 3}, {"outcome": None}, {"output": 5}, {"span_id": 7},
    {"reason": _Word("why")}, {"start_ns": 2.5}, {"logs": {1: "x"}}, {"id": "the-id"},
    {"name": _Word("s")}, {"id": 4}, {"exit_code_override": True}, {"status": model.FAILED},
    {"end_ns": 1_700_000_000_123_458_289}, {"end_ns": 1_700_000_000_123_456_000},
    {"start_ns": 0, "end_ns": 10 ** 15 + 7}, {"start_ns": 0, "end_ns": 10 ** 15 - 1},
    {"start_ns": 0, "end_ns": 0}, {"status": model.CANCELLED},
    {"status": model.CANCELLED, "schema": model.V2}, {"status": model.RUNNING, "outcome": None,
                                                      "attempts": [], "end_ns": 0},
    {"exit_code_override": 0, "outcome": Outcome(exit_status=9)},
])
def test_a_step_in_the_run_record_is_as_json_writes_it(tmp_path, change):
    """RunResult._step_text (plain values written at once) against json.dumps of
    _step_json, and the whole record's text against json.dumps of to_json."""
    import json
    from traceexec.dag.model import Attempt, StepResult
    path = tmp_path / "dag.yaml"
    path.write_text("steps:\n  - {name: s, command: \"true\"}\n")
    dag = load.load(str(path))
    step = dag.steps[0]
    for key in ("id", "name"):
        if key in change:
            setattr(step, key, change.pop(key))
    dag.schema = change.pop("schema", dag.schema)
    result = run.RunResult(dag, "run-1", "ab" * 16, str(tmp_path))
    fields = {"step": step, "span_id": "cd" * 8, "status": model.SUCCEEDED,
              "start_ns": 1_700_000_000_123_456_789, "end_ns": 1_700_000_000_987_654_321,
              "outcome": Outcome(exit_status=0), "attempts": [Attempt(1, 1, 2, 0)],
              "logs": {"stdout": str(tmp_path / "s.out"), "stderr": str(tmp_path / "s.err")}}
    fields.update(change)
    step_result = StepResult(**fields)
    result.steps.append(step_result)
    result.handlers.append(step_result)
    expected = json.dumps(result._step_json(step_result), separators=(",", ":"))
    assert result._step_text(step_result) == expected
    assert result.to_text() == json.dumps(result.to_json(), separators=(",", ":"))


_TEXT = st.one_of(st.text(max_size=8), st.sampled_from(["", "caf\u00e9", 'q"b\\s', "caf\udce9",
                                                         "100%", "{x}"]))


@settings(max_examples=800, deadline=None)
@given(st.builds(
    lambda name, step_id, status, code, override, reason, output, logs, start, took, reused,
    attempts, run_id: (model.StepResult(
        step=model.Step(name=name, id=step_id), span_id="cd" * 8, status=status,
        start_ns=start, end_ns=start + took, outcome=None if code is None else Outcome(
            exit_status=code), exit_code_override=override, reason=reason, output=output,
        logs=logs, reused=reused, attempts=[model.Attempt(1, 1, 2, 0)] * attempts), run_id),
    _TEXT, st.one_of(st.none(), _TEXT), st.sampled_from(
        [model.SUCCEEDED, model.FAILED, model.RUNNING, model.PENDING, model.CANCELLED]),
    st.sampled_from([None, 0, 1, -9]), st.sampled_from([None, None, 0, 3, True]),
    st.one_of(st.just(""), _TEXT), st.one_of(st.none(), _TEXT, st.just(5)),
    st.one_of(st.just({"stdout": "/r/s.out", "stderr": "/r/s.err"}),
              st.dictionaries(_TEXT, st.one_of(_TEXT, st.none()), max_size=2)),
    st.one_of(st.integers(0, 2 ** 62), st.just(2.5)), st.one_of(
        st.integers(-10, 10 ** 16), st.sampled_from([500, 1_500, 10 ** 15 + 500])),
    st.booleans(), st.integers(0, 2), _TEXT))
def test_a_steps_text_in_the_run_record_is_json_of_its_values(case):
    """RunResult._step_text against json.dumps of _step_json, for any values."""
    import json
    step_result, run_id = case
    result = run.RunResult(model.Dag(name="d", path="/d.yaml"), run_id, "ab" * 16, "/r")
    for _ in range(2):  # the second time with the run's ids' text kept
        assert result._step_text(step_result) == json.dumps(result._step_json(step_result),
                                                            separators=(",", ":"))


def test_a_runs_records_share_its_resource_and_read_as_copies_would(run_dag):
    """spans._record hands new_record what it built for the record (owned): one resource
    dict for the whole run, which the OTLP writer takes as one group without comparing."""
    done = run_dag("type: graph\nsteps:\n  - {name: a, command: \"true\"}\n"
                   "  - {name: b, command: \"false\"}\n")
    resource = done.records[0]["resource"]
    assert len(done.records) == 3 and all(r["resource"] is resource for r in done.records)
    for record in done.records:
        copied = span.new_record(**record)
        assert copied == record and copied["attributes"] is not record["attributes"]


def test_parallel_output_is_prefixed_and_logged(run_dag):
    done = run_dag("""\
        type: graph
        steps:
          - {name: left, command: "echo from-left"}
          - {name: right, command: "sh -c 'echo from-right >&2'"}
        """)
    assert "left | from-left\n" in done.out
    assert "right | from-right\n" in done.err
    with open(done.step("left").logs["stdout"]) as handle:
        assert handle.read() == "from-left\n"
    status = os.path.join(done.result.run_dir, "status.json")
    assert os.path.exists(status)


def test_missing_command_fails_the_step_with_127(run_dag):
    done = run_dag("steps:\n  - {name: nope, command: no-such-command-here}\n")
    assert done.step("nope").exit_code == 127
    assert done.span("Step: nope")["attributes"]["error.type"] == "command_not_found"


def test_handlers_run_by_status(run_dag):
    done = run_dag("""\
        steps:
          - {name: bad, command: "false"}
        handlerOn:
          success: {command: "true"}
          failure: {name: notify, command: "true"}
          exit: {command: "true"}
        """)
    # Dagu 1 names a handler after its event, whatever name: it was given
    assert [r.step.name for r in done.result.handlers] == ["onFailure", "onExit"]
    assert done.span("Step: onFailure")["parent_span_id"] == done.span("DAG: dag")["span_id"]


def test_a_run_inside_its_own_ancestry_is_refused(tmp_path, home):
    path = tmp_path / "self.yaml"
    path.write_text("steps:\n  - {name: a, command: 'true'}\n")
    dag = load.load(str(path))
    environ = traceexec_env(home, TRACEEXEC_DAG_STACK=os.pathsep.join(["other.yaml", str(path)]))
    with pytest.raises(run.DagRecursion, match="DAG runs itself: other.yaml -> self.yaml -> "
                                               "self.yaml"):
        run.execute(dag, environ=environ, recorder=telemetry.MemoryRecorder())
    deep = os.pathsep.join("d%d.yaml" % i for i in range(load.MAX_DEPTH))
    with pytest.raises(run.DagRecursion, match="deeper than"):
        run.execute(dag, environ=traceexec_env(home, TRACEEXEC_DAG_STACK=deep),
                    recorder=telemetry.MemoryRecorder())


def test_enabled_false_drops_inherited_endpoints():
    cfg = telemetry.export_config({"enabled": False, "resource": {"service.name": "d"}},
                                  {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, "d")
    assert cfg.endpoint is None and cfg.service == "d"
    env = telemetry.step_environment({"enabled": False}, cfg,
                                     {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "X": "1"})
    assert env == {"X": "1"}


def test_steps_inherit_the_dag_export_settings():
    settings = {"enabled": True, "endpoint": "collector:4317", "headers": {"Authorization":
                "Bearer a,b"}, "insecure": True, "timeout": 3.0, "resource": {}}
    cfg = telemetry.export_config(settings, {}, "d")
    env = telemetry.step_environment(settings, cfg, {})
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "collector:4317"
    assert env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] == "grpc"
    assert env["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"] == "3000"
    from traceexec.delivery import config
    again = config.resolve({}, None, env)
    assert again.endpoint == "collector:4317" and again.insecure
    assert again.headers == {"Authorization": "Bearer a,b"}


def test_step_logs_exist_only_for_steps_that_wrote(run_dag):
    done = run_dag("""\
        type: graph
        steps:
          - {name: quiet, command: "true"}
          - {name: talks, command: "echo said"}
          - {name: complains, command: "sh -c 'echo oops >&2'"}
        """)
    quiet, talks, complains = (done.step(n).logs for n in ("quiet", "talks", "complains"))
    assert not os.path.exists(quiet["stdout"]) and not os.path.exists(quiet["stderr"])
    assert os.path.exists(talks["stdout"]) and not os.path.exists(talks["stderr"])
    assert not os.path.exists(complains["stdout"]) and os.path.exists(complains["stderr"])


def test_each_step_links_to_the_steps_it_waited_for(run_dag):
    done = run_dag("""\
        type: graph
        steps:
          - {name: a, command: "true"}
          - {name: b, command: "true"}
          - {name: join, command: "true", depends: [a, b]}
          - {name: never, command: "true", depends: [join], preconditions: ["false"]}
        """)
    join = done.span("Step: join")
    links = {link["span_id"]: link for link in join["links"]}
    assert set(links) == {done.span("Step: a")["span_id"], done.span("Step: b")["span_id"]}
    for link in links.values():
        assert link["trace_id"] == join["trace_id"]
        assert link["attributes"] == {"traceexec.link.type": "depends"}
    assert [l["span_id"] for l in done.span("Step: never")["links"]] == [join["span_id"]]
    assert done.span("Step: a")["links"] == []


def test_cicd_conventions_beside_the_dag_attributes(run_dag):
    done = run_dag("""\
        name: ci
        steps:
          - {name: build, command: "true"}
          - {name: test, command: "false"}
          - {name: deploy, command: "true"}
        """)
    root = done.span("DAG: ci")["attributes"]
    assert root["cicd.pipeline.name"] == "ci" == root["dag.name"]
    assert root["cicd.pipeline.run.id"] == done.result.run_id == root["dag.run_id"]
    assert root["cicd.pipeline.result"] == "failure"
    expected = {"build": "success", "test": "failure", "deploy": "cancellation"}
    for name, result in expected.items():
        attrs = done.span("Step: " + name)["attributes"]
        assert attrs["cicd.pipeline.task.name"] == name
        assert attrs["cicd.pipeline.task.run.result"] == result
        assert attrs["cicd.pipeline.task.run.id"].startswith(done.result.run_id + "/")


def test_v2_files_say_aborted_where_v1_files_say_cancelled(run_dag):
    v2 = run_dag("""\
        max_active_steps: 1
        steps:
          - command: "false"
          - command: "true"
        """)
    assert v2.span("Step: cmd_2")["attributes"]["step.status"] == "aborted"
    assert v2.span("Step: cmd_2")["attributes"]["cicd.pipeline.task.run.result"] == \
        "cancellation"
    v1 = run_dag("steps:\n  - {name: a, command: 'false'}\n  - {name: b, command: 'true'}\n")
    assert v1.span("Step: b")["attributes"]["step.status"] == "cancelled"


def test_signal_on_stop_is_what_a_stopped_step_gets(run_dag):
    done = run_dag("""\
        timeoutSec: 1
        maxCleanUpTimeSec: 1
        steps:
          - name: polite
            command: sh -c 'trap "echo got-int; exit 0" INT; sleep 30 & wait'
            signalOnStop: SIGINT
        """)
    with open(done.step("polite").logs["stdout"]) as handle:
        assert handle.read() == "got-int\n"
    assert done.step("polite").status == model.CANCELLED
    assert done.result.status == model.FAILED  # a DAG timeout fails the run, as in Dagu


def test_special_variables_name_the_step_s_own_files(run_dag, tmp_path):
    done = run_dag("""\
        steps:
          - name: write
            command: sh -c 'echo to-log; echo "$DAG_RUN_STEP_STDOUT_FILE" > where'
            stdout: ${DAG_RUN_STEP_NAME}-${DAG_NAME}.txt
        """)
    assert (tmp_path / "write-dag.txt").read_text() == "to-log\n"
    assert (tmp_path / "where").read_text().strip() == done.step("write").logs["stdout"]


def test_the_run_record_and_report_are_json_s_own_text(run_dag, tmp_path, home):
    """Written without the json module: byte for byte what json.dumps writes."""
    import json
    report = tmp_path / "report.json"
    environ = traceexec_env(home, TRACEEXEC_DAG_RESULT=str(report))
    done = run_dag("""\
        name: bytes
        params: "GREETING=héllo"
        steps:
          - name: say
            command: printf 'naïve "q" \\\\ \\t 😀'
            output: SAID
          - {name: after, command: "false", depends: [say]}
        handlerOn:
          failure: {command: "true"}
        """, params=[("GREETING", "wörld \"x\"")], environ=environ)
    with open(os.path.join(done.result.run_dir, "status.json"), "rb") as handle:
        record = handle.read().decode("ascii")
    parsed = json.loads(record)
    assert parsed["outputs"]["SAID"].startswith("naïve") and parsed["handlers"]
    assert record == json.dumps(parsed, separators=(",", ":"))
    text = report.read_bytes().decode("ascii")
    assert "wörld" in json.loads(text)["params"]
    assert text == json.dumps(json.loads(text))
