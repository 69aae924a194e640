"""Dagu's documents, v1 and v2, run by the driver and checked at a real OTLP receiver.

Each case of ``dagu_cases.CASES`` runs in-process (a real scheduler, real
processes, the real spool and exporter) with its spans sent to a
``traceexec serve`` in another process; the run's status and exit status,
every step's status, exit code and attempts are read back from the spans
the receiver stored, outputs from the run's record.  ``REFUSED`` goes
through ``traceexec validate``: exit 2 and the message at its line.
"""
from __future__ import annotations

import io
import textwrap
import time

import pytest

from conftest import Receiver, traceexec_env
from dagu_cases import CASES, REFUSED
from traceexec.dag import cli, load, run
from traceexec.dag.progress import Progress
from traceexec.dag.variables import parse_params


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    rec = Receiver(tmp_path_factory.mktemp("collector"))
    yield rec
    rec.stop()


def own_spans(collector, trace_id, names, timeout=30.0):
    """The DAG span and the spans directly under it, once every one of ``names`` arrived."""
    deadline = time.monotonic() + timeout
    while True:
        records = collector.spans(trace_id)
        root = next((r for r in records if r["name"].startswith("DAG: ")
                     and not r["attributes"].get("dag.parent_run_id")), None)
        children = {r["name"]: r for r in records
                    if root is not None and r["parent_span_id"] == root["span_id"]}
        if root is not None and all(n in children for n in names):
            return root, children
        if time.monotonic() > deadline:
            raise AssertionError("spans missing at the receiver: %s (have %s)" % (
                sorted(set(names) - set(children)), sorted(r["name"] for r in records)))
        time.sleep(0.05)


def run_case(case, tmp_path, home, collector):
    folder = tmp_path / "case"
    folder.mkdir()
    for name, text in case.files.items():
        (folder / name).write_text(text)
    path = folder / "dag.yaml"
    path.write_text(textwrap.dedent(case.yaml).lstrip("\n"))
    env = traceexec_env(home, **dict({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.grpc_endpoint,
                                      "SHELL": "/bin/sh"}, **case.env))
    dag = load.load(str(path))
    err = io.BytesIO()
    progress = Progress(dag.name, err=err, out=err, prefix=run.can_overlap(dag))
    result = run.execute(dag, environ=env, params=parse_params(case.params), home=str(home),
                         progress=progress, cwd=str(folder))
    return dag, result, env, err.getvalue().decode(errors="replace")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_dagu_document_gives_dagus_result(case, tmp_path, home, collector):
    dag, result, env, printed = run_case(case, tmp_path, home, collector)
    assert dag.schema == case.schema
    names = ["Step: %s" % r.step.name for r in result.steps + result.handlers]
    root, spans = own_spans(collector, result.trace_id, names)
    context = "%s\n%s" % (case.id, printed[-3000:])
    attrs = root["attributes"]
    assert attrs["dag.status"] == case.status, context
    assert attrs["dag.exit_status"] == case.exit == result.exit_status, context
    assert attrs["dag.schema"] == case.schema
    assert attrs["cicd.pipeline.name"] == dag.name
    assert attrs["cicd.pipeline.run.id"] == result.run_id
    for name, status in list(case.steps.items()) + list(case.handlers.items()):
        step = spans["Step: %s" % name]["attributes"]
        assert step["step.status"] == status, (name, context)
    for name, count in case.attempts.items():
        assert spans["Step: %s" % name]["attributes"]["step.attempts"] == count, (name, context)
    for name, code in case.exit_codes.items():
        assert spans["Step: %s" % name]["attributes"]["step.exit_code"] == code, (name, context)
    outputs = result.outputs()
    for name, expected in case.outputs.items():
        if callable(expected):
            assert expected(outputs.get(name)), (name, outputs.get(name), context)
        else:
            expected = expected.replace("@HOME", env["HOME"])
            assert outputs.get(name) == expected, (name, context)
    by_name = {r.step.name: r for r in result.steps + result.handlers}
    for name, text in case.logs.items():
        with open(by_name[name].logs["stdout"]) as handle:
            assert text in handle.read(), (name, context)


@pytest.mark.parametrize("case_id,text,message,line", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_documents_name_the_problem_and_its_line(case_id, text, message, line,
                                                         tmp_path, capsys):
    path = tmp_path / "dag.yaml"
    path.write_text(text)
    assert cli.validate_main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    found = [entry for entry in err.splitlines() if message in entry]
    assert found, err
    assert found[0].startswith("traceexec: %s:%d: " % (path, line)), err


def test_the_tables_are_as_large_as_the_issue_asks():
    assert len(CASES) >= 80
    assert len({c.schema for c in CASES}) == 2
    assert len([c for c in CASES if c.schema == "v2"]) >= 30
    assert {r[0].split("-")[0] for r in REFUSED} == {"v1", "v2"}
