"""Dagu's behaviour where traceexec differed (issue 20.5), each checked against Dagu's
source at v1.17.4 and v2.6.5; real processes, spans in memory."""
from __future__ import annotations

import io
import os
import textwrap

import pytest

from conftest import traceexec_env
from traceexec.dag import load, model, run, telemetry
from traceexec.dag.progress import Progress
from traceexec.dag.variables import evaluate


def run_file(tmp_path, home, text, name="dag.yaml", params=(), **environ):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    dag = load.load(str(path))
    err = io.BytesIO()
    result = run.execute(dag, environ=traceexec_env(home, **environ), params=params,
                         recorder=telemetry.MemoryRecorder(),
                         progress=Progress(dag.name, err=err, out=err, prefix=True),
                         home=str(home), cwd=str(tmp_path))
    return result, err.getvalue().decode()


def test_run_work_dir_is_set_under_a_working_dir_and_artifacts_when_named(tmp_path, home):
    """internal/core/exec/context.go (v2.6.5): DAG_RUN_WORK_DIR is set after every merge,
    for every run (attempt.go makes it); DAG_RUN_ARTIFACTS_DIR when the file names it
    (spec/dag.go buildArtifacts turns artifacts on)."""
    (tmp_path / "wd").mkdir()
    result, err = run_file(tmp_path, home, """\
        type: graph
        workingDir: ./wd
        steps:
          - name: write
            command: sh -c 'echo hi > "$DAG_RUN_WORK_DIR/x" && echo "$DAG_RUN_ARTIFACTS_DIR"'
            output: ART
        """)
    assert result.status == model.SUCCEEDED, err
    assert (open(os.path.join(result.run_dir, "work", "x")).read() == "hi\n")
    assert result.steps[0].output == os.path.join(result.run_dir, "artifacts")
    assert os.path.isdir(result.steps[0].output)


DOCS = """\
    name: report
    steps:
      - name: where
        command: printf '%s' "$DAG_DOCS_DIR"
        output: DOCS
    """


@pytest.mark.parametrize("environ,expected", [
    ({"DAGU_DOCS_DIR": "{t}/docs"}, "{t}/docs/report"),
    ({"DAGU_DAGS_DIR": "{t}/dags", "DAGU_HOME": "{t}/dh"}, "{t}/dags/docs/report"),
    ({"DAGU_DAGS": "{t}/old"}, "{t}/old/docs/report"),
    ({"DAGU_HOME": "{t}/dh"}, "{t}/dh/dags/docs/report"),
    ({"HOME": "{t}", "XDG_CONFIG_HOME": "{t}/xdg"}, "{t}/xdg/dagu/dags/docs/report"),
    ({"HOME": "{t}/user"}, "{t}/user/.config/dagu/dags/docs/report"),
    ({"HOME": "{t}/legacy"}, "{t}/legacy/.dagu/dags/docs/report"),
])
def test_docs_dir_is_set_as_dagu_resolves_it(environ, expected, tmp_path, home):
    """internal/core/exec/context.go (v2.6.5): DAG_DOCS_DIR is the docs folder joined with
    the DAG's name; cmn/config/loader.go: paths.docs_dir (DAGU_DOCS_DIR), else the DAGs
    folder's docs (DAGU_DAGS_DIR, DAGU_DAGS, $DAGU_HOME/dags, ~/.dagu/dags when it exists,
    else $XDG_CONFIG_HOME/dagu/dags).  Nothing is created."""
    (tmp_path / "legacy" / ".dagu").mkdir(parents=True)
    drop = ("DAGU_DOCS_DIR", "DAGU_DAGS_DIR", "DAGU_DAGS", "DAGU_HOME", "XDG_CONFIG_HOME")
    given = dict.fromkeys(drop, "")
    given.update({k: v.format(t=tmp_path) for k, v in environ.items()})
    result, err = run_file(tmp_path, home, DOCS, **given)
    assert result.status == model.SUCCEEDED, err
    assert result.steps[0].output == expected.format(t=tmp_path)
    assert not os.path.exists(expected.format(t=tmp_path))


def test_docs_dir_given_by_the_dag_wins(tmp_path, home):
    """context.go sets DAG_DOCS_DIR before the DAG's params and env are merged."""
    result, err = run_file(tmp_path, home, DOCS.replace(
        "    steps:", "    env:\n      - DAG_DOCS_DIR: /srv/docs\n    steps:"))
    assert result.status == model.SUCCEEDED, err
    assert result.steps[0].output == "/srv/docs"


DOLLAR_ESCAPES = [  # internal/cmn/eval/dollar_escape_test.go (v2.6.5), in our words
    (r"\$HOME", "$HOME"),
    (r"Price: \$9.99", "Price: $9.99"),
    (r"\${REAL}", "${REAL}"),
    (r"\$HOME is $HOME", "$HOME is /tmp/home"),
    (r"\\$HOME", r"\\/tmp/home"),      # an even run of backslashes does not escape
    (r"\\\$HOME", r"\\$HOME"),         # an odd one does, and loses one backslash
    ("'$HOME'", "'$HOME'"),
    ("'${REAL}'", "'${REAL}'"),
    ("$HOME", "/tmp/home"),
]


