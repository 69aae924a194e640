"""dag.steptext: a step's span text from the run's template is, byte for byte, its
record's text (spans.step_record, otlp_text); anything unusual goes the general way.  The
recorder writes the local store the same lines from those texts as from the records."""
import json
import os

from hypothesis import given, settings, strategies as st

from traceexec import __version__
from traceexec.dag import model, spans, steptext, telemetry
from traceexec.delivery import incoming, otlp_text, span
from traceexec.wrap.context import Incoming, SpanContext
from traceexec.wrap.supervise import Outcome

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TEXT = st.one_of(st.text(max_size=8), st.sampled_from(
    ["", "s1", "caf\u00e9", 'q"b\\s', "a\nb\x7f", "caf\udce9", "\u2028", "100%", "%s%d"]))
NS = st.one_of(st.integers(0, 2 ** 62), st.sampled_from([0, 1_500, 10 ** 15 + 500]))
CPU = st.one_of(st.floats(0, 100), st.sampled_from([0.0, 0.0000005, 1e-7, float("inf"),
                                                     float("nan"), 0, 3]))


def identity(name="fan", schema=model.V1, run_id="01a2-run", parent_run_id=None,
             trace_id=TRACE, span_id="00f067aa0ba902b7", flags=1, state=None,
             resource=None):
    dag = model.Dag(name=name, path="/dags/%s.yaml" % name, schema=schema)
    return spans.RunIdentity(dag, run_id, SpanContext(trace_id, span_id, flags),
                             Incoming(None, state, None, []),
                             resource or {"service.name": "fan"}, parent_run_id=parent_run_id)


WHO = st.builds(
    identity, name=TEXT, schema=st.sampled_from([model.V1, model.V2]), run_id=TEXT,
    parent_run_id=st.sampled_from([None, "", "parent-run"]),
    trace_id=st.sampled_from([TRACE] * 6 + ["../x", "0" * 32]),
    span_id=st.sampled_from(["00f067aa0ba902b7", ""]), flags=st.sampled_from([1, 0, 3, 0x1FF,
                                                                              True]),
    state=st.sampled_from([None, "", "k=v"]),
    resource=st.sampled_from([None, {"service.name": "x", "n": 2}, {}]))


def outcome(pid=4242, exit_status=0, signal=None, timed_out=False, problem=None,
            user_cpu=0.000524, system_cpu=0.0, max_rss=22925312, path="/bin/true",
            timeout=None):
    made = Outcome(pid=pid, exit_status=exit_status, signal=signal, timed_out=timed_out,
                   problem=problem, user_cpu=user_cpu, system_cpu=system_cpu, max_rss=max_rss,
                   timeout=timeout)
    made.path = path
    return made


OUTCOME = st.one_of(st.none(), st.builds(
    outcome, pid=st.sampled_from([4242, 0, 1]), exit_status=st.sampled_from([0, 0, 1, 137]),
    signal=st.sampled_from([None, None, 9]), timed_out=st.booleans(),
    user_cpu=CPU, system_cpu=CPU, max_rss=st.sampled_from([0, 22925312, 2 ** 40]),
    path=st.sampled_from(["/bin/true", "", None, "/usr/bin/caf\u00e9"]),
    timeout=st.just(2.5)))
ATTEMPT = st.builds(model.Attempt, number=st.integers(1, 3), start_ns=NS, end_ns=NS,
                    exit_status=st.sampled_from([0, 1, -1]),
                    error_type=st.sampled_from([None, None, "1"]))
UPSTREAM = st.builds(lambda span_id: model.StepResult(step=model.Step(name="up"),
                                                      span_id=span_id),
                     st.sampled_from(["b7ad6b7169203331", "00f067aa0ba902b7"]))
RETRY_LINK = {"trace_id": TRACE, "span_id": "b7ad6b7169203331", "trace_state": "",
              "attributes": {spans.LINK_TYPE: "retry_of"}}


def step_result(name="s1", step_id=None, call=None, status=model.SUCCEEDED, outcome=None,
                argv=("/bin/true",), cwd="/srv/build", attempts=(), reason="",
                failure_allowed=False, output=None, waited_for=(), children=(), reused=False,
                links=(), exit_code_override=None, stderr_tail="", attributes=None,
                start_ns=1_796_682_938_687_127_284, end_ns=1_796_682_938_695_839_833,
                span_id="d1e9c26a2eaa67f3", logs=None):
    return model.StepResult(
        step=model.Step(name=name, id=step_id, call=call), span_id=span_id, status=status,
        start_ns=start_ns, end_ns=end_ns, outcome=outcome,
        argv=None if argv is None else list(argv), cwd=cwd, attempts=list(attempts),
        reason=reason, failure_allowed=failure_allowed, output=output, logs=logs or {},
        waited_for=list(waited_for), children=list(children), reused=reused,
        links=list(links), exit_code_override=exit_code_override, stderr_tail=stderr_tail,
        attributes=dict(attributes or {}))


