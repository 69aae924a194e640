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


def test_is_directory_is_os_path_isdir(tmp_path, monkeypatch):
    """A step's directory is looked for as os.path.isdir would (a table of kinds of path),
    also where no descriptor is left to open it with."""
    import errno
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "to-dir").symlink_to(tmp_path / "dir")
    (tmp_path / "to-file").symlink_to(tmp_path / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    os.mkfifo(tmp_path / "fifo")
    paths = [str(tmp_path / name) for name in (
        "dir", "dir/", "dir/.", "dir/..", "file", "file/", "file/x", "to-dir", "to-dir/",
        "to-file", "dangling", "missing", "fifo")] + ["", "/", ".", "nul\0here", "/dev/null"]
    for path in paths:
        assert state.is_directory(path) == os.path.isdir(path), path

    def exhausted(*_args):
        raise OSError(errno.EMFILE, "Too many open files")
    monkeypatch.setattr(state.os, "open", exhausted)
    for path in paths:
        assert state.is_directory(path) == os.path.isdir(path), path