@pytest.mark.parametrize("text,expected", DOLLAR_ESCAPES)
def test_dollar_escapes_and_single_quotes_as_dagu_evaluates(text, expected):
    assert evaluate(text, {"HOME": "/tmp/home", "REAL": "value"}) == expected


def test_direct_shell_escapes_dollar_as_dagu(tmp_path, home):
    """internal/intg/command_escape_test.go (v2.6.5) WithoutShell_Direct: the words are
    split first, then each is evaluated: '\\$HOME' reaches echo as $HOME."""
    result, err = run_file(tmp_path, home, """\
        shell: direct
        steps:
          - name: test
            command: /bin/echo '\\$HOME'
            output: OUT
        """)
    assert result.status == model.SUCCEEDED, err
    assert result.steps[0].output == "$HOME"


def test_a_missing_sub_dag_fails_its_step_not_the_load(tmp_path, home):
    """internal/intg/subdag_test.go NonExistentReference (v2.6.5), and v1.17.4's child
    executor: the run starts, the calling step fails naming the DAG, the run fails."""
    result, err = run_file(tmp_path, home, """\
        type: graph
        steps:
          - name: run-missing-dag
            call: non-existent-dag
          - name: other
            command: "true"
        """)
    assert result.status == model.FAILED
    by_name = {s.step.name: s for s in result.steps}
    assert by_name["run-missing-dag"].status == model.FAILED
    assert "non-existent-dag" in by_name["run-missing-dag"].reason
    assert by_name["other"].status == model.SUCCEEDED
    assert "sub-DAG not found: non-existent-dag" in err


def test_sub_dag_result_stays_in_the_log_and_status_of_a_running_run(tmp_path, home):
    """The sub-DAG's result document is the calling step's log and output (as in Dagu),
    not text on the parent's terminal; ``status`` of a run still running shows no exit."""
    import signal
    import subprocess
    import time

    from conftest import TRACEEXEC
    env = traceexec_env(home)
    (tmp_path / "child.yaml").write_text("steps:\n  - name: c\n    command: echo child-says\n")
    (tmp_path / "parent.yaml").write_text(
        "steps:\n  - name: call\n    run: child\n    output: RES\n"
        "  - name: hold\n    command: sleep 30\n    depends: [call]\n")
    proc = subprocess.Popen(TRACEEXEC + ["run", "parent.yaml"], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            status = subprocess.run(TRACEEXEC + ["status", "parent"], cwd=str(tmp_path),
                                    env=env, capture_output=True, text=True, timeout=60)
            if "hold" in status.stdout and "running" in status.stdout.split("\n\n")[0]:
                break
            assert time.monotonic() < deadline, status.stdout + status.stderr
            time.sleep(0.1)
        assert "\nexit      -\n" in status.stdout, status.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert b"child-says" in out
    assert b"dagRunId" not in out and b"dagRunId" not in err
    logs = list((home / "runs" / "parent").glob("*/call.out"))
    assert len(logs) == 1 and '"dagRunId"' in logs[0].read_text()


def test_an_id_only_step_runs_where_dagu_2_runs_it_and_says_so(tmp_path, home):
    """An id-only step makes the file Dagu 2's (Dagu 1.17.4 wants a name), whose steps
    run in the run's work directory unless workingDir is set (v2.6.5 agent.go
    evaluateWorkingDir): ./extract.sh is not found there, and the reason says why."""
    script = tmp_path / "extract.sh"
    script.write_text("#!/bin/sh\necho extracted\n")
    script.chmod(0o755)
    result, err = run_file(tmp_path, home, "steps:\n  - id: ex\n    command: ./extract.sh\n")
    assert result.steps[0].exit_code == 127
    assert "working_dir: . runs them beside the DAG file" in result.steps[0].reason
    result, err = run_file(tmp_path, home, "working_dir: .\nsteps:\n  - id: ex\n"
                           "    command: ./extract.sh\n    output: OUT\n", name="wd.yaml")
    assert result.status == model.SUCCEEDED and result.steps[0].output == "extracted", err


def test_v1_repeating_step_finishes_its_run_on_sigterm(tmp_path, home):
    """v1.17.4 scheduler.go Signal: a step with ``repeat: true`` is not signalled; its
    current run ends, it is not repeated, and the run succeeds
    (scheduler_test StopRepetitiveTaskGracefully)."""
    import signal
    import subprocess
    import time

    from conftest import TRACEEXEC
    env = traceexec_env(home)
    (tmp_path / "dag.yaml").write_text(
        "steps:\n  - name: tick\n    command: sh -c 'echo tick >> ticks; sleep 1'\n"
        "    repeatPolicy: {repeat: true, intervalSec: 0}\n")
    proc = subprocess.Popen(TRACEEXEC + ["run", "--json", "dag.yaml"], cwd=str(tmp_path),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ticks").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    import json
    record = json.loads(out)
    assert proc.returncode == 0, err.decode()
    assert record["status"] == "succeeded"
    ticks = (tmp_path / "ticks").read_text().count("tick")
    assert record["steps"][0]["status"] == "succeeded"
    assert record["steps"][0]["attempts"] == ticks  # the run under way was not cut short