RESULT_ARGV = st.one_of(st.none(), st.lists(TEXT, max_size=4),
                      st.sampled_from([["/bin/true"], ["curl", "--token", "abc"], []]))
RESULT = st.builds(
    step_result, name=TEXT, step_id=st.sampled_from([None, "", "bee", "caf\u00e9"]),
    call=st.sampled_from([None, None, "sub"]),
    status=st.sampled_from([model.SUCCEEDED, model.SUCCEEDED, model.FAILED, model.SKIPPED,
                            model.CANCELLED, model.PARTIALLY_SUCCEEDED]),
    outcome=OUTCOME,
    argv=RESULT_ARGV,
    cwd=st.sampled_from(["/srv/build", "/tmp/caf\u00e9", None]),
    attempts=st.lists(ATTEMPT, max_size=3), reason=st.sampled_from(["", "", "why"]),
    failure_allowed=st.booleans(), output=st.sampled_from([None, "out"]),
    waited_for=st.lists(UPSTREAM, max_size=2),
    children=st.sampled_from([(), ({"dagRunId": "r1"},)]), reused=st.booleans(),
    links=st.sampled_from([(), (RETRY_LINK,)]),
    exit_code_override=st.sampled_from([None, None, 0, 2]),
    stderr_tail=st.sampled_from(["", "boom\nlast line"]),
    attributes=st.sampled_from([None, None, {"http.status_code": 200}, {"step.name": "x"}]),
    start_ns=NS, end_ns=NS, span_id=st.sampled_from(["d1e9c26a2eaa67f3", "a4205ad2f0722221"]))

PLAIN_OUTCOME = st.builds(outcome, pid=st.integers(1, 2 ** 22),
                          user_cpu=st.floats(0, 1e6), system_cpu=st.floats(0, 1e6),
                          max_rss=st.integers(0, 2 ** 40),
                          path=st.sampled_from(["/bin/true", "", None, "/usr/bin/caf\u00e9"]))
PLAIN = st.builds(  # what the template writes: steps that ran and succeeded
    step_result, name=TEXT, step_id=st.sampled_from([None, "", "bee", "caf\u00e9"]),
    outcome=PLAIN_OUTCOME, argv=RESULT_ARGV, cwd=st.sampled_from(["/srv/build", "/tmp/caf\u00e9"]),
    attempts=st.lists(st.builds(model.Attempt, number=st.integers(1, 3), start_ns=NS,
                                end_ns=NS, exit_status=st.sampled_from([0, 1, -1])),
                      max_size=3),
    output=st.sampled_from([None, "out"]), waited_for=st.lists(UPSTREAM, max_size=2),
    exit_code_override=st.sampled_from([None, 0, 2]), start_ns=NS, end_ns=NS,
    span_id=st.sampled_from(["d1e9c26a2eaa67f3", "a4205ad2f0722221"]))


def general(who, result) -> str:
    return otlp_text.span_text(spans.step_record(who, result))


@settings(max_examples=1500, deadline=None)
@given(WHO, st.lists(st.one_of(PLAIN, RESULT), min_size=1, max_size=3))
def test_a_steps_text_is_its_records_and_a_batch_its_records_line(who, results):
    texts = steptext.StepTexts(who)
    for _ in range(2):  # the second time from the command lines kept
        made = [texts.text(result) for result in results]
        assert made == [general(who, result) for result in results]
    head, tail = otlp_text.spans_document(who.resource, span.SCOPE, __version__)
    records = [spans.step_record(who, result) for result in results]
    if incoming.is_trace_id(who.ctx.trace_id):  # else the recorder keeps the records
        assert incoming.trace_lines(records) == [
            (head + ",".join(made) + tail + "\n").encode("utf-8", "surrogatepass")]


def test_plain_steps_take_the_template_and_others_the_general_way():
    who = identity(name="fan %d", parent_run_id="p", state="k=v")
    texts = steptext.StepTexts(who)
    upstream = step_result(span_id="b7ad6b7169203331")
    attempt = model.Attempt(number=1, start_ns=5, end_ns=6_675_005, exit_status=0)
    plain = [
        step_result(outcome=outcome(), attempts=[attempt]),
        step_result(name="\u00e9t\u00e9 \udce9 \"%s\"", step_id="bee", outcome=outcome(),
                    attempts=[attempt, model.Attempt(2, 7, 9, 0)], waited_for=[upstream] * 2,
                    argv=["sh", "-c", "PASSWORD=x make", "caf\udce9"], output="o",
                    exit_code_override=0),
        step_result(outcome=outcome(path=None), argv=None, cwd=None, end_ns=0)]
    unusual = [
        step_result(status=model.FAILED, outcome=outcome(exit_status=1), reason="exit 1",
                    attempts=[model.Attempt(1, 5, 6, 1, "1")], stderr_tail="boom"),
        step_result(outcome=outcome(timed_out=True, timeout=2.5)),
        step_result(outcome=outcome(signal=9)),
        step_result(outcome=outcome(pid=0)),
        step_result(outcome=outcome(user_cpu=0)),
        step_result(outcome=outcome(), attempts=[model.Attempt(1, 5, 6, 0, "x")]),
        step_result(outcome=outcome(), attributes={"http.status_code": 200}),
        step_result(outcome=outcome(), links=[RETRY_LINK], reused=True),
        step_result(outcome=outcome(), failure_allowed=True),
        step_result(outcome=outcome(), call="sub", children=[{"dagRunId": "r"}]),
        step_result(status=model.CANCELLED, reason="upstream step 'a' failed"),
        step_result(outcome=outcome(), start_ns=1.5)]
    for result in plain:
        assert texts._plain(result) is not None
        assert texts.text(result) == general(who, result)
        json.loads(texts.text(result).replace("\\udce9", ""))
    for result in unusual:
        assert texts._plain(result) is None
        assert texts.text(result) == general(who, result)
    for odd in (identity(trace_id="../x"), identity(flags=True)):  # no template at all
        assert steptext.StepTexts(odd)._pieces is None
        assert steptext.StepTexts(odd).text(plain[0]) == general(odd, plain[0])


