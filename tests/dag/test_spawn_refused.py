"""A step whose command or environment the system cannot take (a NUL byte in an
argument or a value, which ``execve`` cannot carry) fails alone, as Dagu's step does
(exec's "invalid argument"): 126, its reason and stderr saying why; the run goes on."""
from __future__ import annotations

import io
import textwrap

from conftest import traceexec_env
from traceexec.dag import load, model, run, telemetry
from traceexec.dag.progress import Progress

DAG = """\
    steps:
      - name: nul-in-env
        command: /bin/true
        env:
          - X: "a\\0b"
      - name: nul-in-argv
        command: ["/bin/echo", "a\\0b"]
        depends: []
      - name: plain
        command: /bin/true
        depends: []
    """


def test_a_nul_byte_fails_its_step_and_not_the_run(tmp_path, home):
    path = tmp_path / "dag.yaml"
    path.write_text(textwrap.dedent(DAG))
    dag = load.load(str(path))
    result = run.execute(dag, environ=traceexec_env(home), recorder=telemetry.MemoryRecorder(),
                         progress=Progress(dag.name, err=io.BytesIO(), out=io.BytesIO()),
                         home=str(home), cwd=str(tmp_path))
    env_step, argv_step, plain = result.steps
    for step in (env_step, argv_step):
        assert step.status == model.FAILED
        assert step.exit_code == 126
        assert "embedded null byte" in step.reason
        with open(step.logs["stderr"], "rb") as handle:
            assert b"embedded null byte" in handle.read()
    assert plain.status == model.SUCCEEDED
    assert result.exit_status == 1
