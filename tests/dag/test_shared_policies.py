"""A step that sets no continueOn, retryPolicy or repeatPolicy shares one default record of
each (``model.NO_CONTINUE``...): each reads as a fresh default would, and nothing a load
or a run does changes them in place."""
from __future__ import annotations

import io
import textwrap

from conftest import traceexec_env
from traceexec.dag import load, model, run, telemetry
from traceexec.dag.progress import Progress

DAG = """\
    steps:
      - name: plain
        command: "true"
      - name: retried
        command: "false"
        retryPolicy:
          limit: 1
          intervalSec: 0
        continueOn:
          failure: true
      - name: repeated
        command: "true"
        repeatPolicy:
          repeat: true
          limit: 2
          intervalSec: 0
      - name: after
        command: "true"
        depends: [retried, repeated]
    """


def _fresh():
    return model.ContinueOn(), model.RetryPolicy(), model.RepeatPolicy()


def test_a_step_without_policies_reads_as_fresh_defaults_and_they_stay_so(tmp_path, home):
    path = tmp_path / "dag.yaml"
    path.write_text(textwrap.dedent(DAG))
    dag = load.load(str(path))
    plain, retried, repeated, after = dag.steps
    for step in (plain, after):
        assert (step.continue_on, step.retry, step.repeat) == _fresh()
    assert retried.retry.limit == 1 and retried.continue_on.failure
    assert repeated.repeat.mode == "while" and repeated.retry == model.RetryPolicy()
    result = run.execute(dag, environ=traceexec_env(home), recorder=telemetry.MemoryRecorder(),
                         progress=Progress(dag.name, err=io.BytesIO(), out=io.BytesIO()),
                         home=str(home), cwd=str(tmp_path))
    assert [r.status for r in result.steps] == [model.SUCCEEDED, model.FAILED,
                                                model.SUCCEEDED, model.SUCCEEDED]
    assert len(result.steps[1].attempts) == 2 and len(result.steps[2].attempts) == 2
    assert (model.NO_CONTINUE, model.NO_RETRY, model.NO_REPEAT) == _fresh()
    assert (plain.continue_on, plain.retry, plain.repeat) == _fresh()
