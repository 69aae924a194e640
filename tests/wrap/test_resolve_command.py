"""``supervise.resolve_command``: the PATH search execvp does (as bash's and env(1)'s
``command not found`` / ``permission denied`` decide), one candidate at a time."""
import os

import pytest

from traceexec.wrap.problems import CommandProblem
from traceexec.wrap.supervise import command_candidates, resolve_command


def _file(path, mode):
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n")
    os.chmod(path, mode)
    return str(path)


@pytest.fixture
def dirs(tmp_path):
    made = [tmp_path / name for name in ("a", "b", "c")]
    for folder in made:
        folder.mkdir()
    return made


def test_the_first_executable_on_path_wins(dirs):
    _file(dirs[1] / "job", 0o755)
    _file(dirs[2] / "job", 0o755)
    path = os.pathsep.join(map(str, dirs))
    assert resolve_command("job", {"PATH": path}) == str(dirs[1] / "job")


def test_folders_and_files_without_x_are_passed_over_for_a_later_executable(dirs):
    (dirs[0] / "job").mkdir()
    _file(dirs[1] / "job", 0o644)
    _file(dirs[2] / "job", 0o755)
    path = os.pathsep.join(map(str, dirs))
    assert resolve_command("job", {"PATH": path}) == str(dirs[2] / "job")


@pytest.mark.parametrize("make", ["folder", "not executable", "link to a folder"])
def test_only_things_that_cannot_run_is_126(dirs, make):
    target = dirs[0] / "job"
    if make == "folder":
        target.mkdir()
    elif make == "not executable":
        _file(target, 0o644)
    else:
        os.symlink(dirs[1], target)
    with pytest.raises(CommandProblem) as raised:
        resolve_command("job", {"PATH": str(dirs[0])})
    assert (raised.value.exit_status, str(raised.value)) == (
        126, "job: permission denied or not executable")


@pytest.mark.parametrize("name", ["job", "job\0x", "./missing"])
def test_nothing_there_a_broken_link_or_a_nul_is_127(dirs, name):
    os.symlink(dirs[0] / "nowhere", dirs[1] / "job")  # a link to nothing: no such file
    with pytest.raises(CommandProblem) as raised:
        resolve_command(name, {"PATH": os.pathsep.join(map(str, dirs))})
    assert raised.value.exit_status == 127
    assert str(raised.value).endswith(": command not found")


def test_a_name_with_a_slash_is_not_searched_and_an_empty_path_entry_is_the_folder(
        dirs, monkeypatch):
    script = _file(dirs[0] / "job", 0o755)
    assert resolve_command(script, {"PATH": str(dirs[1])}) == script
    monkeypatch.chdir(dirs[0])
    assert resolve_command("job", {"PATH": os.pathsep + str(dirs[1])}) == "./job"


def test_a_link_to_an_executable_is_found_by_its_own_path(dirs):
    _file(dirs[0] / "real", 0o755)
    os.symlink(dirs[0] / "real", dirs[1] / "job")
    assert resolve_command("job", {"PATH": str(dirs[1])}) == str(dirs[1] / "job")


@pytest.mark.parametrize("name, path, candidates", [
    ("job", "/bin:sub/:", ["/bin/job", "sub/job", "./job"]),
    ("./job", "/bin", ["./job"]),
    ("a/job", None, ["a/job"]),
    ("job", None, [d + "/job" for d in os.defpath.split(os.pathsep)]),
])
def test_the_candidates_are_the_ones_execvp_tries_in_order(name, path, candidates):
    env = {} if path is None else {"PATH": path}
    assert command_candidates(name, env) == candidates
