"""dag.state: a step's log paths joined at once where os.path.join would give the same, and
its working directory found as os.path.isdir finds it."""
import os

import pytest

from traceexec.dag import state
from traceexec.dag.runs import safe_name


@pytest.mark.parametrize("run_dir", ["/home/u/.traceexec/runs/d/20260101-01", "runs/d", "/",
                                     "a/", "", "caf\u00e9", b"/bytes"])
@pytest.mark.parametrize("name", ["s1", "a b/c", "..x", "", "caf\u00e9", "-"])
def test_log_head_is_os_path_join(run_dir, name):
    name = safe_name(name)
    if isinstance(run_dir, bytes):
        with pytest.raises(TypeError):
            os.path.join(run_dir, name)
        with pytest.raises(TypeError):
            state.log_head(run_dir, name)
        return
    assert state.log_head(run_dir, name) == os.path.join(run_dir, name)


def test_log_head_leaves_a_name_with_a_separator_to_os_path_join():
    assert state.log_head("/runs", "/abs") == os.path.join("/runs", "/abs") == "/abs"


def test_is_directory_is_os_path_isdir(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "locked").mkdir(mode=0o000)  # unreadable: still a directory
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "filelink").symlink_to(tmp_path / "file")
    paths = [str(tmp_path / name) for name in (
        "dir", "file", "locked", "link", "dangling", "filelink", "nowhere", "file/below",
        "dir/", "file/", "locked/inner")] + ["/", "", "a\0b", "x" * 5000, str(tmp_path)]
    try:
        for path in paths:
            assert state.is_directory(path) == os.path.isdir(path), path
    finally:
        (tmp_path / "locked").chmod(0o700)


def test_is_directory_out_of_descriptors_asks_isdir(tmp_path, monkeypatch):
    import errno

    def exhausted(path, flags):
        raise OSError(errno.EMFILE, "Too many open files")
    monkeypatch.setattr(state.os, "open", exhausted)
    assert state.is_directory(str(tmp_path)) is True
    assert state.is_directory(str(tmp_path / "nowhere")) is False


class _Scope:
    def __init__(self, values):
        self.values = values

    def evaluate(self, text, cwd=None, values=None):
        return text.replace("$A", values["A"])


class _Run:
    """What RunState.values_for reads of a run."""
    handler_status = None
    base_dir = "/work"

    def __init__(self, run_values, outputs):
        self.scope = _Scope(run_values)
        self.outputs = outputs


@pytest.mark.parametrize("outputs", [{}, {"O": "out", "A": "from output"}])
@pytest.mark.parametrize("step_env", [[], [("B", "step $A"), ("A", "own")]])
def test_a_steps_values_are_its_own_over_the_outputs_over_the_runs(outputs, step_env):
    from traceexec.dag import model
    from traceexec.dag.layers import Layers
    run_values = {"PATH": "/bin", "A": "run", "O": "run's"}
    result = model.StepResult(step=model.Step(name="s", env=step_env), span_id="ab" * 8)
    result.logs = {"stdout": "/r/s.out", "stderr": "/r/s.err"}
    values = state.RunState.values_for(_Run(run_values, outputs), result)
    own = {"DAG_RUN_STEP_NAME": "s", "DAG_RUN_STEP_STDOUT_FILE": "/r/s.out",
           "DAG_RUN_STEP_STDERR_FILE": "/r/s.err"}
    expected = Layers(own, dict(outputs), run_values)
    for name, value in step_env:
        own[name] = value.replace("$A", expected["A"])
    assert list(values.items()) == list(expected.items())
    assert values.maps[0] == own and values.maps[-1] is run_values
    values["NEW"] = "x"  # a step's writes are its own
    assert values.maps[0]["NEW"] == "x" and "NEW" not in run_values and "NEW" not in outputs


@pytest.mark.parametrize("override, exit_status", [(None, None), (None, 3), (7, 3), (0, None)])
def test_a_finished_steps_view_is_view_of_it(override, exit_status):
    from types import SimpleNamespace
    from traceexec.dag import model
    from traceexec.wrap.supervise import Outcome
    result = model.new_step_result(model.Step(name="a", id="x", output="OUT"), "s")
    result.logs = {"stdout": "/r/a.out", "stderr": "/r/a.err"}
    result.output, result.exit_code_override = "text", override
    result.outcome = None if exit_status is None else Outcome(exit_status=exit_status)
    run = SimpleNamespace(outputs={}, views={})
    run.view_of = lambda result: state.RunState.view_of(run, result)
    state.RunState.outputs_from(run, result)
    expected = state.RunState.view_of(run, result)
    for label in ("a", "x"):
        view = run.views[label]
        assert [getattr(view, n) for n in view.__slots__] == \
            [getattr(expected, n) for n in expected.__slots__]
    assert run.outputs == {"OUT": "text"}
