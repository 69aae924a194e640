"""A destination's last delivery problem: noted, said at most once per interval, cleared."""
import os

from traceexec.delivery import health


def test_no_problem_no_warning(tmp_path):
    assert health.last_problem(str(tmp_path)) is None
    assert health.warning(str(tmp_path), "c:1", 600) is None


def test_a_problem_is_said_once_per_interval_then_cleared(tmp_path):
    folder = str(tmp_path)
    health.note(folder, "connection refused\nsecond line")
    when, reason = health.last_problem(folder)
    assert reason == "connection refused\\nsecond line"  # one line, always
    line = health.warning(folder, "c:1", 600, now=when + 1)
    assert "c:1" in line and "connection refused" in line
    assert health.warning(folder, "c:1", 600, now=when + 2) is None
    assert health.warning(folder, "c:1", 600, now=when + 1000) is not None
    assert health.warning(folder, "c:1", 0) is not None
    health.clear(folder)
    assert health.last_problem(folder) is None and os.listdir(folder) == []


def test_problem_since(tmp_path):
    folder = str(tmp_path)
    health.note(folder, "HTTP 401")
    when, _ = health.last_problem(folder)
    assert health.problem_since(folder, when - 1) == "HTTP 401"
    assert health.problem_since(folder, when + 1) is None


def test_a_planted_link_is_not_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("1 private")
    os.symlink(str(secret), str(tmp_path / health.PROBLEM))
    assert health.last_problem(str(tmp_path)) is None
