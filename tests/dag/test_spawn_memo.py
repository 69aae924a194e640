"""What ``process.spawn`` remembers between starts, and why it never shows.

A command's path found once is used again while no candidate before it exists and
the start from it works; a step's directory is entered by name at every start, the
driver's own too; ``pidfd_open`` is not asked again once it said ENOSYS.  Each start must run, or
fail with, exactly what a fresh search from the step's directory gives.
"""
from __future__ import annotations

import errno
import os
import select

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from traceexec.dag import process
from traceexec.wrap.problems import CommandProblem
from traceexec.wrap.supervise import resolve_command


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(process, "_found", {})


def _script(path, text="", mode=0o755):
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(mode)
    return str(path)


def run(argv, env, cwd):
    """(exit status, stdout, the path started) of ``argv`` spawned in ``cwd``."""
    read, write = os.pipe()
    try:
        child = process.spawn(argv, env, cwd=str(cwd), stdin=0, stdout=write, stderr=2)
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as out:
        data = out.read()
    if child.pidfd is not None:
        assert select.select([child.pidfd], [], [], 30)[0]
    return process.reap(child).exit_status, data.decode(), child.path


def test_a_command_found_again_is_the_one_found_before(tmp_path):
    _script(tmp_path / "job", "echo one\n")
    env = {"PATH": str(tmp_path)}
    assert run(["job"], env, tmp_path) == (0, "one\n", str(tmp_path / "job"))
    assert run(["job"], env, tmp_path) == (0, "one\n", str(tmp_path / "job"))
    assert len(process._found) == 1


def test_a_command_that_appears_earlier_on_path_wins_at_once(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _script(second / "job", "echo b\n")
    env = {"PATH": "%s:%s" % (first, second)}
    assert run(["job"], env, tmp_path)[:2] == (0, "b\n")
    _script(first / "job", "echo a\n")
    assert run(["job"], env, tmp_path)[:2] == (0, "a\n")


def test_a_command_gone_or_no_longer_executable_is_searched_again(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _script(first / "job", "echo a\n")
    _script(second / "job", "echo b\n")
    env = {"PATH": "%s:%s" % (first, second)}
    assert run(["job"], env, tmp_path)[:2] == (0, "a\n")
    (first / "job").chmod(0o644)  # found again, but not runnable: b's, as a search finds
    assert run(["job"], env, tmp_path)[:2] == (0, "b\n")
    os.unlink(second / "job")
    os.unlink(first / "job")
    missing = process.spawn(["job"], env, cwd=str(tmp_path), stdin=0, stdout=1, stderr=2)
    assert missing.problem is not None and missing.problem.exit_status == 127


def test_a_path_is_kept_per_directory_and_path(tmp_path):
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        _script(tmp_path / name / "tool", "echo %s\n" % name)
    env = dict(os.environ)
    assert run(["./tool"], env, tmp_path / "x")[:2] == (0, "x\n")
    assert run(["./tool"], env, tmp_path / "y")[:2] == (0, "y\n")


def test_a_folder_in_place_of_the_command_is_126_as_a_search_says(tmp_path):
    path = _script(tmp_path / "job")
    env = {"PATH": str(tmp_path)}
    assert run(["job"], env, tmp_path)[0] == 0
    os.unlink(path)
    os.mkdir(path)
    child = process.spawn(["job"], env, cwd=str(tmp_path), stdin=0, stdout=1, stderr=2)
    assert child.problem is not None and child.problem.exit_status == 126


def test_a_step_in_the_drivers_directory_enters_it_by_name_each_time(tmp_path, monkeypatch):
    """The driver's own directory replaced during the run (a step ran ``rm -rf`` and
    ``mkdir`` on it): the next step starts in the new one, as Dagu's (a chdir by name in
    the child) and as a step in any other directory does; removed, the step fails 126."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.setattr(process, "_home_fd", None)  # a new driver, started here
    _script(home / "tool", "pwd -P; ls\n")
    assert run(["./tool"], dict(os.environ), str(home))[:2] == (0, "%s\ntool\n" % home)
    os.rename(home, tmp_path / "old")
    home.mkdir()
    _script(home / "tool", "pwd -P; ls\n")
    (home / "new").write_text("")
    assert run(["./tool"], dict(os.environ), str(home))[:2] == (0, "%s\nnew\ntool\n" % home)
    os.rename(home, tmp_path / "gone")
    child = process.spawn(["./tool"], dict(os.environ), cwd=str(home), stdin=0, stdout=1,
                          stderr=2)
    assert child.problem is not None and child.problem.exit_status == 126
    assert "cannot enter" in str(child.problem)


@pytest.mark.parametrize("number, asked_times, still_asked", [
    (errno.ENOSYS, 1, False),   # missing: it will not be there for the next step either
    (errno.EMFILE, 3, True),    # out of descriptors for now: asked again next time
])
def test_pidfd_open_is_asked_again_unless_missing(tmp_path, monkeypatch, number,
                                                  asked_times, still_asked):
    asked = []

    def refuse(pid, flags=0):
        asked.append(pid)
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(process, "_pidfds", True)
    monkeypatch.setattr(os, "pidfd_open", refuse, raising=False)
    for _ in range(3):
        child = process.spawn(["true"], dict(os.environ), cwd=str(tmp_path), stdin=0,
                              stdout=1, stderr=2)
        assert child.pidfd is None and process.reap(child).exit_status == 0
    assert len(asked) == asked_times and process._pidfds is still_asked


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(
    ["runs", "plain file", "folder", "absent"])), max_size=8))
def test_each_start_runs_what_a_fresh_search_finds(tmp_path_factory, changes):
    """After any changes to the PATH's folders between starts, what starts (or the
    problem told) is what ``resolve_command`` says at that moment."""
    base = tmp_path_factory.mktemp("memo")
    folders = [base / str(i) for i in range(3)]
    for folder in folders:
        folder.mkdir()
    env = {"PATH": ":".join(map(str, folders))}
    for index, kind in [(2, "runs")] + changes:
        target = folders[index] / "job"
        if target.is_dir():
            target.rmdir()
        elif target.exists():
            target.unlink()
        if kind == "runs":
            _script(target, "echo %d\n" % index)
        elif kind == "plain file":
            _script(target, "", 0o644)
        elif kind == "folder":
            target.mkdir()
        try:
            expected = (0, resolve_command("job", env))
        except CommandProblem as problem:
            expected = (problem.exit_status, None)
        read, write = os.pipe()
        try:
            child = process.spawn(["job"], env, cwd=str(base), stdin=0, stdout=write,
                                  stderr=2)
        finally:
            os.close(write)
        with os.fdopen(read, "rb") as out:
            out.read()
        got = (process.reap(child).exit_status, None if child.problem else child.path)
        assert got == expected