def test_command_lines_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(steptext, "HEADS_KEPT", 3)
    who = identity()
    texts = steptext.StepTexts(who)
    for i in range(10):
        result = step_result(outcome=outcome(), argv=["tool", str(i)])
        assert texts.text(result) == general(who, result)
        assert len(texts._heads) <= 3


def test_the_recorder_writes_the_store_what_the_records_would(tmp_path):
    """A run recorded to the local store alone: the step spans' texts (and the start
    records with them) are the lines ``incoming.append`` writes of their records."""
    who = identity(state="k=v")
    cfg = telemetry.export_config(None, {"TRACEEXEC_HOME": str(tmp_path / "a")}, "fan")
    recorder = telemetry.Recorder(cfg)
    results = [step_result(name="s%d" % i, outcome=outcome(), attempts=[
        model.Attempt(1, 5, 6, 0)]) for i in range(telemetry.TEMPLATE_AFTER + 2)]
    results.insert(3, step_result(status=model.FAILED, outcome=outcome(exit_status=2),
                                  reason="exit status 2", stderr_tail="boom"))
    starts = [spans.step_start_record(who, step_result(name="slow"))]
    made = [recorder.step_span(who, result) for result in results]
    assert all(type(text) is str for text in made)
    assert recorder._template is not None  # the last steps' from the template
    recorder.record(made[:4], starts=starts)
    recorder.record(made[4:])
    records = [spans.step_record(who, r) for r in results]
    incoming.append(str(tmp_path / "b"), records[:4], incoming=True, before=starts)
    incoming.append(str(tmp_path / "b"), records[4:], incoming=True)
    store = [os.path.join(tmp_path, home, "store", incoming.INCOMING) for home in "ab"]
    with open(store[0], "rb") as one, open(store[1], "rb") as other:
        assert one.read() == other.read()


def test_records_where_the_store_is_not_alone(tmp_path):
    """An endpoint, span limits or another exporter need the records themselves."""
    who = identity()
    result = step_result(outcome=outcome())
    for environ in ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
                    {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "3"},
                    {"OTEL_TRACES_EXPORTER": "console"}):
        environ["TRACEEXEC_HOME"] = str(tmp_path)
        recorder = telemetry.Recorder(telemetry.export_config(None, environ, "fan"))
        assert recorder.step_span(who, result) == spans.step_record(who, result)
    assert telemetry.MemoryRecorder().step_span(who, result) == spans.step_record(who, result)
    recorder = telemetry.Recorder(telemetry.export_config(None, {
        "TRACEEXEC_HOME": str(tmp_path)}, "fan"))
    odd = identity(trace_id="../x")  # the records, and record's warning of them
    assert recorder.step_span(odd, result) == spans.step_record(odd, result)


def test_the_console_exporter_prints_a_steps_record_within_the_limits(tmp_path, capfd):
    """The console exporter's way is the wrapper's (``deliver``), which applies the span
    limits itself: the span printed is the record within the limits."""
    who = identity()
    result = step_result(outcome=outcome())
    environ = {"TRACEEXEC_HOME": str(tmp_path), "OTEL_TRACES_EXPORTER": "console",
               "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2",
               "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "3"}
    cfg = telemetry.export_config(None, environ, "fan")
    recorder = telemetry.Recorder(cfg)
    recorder.record([recorder.step_span(who, result)])
    printed = capfd.readouterr().err
    assert printed.startswith("traceexec: span ")
    document = json.loads(printed[len("traceexec: span "):].splitlines()[0])
    spans_printed = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    limited = cfg.span_limits.apply([spans.step_record(who, result)])[0]
    assert [a["key"] for a in spans_printed[0]["attributes"]] == list(limited["attributes"])
    assert len(spans_printed[0]["attributes"]) == 2
    assert all(len(a["value"].get("stringValue", "")) <= 3
               for a in spans_printed[0]["attributes"])
