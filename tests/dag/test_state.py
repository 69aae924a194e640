"""dag.state: a step's log paths joined at once where os.path.join would give the same."""
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
