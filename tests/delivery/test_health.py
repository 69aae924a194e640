"""A destination's last delivery problem: noted, said at most once per interval, cleared."""
import os

from traceexec.delivery import health


def test_no_problem_no_warning(tmp_path):
    assert health.last_problem(str(tmp_path)) is None
    assert health.warning(str(tmp_path), "c:1", 600) is None


def test_a_problem_is_said_once_per_interval_then_cleared(tmp_path):
    folder = str(tmp_path)
    health.note(folder, "connection refused\nsecond line")
    _, reason = health.last_problem(folder)
    assert reason == "connection refused\\nsecond line"  # one line, always
    line = health.warning(folder, "c:1", 600, now=6000.5)
    assert "c:1" in line and "connection refused" in line
    assert health.warning(folder, "c:1", 600, now=6599) is None  # said 598.5 s ago
    assert health.warning(folder, "c:1", 600, now=6601) is not None  # 600.5 s ago
    assert health.warning(folder, "c:1", 0) is not None
    assert health.warning(folder, "c:1", 0) is not None
    health.clear(folder)
    assert health.last_problem(folder) is None and os.listdir(folder) == []


def test_concurrent_commands_say_it_once(tmp_path):
    """Twenty processes started together: one line among them."""
    import subprocess
    import sys
    folder = str(tmp_path)
    health.note(folder, "HTTP 401")
    code = ("import sys; from traceexec.delivery import health; "
            "print(health.warning(sys.argv[1], 'c:1', 1e9) is not None)")
    procs = [subprocess.Popen([sys.executable, "-c", code, folder], stdout=subprocess.PIPE)
             for _ in range(20)]
    said = [p.communicate()[0].strip() for p in procs]
    assert said.count(b"True") == 1, said


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
