"""scripts/test as a newcomer and CI see it: one line per step while it installs, the
installers' own output only when a step fails.  The installers are small fakes on PATH
(and a fake .venv), so the real script runs without touching this machine."""
from __future__ import annotations

import os
import shutil
import subprocess

from conftest import ROOT

NOISE = "Collecting something\nPlease be careful with folders in your working directory\n"


def fake(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def checkout(tmp_path, pip_status=0):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "scripts", "test"), repo / "scripts" / "test")
    (repo / "tests" / "integration" / "node").mkdir(parents=True)
    (repo / "tests" / "integration" / "node" / "package-lock.json").write_text("{}")
    (repo / ".venv" / "bin").mkdir(parents=True)
    fake(repo / ".venv" / "bin" / "python",
         'case "$*" in\n'
         '  "-m pytest"*) echo "pytest ran with: $*";;\n'
         '  *"-e .[test]"*) printf "%%s" "%s"; echo "ERROR: pip said why" >&2; exit %d;;\n'
         '  *) printf "%%s" "%s";;\n'
         'esac\n' % (NOISE, pip_status, NOISE))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("make", "tmux", "strace", "node", "chromium", "chromedriver", "ip", "ssh",
                 "sshd", "slurmd", "munged"):
        fake(bin_dir / name, "exit 0\n")
    fake(bin_dir / "npm", 'printf "%s"\n' % NOISE)
    env = {"PATH": "%s:/usr/bin:/bin" % bin_dir, "HOME": str(tmp_path)}
    return repo, env


def test_it_says_each_step_in_one_line_and_holds_back_the_installers_output(tmp_path):
    repo, env = checkout(tmp_path)
    result = subprocess.run(["bash", "scripts/test", "-q", "tests/x.py"], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "scripts/test: upgrading pip in .venv",
        "scripts/test: installing traceexec with its test extra into .venv "
        "(pip install -e '.[test]')",
        "scripts/test: installing the Node OpenTelemetry packages "
        "(npm ci in tests/integration/node)",
        "scripts/test: running the tests: pytest -n auto --dist loadgroup -q tests/x.py"]
    assert result.stdout == "pytest ran with: -m pytest -n auto --dist loadgroup -q tests/x.py\n"


def test_a_failing_step_shows_its_output_and_its_status(tmp_path):
    repo, env = checkout(tmp_path, pip_status=3)
    result = subprocess.run(["bash", "scripts/test"], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "ERROR: pip said why" in result.stderr and "Collecting something" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("scripts/test: failed (3): installing")
    assert "pytest ran" not in result.stdout
