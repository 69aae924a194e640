"""Bounded loading: a small file cannot make validate, dry or run build a huge value."""
from __future__ import annotations

import subprocess

import pytest

from conftest import TRACEEXEC, traceexec_env
from traceexec.dag import bounds

# 10 entries, each the previous one ten times: 10**10 bytes if expanded.
BOMB = "env:\n  - A0: xxxxxxxxxx\n" + "".join(
    "  - A%d: %s\n" % (i, "${A%d}" % (i - 1) * 10) for i in range(1, 11)) + \
    "steps:\n  - name: s\n    command: echo $A10\n"


@pytest.mark.parametrize("verb", ["validate", "dry", "run"])
def test_variable_bomb_is_refused_at_its_line(verb, tmp_path, home):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    done = subprocess.run(TRACEEXEC + [verb, str(path)], env=traceexec_env(home),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    # A6 is 10**7 bytes: the first past 4 MiB, on line 8 of the file
    assert "bomb.yaml:8: A6 would expand to 10000000 bytes" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert not list(home.glob("runs/*")), "nothing ran"


def test_many_entries_under_the_value_bound_are_held_by_the_work_bound():
    problems = []
    budget = bounds.Budget({"BIG": "x" * (bounds.MAX_VALUE // 2)})
    entries = [("E%d" % i, "${BIG}", ("f", i)) for i in range(1000)]
    assert budget.check(entries, lambda message, place: problems.append((message, place))) \
        is False
    assert len(problems) == 1 and problems[0][1] == ("f", 32), problems


def test_expanded_length_follows_references():
    lengths = {"A": 3, "B": 10}
    assert bounds.expanded_length("${A}-$B-${C:-four}-${A.x}-`date`", lengths) == \
        3 + 1 + 10 + 1 + 4 + 1 + 3 + 1 + 6


def test_a_value_grown_from_outputs_fails_its_step_not_the_driver(tmp_path, home):
    """Outputs are known only while running: there the bound fails the step, in words."""
    import io

    from traceexec.dag import load, model, run, telemetry
    from traceexec.dag.progress import Progress
    refs = "${OUT}" * 5
    (tmp_path / "dag.yaml").write_text(f"""\
maxOutputSize: 2000000
steps:
  - name: big
    command: head -c 1000000 /dev/zero | tr '\\\\0' x
    output: OUT
  - name: env-step
    depends: [big]
    env:
      - X: "{refs}"
    command: "true"
  - name: argv-step
    depends: [big]
    command: [echo, "{refs}"]
""")
    dag = load.load(str(tmp_path / "dag.yaml"))
    err = io.BytesIO()
    result = run.execute(dag, environ=traceexec_env(home), recorder=telemetry.MemoryRecorder(),
                         progress=Progress(dag.name, err=err, out=err, prefix=True),
                         home=str(home), cwd=str(tmp_path))
    by_name = {s.step.name: s for s in result.steps}
    assert by_name["big"].status == model.SUCCEEDED, by_name["big"].reason
    for name in ("env-step", "argv-step"):
        assert by_name[name].status == model.FAILED
        assert "would expand to more than %d bytes" % bounds.MAX_VALUE in by_name[name].reason


def test_a_command_substitution_too_large_is_refused_at_its_line(tmp_path, home):
    path = tmp_path / "big.yaml"
    path.write_text("env:\n  - A: \"`head -c 5000000 /dev/zero | tr '\\\\0' x`\"\n"
                    "steps:\n  - name: s\n    command: \"true\"\n")
    done = subprocess.run(TRACEEXEC + ["run", str(path)], env=traceexec_env(home),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "big.yaml:2: A: " in done.stderr and "would expand to more than" in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
